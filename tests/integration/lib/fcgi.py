"""A minimal FastCGI client (the protocol spec, version 1) that talks straight to millrace's
socket, bypassing nginx: well-formed requests, and raw bytes for bad input."""
import re
import socket
import struct
import time

from . import env

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
MAX_CONTENT = 65535


def record(rtype, content=b"", request_id=1, version=VERSION, length=None, padding=0):
    """One record. `length` overrides the header's content length (to lie about it)."""
    n = len(content) if length is None else length
    return struct.pack("!BBHHBB", version, rtype, request_id, n, padding, 0) + content \
        + b"\0" * padding


def begin_body(role=RESPONDER, flags=0):
    return struct.pack("!HB5x", role, flags)


def _len(n):
    return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)


def encode_params(params):
    """params: a dict or a list of (name, value); str or bytes."""
    items = params.items() if isinstance(params, dict) else params
    out = []
    for k, v in items:
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        out.append(_len(len(k)) + _len(len(v)) + k + v)
    return b"".join(out)


def stream(rtype, data, request_id=1):
    """`data` as records of at most 65535 bytes, then the empty record that ends the stream."""
    out = []
    for i in range(0, len(data), MAX_CONTENT):
        out.append(record(rtype, data[i:i + MAX_CONTENT], request_id))
    out.append(record(rtype, b"", request_id))
    return b"".join(out)


def default_params(method="GET", uri="/json", body_len=0, extra=None):
    path, _, query = uri.partition("?")
    p = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_SOFTWARE", "millrace-tests"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_METHOD", method),
        ("REQUEST_URI", uri),
        ("DOCUMENT_URI", path),
        ("SCRIPT_NAME", path),
        ("QUERY_STRING", query),
        ("CONTENT_TYPE", "application/octet-stream" if body_len else ""),
        ("CONTENT_LENGTH", str(body_len) if body_len else ""),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("REMOTE_PORT", "40000"),
        ("SERVER_ADDR", "127.0.0.1"),
        ("SERVER_PORT", "80"),
        ("SERVER_NAME", "localhost"),
        ("HTTP_HOST", "localhost"),
        ("REQUEST_ID", "fcgi-test"),
    ]
    if extra:
        p.extend(extra)
    return p


class Response:
    def __init__(self):
        self.stdout = b""
        self.stderr = b""
        self.app_status = None
        self.protocol_status = None
        self.status = None
        self.headers = []
        self.body = b""
        self.other = []  # (type, content) of records we did not expect

    def header(self, name, default=None):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def parse_stdout(self):
        head, sep, body = self.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = self.stdout.partition(b"\n\n")
        self.body = body
        self.status = 200
        for line in head.replace(b"\r\n", b"\n").split(b"\n"):
            if b":" not in line:
                continue
            k, v = line.split(b":", 1)
            k, v = k.decode("latin-1").strip(), v.decode("latin-1").strip()
            self.headers.append((k, v))
            if k.lower() == "status":
                self.status = int(v.split()[0])

    def __repr__(self):
        return "<fcgi.Response status=%r app=%r proto=%r headers=%r body=%r>" % (
            self.status, self.app_status, self.protocol_status, self.headers, self.body[:200])


def connect(path=None, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path or env.SOCKET)
    return s


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += c
    return buf


def read_response(s, request_id=1):
    """Reads records until END_REQUEST for request_id. Raises EOFError or socket.timeout."""
    r = Response()
    while True:
        hdr = _recv_exact(s, 8)
        ver, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", hdr)
        content = _recv_exact(s, clen) if clen else b""
        if plen:
            _recv_exact(s, plen)
        if rtype == STDOUT and rid == request_id:
            r.stdout += content
        elif rtype == STDERR and rid == request_id:
            r.stderr += content
        elif rtype == END_REQUEST and rid == request_id:
            r.app_status, r.protocol_status = struct.unpack("!IB3x", content[:8])
            r.parse_stdout()
            return r
        else:
            r.other.append((rtype, content))


def request(method="GET", uri="/json", body=b"", params=None, extra_params=None, role=RESPONDER,
            timeout=10.0, path=None, request_id=1):
    """One request on its own connection. `params` replaces the default params entirely."""
    if params is None:
        params = default_params(method, uri, len(body), extra_params)
    msg = record(BEGIN_REQUEST, begin_body(role), request_id) \
        + stream(PARAMS, encode_params(params), request_id) + stream(STDIN, body, request_id)
    s = connect(path, timeout)
    try:
        s.sendall(msg)
        return read_response(s, request_id)
    finally:
        s.close()


class RawResult:
    def __init__(self, data, closed, elapsed, error=None):
        self.data = data        # every byte the server sent
        self.closed = closed    # the server closed (EOF or reset) before our timeout
        self.elapsed = elapsed  # seconds until close or timeout
        self.error = error      # the exception of a reset, if any

    def __repr__(self):
        return "<RawResult closed=%r elapsed=%.2f error=%r data=%r>" % (
            self.closed, self.elapsed, self.error, self.data[:200])


def send_raw(data, wait=5.0, path=None, shut_write=False):
    """Sends raw bytes, then reads until the server closes or `wait` seconds pass.
    shut_write: half-close our side after sending (the server sees EOF)."""
    s = connect(path, timeout=wait)
    t0 = time.monotonic()
    got = []
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            return RawResult(b"", True, time.monotonic() - t0, e)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        deadline = t0 + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return RawResult(b"".join(got), False, time.monotonic() - t0)
            s.settimeout(left)
            try:
                c = s.recv(65536)
            except socket.timeout:
                return RawResult(b"".join(got), False, time.monotonic() - t0)
            except ConnectionResetError as e:
                return RawResult(b"".join(got), True, time.monotonic() - t0, e)
            if not c:
                return RawResult(b"".join(got), True, time.monotonic() - t0)
            got.append(c)
    finally:
        s.close()


def parse_records(data):
    """Splits bytes into (type, request_id, content) records; stops at a partial one."""
    out = []
    i = 0
    while len(data) - i >= 8:
        ver, rtype, rid, clen, plen, _ = struct.unpack("!BBHHBB", data[i:i + 8])
        if len(data) - i < 8 + clen + plen:
            break
        out.append((rtype, rid, data[i + 8:i + 8 + clen]))
        i += 8 + clen + plen
    return out


def status_get(uri, path=None, timeout=2.0):
    """A GET straight to the status socket (status_listen, var/run/status.sock unless path is
    given); returns (response, seconds taken)."""
    t0 = time.monotonic()
    r = request("GET", uri, path=path or env.STATUS_SOCKET, timeout=timeout)
    return r, time.monotonic() - t0


def read_timeout_s():
    """read_timeout_ms of the stack's var/millrace.conf, in seconds (10 s, the default, when
    it is not set there): how long a worker waits for the rest of a request."""
    try:
        with open(env.MILLRACE_CONF) as f:
            m = re.search(r"^\s*read_timeout_ms\s*=\s*(\d+)", f.read(), re.M)
        if m:
            return int(m.group(1)) / 1000.0
    except OSError:
        pass
    return 10.0
