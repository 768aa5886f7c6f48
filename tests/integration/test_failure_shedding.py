"""Load shedding: with one worker and shed_queue_depth = 2, a flood of slow requests is partly
answered 503 with Retry-After: 1 at once (the shed request costs the worker no sleep) and
counted in millrace_shed_total; with shedding off (the default) the same flood waits its turn
and gets no 503. millrace runs with its own settings for each test (lib/pm.PmTestCase)."""
import threading
import time

from lib import http, metrics, procs
from lib.base import say
from lib.pm import PmTestCase


class Shedding(PmTestCase):
    FLOOD = 20
    SLEEP_MS = 300

    def flood(self):
        out = []
        lock = threading.Lock()
        start = threading.Barrier(self.FLOOD)

        def one():
            start.wait()
            t = time.monotonic()
            try:
                r = http.get("/test/sleep?ms=%d" % self.SLEEP_MS, timeout=30)
                rec = (r.status, time.monotonic() - t, r)
            except Exception as e:
                rec = (None, time.monotonic() - t, repr(e))
            with lock:
                out.append(rec)
        t0 = time.monotonic()
        ths = [threading.Thread(target=one) for _ in range(self.FLOOD)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        return out, time.monotonic() - t0

    def test_shed_queue_depth_answers_503_with_retry_after_at_once(self):
        self.configure("workers = 1;\nshed_queue_depth = 2;\n")
        procs.wait_pool(15)
        m0 = metrics.values()
        mark = procs.log_mark()
        out, took = self.flood()
        m1 = metrics.values()
        counts = {}
        for s, _, _ in out:
            counts[s] = counts.get(s, 0) + 1
        say("%d x /test/sleep?ms=%d, workers=1, shed_queue_depth=2: %r in %.2f s, "
            "shed_total +%d", self.FLOOD, self.SLEEP_MS, counts, took,
            m1["millrace_shed_total"] - m0["millrace_shed_total"])
        self.assertEqual(set(counts) - {200, 503}, set(), out)
        shed = [r for s, _, r in out if s == 503]
        self.assertTrue(shed, "no 503 from a flood of %d on one worker" % self.FLOOD)
        for r in shed:
            self.assertEqual(r.header("Retry-After"), "1", r)
            body = http.json_error(self, r, 503)
            self.assertNotIn("queue", body["error"])  # no internals either
        self.assertGreater(m1["millrace_shed_total"], m0["millrace_shed_total"])
        # (a /metrics right after the flood may be shed too, and counted)
        self.assertGreaterEqual(m1["millrace_shed_total"] - m0["millrace_shed_total"], len(shed))
        # At once: a shed request costs the worker no sleep (server-side time from the log),
        # and the flood ends long before 20 sleeps in a row would.
        lines = [l for l in procs.log_since(mark).splitlines()
                 if "event=request_failed" in l and "status=503" in l and "load shed" in l
                 and "uri=/test/sleep" in l]
        self.assertEqual(len(lines), len(shed), lines)
        server_ms = [int(procs.field(l, "ms")) for l in lines]
        say("server-side ms of the shed requests: max %d (sleep %d)", max(server_ms),
            self.SLEEP_MS)
        self.assertLess(max(server_ms), self.SLEEP_MS / 3, server_ms)
        served = counts.get(200, 0)
        self.assertLess(took, (served + 2) * self.SLEEP_MS / 1000.0 + 1.0)

    def test_shed_off_by_default_flood_waits_and_gets_no_503(self):
        self.configure("workers = 1;\n")
        procs.wait_pool(15)
        m0 = metrics.values()
        out, took = self.flood()
        m1 = metrics.values()
        statuses = sorted(str(s) for s, _, _ in out)
        say("shed_queue_depth=0: statuses %s in %.2f s", set(statuses), took)
        self.assertEqual([s for s, _, _ in out], [200] * self.FLOOD, out)
        self.assertEqual(m1["millrace_shed_total"], m0["millrace_shed_total"])
        # One worker really served them one after another.
        self.assertGreaterEqual(took, self.FLOOD * self.SLEEP_MS / 1000.0 * 0.9)
