"""Circuit breakers: Redis or the replica hung with SIGSTOP (connects complete from the
listen backlog, nothing ever answers). The first requests pay the command or query timeout,
which bounds them; after breaker_failures failures the shared breaker opens (once, not once per
worker) and requests skip the backend at once, reads going to the primary; after SIGCONT one
half-open probe closes it and the backend is used again. Every pause has its SIGCONT in a
`finally` (lib/faults.py).

The numbers a test measures (latencies, counts) are printed, so a passing run still shows how
close it came to a bound."""
import json
import threading
import time

from lib import backends as be
from lib import faults, http, metrics, procs
from lib.base import StackTestCase, say

# Through a connection per request (/close/), so that sequential requests spread over the
# workers as the breaker tests need: through nginx's kept connections they would all go to
# the worker that holds the connection, whose own reconnect backoff fails fast after its
# first timeout, and the shared breaker would see one failure.
CACHED = "/close/cached-queries?count=1"

# The defaults of etc/millrace.conf these tests rely on (the stack sets none of them).
REDIS_COMMAND_TIMEOUT_S = 0.200
REDIS_BREAKER_FAILURES = 3
REDIS_BREAKER_COOLDOWN_S = 1.0
DB_QUERY_TIMEOUT_S = 2.0
DB_BREAKER_COOLDOWN_S = 2.0


