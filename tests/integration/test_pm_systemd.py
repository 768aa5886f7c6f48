#!/usr/bin/env python3
"""systemd and spawn-fcgi integration: the unit files, and every way millrace inherits its
listening socket, checked against the real tools rather than PID 1 (which a container lacks).

- the units in systemd/ pass `systemd-analyze verify` (in a scratch root that holds the
  binary at /usr/sbin/millrace, so nothing is installed on the host);
- socket activation with LISTEN_FDS (fd 3): `systemd-socket-activate -l SOCK millrace`;
- the listening socket on fd 0 with INVOCATION_ID set (StandardInput=socket): the manager and
  its pool, not spawn-fcgi's single worker. `systemd-socket-activate --inetd` without -a hands
  over the listening socket on fd 0 (and fd 1), checked here;
- spawn-fcgi -F 2: two single-worker processes on one socket;
- sd_notify: READY, RELOADING, STOPPING, STATUS and WATCHDOG datagrams, sent by the main pid
  (NotifyAccess=main).

Needs no backend: /plaintext answers without Redis or PostgreSQL, and the configs point both at
port 1 so that no test touches another stack. Every test runs its own millrace on its own
sockets in a temporary directory, stops it by pid and leaves nothing running.

    python3 tests/integration/test_pm_systemd.py -v

MILLRACE_BIN (relative to the repo root) picks the binary; default build/asan/millrace-test,
else ./millrace. Standard library only.
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
UNIT_DIR = os.path.join(ROOT, "systemd")
UNITS = ("millrace.socket", "millrace.service", "millrace@.socket", "millrace@.service")
EX_CONFIG = 78
PLAINTEXT = b"Hello, World!"




def tool(name):
    """The path of a required tool; a missing one fails the test with how to get it."""
    p = shutil.which(name)
    if p is None:
        raise AssertionError("%s not found: install the Debian package that has it "
                             "(`make deps` installs systemd and spawn-fcgi)" % name)
    return p


# ---- the suite's helpers -------------------------------------------------------------------

sys.path.insert(0, HERE)
from lib import env, fcgi, procs  # noqa: E402

BIN = env.millrace_bin()

alive = procs.alive
children = procs.children


def fcgi_get(path, uri="/plaintext", timeout=10.0):
    """(status, body) of GET uri over the unix socket at path."""
    r = fcgi.request("GET", uri, path=path, timeout=timeout)
    return r.status, r.body


def wait_for(cond, timeout, what):
    return procs.wait_for(cond, timeout, what=what)


def listening(path):
    """True once a unix socket bound to path is listening (bind comes before listen, so the
    file alone is not enough: a connect in between is refused)."""
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            # Num RefCount Protocol Flags Type St Inode Path; Flags 0x10000 = listening
            if len(parts) >= 8 and parts[7] == path and int(parts[3], 16) & 0x10000:
                return True
    return False


def _set_child_subreaper(on):
    """Orphans (spawn-fcgi's children once it exits) are re-parented to us, so that we can
    see how they exit and reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1 if on else 0, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def sanitizer_env():
    """Sanitizer settings from our environment, passed on to millrace."""
    return {k: v for k, v in os.environ.items()
            if k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}


class Case(unittest.TestCase):
    """A temp dir, a config in it, and cleanup that kills by pid whatever a test left."""

    WORKERS = 2

    def setUp(self):
        if not os.access(BIN, os.X_OK):
            self.fail("no millrace binary at %s: run `make build/asan/millrace-test` or "
                      "`make millrace`, or set MILLRACE_BIN" % BIN)
        self.dir = tempfile.mkdtemp(prefix="mr-sd-")
        self.sock = os.path.join(self.dir, "activated.sock")
        self.own_listen = os.path.join(self.dir, "millrace-bound.sock")
        self.conf = os.path.join(self.dir, "millrace.conf")
        self.log = os.path.join(self.dir, "millrace.log")
        self.pids = []  # every pid we started or learnt of: killed in tearDown if alive
        self.write_conf()

    def tearDown(self):
        leftovers = []
        for pid in self.pids:
            for c in children(pid):
                if c not in self.pids:
                    leftovers.append(c)
        for pid in self.pids + leftovers:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in getattr(self, "popens", []):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_conf(self, extra=""):
        lines = [
            'listen = "unix:%s";' % self.own_listen,
            'listen_mode = "0666";',
            "workers = %d;" % self.WORKERS,
            'db = { primary = "host=127.0.0.1 port=1 dbname=millrace user=millrace '
            'connect_timeout=1"; };',
            "cache = { port = 1; };",
        ]
        if os.geteuid() == 0:
            lines.append("allow_root = true;")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)

    def start(self, argv, env=None, **kw):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(sanitizer_env())
        e.update(env or {})
        logf = open(self.log, "ab")
        try:
            p = subprocess.Popen(argv, env=e, stdout=subprocess.DEVNULL, stderr=logf,
                                 start_new_session=True, **kw)
        finally:
            logf.close()
        self.pids.append(p.pid)
        self.popens = getattr(self, "popens", []) + [p]
        return p

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10.0):
        return wait_for(lambda: re.search(pattern, self.log_text()), timeout,
                        "%r in the log:\n%s" % (pattern, self.log_text()))

    def stop(self, p, sig=signal.SIGQUIT, timeout=20.0):
        """Signals the manager, waits for it and for every child it had; returns its status."""
        kids = children(p.pid)
        self.pids.extend(kids)
        os.kill(p.pid, sig)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail("millrace (pid %d) did not exit within %.0fs of signal %d"
                      % (p.pid, timeout, sig))
        wait_for(lambda: not any(alive(k) for k in kids), 5.0,
                 "the manager's children %r to exit" % kids)
        return rc

    def assert_serves(self, path, n=3):
        for _ in range(n):
            status, body = fcgi_get(path)
            self.assertEqual(status, 200, body)
            self.assertEqual(body, PLAINTEXT)


