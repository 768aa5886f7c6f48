"""Stopping and starting: SIGQUIT finishes in-flight requests then exits; a second millrace
on the same socket is refused while the first keeps serving; a slow request is logged and its
worker lives on."""
import os
import signal
import subprocess
import threading
import time

from lib import env, fcgi, http, procs
from lib.base import StackTestCase


class GracefulStop(StackTestCase):
    def test_sigquit_finishes_inflight_request_then_exits(self):
        mgr = self.manager_before
        out = {}

        def inflight():
            try:
                out["r"] = http.get("/test/sleep?ms=1000", timeout=20)
            except Exception as e:
                out["e"] = e
        th = threading.Thread(target=inflight, daemon=True)
        th.start()
        procs.wait_for(procs.sleeping_workers, 5, what="a worker busy in /test/sleep")
        t_quit = time.monotonic()
        os.kill(mgr, signal.SIGQUIT)
        th.join(20)
        self.assertNotIn("e", out, "the in-flight request failed during a graceful stop")
        r = out["r"]
        self.assertEqual((r.status, r.body), (200, b"slept\n"), r)
        # Then the manager exits, well within process_control_timeout_ms (10 s).
        procs.wait_for(lambda: not procs.alive(mgr), 12, what="the manager to exit")
        took = time.monotonic() - t_quit
        log = self.log()
        self.assertRegex(log, r"event=stopping mode=graceful")
        self.assertRegex(log, r"event=stopped pid=%d" % mgr)
        self.assertEqual(procs.children(mgr), [])
        # Leave the stack as we found it.
        self.restart_millrace()
        self.assert_serves()
        self.assertLess(took, 11, "graceful stop took %.1fs" % took)


class SecondInstance(StackTestCase):
    def test_second_millrace_on_same_socket_is_refused(self):
        inodes = procs.listen_inodes()
        self.assertTrue(inodes, "no listening socket at %s" % env.SOCKET)
        p = subprocess.Popen([env.millrace_bin(), "-c", env.MILLRACE_CONF],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True, cwd=env.ROOT)
        try:
            text, _ = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            text, _ = p.communicate()
            self.fail("a second millrace on the same socket kept running:\n" + text)
        self.assertNotEqual(p.returncode, 0, text)
        self.assertIn("in use", text)
        # The first one keeps its socket, its workers and serves.
        self.assertEqual(procs.listen_inodes(), inodes)
        self.assertEqual(sorted(procs.workers()), sorted(self.workers_before))
        self.assertEqual(procs.manager_pid(), self.manager_before)
        self.assert_serves()
        r = fcgi.request("GET", "/plaintext", timeout=5)
        self.assertEqual((r.status, r.body), (200, b"Hello, World!"), r)


class SlowRequests(StackTestCase):
    def test_slow_request_logged_with_request_id_and_worker_survives(self):
        # log.slow_ms defaults to 1000: this request is slow and must be logged once, with
        # nginx's $request_id, and its worker must live on.
        before = set(self.workers_before)
        r = http.get("/test/sleep?ms=1100", timeout=10)
        self.assertEqual((r.status, r.body), (200, b"slept\n"), r)
        line = procs.wait_log(self.mark, r"event=slow_request", timeout=3)
        self.assertRegex(line, r"\breq=[0-9a-f]{32}\b")
        self.assertIn("uri=/test/sleep", line)
        time.sleep(0.3)
        self.assertNotIn("event=worker_exited", self.log())
        self.assertEqual(set(procs.workers()), before)
