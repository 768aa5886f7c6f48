"""Replica routing: a replica made to lag with pg_wal_replay_pause() (as postgres) while every
row changes on the primary gets no reads, millrace_replica_lag_seconds shows the lag and no
answer is stale; once replay resumes and the lag falls, reads go back to the replica. The test
resumes replay and drops the cache in a `finally` (lib/faults.FailoverCase heals the rest)."""
import time

from lib import backends as be
from lib import faults, metrics, procs, world


class ReplicaLag(faults.FailoverCase):
    def test_lagging_replica_gets_no_reads_and_answers_are_fresh(self):
        be.wait_replica_caught_up()
        be.pause_replay()
        try:
            # Every row changes on the primary (v -> 10001 - v has no fixed point), behind
            # the cache's back; the replica does not replay it.
            be.psql("UPDATE world SET randomnumber = 10001 - randomnumber")
            primary = be.worlds()
            t0 = time.monotonic()
            procs.wait_for(lambda: metrics.values()[metrics.REPLICA_LAG] > 1.0, 10, interval=0.1,
                           what="millrace_replica_lag_seconds > 1")
            print("\n      lag over 1 s seen %.2f s after the write" % (time.monotonic() - t0))
            self.assertEqual(be.backend_state("replica1"), "up")
            m0 = metrics.values()
            res = be.fetch_all(["/db"] * 200 + ["/queries?queries=20"] * 20, concurrency=4)
            m1 = metrics.values()
            self.assert_good(res)
            self.assertEqual(m1[metrics.REPLICA_Q] - m0[metrics.REPLICA_Q], 0,
                             "reads went to a replica lagging %.1f s" % m1[metrics.REPLICA_LAG])
            self.assertGreaterEqual(m1[metrics.PRIMARY_Q] - m0[metrics.PRIMARY_Q], 200 + 20 * 20)
            seen = world.rows_of(res)
            stale = {i: sorted(v) for i, v in seen.items() if v != {primary[i]}}
            self.assertEqual(stale, {}, "stale rows (id: served) while the replica lags")
            self.assertGreater(m1[metrics.REPLICA_LAG], 1.0)
        finally:
            be.resume_replay()
            # The direct UPDATE bypassed the cache: drop what it may hold.
            with be.Redis() as r:
                r.delete_pattern(be.KEY_PREFIX + "w:*")
        be.wait_replica_caught_up()
        procs.wait_for(lambda: metrics.values()[metrics.REPLICA_LAG] < 1.0, 10, interval=0.1,
                       what="the lag gauge to fall after replay resumed")
        faults.wait_reads_on_replica(self, "reads back on the caught-up replica")
