"""Limits, circuit breakers, deadlines and load shedding (issue 6, items 1-3 and 7).

Input limits go straight to the FastCGI socket (lib/fcgi.py) where nginx would refuse first
(a header over nginx's large_client_header_buffers, raw bytes) and through nginx otherwise.
Backends are broken for real, never mocked: Redis and PostgreSQL are paused with SIGSTOP (a
hang: connects complete from the listen backlog, nothing ever answers), or stopped with the
stack script (a refusal); every pause has its SIGCONT in a `finally`. Tests that need other
settings restart millrace with MR_CONF_EXTRA and restore the default in tearDown.

The numbers a test measures (latencies, counts) are printed, so a passing run still shows
how close it came to a bound."""
import contextlib
import json
import os
import signal
import threading
import time
import urllib.parse

from lib import env, fcgi, http, procs, stack
from lib.base import StackTestCase

GOOD_JSON = b'{"message":"Hello, World!"}'

# The defaults of etc/millrace.conf these tests rely on (the stack sets none of them).
MAX_PARAMS = 256
MAX_PARAMS_BYTES = 65536
MAX_HEADER_BYTES = 8192
MAX_QUERY_BYTES = 4096
MAX_QUERY_PARAMS = 64
MAX_BODY_BYTES = 1048576
REDIS_COMMAND_TIMEOUT_S = 0.200
REDIS_BREAKER_FAILURES = 3
REDIS_BREAKER_COOLDOWN_S = 1.0
DB_QUERY_TIMEOUT_S = 2.0
DB_BREAKER_COOLDOWN_S = 2.0

# Text of libpq, hiredis and our own internals that must never reach a client.
INTERNAL_WORDS = ("connection", "server", "refused", "timed out", "timeout", "libpq", "redis",
                  "postgres", "127.0.0.1", "port", "socket", "recovery", "errno", "primary:",
                  "replica1", "backoff", "breaker", "deadline")


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


def metrics():
    """/metrics as {'name{labels}': value}."""
    for _ in range(10):
        r = http.get("/metrics", timeout=5)
        if r.status != 503 or r.header("Retry-After") is None:
            break
        # Shed: the manager's queue sample (every 100 ms) still shows the flood.
        time.sleep(0.15)
    if r.status != 200:
        raise AssertionError("GET /metrics answered %r" % r)
    out = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def breaker_key(name, backend, role):
    return '%s{backend="%s",role="%s"}' % (name, backend, role)


REDIS_STATE = breaker_key("millrace_breaker_state", "redis", "cache")
REDIS_OPENED = breaker_key("millrace_breaker_opened_total", "redis", "cache")
REPLICA_STATE = breaker_key("millrace_breaker_state", "replica1", "replica")
REPLICA_OPENED = breaker_key("millrace_breaker_opened_total", "replica1", "replica")
REPLICA_UP = breaker_key("millrace_backend_up", "replica1", "replica")
PRIMARY_UP = breaker_key("millrace_backend_up", "primary", "primary")


def timed_get(path, timeout=10):
    t = time.monotonic()
    r = http.get(path, timeout=timeout)
    return r, time.monotonic() - t


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


def json_error(testcase, r, status):
    """r is a JSON error response of `status`; returns the parsed body."""
    testcase.assertEqual(r.status, status, r)
    testcase.assertEqual(r.header("Content-Type"), "application/json", r)
    body = json.loads(r.body)
    testcase.assertEqual(body.get("status"), status, r)
    testcase.assertIsInstance(body.get("error"), str, r)
    return body


def fcgi_get(uri, extra=None, params=None):
    return fcgi.request("GET", uri, extra_params=extra, params=params, timeout=10)


# ---- input limits ------------------------------------------------------------------------------

