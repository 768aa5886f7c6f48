"""Signals and privileges (issue 4, items 3 and 6): SIGUSR1 reopens log.file (the manager at
once, each worker between two requests); SIGUSR2 reloads like SIGHUP; a reload that shrinks
`workers` ends with the new number and loses no request; workers run as `user`, never as root
unless allow_root says so, and `user` without root is refused. (Reload under a 64-connection
load and the second manager on the same socket are in test_resilience.py/test_lifecycle.py.)"""
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from lib import env, http, load, pm, procs
from lib.pm import PmTestCase

IS_ROOT = os.geteuid() == 0
WEB_USER = "www-data"  # what scripts/stack.py puts in var/millrace.conf when root


def worker_user():
    """The user the stack's workers run as: www-data when root, else us."""
    return WEB_USER if IS_ROOT else pwd.getpwuid(os.geteuid()).pw_name


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class ReopenLogs(PmTestCase):
    def setUp(self):
        super().setUp()
        # The manager and the workers run as the worker user once started: they can create
        # the new file only in a directory that user may write.
        self.dir = os.path.join(env.LOG_DIR, "pm-usr1-%d" % os.getpid())
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        if IS_ROOT:
            pw = pwd.getpwnam(WEB_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.path = os.path.join(self.dir, "millrace-file.log")

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def slow_lines(self, path):
        return pm.log_events(read(path), "slow_request")

    def start_with_log_file(self):
        mgr = self.configure('workers = 2; log = { file = "%s"; slow_ms = 100; };' % self.path)
        procs.wait_pool(5, n=2)
        procs.wait_log(0, r"event=started pid=%d " % mgr, timeout=3, path=self.path)
        return mgr

    def requests_until_new_file(self, old, n):
        """Sends n slow requests one after another; returns, for each, the file its
        slow_request line landed in ("old" or "new")."""
        where = []
        for i in range(n):
            n_old, n_new = len(self.slow_lines(old)), len(self.slow_lines(self.path))
            r = http.get("/test/sleep?ms=120", timeout=5)
            self.assertEqual(r.status, 200, r)
            procs.wait_for(lambda: len(self.slow_lines(old)) + len(self.slow_lines(self.path))
                           > n_old + n_new, 3, what="the slow_request line of request %d" % i)
            where.append("new" if len(self.slow_lines(self.path)) > n_new else "old")
        return where

    def test_sigusr1_after_rename_logs_to_a_new_file_at_the_same_path(self):
        mgr = self.start_with_log_file()
        old = self.path + ".1"
        # Lines go to log.file, not to the stack's stderr log.
        r = http.get("/test/sleep?ms=120", timeout=5)
        self.assertEqual(r.status, 200, r)
        line = procs.wait_log(0, r"event=slow_request", timeout=3, path=self.path)
        self.assertNotIn(procs.field(line, "req"), read(env.MILLRACE_LOG))
        os.rename(self.path, old)
        os.kill(mgr, signal.SIGUSR1)
        procs.wait_log(0, r"event=logs_reopened", timeout=3, path=self.path)
        self.assertNotIn("reopen_logs_failed", read(old) + read(self.path))
        # Workers blocked in accept() reopen after their next request: at most one line per
        # worker still goes to the renamed file, then every line goes to the new one.
        where = self.requests_until_new_file(old, 6)
        print("      usr1: requests after SIGUSR1 logged to %s" % where)
        self.assertEqual(where[-2:], ["new", "new"], where)
        self.assertLessEqual(where.count("old"), 2, where)
        late_old = self.slow_lines(old)[1:]  # the first was before the rename
        pids = [procs.field(ln, "pid") for ln in late_old]
        self.assertEqual(len(pids), len(set(pids)),
                         "a worker wrote twice to the renamed file:\n" + "\n".join(late_old))
        self.assertEqual(procs.manager_pid(), mgr)
        self.assertNotIn("reopen_logs_failed", read(old) + read(self.path))

    @unittest.skipUnless(IS_ROOT, "the file is root's only when millrace starts as root")
    def test_sigusr1_after_logrotate_create_with_the_original_owner_and_mode(self):
        # logrotate's `create` (Debian's default) renames the file, makes a new one with the
        # old one's owner and mode, then signals. millrace opened log.file as root, before it
        # dropped to `user`: the file must be one that `user` can open again.
        mgr = self.start_with_log_file()
        old = self.path + ".1"
        st = os.stat(self.path)
        os.rename(self.path, old)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, st.st_mode & 0o7777)
        os.close(fd)
        os.chown(self.path, st.st_uid, st.st_gid)
        os.chmod(self.path, st.st_mode & 0o7777)
        os.kill(mgr, signal.SIGUSR1)
        time.sleep(0.5)
        both = read(old) + read(self.path)
        self.assertNotIn("reopen_logs_failed", both,
                         "log.file was created %s:%s mode %o before the drop to %s; after "
                         "logrotate's create + SIGUSR1:\n%s"
                         % (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                            st.st_mode & 0o777, WEB_USER, both[-1500:]))
        procs.wait_log(0, r"event=logs_reopened", timeout=3, path=self.path)
        where = self.requests_until_new_file(old, 4)
        self.assertEqual(where[-2:], ["new", "new"], where)