# ---- the unit files ----------------------------------------------------------------------------

def _scratch_root(tmp, units):
    """A root for `systemd-analyze verify --root`: the host's system units, the binary at
    /usr/sbin/millrace, /bin/kill for ExecReload, and `units` in /etc/systemd/system."""
    os.makedirs(os.path.join(tmp, "usr/sbin"))
    os.makedirs(os.path.join(tmp, "usr/bin"))
    os.makedirs(os.path.join(tmp, "usr/lib/systemd"))
    os.makedirs(os.path.join(tmp, "etc/systemd/system"))
    os.symlink("usr/bin", os.path.join(tmp, "bin"))
    os.symlink("usr/lib", os.path.join(tmp, "lib"))
    shutil.copytree("/usr/lib/systemd/system", os.path.join(tmp, "usr/lib/systemd/system"),
                    symlinks=True)
    shutil.copy2(BIN, os.path.join(tmp, "usr/sbin/millrace"))
    shutil.copy2(tool("kill"), os.path.join(tmp, "usr/bin/kill"))
    for name, text in units.items():
        with open(os.path.join(tmp, "etc/systemd/system", name), "w") as f:
            f.write(text)


def _verify(units, names):
    analyze = tool("systemd-analyze")
    tmp = tempfile.mkdtemp(prefix="mr-sd-root-")
    try:
        _scratch_root(tmp, units)
        r = subprocess.run([analyze, "verify", "--root=" + tmp] + list(names),
                           cwd=os.path.join(tmp, "etc/systemd/system"),
                           capture_output=True, text=True, timeout=60)
        return r.returncode, (r.stdout + r.stderr).replace(tmp, "")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_unit(name):
    with open(os.path.join(UNIT_DIR, name)) as f:
        return f.read()


