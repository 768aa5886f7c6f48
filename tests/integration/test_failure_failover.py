"""Failover: Redis, the replica, the primary and both databases stopped with the stack script
(a refusal). The answers, their status codes and times, where the reads went and that each
service brought back is used again, with each state change logged once; and, once /readyz shows
a restarted backend up, that it serves. Every test heals what it stopped and waits until the
stack serves normally (lib/faults.FailoverCase). A database outage also must not leak libpq's
words into a 503 body: the body is fixed text and the detail goes to the log."""
import json
import re
import threading
import time

from lib import backends as be
from lib import faults, http, metrics, procs, stack, world
from lib.base import StackTestCase, say

# Text of libpq, hiredis and our own internals that must never reach a client.
INTERNAL_WORDS = ("connection", "server", "refused", "timed out", "timeout", "libpq", "redis",
                  "postgres", "127.0.0.1", "port", "socket", "recovery", "errno", "primary:",
                  "replica1", "backoff", "breaker", "deadline")


def latencies(results):
    return sorted(secs for _, _, secs, _ in results)


def pct(sorted_vals, p):
    return sorted_vals[min(len(sorted_vals) - 1, int(p * len(sorted_vals)))]


REPLICA_ERR = metrics.key("millrace_db_errors_total", "replica1", "replica")
REDIS_FAILURES = metrics.key("millrace_backend_failures_total", "redis", "cache")


class RedisDown(faults.FailoverCase):
    def test_cached_queries_answer_from_postgres_with_redis_stopped(self):
        be.wait_replica_caught_up()
        self.stop("redis")
        f0 = metrics.values()[REDIS_FAILURES]
        paths = ["/cached-queries?count=20"] * 1000
        res = be.fetch_all(paths, concurrency=8)
        tried = metrics.values()[REDIS_FAILURES] - f0
        lat = latencies(res)
        print("\n      Redis stopped: 1000 x /cached-queries?count=20: p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms" % (pct(lat, .5) * 1e3, pct(lat, .99) * 1e3, lat[-1] * 1e3))
        self.assert_good(res, 20)
        slow = [round(s, 3) for s in lat if s > 1.0]
        self.assertEqual(slow, [], "requests over 1 s with Redis down (tried per request?)")
        # A refused connect on loopback is instant, so time alone cannot tell: count the
        # calls that really went to Redis (calls an open breaker skips are not failures).
        print("      Redis calls tried (and failed) during the 1000 requests: %d" % tried)
        self.assertLess(tried, 100, "Redis tried on (nearly) every request")
        # The rows are the database's.
        seen = world.rows_of(res)
        primary = be.worlds(seen)
        wrong = {i: (sorted(v), primary[i]) for i, v in seen.items() if v != {primary[i]}}
        self.assertEqual(wrong, {})
        be.wait_backend("redis", "down", 5)

        self.start("redis")
        t0 = time.monotonic()
        h0 = metrics.values()[metrics.CACHE_HITS]

        def hits_grow():
            for _ in range(4):
                r = http.get("/cached-queries?count=100", timeout=5)
                self.assertEqual(r.status, 200, r)
            return metrics.values()[metrics.CACHE_HITS] > h0
        procs.wait_for(hits_grow, 5, interval=0.1, what="cache hits to grow after Redis came back")
        print("      cache used again %.2f s after Redis started" % (time.monotonic() - t0))
        be.wait_backend("redis", "up", 5)

    def test_redis_down_and_up_each_logged_once(self):
        self.stop("redis")
        be.wait_backend("redis", "down", 5)
        # Traffic while down must not log the state change again.
        res = be.fetch_all(["/cached-queries?count=5"] * 200, concurrency=4)
        self.assert_good(res, 5)
        time.sleep(1.0)
        self.start("redis")
        be.wait_backend("redis", "up", 5)
        res = be.fetch_all(["/cached-queries?count=5"] * 200, concurrency=4)
        self.assert_good(res, 5)
        time.sleep(1.0)  # a few more probe intervals: no flapping either
        self.assert_state_changes_logged_once("redis")