class InputLimits(StackTestCase):
    def test_params_count_over_max_params_431_and_at_max_200(self):
        base = len(fcgi.default_params())
        at = [("HTTP_X_F%d" % i, "v") for i in range(MAX_PARAMS - base)]
        r = fcgi_get("/json", extra=at)
        self.assertEqual((r.status, r.body), (200, GOOD_JSON), "exactly %d params" % MAX_PARAMS)
        over = at + [("HTTP_X_ONE_MORE", "v")]
        body = json_error(self, fcgi_get("/json", extra=over), 431)
        say("%d params: 200; %d params: 431 %r", MAX_PARAMS, MAX_PARAMS + 1, body)

    def test_params_bytes_over_max_params_bytes_431_and_at_max_200(self):
        # Bytes as the limit counts them: "NAME=value" per param. Non-header params, so that
        # only the total counts. Pad with 4000-byte values, then one to land exactly on it.
        params = fcgi.default_params()
        used = sum(len(k) + 1 + len(v) for k, v in params)
        i = 0
        while MAX_PARAMS_BYTES - used > 4100:
            params.append(("X_PAD_%02d" % i, "p" * 4000))
            used += len("X_PAD_00=") + 4000
            i += 1
        params.append(("X_PAD_LAST", "p" * (MAX_PARAMS_BYTES - used - len("X_PAD_LAST="))))
        total = sum(len(k) + 1 + len(v) for k, v in params)
        self.assertEqual(total, MAX_PARAMS_BYTES)
        r = fcgi_get("/json", params=params)
        self.assertEqual((r.status, r.body), (200, GOOD_JSON),
                         "%d params of exactly %d bytes in all" % (len(params), total))
        params[-1] = (params[-1][0], params[-1][1] + "p")
        json_error(self, fcgi_get("/json", params=params), 431)
        say("params of %d bytes: 200; %d bytes: 431", total, total + 1)

    def test_header_value_over_max_header_bytes_431_straight(self):
        # nginx's large_client_header_buffers (8k per line) refuses such a header itself, so
        # this one goes straight to the socket.
        r = fcgi_get("/json", extra=[("HTTP_X_BIG", "h" * MAX_HEADER_BYTES)])
        self.assertEqual((r.status, r.body), (200, GOOD_JSON), "a value of exactly the cap")
        json_error(self, fcgi_get("/json", extra=[("HTTP_X_BIG", "h" * (MAX_HEADER_BYTES + 1))]),
                   431)

    def test_header_too_large_through_nginx_is_refused(self):
        # Whoever refuses it (nginx's 400/431 or millrace's 431), it is refused, not served.
        r = http.get("/json", headers={"X-Big": "h" * (MAX_HEADER_BYTES + 100)}, timeout=5)
        self.assertIn(r.status, (400, 431, 494), r)

    def test_query_over_max_query_bytes_414_through_nginx(self):
        q_at = "a=" + "x" * (MAX_QUERY_BYTES - 2)
        r = http.get("/json?" + q_at, timeout=5)
        self.assertEqual((r.status, r.body), (200, GOOD_JSON), "a query of exactly the cap")
        json_error(self, http.get("/json?" + q_at + "x", timeout=5), 414)

    def test_more_than_max_query_params_400_through_nginx(self):
        at = "&".join("p%d=1" % i for i in range(MAX_QUERY_PARAMS))
        r = http.get("/json?" + at, timeout=5)
        self.assertEqual((r.status, r.body), (200, GOOD_JSON), "exactly %d" % MAX_QUERY_PARAMS)
        json_error(self, http.get("/json?" + at + "&one=more", timeout=5), 400)

    def test_invalid_percent_encoding_nul_and_utf8_in_parameters_400(self):
        bad = {
            "bad hex": "q=%zz", "truncated": "q=%4", "lone percent": "q=%",
            "percent at end of name": "a%=1", "%00 in a value": "q=a%00b",
            "%00 in a name": "a%00=1", "lone continuation": "q=%80",
            "invalid lead byte": "q=%FF", "truncated sequence": "q=%C3",
            "bad continuation": "q=%C3%28", "overlong slash": "q=%C0%AF",
            "overlong 3-byte": "q=%E0%80%AF", "surrogate": "q=%ED%A0%80",
            "above U+10FFFF": "q=%F4%90%80%80", "invalid UTF-8 in a name": "%FE=1",
        }
        for what, q in bad.items():
            with case(what=what, query=q):
                json_error(self, http.get("/db?" + q, timeout=5), 400)
        # Raw bytes nginx would pass through as they are: straight to the socket.
        for raw in (b"q=\xff", b"q=\xc3\x28", b"q=\xed\xa0\x80", b"\xc0\xaf=1"):
            with case(raw=raw):
                params = [(k, raw if k == "QUERY_STRING" else v)
                          for k, v in fcgi.default_params("GET", "/db")]
                json_error(self, fcgi_get("/db", params=params), 400)
        # Valid encodings of the same characters pass.
        for q in ("q=%C3%A9", "q=%F0%9F%98%80", "q=a+b%20c", "caf%C3%A9=1"):
            with case(valid=q):
                r = http.get("/json?" + q, timeout=5)
                self.assertEqual((r.status, r.body), (200, GOOD_JSON), q)

    def test_body_over_max_body_bytes_413_json_through_nginx(self):
        r = http.request("POST", "/test/echo", body=b"b" * MAX_BODY_BYTES, timeout=20)
        self.assertEqual((r.status, len(r.body)), (200, MAX_BODY_BYTES), "a body of the cap")
        json_error(self, http.request("POST", "/test/echo", body=b"b" * (MAX_BODY_BYTES + 1),
                                      timeout=20), 413)

    def test_keep_conn_survives_a_limit_error_before_the_body_is_read(self):
        """A 400/414/431 answered before the body is read must not cost the FCGI_KEEP_CONN
        connection the next request (nginx with fastcgi_keep_conn sends it there)."""
        def req(method, uri, body=b"", extra=None):
            p = fcgi.default_params(method, uri, len(body), extra)
            return fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body(flags=fcgi.KEEP_CONN)) + \
                fcgi.stream(fcgi.PARAMS, fcgi.encode_params(p)) + fcgi.stream(fcgi.STDIN, body)
        body = b"b" * 20000  # more than libfcgi reads ahead (8 KiB)
        for what, first, status in (
                ("400 bad query", req("POST", "/test/echo?q=%zz", body), 400),
                ("414 long query", req("POST", "/test/echo?q=" + "x" * 5000, body), 414),
                ("431 big header", req("POST", "/test/echo", body,
                                       [("HTTP_X_BIG", "h" * 9000)]), 431)):
            with case(what=what):
                s = fcgi.connect(timeout=5)
                try:
                    s.sendall(first)
                    r1 = fcgi.read_response(s)
                    self.assertEqual(r1.status, status, r1)
                    s.sendall(req("GET", "/json"))
                    try:
                        r2 = fcgi.read_response(s)
                    except (EOFError, OSError) as e:
                        self.fail("the next request on the kept connection got no answer "
                                  "(%r): the unread body was left on the connection" % e)
                    self.assertEqual((r2.status, r2.body), (200, GOOD_JSON), r2)
                finally:
                    s.close()

    def test_error_bodies_never_echo_input(self):
        tag = "<script>alert(1)</script>"
        q = urllib.parse.quote(tag)
        cases = [
            ("404 path", lambda: http.get("/no/" + q, timeout=5), 404),
            ("400 bad encoding", lambda: http.get("/db?x=" + q + "&y=%zz", timeout=5), 400),
            ("400 too many params",
             lambda: http.get("/db?" + "&".join("%s%d=1" % (q, i) for i in range(80)),
                              timeout=5), 400),
            ("414 long query", lambda: http.get("/db?x=" + q * 200, timeout=5), 414),
            ("405 method", lambda: http.request("DELETE", "/json?x=" + q, timeout=5), 405),
            ("413 body", lambda: http.request("POST", "/test/echo?x=" + q,
                                              body=tag.encode() * 50000, timeout=20), 413),
            ("431 header", lambda: fcgi_get("/json?x=" + q, extra=[
                ("HTTP_X_EVIL", tag * 400)]), 431),
            ("431 params", lambda: fcgi_get("/json?x=" + q, extra=[
                ("HTTP_%s_%d" % (tag, i), tag) for i in range(300)]), 431),
            ("400 raw tag in query", lambda: fcgi_get("/db", params=[
                (k, tag + "&%zz" if k == "QUERY_STRING" else v)
                for k, v in fcgi.default_params("GET", "/db")]), 400),
        ]
        for what, send, status in cases:
            with case(what=what):
                r = send()
                self.assertEqual(r.status, status, r)
                self.assertEqual(r.header("Content-Type"), "application/json", r)
                low = r.body.lower()
                for needle in (b"<script", b"script", b"alert", b"%3cscript", b"evil"):
                    self.assertNotIn(needle, low, "%s echoed input: %r" % (what, r.body))
                json.loads(r.body)


