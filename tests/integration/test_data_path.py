"""The data path (issue 3, item 7) with every backend up: TechEmpower conformance of the seven
endpoints through nginx, rows that match the database, the Redis cache (fill, TTL, hits, no
stale value after /updates) and the statement count of a pipelined /queries. The failure
cases are in test_failover.py."""
import html
import json
import os
import re
import subprocess
import sys
import time

from lib import backends as be
from lib import env, http
from lib.base import StackTestCase

JSON = "application/json"
HTML = "text/html; charset=utf-8"
# (value of the parameter or None when missing, expected row count)
CLAMP_CASES = [(None, 1), ("", 1), ("foo", 1), ("0", 1), ("-1", 1), ("1", 1), ("7", 7),
               ("500", 500), ("501", 500), ("99999999999999999999", 500)]
ADDED = "Additional fortune added at request time."
# The yardstick's own checker, from the shared/ folder beside the repo (CI lays it there too).
PEER_CHECK = next((p for p in (os.path.join(env.ROOT, "..", "shared", "peers", "check.py"),
                               "/work/shared/peers/check.py") if os.path.exists(p)),
                  "../shared/peers/check.py")


def world_problems(obj):
    """What is wrong with one World object ([] when nothing)."""
    if not isinstance(obj, dict) or set(obj) != {"id", "randomNumber"}:
        return ["not exactly {id, randomNumber}: %r" % (obj,)]
    bad = []
    for k in ("id", "randomNumber"):
        v = obj[k]
        if type(v) is not int or not 1 <= v <= 10000:
            bad.append("%s=%r outside 1..10000" % (k, v))
    return bad


def worlds_of(testcase, r, n=None):
    """The parsed array of World objects of a 200 answer, each checked; n rows when given."""
    testcase.assertEqual(r.status, 200, r)
    rows = json.loads(r.body)
    testcase.assertIsInstance(rows, list, r.body[:200])
    if n is not None:
        testcase.assertEqual(len(rows), n, "rows in %r" % r.body[:120])
    for row in rows:
        testcase.assertEqual(world_problems(row), [], r.body[:200])
    return rows


def assert_headers(testcase, r, ctype, what):
    testcase.assertEqual(r.header("Content-Type"), ctype, "%s Content-Type" % what)
    testcase.assertEqual(r.header("Content-Length"), str(len(r.body)),
                         "%s Content-Length vs the body's %d bytes" % (what, len(r.body)))
    testcase.assertIsNone(r.header("Transfer-Encoding"), what)
    testcase.assertTrue(r.header("Server"), "%s has no Server header" % what)
    testcase.assertRegex(r.header("Date") or "",
                         r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$",
                         "%s Date" % what)


