"""millrace's status pages and systemd's STATUS= line.

- /status on status_listen answers within 200 ms while every worker is blocked, with
  php-fpm's field names and layout (text, ?json, ?full); its percentiles are the histogram's.
- STATUS= carries req/s and p99 every 10 s: checked on a millrace of its own (temp config and
  socket, no data backends) under a NOTIFY_SOCKET the test binds, as systemd would.
"""
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from lib import env, fcgi, procs, stack
from lib.base import StackTestCase
from lib.fcgi import status_get
from lib.load import drive, in_background
from lib.metrics import INF, Scrape, histogram_quantile, quiet


# ---- /status on its own socket ---------------------------------------------------------------

PHP_FPM_FIELDS = ["pool", "process manager", "start time", "start since", "accepted conn",
                  "listen queue", "max listen queue", "idle processes", "active processes",
                  "total processes", "max active processes", "max children reached",
                  "slow requests"]


def parse_status_text(body):
    """The pool block of the text format: {name: value} in order, and the per-worker blocks
    of ?full as a list of {name: value}."""
    blocks = body.split("\n************************\n")
    fields = collections.OrderedDict()
    for line in blocks[0].splitlines():
        if not line.strip() or line.startswith("route "):
            continue  # millrace's own rows: route NAME: requests N p50_ms ...
        m = re.match(r"^([a-z][a-z ]*):(\s+)(.*)$", line)
        if not m:
            raise AssertionError("status line %r is not `name: value`" % line)
        fields[m.group(1)] = (m.group(3), len(m.group(1)) + 1 + len(m.group(2)))
    workers = []
    for blk in blocks[1:]:
        w = {}
        for line in blk.strip("\n").splitlines():
            m = re.match(r"^([a-zA-Z][a-zA-Z ]*):\s+(.*)$", line)
            if not m:
                raise AssertionError("?full line %r is not `name: value`" % line)
            w[m.group(1)] = m.group(2)
        workers.append(w)
    return fields, workers