class DatabaseOutage(StackTestCase):
    """Both databases stopped (a refusal: libpq has plenty to say): the answer is fixed text."""

    def test_db_down_503_body_is_fixed_text_without_libpq_message(self):
        fixed = {"/db": "database unavailable", "/queries?queries=3": "database unavailable",
                 "/fortunes": "database unavailable",
                 "/updates?queries=2": "primary database unavailable"}
        bad = []
        bodies = set()
        stop = threading.Event()

        def check(path, r):
            if r.status == 200:
                return
            try:
                ok = (r.status == 503 and r.header("Content-Type") == "application/json"
                      and json.loads(r.body) == {"error": fixed[path], "status": 503})
            except ValueError:
                ok = False
            low = r.body.decode("utf-8", "replace").lower()
            if not ok or any(w in low for w in INTERNAL_WORDS):
                bad.append((path, r))
            bodies.add(r.body)

        def hammer():
            # Requests while the databases go down: the connections in the workers' hands
            # break in every way libpq can describe, before the prober marks them down.
            while not stop.is_set():
                for path in fixed:
                    try:
                        check(path, http.get(path, timeout=10))
                    except OSError as e:
                        bad.append((path, repr(e)))
        th = threading.Thread(target=hammer)
        try:
            th.start()
            stack.stop("replica")
            stack.stop("pg")
            time.sleep(0.3)
            stop.set()
            th.join(30)
            for path in list(fixed) * 2:
                r = http.get(path, timeout=10)
                self.assertEqual(r.status, 503, r)
                check(path, r)
        finally:
            stop.set()
            th.join(30)
            stack.start("pg")
            stack.start("replica")
        say("503 bodies: %r", sorted(bodies))
        self.assertEqual(bad, [], "a 503 body that is not the fixed text, or holds internals")
        # The detail went to the log instead, libpq's words included.
        details = sorted({procs.field(l, "err") for l in self.log().splitlines()
                          if "event=request_failed" in l and "status=503" in l})
        say("the log kept %d distinct details, e.g. %r", len(details), details[:4])
        self.assertTrue(details, "no request_failed line for the 503s:\n" + self.log())
        self.assertTrue(any(w in d.lower() for d in details for w in ("server", "connection")),
                        "no libpq text reached the log, so none could have leaked: %r" % details)
        procs.wait_for(lambda: http.get("/db", timeout=5).status == 200, 20,
                       what="/db to answer 200 again after the databases restarted")