def _directives(text):
    """(section, key, value) of every setting, comments and blank lines dropped."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        k, _, v = line.partition("=")
        out.append((section, k.strip(), v.strip()))
    return out


class UnitFilesTest(Case):

    def test_units_pass_systemd_analyze_verify(self):
        units = {n: _read_unit(n) for n in UNITS}
        # Templates are checked as instances, which is how systemd loads them.
        names = ["millrace.socket", "millrace.service", "millrace@site.socket",
                 "millrace@site.service"]
        rc, out = _verify(units, names)
        self.assertEqual((rc, out), (0, ""), "systemd-analyze verify is not clean:\n" + out)

    def test_verify_harness_reports_a_broken_unit(self):
        # A control: `verify` exits 0 on unknown keys and bad values and only prints them, so
        # the check above must be "no output"; make sure a broken copy does print.
        units = {n: _read_unit(n) for n in UNITS}
        units["millrace.service"] = units["millrace.service"].replace(
            "KillMode=mixed", "KillMode=mixd\nNoSuchSetting=1")
        rc, out = _verify(units, ["millrace.service"])
        self.assertIn("mixd", out)
        self.assertIn("NoSuchSetting", out)

    def test_template_service_matches_the_single_site_service(self):
        single = _directives(_read_unit("millrace.service"))
        per_site = _directives(_read_unit("millrace@.service"))
        expected = []
        for sec, k, v in single:
            v = v.replace("/etc/millrace/millrace.conf", "/etc/millrace/%i.conf")
            v = v.replace("millrace.socket", "millrace@%i.socket")
            if k == "Description":
                v += " for %i"
            expected.append((sec, k, v))
        self.assertEqual(per_site, expected)

    def test_template_socket_matches_the_single_site_socket(self):
        single = _directives(_read_unit("millrace.socket"))
        per_site = _directives(_read_unit("millrace@.socket"))
        expected = []
        for sec, k, v in single:
            v = v.replace("/run/millrace/millrace.sock", "/run/millrace/%i.sock")
            if k == "Description":
                v += " for %i"
            expected.append((sec, k, v))
        self.assertEqual(per_site, expected)

    def test_config_error_exits_with_the_status_the_unit_does_not_restart(self):
        unit = dict(((s, k), v) for s, k, v in _directives(_read_unit("millrace.service")))
        self.assertEqual(unit[("[Service]", "RestartPreventExitStatus")], str(EX_CONFIG))
        with open(self.conf, "a") as f:
            f.write("max_requests = -5;\n")
        env = dict(sanitizer_env(), PATH=os.environ.get("PATH", ""))
        for argv in ([BIN, "-t", "-c", self.conf], [BIN, "-c", self.conf]):
            r = subprocess.run(argv, env=env, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, EX_CONFIG, (argv, r.stderr))
            self.assertIn(b"max_requests", r.stderr)


# ---- socket activation ---------------------------------------------------------------------

class SocketActivationTest(Case):

    def activate(self, extra_args=(), env=()):
        """systemd-socket-activate passes on only the variables named with -E."""
        argv = [tool("systemd-socket-activate"), "-l", self.sock]
        argv += list(extra_args)
        for k, v in list(sanitizer_env().items()) + list(env):
            argv += ["-E", "%s=%s" % (k, v)]
        argv += [BIN, "-c", self.conf]
        p = self.start(argv)
        wait_for(lambda: listening(self.sock), 10.0, "the activation socket")
        return p

    def manager_pool(self, pid):
        """The manager's children (workers and the health prober) once the pool is up."""
        return wait_for(lambda: len(children(pid)) >= self.WORKERS and children(pid), 10.0,
                        "%d workers under the manager" % self.WORKERS)

    def test_serves_on_a_socket_inherited_as_fd3_and_binds_nothing(self):
        p = self.activate()
        # The first connection makes systemd-socket-activate exec millrace (same pid).
        self.assert_serves(self.sock)
        self.wait_log(r"event=started pid=%d workers=%d listen=systemd\b"
                      % (p.pid, self.WORKERS))
        self.assertGreaterEqual(len(self.manager_pool(p.pid)), self.WORKERS)
        self.assertFalse(os.path.exists(self.own_listen),
                         "millrace bound the config's listen path despite LISTEN_FDS")
        self.assertEqual(self.stop(p), 0, self.log_text())
        # The socket file belongs to whoever created it (systemd): millrace leaves it.
        self.assertTrue(os.path.exists(self.sock))

    def test_inetd_mode_passes_the_listening_socket_on_fd0(self):
        # What the inetd mode relies on: --inetd without -a hands over the listening socket
        # itself (SO_ACCEPTCONN) on fd 0 and fd 1, and sets no LISTEN_* variables.
        probe = ("import os,socket\n"
                 "for fd in (0, 1):\n"
                 "    s = socket.socket(fileno=os.dup(fd))\n"
                 "    print(fd, s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),"
                 " s.getsockname(), 'LISTEN_FDS' in os.environ, file=open(%r, 'a'))\n"
                 % os.path.join(self.dir, "probe.txt"))
        argv = [tool("systemd-socket-activate"), "-l", self.sock, "--inetd",
                sys.executable, "-c", probe]
        p = self.start(argv)
        wait_for(lambda: listening(self.sock), 10.0, "the activation socket")
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(self.sock)
            self.assertEqual(p.wait(timeout=20), 0, self.log_text())
        with open(os.path.join(self.dir, "probe.txt")) as f:
            self.assertEqual(f.read().splitlines(),
                             ["0 1 %s False" % self.sock, "1 1 %s False" % self.sock])

    def test_serves_on_fd0_from_inetd_as_a_manager_when_under_systemd(self):
        p = self.activate(["--inetd"], env=[("INVOCATION_ID", "0123456789abcdef" * 2)])
        self.assert_serves(self.sock)
        self.wait_log(r"event=started pid=%d workers=%d listen=fd0\b" % (p.pid, self.WORKERS))
        self.assertNotIn("mode=single_worker", self.log_text())
        self.assertGreaterEqual(len(self.manager_pool(p.pid)), self.WORKERS)
        self.assertFalse(os.path.exists(self.own_listen))
        self.assertEqual(self.stop(p), 0, self.log_text())

    def test_serves_on_fd0_like_standard_input_socket(self):
        # What StandardInput=socket does: the listening socket on fd 0, stdout elsewhere,
        # no LISTEN_* variables, INVOCATION_ID set by systemd for every unit.
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            ls.bind(self.sock)
            ls.listen(64)
            p = self.start([BIN, "-c", self.conf], stdin=ls.fileno(),
                           env={"INVOCATION_ID": "fedcba9876543210" * 2})
        finally:
            ls.close()
        self.wait_log(r"event=started pid=%d workers=%d listen=fd0\b" % (p.pid, self.WORKERS))
        self.assert_serves(self.sock)
        self.assertGreaterEqual(len(self.manager_pool(p.pid)), self.WORKERS)
        self.assertFalse(os.path.exists(self.own_listen))
        self.assertEqual(self.stop(p), 0, self.log_text())


