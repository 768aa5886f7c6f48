"""/metrics against traffic the test drives and counts itself.

- A known mix through nginx moves millrace_requests_total by exactly what was sent, by method,
  route and status class, and each route's histogram _count by the same; buckets are
  cumulative, monotone in le, and _sum lies between the buckets' bounds.
- 10,000 requests of a known mix from wrk are counted exactly by route and status, and the
  P99 of the histogram delta (histogram_quantile, as Prometheus computes it) is within one
  bucket of the P99 wrk measured.
- `promtool check metrics` accepts a live scrape.
- The listen queue is sampled: with one worker and ten concurrent requests its maximum is > 0.

Scrapes go through nginx to a worker, and a worker records a request after FCGX_Finish_r, so a
response can reach us a moment before it is counted: every "after" snapshot waits until each
worker is back in accept() (lib/metrics.scrape), when everything answered has been recorded. A
scrape is recorded after it is rendered, so it never counts itself: snapshot B sees snapshot A
under GET /metrics.
"""
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile

from lib import env, http, load, procs, stack
from lib.base import StackTestCase
from lib.fcgi import status_get
from lib.load import drive, in_background
from lib.metrics import BUCKETS, INF, Scrape, bucket_index, delta, histogram_quantile, quiet, scrape


def series_key(method, route, status):
    return (("method", method), ("route", route), ("status", status))