class Breakers(StackTestCase):
    def warm(self, path, n=5):
        for _ in range(n):
            r = http.get(path, timeout=10)
            self.assertEqual(r.status, 200, r)

    def wait_closed(self, path, state, timeout, interval, what):
        """After SIGCONT: GETs path (each must answer 200) until the breaker's state series
        reads 0 (closed: one half-open probe succeeded). Returns the seconds it took."""
        t_cont = time.monotonic()

        def closed():
            r = http.get(path, timeout=5)
            self.assertEqual(r.status, 200, r)
            return metrics.values()[state] == 0
        procs.wait_for(closed, timeout, interval=interval, what=what + " to close after SIGCONT")
        return time.monotonic() - t_cont

    def test_redis_hang_opens_breaker_skips_redis_then_closes(self):
        self.warm(CACHED)
        m0 = metrics.values()
        self.assertEqual(m0[metrics.REDIS_STATE], 0, "the Redis breaker is not closed before the test")
        lat = []
        with faults.Paused([faults.redis_pid()]):
            t_stop = time.monotonic()
            for _ in range(25):
                r, dt = be.timed_get(CACHED)
                self.assertEqual(r.status, 200, r)  # answered from PostgreSQL
                self.assertEqual(len(json.loads(r.body)), 1, r)
                lat.append(dt)
            m1 = metrics.values()
            stopped_for = time.monotonic() - t_stop
        say("Redis paused: latencies (ms) %s", " ".join("%.0f" % (x * 1000) for x in lat))
        slow = [x for x in lat if x >= REDIS_COMMAND_TIMEOUT_S * 0.9]
        # The first requests pay the command timeout, and it bounds them.
        self.assertGreaterEqual(lat[0], REDIS_COMMAND_TIMEOUT_S * 0.9, lat)
        self.assertLess(max(lat), REDIS_COMMAND_TIMEOUT_S + 0.3, lat)
        # breaker_failures consecutive failures open it (per-worker reconnect backoff may
        # spare one more request, never more than the threshold in failures).
        self.assertLessEqual(len(slow), REDIS_BREAKER_FAILURES, lat)
        # Then requests skip Redis at once, while it is still stopped (the run is shorter
        # than the cooldown, so no half-open probe pays the timeout again).
        self.assertLess(stopped_for, REDIS_BREAKER_COOLDOWN_S + 0.7 * len(slow))
        tail = lat[len(slow) + 2:]
        self.assertTrue(tail and max(tail) < 0.050,
                        "requests did not skip Redis once the breaker opened: %r" % lat)
        self.assertEqual(m1[metrics.REDIS_STATE], 1, "breaker not open while Redis is paused")
        self.assertEqual(m1[metrics.REDIS_OPENED] - m0[metrics.REDIS_OPENED], 1)
        say("slow: %d (timeout %.0f ms), then max %.1f ms; opened_total %d -> %d",
            len(slow), REDIS_COMMAND_TIMEOUT_S * 1000, max(tail) * 1000, m0[metrics.REDIS_OPENED],
            m1[metrics.REDIS_OPENED])

        # Resumed: within the cooldown (+ a bit), one request probes (half-open) and closes it.
        took = self.wait_closed(CACHED, metrics.REDIS_STATE,
                                REDIS_BREAKER_COOLDOWN_S + 1.5, 0.05, "the Redis breaker")
        say("breaker closed %.2f s after SIGCONT (cooldown %.1f s)", took,
            REDIS_BREAKER_COOLDOWN_S)
        # Hits resume: with 500 keys per request the second one finds some cached.
        m2 = metrics.values()
        for _ in range(3):
            r = http.get("/close/cached-queries?count=500", timeout=10)
            self.assertEqual(r.status, 200, r)
        m3 = metrics.values()
        self.assertGreater(m3["millrace_cache_hits_total"], m2["millrace_cache_hits_total"])
        self.assertEqual(m3["millrace_cache_errors_total"], m2["millrace_cache_errors_total"])
        self.assertEqual(m3[metrics.REDIS_STATE], 0)

    def test_redis_breaker_is_shared_across_workers(self):
        """One outage opens the shared breaker once; workers that never saw Redis fail skip
        it as well."""
        self.warm(CACHED, n=10)
        m0 = metrics.values()
        mark = procs.log_mark()
        lat = []
        lock = threading.Lock()
        with faults.Paused([faults.redis_pid()]):
            # Sequential requests until it opens: the failures come from few workers.
            for _ in range(10):
                r, dt = be.timed_get(CACHED)
                self.assertEqual(r.status, 200, r)
                if metrics.values()[metrics.REDIS_STATE] == 1:
                    break
            t_open = time.monotonic()
            self.assertEqual(metrics.values()[metrics.REDIS_STATE], 1, "breaker did not open")
            failed_pids = {int(procs.field(l, "pid")) for l in procs.log_since(mark).splitlines()
                           if "event=conn_lost" in l and "backend=redis" in l}
            before_burst = self.per_worker_requests()

            # Then a concurrent burst, spread over the pool, shorter than the cooldown.
            def burst():
                for _ in range(10):
                    r, dt = be.timed_get(CACHED)
                    with lock:
                        lat.append((r.status, dt))
            ths = [threading.Thread(target=burst) for _ in range(5)]
            for t in ths:
                t.start()
            for t in ths:
                t.join(30)
            burst_s = time.monotonic() - t_open
            m1 = metrics.values()
            after_burst = self.per_worker_requests()
        served = {p: after_burst.get(p, 0) - before_burst.get(p, 0) for p in after_burst}
        spared = {p: n for p, n in served.items() if n >= 2 and p not in failed_pids}
        say("workers that logged a Redis failure: %s; burst requests per worker: %s",
            sorted(failed_pids), served)
        say("burst of %d in %.2f s: max latency %.1f ms; opened_total +%d", len(lat), burst_s,
            max(d for _, d in lat) * 1000, m1[metrics.REDIS_OPENED] - m0[metrics.REDIS_OPENED])
        self.assertEqual([s for s, _ in lat], [200] * 50)
        self.assertLessEqual(len(failed_pids), REDIS_BREAKER_FAILURES)
        self.assertTrue(spared, "no worker outside %s served the burst: %s"
                        % (sorted(failed_pids), served))
        self.assertLess(burst_s, REDIS_BREAKER_COOLDOWN_S, "burst too slow to judge")
        # No request in the burst paid the command timeout, on any worker.
        self.assertLess(max(d for _, d in lat), REDIS_COMMAND_TIMEOUT_S * 0.9, lat)
        # One outage, one opening: not one per worker.
        self.assertEqual(m1[metrics.REDIS_OPENED] - m0[metrics.REDIS_OPENED], 1)
        opens = [l for l in procs.log_since(mark).splitlines()
                 if "event=breaker_open" in l and "backend=redis" in l]
        self.assertEqual(len(opens), 1, opens)
        procs.wait_for(lambda: http.get(CACHED, timeout=5).status == 200
                       and metrics.values()[metrics.REDIS_STATE] == 0, REDIS_BREAKER_COOLDOWN_S + 2,
                       what="the Redis breaker to close after SIGCONT")

    def per_worker_requests(self):
        r = http.get("/status?json&full", timeout=5)
        self.assertEqual(r.status, 200, r)
        return {p["pid"]: p["requests"] for p in json.loads(r.body)["processes"]}

    def test_replica_hang_opens_its_breaker_reads_go_to_primary_then_closes(self):
        self.warm("/db")
        m0 = metrics.values()
        self.assertEqual(m0[metrics.REPLICA_STATE], 0)
        res = []
        lock = threading.Lock()

        def one():
            r, dt = be.timed_get("/db", timeout=10)
            with lock:
                res.append((r.status, dt, r.body))
        with faults.Paused(faults.pg_pids("replica")):
            t_stop = time.monotonic()
            # One per worker and some: each worker's replica call hangs until the query
            # timeout, fails, and the read moves to the primary.
            n = len(self.workers_before) + 3
            ths = [threading.Thread(target=one) for _ in range(n)]
            for t in ths:
                t.start()
            for t in ths:
                t.join(15)
            first = sorted(dt for _, dt, _ in res)
            after = []
            for _ in range(10):
                r, dt = be.timed_get("/db")
                self.assertEqual(r.status, 200, r)
                after.append(dt)
            m1 = metrics.values()
            paused_s = time.monotonic() - t_stop
        say("replica paused: %d concurrent /db, latencies (s) %s", n,
            " ".join("%.2f" % x for x in first))
        say("then %s ms; replica breaker state %d, opened_total +%d, prober up=%d",
            " ".join("%.0f" % (x * 1000) for x in after), m1[metrics.REPLICA_STATE],
            m1[metrics.REPLICA_OPENED] - m0[metrics.REPLICA_OPENED], m1[metrics.REPLICA_UP])
        self.assertEqual([s for s, _, _ in res], [200] * n, res)
        for _, _, body in res:
            self.assertEqual(sorted(json.loads(body)), ["id", "randomNumber"])
        # Within the request budget (5 s): one query timeout on the replica, then the primary.
        self.assertLess(max(first), DB_QUERY_TIMEOUT_S + 1.0, first)
        self.assertLess(max(after), 0.1, "reads did not skip the paused replica: %r" % after)
        self.assertEqual(m1[metrics.REPLICA_STATE], 1, "replica breaker not open")
        self.assertGreaterEqual(m1[metrics.REPLICA_OPENED] - m0[metrics.REPLICA_OPENED], 1)
        self.assertLess(paused_s, 10)

        took = self.wait_closed("/db", metrics.REPLICA_STATE, DB_BREAKER_COOLDOWN_S + 4, 0.1,
                                "the replica breaker")
        say("replica breaker closed %.2f s after SIGCONT (cooldown %.1f s)", took,
            DB_BREAKER_COOLDOWN_S)
        q0 = metrics.values()[metrics.REPLICA_Q]
        for _ in range(10):
            self.assertEqual(http.get("/db", timeout=5).status, 200)
        q1 = metrics.values()[metrics.REPLICA_Q]
        self.assertGreaterEqual(q1 - q0, 8, "reads did not return to the replica")
