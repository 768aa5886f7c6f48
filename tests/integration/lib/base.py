"""The base class of every integration test: the stack must be up and whole before a test,
and a test that breaks something (stops millrace, kills workers) leaves it whole again. Also
the two reporting helpers tests share: `say` (a measured number on the test's output) and
`case` (names the case in a failure)."""
import contextlib
import unittest

from . import http, procs, stack


def say(fmt, *args):
    """A measured number, on the test's output (run.py prints it with the test)."""
    print("      " + (fmt % args if args else fmt), flush=True)


@contextlib.contextmanager
def case(**what):
    """Names the case in a failure. (Not subTest: run.py reports no line for a failed
    subtest.)"""
    try:
        yield
    except AssertionError as e:
        raise AssertionError("%s: %s" % (", ".join("%s=%r" % kv for kv in what.items()), e)) \
            from None


def stack_whole(timeout=15.0):
    """Asserts nginx and the millrace manager are alive, the pool is full, and a request
    through nginx answers 200. Returns the worker pids."""
    procs.wait_for(procs.nginx_pid, timeout, what="nginx (var/nginx.pid) to be alive")
    procs.wait_for(procs.manager_pid, timeout, what="the millrace manager (var/millrace.pid)")
    pids = procs.wait_pool(timeout)
    r = http.get("/healthz", timeout=5)
    if r.status != 200:
        raise AssertionError("GET /healthz through nginx answered %r" % r)
    return pids


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


def sanitizer_reports(text, context=25):
    """Excerpts of sanitizer reports found in log text."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKERS):
            out.append("\n".join(lines[i:i + context]))
    return out


class StackTestCase(unittest.TestCase):
    maxDiff = 4000

    def setUp(self):
        self.mark = procs.log_mark()
        try:
            self.workers_before = stack_whole()
        except AssertionError:
            # A previous test may have left it broken: bring millrace back once, then judge.
            stack.ensure_millrace()
            self.workers_before = stack_whole()
        self.manager_before = procs.manager_pid()
        self.millrace_binary = stack.running_binary()

    def tearDown(self):
        # Leave the stack as we found it, even when the test failed half-way.
        if procs.manager_pid() is None:
            stack.ensure_millrace(binary=self.millrace_binary)
        procs.wait_pool(15)
        # A sanitizer report anywhere in the log fails the test that was running: under
        # ASan/UBSan the process aborts, and the manager's replacement would hide it.
        reports = sanitizer_reports(self.log())
        if reports:
            self.fail("sanitizer report in var/log/millrace.log during this test:\n"
                      + "\n\n".join(reports))

    def restart_millrace(self):
        """Starts millrace again with the binary that ran before the test."""
        return stack.ensure_millrace(binary=self.millrace_binary)

    def log(self):
        """The millrace log written since this test began."""
        return procs.log_since(self.mark)

    def assert_pool_normal(self, timeout=5.0, mgr=None):
        """The manager is alive (and the same one, unless mgr is given) and the pool is full."""
        mgr = mgr or self.manager_before
        self.assertTrue(procs.alive(mgr), "manager %s died\nlog:\n%s" % (mgr, self.log()))
        return procs.wait_pool(timeout)

    def assert_serves(self, path="/json", n=3):
        for _ in range(n):
            r = http.get(path, timeout=5)
            self.assertEqual(r.status, 200, r)