def expected_requests(seen):
    """millrace_requests_total deltas that the client-side Counter implies: 404 and 405 count
    under route="unmatched" with method=""."""
    exp = collections.Counter()
    for (method, path, status), n in seen.items():
        path = path.split("?")[0]
        if status in (404, 405):
            exp[series_key("", "unmatched", "4xx")] += n
        else:
            exp[series_key(method, path, "%dxx" % (status // 100))] += n
    return exp


# ---- counters ------------------------------------------------------------------------------

class Counters(StackTestCase):

    def assert_histograms_consistent(self, s):
        """Every route's buckets: le = 2^k us (k = 0..26) then +Inf, cumulative counts
        non-decreasing, +Inf equal to _count."""
        routes = {(l["method"], l["route"]) for l, _ in
                  s.series("millrace_request_duration_seconds_count")}
        self.assertTrue(routes, "no histogram in the scrape")
        want_le = ["%.6f" % (2 ** k / 1e6) for k in range(BUCKETS - 1)] + ["+Inf"]
        for method, route in routes:
            b = s.buckets(method, route)
            self.assertEqual([le for le, _ in b], want_le, (method, route))
            counts = [c for _, c in b]
            for i in range(1, len(counts)):
                self.assertLessEqual(counts[i - 1], counts[i],
                                     "%s %s: bucket le=%s holds %d > le=%s %d" % (
                                         method, route, b[i - 1][0], counts[i - 1], b[i][0],
                                         counts[i]))
            self.assertEqual(counts[-1], s.one("millrace_request_duration_seconds_count",
                                               method=method, route=route), (method, route))

    def assert_exact_delta(self, a, b, expected):
        """Every millrace_requests_total series moved by exactly `expected` (0 if absent), and
        each route's histogram count by the sum over its status classes."""
        got = {k: v for k, v in delta(a, b, "millrace_requests_total").items()}
        wrong = {k: (v, expected.get(k, 0)) for k, v in got.items() if v != expected.get(k, 0)}
        missing = [k for k in expected if k not in got]
        self.assertFalse(wrong or missing,
                         "millrace_requests_total deltas (got, want) that differ: %r; series "
                         "missing: %r" % (wrong, missing))
        per_route = collections.Counter()
        for k, v in got.items():
            d = dict(k)
            per_route[(d["method"], d["route"])] += v
        counts = delta(a, b, "millrace_request_duration_seconds_count")
        sums = delta(a, b, "millrace_request_duration_seconds_sum")
        for k, n in counts.items():
            d = dict(k)
            route = (d["method"], d["route"])
            self.assertEqual(n, per_route.get(route, 0),
                             "histogram _count of %r moved %d, requests_total %d" % (
                                 route, n, per_route.get(route, 0)))
            # Each observation lies in (lo, hi] of its bucket, so the _sum delta lies between
            # the buckets' bounds times their counts (the text has whole microseconds).
            ba, bb = a.buckets(*route), b.buckets(*route)
            lo_sum = hi_sum = 0.0
            prev_a = prev_b = 0.0
            for i, ((le, ca), (_, cb)) in enumerate(zip(ba, bb)):
                in_bucket = (cb - prev_b) - (ca - prev_a)
                prev_a, prev_b = ca, cb
                self.assertGreaterEqual(in_bucket, 0, "bucket le=%s of %r went down" % (le, route))
                lo = 0.0 if i == 0 else float(ba[i - 1][0])
                lo_sum += in_bucket * lo
                hi_sum += in_bucket * (INF if le == "+Inf" else float(le)) if in_bucket else 0.0
            s = sums[k]
            if n == 0:
                self.assertAlmostEqual(s, 0.0, places=6, msg="_sum of idle %r moved" % (route,))
            else:
                self.assertGreater(s, 0.0, "_sum of %r did not grow over %d requests" % (route, n))
                self.assertTrue(lo_sum - 2e-6 <= s <= hi_sum + 2e-6,
                                "_sum of %r moved %.6f s, outside its buckets' [%.6f, %.6f]"
                                % (route, s, lo_sum, hi_sum))

    def test_known_mix_counted_exactly_by_method_route_and_status(self):
        mix = ([("GET", "/json")] * 300 + [("GET", "/plaintext")] * 200
               + [("GET", "/nope")] * 50 + [("POST", "/json")] * 30 + [("GET", "/db")] * 20)
        random.Random(5).shuffle(mix)
        a = scrape()
        self.assert_histograms_consistent(a)
        seen = drive(mix)
        b = scrape()
        self.assert_histograms_consistent(b)
        self.assertEqual(seen, collections.Counter({
            ("GET", "/json", 200): 300, ("GET", "/plaintext", 200): 200,
            ("GET", "/nope", 404): 50, ("POST", "/json", 405): 30, ("GET", "/db", 200): 20}),
            "the responses were not the ones the mix is meant to produce")
        want = expected_requests(seen)
        want[series_key("GET", "/metrics", "2xx")] += 1  # scrape a, counted after it answered
        self.assert_exact_delta(a, b, want)

    def test_10000_wrk_requests_counted_exactly_and_p99_within_a_bucket(self):
        """wrk, 2 threads of one connection each, cycles 50 paths (24 /json, 20 /plaintext,
        5 /nope answered 404, 1 /test/sleep?ms=20) and stops each thread from its response()
        callback after 5,000 responses, each checked by status and body.

        Exactness: wrk's total counts completed responses. A time-bounded run (-d) ends with a
        request in flight on each connection, which nginx may or may not have passed on to
        millrace: up to `connections` requests counted by millrace but not by wrk. Stopping
        the thread's event loop inside response(), before the connection writes its next
        request, leaves nothing in flight, so wrk's count and millrace's delta must be equal.
        (The test then interrupts wrk's -d sleep with SIGINT, after which wrk prints its
        report as usual.)

        P99: the same 10,000 requests are in both populations, and each request's millrace
        time (inside the worker) lies inside its wrk time (which adds nginx, the sockets, the
        wake-ups and wrk), so millrace's true P99 <= wrk's P99. millrace's estimate lies in the
        same power-of-two bucket as its true P99, so its bucket can be no higher than the
        bucket of wrk's P99: a violation is a histogram or quantile bug. "Within one bucket"
        (the bound this test sets): wrk's P99 is in the same bucket or the next one up. Both are
        over the whole mix (Prometheus: histogram_quantile(0.99, sum by (le)
        (increase(..._bucket[...])))) because wrk has no per-path latencies.

        Why 2% of 20 ms sleeps: the 99th percentile then falls among them (rank 9,900 of
        10,000 is the 100th slowest of 10,000, inside the 200 slowest), where millrace's own
        time is most of wrk's, as for a real app whose P99 is its database routes. With only
        /json, /plaintext and 404s (all well under a millisecond inside the worker), wrk's
        P99 on this shared 2-core machine was 3.5 to 27 ms against millrace's 0.25 to 2.8 ms:
        the tail there is CPU scheduling outside the worker (nginx, wake-ups, wrk), which no
        in-process histogram can see. The fast part's P99 is printed for the record."""
        if not load.WRK:
            self.skipTest("wrk not installed (make deps)")
        per_thread, threads = 5000, 2
        tmp = tempfile.mkdtemp(prefix="mr-obs-wrk-")
        self.addCleanup(shutil.rmtree, tmp, True)
        script = os.path.join(tmp, "mix.lua")
        with open(script, "w") as f:
            f.write(WRK_MIX_LUA)
        marks = os.path.join(tmp, "done")
        os.mkdir(marks)
        a = scrape()
        url = "http://%s:%d" % (env.HTTP_HOST, env.HTTP_PORT)
        p = subprocess.Popen(["timeout", "-k", "5", "100", load.WRK, "-t%d" % threads,
                              "-c%d" % threads, "-d60s", "--timeout", "5s", "--latency",
                              "-s", script, url, "--", str(per_thread), marks],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        try:
            procs.wait_for(lambda: len(os.listdir(marks)) >= threads or p.poll() is not None,
                           60, what="both wrk threads to reach their count")
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)  # timeout passes it on to wrk
            out, _ = p.communicate(timeout=20)
        w = load.WrkResult(out)
        self.assertTrue(w.ok, "wrk printed no report:\n%s" % out)
        self.assertEqual(w.requests, threads * per_thread,
                         "wrk did not stop by count (stopped by the clock?):\n%s" % out)
        self.assertEqual(w.errors, 0, out)
        m = re.search(r"COUNTS json=(\d+) plaintext=(\d+) notfound=(\d+) sleep=(\d+) "
                      r"other=(\d+)", out)
        self.assertIsNotNone(m, out)
        by_kind = dict(zip(("json", "plaintext", "notfound", "sleep", "other"),
                           map(int, m.groups())))
        self.assertEqual(by_kind, {"json": 4800, "plaintext": 4000, "notfound": 1000,
                                   "sleep": 200, "other": 0}, out)
        self.assertEqual(w.non2xx, 1000, out)
        b = scrape()
        want = collections.Counter({
            series_key("GET", "/json", "2xx"): by_kind["json"],
            series_key("GET", "/plaintext", "2xx"): by_kind["plaintext"],
            series_key("", "unmatched", "4xx"): by_kind["notfound"],
            series_key("GET", "/test/sleep", "2xx"): by_kind["sleep"],
            series_key("GET", "/metrics", "2xx"): 1})
        self.assert_exact_delta(a, b, want)

        fast = [("GET", "/json"), ("GET", "/plaintext"), ("", "unmatched")]
        mix = fast + [("GET", "/test/sleep")]

        def merged(routes):
            out = None
            for route in routes:
                d = [(INF if le == "+Inf" else float(le), cb - ca)
                     for (le, ca), (_, cb) in zip(a.buckets(*route), b.buckets(*route))]
                out = d if out is None else [(le, c + o) for (le, c), (_, o) in zip(d, out)]
            return out
        whole = merged(mix)
        self.assertEqual(whole[-1][1], w.requests, "histogram delta over the mix")
        mr_p99 = histogram_quantile(0.99, whole)
        m = re.search(r"^\s*99%\s+(\S+)\s*$", out, re.M)
        self.assertIsNotNone(m, "no 99%% line in wrk's --latency report:\n%s" % out)
        wrk_p99 = load._duration(m.group(1))
        per_route = {r[1]: histogram_quantile(0.99, [
            (INF if le == "+Inf" else float(le), cb - ca)
            for (le, ca), (_, cb) in zip(a.buckets(*r), b.buckets(*r))]) for r in mix}
        print("\n      P99 over the 10,000-request mix: wrk %.3f ms (bucket %d), millrace %.3f ms "
              "(bucket %d); millrace per route: %s; millrace over the fast 98%%: %.3f ms"
              % (wrk_p99 * 1e3, bucket_index(wrk_p99), mr_p99 * 1e3, bucket_index(mr_p99),
                 ", ".join("%s %.3f ms" % (k, v * 1e3) for k, v in per_route.items()),
                 histogram_quantile(0.99, merged(fast)) * 1e3), flush=True)
        gap = bucket_index(wrk_p99) - bucket_index(mr_p99)
        self.assertGreaterEqual(gap, 0, "millrace's P99 %.3f ms sits in a higher bucket than "
                                "wrk's %.3f ms, though every millrace time is inside a wrk time"
                                % (mr_p99 * 1e3, wrk_p99 * 1e3))
        self.assertLessEqual(gap, 1, "wrk's P99 %.3f ms is %d buckets above millrace's %.3f ms"
                             % (wrk_p99 * 1e3, gap, mr_p99 * 1e3))

    def test_promtool_check_metrics_accepts_a_live_scrape(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool not found (Debian package prometheus; make deps)")
        drive([("GET", "/json")] * 5 + [("GET", "/db")] * 5 + [("GET", "/cached-queries")] * 5
              + [("GET", "/nope")] * 2 + [("POST", "/json")] * 2 + [("GET", "/fortunes")] * 2)
        quiet()
        r = http.get("/metrics", timeout=10)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        p = subprocess.run([promtool, "check", "metrics"], input=r.body, timeout=30,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual((p.returncode, p.stdout.decode()), (0, ""),
                         "promtool check metrics on a live scrape")
        s = Scrape(r.body.decode())
        for name, t in s.types.items():
            if t == "counter":
                self.assertTrue(name.endswith("_total"), name)


# wrk's script for the 10,000-request test. Each thread cycles the paths from its own start, checks
# and counts each response by its body, and after `limit` responses writes a mark and stops its
# event loop (one connection per thread: nothing is left in flight).
WRK_MIX_LUA = r'''
-- 50 per cycle: 24 /json, 20 /plaintext, 5 /nope, 1 /test/sleep?ms=20 (2%).
local paths = {}
for k = 1, 50 do
  if k == 25 then paths[k] = "/test/sleep?ms=20"
  elseif k % 10 == 0 then paths[k] = "/nope"
  elseif k % 2 == 1 then paths[k] = "/json"
  else paths[k] = "/plaintext" end
end
local i, n = 0, 0
limit, marks, id = 0, "", 0
counts_json, counts_plain, counts_404, counts_sleep, counts_other = 0, 0, 0, 0, 0
threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  limit = tonumber(args[1])
  marks = args[2]
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  n = n + 1
  if status == 404 then counts_404 = counts_404 + 1
  elseif status == 200 and body == '{"message":"Hello, World!"}' then counts_json = counts_json + 1
  elseif status == 200 and body == "Hello, World!" then counts_plain = counts_plain + 1
  elseif status == 200 and body:sub(1, 5) == "slept" then counts_sleep = counts_sleep + 1
  else counts_other = counts_other + 1 end
  if n >= limit then
    local f = io.open(marks .. "/" .. tostring(id), "w")
    f:close()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local j, p, f, z, o = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    j = j + t:get("counts_json")
    p = p + t:get("counts_plain")
    f = f + t:get("counts_404")
    z = z + t:get("counts_sleep")
    o = o + t:get("counts_other")
  end
  io.write(string.format("COUNTS json=%d plaintext=%d notfound=%d sleep=%d other=%d\n",
                         j, p, f, z, o))
end
'''


class ListenQueue(StackTestCase):
    """millrace with one worker (and status_listen, to scrape while it is busy)."""

    @classmethod
    def setUpClass(cls):
        stack.restart_millrace('workers = 1;\nstatus_listen = "unix:%s";' % env.STATUS_SOCKET)

    @classmethod
    def tearDownClass(cls):
        stack.restart_millrace("")

    def test_listen_queue_max_seen_with_one_worker_and_ten_requests(self):
        r, _ = status_get("/metrics")
        before = Scrape(r.body.decode())
        self.assertEqual(before.one("millrace_listen_queue_max"), 0,
                         "a fresh manager has seen no queue")
        ths, results = in_background("/test/sleep?ms=300", 10, timeout=20)
        seen_now = []
        try:
            def queued():
                r, _ = status_get("/metrics")
                s = Scrape(r.body.decode())
                seen_now.append(s.one("millrace_listen_queue"))
                return s.one("millrace_listen_queue_max") > 0 and s
            s = procs.wait_for(queued, 2.5, interval=0.1,
                               what="millrace_listen_queue_max > 0 (sampled every 100 ms)")
        finally:
            for t in ths:
                t.join(20)
        self.assertEqual(results, [200] * 10)
        r, _ = status_get("/metrics")
        s = Scrape(r.body.decode())
        qmax = s.one("millrace_listen_queue_max")
        print("\n      listen queue: max %d, samples %r" % (qmax, seen_now), flush=True)
        self.assertTrue(1 <= qmax <= 10, qmax)
        self.assertGreater(max(seen_now), 0, "millrace_listen_queue never showed the queue")
        self.assertGreaterEqual(s.one("millrace_max_children_reached_total"), 1)
        r, _ = status_get("/status?json")
        self.assertEqual(json.loads(r.body)["max listen queue"], qmax)
