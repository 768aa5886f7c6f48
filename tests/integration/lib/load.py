"""Bounded load against nginx on 127.0.0.1 only: wrk under a hard `timeout`, or a pool of
Python threads with keep-alive connections when each response must be checked."""
import collections
import re
import shutil
import subprocess
import threading
import time

from . import env, http

WRK = shutil.which("wrk")


class WrkResult:
    def __init__(self, text):
        self.text = text
        m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
        self.requests = int(m.group(1)) if m else 0
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        self.non2xx = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      text)
        self.socket_errors = dict(zip(("connect", "read", "write", "timeout"),
                                      map(int, m.groups()))) if m else {}
        m = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", text)
        self.latency_max_s = _duration(m.group(3)) if m else None
        self.ok = m is not None  # wrk printed its report

    @property
    def errors(self):
        return sum(self.socket_errors.values())

    def __repr__(self):
        return "<wrk requests=%d non2xx=%d socket_errors=%r max=%r>" % (
            self.requests, self.non2xx, self.socket_errors, self.latency_max_s)


def _duration(s):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", s)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def wrk(path, duration_s, connections, threads=2, timeout_s=2):
    """Runs wrk for duration_s against http://127.0.0.1:PORT{path}. wrk's own --timeout
    counts slower requests as socket errors (timeout); `timeout` bounds wrk itself."""
    url = "http://%s:%d%s" % (env.HTTP_HOST, env.HTTP_PORT, path)
    cmd = ["timeout", "-k", "5", str(duration_s + 30), WRK, "-t%d" % threads,
           "-c%d" % connections, "-d%ds" % duration_s, "--timeout", "%ds" % timeout_s,
           "--latency", url]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=duration_s + 60)
    r = WrkResult(p.stdout)
    r.returncode = p.returncode
    return r


class Sample:
    __slots__ = ("t", "status", "latency", "error", "body")

    def __init__(self, t, status, latency, error, body):
        self.t, self.status, self.latency, self.error, self.body = t, status, latency, error, body

    def __repr__(self):
        return "<Sample t=%.3f status=%r latency=%.3f error=%r>" % (
            self.t, self.status, self.latency, self.error)


class LoadResult:
    def __init__(self, samples, t0):
        self.samples = samples
        self.t0 = t0

    @property
    def statuses(self):
        return collections.Counter(s.status for s in self.samples if s.error is None)

    @property
    def errors(self):
        return [s for s in self.samples if s.error is not None]

    @property
    def failures(self):
        """Socket errors and non-2xx answers."""
        return [s for s in self.samples if s.error is not None or not 200 <= s.status < 300]

    @property
    def max_latency(self):
        return max((s.latency for s in self.samples), default=0.0)

    def after(self, t):
        """Samples of requests started at or after monotonic time t."""
        return [s for s in self.samples if s.t >= t]

    def summary(self):
        return "%d requests, statuses %r, %d socket errors (first: %r), max latency %.3fs" % (
            len(self.samples), dict(self.statuses), len(self.errors),
            self.errors[:3], self.max_latency)


class Load:
    """Threads with keep-alive connections requesting `path` until stopped or duration_s.
    Use as a context manager, or start()/stop(). Every response is recorded."""

    def __init__(self, path="/json", concurrency=8, duration_s=30.0, timeout_s=10.0,
                 keep_body=False, method="GET", port=None):
        self.path = path
        self.port = port  # None: the stack's nginx
        self.method = method
        self.concurrency = concurrency
        self.duration_s = duration_s
        self.timeout_s = timeout_s
        self.keep_body = keep_body
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._samples = []
        self._threads = []
        self.t0 = None

    def _run(self):
        c = http.KeepAlive(timeout=self.timeout_s, port=self.port)
        deadline = self.t0 + self.duration_s
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                t = time.monotonic()
                try:
                    r = c.request(self.method, self.path)
                    s = Sample(t, r.status, time.monotonic() - t, None,
                               r.body if self.keep_body else None)
                except Exception as e:  # a socket error is a result, not a crash
                    s = Sample(t, None, time.monotonic() - t, repr(e), None)
                with self._lock:
                    self._samples.append(s)
        finally:
            c.close()

    def start(self):
        self.t0 = time.monotonic()
        for _ in range(self.concurrency):
            th = threading.Thread(target=self._run, daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def stop(self):
        self._stop.set()
        for th in self._threads:
            th.join(self.timeout_s + 5)
        with self._lock:
            return LoadResult(list(self._samples), self.t0)

    def wait(self):
        """Waits until duration_s is over, then stops."""
        for th in self._threads:
            th.join(max(0.0, self.t0 + self.duration_s - time.monotonic()) + self.timeout_s + 5)
        return self.stop()

    def count(self):
        with self._lock:
            return len(self._samples)

    def since(self, t):
        """The samples so far of requests started at or after monotonic time t."""
        with self._lock:
            return [s for s in self._samples if s.t >= t]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class Summary:
    """What the load tests assert on, whichever generator produced it."""

    def __init__(self, tool, requests, non2xx, errors, max_latency_s, detail):
        self.tool = tool
        self.requests = requests
        self.non2xx = non2xx
        self.errors = errors
        self.max_latency_s = max_latency_s
        self.detail = detail

    def __repr__(self):
        return "<%s load: %d requests, %d non-2xx, %d socket errors, max latency %s>\n%s" % (
            self.tool, self.requests, self.non2xx, self.errors, self.max_latency_s,
            self.detail)


def http_load(path, duration_s, connections, timeout_s=2):
    """`connections` concurrent keep-alive clients on `path` for duration_s: wrk when it is
    installed (make deps installs it), else Python threads. A request slower than timeout_s
    counts as a socket error."""
    if WRK:
        r = wrk(path, duration_s, connections, threads=min(4, connections), timeout_s=timeout_s)
        if not r.ok:
            raise AssertionError("wrk printed no report (exit %r):\n%s" % (r.returncode, r.text))
        return Summary("wrk", r.requests, r.non2xx, r.errors, r.latency_max_s, r.text)
    res = Load(path, concurrency=connections, duration_s=duration_s,
               timeout_s=timeout_s).start().wait()
    non2xx = sum(1 for s in res.samples if s.error is None and not 200 <= s.status < 300)
    return Summary("python", len(res.samples), non2xx, len(res.errors), res.max_latency,
                   res.summary())


def drive(work, threads=4):
    """Sends every (method, path) of `work` through nginx on keep-alive connections; returns
    a Counter of (method, path, status)."""
    todo = list(work)
    lock = threading.Lock()
    seen = collections.Counter()
    errors = []

    def run():
        c = http.KeepAlive(timeout=10)
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    method, path = todo.pop()
                try:
                    r = c.request(method, path, body=b"" if method == "POST" else None)
                except Exception as e:  # a socket error is a result, to report
                    with lock:
                        errors.append((method, path, repr(e)))
                    continue
                with lock:
                    seen[(method, path, r.status)] += 1
        finally:
            c.close()
    ths = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    if errors:
        raise AssertionError("%d requests failed at the socket: %r" % (len(errors), errors[:5]))
    return seen


def in_background(path, n, timeout):
    """Starts n daemon threads that each GET path once through nginx (e.g. /test/sleep, to
    keep workers busy); returns (threads, results): results gets each status code, or the repr
    of an error, as they finish."""
    results = []

    def one():
        try:
            results.append(http.get(path, timeout=timeout).status)
        except Exception as e:
            results.append(repr(e))
    ths = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for t in ths:
        t.start()
    return ths, results