class StatusSocket(StackTestCase):
    """millrace with workers = 2 and status_listen on var/run/status.sock."""

    @classmethod
    def setUpClass(cls):
        stack.restart_millrace('workers = 2;\nstatus_listen = "unix:%s";' % env.STATUS_SOCKET)

    @classmethod
    def tearDownClass(cls):
        stack.restart_millrace("")

    def test_status_answers_within_200ms_while_every_worker_is_blocked(self):
        drive([("GET", "/json")] * 20)  # so that routes has a row with percentiles
        ths, results = in_background("/close/test/sleep?ms=3000", 2, timeout=15)
        try:
            busy = procs.wait_for(lambda: len(procs.sleeping_workers()) == 2 and
                                  procs.sleeping_workers(), 2.5,
                                  what="both workers asleep in /test/sleep")
            workers = set(procs.workers())
            self.assertEqual(set(busy), workers)

            r, took = status_get("/status")
            self.assertEqual(r.status, 200, r)
            self.assertLess(took, 0.2, "/status took %.3fs with every worker busy" % took)
            fields, _ = parse_status_text(r.body.decode())
            self.assertEqual(fields["active processes"][0], "2", r.body)
            self.assertEqual(fields["idle processes"][0], "0", r.body)
            self.assertEqual(fields["total processes"][0], "2", r.body)

            r, took = status_get("/status?json")
            self.assertEqual(r.status, 200, r)
            self.assertLess(took, 0.2, "/status?json took %.3fs" % took)
            self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), r)
            j = json.loads(r.body)
            missing = [f for f in PHP_FPM_FIELDS if f not in j]
            self.assertFalse(missing, "php-fpm fields missing from ?json: %r in %r" % (missing, j))
            self.assertEqual((j["active processes"], j["idle processes"], j["total processes"]),
                             (2, 0, 2), j)
            self.assertIsInstance(j["pool"], str)
            self.assertEqual(j["process manager"], "static")
            self.assertIsInstance(j["start time"], int)
            self.assertLessEqual(abs(j["start time"] + j["start since"] - time.time()), 2, j)
            for f in PHP_FPM_FIELDS[4:]:
                self.assertIsInstance(j[f], int, f)
            rows = {row["route"]: row for row in j["routes"]}
            self.assertIn("GET /json", rows, j["routes"])
            for row in j["routes"]:
                for k in ("p50_us", "p95_us", "p99_us"):
                    self.assertIsInstance(row.get(k), int, row)
                self.assertLessEqual(row["p50_us"], row["p95_us"], row)
                self.assertLessEqual(row["p95_us"], row["p99_us"], row)
                self.assertGreater(row["p99_us"], 0, row)

            r, took = status_get("/status?json&full")
            self.assertLess(took, 0.2, "/status?json&full took %.3fs" % took)
            j = json.loads(r.body)
            procs_rows = {p["pid"]: p for p in j["processes"]}
            self.assertEqual(set(procs_rows), workers, j["processes"])
            for pid, row in procs_rows.items():
                self.assertEqual(row["state"], "Running", row)
                self.assertEqual(row["request uri"], "/test/sleep", row)
                self.assertEqual(row["request method"], "GET", row)
                self.assertGreater(row["request duration"], 0, row)

            r, took = status_get("/status?full")
            self.assertLess(took, 0.2, "/status?full took %.3fs" % took)
            _, rows = parse_status_text(r.body.decode())
            self.assertEqual({int(w["pid"]) for w in rows}, workers, r.body)
            for w in rows:
                self.assertEqual((w["state"], w["request URI"], w["request method"]),
                                 ("Running", "/test/sleep", "GET"), w)
            # Still blocked after the last answer: /status was never waiting for a worker.
            self.assertEqual(set(procs.sleeping_workers()), workers,
                             "the sleepers ended before the checks did")
        finally:
            for t in ths:
                t.join(15)
        self.assertEqual(results, [200, 200])

    def test_status_text_has_php_fpm_field_names_and_layout(self):
        drive([("GET", "/plaintext")] * 10)
        quiet()
        r, _ = status_get("/status")
        self.assertEqual(r.status, 200, r)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/plain"), r)
        fields, rows = parse_status_text(r.body.decode())
        self.assertEqual(rows, [], "plain /status must not list workers")
        names = list(fields)
        missing = [f for f in PHP_FPM_FIELDS if f not in fields]
        self.assertFalse(missing, "php-fpm fields missing: %r\n%s" % (missing, r.body.decode()))
        # php-fpm's order, and its layout: the value starts in column 22.
        self.assertEqual([n for n in names if n in PHP_FPM_FIELDS], PHP_FPM_FIELDS)
        for n in PHP_FPM_FIELDS:
            self.assertEqual(fields[n][1], 22, "value of %r not in column 22" % n)
        self.assertEqual(fields["process manager"][0], "static")
        self.assertRegex(fields["start time"][0],
                         r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$")
        for n in PHP_FPM_FIELDS[3:]:
            self.assertRegex(fields[n][0], r"^\d+$", n)
        v = {n: int(fields[n][0]) for n in PHP_FPM_FIELDS[3:]}
        self.assertEqual((v["idle processes"], v["active processes"], v["total processes"]),
                         (2, 0, 2), r.body)
        self.assertGreaterEqual(v["accepted conn"], 10)
        self.assertRegex(r.body.decode(), r"(?m)^route GET /plaintext: requests \d+ p50_ms [\d.]+ "
                         r"p95_ms [\d.]+ p99_ms [\d.]+$")

    def test_status_percentiles_are_the_metrics_histogram_quantiles(self):
        drive([("GET", "/json")] * 50 + [("GET", "/db")] * 20)
        quiet()
        r, _ = status_get("/metrics")  # the status process does not count its own requests
        self.assertEqual(r.status, 200, r)
        s = Scrape(r.body.decode())
        r, _ = status_get("/status?json")
        rows = {row["route"]: row for row in json.loads(r.body)["routes"]}
        for method, route in (("GET", "/json"), ("GET", "/db")):
            cum = [(INF if le == "+Inf" else float(le), c) for le, c in s.buckets(method, route)]
            row = rows["%s %s" % (method, route)]
            self.assertEqual(row["requests"], cum[-1][1], row)
            for q, k in ((0.50, "p50_us"), (0.95, "p95_us"), (0.99, "p99_us")):
                want = histogram_quantile(q, cum) * 1e6
                self.assertLessEqual(abs(row[k] - want), 1.0,
                                     "%s %s %s: /status says %d us, histogram_quantile %.1f us"
                                     % (method, route, k, row[k], want))


# ---- systemd's STATUS= -----------------------------------------------------------------------

class NotifyStatus(unittest.TestCase):
    """A millrace of our own (temp config and socket, no data backends) under a NOTIFY_SOCKET
    we bind, as systemd would."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mr-obs-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sock = os.path.join(self.dir, "millrace.sock")
        self.conf = os.path.join(self.dir, "millrace.conf")
        self.logf = os.path.join(self.dir, "millrace.log")
        lines = ['listen = "unix:%s";' % self.sock, 'listen_mode = "0666";', "workers = 2;",
                 'db = { primary = "host=127.0.0.1 port=1 dbname=millrace user=millrace '
                 'connect_timeout=1"; };', "cache = { port = 1; };"]
        if os.geteuid() == 0:
            lines.append("allow_root = true;")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.n.bind(self.notify_path)
        self.addCleanup(self.n.close)
        self.p = None

    def tearDown(self):
        if self.p is None:
            return
        kids = procs.children(self.p.pid)
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                for pid in [self.p.pid] + kids:
                    if procs.alive(pid):
                        os.kill(pid, signal.SIGKILL)
                self.p.wait(5)
        procs.wait_for(lambda: not any(procs.alive(k) for k in kids), 5,
                       what="the test millrace's children to exit")

    def recv(self, deadline):
        self.n.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            return self.n.recv(4096).decode()
        except socket.timeout:
            return None

    def test_status_line_carries_requests_per_second_and_p99(self):
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NOTIFY_SOCKET": self.notify_path}
        e.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})
        with open(self.logf, "ab") as logf:
            self.p = subprocess.Popen([env.millrace_bin(), "-c", self.conf], env=e,
                                      stdout=subprocess.DEVNULL, stderr=logf,
                                      start_new_session=True)
        t0 = time.monotonic()
        seen = []
        shape = re.compile(r"^STATUS=active (\d+), idle (\d+), requests (\d+), ([\d.]+) req/s, "
                           r"p99 ([\d.]+) ms$")

        def next_status(deadline):
            while True:
                msg = self.recv(deadline)
                if msg is None:
                    return None
                seen.append((round(time.monotonic() - t0, 2), msg))
                if msg.startswith("STATUS="):
                    m = shape.match(msg)
                    self.assertIsNotNone(m, "STATUS= of an unexpected shape: %r" % msg)
                    return m
        # The manager says STATUS= every 10 s, the first at its first tick: drive requests
        # after that one, so that the next covers them and only them.
        first = next_status(t0 + 5)
        self.assertIsNotNone(first, "no STATUS= within 5 s of start: %r" % seen)
        n = 60
        for _ in range(n):
            r = fcgi.request("GET", "/plaintext", path=self.sock, timeout=5)
            self.assertEqual(r.status, 200, r)
        t_first = next(t for t, m in seen if m == first.group(0))
        found = next_status(t0 + t_first + 11)
        self.assertIsNotNone(found, "no STATUS= within 11 s of the first: %r" % seen)
        print("\n      %s" % found.group(0), flush=True)
        self.assertEqual(int(found.group(3)) - int(first.group(3)), n, seen)
        rps = float(found.group(4))
        # n requests in a window of ~10 s (the line has one decimal).
        self.assertTrue(n / 11.0 - 0.05 <= rps <= n / 9.0 + 0.05,
                        "req/s %s for %d requests in ~10 s: %r" % (rps, n, seen))
        p99 = float(found.group(5))
        self.assertTrue(0.0 < p99 < 1000.0, "p99 %s ms for /plaintext" % p99)
        self.assertEqual((int(found.group(1)), int(found.group(2))), (0, 2), found.group(0))

if __name__ == "__main__":
    unittest.main()
