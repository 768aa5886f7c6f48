"""HTTP/1.1 client for tests: every call has a timeout and returns a Response."""
import http.client
import json
import socket

from . import env


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.body = body

    def header(self, name, default=None):
        """The first header of that name, case-insensitively."""
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, self.headers, self.body[:200])


def request(method, path, body=None, headers=None, timeout=10.0, host=None, port=None):
    """One request on a fresh connection. Raises on socket errors and timeouts."""
    conn = http.client.HTTPConnection(host or env.HTTP_HOST, port or env.HTTP_PORT,
                                      timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


def get(path, **kw):
    return request("GET", path, **kw)


class KeepAlive:
    """A persistent connection that reconnects when the server closed it."""

    def __init__(self, timeout=10.0, host=None, port=None):
        self.host = host or env.HTTP_HOST
        self.port = port or env.HTTP_PORT
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
        except Exception:
            self.close()
            raise
        if (r.getheader("Connection") or "").lower() == "close":
            self.close()
        return Response(r.status, r.reason, r.getheaders(), data)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def raw(data, timeout=10.0, host=None, port=None):
    """Sends raw bytes to nginx and returns everything read until close or timeout."""
    s = socket.create_connection((host or env.HTTP_HOST, port or env.HTTP_PORT), timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    finally:
        s.close()


HELLO_JSON = b'{"message":"Hello, World!"}'


def json_error(testcase, r, status):
    """Asserts r is millrace's JSON error (not an nginx HTML page) for `status`: the status,
    an application/json body with that status and an error text. Returns the parsed body."""
    testcase.assertEqual(r.status, status, r)
    testcase.assertEqual(r.header("Content-Type"), "application/json",
                         "expected millrace's JSON error, got body %r" % r.body[:300])
    doc = json.loads(r.body)
    testcase.assertEqual(doc.get("status"), status, doc)
    testcase.assertIsInstance(doc.get("error"), str, doc)
    testcase.assertIsInstance(doc.get("request_id"), str, doc)  # "-" without nginx's
    return doc