# ---- spawn-fcgi --------------------------------------------------------------------------------

class SpawnFcgiTest(Case):

    def setUp(self):
        super().setUp()
        _set_child_subreaper(True)
        self.addCleanup(_set_child_subreaper, False)
        self.addCleanup(self.reap)

    def reap(self):
        for pid in self.pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def exit_of(self, pid):
        """None while pid runs, else a description of how it ended (it is our child)."""
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None if alive(pid) else "gone"
        if got == 0:
            return None
        if os.WIFSIGNALED(status):
            return "killed by %s" % signal.Signals(os.WTERMSIG(status)).name
        return "exited with %d" % os.WEXITSTATUS(status)

    def test_spawn_fcgi_makes_two_single_worker_processes(self):
        pidfile = os.path.join(self.dir, "spawn.pid")
        argv = [tool("spawn-fcgi"), "-s", self.sock, "-M", "0666", "-F", "2", "-P", pidfile,
                "--", BIN, "-c", self.conf]
        sp = self.start(argv)
        self.assertEqual(sp.wait(timeout=30), 0, self.log_text())
        with open(pidfile) as f:
            pids = [int(x) for x in f.read().split()]
        self.pids.extend(pids)
        self.assertEqual(len(pids), 2, pids)
        self.assert_serves(self.sock, n=6)
        time.sleep(1.0)  # long enough for a process that is going to die to have died
        ended = {pid: self.exit_of(pid) for pid in pids}
        self.assertEqual(ended, {pid: None for pid in pids},
                         "spawn-fcgi's children must keep serving after spawn-fcgi exits")
        for pid in pids:
            self.assertEqual(children(pid), [], "pid %d is not a single worker" % pid)
        self.assert_serves(self.sock, n=4)
        self.assertFalse(os.path.exists(self.own_listen))
        for pid in pids:
            os.kill(pid, signal.SIGQUIT)
        for pid in pids:
            status = wait_for(lambda: self.exit_of(pid), 15.0, "pid %d to exit" % pid)
            self.assertEqual(status, "exited with 0")


# ---- sd_notify ---------------------------------------------------------------------------------

