"""Transactions against the real primary, through the test build's routes (handlers/testonly.c)
on scripts/seed.sql's txn_test table: a serialization failure provoked for real (two
concurrent transactions on one row, held at the same point by an advisory lock that a psql
session of the test holds and then releases) is re-run and both commit, and so is a real
deadlock; with the retries
turned off the loser gets 503 and the log line says why; the batch form is re-run the same way;
a callback that fails rolls everything back; a statement uses the id the one before it
returned; and a transaction past the request's deadline answers 504, is rolled back, and
leaves its connection open and usable."""
import json
import os
import random
import subprocess
import threading
import time
import uuid

from lib import backends as be
from lib import base, env, http, procs, stack


def new_row(tag):
    return int(be.psql("INSERT INTO txn_test (tag) VALUES ('%s') RETURNING id" % tag)[0][0])


def n_of(row_id):
    return int(be.psql("SELECT n FROM txn_test WHERE id = %d" % row_id)[0][0])


def advisory_waiters(key):
    """Sessions waiting for advisory lock `key` (a small key: classid 0, objid key)."""
    return int(be.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                       "classid = 0 AND objid = %d AND NOT granted" % key)[0][0])


class HeldLock:
    """pg_advisory_lock(key) held by a psql session of the test until release()."""

    def __init__(self, key):
        self.key = key
        self.p = subprocess.Popen([env.STACK, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                                  cwd=env.ROOT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
        self.p.stdin.write("SELECT pg_advisory_lock(%d);\n" % key)
        self.p.stdin.flush()
        procs.wait_for(lambda: be.psql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND "
            "objid = %d AND granted" % key)[0][0] == "1", 10, interval=0.05,
            what="the test's psql to hold advisory lock %d" % key)

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("SELECT pg_advisory_unlock(%d);\n\\q\n" % self.key)
            self.p.stdin.flush()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)


def concurrently(paths, key):
    """POSTs each path at once while the test holds advisory lock `key`, which each
    transaction waits for; releases it once every one waits there. Returns the responses."""
    out = [None] * len(paths)
    lock = HeldLock(key)
    try:
        def post(i):
            out[i] = http.request("POST", paths[i], timeout=15)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(paths))]
        for t in threads:
            t.start()
        procs.wait_for(lambda: advisory_waiters(key) == len(paths), 10, interval=0.05,
                       what="%d transactions waiting for the lock" % len(paths))
    finally:
        lock.release()
    for t in threads:
        t.join(20)
    return out


def body(r):
    return json.loads(r.body)


class TxnCase(base.StackTestCase):
    def setUp(self):
        super().setUp()
        self.tag = "t-" + uuid.uuid4().hex[:12]
        self.key = random.randint(1000, 2 ** 31 - 1)

    def tearDown(self):
        try:
            be.psql("DELETE FROM txn_test WHERE tag LIKE '%s%%'" % self.tag)
        finally:
            super().tearDown()


class Retries(TxnCase):
    def test_serializable_conflict_is_rerun_and_both_commit(self):
        row = new_row(self.tag)
        path = "/test/txn/bump?id=%d&iso=ser&lock=%d" % (row, self.key)
        rs = concurrently([path, path], self.key)
        for r in rs:
            self.assertEqual(r.status, 200, r)
        got = sorted((body(r)["n"], body(r)["attempts"]) for r in rs)
        # The loser read n = 0, lost the conflict (40001), and read n = 1 when run again.
        self.assertEqual([n for n, _ in got], [1, 2], got)
        self.assertEqual(got[0][1], 1, got)
        self.assertGreaterEqual(got[1][1], 2, got)
        self.assertEqual(n_of(row), 2)
        base.say("serializable: attempts %s", [a for _, a in got])

    def test_read_committed_loses_the_update_that_serializable_keeps(self):
        # The contrast: the same read-then-write under read committed raises nothing, and the
        # second write overwrites the first with the same value.
        row = new_row(self.tag)
        path = "/test/txn/bump?id=%d&iso=rc&lock=%d" % (row, self.key)
        rs = concurrently([path, path], self.key)
        for r in rs:
            self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(body(r)["attempts"] for r in rs), [1, 1])
        self.assertEqual(n_of(row), 1)

    def test_repeatable_read_batch_conflict_is_rerun(self):
        # [wait for the lock, n = n + 1] at repeatable read: both snapshots predate the first
        # commit, so the second UPDATE fails with 40001; only a re-run lets both answer 200.
        row = new_row(self.tag)
        path = "/test/txn/batch-bump?id=%d&iso=rr&lock=%d" % (row, self.key)
        rs = concurrently([path, path], self.key)
        for r in rs:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(body(r), {"changed": 1})
        self.assertEqual(n_of(row), 2)


    def test_deadlock_is_rerun_and_both_commit(self):
        # Rows a then b, and b then a, each transaction holding its first row while it waits
        # for the lock: released, they deadlock; the server cancels one (40P01, after its
        # deadlock_timeout of 1 s), which is run again once the other has committed.
        a, b = new_row(self.tag), new_row(self.tag)
        path = "/test/txn/pair?first=%d&second=%d&lock=%d"
        rs = concurrently([path % (a, b, self.key), path % (b, a, self.key)], self.key)
        for r in rs:
            self.assertEqual(r.status, 200, r)
        # Read committed raises no serialization failure: the re-run was the deadlock's.
        self.assertEqual(sorted(body(r)["attempts"] for r in rs), [1, 2])
        self.assertEqual((n_of(a), n_of(b)), (2, 2))


