"""Cache-aside in one call (mr_cache_fetch) and invalidation after a write (mr_cache_stale,
mr_cache_replace), through nginx, with Redis and PostgreSQL read directly. The test build's
/test/cache/fetch drives mr_cache_fetch with keys the test picks and a loader that answers
"loaded:<key>", leaves a key absent or fails; /test/cache/write commits one World row and then
queues its key stale or replaced, as /updates does (handlers/testcache.c). Checked: misses are
loaded by one loader call and then hit (the hit counters of /metrics, the envelope in Redis
and its TTL); the loader's failure is the answer's status and nothing is stored; a committed
write replaces or deletes the cached copy, a failed one leaves it; Redis down during the flush
is a log line, not an error; /cached-queries stays correct while Redis is stopped and
restarted under a bounded load; a hung Redis costs a request one timeout, not two."""
import json
import os
import struct
import threading
import time

from lib import backends as be
from lib import faults, http, metrics, procs
from lib.faults import FailoverCase
from lib.world import worlds_of

MASK = be.MASK  # what mr_cache_stale leaves (cache/internal.h): a miss no fill replaces
MASK_MS = 1000 + 5000  # db.max_replica_lag_ms + request_timeout_ms, the defaults
COMMAND_TIMEOUT_S = 0.2  # cache.command_timeout_ms's default, which the stack keeps
DEFAULT_TTL_MS = 300000  # cache.ttl_ms's default
JITTER = 0.10            # cache.ttl_jitter_pct's default
CACHE_ERRORS = "millrace_cache_errors_total"


def tag():
    """A key prefix of this test's own, so that tests never share keys."""
    return "ca%s:" % os.urandom(4).hex()


def fetch(testcase, keys, status=200, **params):
    q = "&".join(["key=%s" % k for k in keys] + ["%s=%s" % kv for kv in params.items()])
    r = http.get("/test/cache/fetch?" + q, timeout=10)
    testcase.assertEqual(r.status, status, r)
    return json.loads(r.body)


def write(testcase, world_id, value, mode, status=200, **params):
    q = "id=%d&value=%d&mode=%s" % (world_id, value, mode)
    q += "".join("&%s=%s" % kv for kv in params.items())
    r = http.request("POST", "/test/cache/write?" + q, timeout=10)
    testcase.assertEqual(r.status, status, r)
    return r


def cached(redis, key):
    """The payload millrace stored under key (without the prefix), or None."""
    raw = redis.cmd("GET", be.KEY_PREFIX + key)
    return None if raw is None else be.decode_envelope(raw)[2]


def envelope(payload, ttl_ms=60000):
    """A value as millrace stores it (cache/internal.h): what another version of the app
    could have left under a key."""
    expiry_ms = int(time.time() * 1000) + ttl_ms
    return struct.pack("<BBIqI", be.ENV_MAGIC, 1, 0, expiry_ms, len(payload)) + payload


def due_envelope(payload):
    """A value whose envelope says it expired a second ago while its key lives on: XFetch
    refreshes it early on every read (now is past the envelope's expiry)."""
    expiry_ms = int(time.time() * 1000) - 1000
    return struct.pack("<BBIqI", be.ENV_MAGIC, 1, 1000, expiry_ms, len(payload)) + payload


def a_world_id():
    return int.from_bytes(os.urandom(2), "big") % 10000 + 1


