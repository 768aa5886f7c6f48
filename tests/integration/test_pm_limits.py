"""Recycling and limits: request_terminate_timeout_ms kills a stuck worker
and nginx answers 502/504 at once; log.slow_ms logs the URI, the time and the backend time
under nginx's $request_id; max_requests with jitter recycles workers at different points and
loses nothing; emergency_restart_threshold replaces the whole pool after a burst of crashes;
rlimit_files applies to workers."""
import os
import re
import signal
import threading
import time
import uuid

from lib import env, http, pm, procs
from lib.pm import PmTestCase


class TerminateTimeout(PmTestCase):
    def test_stuck_request_killed_at_timeout_nginx_answers_5xx_worker_replaced(self):
        mgr = self.configure("request_terminate_timeout_ms = 1000;")
        before = set(procs.wait_pool(5))
        killed_before = pm.metric("millrace_killed_timeout_total")
        mark = procs.log_mark()
        t = time.monotonic()
        # A connection per request (/close/): on a kept connection nginx would retry the
        # request once on another worker after this one is killed (README, "nginx keepalive").
        r = http.get("/close/test/sleep?ms=5000", timeout=10)
        took = time.monotonic() - t
        self.assertIn(r.status, (502, 504), r)
        self.assertGreaterEqual(took, 0.9, "answered before the timeout: %.2fs" % took)
        self.assertLessEqual(took, 2.0, "took %.2fs: the worker was not killed at 1 s" % took)
        line = procs.wait_log(mark, r"event=worker_killed", timeout=2)
        self.assertEqual(procs.field(line, "reason"), "request_terminate_timeout", line)
        self.assertEqual(procs.field(line, "uri"), "/test/sleep", line)
        self.assertEqual(procs.field(line, "method"), "GET", line)
        victim = int(procs.field(line, "pid"))
        self.assertIn(victim, before, line)
        # Replaced: a full pool without the victim, the same manager.
        after = procs.wait_for(lambda: (lambda p: p and victim not in p and p)(
            procs.pool_ready(5)), 3, what="the pool back to 5 without pid %d" % victim)
        self.assertEqual(len(set(after) - before), 1, (sorted(before), after))
        self.assertEqual(procs.manager_pid(), mgr)
        ok = http.get("/test/sleep?ms=50", timeout=5)
        self.assertEqual((ok.status, ok.body), (200, b"slept\n"), ok)
        self.assertEqual(pm.metric("millrace_killed_timeout_total"), killed_before + 1)
        log = procs.log_since(mark)
        self.assertNotIn("planned=no", log, "the kill was counted as a crash")
        print("      terminate: %d after %.2fs" % (r.status, took))


class SlowLog(PmTestCase):
    def test_slow_request_logged_with_uri_ms_backend_ms_and_nginx_request_id(self):
        self.configure("log = { slow_ms = 200; };")
        mark = procs.log_mark()
        tag = uuid.uuid4().hex
        r = http.get("/test/sleep?ms=300&tag=" + tag, timeout=10)
        self.assertEqual(r.status, 200, r)
        line = procs.wait_log(mark, r"event=slow_request", timeout=3)
        self.assertEqual(procs.field(line, "uri"), "/test/sleep", line)
        self.assertGreaterEqual(int(procs.field(line, "ms")), 300, line)
        self.assertLess(int(procs.field(line, "ms")), 2000, line)
        self.assertRegex(procs.field(line, "backend_ms") or "", r"^\d+$", line)
        req = procs.field(line, "req")
        self.assertRegex(req or "", r"^[0-9a-f]{32}$", line)
        # nginx's access log (buffered, flushed every second) has the same $request_id.
        access = os.path.join(env.LOG_DIR, "nginx-access.log")

        def access_line():
            with open(access, errors="replace") as f:
                for ln in f:
                    if "tag=" + tag in ln:
                        return ln
            return None
        aline = procs.wait_for(access_line, 5, what="the request in nginx-access.log")
        m = re.search(r"\breq=([0-9a-f]+)", aline)
        self.assertIsNotNone(m, aline)
        self.assertEqual(m.group(1), req, "millrace's req= is not nginx's $request_id:\n%s\n%s"
                         % (line, aline))
        # Under the threshold: not logged.
        r = http.get("/test/sleep?ms=20", timeout=10)
        self.assertEqual(r.status, 200, r)
        time.sleep(0.3)
        self.assertEqual(len(pm.log_events(procs.log_since(mark), "slow_request")), 1,
                         procs.log_since(mark))


