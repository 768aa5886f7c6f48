#!/usr/bin/env python3
"""Runs millrace's integration tests against the stack that `make up` (or `make test`)
started.

    python3 tests/integration/run.py            every tests/integration/test_*.py
    python3 tests/integration/run.py FILTER     only tests whose id (file.Class.test_name)
                                                contains FILTER

Each test file runs in its own Python process, in name order, with a hard time bound
(MR_TEST_FILE_TIMEOUT seconds, default 300): a file that hangs is killed and counted as a
failure. Prints one line per test and ends with `N passed, N failed` (`, N skipped` only
when some were skipped). Exits 1 when anything failed, or when the filter matched nothing.
Standard library only.
"""
import glob
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FILE_TIMEOUT = float(os.environ.get("MR_TEST_FILE_TIMEOUT", "300"))
TAGS = ("PASS", "FAIL", "SKIP")


# ---- child: run the tests of one file ------------------------------------------------------

class LineResult(unittest.TestResult):
    """Prints `PASS  id (1.23s)`, `FAIL  id (…)` + traceback, `SKIP  id: reason`."""

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        print("....  %s" % test.id(), flush=True)

    def _took(self):
        return time.monotonic() - getattr(self, "_t0", time.monotonic())

    def addSuccess(self, test):
        super().addSuccess(test)
        print("PASS  %s (%.2fs)" % (test.id(), self._took()), flush=True)

    def _bad(self, test, err, kind):
        print("FAIL  %s (%.2fs) [%s]" % (test.id(), self._took(), kind), flush=True)
        text = "".join(traceback.format_exception(*err))
        print("      " + text.rstrip().replace("\n", "\n      "), flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bad(test, err, "failure")

    def addError(self, test, err):
        super().addError(test, err)
        self._bad(test, err, "error")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print("SKIP  %s: %s" % (test.id(), reason), flush=True)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        print("PASS  %s (expected failure)" % test.id(), flush=True)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        print("FAIL  %s (unexpected success)" % test.id(), flush=True)


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def child(path, pattern):
    sys.path.insert(0, HERE)
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        suite = unittest.defaultTestLoader.loadTestsFromName(name)
    except Exception:
        print("FAIL  %s (import) [error]" % name)
        traceback.print_exc(file=sys.stdout)
        return 1
    tests = sorted(flatten(suite), key=lambda t: t.id())
    if pattern:
        tests = [t for t in tests if pattern in t.id()]
    if not tests:
        return 0
    result = LineResult()
    # A TestSuite keeps the class and module fixtures (setUpClass) working.
    unittest.TestSuite(tests).run(result)
    return 0 if result.wasSuccessful() else 1


# ---- parent: one process per file, bounded in time ------------------------------------------

def run_file(path, pattern, counts):
    cmd = [sys.executable, "-u", os.path.abspath(__file__), "--child", path, pattern or ""]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True, cwd=HERE)
    lines = queue.Queue()

    def pump():
        for line in p.stdout:
            lines.put(line)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + FILE_TIMEOUT
    results = {}  # test id -> PASS, FAIL or SKIP
    current = None
    while True:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(0.0, left))
        except queue.Empty:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            tid = current or os.path.basename(path)
            print("FAIL  %s (killed: the file ran longer than %.0fs)" % (tid, FILE_TIMEOUT),
                  flush=True)
            results[tid] = "FAIL"
            for tag in results.values():
                counts[tag] += 1
            return
        if line is None:
            break
        sys.stdout.write(line)
        sys.stdout.flush()
        tag = line[:4]
        if line.startswith("....  "):
            current = line[6:].strip()
        if tag in TAGS and line[4:6] == "  ":
            # A test that fails in its body and again in tearDown reports twice: it is one
            # failed test. FAIL wins over PASS for the same id.
            tid = line[6:].split(" ")[0].rstrip(":")
            if results.get(tid) != "FAIL":
                results[tid] = tag
    rc = p.wait()
    for tag in results.values():
        counts[tag] += 1
    if rc != 0 and "FAIL" not in results.values():
        # Died without reporting a failure (a crash in a fixture, an import error…).
        print("FAIL  %s (the test process exited %d)" % (os.path.basename(path), rc), flush=True)
        counts["FAIL"] += 1


def main(argv):
    if len(argv) >= 2 and argv[1] == "--child":
        return child(argv[2], argv[3] if len(argv) > 3 else "")
    pattern = argv[1] if len(argv) > 1 else ""
    files = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    t0 = time.monotonic()
    for f in files:
        print("== %s" % os.path.basename(f), flush=True)
        run_file(f, pattern, counts)
    line = "%d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        line += ", %d skipped" % counts["SKIP"]
    print("(%.1fs)" % (time.monotonic() - t0))
    if counts["PASS"] + counts["FAIL"] + counts["SKIP"] == 0:
        print("no test matched %r" % pattern)
        print(line)
        return 1
    print(line)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
