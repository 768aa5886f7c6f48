"""Pool modes: dynamic, ondemand and adaptive grow under a load that exceeds
what is running, never past `workers` (max_children), and shrink when idle; adaptive stops at
its memory budget; a saturated static pool says so (event=max_children_reached, once per 10 s,
counted in /metrics and /status). Each test restarts millrace with its own settings and puts
the default config back in tearDown."""
import time

from lib import load, pm, procs
from lib.pm import PmTestCase, PoolWatch

SLEEP = "/test/sleep?ms=300"


def run_load(path, concurrency, seconds):
    return load.Load(path, concurrency=concurrency, duration_s=seconds,
                     timeout_s=15).start().wait()


class Dynamic(PmTestCase):
    def test_dynamic_grows_under_load_within_max_and_retires_spares_after(self):
        mgr = self.configure('pm = "dynamic"; workers = 6; min_spare = 1; max_spare = 2; '
                             'start_servers = 2;')
        # start_servers at start, and it stays there while idle (2 idle <= max_spare).
        self.wait_workers(lambda n: n == 2, 3, "start_servers = 2 workers")
        self.hold_workers(2, 0.5, "dynamic at rest")
        with PoolWatch(mgr) as watch:
            res = run_load(SLEEP, 5, 3.0)
            t_end = time.monotonic()
            # Idle spares above max_spare are retired (one per tick), busy ones finish.
            n = self.wait_workers(lambda n: n <= 2, 4,
                                  "the pool back to <= max_spare (2) idle workers")
            shrunk_s = time.monotonic() - t_end
            time.sleep(0.3)
        self.assertEqual(res.failures, [], res.summary())
        self.assertGreater(len(res.samples), 20, res.summary())
        grown = watch.max(since=res.t0)
        self.assertGreater(grown, 2, "the pool did not grow above start_servers under 5 "
                           "concurrent slow requests (samples: %r)" % watch.samples[-20:])
        self.assertLessEqual(grown, 6, "the pool passed workers = 6")
        self.assertGreaterEqual(n, 1)
        final = procs.workers(mgr)
        self.assertLessEqual(len(final), 2, final)
        self.assertGreaterEqual(len(final), 1, "fewer than min_spare idle workers")
        self.assertEqual(len(procs.idle_workers(mgr)), len(final), "a worker is still busy")
        print("      dynamic: grew to %d, back to %d within %.2fs of the load's end"
              % (grown, len(final), shrunk_s))


class Ondemand(PmTestCase):
    def test_ondemand_zero_at_rest_spawns_on_request_grows_to_max_and_idles_out(self):
        mgr = self.configure('pm = "ondemand"; workers = 4; idle_timeout_ms = 1000;')
        # The stack's start-up /healthz made one; it leaves after idle_timeout_ms.
        self.wait_workers(lambda n: n == 0, 4, "no worker at rest")
        self.hold_workers(0, 0.3, "ondemand at rest")
        t = time.monotonic()
        r = pm.http.get("/plaintext", timeout=10)
        first_ms = (time.monotonic() - t) * 1000
        self.assertEqual(r.status, 200, r)
        t = time.monotonic()
        pm.http.get("/plaintext", timeout=10)
        warm_ms = (time.monotonic() - t) * 1000
        self.assertEqual(len(procs.workers(mgr)), 1, "one request should spawn one worker")
        print("      ondemand: first request %.0f ms (spawn included), next %.1f ms"
              % (first_ms, warm_ms))
        self.assertLess(first_ms, 1000, "first request from an empty pool took %.0f ms"
                        % first_ms)
        with PoolWatch(mgr) as watch:
            res = run_load(SLEEP, 8, 3.0)
            t_end = time.monotonic()
            # Half the idle timeout later the workers are still there...
            time.sleep(0.5)
            still = len(procs.workers(mgr))
            # ...and about a second after their last request they are gone.
            self.wait_workers(lambda n: n == 0, 3, "idle workers to exit after ~1 s")
            gone_s = time.monotonic() - t_end
        self.assertEqual(res.failures, [], res.summary())
        self.assertEqual(watch.max(since=res.t0), 4,
                         "ondemand under 8 concurrent slow requests should reach workers = 4 "
                         "and not pass it (samples: %r)" % watch.samples[-20:])
        self.assertGreater(still, 0, "workers left before idle_timeout_ms (1000)")
        self.assertGreater(gone_s, 0.7, "workers left %.2fs after the load" % gone_s)
        print("      ondemand: 4 workers under load, all gone %.2fs after it" % gone_s)


