"""Input limits: requests over each of millrace's limits (params count and bytes, a header,
the query's length and parameter count, its encoding, the body) are refused with millrace's
JSON error, and requests exactly at each limit are served. Limits nginx would enforce first (a
header over large_client_header_buffers, raw bytes) go straight to the FastCGI socket with
lib/fcgi.py; the rest go through nginx. A refusal must not cost a kept FastCGI connection its
next request, and no error body echoes the input.

The numbers a test measures are printed, so a passing run still shows how close it came."""
import json
import urllib.parse

from lib import fcgi, http
from lib.base import StackTestCase, case, say
from lib.http import HELLO_JSON

# The defaults of etc/millrace.conf these tests rely on (the stack sets none of them).
MAX_PARAMS = 256
MAX_PARAMS_BYTES = 65536
MAX_HEADER_BYTES = 8192
MAX_QUERY_BYTES = 4096
MAX_QUERY_PARAMS = 64
MAX_BODY_BYTES = 1048576


def fcgi_get(uri, extra=None, params=None):
    return fcgi.request("GET", uri, extra_params=extra, params=params, timeout=10)


class InputLimits(StackTestCase):
    def test_params_count_over_max_params_431_and_at_max_200(self):
        base = len(fcgi.default_params())
        at = [("HTTP_X_F%d" % i, "v") for i in range(MAX_PARAMS - base)]
        r = fcgi_get("/json", extra=at)
        self.assertEqual((r.status, r.body), (200, HELLO_JSON), "exactly %d params" % MAX_PARAMS)
        over = at + [("HTTP_X_ONE_MORE", "v")]
        body = http.json_error(self, fcgi_get("/json", extra=over), 431)
        say("%d params: 200; %d params: 431 %r", MAX_PARAMS, MAX_PARAMS + 1, body)

    def test_params_bytes_over_max_params_bytes_431_and_at_max_200(self):
        # Bytes as the limit counts them: "NAME=value" per param. Non-header params, so that
        # only the total counts. Pad with 4000-byte values, then one to land exactly on it.
        params = fcgi.default_params()
        used = sum(len(k) + 1 + len(v) for k, v in params)
        i = 0
        while MAX_PARAMS_BYTES - used > 4100:
            params.append(("X_PAD_%02d" % i, "p" * 4000))
            used += len("X_PAD_00=") + 4000
            i += 1
        params.append(("X_PAD_LAST", "p" * (MAX_PARAMS_BYTES - used - len("X_PAD_LAST="))))
        total = sum(len(k) + 1 + len(v) for k, v in params)
        self.assertEqual(total, MAX_PARAMS_BYTES)
        r = fcgi_get("/json", params=params)
        self.assertEqual((r.status, r.body), (200, HELLO_JSON),
                         "%d params of exactly %d bytes in all" % (len(params), total))
        params[-1] = (params[-1][0], params[-1][1] + "p")
        http.json_error(self, fcgi_get("/json", params=params), 431)
        say("params of %d bytes: 200; %d bytes: 431", total, total + 1)

    def test_header_value_over_max_header_bytes_431_straight(self):
        # nginx's large_client_header_buffers (8k per line) refuses such a header itself, so
        # this one goes straight to the socket.
        r = fcgi_get("/json", extra=[("HTTP_X_BIG", "h" * MAX_HEADER_BYTES)])
        self.assertEqual((r.status, r.body), (200, HELLO_JSON), "a value of exactly the cap")
        http.json_error(self, fcgi_get("/json", extra=[("HTTP_X_BIG", "h" * (MAX_HEADER_BYTES + 1))]),
                   431)

    def test_header_too_large_through_nginx_is_refused(self):
        # Whoever refuses it (nginx's 400/431 or millrace's 431), it is refused, not served.
        r = http.get("/json", headers={"X-Big": "h" * (MAX_HEADER_BYTES + 100)}, timeout=5)
        self.assertIn(r.status, (400, 431, 494), r)

    def test_query_over_max_query_bytes_414_through_nginx(self):
        q_at = "a=" + "x" * (MAX_QUERY_BYTES - 2)
        r = http.get("/json?" + q_at, timeout=5)
        self.assertEqual((r.status, r.body), (200, HELLO_JSON), "a query of exactly the cap")
        http.json_error(self, http.get("/json?" + q_at + "x", timeout=5), 414)

    def test_more_than_max_query_params_400_through_nginx(self):
        at = "&".join("p%d=1" % i for i in range(MAX_QUERY_PARAMS))
        r = http.get("/json?" + at, timeout=5)
        self.assertEqual((r.status, r.body), (200, HELLO_JSON), "exactly %d" % MAX_QUERY_PARAMS)
        http.json_error(self, http.get("/json?" + at + "&one=more", timeout=5), 400)

    def test_invalid_percent_encoding_nul_and_utf8_in_parameters_400(self):
        bad = {
            "bad hex": "q=%zz", "truncated": "q=%4", "lone percent": "q=%",
            "percent at end of name": "a%=1", "%00 in a value": "q=a%00b",
            "%00 in a name": "a%00=1", "lone continuation": "q=%80",
            "invalid lead byte": "q=%FF", "truncated sequence": "q=%C3",
            "bad continuation": "q=%C3%28", "overlong slash": "q=%C0%AF",
            "overlong 3-byte": "q=%E0%80%AF", "surrogate": "q=%ED%A0%80",
            "above U+10FFFF": "q=%F4%90%80%80", "invalid UTF-8 in a name": "%FE=1",
        }
        for what, q in bad.items():
            with case(what=what, query=q):
                http.json_error(self, http.get("/db?" + q, timeout=5), 400)
        # Raw bytes nginx would pass through as they are: straight to the socket.
        for raw in (b"q=\xff", b"q=\xc3\x28", b"q=\xed\xa0\x80", b"\xc0\xaf=1"):
            with case(raw=raw):
                params = [(k, raw if k == "QUERY_STRING" else v)
                          for k, v in fcgi.default_params("GET", "/db")]
                http.json_error(self, fcgi_get("/db", params=params), 400)
        # Valid encodings of the same characters pass.
        for q in ("q=%C3%A9", "q=%F0%9F%98%80", "q=a+b%20c", "caf%C3%A9=1"):
            with case(valid=q):
                r = http.get("/json?" + q, timeout=5)
                self.assertEqual((r.status, r.body), (200, HELLO_JSON), q)

    def test_body_over_max_body_bytes_413_json_through_nginx(self):
        r = http.request("POST", "/test/echo", body=b"b" * MAX_BODY_BYTES, timeout=20)
        self.assertEqual((r.status, len(r.body)), (200, MAX_BODY_BYTES), "a body of the cap")
        http.json_error(self, http.request("POST", "/test/echo", body=b"b" * (MAX_BODY_BYTES + 1),
                                      timeout=20), 413)

    def test_keep_conn_survives_a_limit_error_before_the_body_is_read(self):
        """A 400/414/431 answered before the body is read must not cost the FCGI_KEEP_CONN
        connection the next request (nginx with fastcgi_keep_conn sends it there)."""
        def req(method, uri, body=b"", extra=None):
            p = fcgi.default_params(method, uri, len(body), extra)
            return fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body(flags=fcgi.KEEP_CONN)) + \
                fcgi.stream(fcgi.PARAMS, fcgi.encode_params(p)) + fcgi.stream(fcgi.STDIN, body)
        body = b"b" * 20000  # more than libfcgi reads ahead (8 KiB)
        for what, first, status in (
                ("400 bad query", req("POST", "/test/echo?q=%zz", body), 400),
                ("414 long query", req("POST", "/test/echo?q=" + "x" * 5000, body), 414),
                ("431 big header", req("POST", "/test/echo", body,
                                       [("HTTP_X_BIG", "h" * 9000)]), 431)):
            with case(what=what):
                s = fcgi.connect(timeout=5)
                try:
                    s.sendall(first)
                    r1 = fcgi.read_response(s)
                    self.assertEqual(r1.status, status, r1)
                    s.sendall(req("GET", "/json"))
                    try:
                        r2 = fcgi.read_response(s)
                    except (EOFError, OSError) as e:
                        self.fail("the next request on the kept connection got no answer "
                                  "(%r): the unread body was left on the connection" % e)
                    self.assertEqual((r2.status, r2.body), (200, HELLO_JSON), r2)
                finally:
                    s.close()

    def test_error_bodies_never_echo_input(self):
        tag = "<script>alert(1)</script>"
        q = urllib.parse.quote(tag)
        cases = [
            ("404 path", lambda: http.get("/no/" + q, timeout=5), 404),
            ("400 bad encoding", lambda: http.get("/db?x=" + q + "&y=%zz", timeout=5), 400),
            ("400 too many params",
             lambda: http.get("/db?" + "&".join("%s%d=1" % (q, i) for i in range(80)),
                              timeout=5), 400),
            ("414 long query", lambda: http.get("/db?x=" + q * 200, timeout=5), 414),
            ("405 method", lambda: http.request("DELETE", "/json?x=" + q, timeout=5), 405),
            ("413 body", lambda: http.request("POST", "/test/echo?x=" + q,
                                              body=tag.encode() * 50000, timeout=20), 413),
            ("431 header", lambda: fcgi_get("/json?x=" + q, extra=[
                ("HTTP_X_EVIL", tag * 400)]), 431),
            ("431 params", lambda: fcgi_get("/json?x=" + q, extra=[
                ("HTTP_%s_%d" % (tag, i), tag) for i in range(300)]), 431),
            ("400 raw tag in query", lambda: fcgi_get("/db", params=[
                (k, tag + "&%zz" if k == "QUERY_STRING" else v)
                for k, v in fcgi.default_params("GET", "/db")]), 400),
        ]
        for what, send, status in cases:
            with case(what=what):
                r = send()
                self.assertEqual(r.status, status, r)
                self.assertEqual(r.header("Content-Type"), "application/json", r)
                low = r.body.lower()
                for needle in (b"<script", b"script", b"alert", b"%3cscript", b"evil"):
                    self.assertNotIn(needle, low, "%s echoed input: %r" % (what, r.body))
                json.loads(r.body)
