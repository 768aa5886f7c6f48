"""Helpers for tests that run millrace with settings of their own (the test_pm_*.py files and
some test_failure_*.py): restart millrace with extra settings for one test and put the default
stack config back afterwards, watch the pool's size while a load runs, read /metrics and
/status, and the users and /proc fields the privilege checks look at."""
import os
import re
import threading
import time

from . import env, http, procs, stack
from .base import StackTestCase


class PoolWatch:
    """Samples the number of workers (the manager's children holding the listening socket)
    every `interval` seconds in a thread, so that a test can assert the pool's highest and
    lowest size over a period, not only at its end."""

    def __init__(self, mgr, interval=0.03):
        self.mgr = mgr
        self.interval = interval
        self.samples = []  # (monotonic time, number of workers)
        self.pids = set()  # every worker pid seen
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            w = procs.workers(self.mgr)
            self.samples.append((time.monotonic(), len(w)))
            self.pids.update(w)
            self._stop.wait(self.interval)

    def start(self):
        self._th.start()
        return self

    def stop(self):
        self._stop.set()
        self._th.join(5)
        return self

    def max(self, since=None):
        return max((n for t, n in self.samples if since is None or t >= since), default=0)

    def min(self, since=None):
        return min((n for t, n in self.samples if since is None or t >= since), default=0)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def metric(name, text=None):
    """The value of an unlabelled metric in /metrics (fetched through nginx unless text is
    given), or None when it is absent."""
    if text is None:
        r = http.get("/metrics", timeout=5)
        if r.status != 200:
            raise AssertionError("GET /metrics answered %r" % r)
        text = r.body.decode()
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def status_field(name, text=None):
    """A field of the plain-text /status page, as an int (None when absent)."""
    if text is None:
        r = http.get("/status", timeout=5)
        if r.status != 200:
            raise AssertionError("GET /status answered %r" % r)
        text = r.body.decode()
    m = re.search(r"^%s:\s+(-?\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def log_events(text, event):
    return [ln for ln in text.splitlines() if "event=%s " % event in ln + " "]


class PmTestCase(StackTestCase):
    """A test that runs millrace with its own settings. configure() restarts millrace with
    MR_CONF_EXTRA; tearDown restarts it with the default config (even when the test failed)
    before the base class checks that the stack is whole."""

    def setUp(self):
        super().setUp()
        self.configured = False

    def configure(self, extra, extra_env=None, wait_pool=True):
        """Restarts millrace with `extra` appended to var/millrace.conf. Returns the new
        manager's pid. The config is restored in tearDown."""
        self.configured = True
        e = {"MR_CONF_EXTRA": extra}
        if self.millrace_binary:
            e["MILLRACE_BIN"] = self.millrace_binary
        if extra_env:
            e.update(extra_env)
        stack.stop("millrace")
        stack.start("millrace", extra_env=e)
        mgr = procs.wait_for(procs.manager_pid, 10, what="the reconfigured manager")
        self.assertNotEqual(mgr, self.manager_before, "millrace was not restarted")
        self.mgr = mgr
        return mgr

    def restore_default_config(self):
        e = {"MR_CONF_EXTRA": ""}
        if self.millrace_binary:
            e["MILLRACE_BIN"] = self.millrace_binary
        stack.stop("millrace")
        stack.start("millrace", extra_env=e)

    def tearDown(self):
        if self.configured:
            self.restore_default_config()
        super().tearDown()

    def wait_workers(self, cond, timeout, what):
        """Waits until cond(number of workers) holds; returns the number."""
        def check():
            n = len(procs.workers(self.mgr))
            return (n,) if cond(n) else None
        return procs.wait_for(check, timeout, what=what)[0]

    def hold_workers(self, n, seconds, what):
        """Asserts the pool has exactly n workers for the whole of `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            w = procs.workers(self.mgr)
            self.assertEqual(len(w), n, "%s: %d workers (%s), want %d\nlog:\n%s"
                             % (what, len(w), w, n, self.log()[-3000:]))
            time.sleep(0.05)


IS_ROOT = os.geteuid() == 0
WEB_USER = "www-data"  # what scripts/stack.py puts in var/millrace.conf when root


def read_text(path):
    """The text of a file, "" when it does not exist (yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def user_uid(name):
    import pwd
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def proc_status(pid, key):
    """The fields of a /proc/PID/status line (e.g. Uid), as a list of strings."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1:]
    return None


def proc_limit(pid, name):
    """(soft, hard) of a /proc/PID/limits row such as "Max open files"."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith(name):
                parts = line[len(name):].split()
                return parts[0], parts[1]
    return None


def abspath_var(*parts):
    return os.path.join(env.VAR, *parts)
