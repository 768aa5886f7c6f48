"""Breaking the backends for real, never mocked, and healing them.

- A hang: `Paused` sends SIGSTOP to Redis or a PostgreSQL cluster (connects complete from the
  listen backlog, nothing ever answers) and SIGCONT to the same pids on exit, whatever happened.
- A refusal: `FailoverCase.stop` stops a service with the stack script; tearDown starts every
  service the test stopped again and waits until /readyz shows every backend up and a burst of
  reads (on the replica) and writes answers 200 on every worker."""
import collections
import os
import re
import signal
import time

from . import backends as be
from . import env, http, metrics, procs, stack
from .base import StackTestCase, case
from .world import bad_answers, summary


def redis_pid():
    pid = procs.read_pid(os.path.join(env.VAR, "redis.pid"))
    if not procs.alive(pid):
        raise AssertionError("Redis is not running (var/redis.pid)")
    return pid


def pg_pids(which):
    """The postmaster of var/pg/<which> and all its children (backends, walreceiver, ...)."""
    try:
        with open(os.path.join(env.VAR, "pg", which, "postmaster.pid")) as f:
            pm = int(f.readline())
    except (OSError, ValueError):
        pm = None
    if not procs.alive(pm):
        raise AssertionError("PostgreSQL %s is not running" % which)
    return [pm] + procs.children(pm)


class Paused:
    """SIGSTOP to pids now, SIGCONT to the same pids on exit, whatever happened."""

    def __init__(self, pids):
        self.pids = list(pids)

    def __enter__(self):
        try:
            for p in self.pids:
                os.kill(p, signal.SIGSTOP)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for p in self.pids:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
        return False


def log_digest(text):
    """The log lines other than answered requests, each with a count, ids and pids removed:
    what to read when a failover test fails."""
    c = collections.Counter()
    for line in text.splitlines():
        if "status=200" in line:
            continue
        c[re.sub(r"req=\S+ |worker=\d+ |pid=\d+ |ms=\d+ |backend_ms=\d+", "", line)] += 1
    return "\n".join("%5d x %s" % (n, line[:240]) for line, n in c.items())



def serves_normally():
    """True when a burst of reads and writes over every worker all answer 200 and the reads
    went to the replica: no worker holds a stale connection or an open breaker."""
    q0 = metrics.values()[metrics.REPLICA_Q]
    res = be.fetch_all(["/db", "/updates?queries=1"] * 25, concurrency=5, timeout=5)
    ok = all(e is None and r.status == 200 for _, r, _, e in res)
    return ok and metrics.values()[metrics.REPLICA_Q] - q0 >= 25


def settle(timeout=20):
    """Waits until the stack serves normally (see serves_normally); returns the seconds it
    took. After a backend restart this takes up to a few breaker cooldowns: each worker's
    pooled connection fails once (RecoveryAfterRestart in test_failure_failover.py)."""
    t0 = time.monotonic()
    be.wait_all_up(timeout)
    procs.wait_for(serves_normally, timeout, interval=0.2,
                   what="reads on the replica and writes to answer 200 on every worker")
    return time.monotonic() - t0


class FailoverCase(StackTestCase):
    """Starts with every backend up and serving; heals (starts every service this test
    stopped) and waits for /readyz all up and normal service, whatever happened."""

    def setUp(self):
        super().setUp()
        took = settle()
        if took > 1.0:
            print("\n      (the stack took %.1f s to serve normally before this test)" % took)
        self.stopped = []

    def stop(self, svc):
        self.stopped.append(svc)
        stack.stop(svc)

    def start(self, svc):
        stack.start(svc)
        if svc in self.stopped:
            self.stopped.remove(svc)

    def tearDown(self):
        try:
            for svc in ("pg", "replica", "redis"):  # dependency order
                if svc in self.stopped:
                    stack.start(svc)
            stack.up()  # anything else a failure left behind
            took = settle(30)
            if took > 1.0:
                print("      (after healing, the stack took %.1f s to serve normally)" % took)
        finally:
            super().tearDown()

    def assert_good(self, results, n_rows=None, what=""):
        """Every result is a 200 with valid World rows (n_rows each when given)."""
        bad = bad_answers(results, n_rows)
        if bad:
            self.fail("%s%s\nlog:\n%s" % (what + ": " if what else "", summary(bad),
                                            log_digest(self.log())))

    def assert_state_changes_logged_once(self, backend):
        """One backend_down and one backend_up line for backend since the test began."""
        lines = self.log().splitlines()
        tag = "backend=%s " % backend
        down = [ln for ln in lines if "event=backend_down" in ln and tag in ln + " "]
        up = [ln for ln in lines if "event=backend_up" in ln and tag in ln + " "]
        self.assertEqual((len(down), len(up)), (1, 1), "backend_down/backend_up lines for %s:\n"
                         % backend + "\n".join(down + up))

    def assert_json_error(self, r, status, what):
        """r is millrace's JSON error for `status`, with a non-empty error text."""
        with case(what=what):
            body = http.json_error(self, r, status)
            self.assertTrue(body["error"], r.body)


def wait_reads_on_replica(testcase, what, timeout=10):
    """Sends /db in rounds of 10 (each must answer 200) until millrace_db_queries_total of the
    replica grows: reads went back to it."""
    q0 = metrics.values()[metrics.REPLICA_Q]

    def replica_used():
        for _ in range(10):
            testcase.assertEqual(http.get("/db", timeout=5).status, 200)
        return metrics.values()[metrics.REPLICA_Q] > q0
    procs.wait_for(replica_used, timeout, interval=0.1, what=what)
