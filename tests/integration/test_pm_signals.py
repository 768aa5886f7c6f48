"""SIGUSR1 reopens log.file: the manager at once, each worker between two requests. After a
rename, lines go to a new file at the same path (at most one more line per worker in the
renamed one); after logrotate's `create` (a new file with the old one's owner and mode, made
before the drop to `user`) the reopen works too. Reloads by signal (SIGHUP, SIGUSR2) are in
test_pm_reload.py."""
import grp
import os
import pwd
import shutil
import signal
import time
import unittest

from lib import env, http, pm, procs
from lib.pm import IS_ROOT, WEB_USER, PmTestCase


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
        return pm.log_events(pm.read_text(path), "slow_request")

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
        self.assertNotIn(procs.field(line, "req"), pm.read_text(env.MILLRACE_LOG))
        os.rename(self.path, old)
        os.kill(mgr, signal.SIGUSR1)
        procs.wait_log(0, r"event=logs_reopened", timeout=3, path=self.path)
        self.assertNotIn("reopen_logs_failed", pm.read_text(old) + pm.read_text(self.path))
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
        self.assertNotIn("reopen_logs_failed", pm.read_text(old) + pm.read_text(self.path))

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
        both = pm.read_text(old) + pm.read_text(self.path)
        self.assertNotIn("reopen_logs_failed", both,
                         "log.file was created %s:%s mode %o before the drop to %s; after "
                         "logrotate's create + SIGUSR1:\n%s"
                         % (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
                            st.st_mode & 0o777, WEB_USER, both[-1500:]))
        procs.wait_log(0, r"event=logs_reopened", timeout=3, path=self.path)
        where = self.requests_until_new_file(old, 4)
        self.assertEqual(where[-2:], ["new", "new"], where)