class CacheAside(FailoverCase):
    def setUp(self):
        super().setUp()
        self.redis = be.Redis()

    def tearDown(self):
        self.redis.close()
        super().tearDown()

    def test_misses_loaded_by_one_call_then_hits(self):
        t = tag()
        a, b, c = t + "a", t + "b", t + "c"
        got = fetch(self, [a, b], ttl_ms=60000)
        self.assertEqual(got["loader_calls"], 1)
        self.assertEqual(got["missed"], [a, b])
        self.assertEqual([(e["hit"], e["value"]) for e in got["entries"]],
                         [(False, "loaded:" + a), (False, "loaded:" + b)])
        # Filled in Redis, with the call's TTL and its jitter.
        for k in (a, b):
            self.assertEqual(cached(self.redis, k), ("loaded:" + k).encode())
            ttl = self.redis.cmd("PTTL", be.KEY_PREFIX + k)
            self.assertTrue(60000 * (1 - JITTER) - 2000 <= ttl <= 60000 * (1 + JITTER), ttl)
        # Two hits and one miss: the loader is called once, with the miss only.
        m0 = metrics.values()
        got = fetch(self, [a, b, c])
        m1 = metrics.values()
        self.assertEqual(got["loader_calls"], 1)
        self.assertEqual(got["missed"], [c])
        self.assertEqual([e["hit"] for e in got["entries"]], [True, True, False])
        self.assertEqual([e["value"] for e in got["entries"]], ["loaded:" + k for k in (a, b, c)])
        self.assertEqual(m1[metrics.CACHE_HITS] - m0[metrics.CACHE_HITS], 2)
        self.assertEqual(m1[metrics.CACHE_MISSES] - m0[metrics.CACHE_MISSES], 1)
        # TTL 0 is the configured default.
        ttl = self.redis.cmd("PTTL", be.KEY_PREFIX + c)
        self.assertTrue(DEFAULT_TTL_MS * (1 - JITTER) - 2000 <= ttl <= DEFAULT_TTL_MS * (1 + JITTER),
                        ttl)
        # All hits: the loader is not called at all.
        got = fetch(self, [a, b, c])
        self.assertEqual((got["loader_calls"], got["missed"]), (0, []))

    def test_absent_value_is_not_stored(self):
        t = tag()
        got = fetch(self, [t + "here", t + "gone"], absent=t + "gone")
        self.assertEqual([e["value"] for e in got["entries"]], ["loaded:%shere" % t, None])
        self.assertEqual(self.redis.cmd("EXISTS", be.KEY_PREFIX + t + "gone"), 0)
        got = fetch(self, [t + "here", t + "gone"], absent=t + "gone")
        self.assertEqual((got["loader_calls"], got["missed"]), (1, [t + "gone"]))

    def test_loader_failure_is_the_status_and_nothing_is_stored(self):
        t = tag()
        for status in (503, 409, 504):
            r = http.get("/test/cache/fetch?key=%sx&key=%sy&fail=%d" % (t, t, status), timeout=10)
            self.assert_json_error(r, status, "loader failing with %d" % status)
        self.assertEqual(self.redis.cmd("EXISTS", be.KEY_PREFIX + t + "x",
                                        be.KEY_PREFIX + t + "y"), 0)

    def test_cached_queries_with_every_database_down_answers_503(self):
        self.redis.delete_pattern(be.KEY_PREFIX + "w:*")  # every id a miss: the loader runs
        self.stop("replica")
        self.stop("pg")
        r = http.get("/cached-queries?count=5", timeout=10)
        self.assert_json_error(r, 503, "/cached-queries, cold cache, no database")
        self.assertIn(b"database unavailable", r.body)
        self.assertEqual(self.redis.keys(be.KEY_PREFIX + "w:*"), [])

    def test_committed_write_replaces_then_stale_masks(self):
        wid = a_world_id()
        key = "w:%d" % wid
        write(self, wid, 1234, "replace")
        self.assertEqual(cached(self.redis, key), b"1234")
        self.assertEqual(be.worlds([wid]), {wid: 1234})
        ttl = self.redis.cmd("PTTL", be.KEY_PREFIX + key)
        self.assertTrue(DEFAULT_TTL_MS * (1 - JITTER) - 2000 <= ttl, ttl)
        write(self, wid, 4321, "stale")
        self.assertEqual(self.redis.cmd("GET", be.KEY_PREFIX + key), MASK)
        ttl = self.redis.cmd("PTTL", be.KEY_PREFIX + key)
        self.assertTrue(MASK_MS - 2000 <= ttl <= MASK_MS, ttl)
        self.assertEqual(be.worlds([wid]), {wid: 4321})
        # A reader now misses and loads, but its fill (SET NX) cannot replace the mask: a
        # replica that has not replayed the write could not plant the old value for a TTL.
        for _ in range(2):
            got = fetch(self, [key])
            self.assertEqual((got["loader_calls"], got["entries"][0]["hit"]), (1, False))
        self.assertEqual(self.redis.cmd("GET", be.KEY_PREFIX + key), MASK)

    def test_early_refresh_replaces_the_value_it_read(self):
        key = tag() + "due"
        self.redis.cmd("SET", be.KEY_PREFIX + key, due_envelope(b"old"), "PX", "60000")
        got = fetch(self, [key])
        self.assertEqual(got["loader_calls"], 1)
        self.assertEqual(got["entries"][0]["value"], "loaded:" + key)
        self.assertEqual(cached(self.redis, key), ("loaded:" + key).encode())

    def refresh_during(self, change):
        """An early refresh whose loader runs 600 ms, and change() applied to the key by an
        update while it runs. Returns the key."""
        key = tag() + "due"
        self.redis.cmd("SET", be.KEY_PREFIX + key, due_envelope(b"old"), "PX", "60000")
        done = {}
        reader = threading.Thread(target=lambda: done.update(got=fetch(self, [key],
                                                                        sleep_ms=600)))
        reader.start()
        time.sleep(0.2)
        change(be.KEY_PREFIX + key)
        reader.join(10)
        self.assertFalse(reader.is_alive())
        self.assertEqual(done["got"]["loader_calls"], 1)
        return key

    def test_early_refresh_leaves_a_mask_set_while_it_loaded(self):
        # The update's mask must outlive the refresh: the refresher may have read a replica
        # that had not replayed the update, and its value would be the old one for a TTL.
        key = self.refresh_during(lambda k: self.redis.cmd("SET", k, MASK, "PX", "6000"))
        self.assertEqual(self.redis.cmd("GET", be.KEY_PREFIX + key), MASK)

    def test_early_refresh_leaves_a_value_replaced_while_it_loaded(self):
        key = self.refresh_during(
            lambda k: self.redis.cmd("SET", k, envelope(b"new"), "PX", "60000"))
        self.assertEqual(cached(self.redis, key), b"new")

    def test_failed_write_leaves_the_cached_copy(self):
        wid = a_world_id()
        key = "w:%d" % wid
        write(self, wid, 777, "replace")
        for mode in ("stale", "replace"):
            r = write(self, wid, 888, mode, status=500, bad=1)  # the server refuses the write
            self.assert_json_error(r, 500, "a refused write (%s)" % mode)
            self.assertEqual(cached(self.redis, key), b"777", "after a failed write (%s)" % mode)
        self.assertEqual(be.worlds([wid]), {wid: 777})

    def test_invalidation_applies_when_the_handler_fails_after_its_commit(self):
        wid = a_world_id()
        write(self, wid, 4242, "replace", status=500, fail_after=1)
        self.assertEqual(be.worlds([wid]), {wid: 4242})
        self.assertEqual(cached(self.redis, "w:%d" % wid), b"4242")

    def test_updates_replaces_the_cached_copies_with_the_committed_values(self):
        for _ in range(3):
            worlds_of(self, http.get("/cached-queries?count=500", timeout=10), 500)
        m0 = metrics.values()
        r = http.get("/updates?queries=20", timeout=10)
        rows = {row["id"]: row["randomNumber"] for row in worlds_of(self, r, 20)}
        m1 = metrics.values()
        self.assertEqual(m1[CACHE_ERRORS] - m0[CACHE_ERRORS], 0)
        self.assertEqual(be.cached_worlds(self.redis, rows), rows)
        self.assertEqual(be.worlds(rows), rows)

    def test_redis_down_during_the_flush_is_a_log_line_not_an_error(self):
        wid = a_world_id()
        self.stop("redis")
        mark = procs.log_mark()
        r = write(self, wid, 99, "replace")
        self.assertEqual(json.loads(r.body), {"id": wid, "randomNumber": 99})
        self.assertEqual(be.worlds([wid]), {wid: 99})
        line = procs.wait_log(mark, "event=cache_invalidation_failed")
        self.assertIn("ops=1", line)
        for _ in range(3):
            worlds_of(self, http.get("/updates?queries=5", timeout=10), 5)

    def test_hung_redis_costs_a_request_one_timeout_not_two(self):
        t = tag()
        with faults.Paused([faults.redis_pid()]):
            start = time.monotonic()
            got = fetch(self, [t + "a", t + "b"])
            took = time.monotonic() - start
        self.assertEqual([e["value"] for e in got["entries"]],
                         ["loaded:%sa" % t, "loaded:%sb" % t])
        self.assertEqual(got["loader_calls"], 1)
        # The MGET may wait out the timeout; the fill after it must not wait again.
        self.assertLess(took, 2 * COMMAND_TIMEOUT_S - 0.03, "took %.3f s" % took)

    def test_redis_stopped_and_restarted_under_load_every_answer_correct(self):
        # The rows as the read path sees them: setUp's writes replayed on the replica first
        # (a replica may lag up to max_replica_lag_ms, which is not what this test is about).
        be.wait_replica_caught_up()
        self.redis.delete_pattern(be.KEY_PREFIX + "w:*")
        truth = be.worlds()
        self.assertEqual(len(truth), 10000)
        results, lock, done = [], threading.Lock(), threading.Event()

        def client():
            conn = http.KeepAlive(timeout=10)
            try:
                for _ in range(400):  # bounded whatever happens
                    if done.is_set():
                        return
                    t0 = time.monotonic()
                    try:
                        r = conn.request("GET", "/cached-queries?count=20")
                        res = (r.status, r.body, time.monotonic() - t0, None)
                    except Exception as e:  # a socket error is a result
                        res = (None, b"", time.monotonic() - t0, repr(e))
                    with lock:
                        results.append(res)
                    time.sleep(0.01)
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(4)]
        for th in threads:
            th.start()
        try:
            time.sleep(0.5)
            self.stop("redis")
            at_stop = len(results)
            time.sleep(1.0)
            self.start("redis")
            be.wait_backend("redis", "up", timeout=10)
            at_start = len(results)
            time.sleep(0.8)
        finally:
            done.set()
            for th in threads:
                th.join(30)
        self.assertGreaterEqual(len(results), 200, "too few requests ran")
        phases = (at_stop, at_start - at_stop, len(results) - at_start)
        self.assertTrue(all(p >= 20 for p in phases),
                        "requests before, during and after the outage: %s" % (phases,))
        bad, wrong = [], {}
        for status, body, took, err in results:
            if err or status != 200:
                bad.append((status, err, body[:200]))
                continue
            for row in json.loads(body):
                if truth.get(row["id"]) != row["randomNumber"]:
                    wrong[row["id"]] = (row["randomNumber"], truth.get(row["id"]))
        self.assertEqual(bad, [], "failed answers while Redis was stopped and restarted")
        self.assertEqual(wrong, {}, "rows unlike the database (id: (served, database))")
        slowest = max(took for *_, took, _ in results)
        self.assertLess(slowest, 2.0, "slowest answer %.2f s" % slowest)
        # And the cache serves again: keys refilled since the restart, hits counted.
        m0 = metrics.values()
        procs.wait_for(lambda: (http.get("/cached-queries?count=20", timeout=5) and
                                metrics.values()[metrics.CACHE_HITS] > m0[metrics.CACHE_HITS]),
                       10, interval=0.05, what="cache hits after the Redis restart")
        print("\n      %d answers (%d before, %d during, %d after the outage), all rows equal to"
              " the database; slowest %.0f ms" % ((len(results),) + phases + (slowest * 1000,)))

    def test_first_invalidation_of_each_worker_after_a_redis_restart_is_applied(self):
        # Every worker's connection is left idle when Redis restarts; the next call on it
        # reads EOF. That call is sent again on a new connection, so no invalidation is lost.
        self.stop("redis")
        self.start("redis")
        be.wait_backend("redis", "up", timeout=10)
        self.redis.close()
        self.redis = be.Redis()
        n = 4 * len(procs.workers())
        ids = sorted({a_world_id() for _ in range(n)})
        for i, wid in enumerate(ids):
            write(self, wid, i % 10000 + 1, "replace")
        got = be.cached_worlds(self.redis, ids)
        self.assertEqual(got, {wid: i % 10000 + 1 for i, wid in enumerate(ids)})

    def test_cached_queries_reloads_and_replaces_a_value_it_cannot_read(self):
        # Every World key holds bytes that are not a randomNumber (another version's format).
        self.redis.pipeline([("SET", be.world_key(i), envelope(b"v2:%d" % i), "PX", 60000)
                             for i in range(1, 10001)])
        be.wait_replica_caught_up()
        rows = worlds_of(self, http.get("/cached-queries?count=20", timeout=10), 20)
        served = {row["id"]: row["randomNumber"] for row in rows}
        self.assertEqual(served, be.worlds(served))
        # Their copies now hold the row's value, written after the handler.
        self.assertEqual(be.cached_worlds(self.redis, served), served)