# ---- circuit breakers --------------------------------------------------------------------------

class Breakers(StackTestCase):
    def warm(self, path, n=5):
        for _ in range(n):
            r = http.get(path, timeout=10)
            self.assertEqual(r.status, 200, r)

    def test_redis_hang_opens_breaker_skips_redis_then_closes(self):
        self.warm("/cached-queries?count=1")
        m0 = metrics()
        self.assertEqual(m0[REDIS_STATE], 0, "the Redis breaker is not closed before the test")
        lat = []
        with Paused([redis_pid()]):
            t_stop = time.monotonic()
            for _ in range(25):
                r, dt = timed_get("/cached-queries?count=1")
                self.assertEqual(r.status, 200, r)  # answered from PostgreSQL
                self.assertEqual(len(json.loads(r.body)), 1, r)
                lat.append(dt)
            m1 = metrics()
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
        self.assertEqual(m1[REDIS_STATE], 1, "breaker not open while Redis is paused")
        self.assertEqual(m1[REDIS_OPENED] - m0[REDIS_OPENED], 1)
        say("slow: %d (timeout %.0f ms), then max %.1f ms; opened_total %d -> %d",
            len(slow), REDIS_COMMAND_TIMEOUT_S * 1000, max(tail) * 1000, m0[REDIS_OPENED],
            m1[REDIS_OPENED])

        # Resumed: within the cooldown (+ a bit), one request probes (half-open) and closes it.
        t_cont = time.monotonic()

        def closed():
            r = http.get("/cached-queries?count=1", timeout=5)
            self.assertEqual(r.status, 200, r)
            return metrics()[REDIS_STATE] == 0
        procs.wait_for(closed, REDIS_BREAKER_COOLDOWN_S + 1.5, interval=0.05,
                       what="the Redis breaker to close after SIGCONT")
        say("breaker closed %.2f s after SIGCONT (cooldown %.1f s)",
            time.monotonic() - t_cont, REDIS_BREAKER_COOLDOWN_S)
        # Hits resume: with 500 keys per request the second one finds some cached.
        m2 = metrics()
        for _ in range(3):
            r = http.get("/cached-queries?count=500", timeout=10)
            self.assertEqual(r.status, 200, r)
        m3 = metrics()
        self.assertGreater(m3["millrace_cache_hits_total"], m2["millrace_cache_hits_total"])
        self.assertEqual(m3["millrace_cache_errors_total"], m2["millrace_cache_errors_total"])
        self.assertEqual(m3[REDIS_STATE], 0)

    def test_redis_breaker_is_shared_across_workers(self):
        """One outage opens the shared breaker once; workers that never saw Redis fail skip
        it as well."""
        self.warm("/cached-queries?count=1", n=10)
        m0 = metrics()
        mark = procs.log_mark()
        lat = []
        lock = threading.Lock()
        with Paused([redis_pid()]):
            # Sequential requests until it opens: the failures come from few workers.
            for _ in range(10):
                r, dt = timed_get("/cached-queries?count=1")
                self.assertEqual(r.status, 200, r)
                if metrics()[REDIS_STATE] == 1:
                    break
            t_open = time.monotonic()
            self.assertEqual(metrics()[REDIS_STATE], 1, "breaker did not open")
            failed_pids = {int(procs.field(l, "pid")) for l in procs.log_since(mark).splitlines()
                           if "event=conn_lost" in l and "backend=redis" in l}
            before_burst = self.per_worker_requests()

            # Then a concurrent burst, spread over the pool, shorter than the cooldown.
            def burst():
                for _ in range(10):
                    r, dt = timed_get("/cached-queries?count=1")
                    with lock:
                        lat.append((r.status, dt))
            ths = [threading.Thread(target=burst) for _ in range(5)]
            for t in ths:
                t.start()
            for t in ths:
                t.join(30)
            burst_s = time.monotonic() - t_open
            m1 = metrics()
            after_burst = self.per_worker_requests()
        served = {p: after_burst.get(p, 0) - before_burst.get(p, 0) for p in after_burst}
        spared = {p: n for p, n in served.items() if n >= 2 and p not in failed_pids}
        say("workers that logged a Redis failure: %s; burst requests per worker: %s",
            sorted(failed_pids), served)
        say("burst of %d in %.2f s: max latency %.1f ms; opened_total +%d", len(lat), burst_s,
            max(d for _, d in lat) * 1000, m1[REDIS_OPENED] - m0[REDIS_OPENED])
        self.assertEqual([s for s, _ in lat], [200] * 50)
        self.assertLessEqual(len(failed_pids), REDIS_BREAKER_FAILURES)
        self.assertTrue(spared, "no worker outside %s served the burst: %s"
                        % (sorted(failed_pids), served))
        self.assertLess(burst_s, REDIS_BREAKER_COOLDOWN_S, "burst too slow to judge")
        # No request in the burst paid the command timeout, on any worker.
        self.assertLess(max(d for _, d in lat), REDIS_COMMAND_TIMEOUT_S * 0.9, lat)
        # One outage, one opening: not one per worker.
        self.assertEqual(m1[REDIS_OPENED] - m0[REDIS_OPENED], 1)
        opens = [l for l in procs.log_since(mark).splitlines()
                 if "event=breaker_open" in l and "backend=redis" in l]
        self.assertEqual(len(opens), 1, opens)
        procs.wait_for(lambda: http.get("/cached-queries?count=1", timeout=5).status == 200
                       and metrics()[REDIS_STATE] == 0, REDIS_BREAKER_COOLDOWN_S + 2,
                       what="the Redis breaker to close after SIGCONT")

    def per_worker_requests(self):
        r = http.get("/status?json&full", timeout=5)
        self.assertEqual(r.status, 200, r)
        return {p["pid"]: p["requests"] for p in json.loads(r.body)["processes"]}

    def test_replica_hang_opens_its_breaker_reads_go_to_primary_then_closes(self):
        self.warm("/db")
        m0 = metrics()
        self.assertEqual(m0[REPLICA_STATE], 0)
        res = []
        lock = threading.Lock()

        def one():
            r, dt = timed_get("/db", timeout=10)
            with lock:
                res.append((r.status, dt, r.body))
        with Paused(pg_pids("replica")):
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
                r, dt = timed_get("/db")
                self.assertEqual(r.status, 200, r)
                after.append(dt)
            m1 = metrics()
            paused_s = time.monotonic() - t_stop
        say("replica paused: %d concurrent /db, latencies (s) %s", n,
            " ".join("%.2f" % x for x in first))
        say("then %s ms; replica breaker state %d, opened_total +%d, prober up=%d",
            " ".join("%.0f" % (x * 1000) for x in after), m1[REPLICA_STATE],
            m1[REPLICA_OPENED] - m0[REPLICA_OPENED], m1[REPLICA_UP])
        self.assertEqual([s for s, _, _ in res], [200] * n, res)
        for _, _, body in res:
            self.assertEqual(sorted(json.loads(body)), ["id", "randomNumber"])
        # Within the request budget (5 s): one query timeout on the replica, then the primary.
        self.assertLess(max(first), DB_QUERY_TIMEOUT_S + 1.0, first)
        self.assertLess(max(after), 0.1, "reads did not skip the paused replica: %r" % after)
        self.assertEqual(m1[REPLICA_STATE], 1, "replica breaker not open")
        self.assertGreaterEqual(m1[REPLICA_OPENED] - m0[REPLICA_OPENED], 1)
        self.assertLess(paused_s, 10)

        t_cont = time.monotonic()

        def closed():
            r = http.get("/db", timeout=5)
            self.assertEqual(r.status, 200, r)
            return metrics()[REPLICA_STATE] == 0
        procs.wait_for(closed, DB_BREAKER_COOLDOWN_S + 4, interval=0.1,
                       what="the replica breaker to close after SIGCONT")
        say("replica breaker closed %.2f s after SIGCONT (cooldown %.1f s)",
            time.monotonic() - t_cont, DB_BREAKER_COOLDOWN_S)
        q0 = metrics()[breaker_key("millrace_db_queries_total", "replica1", "replica")]
        for _ in range(10):
            self.assertEqual(http.get("/db", timeout=5).status, 200)
        q1 = metrics()[breaker_key("millrace_db_queries_total", "replica1", "replica")]
        self.assertGreaterEqual(q1 - q0, 8, "reads did not return to the replica")


