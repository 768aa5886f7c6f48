"""Kept FastCGI connections that lose nothing (app/serve/conns.h, README "nginx keepalive").

Each worker holds several kept connections and serves whichever is readable, so nginx's
upstream keepalive pool pins nobody. These tests drive GET and POST loads through nginx with
`keepalive` 2, 32 and 128 at 64 and 256 client connections while millrace reloads on SIGHUP,
recycles workers (max_requests 1000) and shrinks its pool (pm dynamic and ondemand): not one
502, not one failed or lost request. They report, without asserting a speed, the p99 of fast
requests mixed with 2% of 20 ms ones. And the idle flood: 200 connections to the FastCGI
socket that send nothing do not delay a well-formed request, and are closed after
read_timeout_ms.

The load goes to the stack's /kept/ location (fastcgi_keep_conn on); each case rewrites the
`keepalive N;` of var/nginx.conf, reloads nginx, and puts the file back afterwards."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from lib import env, fcgi, load, metrics, pm, procs
from lib.base import case, say

POST_LUA = os.path.join(env.VAR, "keepconn-post.lua")
NGINX_CONF = os.path.join(env.VAR, "nginx.conf")
ACCESS_LOG = os.path.join(env.LOG_DIR, "nginx-access.log")


def wrk(path, seconds, connections, post=False, timeout_s=5):
    """wrk through nginx, bounded in time; POST sends a 5-byte body to /test/echo."""
    url = "http://%s:%d%s" % (env.HTTP_HOST, env.HTTP_PORT, path)
    cmd = ["timeout", "-k", "5", str(seconds + 30), load.WRK, "-t2", "-c%d" % connections,
           "-d%ds" % seconds, "--timeout", "%ds" % timeout_s, "--latency"]
    if post:
        cmd += ["-s", POST_LUA]
    p = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=seconds + 60)
    r = load.WrkResult(p.stdout)
    m = re.search(r"^\s+99%\s+(\S+)", p.stdout, re.M)
    r.p99_s = load._duration(m.group(1)) if m else None
    r.returncode = p.returncode
    return r


def access_log_size():
    try:
        return os.path.getsize(ACCESS_LOG)
    except OSError:
        return 0


def statuses_since(mark, status):
    """Lines of nginx's access log for /kept/ written after mark with this status (the log is
    buffered for 1 s: the caller waits first; a restart's /healthz probe may land after the
    mark)."""
    with open(ACCESS_LOG, "rb") as f:
        f.seek(mark)
        text = f.read().decode("utf-8", "replace")
    return [l for l in text.splitlines() if ('" %d ' % status) in l and " /kept/" in l]


class Periodic:
    """Calls fn every `every` seconds in a thread while the block runs; counts the calls."""

    def __init__(self, every, fn):
        self.every, self.fn, self.calls = every, fn, 0
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.every):
            self.fn()
            self.calls += 1

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join(10)
        return False


class KeptConnections(pm.PmTestCase):
    def setUp(self):
        super().setUp()
        with open(NGINX_CONF) as f:
            self.nginx_conf = f.read()
        with open(POST_LUA, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = "hello"\n'
                    'wrk.headers["Content-Type"] = "application/octet-stream"\n')

    def tearDown(self):
        with open(NGINX_CONF, "w") as f:
            f.write(self.nginx_conf)
        self.reload_nginx()
        super().tearDown()

    def reload_nginx(self):
        os.kill(procs.nginx_pid(), signal.SIGHUP)
        time.sleep(1.0)  # the new nginx workers take over; the old ones finish theirs

    def nginx_keepalive(self, n):
        """Every upstream `keepalive N;` of the stack's nginx becomes n; nginx reloads."""
        text, count = re.subn(r"(?m)^(\s*)keepalive \d+;", r"\g<1>keepalive %d;" % n,
                              self.nginx_conf)
        self.assertGreater(count, 0, "no upstream keepalive line in var/nginx.conf")
        self.assertIn("non_idempotent", text, "the /kept/ location must retry POSTs that met "
                      "a kept connection millrace had closed unread (README)")
        with open(NGINX_CONF, "w") as f:
            f.write(text)
        self.reload_nginx()

    def check_clean(self, r, mark, what):
        """No request failed: every one answered, none with a 5xx, none a socket error."""
        with case(what=what):
            self.assertTrue(r.ok, r.text[-2000:])
            self.assertGreater(r.requests, 100, r)
            self.assertEqual(r.errors, 0, r)
            self.assertEqual(r.non2xx, 0, r)

    def assert_no_502(self, mark):
        time.sleep(1.5)  # nginx's access log flushes every second
        bad = statuses_since(mark, 502) + statuses_since(mark, 504) + statuses_since(mark, 500)
        self.assertEqual(bad, [], "nginx answered 5xx:\n%s\nnginx error log tail:\n%s"
                         % ("\n".join(bad[:10]), self.nginx_errors()))

    def nginx_errors(self):
        try:
            with open(os.path.join(env.LOG_DIR, "nginx-error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def test_get_and_post_lose_nothing_across_reloads_and_recycling(self):
        """GET and POST at 64 and 256 connections with keepalive 2, 32, 128, while the
        manager reloads every second and workers recycle every 1000 requests."""
        mgr = self.configure("max_requests = 1000;")
        mark_log = procs.log_mark()
        mark = access_log_size()
        before = closed_by_reason()
        total = 0
        for keepalive in (2, 32, 128):
            self.nginx_keepalive(keepalive)
            for conns in (64, 256):
                for post in (False, True):
                    path = "/kept/test/echo" if post else "/kept/plaintext"
                    with Periodic(1.0, lambda: os.kill(mgr, signal.SIGHUP)) as hups:
                        r = wrk(path, 3, conns, post=post)
                    what = "%s keepalive=%d c=%d" % ("POST" if post else "GET", keepalive, conns)
                    say("%s: %d requests, %d non-2xx, errors %r, %d reloads", what, r.requests,
                        r.non2xx, r.socket_errors, hups.calls)
                    self.check_clean(r, mark, what)
                    total += r.requests
        self.assert_no_502(mark)
        log = procs.log_since(mark_log)
        recycled = log.count("event=worker_recycled")
        say("%d requests in all; %d workers recycled", total, recycled)
        self.assertGreater(recycled, 0, "no worker recycled: the test proved nothing about it")
        self.assertTrue(procs.alive(mgr))
        # The reloads and recycles closed kept connections, and /metrics counted them.
        after = closed_by_reason()
        self.assertGreater(after["stopping"] - before["stopping"], 0, (before, after))

    def shrink_case(self, extra):
        mgr = self.configure(extra)
        self.nginx_keepalive(32)
        mark = access_log_size()
        with pm.PoolWatch(mgr) as watch:
            for burst in range(3):
                for post in (False, True):
                    path = "/kept/test/echo" if post else "/kept/plaintext"
                    big = wrk(path, 2, 256, post=post)
                    self.check_clean(big, mark, "burst %d post=%s c=256" % (burst, post))
                    # A trickle: most workers idle, and the pool shrinks under it.
                    small = wrk(path, 2, 2, post=post)
                    self.check_clean(small, mark, "trickle %d post=%s c=2" % (burst, post))
        self.assert_no_502(mark)
        say("%s: pool between %d and %d workers, %d worker pids seen", extra, watch.min(),
            watch.max(), len(watch.pids))
        self.assertLess(watch.min(), watch.max(), "the pool never shrank: nothing was proved")

    def test_pool_shrinking_ondemand_loses_nothing(self):
        self.shrink_case('pm = "ondemand"; workers = 6; idle_timeout_ms = 200;')

    def test_pool_shrinking_dynamic_loses_nothing(self):
        self.shrink_case('pm = "dynamic"; workers = 6; start_servers = 2; min_spare = 1; '
                         'max_spare = 1;')

    def test_slow_requests_mixed_in_report_p99_of_fast_ones(self):
        """2% of 20 ms requests among fast ones on the same kept connections: a fast request
        may wait behind a slow one on its worker. Reported, not asserted."""
        self.nginx_keepalive(32)
        mark = access_log_size()
        out = {}

        def slow():
            out["slow"] = wrk("/kept/test/sleep?ms=20", 5, 5)  # about 2% of the requests

        t = threading.Thread(target=slow)
        t.start()
        fast = wrk("/kept/plaintext", 5, 64)
        t.join(60)
        s = out["slow"]
        share = 100.0 * s.requests / max(1, s.requests + fast.requests)
        say("fast: %d requests, p99 %s ms, max %s ms; slow (20 ms): %d requests = %.1f%% of all",
            fast.requests, "%.1f" % (fast.p99_s * 1000) if fast.p99_s else "?",
            "%.1f" % (fast.latency_max_s * 1000) if fast.latency_max_s else "?", s.requests,
            share)
        self.check_clean(fast, mark, "fast")
        self.check_clean(s, mark, "slow")
        self.assert_no_502(mark)


HALF_REQUEST = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body(fcgi.KEEP_CONN)) + \
    fcgi.record(fcgi.PARAMS, fcgi.encode_params(fcgi.default_params()))[:40]


CLOSED = "millrace_fcgi_connections_closed_total"


def closed_by_reason():
    s = metrics.scrape(quiet_first=False)
    return {r: s.one(CLOSED, reason=r) for r in ("idle", "unanswered", "given_up", "stopping")}


class IdleFlood(pm.PmTestCase):
    def flood(self, extra, n=200, send=b"", per_worker=64):
        """n connections to the FastCGI socket, silent or sending `send`, held while
        requests are served, then closed by millrace after read_timeout_ms, as /metrics
        counts: each is held (millrace_fcgi_connections) up to the workers' slots (per_worker
        each), and closed as unanswered or given up for a newcomer."""
        self.configure(extra)
        slots = len(procs.workers(self.mgr)) * per_worker
        before = closed_by_reason()
        held = []
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(env.SOCKET)
                if send:
                    s.sendall(send)
                held.append(s)
            time.sleep(0.3)  # the workers have taken what they take
            holding = metrics.scrape(quiet_first=False).one("millrace_fcgi_connections")
            say("millrace_fcgi_connections %d (%d slots)", holding, slots)
            self.assertLessEqual(holding, slots)
            if n < slots:
                self.assertGreaterEqual(holding, n, "the flood's connections are not all held")
            t0 = time.monotonic()
            r = fcgi.request("GET", "/plaintext", timeout=5)
            took = time.monotonic() - t0
            say("%s: a request among %d %s connections answered in %.1f ms", extra, n,
                "half-sent" if send else "silent", took * 1000)
            self.assertEqual(r.status, 200, r)
            self.assertLess(took, 1.0, "a well-formed request waited behind silent ones")
            # Served through nginx too, while they are held.
            self.assert_serves("/plaintext", 3)
            # Closed after read_timeout_ms (1 s here): each sees EOF.
            deadline = time.monotonic() + 1.0 + 3.0
            open_left = list(held)
            while open_left and time.monotonic() < deadline:
                still = []
                for s in open_left:
                    s.setblocking(False)
                    try:
                        if s.recv(1) == b"":
                            continue
                    except BlockingIOError:
                        still.append(s)
                        continue
                    except OSError:
                        continue
                open_left = still
                time.sleep(0.1)
            say("%d of %d connections still open %.0f s after read_timeout_ms",
                len(open_left), n, 3.0)
            self.assertEqual(len(open_left), 0, "held connections were not closed")
            after = closed_by_reason()
            grew = {r: after[r] - before[r] for r in after}
            say("closed by millrace meanwhile: %r", grew)
            self.assertGreaterEqual(grew["unanswered"] + grew["given_up"], n, grew)
            if n > slots:
                self.assertGreater(grew["given_up"], 0, grew)
        finally:
            for s in held:
                s.close()
        self.assert_pool_normal(mgr=self.mgr)

    def test_silent_connections_within_capacity(self):
        self.flood("read_timeout_ms = 1000;")

    def test_silent_connections_beyond_capacity_are_given_up_first(self):
        """Fewer slots than silent connections: a full worker gives up its oldest silent
        connection for a newcomer."""
        self.flood("read_timeout_ms = 1000; max_conns_per_worker = 8;", per_worker=8)

    def test_half_sent_requests_block_no_worker(self):
        """Every connection sends part of a record and stops: none is handed to libfcgi
        before its request is whole, so none holds a worker (or its other connections)."""
        self.flood("read_timeout_ms = 1000;", n=100, send=HALF_REQUEST)
