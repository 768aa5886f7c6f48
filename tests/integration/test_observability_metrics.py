# SPDX-License-Identifier: BSD-2-Clause
"""See inside (issue 5, item 7 and "Done when"): the scoreboard's numbers as /metrics, /status,
the log and systemd's STATUS= show them, checked against traffic we drive and count ourselves.

- Exact counters: a known mix through nginx moves millrace_requests_total by exactly what we
  sent, by method, route and status class, and each route's histogram _count by the same;
  buckets are cumulative, monotone in le, and _sum lies between the buckets' bounds.
- Done when: 10,000 requests of a known mix from wrk are counted exactly by route and status,
  and the P99 of the histogram delta (histogram_quantile, as Prometheus computes it) is within
  one bucket of the P99 wrk measured.
- `promtool check metrics` accepts a live scrape.
- /status on status_listen answers within 200 ms while every worker is blocked, with php-fpm's
  fields (text, ?json, ?full); its percentiles are the histogram's.
- The log: nothing per successful request; one request_failed line per failing request, joined
  to nginx's access log by req=; every line is `<N>event=...` logfmt under 4 KiB.
- The listen queue is sampled: with one worker and ten concurrent requests its maximum is > 0.
- systemd: STATUS= carries req/s and p99 every 10 s.

Scrapes go through nginx to a worker, and a worker records a request after FCGX_Finish_r, so a
response can reach us a moment before it is counted: every "after" snapshot waits until each
worker is back in accept(), when everything answered has been recorded. A scrape is recorded
after it is rendered, so it never counts itself: snapshot B sees snapshot A under GET /metrics.
"""
import collections
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from lib import env, fcgi, http, load, procs, stack
from lib.base import StackTestCase

STATUS_SOCK = os.path.join(env.VAR, "run", "status.sock")
INF = float("inf")
BUCKETS = 28  # MR_HIST_BUCKETS: le = 2^k us for k = 0..26, then +Inf


# ---- the Prometheus text format (0.0.4), parsed here rather than trusted -------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$')
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"[ \t]*(,|$)')


def _unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def _value(s):
    special = {"+Inf": INF, "-Inf": -INF, "NaN": math.nan}
    return special[s] if s in special else float(s)


class Scrape:
    """One /metrics body: samples keyed by (name, sorted label items), and the TYPE lines."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.types = {}
        for n, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3]
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError("line %d is not a sample: %r" % (n, line))
            labels = {}
            rest = m.group(2) or ""
            pos = 0
            while pos < len(rest):
                lm = _LABEL.match(rest, pos)
                if not lm:
                    raise AssertionError("line %d: bad labels at %r" % (n, rest[pos:]))
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
            key = (m.group(1), tuple(sorted(labels.items())))
            if key in self.samples:
                raise AssertionError("line %d: duplicate series %r" % (n, line))
            self.samples[key] = _value(m.group(3))

    def series(self, name):
        """[(labels dict, value)] of one metric name."""
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name]

    def get(self, name, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def one(self, name, **labels):
        v = self.get(name, **labels)
        if v is None:
            raise AssertionError("no series %s%r in the scrape" % (name, labels))
        return v

    def buckets(self, method, route):
        """[(le, cumulative count)] of a route's histogram, in the order served."""
        out = []
        for labels, v in self.series("millrace_request_duration_seconds_bucket"):
            if labels.get("method") == method and labels.get("route") == route:
                out.append((labels["le"], v))
        return out


def delta(a, b, name):
    """{labels tuple: b - a} for every series of `name` in b (a missing in a counts as 0)."""
    out = {}
    for k, v in b.samples.items():
        if k[0] == name:
            out[k[1]] = v - a.samples.get(k, 0.0)
    return out


