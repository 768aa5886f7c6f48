#!/usr/bin/env python3
"""fcgi_fuzz.py: the end-to-end fuzzer of millrace's FastCGI side, the part that
reads untrusted bytes from the socket.

For a bounded time it sends random and mutated FastCGI records to a running millrace's
socket from several threads, one connection at a time each, every connection with a socket
timeout. Cases start from well-formed requests and are mutated at every layer: the params
(odd names and values, CONTENT_LENGTH, NUL bytes, invalid UTF-8, long values), their
name-value length encodings (4-byte forms of short lengths, lengths past the end, huge
lengths), the records (version, type, request id, content and padding lengths, splitting,
dropping, duplicating, reordering, a second BEGIN_REQUEST, ABORT_REQUEST, GET_VALUES,
unknown types, a stream never ended), the bytes (flips, inserts, deletes, truncation), and
the connection (several requests on one FCGI_KEEP_CONN connection, sent in turn or
pipelined; abrupt close or reset; a slow drip of small writes, bounded in time).

While it runs, and after, it checks millrace's log (var/log/millrace.log, from the moment it
started): any worker that exited by a signal or unplanned, any worker killed as stuck, any
AddressSanitizer/UBSan/LeakSanitizer report is a finding. A well-formed request that is not
answered is one too. After the run: the manager is the same process and alive, the pool is
full again (replaced pids allowed), every worker is idle (waiting in epoll_wait) within
read_timeout_ms + 2 s, and a good /json request succeeds. Exit status 1 on any finding.

On a finding the cases sent in the seconds before it are saved as JSON under
build/fuzz/fcgi/finding-<time>/ (steps: send bytes, sleep, half-close, reset); replay them
with --replay FILE_OR_DIR. Reproducers worth keeping go to tests/fuzz/regressions/fcgi/,
and `--replay tests/fuzz/regressions/fcgi` runs them.

    tests/fuzz/fcgi_fuzz.py [--seconds N] [--seed N] [--threads N] [--socket PATH|127.0.0.1:PORT]
    tests/fuzz/fcgi_fuzz.py --replay tests/fuzz/regressions/fcgi

Environment: FCGI_FUZZ_SECONDS (default 60), FCGI_FUZZ_SEED. Loopback only: a TCP socket
must be on 127.0.0.1 or ::1. Python 3 standard library only.
"""
import argparse
import collections
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from lib import env, fcgi, procs  # noqa: E402
from lib.base import SANITIZER_MARKERS  # noqa: E402

ARTIFACTS = os.path.join(env.ROOT, "build", "fuzz", "fcgi")

# ---- the target -----------------------------------------------------------------------------


class Target:
    def __init__(self, spec):
        spec = spec or env.SOCKET
        if spec.startswith("unix:"):
            spec = spec[5:]
        if "/" in spec:
            self.family, self.addr = socket.AF_UNIX, spec
        else:
            host, _, port = spec.rpartition(":")
            host = host.strip("[]")
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise SystemExit("fcgi_fuzz: loopback only, not %r" % host)
            self.family = socket.AF_INET6 if host == "::1" else socket.AF_INET
            self.addr = (host if host != "localhost" else "127.0.0.1", int(port))
        self.spec = spec

    def connect(self, timeout):
        s = socket.socket(self.family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.addr)
        return s


# ---- building well-formed requests ----------------------------------------------------------

ROUTES = ["/json", "/json", "/plaintext", "/plaintext", "/healthz", "/db", "/queries",
          "/cached-queries", "/fortunes", "/updates", "/readyz", "/status", "/metrics",
          "/test/echo", "/test/echo", "/nope", "/", "/json/", "//json", "/JSON"]
METHODS = ["GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "", "get",
           "GET ", "G\x00T", "X" * 300]
QUERY_PIECES = ["queries=1", "queries=20", "queries=0", "queries=-5", "queries=999999999999",
                "queries=abc", "count=3", "count=501", "ms=1", "q=%C3%A9", "q=%zz", "q=%",
                "q=%0", "q=%00", "q=%FF", "q=%C0%AF", "q=%ED%A0%80", "a+b=c+d", "=", "&&",
                "a=1&a=2", "full", "json", "x=" + "y" * 100, "%41=%42", "\xff=1"]