class Conformance(StackTestCase):
    """TechEmpower's rules (REFERENCE.md section 7), through nginx."""

    def test_peer_check_script_passes(self):
        if not os.path.exists(PEER_CHECK):
            self.skipTest("%s is not on this machine" % PEER_CHECK)
        p = subprocess.run([sys.executable, PEER_CHECK, "http://%s:%d" % (env.HTTP_HOST,
                                                                         env.HTTP_PORT)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_content_type_and_length_exact_per_endpoint(self):
        cases = [("/plaintext", "text/plain"), ("/json", JSON), ("/db", JSON),
                 ("/queries?queries=3", JSON), ("/cached-queries?count=3", JSON),
                 ("/updates?queries=3", JSON), ("/fortunes", HTML)]
        for path, ctype in cases:
            with self.subTest(path=path):
                r = http.get(path, timeout=10)
                self.assertEqual(r.status, 200, r)
                assert_headers(self, r, ctype, path)
        # A 500-row answer too: the length nginx passes on is the body's.
        for path in ("/queries?queries=500", "/cached-queries?count=500", "/updates?queries=500"):
            r = http.get(path, timeout=20)
            assert_headers(self, r, JSON, path)
            worlds_of(self, r, 500)

    def test_db_is_one_world_object_in_range(self):
        ids = set()
        for _, r, _, err in be.fetch_all(["/db"] * 200, concurrency=4):
            self.assertIsNone(err)
            self.assertEqual(r.status, 200, r)
            obj = json.loads(r.body)
            self.assertEqual(world_problems(obj), [], r.body)
            ids.add(obj["id"])
        # 200 draws from 10,000 ids: a fixed or narrow id means the randomness is broken.
        self.assertGreater(len(ids), 150, "only %d distinct ids in 200 /db answers" % len(ids))

    def _clamps(self, path, param):
        for value, want in CLAMP_CASES:
            url = path if value is None else "%s?%s=%s" % (path, param, value)
            with self.subTest(url=url):
                r = http.get(url, timeout=20)
                self.assertEqual(r.header("Content-Type"), JSON, url)
                worlds_of(self, r, want)

    def test_queries_clamps_count_to_1_500(self):
        self._clamps("/queries", "queries")

    def test_cached_queries_clamps_count_to_1_500(self):
        self._clamps("/cached-queries", "count")

    def test_updates_clamps_count_to_1_500(self):
        self._clamps("/updates", "queries")

    def test_fortunes_are_the_db_rows_plus_one_sorted_and_escaped(self):
        db = {int(i): m for i, m in be.psql("SELECT id, message FROM fortune")}
        self.assertEqual(len(db), 12, "the seed has TechEmpower's 12 fortunes")
        want = sorted(list(db.items()) + [(0, ADDED)], key=lambda kv: kv[1])
        r = http.get("/fortunes", timeout=10)
        self.assertEqual(r.status, 200, r)
        assert_headers(self, r, HTML, "/fortunes")
        text = r.body.decode("utf-8")  # raises if the UTF-8 row was mangled
        head = ("<!doctype html><html><head><title>Fortunes</title></head><body><table>"
                "<tr><th>id</th><th>message</th></tr>")
        self.assertTrue(text.lower().startswith(head.lower()), text[:200])
        self.assertTrue(text.endswith("</table></body></html>"), text[-100:])
        cells = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", text)
        got = []
        for i, raw in cells:
            # Escaped: no markup or quote in a cell, and each & starts an entity.
            self.assertNotRegex(raw, r"[<>\"]", "unescaped character in %r" % raw)
            self.assertNotRegex(raw, r"&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)",
                                "bare & in %r" % raw)
            got.append((int(i), html.unescape(raw)))
        self.assertEqual(got, want)
        self.assertIn("&lt;script&gt;", text)
        self.assertIn("フレームワークのベンチマーク".encode(), r.body)
        # Nothing but the rows between the header row and the end of the table.
        self.assertEqual(len(text), len(head) + sum(len("<tr><td>%s</td><td>%s</td></tr>" % c)
                                                    for c in cells)
                         + len("</table></body></html>"))


class DataCorrectness(StackTestCase):
    def test_db_and_queries_rows_match_the_primary(self):
        be.wait_replica_caught_up()  # nothing writes during the test, so the replica is exact
        seen = {}
        for path, r, _, err in be.fetch_all(["/queries?queries=20"] * 50, concurrency=4):
            self.assertIsNone(err, path)
            for row in worlds_of(self, r, 20):
                seen.setdefault(row["id"], set()).add(row["randomNumber"])
        for path, r, _, err in be.fetch_all(["/db"] * 150, concurrency=4):
            self.assertIsNone(err, path)
            self.assertEqual(r.status, 200, r)
            row = json.loads(r.body)
            self.assertEqual(world_problems(row), [])
            seen.setdefault(row["id"], set()).add(row["randomNumber"])
        primary = be.worlds(seen)
        wrong = {i: (sorted(v), primary.get(i)) for i, v in seen.items() if v != {primary.get(i)}}
        self.assertEqual(wrong, {}, "rows served that differ from the primary "
                         "(id: (served, primary))")
        self.assertGreater(len(seen), 800)

    def test_updates_that_answered_200_are_in_the_primary(self):
        last = {}
        for _ in range(10):  # one after another, so the last answer for an id is the latest
            r = http.get("/updates?queries=20", timeout=10)
            rows = worlds_of(self, r, 20)
            self.assertEqual(len({row["id"] for row in rows}), 20, "ids repeat in %r" % r.body)
            for row in rows:
                last[row["id"]] = row["randomNumber"]
        self.assertEqual(be.worlds(last), last, "the primary does not hold what /updates "
                         "answered")
        # And the replica gets it too.
        be.wait_replica_caught_up()
        self.assertEqual(be.worlds(last, replica=True), last)


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
            m0 = be.metrics()
            r = http.get("/cached-queries?count=500", timeout=10)
            m1 = be.metrics()
            rows = worlds_of(self, r, 500)
            want = sum(1 for row in rows if be.world_key(row["id"]) in present)
            hits = m1[be.CACHE_HITS] - m0[be.CACHE_HITS]
            misses = m1[be.CACHE_MISSES] - m0[be.CACHE_MISSES]
            self.assertGreater(want, 0)
            self.assertEqual(hits, want, "hits counted vs ids of the answer already in Redis")
            self.assertEqual(hits + misses, 500)

    def test_steady_state_hit_ratio(self):
        """Reports the hit ratio of /cached-queries?count=20 under load and checks it against
        the share of rows Redis holds (what a random id can hit)."""
        with be.Redis() as r:
            occ0 = len(r.keys(be.KEY_PREFIX + "w:*")) / 10000.0
        m0 = be.metrics()
        res = be.fetch_all(["/cached-queries?count=20"] * 1500, concurrency=8)
        m1 = be.metrics()
        with be.Redis() as r:
            occ1 = len(r.keys(be.KEY_PREFIX + "w:*")) / 10000.0
        bad = [(p, x.status if x else None, e) for p, x, _, e in res if e or x.status != 200]
        self.assertEqual(bad, [])
        hits = m1[be.CACHE_HITS] - m0[be.CACHE_HITS]
        misses = m1[be.CACHE_MISSES] - m0[be.CACHE_MISSES]
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


class Pipelining(StackTestCase):
    def test_queries_20_sends_20_statements_to_the_replica(self):
        be.wait_all_up()
        be.wait_replica_caught_up()
        m0 = be.metrics()
        n = 25
        for _ in range(n):
            worlds_of(self, http.get("/queries?queries=20", timeout=10), 20)
        m1 = be.metrics()
        self.assertEqual(m1[be.REPLICA_Q] - m0[be.REPLICA_Q], 20 * n)
        self.assertEqual(m1[be.PRIMARY_Q] - m0[be.PRIMARY_Q], 0, "reads went to the primary")