def histogram_quantile(q, cum):
    """Prometheus's histogram_quantile over [(upper bound, cumulative count)] ending at +Inf:
    the first bucket whose count reaches rank q * total, linear inside it (from 0 for the
    first bucket); in the +Inf bucket, the last finite bound."""
    total = cum[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    for i, (le, c) in enumerate(cum[:-1]):
        if c >= rank:
            lo, below = (0.0, 0.0) if i == 0 else cum[i - 1]
            return lo + (le - lo) * (rank - below) / (c - below)
    return cum[-2][0]


def bucket_index(seconds):
    """The histogram bucket (2^k us upper bounds) a duration falls in, as millrace files it."""
    us = seconds * 1e6
    k = 0
    while k < BUCKETS - 1 and us > 2 ** k + 1e-9:
        k += 1
    return k


# ---- talking to millrace -------------------------------------------------------------------

def quiet(timeout=10.0):
    """Waits until every worker is blocked in accept(): every response already sent has been
    recorded in the scoreboard (a worker records after FCGX_Finish_r)."""
    def all_idle():
        w = procs.workers()
        return w and set(procs.idle_workers()) == set(w)
    procs.wait_for(all_idle, timeout, what="every worker back in accept()")


def scrape(quiet_first=True):
    if quiet_first:
        quiet()
    r = http.get("/metrics", timeout=10)
    if r.status != 200:
        raise AssertionError("GET /metrics answered %r" % r)
    return Scrape(r.body.decode())


def status_get(uri, path=STATUS_SOCK, timeout=2.0):
    """A GET straight to a FastCGI socket; returns (response, seconds taken)."""
    t0 = time.monotonic()
    r = fcgi.request("GET", uri, path=path, timeout=timeout)
    return r, time.monotonic() - t0


def drive(work, threads=4):
    """Sends every (method, path) of `work` through nginx on keep-alive connections; returns
    a Counter of (method, path, status)."""
    todo = list(work)
    lock = threading.Lock()
    seen = collections.Counter()
    errors = []

    def run():
        c = http.KeepAlive(timeout=10)
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    method, path = todo.pop()
                try:
                    r = c.request(method, path, body=b"" if method == "POST" else None)
                except Exception as e:  # a socket error is a result, to report
                    with lock:
                        errors.append((method, path, repr(e)))
                    continue
                with lock:
                    seen[(method, path, r.status)] += 1
        finally:
            c.close()
    ths = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    if errors:
        raise AssertionError("%d requests failed at the socket: %r" % (len(errors), errors[:5]))
    return seen


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


class MillraceConfig:
    """Restarts the stack's millrace with MR_CONF_EXTRA, and back to the default."""

    @staticmethod
    def restart(extra):
        stack.up("millrace", extra_env={"MR_CONF_EXTRA": extra})
        procs.wait_for(procs.manager_pid, 15, what="the millrace manager")
        procs.wait_pool(15)

    @staticmethod
    def restore():
        MillraceConfig.restart("")


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

    def test_done_when_10000_wrk_requests_counted_exactly_and_p99_within_a_bucket(self):
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
        (the issue's Done-when): wrk's P99 is in the same bucket or the next one up. Both are
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


# wrk's script for the Done-when test. Each thread cycles the paths from its own start, checks
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


# ---- /status on its own socket ---------------------------------------------------------------

PHP_FPM_FIELDS = ["pool", "process manager", "start time", "start since", "accepted conn",
                  "listen queue", "max listen queue", "idle processes", "active processes",
                  "total processes", "max active processes", "max children reached",
                  "slow requests"]


def parse_status_text(body):
    """The pool block of the text format: {name: value} in order, and the per-worker blocks
    of ?full as a list of {name: value}."""
    blocks = body.split("\n************************\n")
    fields = collections.OrderedDict()
    for line in blocks[0].splitlines():
        if not line.strip() or line.startswith("route "):
            continue  # millrace's own rows: route NAME: requests N p50_ms ...
        m = re.match(r"^([a-z][a-z ]*):(\s+)(.*)$", line)
        if not m:
            raise AssertionError("status line %r is not `name: value`" % line)
        fields[m.group(1)] = (m.group(3), len(m.group(1)) + 1 + len(m.group(2)))
    workers = []
    for blk in blocks[1:]:
        w = {}
        for line in blk.strip("\n").splitlines():
            m = re.match(r"^([a-zA-Z][a-zA-Z ]*):\s+(.*)$", line)
            if not m:
                raise AssertionError("?full line %r is not `name: value`" % line)
            w[m.group(1)] = m.group(2)
        workers.append(w)
    return fields, workers


class StatusSocket(StackTestCase):
    """millrace with workers = 2 and status_listen on var/run/status.sock."""

    @classmethod
    def setUpClass(cls):
        MillraceConfig.restart('workers = 2;\nstatus_listen = "unix:%s";' % STATUS_SOCK)

    @classmethod
    def tearDownClass(cls):
        MillraceConfig.restore()

    def test_status_answers_within_200ms_while_every_worker_is_blocked(self):
        drive([("GET", "/json")] * 20)  # so that routes has a row with percentiles
        results = []

        def sleeper():
            try:
                results.append(http.get("/test/sleep?ms=3000", timeout=15).status)
            except Exception as e:
                results.append(repr(e))
        ths = [threading.Thread(target=sleeper, daemon=True) for _ in range(2)]
        for t in ths:
            t.start()
        try:
            busy = procs.wait_for(lambda: len(procs.sleeping_workers()) == 2 and
                                  procs.sleeping_workers(), 2.5,
                                  what="both workers asleep in /test/sleep")
            workers = set(procs.workers())
            self.assertEqual(set(busy), workers)

            r, took = status_get("/status")
            self.assertEqual(r.status, 200, r)
            self.assertLess(took, 0.2, "/status took %.3fs with every worker busy" % took)
            fields, _ = parse_status_text(r.body.decode())
            self.assertEqual(fields["active processes"][0], "2", r.body)
            self.assertEqual(fields["idle processes"][0], "0", r.body)
            self.assertEqual(fields["total processes"][0], "2", r.body)

            r, took = status_get("/status?json")
            self.assertEqual(r.status, 200, r)
            self.assertLess(took, 0.2, "/status?json took %.3fs" % took)
            self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), r)
            j = json.loads(r.body)
            missing = [f for f in PHP_FPM_FIELDS if f not in j]
            self.assertFalse(missing, "php-fpm fields missing from ?json: %r in %r" % (missing, j))
            self.assertEqual((j["active processes"], j["idle processes"], j["total processes"]),
                             (2, 0, 2), j)
            self.assertIsInstance(j["pool"], str)
            self.assertEqual(j["process manager"], "static")
            self.assertIsInstance(j["start time"], int)
            self.assertLessEqual(abs(j["start time"] + j["start since"] - time.time()), 2, j)
            for f in PHP_FPM_FIELDS[4:]:
                self.assertIsInstance(j[f], int, f)
            rows = {row["route"]: row for row in j["routes"]}
            self.assertIn("GET /json", rows, j["routes"])
            for row in j["routes"]:
                for k in ("p50_us", "p95_us", "p99_us"):
                    self.assertIsInstance(row.get(k), int, row)
                self.assertLessEqual(row["p50_us"], row["p95_us"], row)
                self.assertLessEqual(row["p95_us"], row["p99_us"], row)
                self.assertGreater(row["p99_us"], 0, row)

            r, took = status_get("/status?json&full")
            self.assertLess(took, 0.2, "/status?json&full took %.3fs" % took)
            j = json.loads(r.body)
            procs_rows = {p["pid"]: p for p in j["processes"]}
            self.assertEqual(set(procs_rows), workers, j["processes"])
            for pid, row in procs_rows.items():
                self.assertEqual(row["state"], "Running", row)
                self.assertEqual(row["request uri"], "/test/sleep", row)
                self.assertEqual(row["request method"], "GET", row)
                self.assertGreater(row["request duration"], 0, row)

            r, took = status_get("/status?full")
            self.assertLess(took, 0.2, "/status?full took %.3fs" % took)
            _, rows = parse_status_text(r.body.decode())
            self.assertEqual({int(w["pid"]) for w in rows}, workers, r.body)
            for w in rows:
                self.assertEqual((w["state"], w["request URI"], w["request method"]),
                                 ("Running", "/test/sleep", "GET"), w)
            # Still blocked after the last answer: /status was never waiting for a worker.
            self.assertEqual(set(procs.sleeping_workers()), workers,
                             "the sleepers ended before the checks did")
        finally:
            for t in ths:
                t.join(15)
        self.assertEqual(results, [200, 200])

    def test_status_text_has_php_fpm_field_names_and_layout(self):
        drive([("GET", "/plaintext")] * 10)
        quiet()
        r, _ = status_get("/status")
        self.assertEqual(r.status, 200, r)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/plain"), r)
        fields, rows = parse_status_text(r.body.decode())
        self.assertEqual(rows, [], "plain /status must not list workers")
        names = list(fields)
        missing = [f for f in PHP_FPM_FIELDS if f not in fields]
        self.assertFalse(missing, "php-fpm fields missing: %r\n%s" % (missing, r.body.decode()))
        # php-fpm's order, and its layout: the value starts in column 22.
        self.assertEqual([n for n in names if n in PHP_FPM_FIELDS], PHP_FPM_FIELDS)
        for n in PHP_FPM_FIELDS:
            self.assertEqual(fields[n][1], 22, "value of %r not in column 22" % n)
        self.assertEqual(fields["process manager"][0], "static")
        self.assertRegex(fields["start time"][0],
                         r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$")
        for n in PHP_FPM_FIELDS[3:]:
            self.assertRegex(fields[n][0], r"^\d+$", n)
        v = {n: int(fields[n][0]) for n in PHP_FPM_FIELDS[3:]}
        self.assertEqual((v["idle processes"], v["active processes"], v["total processes"]),
                         (2, 0, 2), r.body)
        self.assertGreaterEqual(v["accepted conn"], 10)
        self.assertRegex(r.body.decode(), r"(?m)^route GET /plaintext: requests \d+ p50_ms [\d.]+ "
                         r"p95_ms [\d.]+ p99_ms [\d.]+$")

    def test_status_percentiles_are_the_metrics_histogram_quantiles(self):
        drive([("GET", "/json")] * 50 + [("GET", "/db")] * 20)
        quiet()
        r, _ = status_get("/metrics")  # the status process does not count its own requests
        self.assertEqual(r.status, 200, r)
        s = Scrape(r.body.decode())
        r, _ = status_get("/status?json")
        rows = {row["route"]: row for row in json.loads(r.body)["routes"]}
        for method, route in (("GET", "/json"), ("GET", "/db")):
            cum = [(INF if le == "+Inf" else float(le), c) for le, c in s.buckets(method, route)]
            row = rows["%s %s" % (method, route)]
            self.assertEqual(row["requests"], cum[-1][1], row)
            for q, k in ((0.50, "p50_us"), (0.95, "p95_us"), (0.99, "p99_us")):
                want = histogram_quantile(q, cum) * 1e6
                self.assertLessEqual(abs(row[k] - want), 1.0,
                                     "%s %s %s: /status says %d us, histogram_quantile %.1f us"
                                     % (method, route, k, row[k], want))


class ListenQueue(StackTestCase):
    """millrace with one worker (and status_listen, to scrape while it is busy)."""

    @classmethod
    def setUpClass(cls):
        MillraceConfig.restart('workers = 1;\nstatus_listen = "unix:%s";' % STATUS_SOCK)

    @classmethod
    def tearDownClass(cls):
        MillraceConfig.restore()

    def test_listen_queue_max_seen_with_one_worker_and_ten_requests(self):
        r, _ = status_get("/metrics")
        before = Scrape(r.body.decode())
        self.assertEqual(before.one("millrace_listen_queue_max"), 0,
                         "a fresh manager has seen no queue")
        results = []

        def one():
            try:
                results.append(http.get("/test/sleep?ms=300", timeout=20).status)
            except Exception as e:
                results.append(repr(e))
        ths = [threading.Thread(target=one, daemon=True) for _ in range(10)]
        for t in ths:
            t.start()
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


# ---- the log ---------------------------------------------------------------------------------

LOGFMT_LINE = re.compile(r'^<[0-7]>event=[a-z][a-z0-9_]*'
                         r'(?: [A-Za-z_][A-Za-z0-9_.]*=(?:"(?:[^"\\]|\\.)*"|[^\s"]*))*$')


class Logs(StackTestCase):

    def nginx_request_id(self, token, timeout=5.0):
        """nginx's $request_id for the request whose URI holds token (the access log is
        flushed every second)."""
        path = os.path.join(env.LOG_DIR, "nginx-access.log")

        def find():
            try:
                with open(path, errors="replace") as f:
                    for line in f:
                        if token in line:
                            return line
            except OSError:
                return None
        line = procs.wait_for(find, timeout, what="%s in nginx's access log" % token)
        m = re.search(r"\breq=([0-9a-f]{32})\b", line)
        self.assertIsNotNone(m, line)
        return m.group(1), line

    def test_successful_requests_write_no_log_line(self):
        mark = procs.log_mark()
        seen = drive([("GET", "/json")] * 100 + [("GET", "/plaintext")] * 100
                     + [("GET", "/db")] * 30 + [("GET", "/queries?queries=3")] * 20
                     + [("GET", "/fortunes")] * 20 + [("GET", "/cached-queries")] * 20
                     + [("GET", "/updates?queries=2")] * 10)
        self.assertEqual({k[2] for k in seen}, {200}, seen)
        quiet()
        time.sleep(0.2)
        self.assertEqual(procs.log_since(mark), "",
                         "300 successful requests wrote to the log")

    def test_failed_request_logs_one_line_with_nginx_request_id(self):
        token = "obs%d" % random.randrange(10 ** 9)
        stack.stop("pg")
        try:
            r = http.get("/updates?queries=1&t=%s" % token, timeout=10)
            self.assertEqual(r.status, 503, r)
            rid, access = self.nginx_request_id(token)
            self.assertIn('" 503 ', access)
            line = procs.wait_log(self.mark, r"\breq=%s\b" % rid, timeout=5)
            quiet()
            text = self.log()  # before healing: requests while the primary returns may fail
        finally:
            stack.start("pg")
            procs.wait_for(lambda: http.get("/updates?queries=1", timeout=5).status == 200, 15,
                           what="/updates to answer 200 once the primary is back")
        ours = [l for l in text.splitlines() if rid in l]
        failed = [l for l in text.splitlines() if "event=request_failed" in l]
        self.assertEqual(ours, [line], "lines naming req=%s:\n%s" % (rid, text))
        self.assertEqual(failed, [line], "request_failed lines during the test:\n%s" % text)
        self.assertTrue(line.startswith("<3>event=request_failed "), line)
        self.assertEqual(procs.field(line, "req"), rid, line)
        self.assertEqual(procs.field(line, "status"), "503", line)
        self.assertEqual(procs.field(line, "uri"), "/updates", line)
        self.assertRegex(line, LOGFMT_LINE)

    def test_request_id_from_fastcgi_cannot_forge_a_log_line(self):
        """REQUEST_ID is a FastCGI param: nginx sends $request_id (hex), but a front end that
        passes a client's X-Request-Id, or anything that reaches the socket, sends what it
        likes. STYLE.md section 8: quote values with spaces, escape quotes and newlines. A
        slow request (over log.slow_ms = 1000 by default) is logged with req=."""
        rid = 'a b"c\n<3>event=forged_by_request_id'
        mark = procs.log_mark()
        params = [p for p in fcgi.default_params("GET", "/test/sleep?ms=1050")
                  if p[0] != "REQUEST_ID"] + [("REQUEST_ID", rid)]
        r = fcgi.request("GET", "/test/sleep?ms=1050", timeout=10, params=params)
        self.assertEqual(r.status, 200, r)
        line = procs.wait_log(mark, r"event=slow_request", timeout=5)
        text = procs.log_since(mark)
        self.assertNotIn("event=forged_by_request_id", "\n".join(
            l for l in text.splitlines() if not l.startswith("<4>event=slow_request")),
            "REQUEST_ID started a log line of its own:\n%s" % text)
        self.assertEqual(len(text.splitlines()), 1, "one slow request, lines:\n%s" % text)
        self.assertRegex(line, LOGFMT_LINE)
        self.assertEqual(procs.field(line, "req"), rid.replace("\\", "\\\\").replace(
            '"', '\\"').replace("\n", "\\n"), line)

    def test_every_log_line_is_prefixed_logfmt_with_event_first_under_4k(self):
        """Lines this test makes millrace write: a stop and a start (stopping, stopped,
        started, backend_up), a reload (config_reloaded) and a slow request (slow_request).
        Only lines since the test began, so that another test's failure is not this one's."""
        stack.stop("millrace")
        MillraceConfig.restart("")
        procs.wait_log(self.mark, r"event=backend_up", timeout=5)
        os.kill(procs.manager_pid(), signal.SIGHUP)
        procs.wait_log(self.mark, r"event=config_reloaded", timeout=5)
        procs.wait_pool(10)
        r = http.get("/test/sleep?ms=1020", timeout=10)
        self.assertEqual(r.status, 200, r)
        procs.wait_log(self.mark, r"event=slow_request", timeout=5)
        with open(env.MILLRACE_LOG, "rb") as f:
            f.seek(self.mark)
            raw = f.read()
        self.assertTrue(raw.endswith(b"\n"), "the log does not end with a newline: %r" % raw[-200:])
        lines = raw[:-1].split(b"\n")
        events = {procs.field(l.decode("utf-8", "replace"), "event") for l in lines}
        self.assertTrue({"stopped", "started", "config_reloaded", "slow_request"} <= events,
                        events)
        long_ = [(len(l) + 1, l[:100]) for l in lines if len(l) + 1 > 4096]
        self.assertFalse(long_, "lines over 4 KiB (bytes, start): %r" % long_)
        bad = [l.decode("utf-8", "replace") for l in lines
               if not LOGFMT_LINE.match(l.decode("utf-8", "replace"))]
        self.assertFalse(bad, "%d of %d lines are not `<N>event=... key=value`:\n%s"
                         % (len(bad), len(lines), "\n".join(bad[:10])))


# ---- systemd's STATUS= -----------------------------------------------------------------------

class NotifyStatus(unittest.TestCase):
    """A millrace of our own (temp config and socket, no data backends) under a NOTIFY_SOCKET
    we bind, as systemd would."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mr-obs-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sock = os.path.join(self.dir, "millrace.sock")
        self.conf = os.path.join(self.dir, "millrace.conf")
        self.logf = os.path.join(self.dir, "millrace.log")
        lines = ['listen = "unix:%s";' % self.sock, 'listen_mode = "0666";', "workers = 2;",
                 'db = { primary = "host=127.0.0.1 port=1 dbname=millrace user=millrace '
                 'connect_timeout=1"; };', "cache = { port = 1; };"]
        if os.geteuid() == 0:
            lines.append("allow_root = true;")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.n.bind(self.notify_path)
        self.addCleanup(self.n.close)
        self.p = None

    def tearDown(self):
        if self.p is None:
            return
        kids = procs.children(self.p.pid)
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                for pid in [self.p.pid] + kids:
                    if procs.alive(pid):
                        os.kill(pid, signal.SIGKILL)
                self.p.wait(5)
        procs.wait_for(lambda: not any(procs.alive(k) for k in kids), 5,
                       what="the test millrace's children to exit")

    def recv(self, deadline):
        self.n.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            return self.n.recv(4096).decode()
        except socket.timeout:
            return None

    def test_status_line_carries_requests_per_second_and_p99(self):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NOTIFY_SOCKET": self.notify_path}
        e.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})
        with open(self.logf, "ab") as logf:
            self.p = subprocess.Popen([env.millrace_bin(), "-c", self.conf], env=e,
                                      stdout=subprocess.DEVNULL, stderr=logf,
                                      start_new_session=True)
        t0 = time.monotonic()
        seen = []
        shape = re.compile(r"^STATUS=active (\d+), idle (\d+), requests (\d+), ([\d.]+) req/s, "
                           r"p99 ([\d.]+) ms$")

        def next_status(deadline):
            while True:
                msg = self.recv(deadline)
                if msg is None:
                    return None
                seen.append((round(time.monotonic() - t0, 2), msg))
                if msg.startswith("STATUS="):
                    m = shape.match(msg)
                    self.assertIsNotNone(m, "STATUS= of an unexpected shape: %r" % msg)
                    return m
        # The manager says STATUS= every 10 s, the first at its first tick: drive requests
        # after that one, so that the next covers them and only them.
        first = next_status(t0 + 5)
        self.assertIsNotNone(first, "no STATUS= within 5 s of start: %r" % seen)
        n = 60
        for _ in range(n):
            r = fcgi.request("GET", "/plaintext", path=self.sock, timeout=5)
            self.assertEqual(r.status, 200, r)
        t_first = next(t for t, m in seen if m == first.group(0))
        found = next_status(t0 + t_first + 11)
        self.assertIsNotNone(found, "no STATUS= within 11 s of the first: %r" % seen)
        print("\n      %s" % found.group(0), flush=True)
        self.assertEqual(int(found.group(3)) - int(first.group(3)), n, seen)
        rps = float(found.group(4))
        # n requests in a window of ~10 s (the line has one decimal).
        self.assertTrue(n / 11.0 - 0.05 <= rps <= n / 9.0 + 0.05,
                        "req/s %s for %d requests in ~10 s: %r" % (rps, n, seen))
        p99 = float(found.group(5))
        self.assertTrue(0.0 < p99 < 1000.0, "p99 %s ms for /plaintext" % p99)
        self.assertEqual((int(found.group(1)), int(found.group(2))), (0, 2), found.group(0))

if __name__ == "__main__":
    unittest.main()
