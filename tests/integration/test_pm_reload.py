"""Reload: SIGHUP (and SIGUSR2, which reloads the same way) replaces every worker and keeps
the manager, and costs no request, during a 10 s load of 64 connections; a reload that shrinks
`workers` from 5 to 3 ends with exactly 3 new workers and loses nothing; an invalid config at
SIGHUP is refused, naming the file and line, and the old workers keep serving. The invalid line
is appended to var/millrace.conf and the file restored in a `finally`."""
import os
import signal
import threading
import time

from lib import env, load, procs
from lib.base import StackTestCase
from lib.pm import PmTestCase


def reload_under_load(testcase, sig, seconds, connections, after_s, join_s, min_requests):
    """Runs load.http_load on /json for `seconds` with `connections` connections and sends sig
    to the manager after_s into it. Asserts the load ran (more than min_requests), lost nothing
    (no non-2xx, no socket error), every worker was replaced and the manager is the same one.
    Returns the config_reloaded log line."""
    before = set(testcase.workers_before)
    mgr = testcase.manager_before
    out = {}

    def run():
        try:
            out["r"] = load.http_load("/json", seconds, connections, timeout_s=5)
        except Exception as e:
            out["e"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(after_s)
    os.kill(mgr, sig)
    line = procs.wait_log(testcase.mark, r"event=config_reloaded", timeout=5)
    th.join(join_s)
    testcase.assertFalse(th.is_alive(), "the load generator did not finish")
    if "e" in out:
        raise out["e"]
    r = out["r"]
    testcase.assertGreater(r.requests, min_requests, r)
    testcase.assertEqual((r.non2xx, r.errors), (0, 0), r)
    # Every worker replaced, the manager the same.
    wait_new_pool(before)
    testcase.assertEqual(procs.manager_pid(), mgr)
    return line


def wait_new_pool(before, timeout=10, what=None):
    """Waits for a full pool in which no worker is one of `before`."""
    before = set(before)
    return procs.wait_for(lambda: (lambda p: p and not set(p) & before)(procs.pool_ready()),
                          timeout, what=what or "a full pool of new workers (old: %s)"
                          % sorted(before))


class Reload(StackTestCase):
    def test_hup_during_load_of_64_connections_loses_nothing(self):
        reload_under_load(self, signal.SIGHUP, seconds=10, connections=64, after_s=3, join_s=60,
                          min_requests=1000)
        self.assertNotIn("reload_failed", self.log())
        self.assert_serves()

    def test_hup_with_invalid_config_keeps_old_workers_serving(self):
        before = sorted(self.workers_before)
        with open(env.MILLRACE_CONF, "rb") as f:
            original = f.read()
        try:
            with open(env.MILLRACE_CONF, "ab") as f:
                f.write(b"\nno_such_setting_for_the_test = 1;\n")
            bad_line = original.count(b"\n") + 2
            os.kill(self.manager_before, signal.SIGHUP)
            line = procs.wait_log(self.mark, r"event=reload_failed", timeout=5)
            self.assertIn("no_such_setting_for_the_test", line)
            self.assertIn("%s:%d:" % (env.MILLRACE_CONF, bad_line), line)
            for _ in range(10):
                self.assert_serves("/json", n=1)
                time.sleep(0.05)
            # The same workers, none replaced, the same manager.
            self.assertEqual(sorted(procs.workers()), before)
            self.assertEqual(procs.manager_pid(), self.manager_before)
            self.assertNotIn("event=config_reloaded", self.log())
        finally:
            with open(env.MILLRACE_CONF, "wb") as f:
                f.write(original)
        # Restored: a HUP now reloads.
        mark = procs.log_mark()
        os.kill(self.manager_before, signal.SIGHUP)
        procs.wait_log(mark, r"event=config_reloaded", timeout=5)
        wait_new_pool(before, what="the pool replaced after a valid reload")
        self.assert_serves()


class ReloadSignals(PmTestCase):
    def test_sigusr2_replaces_every_worker_under_load_like_sighup(self):
        line = reload_under_load(self, signal.SIGUSR2, seconds=3, connections=16, after_s=1,
                                 join_s=40, min_requests=100)
        self.assertIn("generation=2", line)
        self.assertNotIn("reload_failed", self.log())

    def test_reload_from_5_to_3_workers_ends_with_3_and_loses_nothing(self):
        mgr = self.configure("workers = 5;")
        before = set(procs.wait_pool(5, n=5))
        with open(env.MILLRACE_CONF) as f:
            text = f.read()
        self.assertIn("workers = 5;", text)
        with open(env.MILLRACE_CONF, "w") as f:
            f.write(text.replace("workers = 5;", "workers = 3;"))
        mark = procs.log_mark()
        ld = load.Load("/json", concurrency=8, duration_s=30, timeout_s=5).start()
        try:
            time.sleep(0.5)
            os.kill(mgr, signal.SIGHUP)
            line = procs.wait_log(mark, r"event=config_reloaded", timeout=5)
            self.assertEqual(procs.field(line, "workers"), "3", line)
            try:
                final = procs.wait_for(lambda: (lambda p: p and not set(p) & before and p)(
                    procs.pool_ready(3)), 6, what="exactly 3 new workers")
            except AssertionError as e:
                w = procs.workers(mgr)
                raise AssertionError("%s; the pool is %d workers %s, %d of them from before "
                                     "the reload\nlog since the reload:\n%s"
                                     % (e, len(w), w, len(set(w) & before),
                                        procs.log_since(mark)[-2000:]))
            time.sleep(1.0)  # and it stays at 3
            self.assertEqual(sorted(procs.workers(mgr)), sorted(final))
        finally:
            res = ld.stop()
        self.assertEqual(res.failures, [], res.summary())
        self.assertGreater(len(res.samples), 50, res.summary())
        self.assertEqual(procs.manager_pid(), mgr)
