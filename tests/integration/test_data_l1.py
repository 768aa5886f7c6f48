"""L1, each worker's in-process cache (cache/l1.c), kept coherent by Redis's client-side
caching (cache/track.c), through nginx. A writer changes one key again and again through
/test/cache/write (commits the World row, then replaces the key in Redis before answering
200, as /updates does) while readers on every worker read it through /test/cache/fetch-l1 (a
route flagged MR_ROUTE_CACHE_L1; handlers/testcache.c). The bound under test: once a write
has answered 200, every read that starts BOUND_S later sees that value or a newer one, on
every worker, whether the value came from L1, Redis or the source. It must hold in steady
state, with the invalidation connections killed mid-run (CLIENT KILL TYPE pubsub: L1 is
flushed and serves nothing until tracking is back) and across a Redis restart; no read may
fail in any of them. L1 itself must have served (its hit counter moves), or the test would
prove nothing about it. Behaviour only: nothing here asserts a speed."""
import json
import os
import threading
import time

from lib import backends as be
from lib import http, metrics, procs, stack
from lib.faults import FailoverCase

BOUND_S = 0.050  # the stated bound (docs/guide.md, "L1"): invalidation delay, loopback
READERS = 8
WRITES = 15
WRITE_GAP_S = 0.12  # long enough for many reads of each value, on every worker

L1_HITS = "millrace_cache_l1_hits_total"
L1_INVALIDATIONS = "millrace_cache_l1_invalidations_total"
L1_FLUSHES = "millrace_cache_l1_flushes_total"


def grew(before, after, name):
    """How much the (unlabelled) counter `name` grew between two metrics.values()."""
    return after.get(name, 0) - before.get(name, 0)


def a_world_id():
    return int.from_bytes(os.urandom(2), "big") % 10000 + 1


class Readers:
    """READERS threads reading `key` through nginx until stopped; each read is kept as
    (start, end, status, value, pid), times from time.monotonic()."""

    def __init__(self, key):
        self.key = key
        self.reads = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(READERS)]

    def run(self):
        while not self.stopping.is_set():
            t0 = time.monotonic()
            r = http.get("/test/cache/fetch-l1?key=" + self.key, timeout=10)
            t1 = time.monotonic()
            value, pid = None, None
            if r.status == 200:
                got = json.loads(r.body)
                value, pid = got["entries"][0]["value"], got["pid"]
            with self.lock:
                self.reads.append((t0, t1, r.status, value, pid))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(15)


class L1Coherence(FailoverCase):
    def setUp(self):
        super().setUp()
        self.world_id = a_world_id()
        self.key = "w:%d" % self.world_id
        self.value = 1000 + int.from_bytes(os.urandom(1), "big")
        self.answered = []  # (time the write answered 200, its value)
        self.write()

    def write(self):
        self.value += 1
        r = http.request("POST", "/test/cache/write?id=%d&value=%d&mode=replace"
                         % (self.world_id, self.value), timeout=10)
        self.assertEqual(r.status, 200, r)
        self.answered.append((time.monotonic(), self.value))

    def writes(self, n, between=None):
        for i in range(n):
            time.sleep(WRITE_GAP_S)
            self.write()
            if between is not None:
                between(i)
        time.sleep(WRITE_GAP_S)

    def assert_no_stale_read(self, reads):
        """Every read that started BOUND_S after a write answered saw that value or a newer
        one. A value the source gave ("loaded:...": Redis had lost the key) is fresh by
        definition; a number is the cache's, and must not be older."""
        self.assertTrue(reads, "no read was made")
        bad = [r for r in reads if r[2] != 200]
        self.assertEqual(bad, [], "reads failed")
        stale = []
        for start, end, _, value, pid in reads:
            due = [v for t, v in self.answered if t + BOUND_S < start]
            if not due or value.startswith("loaded:"):
                continue
            if int(value) < due[-1]:
                stale.append("read at +%.3fs on pid %s saw %s, %s answered %.3fs before"
                             % (start - self.answered[0][0], pid, value, due[-1],
                                start - [t for t, v in self.answered if v == due[-1]][0]))
        self.assertEqual(len(stale), 0, "%d stale reads past the bound of %d, the first: %s"
                         % (len(stale), len(reads), stale[:5]))

    def assert_every_worker_read(self, reads):
        pids = {r[4] for r in reads if r[4] is not None}
        self.assertGreaterEqual(len(pids), procs.expected_workers(),
                                "not every worker served a read")

    def run_phase(self, between=None):
        m0 = metrics.values()
        with Readers(self.key) as readers:
            self.writes(WRITES, between)
        m1 = metrics.values()
        self.assert_no_stale_read(readers.reads)
        self.assert_every_worker_read(readers.reads)
        return readers.reads, m0, m1

    def test_l1_reads_see_each_answered_write_within_the_bound(self):
        _, m0, m1 = self.run_phase()
        self.assertGreater(grew(m0, m1, L1_HITS), 0, "L1 served nothing")
        self.assertGreater(grew(m0, m1, L1_INVALIDATIONS), 0,
                           "no invalidation reached an L1")

    def test_l1_stays_coherent_when_invalidation_connections_are_killed(self):
        def kill_invalidation_connections(i):
            if i in (4, 9):
                with be.Redis() as r:
                    killed = r.cmd("CLIENT", "KILL", "TYPE", "pubsub")
                self.assertGreaterEqual(killed, procs.expected_workers())
        _, m0, m1 = self.run_phase(kill_invalidation_connections)
        self.assertGreater(grew(m0, m1, L1_FLUSHES), 0, "no L1 was flushed")
        self.assertGreater(grew(m0, m1, L1_HITS), 0, "L1 served nothing")
        # Tracking comes back on every worker's cache connection. A worker resubscribes at
        # its next L1 lookup after the kill (and its reconnect backoff): reads go on until
        # every worker has, for a bounded while ("flags=tR" is tracking with its redirect
        # connection gone).
        deadline = time.monotonic() + 10
        while True:
            with be.Redis() as r:
                clients = r.cmd("CLIENT", "LIST").decode()
            tracked = [ln for ln in clients.splitlines() if " flags=t " in ln]
            if len(tracked) >= procs.expected_workers() or time.monotonic() > deadline:
                break
            with Readers(self.key):
                time.sleep(0.3)
        self.assertGreaterEqual(len(tracked), procs.expected_workers(), clients)

    def test_l1_stays_coherent_across_a_redis_restart(self):
        def restart_redis(i):
            if i == 6:
                self.stop("redis")
                self.start("redis")
                be.wait_backend("redis", "up", 10)
        _, m0, m1 = self.run_phase(restart_redis)
        self.assertGreater(grew(m0, m1, L1_HITS), 0, "L1 served nothing")
        # Served again from L1 after the restart, not just from Redis.
        m2 = metrics.values()
        with Readers(self.key):
            time.sleep(1.0)
        self.assertGreater(grew(m2, metrics.values(), L1_HITS), 0,
                           "L1 serves nothing after the restart")


if __name__ == "__main__":
    import unittest
    unittest.main()
