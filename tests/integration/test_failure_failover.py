"""Failure is normal (issue 3, items 6 and 7, "Done when"): stop Redis, stop the replica, make
the replica lag with pg_wal_replay_pause(), stop the primary, stop both databases; check the
answers, their status codes and times, the data, where the reads went, and that each service
brought back is used again. Every test heals what it broke in a finally and waits until
/readyz shows every backend up."""
import collections
import json
import re
import time

from lib import backends as be
from lib import http, procs, stack
from lib.base import StackTestCase
from test_data_path import world_problems


def bad_answers(results, n_rows=None):
    """The results of be.fetch_all that are not a 200 with valid World rows."""
    bad = []
    for path, r, secs, err in results:
        if err is not None:
            bad.append((path, err))
            continue
        if r.status != 200:
            bad.append((path, r.status, r.body[:200]))
            continue
        try:
            body = json.loads(r.body)
        except ValueError:
            bad.append((path, "not JSON", r.body[:200]))
            continue
        rows = body if isinstance(body, list) else [body]
        problems = [p for row in rows for p in world_problems(row)]
        if problems or (n_rows is not None and len(rows) != n_rows):
            bad.append((path, len(rows), problems[:3]))
    return bad


def summary(bad):
    """A short account of bad_answers(): how many of each, and the first few."""
    if not bad:
        return "none"
    kinds = collections.Counter(repr(b[1:2]) for b in bad)
    return "%d bad answers %s; first: %r" % (len(bad), dict(kinds), bad[:3])


def log_digest(text):
    """The log lines other than answered requests, each with a count, ids and pids removed:
    what to read when a failover test fails."""
    c = collections.Counter()
    for line in text.splitlines():
        if "status=200" in line:
            continue
        c[re.sub(r"req=\S+ |worker=\d+ |pid=\d+ |ms=\d+ |backend_ms=\d+", "", line)] += 1
    return "\n".join("%5d x %s" % (n, line[:240]) for line, n in c.items())


def latencies(results):
    return sorted(secs for _, _, secs, _ in results)


def pct(sorted_vals, p):
    return sorted_vals[min(len(sorted_vals) - 1, int(p * len(sorted_vals)))]


def rows_of(results):
    """{id: {randomNumber, ...}} over every 200 answer."""
    seen = {}
    for _, r, _, err in results:
        if err is None and r.status == 200:
            body = json.loads(r.body)
            for row in body if isinstance(body, list) else [body]:
                seen.setdefault(row["id"], set()).add(row["randomNumber"])
    return seen


REPLICA_ERR = 'millrace_db_errors_total{backend="replica1",role="replica"}'
REDIS_FAILURES = 'millrace_backend_failures_total{backend="redis",role="cache"}'


def serves_normally():
    """True when a burst of reads and writes over every worker all answer 200 and the reads
    went to the replica: no worker holds a stale connection or an open breaker."""
    q0 = be.metrics()[be.REPLICA_Q]
    res = be.fetch_all(["/db", "/updates?queries=1"] * 25, concurrency=5, timeout=5)
    ok = all(e is None and r.status == 200 for _, r, _, e in res)
    return ok and be.metrics()[be.REPLICA_Q] - q0 >= 25


def settle(timeout=20):
    """Waits until the stack serves normally (see serves_normally); returns the seconds it
    took. After a backend restart this takes up to a few breaker cooldowns: each worker's
    pooled connection fails once (see test_*_after_a_*_restart below)."""
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
        self.assertEqual(r.status, status, "%s: %r" % (what, r))
        self.assertEqual(r.header("Content-Type"), "application/json", what)
        body = json.loads(r.body)
        self.assertIsInstance(body.get("error"), str, "%s: %r" % (what, r.body))
        self.assertTrue(body["error"], what)
        self.assertEqual(body.get("status"), status, "%s: %r" % (what, r.body))


class RedisDown(FailoverCase):
    def test_cached_queries_answer_from_postgres_with_redis_stopped(self):
        be.wait_replica_caught_up()
        self.stop("redis")
        f0 = be.metrics()[REDIS_FAILURES]
        paths = ["/cached-queries?count=20"] * 1000
        res = be.fetch_all(paths, concurrency=8)
        tried = be.metrics()[REDIS_FAILURES] - f0
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
        seen = rows_of(res)
        primary = be.worlds(seen)
        wrong = {i: (sorted(v), primary[i]) for i, v in seen.items() if v != {primary[i]}}
        self.assertEqual(wrong, {})
        be.wait_backend("redis", "down", 5)

        self.start("redis")
        t0 = time.monotonic()
        h0 = be.metrics()[be.CACHE_HITS]

        def hits_grow():
            for _ in range(4):
                r = http.get("/cached-queries?count=100", timeout=5)
                self.assertEqual(r.status, 200, r)
            return be.metrics()[be.CACHE_HITS] > h0
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