# ---- tests that restart millrace with other settings -------------------------------------------

class Reconfigured(StackTestCase):
    """Restarts millrace with MR_CONF_EXTRA; tearDown restores the stack's own config."""

    def restart_with(self, extra):
        e = {"MR_CONF_EXTRA": extra}
        if self.millrace_binary:
            e["MILLRACE_BIN"] = self.millrace_binary
        stack.up("millrace", extra_env=e)
        procs.wait_for(procs.manager_pid, 15, what="the millrace manager")
        procs.wait_pool(15)
        with open(env.MILLRACE_CONF) as f:
            self.assertIn(extra.strip().splitlines()[0], f.read())
        self.reconfigured = True

    def tearDown(self):
        if getattr(self, "reconfigured", False):
            e = {"MR_CONF_EXTRA": os.environ.get("MR_CONF_EXTRA", "")}
            if self.millrace_binary:
                e["MILLRACE_BIN"] = self.millrace_binary
            stack.up("millrace", extra_env=e)
            procs.wait_for(procs.manager_pid, 15, what="the millrace manager")
        super().tearDown()


class Deadlines(Reconfigured):
    def test_request_budget_bounds_db_calls_when_every_database_hangs(self):
        budget = 0.300
        self.restart_with("request_timeout_ms = 300;\n")
        self.assertEqual(http.get("/db", timeout=5).status, 200)
        lat = {}
        with Paused(pg_pids("replica") + pg_pids("primary")):
            for path in ("/db", "/db", "/queries?queries=5", "/updates?queries=2", "/db",
                         "/fortunes", "/db"):
                r, dt = timed_get(path, timeout=10)
                lat.setdefault(path, []).append(dt)
                with case(path=path):
                    self.assertEqual(r.status, 503, r)
                    self.assertEqual(json.loads(r.body)["status"], 503, r)
                    # Not query_timeout_ms (2 s), not connect_timeout_ms (1 s) + a retry.
                    self.assertLess(dt, 0.8, "%s took %.3f s with a %.0f ms budget"
                                    % (path, dt, budget * 1000))
        say("both databases paused, request_timeout_ms=300: %s",
            "; ".join("%s %s" % (p, " ".join("%.0fms" % (x * 1000) for x in v))
                      for p, v in lat.items()))
        # The first call really waited on the hung backend, and the budget is what ended it.
        self.assertGreaterEqual(lat["/db"][0], budget * 0.9, lat)
        procs.wait_for(lambda: http.get("/db", timeout=5).status == 200, 10,
                       what="/db 200 after SIGCONT")


class Shedding(Reconfigured):
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
        self.restart_with("workers = 1;\nshed_queue_depth = 2;\n")
        m0 = metrics()
        mark = procs.log_mark()
        out, took = self.flood()
        m1 = metrics()
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
            body = json_error(self, r, 503)
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
        self.restart_with("workers = 1;\n")
        m0 = metrics()
        out, took = self.flood()
        m1 = metrics()
        statuses = sorted(str(s) for s, _, _ in out)
        say("shed_queue_depth=0: statuses %s in %.2f s", set(statuses), took)
        self.assertEqual([s for s, _, _ in out], [200] * self.FLOOD, out)
        self.assertEqual(m1["millrace_shed_total"], m0["millrace_shed_total"])
        # One worker really served them one after another.
        self.assertGreaterEqual(took, self.FLOOD * self.SLEEP_MS / 1000.0 * 0.9)