class NoRetries(TxnCase):
    """db.txn_retries = 0: the loser of a conflict answers 503 and its log line says why."""

    @classmethod
    def setUpClass(cls):
        stack.stop("millrace")
        conn = "host=127.0.0.1 port=%d dbname=millrace user=millrace"
        stack.restart_millrace('db = { primary = "%s"; replicas = [ "%s" ]; txn_retries = 0; };'
                               % (conn % env.PG_PORT, conn % env.PG_REPLICA_PORT))

    @classmethod
    def tearDownClass(cls):
        stack.stop("millrace")
        stack.restart_millrace("")

    def test_conflict_without_retries_answers_503_with_the_reason_logged(self):
        row = new_row(self.tag)
        path = "/test/txn/bump?id=%d&iso=ser&lock=%d" % (row, self.key)
        rs = concurrently([path, path], self.key)
        self.assertEqual(sorted(r.status for r in rs), [200, 503], rs)
        loser = [r for r in rs if r.status == 503][0]
        http.json_error(self, loser, 503)
        self.assertNotIn(b"serializ", loser.body.lower(), "the server's reason leaked")
        line = procs.wait_log(self.mark, r"status=503.*serialization failure", timeout=5)
        self.assertIn("sqlstate 40001", line)
        self.assertIn("gave up after 1 attempt:", line)
        self.assertEqual(n_of(row), 1)


class Callback(TxnCase):
    def rows(self):
        return be.psql("SELECT id, coalesce(parent::text, '-') FROM txn_test WHERE tag = '%s' "
                       "ORDER BY id" % self.tag)

    def test_dependent_statement_uses_the_returned_id(self):
        r = http.request("POST", "/test/txn/insert?tag=%s" % self.tag)
        self.assertEqual(r.status, 200, r)
        ids = body(r)
        self.assertEqual(self.rows(), [[str(ids["parent"]), "-"],
                                       [str(ids["child"]), str(ids["parent"])]])

    def test_callback_failure_rolls_back_everything(self):
        r = http.request("POST", "/test/txn/insert?tag=%s&fail=1" % self.tag)
        self.assertEqual(r.status, 418, r)  # the callback's own status, passed through
        self.assertEqual(self.rows(), [])

    def test_deadline_in_a_transaction_is_504_and_the_connection_stays(self):
        def conns():
            return {p for (p,) in be.psql("SELECT pid FROM pg_stat_activity WHERE "
                                          "application_name = 'millrace' AND "
                                          "datname = 'millrace'")}
        # Every worker holds a primary connection first: as many overlapping transactions
        # as there are workers, so that each worker serves one.
        n = len(self.workers_before)
        warm = [None] * n

        def post(i):
            warm[i] = http.request("POST", "/test/txn/insert?tag=%s-w&sleep=0.3" % self.tag)
        threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertEqual([r.status for r in warm], [200] * n, warm)
        before = conns()
        self.assertGreaterEqual(len(before), n)
        # Three statements of 1.8 s: each is under db.query_timeout_ms (2 s), the third runs
        # past request_timeout_ms (5 s), and the server stops it there.
        t0 = time.monotonic()
        r = http.request("POST", "/test/txn/insert?tag=%s&sleep=1.8&sleeps=3" % self.tag,
                         timeout=15)
        took = time.monotonic() - t0
        http.json_error(self, r, 504)
        self.assertLess(took, 5.6, "the 504 came %.2f s after the request" % took)
        self.assertGreater(took, 4.5, "the 504 came %.2f s after the request" % took)
        line = procs.wait_log(self.mark, r"status=504", timeout=5)
        self.assertIn("57014", line)
        self.assertEqual(self.rows(), [], "the timed-out transaction was not rolled back")
        for _ in range(2 * len(self.workers_before)):
            r = http.request("POST", "/test/txn/insert?tag=%s-after" % self.tag)
            self.assertEqual(r.status, 200, r)
        lost = before - conns()
        self.assertEqual(lost, set(), "connections closed by the timeout: %s" % lost)
        base.say("504 after %.2f s; %d primary connections kept", took, len(before))