class Recycling(PmTestCase):
    def test_max_requests_with_jitter_recycles_every_worker_at_different_points(self):
        # log.slow_ms = 1 logs every request (each sleeps 2 ms) with the pid that served it,
        # so the log says how many requests each worker served before it left.
        mgr = self.configure("workers = 4; max_requests = 20; max_requests_jitter = 5; "
                             "log = { slow_ms = 1; };")
        first = set(procs.wait_pool(5, n=4))
        mark = procs.log_mark()
        statuses = []
        lock = threading.Lock()

        def client(n):
            c = http.KeepAlive(timeout=10)
            try:
                for _ in range(n):
                    try:
                        s = c.request("GET", "/test/sleep?ms=2").status
                    except Exception as e:
                        s = repr(e)
                    with lock:
                        statuses.append(s)
            finally:
                c.close()
        threads = [threading.Thread(target=client, args=(100,), daemon=True) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        bad = [s for s in statuses if s != 200]
        self.assertEqual(len(statuses), 400)
        self.assertEqual(bad, [], "requests failed during recycling")
        final = set(procs.wait_pool(5, n=4))
        self.assertFalse(first & final, "workers never recycled: %s" % sorted(first & final))
        time.sleep(0.2)
        log = procs.log_since(mark)
        served = {}
        for ln in pm.log_events(log, "slow_request"):
            pid = int(procs.field(ln, "pid"))
            served[pid] = served.get(pid, 0) + 1
        self.assertEqual(sum(served.values()), 400, "not every request was logged")
        # Workers born during the test and gone before its end: their whole life is in the
        # log. Each served its own max_requests + jitter, in [20, 25].
        whole = {p: n for p, n in served.items() if p not in first and p not in final}
        self.assertGreaterEqual(len(whole), 4, served)
        for p, n in whole.items():
            self.assertTrue(20 <= n <= 25, "worker %d served %d requests, want 20..25 (%r)"
                            % (p, n, whole))
        self.assertGreater(len(set(whole.values())), 1,
                           "every worker recycled after the same count: no jitter (%r)" % whole)
        # Planned exits: no error line, no crash.
        self.assertNotIn("planned=no", log)
        errors = [ln for ln in log.splitlines() if ln.startswith("<3>")]
        self.assertEqual(errors, [], "error lines during recycling")
        self.assertEqual(procs.manager_pid(), mgr)
        print("      recycling: %d workers lived their whole life in the test, counts %s"
              % (len(whole), sorted(whole.values())))


class EmergencyRestart(PmTestCase):
    def test_three_crashes_within_interval_restart_every_worker(self):
        # ASan turns a SIGSEGV into a report and exit(1); here the worker must die of the
        # signal, as a real crash of the release build does.
        opts = os.environ.get("ASAN_OPTIONS", "")
        mgr = self.configure("emergency_restart_threshold = 3; "
                             "emergency_restart_interval_ms = 10000;",
                             extra_env={"ASAN_OPTIONS": (opts + ":" if opts else "")
                                        + "handle_segv=0"})
        before = procs.wait_pool(5)
        self.assertEqual(len(before), 5)
        mark = procs.log_mark()
        victims, survivors = before[:3], before[3:]
        for p in victims:
            os.kill(p, signal.SIGSEGV)
        line = procs.wait_log(mark, r"event=emergency_restart", timeout=3)
        self.assertEqual(procs.field(line, "crashes"), "3", line)
        new = procs.wait_for(lambda: (lambda p: p and not set(p) & set(before) and p)(
            procs.pool_ready(5)), 10, what="a full pool with no worker from before the crashes")
        log = procs.log_since(mark)
        for p in victims:
            self.assertRegex(log, r"event=worker_exited .*pid=%d .*signal=11 planned=no" % p)
        for p in survivors:
            self.assertFalse(procs.alive(p) and p in procs.workers(mgr),
                             "worker %d did not crash and was not restarted" % p)
        self.assertEqual(procs.manager_pid(), mgr)
        self.assert_serves()
        self.assertEqual(len(new), 5)

    def test_crashes_below_threshold_replace_only_the_crashed(self):
        # The control: two crashes of a threshold of 3 restart nobody else.
        opts = os.environ.get("ASAN_OPTIONS", "")
        mgr = self.configure("emergency_restart_threshold = 3; "
                             "emergency_restart_interval_ms = 10000;",
                             extra_env={"ASAN_OPTIONS": (opts + ":" if opts else "")
                                        + "handle_segv=0"})
        before = procs.wait_pool(5)
        mark = procs.log_mark()
        for p in before[:2]:
            os.kill(p, signal.SIGSEGV)
        procs.wait_for(lambda: (lambda p: p and not set(p) & set(before[:2]) and p)(
            procs.pool_ready(5)), 5, what="the two crashed workers replaced")
        time.sleep(0.5)
        self.assertNotIn("event=emergency_restart", procs.log_since(mark))
        self.assertTrue(set(before[2:]) <= set(procs.workers(mgr)),
                        "workers that did not crash were replaced")


class Rlimit(PmTestCase):
    def test_rlimit_files_applies_to_every_worker(self):
        mgr = self.configure("rlimit_files = 200;")
        procs.wait_pool(5)
        # Idle (in accept): past the setrlimit a worker makes as it starts, right after fork.
        workers = procs.wait_for(lambda: (lambda w: len(w) == 5 and w)(procs.idle_workers(mgr)),
                                 5, what="5 idle workers")
        for p in workers:
            self.assertEqual(pm.proc_limit(p, "Max open files"), ("200", "200"),
                             "worker %d" % p)
        self.assert_serves()
