"""The Redis cache behind /cached-queries, with every backend up and Redis read directly: a
read fills it with the cache's value envelope and a jittered TTL near 300 s, a second read of
a cached id is a hit, the steady-state hit ratio matches what is in Redis, and /updates leaves
no stale value behind."""
import time

from lib import backends as be
from lib import http, metrics
from lib.base import StackTestCase
from lib.world import worlds_of


class Cache(StackTestCase):
    def setUp(self):
        super().setUp()
        self.redis = be.Redis()

    def tearDown(self):
        self.redis.close()
        super().tearDown()

    def test_cached_queries_fills_redis_with_jittered_ttl_near_300s(self):
        self.redis.delete_pattern(be.KEY_PREFIX + "w:*")
        r = http.get("/cached-queries?count=200", timeout=10)
        t_fill = time.time()
        rows = worlds_of(self, r, 200)
        served = {row["id"]: row["randomNumber"] for row in rows}
        ids = sorted(served)
        raws = self.redis.cmd("MGET", *[be.world_key(i) for i in ids])
        ttls = self.redis.pipeline([("PTTL", be.world_key(i)) for i in ids])
        missing = [i for i, v in zip(ids, raws) if v is None]
        self.assertEqual(missing, [], "keys not filled after /cached-queries")
        for i, raw, ttl in zip(ids, raws, ttls):
            delta_us, expiry_ms, payload = be.decode_envelope(raw)
            self.assertEqual(payload, str(served[i]).encode(), "mr:w:%d" % i)
            # 300 s +- 10 %, minus the second or two since the fill.
            self.assertTrue(268000 <= ttl <= 330000, "PTTL of mr:w:%d is %d ms" % (i, ttl))
            # The envelope's own expiry agrees with Redis's (XFetch reads it).
            self.assertLess(abs(expiry_ms - (t_fill * 1000 + ttl)), 5000, "mr:w:%d" % i)
        # Jitter: 200 keys filled together must not all expire together.
        spread = max(ttls) - min(ttls)
        self.assertGreater(spread, 10000, "PTTLs span only %d ms: no jitter?" % spread)
        self.assertEqual(be.cached_worlds(self.redis, ids), served)
        print("\n      TTL of fresh keys: %.1f .. %.1f s" % (min(ttls) / 1e3, max(ttls) / 1e3))

    def test_a_second_read_of_a_cached_id_is_a_hit(self):
        # Fill about a fifth of the rows, then count what the next answers should hit.
        for _, r, _, err in be.fetch_all(["/cached-queries?count=500"] * 4, concurrency=2):
            self.assertIsNone(err)
            worlds_of(self, r, 500)
        for _ in range(3):
            present = {be.world_key(i) for i in range(1, 10001)}
            raws = self.redis.cmd("MGET", *sorted(present))
            present = {k for k, v in zip(sorted(present), raws) if v is not None}
            m0 = metrics.values()
            r = http.get("/cached-queries?count=500", timeout=10)
            m1 = metrics.values()
            rows = worlds_of(self, r, 500)
            want = sum(1 for row in rows if be.world_key(row["id"]) in present)
            hits = metrics.cache_hits(m0, m1)  # Redis's and L1's: L1 holds only what Redis does
            misses = m1[metrics.CACHE_MISSES] - m0[metrics.CACHE_MISSES]
            self.assertGreater(want, 0)
            self.assertEqual(hits, want, "hits counted vs ids of the answer already in Redis")
            self.assertEqual(hits + misses, 500)

    def test_steady_state_hit_ratio(self):
        """Reports the hit ratio of /cached-queries?count=20 under load and checks it against
        the share of rows Redis holds (what a random id can hit)."""
        with be.Redis() as r:
            occ0 = len(r.keys(be.KEY_PREFIX + "w:*")) / 10000.0
        m0 = metrics.values()
        res = be.fetch_all(["/cached-queries?count=20"] * 1500, concurrency=8)
        m1 = metrics.values()
        with be.Redis() as r:
            occ1 = len(r.keys(be.KEY_PREFIX + "w:*")) / 10000.0
        bad = [(p, x.status if x else None, e) for p, x, _, e in res if e or x.status != 200]
        self.assertEqual(bad, [])
        hits = metrics.cache_hits(m0, m1)
        misses = m1[metrics.CACHE_MISSES] - m0[metrics.CACHE_MISSES]
        ratio = hits / (hits + misses)
        self.assertEqual(hits + misses, 1500 * 20)
        print("\n      cache hit ratio %.3f over %d keys (Redis held %.1f%% -> %.1f%% of rows)"
              % (ratio, hits + misses, occ0 * 100, occ1 * 100))
        self.assertGreaterEqual(ratio, occ0 - 0.03)
        self.assertLessEqual(ratio, occ1 + 0.03)

    def test_no_stale_value_after_updates(self):
        # Warm most of the cache, so the rows /updates picks were (mostly) cached before.
        warm = be.fetch_all(["/cached-queries?count=500"] * 30, concurrency=4)
        self.assertEqual([e for *_, e in warm if e], [])
        before = be.cached_worlds(self.redis, range(1, 10001))
        self.assertGreater(len(before), 6000)
        new = {}
        for _ in range(10):
            r = http.get("/updates?queries=50", timeout=10)
            for row in worlds_of(self, r, 50):
                new[row["id"]] = row["randomNumber"]
        was_cached = [i for i in new if i in before]
        changed = [i for i in was_cached if before[i] != new[i]]
        self.assertGreater(len(changed), 100, "too few updated rows were cached before")
        # Redis holds the new value (or nothing) for every updated row, at once.
        after = be.cached_worlds(self.redis, new)
        stale = {i: (after[i], new[i]) for i in after if after[i] != new[i]}
        self.assertEqual(stale, {}, "Redis keeps old values after /updates (id: (cached, new))")
        # And /cached-queries never serves an old value for them.
        served_stale, hits = {}, 0
        for _, r, _, err in be.fetch_all(["/cached-queries?count=500"] * 30, concurrency=4):
            self.assertIsNone(err)
            for row in worlds_of(self, r, 500):
                i = row["id"]
                if i in new:
                    hits += 1
                    if row["randomNumber"] != new[i]:
                        served_stale[i] = (row["randomNumber"], new[i])
        self.assertEqual(served_stale, {}, "old values served (id: (served, new))")
        self.assertGreater(hits, 100)