class Adaptive(PmTestCase):
    def test_adaptive_floor_grows_on_queue_to_max_then_shrinks_to_floor(self):
        mgr = self.configure('pm = "adaptive"; workers = 5; min_spare = 1; '
                             'idle_timeout_ms = 1000;')
        self.wait_workers(lambda n: n == 1, 3, "the floor of 1 worker")
        self.hold_workers(1, 1.3, "adaptive at rest (past idle_timeout_ms)")
        with PoolWatch(mgr) as watch:
            res = run_load(SLEEP, 8, 3.0)
            t_end = time.monotonic()
            self.wait_workers(lambda n: n == 1, 4, "the pool back to its floor of 1")
            shrunk_s = time.monotonic() - t_end
            time.sleep(0.5)
        self.assertEqual(res.failures, [], res.summary())
        self.assertEqual(watch.max(since=res.t0), 5,
                         "adaptive under a queueing load should reach workers = 5 and not "
                         "pass it (samples: %r)" % watch.samples[-20:])
        self.assertGreaterEqual(watch.min(since=res.t0), 1, "the pool fell below its floor")
        self.assertEqual(len(procs.workers(mgr)), 1)
        print("      adaptive: grew to 5, back to 1 within %.2fs of the load's end" % shrunk_s)

    def test_adaptive_does_not_grow_past_its_memory_budget(self):
        # 1 MiB: less than one worker's RSS, so the budget is spent by the floor alone.
        mgr = self.configure('pm = "adaptive"; workers = 5; min_spare = 1; '
                             'idle_timeout_ms = 1000; max_memory_mb = 1;')
        self.wait_workers(lambda n: n == 1, 3, "the floor of 1 worker")
        time.sleep(1.2)  # RSS is sampled once a second
        with PoolWatch(mgr) as watch:
            res = run_load(SLEEP, 6, 3.0)
        self.assertEqual(res.failures, [], res.summary())
        self.assertGreater(len(res.samples), 3, res.summary())
        self.assertEqual(watch.max(since=res.t0), 1,
                         "adaptive grew past the floor with max_memory_mb = 1 (samples: %r)"
                         % watch.samples[-20:])
        rss = pm.metric("millrace_workers_rss_bytes")
        self.assertGreater(rss, 1 << 20, "RSS of the pool is not over the 1 MiB budget")


class MaxChildren(PmTestCase):
    def test_saturated_static_pool_warns_once_with_numbers_and_counts(self):
        mgr = self.configure("workers = 2;")
        procs.wait_pool(5, n=2)
        mark = procs.log_mark()
        res = run_load("/test/sleep?ms=500", 8, 3.0)
        self.assertEqual(res.failures, [], "requests must queue and be served, not fail: "
                         + res.summary())
        log = procs.log_since(mark)
        lines = pm.log_events(log, "max_children_reached")
        # The warning repeats at most every 10 s: the 3 s of saturation give exactly one.
        self.assertEqual(len(lines), 1, "want one max_children_reached line, got:\n%s"
                         % "\n".join(lines) or log[-2000:])
        line = lines[0]
        self.assertEqual(procs.field(line, "workers"), "2", line)
        q = procs.field(line, "listen_queue")
        self.assertIsNotNone(q, line)
        self.assertGreater(int(q), 0, line)
        self.assertTrue(line.startswith("<4>"), "a warning: " + line)
        self.assertGreater(pm.metric("millrace_max_children_reached_total"), 0)
        self.assertGreater(pm.status_field("max children reached"), 0)
        self.assertEqual(procs.manager_pid(), mgr)