class Notifications:
    """The receiving end of $NOTIFY_SOCKET, as systemd binds it, with sender credentials."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.s.bind(path)
        self.seen = []  # (monotonic time, sender pid, message)

    def close(self):
        self.s.close()

    def _recv(self, timeout):
        self.s.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, ctype, cdata in anc:
            if level == socket.SOL_SOCKET and ctype == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        item = (time.monotonic(), pid, data.decode())
        self.seen.append(item)
        return item

    def expect(self, message, timeout=10.0, skip=("STATUS=", "WATCHDOG=1")):
        """Waits for `message`; anything else but the periodic ones is a failure."""
        deadline = time.monotonic() + timeout
        while True:
            item = self._recv(deadline - time.monotonic())
            if item is None:
                raise AssertionError("no %s within %.0fs; got %r" % (message, timeout,
                                                                      self.seen))
            if item[2] == message:
                return item
            if not item[2].startswith(skip):
                raise AssertionError("expected %s, got %r" % (message, item[2]))

    def collect(self, seconds):
        end = time.monotonic() + seconds
        out = []
        while time.monotonic() < end:
            item = self._recv(end - time.monotonic())
            if item:
                out.append(item)
        return out


class NotifyTest(Case):

    def setUp(self):
        super().setUp()
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.n = Notifications(self.notify_path)
        self.addCleanup(self.n.close)

    def run_millrace(self, env=None):
        e = {"NOTIFY_SOCKET": self.notify_path}
        e.update(env or {})
        return self.start([BIN, "-c", self.conf], env=e)

    def test_ready_reloading_ready_stopping_from_the_main_pid(self):
        p = self.run_millrace()
        _, pid, _ = self.n.expect("READY=1")
        self.assertEqual(pid, p.pid, "READY=1 must come from the main pid (NotifyAccess=main)")
        self.assert_serves(self.own_listen)
        os.kill(p.pid, signal.SIGHUP)
        self.n.expect("RELOADING=1")
        self.n.expect("READY=1")
        self.wait_log(r"event=config_reloaded")
        self.assert_serves(self.own_listen)
        self.assertEqual(self.stop(p, signal.SIGTERM), 0, self.log_text())
        self.n.expect("STOPPING=1", timeout=1.0)
        senders = {pid for _, pid, _ in self.n.seen}
        self.assertEqual(senders, {p.pid}, self.n.seen)
        status = [m for _, _, m in self.n.seen if m.startswith("STATUS=")]
        self.assertTrue(status, "no STATUS= line: %r" % self.n.seen)
        self.assertRegex(status[0], r"^STATUS=.*active.*idle.*requests")

    def test_graceful_stop_notifies_stopping(self):
        p = self.run_millrace()
        self.n.expect("READY=1")
        self.assertEqual(self.stop(p, signal.SIGQUIT), 0, self.log_text())
        self.n.expect("STOPPING=1", timeout=1.0)

    def test_invalid_config_on_reload_keeps_serving_and_says_ready(self):
        p = self.run_millrace()
        self.n.expect("READY=1")
        with open(self.conf, "a") as f:
            f.write("max_requests = -5;\n")
        os.kill(p.pid, signal.SIGHUP)
        self.n.expect("RELOADING=1")
        self.n.expect("READY=1")
        self.wait_log(r"event=reload_failed")
        self.assert_serves(self.own_listen)
        self.assertEqual(self.stop(p), 0, self.log_text())

    def test_watchdog_pings_within_the_interval(self):
        interval_s = 0.2
        p = self.run_millrace({"WATCHDOG_USEC": str(int(interval_s * 1e6))})
        self.n.expect("READY=1")
        pings = [t for t, pid, m in self.n.collect(2.0) if m == "WATCHDOG=1" and pid == p.pid]
        self.assertGreaterEqual(len(pings), 5, self.n.seen)
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        self.assertLess(max(gaps), interval_s, "systemd would have killed it: gaps %r" % gaps)
        self.assertEqual(self.stop(p), 0, self.log_text())

    def test_no_watchdog_when_watchdog_pid_is_another_process(self):
        p = self.run_millrace({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        self.n.expect("READY=1")
        got = [m for _, _, m in self.n.collect(1.0)]
        self.assertNotIn("WATCHDOG=1", got)
        self.assertEqual(self.stop(p), 0, self.log_text())


if __name__ == "__main__":
    unittest.main()