class ReplicaDown(FailoverCase):
    def test_db_answers_from_primary_with_replica_stopped_then_back(self):
        be.wait_replica_caught_up()
        self.stop("replica")
        m0 = be.metrics()
        res = be.fetch_all(["/db"] * 1000, concurrency=8)
        m1 = be.metrics()
        lat = latencies(res)
        print("\n      replica stopped: 1000 x /db: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (pct(lat, .5) * 1e3, pct(lat, .99) * 1e3, lat[-1] * 1e3))
        self.assert_good(res)
        # At most each worker's pooled connection is tried once, and fails (or is found dead
        # before anything is sent into it): no read is answered by the stopped replica, all
        # by the primary.
        sent = m1[be.REPLICA_Q] - m0[be.REPLICA_Q]
        self.assertLessEqual(sent, m1[REPLICA_ERR] - m0[REPLICA_ERR])
        self.assertLessEqual(sent, len(self.workers_before))
        self.assertGreaterEqual(m1[be.PRIMARY_Q] - m0[be.PRIMARY_Q], 1000)
        seen = rows_of(res)
        primary = be.worlds(seen)
        self.assertEqual({i: sorted(v) for i, v in seen.items() if v != {primary[i]}}, {})
        be.wait_backend("replica1", "down", 5)

        self.start("replica")
        t0 = time.monotonic()
        q0 = be.metrics()[be.REPLICA_Q]

        def replica_used():
            for _ in range(10):
                self.assertEqual(http.get("/db", timeout=5).status, 200)
            return be.metrics()[be.REPLICA_Q] > q0
        procs.wait_for(replica_used, 10, interval=0.1, what="reads to go to the replica again")
        print("      reads back on the replica %.2f s after it started"
              % (time.monotonic() - t0))
        be.wait_all_up(10)
        self.assert_state_changes_logged_once("replica1")


class ReplicaLag(FailoverCase):
    def test_lagging_replica_gets_no_reads_and_answers_are_fresh(self):
        be.wait_replica_caught_up()
        be.psql("SELECT pg_wal_replay_pause()", replica=True, superuser=True)
        try:
            # Every row changes on the primary (v -> 10001 - v has no fixed point), behind
            # the cache's back; the replica does not replay it.
            be.psql("UPDATE world SET randomnumber = 10001 - randomnumber")
            primary = be.worlds()
            t0 = time.monotonic()
            procs.wait_for(lambda: be.metrics()[be.REPLICA_LAG] > 1.0, 10, interval=0.1,
                           what="millrace_replica_lag_seconds > 1")
            print("\n      lag over 1 s seen %.2f s after the write" % (time.monotonic() - t0))
            self.assertEqual(be.backend_state("replica1"), "up")
            m0 = be.metrics()
            res = be.fetch_all(["/db"] * 200 + ["/queries?queries=20"] * 20, concurrency=4)
            m1 = be.metrics()
            self.assert_good(res)
            self.assertEqual(m1[be.REPLICA_Q] - m0[be.REPLICA_Q], 0,
                             "reads went to a replica lagging %.1f s" % m1[be.REPLICA_LAG])
            self.assertGreaterEqual(m1[be.PRIMARY_Q] - m0[be.PRIMARY_Q], 200 + 20 * 20)
            seen = rows_of(res)
            stale = {i: sorted(v) for i, v in seen.items() if v != {primary[i]}}
            self.assertEqual(stale, {}, "stale rows (id: served) while the replica lags")
            self.assertGreater(m1[be.REPLICA_LAG], 1.0)
        finally:
            be.psql("SELECT pg_wal_replay_resume()", replica=True, superuser=True)
            # The direct UPDATE bypassed the cache: drop what it may hold.
            with be.Redis() as r:
                r.delete_pattern(be.KEY_PREFIX + "w:*")
        be.wait_replica_caught_up()
        procs.wait_for(lambda: be.metrics()[be.REPLICA_LAG] < 1.0, 10, interval=0.1,
                       what="the lag gauge to fall after replay resumed")
        q0 = be.metrics()[be.REPLICA_Q]

        def replica_used():
            for _ in range(10):
                self.assertEqual(http.get("/db", timeout=5).status, 200)
            return be.metrics()[be.REPLICA_Q] > q0
        procs.wait_for(replica_used, 10, interval=0.1, what="reads back on the caught-up replica")


class PrimaryDown(FailoverCase):
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


class BothDatabasesDown(FailoverCase):
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


class RecoveryAfterRestart(FailoverCase):
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