HEADERS = ["HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_X_FORWARDED_FOR",
           "HTTP_CONNECTION", "HTTP_COOKIE", "HTTP_CONTENT_TYPE", "HTTP_X_REQUEST_ID"]


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def rand_text(rng, lo=0, hi=40):
    n = rng.randint(lo, hi)
    kind = rng.random()
    if kind < 0.5:
        return "".join(rng.choice("abcxyz019-_./%=&?+ ") for _ in range(n)).encode()
    if kind < 0.7:
        return ("é😀\u0000\u202e<>\"'\\".encode() * (n // 4 + 1))[:n]
    return rand_bytes(rng, n)


def rand_query(rng):
    r = rng.random()
    if r < 0.15:
        return b""
    if r < 0.7:
        return "&".join(rng.choice(QUERY_PIECES) for _ in range(rng.randint(1, 5))).encode(
            "latin-1")
    if r < 0.8:
        return b"&".join(b"p%d=1" % i for i in range(rng.choice([63, 64, 65, 200])))
    if r < 0.9:
        return b"a=" + b"x" * rng.choice([4093, 4094, 4095, 5000, 20000])
    return rand_text(rng, 0, 200)


def rand_params(rng, body_len):
    """A realistic params list (names and values as bytes), sometimes odd."""
    method = rng.choice(METHODS)
    path = rng.choice(ROUTES)
    if method == "POST" and rng.random() < 0.7:
        path = "/test/echo"
    query = rand_query(rng)
    uri = path.encode() + (b"?" + query if query else b"")
    p = [(b"GATEWAY_INTERFACE", b"CGI/1.1"), (b"SERVER_PROTOCOL", b"HTTP/1.1"),
         (b"REQUEST_METHOD", method.encode("latin-1")), (b"REQUEST_URI", uri),
         (b"DOCUMENT_URI", path.encode()), (b"SCRIPT_NAME", path.encode()),
         (b"QUERY_STRING", query), (b"REMOTE_ADDR", b"127.0.0.1"),
         (b"SERVER_NAME", b"localhost"), (b"REQUEST_ID", b"fuzz%08x" % rng.getrandbits(32))]
    if body_len or rng.random() < 0.2:
        cl = str(body_len).encode()
        if rng.random() < 0.25:
            cl = rng.choice([b"-1", b"", b"abc", b"0x10", b" 5", b"5 ", b"99999999999999999999",
                             b"2147483648", b"1048577", str(body_len + 1).encode(),
                             str(max(0, body_len - 1)).encode(), b"+3", b"00012"])
        p.append((b"CONTENT_LENGTH", cl))
        p.append((b"CONTENT_TYPE", b"application/octet-stream"))
    for _ in range(rng.choice([0, 0, 1, 3, 10])):
        p.append((rng.choice(HEADERS).encode(), rand_text(rng)))
    r = rng.random()
    if r < 0.05:
        p += [(b"HTTP_X_F%d" % i, b"v") for i in range(rng.choice([240, 256, 300, 1000]))]
    elif r < 0.1:
        p.append((b"HTTP_X_BIG", b"h" * rng.choice([8191, 8192, 8193, 70000])))
    elif r < 0.15:
        p += [(b"X_PAD_%d" % i, b"p" * 4000) for i in range(rng.choice([15, 16, 17, 40]))]
    elif r < 0.3:
        # Odd names and values: empty, '=' inside, NUL inside, duplicates, very long names.
        for _ in range(rng.randint(1, 4)):
            k = rng.choice([b"", b"=", b"A=B", b"REQUEST_METHOD", b"DOCUMENT_URI",
                            b"QUERY_STRING", b"CONTENT_LENGTH", b"HTTP_", b"N\x00UL",
                            b"\xff\xfe", b"X" * rng.choice([127, 128, 129, 5000])])
            p.append((k, rand_text(rng, 0, 300)))
    elif r < 0.35:
        drop = rng.choice([b"REQUEST_METHOD", b"DOCUMENT_URI", b"REQUEST_URI", b"QUERY_STRING"])
        p = [kv for kv in p if kv[0] != drop]
    if rng.random() < 0.1:
        rng.shuffle(p)
    return p


def enc_len(n, rng=None, odd=False):
    if n < 128 and not (odd and rng and rng.random() < 0.5):
        return struct.pack("!B", n)
    return struct.pack("!I", (n & 0x7FFFFFFF) | 0x80000000)


def encode_params(rng, params, odd):
    """The name-value pairs; with odd, some length encodings are unusual or lies."""
    out = []
    for k, v in params:
        kl, vl = enc_len(len(k), rng, odd), enc_len(len(v), rng, odd)
        if odd and rng.random() < 0.08:
            choice = rng.random()
            if choice < 0.3:
                kl = struct.pack("!I", 0x80000000 | rng.choice([0x7FFFFFFF, 0x10000, 70000]))
            elif choice < 0.6:
                vl = struct.pack("!I", 0x80000000 | rng.choice([0x7FFFFFFF, len(v) + 1000]))
            elif choice < 0.8:
                vl = struct.pack("!B", min(127, len(v) + rng.randint(1, 20)))
            else:
                kl = b"\x80\x00"  # a 4-byte length cut short
        out.append(kl + vl + k + v)
    return b"".join(out)


class Rec:
    __slots__ = ("version", "type", "rid", "content", "clen", "plen", "padding")

    def __init__(self, rtype, content=b"", rid=1):
        self.version, self.type, self.rid, self.content = 1, rtype, rid, content
        self.clen, self.plen, self.padding = None, 0, b""

    def bytes(self):
        clen = len(self.content) if self.clen is None else self.clen
        return struct.pack("!BBHHBB", self.version, self.type, self.rid & 0xFFFF,
                           clen & 0xFFFF, self.plen & 0xFF, 0) + self.content + self.padding


def stream_records(rng, rtype, data, rid, split):
    recs = []
    i = 0
    while i < len(data):
        n = min(len(data) - i, rng.randint(1, 200) if split else 65535)
        recs.append(Rec(rtype, data[i:i + n], rid))
        i += n
    recs.append(Rec(rtype, b"", rid))
    if rng.random() < 0.15:
        for r in recs:  # legal padding
            r.plen = rng.randint(0, 7)
            r.padding = b"\0" * r.plen
    return recs


def request_records(rng, rid=1, keep=False, odd=False):
    """A well-formed request as records (odd: unusual but legal or illegal encodings)."""
    body = b""
    if rng.random() < 0.3:
        body = rand_text(rng, 0, rng.choice([10, 1000, 70000]))
    params = rand_params(rng, len(body))
    flags = fcgi.KEEP_CONN if keep else (fcgi.KEEP_CONN if rng.random() < 0.1 else 0)
    recs = [Rec(fcgi.BEGIN_REQUEST, fcgi.begin_body(fcgi.RESPONDER, flags), rid)]
    recs += stream_records(rng, fcgi.PARAMS, encode_params(rng, params, odd), rid,
                           split=rng.random() < 0.2)
    recs += stream_records(rng, fcgi.STDIN, body, rid, split=rng.random() < 0.2)
    return recs


# ---- mutators -------------------------------------------------------------------------------

def mutate_records(rng, recs):
    """One structural change to the record list; returns a name for it."""
    if not recs:
        return "none"
    i = rng.randrange(len(recs))
    r = recs[i]
    m = rng.randrange(16)
    if m == 0:
        r.version = rng.choice([0, 2, 3, 255])
        return "version"
    if m == 1:
        r.type = rng.choice([0, 3, 6, 7, 8, 10, 11, 12, 255])
        return "type"
    if m == 2:
        r.rid = rng.choice([0, 2, 3, 255, 65535])
        return "request_id"
    if m == 3:
        r.clen = rng.choice([0, 1, 7, 8, 9, len(r.content) + 1, max(0, len(r.content) - 1),
                             65535])
        return "content_length_lie"
    if m == 4:
        r.plen = rng.randint(1, 255)
        r.padding = b"" if rng.random() < 0.5 else rand_bytes(rng, rng.randint(0, r.plen))
        return "padding_lie"
    if m == 5:
        del recs[i]
        return "drop"
    if m == 6:
        recs.insert(i, Rec(r.type, r.content, r.rid))
        return "duplicate"
    if m == 7:
        j = rng.randrange(len(recs))
        recs[i], recs[j] = recs[j], recs[i]
        return "swap"
    if m == 8:
        recs.insert(rng.randint(0, len(recs)), Rec(fcgi.BEGIN_REQUEST, fcgi.begin_body(
            rng.choice([1, 1, 2, 3, 0, 9]), rng.choice([0, 1, 255])), rng.choice([1, 1, 2])))
        return "second_begin"
    if m == 9:
        recs.insert(rng.randint(0, len(recs)), Rec(fcgi.ABORT_REQUEST, b"", r.rid))
        return "abort"
    if m == 10:
        names = [b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS", b"X" * 300]
        body = fcgi.encode_params([(rng.choice(names), b"") for _ in range(rng.randint(1, 4))])
        recs.insert(rng.randint(0, len(recs)), Rec(fcgi.GET_VALUES, body,
                                                   rng.choice([0, 0, 1])))
        return "get_values"
    if m == 11:
        recs.insert(rng.randint(0, len(recs)), Rec(rng.choice([0, 12, 99, 255]),
                                                   rand_bytes(rng, rng.randint(0, 64)), r.rid))
        return "unknown_type"
    if m == 12:
        # The stream is never ended: drop its empty terminator.
        ends = [k for k, x in enumerate(recs) if x.type in (fcgi.PARAMS, fcgi.STDIN)
                and not x.content]
        if ends:
            del recs[rng.choice(ends)]
        return "unterminated_stream"
    if m == 13:
        r.content = rand_bytes(rng, len(r.content))
        return "random_content"
    if m == 14:
        # A BEGIN_REQUEST body of the wrong size.
        r2 = recs[0]
        r2.content = r2.content[:rng.randint(0, 7)] if rng.random() < 0.5 else \
            r2.content + rand_bytes(rng, rng.randint(1, 20))
        return "begin_size"
    recs.insert(rng.randint(0, len(recs)), Rec(fcgi.PARAMS, b"", r.rid))
    return "early_params_end"


def mutate_bytes(rng, data):
    if not data:
        return data, "empty"
    b = bytearray(data)
    m = rng.randrange(7)
    if m == 0:
        for _ in range(rng.randint(1, 8)):
            k = rng.randrange(len(b))
            b[k] ^= 1 << rng.randrange(8)
        return bytes(b), "bitflip"
    if m == 1:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.getrandbits(8)])
        return bytes(b), "byte_set"
    if m == 2:
        k = rng.randrange(len(b) + 1)
        return bytes(b[:k]) + rand_bytes(rng, rng.randint(1, 64)) + bytes(b[k:]), "insert"
    if m == 3:
        k = rng.randrange(len(b))
        return bytes(b[:k]) + bytes(b[k + rng.randint(1, 64):]), "delete"
    if m == 4:
        k = rng.randrange(len(b))
        n = rng.randint(1, 200)
        return bytes(b[:k]) + bytes(b[k:k + n]) * 2 + bytes(b[k + n:]), "duplicate_range"
    if m == 5:
        return bytes(b[:rng.randrange(len(b))]), "truncate"
    # Overwrite an 8-byte aligned spot with a plausible record header.
    k = rng.randrange(0, len(b), 8) if len(b) >= 8 else 0
    hdr = struct.pack("!BBHHBB", 1, rng.choice([1, 2, 4, 5, 9, 11]), rng.choice([0, 1, 2]),
                      rng.choice([0, 8, 0xFFFF]), rng.choice([0, 255]), 0)
    return bytes(b[:k]) + hdr + bytes(b[k + 8:]), "header_overwrite"


# ---- cases ----------------------------------------------------------------------------------

class Case:
    """One connection's script. steps: ("send", bytes) | ("sleep", s) | ("shut",) |
    ("rst",) | ("close",); then, unless it ended with rst/close, the replies are read until
    `expect` END_REQUESTs arrived, EOF, or `wait` seconds."""

    def __init__(self, kind):
        self.kind = kind
        self.steps = []
        self.expect = 0
        self.wait = 1.5
        self.valid = False  # unmutated well-formed requests: each must be answered
        self.t = 0.0

    def to_json(self):
        steps = [[s[0], s[1].hex()] if s[0] == "send" else list(s) for s in self.steps]
        return {"kind": self.kind, "expect": self.expect, "wait": self.wait,
                "valid": self.valid, "steps": steps}

    @staticmethod
    def from_json(d):
        c = Case(d.get("kind", "replay"))
        c.expect, c.wait, c.valid = d.get("expect", 0), d.get("wait", 1.5), d.get("valid", False)
        c.steps = [("send", bytes.fromhex(s[1])) if s[0] == "send" else tuple(s)
                   for s in d["steps"]]
        return c


def drip(rng, data, budget_s=0.4):
    """Splits data into small writes with small sleeps, bounded to budget_s in all."""
    steps = []
    i = 0
    n_chunks = max(1, min(40, len(data)))
    pause = budget_s / n_chunks
    while i < len(data):
        n = rng.randint(1, max(1, len(data) // n_chunks + 1))
        steps.append(("send", data[i:i + n]))
        steps.append(("sleep", round(rng.uniform(0, pause), 4)))
        i += n
    return steps


def make_case(rng):
    r = rng.random()
    if r < 0.08:
        c = Case("valid")
        c.steps = [("send", b"".join(x.bytes() for x in request_records(rng)))]
        c.expect, c.valid, c.wait = 1, True, 8.0
        if rng.random() < 0.5:
            c.steps.append(("shut",))
        return c
    if r < 0.18:
        # Several requests on one FCGI_KEEP_CONN connection, each sent after the previous
        # answer (as nginx does), or all at once. Pipelining is outside the protocol without
        # FCGI_MPXS_CONNS: libfcgi buffers and drops what follows the first request, so only
        # the first answer is expected then (the rest is a stall, bounded by read_timeout).
        n = rng.randint(2, 5)
        reqs = [b"".join(x.bytes() for x in request_records(rng, keep=True)) for _ in range(n)]
        mutated = rng.random() < 0.4
        if mutated:
            k = rng.randrange(n)
            reqs[k] = mutate_bytes(rng, reqs[k])[0]
        pipelined = rng.random() < 0.3
        c = Case("keepconn_%s_%s" % ("pipelined" if pipelined else "in_turn",
                                     "mutated" if mutated else "valid"))
        c.steps = [("send", b"".join(reqs))] if pipelined else [("send", q) for q in reqs]
        c.steps.append(("shut",))
        c.expect = 1 if pipelined else n
        c.valid = not mutated and not pipelined
        c.wait = 8.0 if c.valid else 2.0
        return c
    if r < 0.23:
        c = Case("random_bytes")
        c.steps = [("send", rand_bytes(rng, rng.choice([1, 7, 8, 9, 64, 4096]))), ("shut",)]
        return c
    if r < 0.30:
        c = Case("records_random")
        recs = [Rec(rng.randint(0, 12), rand_bytes(rng, rng.randint(0, 100)),
                    rng.choice([0, 1, 2])) for _ in range(rng.randint(1, 6))]
        c.steps = [("send", b"".join(x.bytes() for x in recs)), ("shut",)]
        return c
    recs = request_records(rng, odd=rng.random() < 0.3)
    names = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        names.append(mutate_records(rng, recs))
    data = b"".join(x.bytes() for x in recs)
    if rng.random() < 0.35 or not names:
        data, n = mutate_bytes(rng, data)
        names.append(n)
    c = Case("mutated:" + ",".join(names))
    e = rng.random()
    if e < 0.1:
        c.kind += ",drip"
        c.steps = drip(rng, data) + [("shut",)]
    elif e < 0.2:
        c.kind += ",abrupt_close"
        c.steps = [("send", data[:rng.randint(0, len(data))]), ("close",)]
    elif e < 0.27:
        c.kind += ",reset"
        c.steps = [("send", data), ("sleep", round(rng.uniform(0, 0.05), 4)), ("rst",)]
    elif e < 0.35:
        c.kind += ",no_half_close"
        c.steps = [("send", data)]
        c.wait = 0.5
    else:
        c.steps = [("send", data), ("shut",)]
    c.expect = 1
    return c


# ---- running cases --------------------------------------------------------------------------

class Outcome:
    def __init__(self):
        self.data = b""
        self.ends = 0
        self.statuses = []
        self.error = None
        self.closed = False


def count_replies(data, out):
    """END_REQUESTs and the Status of each STDOUT stream, in the bytes so far."""
    i = 0
    ends = 0
    stdout = collections.defaultdict(bytes)
    statuses = []
    while len(data) - i >= 8:
        _, t, rid, clen, plen, _ = struct.unpack("!BBHHBB", data[i:i + 8])
        if len(data) - i < 8 + clen + plen:
            break
        content = data[i + 8:i + 8 + clen]
        if t == fcgi.STDOUT:
            stdout[rid] += content
        elif t == fcgi.END_REQUEST:
            ends += 1
            m = re.match(rb"Status: (\d+)", stdout.pop(rid, b""))
            statuses.append(int(m.group(1)) if m else 200)
        i += 8 + clen + plen
    out.ends, out.statuses = ends, statuses


def run_case(target, case, conn_timeout=3.0):
    out = Outcome()
    try:
        s = target.connect(conn_timeout)
    except OSError as e:
        out.error = "connect: %r" % e
        return out
    try:
        ended = False
        for st in case.steps:
            if st[0] == "send":
                try:
                    s.sendall(st[1])
                except socket.timeout:
                    out.error = "send timed out"
                    return out
                except OSError:
                    out.closed = True  # the server closed or reset: fine
                    return out
                if case.expect > 1 and len([x for x in case.steps if x[0] == "send"]) > 1:
                    _read(s, out, case, min(case.wait, 3.0), until=out.ends + 1)
            elif st[0] == "sleep":
                time.sleep(float(st[1]))
            elif st[0] == "shut":
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            elif st[0] == "rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                ended = True
                break
            elif st[0] == "close":
                ended = True
                break
        if not ended:
            _read(s, out, case, case.wait, until=case.expect)
    finally:
        s.close()
    return out


def _read(s, out, case, wait, until):
    deadline = time.monotonic() + wait
    while True:
        count_replies(out.data, out)
        if until and out.ends >= until:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            return
        s.settimeout(left)
        try:
            c = s.recv(65536)
        except socket.timeout:
            return
        except OSError:
            out.closed = True
            return
        if not c:
            out.closed = True
            count_replies(out.data, out)
            return
        out.data += c


# ---- the watcher: the log, the manager, findings --------------------------------------------

FINDING_PATTERNS = [
    (re.compile(r"event=worker_exited .*signal=(\d+)"), "worker exited by signal %s"),
    (re.compile(r"event=worker_exited .*status=(\d+) planned=no"),
     "worker exited unplanned with status %s"),
    (re.compile(r"event=worker_killed .*reason=(\S+)"), "worker killed: %s"),
]


def sanitizer_signature(report):
    """One bug seen many times is one signature: the SUMMARY line, else the ERROR line, with
    pids and addresses taken out."""
    line = next((x for x in report if x.startswith("SUMMARY:")), report[0])
    line = re.sub(r"==\d+==", "", line)
    return re.sub(r"0x[0-9a-f]+", "0x..", line.strip())


def log_text(mark):
    """The log from byte offset mark, decoded so that it encodes back to the same bytes."""
    try:
        with open(env.MILLRACE_LOG, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "surrogateescape")
    except OSError:
        return ""


def log_bytes(text):
    return len(text.encode("utf-8", "surrogateescape"))


def complete_text(text):
    """The part of new log text that can be judged now: whole lines, and not a sanitizer
    report whose SUMMARY has not been written yet (it is judged on the next look)."""
    text = text[:text.rfind("\n") + 1]
    lines = text.splitlines(keepends=True)
    for k, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKERS):
            rest = lines[k:k + 60]
            if not any(x.startswith("SUMMARY:") for x in rest) and len(lines) - k < 60:
                return "".join(lines[:k])
    return text


def log_findings(text):
    """(signature, detail) of each finding in log text."""
    out = []
    lines = text.splitlines()
    for k, line in enumerate(lines):
        for rx, what in FINDING_PATTERNS:
            m = rx.search(line)
            if m:
                out.append((what % m.group(1), line.strip()))
                break
        else:
            if "stack smashing detected" in line or "Assertion" in line and "failed" in line:
                out.append(("abort: " + re.sub(r"\d+", "N", line.strip()), line.strip()))
            elif any(m in line for m in SANITIZER_MARKERS):
                report = lines[k:k + 60]
                out.append(("sanitizer: " + sanitizer_signature(report),
                            "\n".join(lines[k:k + 16])))
    return out


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.target = Target(args.socket)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.recent = collections.deque(maxlen=400)  # (time, thread, Case)
        self.findings = collections.Counter()
        self.stats = collections.Counter()
        self.statuses = collections.Counter()
        self.kinds = collections.Counter()

    def finding(self, what, detail=None, cases=None):
        """Counts a finding by its signature; prints and saves the recent cases the first
        time a signature is seen."""
        with self.lock:
            self.findings[what] += 1
            first = self.findings[what] == 1
        if first:
            print("fcgi_fuzz: FINDING: %s%s" % (what, "\n" + detail if detail else ""),
                  flush=True)
            if cases:
                self.save(cases, re.sub(r"[^a-z0-9]+", "-", what.lower())[:40].strip("-"))

    def worker(self, n, seed):
        rng = random.Random(seed)
        while not self.stop.is_set():
            case = make_case(rng)
            case.t = time.monotonic()
            with self.lock:
                self.recent.append((case.t, n, case))
            out = run_case(self.target, case)
            with self.lock:
                self.stats["cases"] += 1
                self.kinds[case.kind.split(":")[0].split(",")[0]] += 1
                for st in out.statuses:
                    self.statuses[st] += 1
                if out.error:
                    self.stats["client_errors"] += 1
            if out.error and out.error.startswith("connect"):
                self.finding("connect to %s failed: %s" % (self.target.spec, out.error))
                self.stop.set()
            elif case.valid and out.ends < case.expect:
                # Known (regressions/fcgi/keep-conn-*): a request answered before its STDIN
                # was read to the end (a 400/414/431 before the body is read, or a body longer
                # than CONTENT_LENGTH) leaves records that break the FCGI_KEEP_CONN connection.
                after = ""
                if out.ends:
                    after = " after %d answered (%s)" % (out.ends, ", ".join(
                        map(str, out.statuses)))
                what = "well-formed %s case not answered" % case.kind
                if out.ends:
                    what += " after an earlier answer (its STDIN left unread?)"
                detail = "%d of %d requests answered in %.1fs%s (closed=%r, %d bytes back)" % (
                    out.ends, case.expect, case.wait, after, out.closed, len(out.data))
                self.finding(what, detail, [(case.t, n, case)])

    def save(self, cases, why):
        d = os.path.join(ARTIFACTS, "finding-%s-%s" % (time.strftime("%Y%m%d-%H%M%S"), why))
        os.makedirs(d, exist_ok=True)
        for k, (t, n, c) in enumerate(cases):
            with open(os.path.join(d, "case-%04d-t%d.json" % (k, n)), "w") as f:
                json.dump(c.to_json(), f)
        print("fcgi_fuzz: %d recent cases saved in %s (replay: %s --replay DIR)"
              % (len(cases), os.path.relpath(d, env.ROOT), os.path.relpath(__file__, env.ROOT)),
              flush=True)

    def watch_log(self, mark):
        """New findings in the log since mark; returns the new mark."""
        text = complete_text(log_text(mark))
        found = log_findings(text)
        if found:
            t = time.monotonic()
            with self.lock:
                cases = [x for x in self.recent if x[0] >= t - 3.0]
            for sig, detail in found:
                self.finding(sig, detail, cases)
        return mark + log_bytes(text)


def good_request(target, uri="/json"):
    s = target.connect(10)
    try:
        msg = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body()) + \
            fcgi.stream(fcgi.PARAMS, fcgi.encode_params(fcgi.default_params("GET", uri))) + \
            fcgi.stream(fcgi.STDIN, b"")
        s.sendall(msg)
        return fcgi.read_response(s)
    finally:
        s.close()


def fuzz(args):
    fz = Fuzzer(args)
    mgr = procs.manager_pid()
    if not mgr:
        print("fcgi_fuzz: millrace is not running (var/millrace.pid)", file=sys.stderr)
        return 2
    pool = procs.workers(mgr)
    r = good_request(fz.target)
    if r.status != 200:
        print("fcgi_fuzz: a good /json failed before fuzzing: %r" % r, file=sys.stderr)
        return 2
    mark = procs.log_mark()
    print("fcgi_fuzz: seed %d, %d s, %d threads, socket %s, manager %d, %d workers"
          % (args.seed, args.seconds, args.threads, fz.target.spec, mgr, len(pool)), flush=True)
    master = random.Random(args.seed)
    threads = [threading.Thread(target=fz.worker, args=(n, master.getrandbits(64)), daemon=True)
               for n in range(args.threads)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    next_report = t0 + 10
    while time.monotonic() - t0 < args.seconds and not fz.stop.is_set():
        time.sleep(0.5)
        mark = fz.watch_log(mark)
        if not procs.alive(mgr):
            fz.finding("the manager (pid %d) died" % mgr)
            fz.stop.set()
        if fz.findings and not args.keep_going:
            fz.stop.set()
        if time.monotonic() >= next_report:
            next_report += 10
            print("fcgi_fuzz: %4.0fs %d cases, statuses %s" % (
                time.monotonic() - t0, fz.stats["cases"], dict(sorted(fz.statuses.items()))),
                flush=True)
    fz.stop.set()
    for t in threads:
        t.join(15)
    elapsed = time.monotonic() - t0
    fz.watch_log(mark)
    check_after(fz, mgr, len(pool))
    print("fcgi_fuzz: %d cases in %.0f s (%.0f/s); kinds %s" % (
        fz.stats["cases"], elapsed, fz.stats["cases"] / max(elapsed, 0.001),
        dict(fz.kinds.most_common())))
    print("fcgi_fuzz: statuses answered %s; client-side errors %d" % (
        dict(sorted(fz.statuses.items())), fz.stats["client_errors"]))
    if fz.findings:
        print("fcgi_fuzz: FAILED (seed %d): %d distinct finding(s):" % (args.seed,
                                                                        len(fz.findings)))
        for sig, n in fz.findings.most_common():
            print("  %6d x %s" % (n, sig))
        return 1
    print("fcgi_fuzz: no finding (seed %d)" % args.seed)
    return 0


def check_after(fz, mgr, n_pool):
    """The manager alive, the pool full, every worker idle, a good request served."""
    if not procs.alive(mgr):
        fz.finding("the manager (pid %d) is gone after the run" % mgr)
        return
    try:
        procs.wait_pool(10, n=n_pool)
    except AssertionError as e:
        fz.finding("the pool is not full after the run: %s" % e)
    limit = fcgi.read_timeout_s() + 2.0
    t = time.monotonic()
    try:
        procs.wait_for(lambda: len(procs.idle_workers(mgr)) == n_pool
                       and len(procs.workers(mgr)) == n_pool, limit,
                       what="all %d workers idle in epoll_wait()" % n_pool)
        print("fcgi_fuzz: every worker idle %.2f s after the run" % (time.monotonic() - t))
    except AssertionError as e:
        busy = {w: procs.current_syscall(w) for w in procs.workers(mgr)}
        fz.finding("a worker is stuck %.0f s after the run (read_timeout + 2 s): %s; "
                   "syscalls %r" % (limit, e, busy))
    # The scoreboard agrees (the worker serving /metrics counts as busy).
    try:
        r = good_request(fz.target, "/metrics")
        m = re.search(rb'^millrace_workers\{state="idle"\} (\d+)', r.body, re.M)
        idle = int(m.group(1)) if m else -1
        if idle < n_pool - 1:
            fz.finding("/metrics shows %d idle workers of %d after the run" % (idle, n_pool))
    except OSError as e:
        fz.finding("/metrics after the run failed: %r" % e)
    try:
        r = good_request(fz.target)
        if (r.status, r.body) != (200, b'{"message":"Hello, World!"}'):
            fz.finding("a good /json after the run answered %r" % r)
    except OSError as e:
        fz.finding("a good /json after the run failed: %r" % e)


def replay(args):
    target = Target(args.socket)
    mgr = procs.manager_pid()
    if not mgr:
        print("fcgi_fuzz: millrace is not running", file=sys.stderr)
        return 2
    n_pool = len(procs.workers(mgr))
    files = []
    for p in args.replay:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".json"))
        else:
            files.append(p)
    fz = Fuzzer(args)
    mark = procs.log_mark()
    for path in files:
        with open(path) as f:
            case = Case.from_json(json.load(f))
        out = run_case(target, case)
        time.sleep(0.3)  # the log line of a crash follows the close
        text = complete_text(log_text(mark))
        found = log_findings(text)
        mark += log_bytes(text)
        print("replay %s: %d END_REQUEST, statuses %s, closed=%r%s" % (
            os.path.relpath(path), out.ends, out.statuses, out.closed,
            "; FINDING: " + "; ".join(sorted({sig for sig, _ in found})) if found else ""),
            flush=True)
        for sig, _ in found:
            fz.findings[sig] += 1
        if case.valid and out.ends < case.expect:
            fz.finding("%s: well-formed request not answered" % path)
    check_after(fz, mgr, n_pool)
    if fz.findings:
        print("fcgi_fuzz: replay FAILED: %s" % dict(fz.findings))
        return 1
    print("fcgi_fuzz: replayed %d case(s) without a finding" % len(files))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("FCGI_FUZZ_SECONDS", "60")))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--socket", default=None,
                    help="unix socket path (default var/run/millrace.sock) or 127.0.0.1:PORT")
    ap.add_argument("--keep-going", action="store_true", help="do not stop at the first finding")
    ap.add_argument("--replay", nargs="+", metavar="FILE_OR_DIR")
    args = ap.parse_args(argv)
    if args.seed is None:
        s = os.environ.get("FCGI_FUZZ_SEED")
        args.seed = int(s) if s else random.SystemRandom().getrandbits(32)
    if args.replay:
        return replay(args)
    return fuzz(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
