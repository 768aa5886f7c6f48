"""The data path with every backend up: TechEmpower conformance of the seven endpoints
through nginx (the yardstick's own checker, headers, row shapes, count clamping, fortunes),
rows that match the database read directly, and the statement count of a pipelined /queries.
The cache is in test_data_cache.py, replica routing in test_data_replicas.py and the failure
cases in test_failure_*.py."""
import html
import json
import os
import re
import subprocess
import sys

from lib import backends as be
from lib import env, http, metrics
from lib.base import StackTestCase
from lib.world import world_problems, worlds_of

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
    """TechEmpower's rules for the seven test types (headers, shapes, clamping), through
    nginx."""

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


class Pipelining(StackTestCase):
    def test_queries_20_sends_20_statements_to_the_replica(self):
        be.wait_all_up()
        be.wait_replica_caught_up()
        m0 = metrics.values()
        n = 25
        for _ in range(n):
            worlds_of(self, http.get("/queries?queries=20", timeout=10), 20)
        m1 = metrics.values()
        self.assertEqual(m1[metrics.REPLICA_Q] - m0[metrics.REPLICA_Q], 20 * n)
        self.assertEqual(m1[metrics.PRIMARY_Q] - m0[metrics.PRIMARY_Q], 0, "reads went to the primary")