class ReplicaDown(faults.FailoverCase):
    def test_db_answers_from_primary_with_replica_stopped_then_back(self):
        be.wait_replica_caught_up()
        self.stop("replica")
        m0 = metrics.values()
        res = be.fetch_all(["/db"] * 1000, concurrency=8)
        m1 = metrics.values()
        lat = latencies(res)
        print("\n      replica stopped: 1000 x /db: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (pct(lat, .5) * 1e3, pct(lat, .99) * 1e3, lat[-1] * 1e3))
        self.assert_good(res)
        # At most each worker's pooled connection is tried once, and fails (or is found dead
        # before anything is sent into it): no read is answered by the stopped replica, all
        # by the primary.
        sent = m1[metrics.REPLICA_Q] - m0[metrics.REPLICA_Q]
        self.assertLessEqual(sent, m1[REPLICA_ERR] - m0[REPLICA_ERR])
        self.assertLessEqual(sent, len(self.workers_before))
        self.assertGreaterEqual(m1[metrics.PRIMARY_Q] - m0[metrics.PRIMARY_Q], 1000)
        seen = world.rows_of(res)
        primary = be.worlds(seen)
        self.assertEqual({i: sorted(v) for i, v in seen.items() if v != {primary[i]}}, {})
        be.wait_backend("replica1", "down", 5)

        self.start("replica")
        t0 = time.monotonic()
        faults.wait_reads_on_replica(self, "reads to go to the replica again")
        print("      reads back on the replica %.2f s after it started"
              % (time.monotonic() - t0))
        be.wait_all_up(10)
        self.assert_state_changes_logged_once("replica1")


class PrimaryDown(faults.FailoverCase):
    def test_reads_answer_and_updates_503_fast_with_primary_stopped(self):
        be.wait_replica_caught_up()
        self.stop("pg")
        # At once, before the prober notices, and after.
        for phase in ("at once", "after the prober"):
            if phase != "at once":
                be.wait_backend("primary", "down", 5)
            paths = (["/db"] * 40 + ["/queries?queries=20"] * 20 + ["/fortunes"] * 10
                     + ["/cached-queries?count=20"] * 20)
            res = be.fetch_all(paths, concurrency=4)
            bad = [(p, r.status if r else e) for p, r, _, e in res if e or r.status != 200]
            self.assertEqual(bad, [], "reads failing with the primary down (%s)" % phase)
            self.assert_good([x for x in res if x[0] != "/fortunes"])
            worst = 0.0
            for _ in range(20):
                r, secs = be.timed_get("/updates?queries=5")
                self.assert_json_error(r, 503, "/updates with the primary down (%s)" % phase)
                worst = max(worst, secs)
            print("\n      primary stopped (%s): slowest /updates 503 in %.1f ms"
                  % (phase, worst * 1e3))
            self.assertLess(worst, 1.0, "/updates took %.2f s to answer 503" % worst)
        st, body = be.readyz()
        self.assertEqual(st, 200, body)
        self.assertEqual(body["backends"].get("primary"), "down", body)
        self.assertEqual(body["backends"].get("replica1"), "up", body)

        self.start("pg")
        t0 = time.monotonic()

        def updates_work():
            return http.get("/updates?queries=5", timeout=5).status == 200
        procs.wait_for(updates_work, 8, interval=0.2, what="/updates to work after the primary "
                       "came back")
        print("      /updates works again %.2f s after the primary started"
              % (time.monotonic() - t0))
        be.wait_all_up(10)
        self.assert_state_changes_logged_once("primary")
        r = http.get("/updates?queries=5", timeout=5)
        rows = json.loads(r.body)
        got = {row["id"]: row["randomNumber"] for row in rows}
        self.assertEqual(be.worlds(got), got)


class BothDatabasesDown(faults.FailoverCase):
    def test_db_503_quickly_and_not_ready_with_both_databases_stopped(self):
        self.stop("replica")
        self.stop("pg")
        lat = []
        for i in range(30):
            r, secs = be.timed_get("/db")
            lat.append(secs)
            self.assert_json_error(r, 503, "/db #%d with both databases down" % i)
        lat.sort()
        print("\n      both databases stopped: /db 503 p50 %.1f ms, max %.1f ms"
              % (pct(lat, .5) * 1e3, lat[-1] * 1e3))
        self.assertLess(lat[-1], 2.0, "a /db 503 took %.2f s" % lat[-1])
        procs.wait_for(lambda: be.readyz()[0] == 503, 5, interval=0.1,
                       what="/readyz 503 with both databases down")
        st, body = be.readyz()
        self.assertEqual(body.get("ready"), False, body)
        self.assertEqual(body["backends"].get("primary"), "down", body)
        self.assertEqual(body["backends"].get("replica1"), "down", body)
        r = http.get("/readyz", timeout=5)
        self.assertEqual(r.header("Content-Type"), "application/json")

        self.start("pg")
        self.start("replica")
        be.wait_all_up(20)
        procs.wait_for(lambda: http.get("/db", timeout=5).status == 200, 10, interval=0.1,
                       what="/db 200 after both databases came back")


class RecoveryAfterRestart(faults.FailoverCase):
    """Once /readyz shows a restarted backend up, it serves. Each worker keeps a pooled
    connection to every backend; a restart leaves them all dead, and the first call on each
    fails (57P01), puts that worker's connection into reconnect backoff and feeds the shared
    breaker (breaker_failures = 5 = the pool here)."""

    def test_reads_answer_when_the_primary_stops_after_a_replica_restart(self):
        self.stop("replica")
        be.wait_backend("replica1", "down", 5)
        self.start("replica")
        be.wait_all_up(20)
        time.sleep(1.0)  # two probe intervals more: the replica is up, caught up, routable
        self.stop("pg")
        res = be.fetch_all(["/db"] * 100, concurrency=4)
        self.assert_good(res, what="reads failing with the replica up and the primary down")

    def test_updates_answer_once_readyz_shows_the_restarted_primary_up(self):
        self.stop("pg")
        be.wait_backend("primary", "down", 5)
        self.start("pg")
        be.wait_all_up(20)
        time.sleep(1.0)
        res = be.fetch_all(["/updates?queries=2"] * 40, concurrency=4)
        self.assert_good(res, 2, what="/updates failing with the primary up")

    def test_reads_answer_once_readyz_shows_both_databases_back(self):
        self.stop("replica")
        self.stop("pg")
        be.wait_backend("primary", "down", 5)
        res = be.fetch_all(["/db"] * 20, concurrency=4)
        self.assertEqual({r.status for _, r, _, _ in res}, {503})
        self.start("pg")
        self.start("replica")
        be.wait_all_up(20)
        time.sleep(1.0)
        res = be.fetch_all(["/db"] * 200, concurrency=8)
        self.assert_good(res, what="reads failing with both databases up")


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
                doc = json.loads(r.body)
                rid = doc.pop("request_id", None)  # nginx's $request_id: 32 hex digits
                ok = (r.status == 503 and r.header("Content-Type") == "application/json"
                      and doc == {"error": fixed[path], "status": 503}
                      and isinstance(rid, str) and re.fullmatch(r"[0-9a-f]{32}", rid))
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
