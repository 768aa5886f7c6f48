"""The data behind millrace, read directly: PostgreSQL through `stack.py psql`, Redis through a
tiny RESP client (binary-safe, so the cache's value envelope can be decoded), /readyz
through nginx. Standard library only; every call is bounded in time."""
import concurrent.futures
import json
import os
import threading
import socket
import struct
import subprocess
import time

from . import env, http, procs

# ---- PostgreSQL -----------------------------------------------------------------------------


def psql(sql, replica=False, superuser=False, timeout=30):
    """Runs SQL through scripts/stack.py psql (as millrace, or as postgres); returns the rows
    as lists of strings (unaligned, tuples only). Raises on failure."""
    args = [env.STACK, "psql"] + (["replica"] if replica else [])
    if superuser:
        args += ["-U", "postgres", "-d", "postgres"]
    args += ["-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    p = subprocess.run(args, cwd=env.ROOT, timeout=timeout, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
    if p.returncode != 0:
        raise AssertionError("psql %r exited %d: %s" % (sql, p.returncode, p.stderr.strip()))
    return [line.split("\t") for line in p.stdout.splitlines() if line != ""]


def worlds(ids=None, replica=False):
    """{id: randomnumber} from the primary (or the replica), for ids or for every row."""
    where = ""
    if ids is not None:
        ids = sorted(set(int(i) for i in ids))
        if not ids:
            return {}
        where = " WHERE id IN (%s)" % ",".join(str(i) for i in ids)
    rows = psql("SELECT id, randomnumber FROM world" + where, replica=replica)
    return {int(a): int(b) for a, b in rows}


def primary_flushed_lsn():
    """Flushes everything the primary has written and returns the WAL position that covers
    it. The local stack runs with synchronous_commit = off, so a commit can sit unflushed (and
    unsent) for a while, and a synchronous commit of a transaction that wrote nothing flushes
    nothing; pg_switch_wal() flushes all of it and returns where it ended."""
    return int(float(psql("SELECT pg_switch_wal() - '0/0'::pg_lsn", superuser=True)[0][0]))


def replica_replayed():
    return int(float(psql("SELECT coalesce(pg_last_wal_replay_lsn() - '0/0'::pg_lsn, -1)",
                          replica=True)[0][0]))


def wait_replica_caught_up(timeout=15):
    """Waits until the replica has replayed every commit made on the primary so far."""
    target = primary_flushed_lsn()
    procs.wait_for(lambda: replica_replayed() >= target, timeout, interval=0.1,
                   what="the replica to replay up to the primary's WAL position")


def pause_replay():
    """Stops the replica replaying WAL (as postgres): it keeps receiving, and lags."""
    psql("SELECT pg_wal_replay_pause()", replica=True, superuser=True)


def resume_replay():
    psql("SELECT pg_wal_replay_resume()", replica=True, superuser=True)


class ReplayPausing:
    """A TestCase mixin, listed before the TestCase: self.pause_replay() and
    self.resume_replay(), and a tearDown that resumes a replay a test left paused, whatever it
    failed on, so that the next test finds a replica that replays."""

    def setUp(self):
        super().setUp()
        self.replay_paused = False

    def tearDown(self):
        try:
            if self.replay_paused:
                resume_replay()
        finally:
            super().tearDown()

    def pause_replay(self):
        pause_replay()
        self.replay_paused = True

    def resume_replay(self):
        resume_replay()
        self.replay_paused = False


# ---- Redis ----------------------------------------------------------------------------------


class Redis:
    """A minimal RESP2 client: enough for GET/MGET/PTTL/DEL/SCAN. Values come back as bytes."""

    def __init__(self, port=None, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port or env.REDIS_PORT),
                                             timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise AssertionError("redis error: %s" % rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise AssertionError("bad RESP reply %r" % line)

    def pipeline(self, cmds):
        out = bytearray()
        for cmd in cmds:
            parts = [c if isinstance(c, bytes) else str(c).encode() for c in cmd]
            out += b"*%d\r\n" % len(parts)
            for p in parts:
                out += b"$%d\r\n%s\r\n" % (len(p), p)
        self.sock.sendall(bytes(out))
        return [self._reply() for _ in cmds]

    def cmd(self, *args):
        return self.pipeline([args])[0]

    def keys(self, pattern):
        cursor, out = b"0", []
        while True:
            cursor, batch = self.cmd("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            out += batch
            if cursor == b"0":
                return out

    def delete_pattern(self, pattern):
        ks = self.keys(pattern)
        for i in range(0, len(ks), 500):
            self.cmd("DEL", *ks[i:i + 500])
        return len(ks)


KEY_PREFIX = "mr:"
ENV_MAGIC = 0xF5
ENV_HEADER = 18
MASK = b"\xf5M"  # a stale key's stand-in (mr_cache_stale): reads as a miss


def world_key(i):
    return "%sw:%d" % (KEY_PREFIX, i)


def decode_envelope(raw):
    """(delta_us, expiry_ms, payload bytes) of millrace's cache value (cache/internal.h),
    or raises AssertionError naming what is wrong."""
    if raw is None or len(raw) < ENV_HEADER:
        raise AssertionError("cache value too short: %r" % (raw,))
    if raw[0] != ENV_MAGIC or raw[1] != 1:
        raise AssertionError("cache value magic/version %r" % raw[:2])
    delta_us, expiry_ms, n = struct.unpack("<IqI", raw[2:ENV_HEADER])
    payload = raw[ENV_HEADER:]
    if n != len(payload):
        raise AssertionError("cache envelope says %d payload bytes, has %d" % (n, len(payload)))
    return delta_us, expiry_ms, payload


def cached_worlds(r, ids):
    """{id: randomnumber} of the ids whose key holds a value in Redis (decoded envelope); a
    key masked by mr_cache_stale holds none."""
    ids = list(ids)
    if not ids:
        return {}
    vals = r.cmd("MGET", *[world_key(i) for i in ids])
    out = {}
    for i, v in zip(ids, vals):
        if v is not None and v != MASK:
            out[i] = int(decode_envelope(v)[2])
    return out


# ---- millrace's own view (the /metrics series are in lib/metrics.py) ------------------


def readyz():
    """(status, parsed body) of GET /readyz."""
    r = http.get("/readyz", timeout=5)
    return r.status, json.loads(r.body)


def all_up():
    st, body = readyz()
    b = body.get("backends", {})
    return st == 200 and b and all(v == "up" for v in b.values())


def wait_all_up(timeout=20):
    """Waits until /readyz is 200 with every backend up."""
    procs.wait_for(all_up, timeout, interval=0.1, what="/readyz with every backend up")


def backend_state(name):
    return readyz()[1].get("backends", {}).get(name)


def wait_backend(name, state, timeout=10):
    procs.wait_for(lambda: backend_state(name) == state, timeout, interval=0.05,
                   what="/readyz to show %s %s" % (name, state))


def timed_get(path, conn=None, timeout=10):
    """(Response, seconds)."""
    t = time.monotonic()
    r = conn.request("GET", path) if conn else http.get(path, timeout=timeout)
    return r, time.monotonic() - t


def fetch_all(paths, concurrency=8, timeout=10):
    """GETs every path with `concurrency` threads, each on its own keep-alive connection.
    Returns [(path, Response or None, seconds, error or None)] in the order of paths."""
    local = threading.local()
    conns = []
    lock = threading.Lock()

    def one(path):
        c = getattr(local, "conn", None)
        if c is None:
            c = local.conn = http.KeepAlive(timeout=timeout)
            with lock:
                conns.append(c)
        t = time.monotonic()
        try:
            r = c.request("GET", path)
            return path, r, time.monotonic() - t, None
        except Exception as e:  # a socket error is a result
            return path, None, time.monotonic() - t, repr(e)
    try:
        with concurrent.futures.ThreadPoolExecutor(concurrency) as ex:
            return list(ex.map(one, paths))
    finally:
        for c in conns:
            c.close()
