"""Read-your-writes, measured by the database: POST /rw/{id} answers a token (the commit's WAL
position) in its body, the X-Millrace-Token header and the millrace_token cookie; a GET
presenting it (header or cookie; the header wins) reads only where that position has been
replayed. With replay paused on the replica (pg_wal_replay_pause(), as postgres) a GET with
the token sees the new value from the primary while one without it sees the old value from
the replica; after pg_wal_replay_resume() the token's GETs go back to the replica. Replay is
resumed in tearDown whatever happened. Also: a malformed header is a 400, a malformed cookie
is ignored (with a log line), a missing row is a 404 and a bad `value` a 400.

DirectAsk freezes the prober (health.interval_ms = 600000, for that class only) so that its view
is always older than a fresh token: then the replica itself is asked, ahead of the reads and
in the same round trip, which /metrics shows as exactly two statements on the replica."""
import json
import random
import time

from lib import backends as be
from lib import http, metrics, procs, stack
from lib.base import StackTestCase


def post(i, value, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return http.request("POST", "/rw/%d" % i, body="value=%s" % value, headers=h, timeout=10)


def get(i, token=None, cookie=None):
    h = {}
    if token is not None:
        h["X-Millrace-Token"] = token
    if cookie is not None:
        h["Cookie"] = "millrace_token=%s" % cookie
    return http.request("GET", "/rw/%d" % i, headers=h, timeout=10)


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


class ReadYourWrites(be.ReplayPausing, StackTestCase):
    def setUp(self):
        super().setUp()
        # Own rows: ids no other test (or an earlier run) is likely to use.
        self.row = random.randint(10**8, 2**31 - 1)

    def written(self, i, value):
        """POSTs value for row i; checks the answer and returns its token."""
        r = post(i, value)
        self.assertEqual(r.status, 200, r)
        doc = json.loads(r.body)
        self.assertEqual(set(doc), {"id", "value", "token"}, doc)
        self.assertEqual((doc["id"], doc["value"]), (i, value), doc)
        token = doc["token"]
        self.assertRegex(token, r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
        self.assertEqual(r.header("X-Millrace-Token"), token, r)
        cookies = r.header_all("Set-Cookie")
        self.assertEqual(len(cookies), 1, cookies)
        parts = [p.strip() for p in cookies[0].split(";")]
        self.assertEqual(parts[0], "millrace_token=" + token, cookies)
        self.assertIn("HttpOnly", parts)
        self.assertIn("SameSite=Lax", parts)
        self.assertIn("Path=/", parts)
        self.assertNotIn("Secure", parts)  # plain HTTP here
        self.assertIn("Max-Age=30", parts)  # db.token_max_age_ms's default
        return token

    def read(self, i, **kw):
        r = get(i, **kw)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        doc = json.loads(r.body)
        self.assertEqual(set(doc), {"id", "value", "from"}, doc)
        self.assertEqual(doc["id"], i, doc)
        self.assertIn(doc["from"], ("replica", "primary"), doc)
        return doc["value"], doc["from"]

    def test_token_reads_see_the_write_while_replay_is_paused(self):
        i = self.row
        old_token = self.written(i, 1)
        be.wait_replica_caught_up()
        # Two probe rounds (health.interval_ms, 500 ms) after the catch-up, so that the
        # prober's view, which every worker reads, has the replica at old_token. (Before that,
        # a token read may go to the primary: the prober last saw the replica short of it.)
        time.sleep(1.2)
        self.assertEqual(self.read(i), (1, "replica"))
        # A token the replica has replayed: its reads stay on the replica.
        for _ in range(10):
            self.assertEqual(self.read(i, token=old_token), (1, "replica"))

        self.pause_replay()
        token = self.written(i, 2)
        self.assertGreater(lsn(token), lsn(old_token))
        # Without the token: the replica's old value (it is well within the lag limit yet).
        self.assertEqual(self.read(i), (1, "replica"))
        # With it, by header or by cookie: the new value, from the primary.
        self.assertEqual(self.read(i, token=token), (2, "primary"))
        self.assertEqual(self.read(i, cookie=token), (2, "primary"))
        # The header wins over the cookie: an older token in the header, the new one in the
        # cookie, and the replica (which has replayed the older one) answers.
        self.assertEqual(self.read(i, token=old_token, cookie=token), (1, "replica"))
        # Many token reads while paused: every one right (the prober now knows the replica
        # is short of the token, and no worker sends them there).
        for _ in range(20):
            self.assertEqual(self.read(i, token=token), (2, "primary"))

        self.resume_replay()
        seen = []

        def back_on_replica():
            seen.append(self.read(i, token=token))
            self.assertEqual(seen[-1][0], 2, "a token read saw the old value: %r" % seen)
            return seen[-1] == (2, "replica")

        procs.wait_for(back_on_replica, 10, interval=0.1,
                       what="token reads back on the replica after replay resumed")
        self.assertEqual(self.read(i), (2, "replica"))

    def test_write_then_read_right_away_sees_the_write(self):
        # No pause: the read right after the write, with its token, never sees the old value,
        # however far replication has got (the commit is often not even flushed yet, since
        # the local stack runs synchronous_commit = off).
        i = self.row
        for v in range(1, 21):
            token = self.written(i, v)
            self.assertEqual(self.read(i, token=token)[0], v)

    def test_malformed_token_header_is_400(self):
        self.written(self.row, 5)
        for bad in ["zz", "0/", "/0", "0/0/0", "123456789/0", "0/16B3748 x", "-1/0"]:
            r = get(self.row, token=bad)
            doc = http.json_error(self, r, 400)
            self.assertIn("X-Millrace-Token", doc["error"], doc)

    def test_malformed_token_cookie_is_ignored_and_logged(self):
        i = self.row
        self.written(i, 6)
        be.wait_replica_caught_up()
        mark = procs.log_mark()
        # Ignored: the read goes as one without a token would, to the replica.
        self.assertEqual(self.read(i, cookie="not-a-token"), (6, "replica"))
        procs.wait_for(lambda: "event=token_cookie_ignored" in procs.log_since(mark), 5,
                       what="the token_cookie_ignored log line")
        line = [x for x in procs.log_since(mark).splitlines() if "token_cookie_ignored" in x][0]
        self.assertRegex(line, r"^<4>event=token_cookie_ignored req=\S+ .*value=not-a-token")

    def test_no_such_row_is_404(self):
        r = get(self.row)
        http.json_error(self, r, 404)

    def assert_invalid_value(self, r):
        """The route's declared inputs refused `value`: millrace's 400 naming the field."""
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        doc = json.loads(r.body)
        self.assertEqual(doc.get("error"), "invalid input", doc)
        self.assertEqual([(f["name"], f["in"]) for f in doc["fields"]], [("value", "form")], doc)
        self.assertIsNone(r.header("X-Millrace-Token"), r)

    def test_bad_value_is_400(self):
        for bad in ["abc", "", "1.5", "0x10", "99999999999999999999"]:
            self.assert_invalid_value(post(self.row, bad))
        r = http.request("POST", "/rw/%d" % self.row, body="",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assert_invalid_value(r)  # value is required
        self.assertEqual(get(self.row).status, 404)  # nothing was written


class DirectAsk(be.ReplayPausing, StackTestCase):
    @classmethod
    def setUpClass(cls):
        stack.restart_millrace("health = { interval_ms = 600000; };")

    @classmethod
    def tearDownClass(cls):
        stack.restart_millrace("")

    def setUp(self):
        super().setUp()
        self.row = random.randint(10**8, 2**31 - 1)

    def token_read(self, token):
        """GET with the token; returns (value, from, statements on the replica, on the
        primary), counted by /metrics around it."""
        m0 = metrics.values()
        r = get(self.row, token=token)
        m1 = metrics.values()
        self.assertEqual(r.status, 200, r)
        doc = json.loads(r.body)
        return (doc["value"], doc["from"], m1[metrics.REPLICA_Q] - m0[metrics.REPLICA_Q],
                m1[metrics.PRIMARY_Q] - m0[metrics.PRIMARY_Q])

    def post_token(self, value):
        r = post(self.row, value)
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)["token"]

    def test_replica_asked_in_the_reads_round_trip_when_the_prober_cannot_know(self):
        token = self.post_token(1)
        be.wait_replica_caught_up()
        # The replica has the write; only asking it can tell: the guard and the read, one
        # pipeline on the replica, nothing on the primary.
        self.assertEqual(self.token_read(token), (1, "replica", 2, 0))

        self.pause_replay()
        token = self.post_token(2)
        # Asked, short of the token: its read is dropped and the primary answers.
        self.assertEqual(self.token_read(token), (2, "primary", 2, 1))
        self.resume_replay()
        be.wait_replica_caught_up()
        self.assertEqual(self.token_read(token), (2, "replica", 2, 0))


if __name__ == "__main__":
    import unittest
    unittest.main()