class Privileges(PmTestCase):
    def run_direct(self, conf_text, as_user=None, timeout=15):
        """Runs the binary on a temp config (a temp socket), optionally as another user;
        returns (exit status, output, temp dir)."""
        d = tempfile.mkdtemp(prefix="millrace-privs-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o777)
        conf = os.path.join(d, "m.conf")
        with open(conf, "w") as f:
            f.write('listen = "unix:%s/m.sock";\n' % d + conf_text)
        os.chmod(conf, 0o644)
        pre = None
        if as_user:
            pw = pwd.getpwnam(as_user)

            def pre():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        p = subprocess.Popen([env.millrace_bin(), "-c", conf], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             preexec_fn=pre, cwd="/")
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            self.fail("millrace kept running with:\n%s\n%s" % (conf_text, out))
        return p.returncode, out, d

    @unittest.skipUnless(IS_ROOT, "privileges are dropped only when started as root")
    def test_workers_run_as_the_configured_user_not_root(self):
        with open(env.MILLRACE_CONF) as f:
            self.assertRegex(f.read(), r'(?m)^user = "%s";$' % WEB_USER)
        pw = pwd.getpwnam(WEB_USER)
        self.assertNotEqual(pw.pw_uid, 0)
        for p in self.workers_before:
            self.assertEqual(pm.proc_status(p, "Uid"), [str(pw.pw_uid)] * 4, "worker %d" % p)
            self.assertEqual(pm.proc_status(p, "Gid"), [str(pw.pw_gid)] * 4, "worker %d" % p)
            groups = pm.proc_status(p, "Groups")
            self.assertNotIn("0", groups, "worker %d keeps group root: %r" % (p, groups))
        # The manager drops as well (it forks every later worker).
        self.assertEqual(pm.proc_status(self.manager_before, "Uid"), [str(pw.pw_uid)] * 4)
        self.assert_serves()

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_root_without_user_is_refused_naming_allow_root(self):
        rc, out, d = self.run_direct("")
        self.assertEqual(rc, 78, out)
        self.assertIn("allow_root", out)
        self.assertFalse(procs.listen_inodes(os.path.join(d, "m.sock")),
                         "something listens on the refused instance's socket")

    @unittest.skipUnless(IS_ROOT, "needs root")
    def test_user_root_without_allow_root_is_refused(self):
        rc, out, _ = self.run_direct('user = "root";\n')
        self.assertEqual(rc, 78, out)
        self.assertIn("allow_root", out)

    def test_user_set_without_root_is_refused_with_exit_78(self):
        # As root, run it as nobody; otherwise as ourselves.
        rc, out, _ = self.run_direct('user = "%s";\n' % WEB_USER,
                                     as_user="nobody" if IS_ROOT else None)
        self.assertEqual(rc, 78, out)
        self.assertIn('user = "%s"' % WEB_USER, out)
        self.assertIn("root", out)


class ReloadSignals(PmTestCase):
    def test_sigusr2_replaces_every_worker_under_load_like_sighup(self):
        before = set(self.workers_before)
        mgr = self.manager_before
        out = {}

        def run():
            try:
                out["r"] = load.http_load("/json", 3, 16, timeout_s=5)
            except Exception as e:
                out["e"] = e
        th = threading.Thread(target=run, daemon=True)
        th.start()
        time.sleep(1)
        os.kill(mgr, signal.SIGUSR2)
        line = procs.wait_log(self.mark, r"event=config_reloaded", timeout=5)
        th.join(40)
        self.assertFalse(th.is_alive(), "the load generator did not finish")
        if "e" in out:
            raise out["e"]
        r = out["r"]
        self.assertGreater(r.requests, 100, r)
        self.assertEqual((r.non2xx, r.errors), (0, 0), r)
        procs.wait_for(lambda: (lambda p: p and not set(p) & before)(procs.pool_ready()), 10,
                       what="a full pool of new workers (old: %s)" % sorted(before))
        self.assertEqual(procs.manager_pid(), mgr)
        self.assertIn("generation=2", line)
        self.assertNotIn("reload_failed", self.log())

    def test_reload_from_5_to_3_workers_ends_with_3_and_loses_nothing(self):
        mgr = self.configure("workers = 5;")
        before = set(procs.wait_pool(5, n=5))
        with open(env.MILLRACE_CONF) as f:
            text = f.read()
        self.assertIn("workers = 5;", text)
        with open(env.MILLRACE_CONF, "w") as f:
            f.write(text.replace("workers = 5;", "workers = 3;"))
        mark = procs.log_mark()
        ld = load.Load("/json", concurrency=8, duration_s=30, timeout_s=5).start()
        try:
            time.sleep(0.5)
            os.kill(mgr, signal.SIGHUP)
            line = procs.wait_log(mark, r"event=config_reloaded", timeout=5)
            self.assertEqual(procs.field(line, "workers"), "3", line)
            try:
                final = procs.wait_for(lambda: (lambda p: p and not set(p) & before and p)(
                    procs.pool_ready(3)), 6, what="exactly 3 new workers")
            except AssertionError as e:
                w = procs.workers(mgr)
                raise AssertionError("%s; the pool is %d workers %s, %d of them from before "
                                     "the reload\nlog since the reload:\n%s"
                                     % (e, len(w), w, len(set(w) & before),
                                        procs.log_since(mark)[-2000:]))
            time.sleep(1.0)  # and it stays at 3
            self.assertEqual(sorted(procs.workers(mgr)), sorted(final))
        finally:
            res = ld.stop()
        self.assertEqual(res.failures, [], res.summary())
        self.assertGreater(len(res.samples), 50, res.summary())
        self.assertEqual(procs.manager_pid(), mgr)
