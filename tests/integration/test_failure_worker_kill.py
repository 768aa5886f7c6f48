"""A worker killed with kill -9 while it is busy in /test/sleep, under a light load: the
manager logs worker_exited with signal=9 and planned=no, replaces it within 1 s (the pool is
full again by then), keeps its own pid, and every request after the pool healed answers 200."""
import os
import signal
import threading
import time

from lib import http, load, procs
from lib.base import StackTestCase


class KillWorker(StackTestCase):
    def test_kill9_busy_worker_replaced_within_1s(self):
        before = set(self.workers_before)
        stop_sleepers = threading.Event()

        def sleeper():
            while not stop_sleepers.is_set():
                try:
                    http.get("/test/sleep?ms=300", timeout=10)
                except Exception:
                    pass  # the request whose worker we kill fails; that is expected
        th = threading.Thread(target=sleeper, daemon=True)
        ld = load.Load("/json", concurrency=3, duration_s=30).start()
        try:
            th.start()
            victim = procs.wait_for(procs.sleeping_workers, 5,
                                    what="a worker busy in /test/sleep")[0]
            t_kill = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            new = procs.wait_for(lambda: set(procs.workers()) - before, 1.0,
                                 what="a new worker pid within 1 s of kill -9")
            full = procs.wait_for(lambda: procs.pool_ready(), 1.0 - min(
                1.0, time.monotonic() - t_kill) + 0.05, what="the pool back to full within 1 s")
            healed_s = time.monotonic() - t_kill
            stop_sleepers.set()
            self.assertNotIn(victim, full)
            self.assertLessEqual(healed_s, 1.05, "healed in %.2fs" % healed_s)
            line = procs.wait_log(self.mark, r"event=worker_exited .*pid=%d .*signal=9" % victim,
                                  timeout=2)
            self.assertIn("planned=no", line)
            t_healed = time.monotonic()
            time.sleep(2.0)  # keep the load on past the replacement
        finally:
            stop_sleepers.set()
            res = ld.stop()
            th.join(15)
        late = [s for s in res.after(t_healed + 0.05) if s.error or s.status != 200]
        self.assertEqual(late, [], "requests failed after the pool healed: " + res.summary())
        self.assertGreater(len(res.after(t_healed)), 10, res.summary())
        self.assertEqual(procs.manager_pid(), self.manager_before)
        self.assertTrue(new)
        self.assert_serves()
