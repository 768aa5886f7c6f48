"""Through the real nginx: exact bodies, headers and status codes of /plaintext, /json and
/healthz, and of the errors (404, 405, HEAD, 413, 400, 414), which are millrace's JSON and
not nginx's HTML pages."""
import os
import socket

from lib import env, http
from lib.base import StackTestCase


class PlainAndJson(StackTestCase):
    def assert_common_headers(self, r):
        self.assertIsNotNone(r.header("Server"), r)
        self.assertIsNotNone(r.header("Date"), r)
        cl = r.header("Content-Length")
        self.assertIsNotNone(cl, "no Content-Length (chunked?): %r" % r)
        self.assertEqual(int(cl), len(r.body), r)

    def test_plaintext_exact_body_and_content_type(self):
        r = http.get("/plaintext")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"Hello, World!")
        self.assertEqual(r.header("Content-Type").split(";")[0].strip(), "text/plain")
        self.assert_common_headers(r)

    def test_json_exact_body_and_content_type(self):
        r = http.get("/json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b'{"message":"Hello, World!"}')
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.header("Content-Length"), "27")
        self.assert_common_headers(r)

    def test_healthz_answers_200(self):
        r = http.get("/healthz")
        self.assertEqual(r.status, 200, r)
        self.assert_common_headers(r)

    def test_keepalive_connection_serves_many_requests(self):
        c = http.KeepAlive()
        try:
            for path, body in [("/json", b'{"message":"Hello, World!"}'),
                               ("/plaintext", b"Hello, World!")] * 10:
                r = c.request("GET", path)
                self.assertEqual((r.status, r.body), (200, body), r)
        finally:
            c.close()


class Errors(StackTestCase):
    def test_unknown_path_404_with_json_error(self):
        http.json_error(self, http.get("/no/such/path"), 404)

    def test_post_json_405_with_allow_get_head(self):
        r = http.request("POST", "/json", body=b"x")
        http.json_error(self, r, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_head_json_same_headers_and_no_body(self):
        # A raw socket: http.client would not notice body bytes after a HEAD response.
        s = socket.create_connection((env.HTTP_HOST, env.HTTP_PORT), timeout=10)
        try:
            s.sendall(b"HEAD /json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        finally:
            s.close()
        head, sep, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(sep, data)
        self.assertEqual(rest, b"", "HEAD response carried a body: %r" % rest)
        lines = head.decode("latin-1").split("\r\n")
        self.assertTrue(lines[0].startswith("HTTP/1.1 200"), lines[0])
        hdrs = {k.strip().lower(): v.strip()
                for k, v in (l.split(":", 1) for l in lines[1:])}
        self.assertEqual(hdrs.get("content-length"), "27", hdrs)
        self.assertEqual(hdrs.get("content-type"), "application/json", hdrs)
        g = http.get("/json")
        self.assertEqual(g.header("Content-Type"), hdrs.get("content-type"))
        self.assertEqual(g.header("Content-Length"), hdrs.get("content-length"))

    def test_bad_percent_encoding_400(self):
        http.json_error(self, http.get("/json?x=%zz"), 400)

    def test_truncated_percent_encoding_400(self):
        http.json_error(self, http.get("/json?x=%4"), 400)

    def test_invalid_utf8_in_query_400(self):
        http.json_error(self, http.get("/json?x=%ff"), 400)

    def test_valid_utf8_in_query_accepted(self):
        r = http.get("/json?x=%C3%A9t%C3%A9&y=a+b")
        self.assertEqual(r.status, 200, r)

    def test_overlong_query_string_414(self):
        # Default max_query_bytes is 4096; nginx's request-line buffer (8k) lets this through,
        # so the 414 must be millrace's own JSON error.
        http.json_error(self, http.get("/json?x=" + "a" * 5000), 414)

    def test_too_many_query_params_400(self):
        http.json_error(self, http.get("/json?" + "&".join("p%d=1" % i for i in range(100))), 400)


class Bodies(StackTestCase):
    MAX_BODY = 1048576  # millrace's default max_body_bytes

    def test_echo_small_body_exactly(self):
        body = os.urandom(1000)
        r = http.request("POST", "/test/echo", body=body,
                         headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)

    def test_echo_body_of_exactly_the_limit(self):
        body = os.urandom(self.MAX_BODY)
        r = http.request("POST", "/test/echo", body=body, timeout=30,
                         headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body), len(body))
        self.assertTrue(r.body == body, "echoed body differs")

    def test_body_over_limit_413_from_millrace(self):
        # One byte over millrace's max_body_bytes. nginx's client_max_body_size (default 1m)
        # would answer first with an HTML page; the stack's nginx config must let the body
        # through so that millrace's limit is the one that applies (JSON error).
        body = b"x" * (self.MAX_BODY + 1)
        r = http.request("POST", "/test/echo", body=body, timeout=30,
                         headers={"Content-Type": "application/octet-stream"})
        http.json_error(self, r, 413)
        self.assert_serves()
