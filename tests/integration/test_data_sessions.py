"""Server-side sessions and CSRF through nginx, on the test build's /test/session/* routes and
the stack's fixed session key: a set is read back by the next request through the signed
cookie (HttpOnly, SameSite=Lax, Path=/, Max-Age); each read slides the expiry in Redis and a
request that never touches its session costs no Redis command; login regenerates the id and
keeps the data, logout deletes it and expires the cookie; a tampered cookie, a cookie signed
with another key and corrupt data read as an empty session; Redis stopped is an empty
session and a 200, never a 500; a CSRF-protected POST answers 403 without the right token
and 200 with it. Redis is read directly to see what millrace stored."""
import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse

from lib import backends as be
from lib import faults, fcgi, http
from lib.base import StackTestCase

COOKIE = "millrace_session"
TTL_S = 1209600
# scripts/stack.py's LOCAL_SESSION_KEY: the local stack's, known to everyone.
STACK_KEY = bytes.fromhex("6c6f63616c2d737461636b2d6f6e6c792d6e657665722d696e2d70726f64756374")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sign(session_id, key=STACK_KEY):
    """The cookie value millrace writes for session_id (docs/guide.md, "Sessions and CSRF")."""
    mac = hmac.new(key, b"millrace-session-v1:" + session_id.encode(), hashlib.sha256).digest()
    return session_id + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def session_cookie(r):
    """(value, attributes) of the response's session Set-Cookie, or (None, None)."""
    for line in r.header_all("Set-Cookie"):
        name, _, rest = line.partition("=")
        if name == COOKIE:
            value, _, attrs = rest.partition(";")
            return value, [a.strip() for a in attrs.split(";") if a.strip()]
    return None, None


def redis_key(cookie_value):
    return be.KEY_PREFIX + "session:" + cookie_value.split(".")[0]


class Client:
    """One browser: keeps the session cookie as a browser would."""

    def __init__(self, cookie=None):
        self.cookie = cookie

    def request(self, method, path, fields=None, headers=None):
        h = dict(headers or {})
        if self.cookie is not None:
            h["Cookie"] = "%s=%s" % (COOKIE, self.cookie)
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            h.update(FORM)
        r = http.request(method, path, body=body, headers=h, timeout=10)
        value, attrs = session_cookie(r)
        if value is not None:
            self.cookie = None if "Max-Age=0" in attrs else value
        return r

    def set(self, key, value):
        return self.request("POST", "/test/session/set", {"key": key, "value": value})

    def get(self, key):
        r = self.request("GET", "/test/session/get?key=" + urllib.parse.quote(key))
        if r.status != 200:
            raise AssertionError("get %s: %r" % (key, r))
        return json.loads(r.body)["value"]

    def csrf(self):
        r = self.request("GET", "/test/session/csrf")
        if r.status != 200:
            raise AssertionError("csrf: %r" % r)
        return r.body.decode()


class Sessions(StackTestCase):
    def setUp(self):
        super().setUp()
        self.redis = be.Redis()

    def tearDown(self):
        self.redis.close()
        super().tearDown()

    def test_set_then_get_through_the_signed_cookie(self):
        c = Client()
        r = c.set("user", "42")
        self.assertEqual(r.status, 200, r)
        value, attrs = session_cookie(r)
        self.assertIsNotNone(value, r)
        self.assertRegex(value, r"^[0-9a-f]{64}\.[A-Za-z0-9_-]{43}$")
        self.assertEqual(value, sign(value.split(".")[0]), "signed as documented")
        for a in ("Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=%d" % TTL_S):
            self.assertIn(a, attrs)
        self.assertNotIn("Secure", attrs, "plain HTTP: no Secure")
        self.assertEqual(c.get("user"), "42")
        self.assertIsNone(c.get("other"))
        stored = self.redis.cmd("GET", redis_key(value))
        self.assertEqual(stored[:2], b"\xf6\x01", "the stored form's magic and version")
        self.assertIn(b"user", stored)
        self.assertEqual(c.set("user", "43").status, 200)
        self.assertEqual(c.set("flash", "saved").status, 200)
        self.assertEqual((c.get("user"), c.get("flash")), ("43", "saved"))
        r = c.request("POST", "/test/session/del", {"key": "flash"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((c.get("user"), c.get("flash")), ("43", None))
        # Another browser has a session of its own.
        self.assertIsNone(Client().get("user"))

    def test_reads_slide_the_expiry_and_untouched_requests_cost_nothing(self):
        c = Client()
        self.assertEqual(c.set("user", "7").status, 200)
        key = redis_key(c.cookie)
        self.assertTrue(TTL_S - 5 <= self.redis.cmd("TTL", key) <= TTL_S)
        self.redis.cmd("EXPIRE", key, 100)
        # A request that does not touch its session: no Redis command, no Set-Cookie.
        calls0 = self.redis_calls()
        r = c.request("GET", "/json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(session_cookie(r), (None, None))
        self.assertEqual(self.redis_calls() - calls0, 0, "Redis commands for /json")
        self.assertLessEqual(self.redis.cmd("TTL", key), 100)
        # A read: one GETEX, and the TTL is back to ttl_s.
        calls0 = self.redis_calls()
        self.assertEqual(c.get("user"), "7")
        self.assertEqual(self.redis_calls() - calls0, 1, "one round trip for a read")
        ttl = self.redis.cmd("TTL", key)
        self.assertTrue(TTL_S - 5 <= ttl <= TTL_S, "TTL after a read: %d" % ttl)
        print("\n      TTL 100 s, then one read: %d s" % ttl)

    def redis_calls(self):
        """Commands Redis ran for millrace's session keys (INFO commandstats)."""
        info = self.redis.cmd("INFO", "commandstats").decode()
        n = 0
        for cmd in ("getex", "set", "del"):
            m = re.search(r"cmdstat_%s:calls=(\d+)" % cmd, info)
            n += int(m.group(1)) if m else 0
        return n

    def test_login_regenerates_the_id_and_keeps_the_data(self):
        c = Client()
        self.assertEqual(c.set("cart", "3 items").status, 200)
        before = c.cookie
        r = c.request("POST", "/test/session/login")
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(c.cookie)
        self.assertNotEqual(c.cookie.split(".")[0], before.split(".")[0], "a new id")
        self.assertEqual(c.get("cart"), "3 items", "data kept")
        self.assertIsNone(self.redis.cmd("GET", redis_key(before)), "old id deleted")
        self.assertIsNotNone(self.redis.cmd("GET", redis_key(c.cookie)))
        self.assertIsNone(Client(before).get("cart"), "the old cookie is worthless")

    def test_logout_deletes_the_session_and_expires_the_cookie(self):
        c = Client()
        self.assertEqual(c.set("user", "9").status, 200)
        cookie = c.cookie
        r = c.request("POST", "/test/session/logout")
        self.assertEqual(r.status, 200, r)
        value, attrs = session_cookie(r)
        self.assertEqual(value, "")
        self.assertIn("Max-Age=0", attrs)
        self.assertIsNone(self.redis.cmd("GET", redis_key(cookie)))
        self.assertIsNone(Client(cookie).get("user"))

    def test_tampered_or_foreign_cookies_are_an_empty_session(self):
        c = Client()
        self.assertEqual(c.set("user", "1").status, 200)
        sid, mac = c.cookie.split(".")
        flipped = sid[:-1] + ("0" if sid[-1] != "0" else "1")
        other_key = sign(sid, key=b"k" * 32)
        for bad in (flipped + "." + mac, sid + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"),
                    other_key, sid, "garbage", sid + "." + mac + "x"):
            b = Client(bad)
            self.assertIsNone(b.get("user"), bad)
            # A set from such a browser starts a new session; it never writes the old one.
            r = b.set("user", "evil")
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(b.cookie.split(".")[0], sid)
        self.assertEqual(c.get("user"), "1")

    def test_corrupt_data_is_an_empty_session_and_a_log_line(self):
        c = Client()
        self.assertEqual(c.set("user", "5").status, 200)
        self.redis.cmd("SET", redis_key(c.cookie), b"\xf6\x01\x05\x00junk")
        self.assertIsNone(c.get("user"))
        self.assertIn("event=session_corrupt", self.log())

    def test_over_https_the_cookie_is_secure(self):
        # nginx sends HTTPS=on only under TLS, which the local stack does not serve: the
        # FastCGI socket takes the param as nginx would send it.
        body = b"key=user&value=1"
        params = fcgi.default_params("POST", "/test/session/set", len(body),
                                     [("HTTPS", "on")])
        params = [(k, "application/x-www-form-urlencoded" if k == "CONTENT_TYPE" else v)
                  for k, v in params]
        r = fcgi.request(body=body, params=params)
        self.assertEqual(r.status, 200, r)
        line = r.header("Set-Cookie")
        self.assertIsNotNone(line, r)
        attrs = [a.strip() for a in line.split(";")]
        self.assertTrue(attrs[0].startswith(COOKIE + "="), line)
        for a in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            self.assertIn(a, attrs, line)

    def test_a_session_over_max_bytes_is_413(self):
        c = Client()
        r = c.set("big", "x" * 5000)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(json.loads(r.body)["status"], 413)
        self.assertEqual(c.set("small", "ok").status, 200)
        self.assertEqual((c.get("small"), c.get("big")), ("ok", None))


class SessionsRedisDown(faults.FailoverCase):
    def test_redis_stopped_is_an_empty_session_and_200(self):
        c = Client()
        self.assertEqual(c.set("user", "11").status, 200)
        self.stop("redis")
        r = c.request("GET", "/test/session/get?key=user")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(json.loads(r.body)["value"])
        r = c.set("user", "12")
        self.assertEqual(r.status, 200, r)
        # CSRF needs only the signed cookie: forms still post while Redis is down.
        token = c.csrf()
        r = c.request("POST", "/test/session/protected", {"csrf_token": token})
        self.assertEqual(r.status, 200, r)
        log = self.log()
        self.assertIn("event=session_unreadable", log)
        self.assertIn("event=session_not_saved", log)
        # The stack's Redis keeps nothing across a restart; sessions work again once it is back
        # (each worker reconnects after its own backoff: wait until every answer agrees).
        self.start("redis")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if c.set("user", "13").status == 200 and all(c.get("user") == "13" for _ in range(20)):
                break
            time.sleep(0.2)
        self.assertEqual([c.get("user") for _ in range(20)], ["13"] * 20)


class Csrf(StackTestCase):
    def test_missing_or_wrong_token_is_403_and_the_right_one_200(self):
        c = Client()
        token = c.csrf()
        self.assertRegex(token, r"^[A-Za-z0-9_-]{43}$")
        self.assertIsNotNone(c.cookie, "a token starts a session")
        self.assertEqual(c.csrf(), token, "the same session, the same token")
        for fields, headers in ((None, None), ({"csrf_token": ""}, None),
                                ({"csrf_token": token[:-1] + ("A" if token[-1] != "A" else "B")},
                                 None), (None, {"X-CSRF-Token": "nope"})):
            r = c.request("POST", "/test/session/protected", fields, headers)
            self.assertEqual(r.status, 403, (fields, headers, r))
            body = json.loads(r.body)
            self.assertEqual(body["error"], "invalid or missing CSRF token")
        r = c.request("POST", "/test/session/protected", {"csrf_token": token})
        self.assertEqual(r.status, 200, r)
        r = c.request("POST", "/test/session/protected", headers={"X-CSRF-Token": token})
        self.assertEqual(r.status, 200, r)
        # Right token, no cookie (another site's form): refused.
        r = Client().request("POST", "/test/session/protected", {"csrf_token": token})
        self.assertEqual(r.status, 403, r)
        # Another session's token: refused.
        other = Client()
        other.csrf()
        r = other.request("POST", "/test/session/protected", {"csrf_token": token})
        self.assertEqual(r.status, 403, r)

    def test_html_route_answers_an_html_403(self):
        c = Client()
        c.csrf()
        r = c.request("POST", "/test/session/protected.html", {"csrf_token": "x"})
        self.assertEqual(r.status, 403, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
        self.assertIn(b"invalid or missing CSRF token", r.body)

    def test_login_changes_the_token(self):
        c = Client()
        token = c.csrf()
        self.assertEqual(c.set("user", "1").status, 200)
        self.assertEqual(c.request("POST", "/test/session/login").status, 200)
        r = c.request("POST", "/test/session/protected", {"csrf_token": token})
        self.assertEqual(r.status, 403, "a token from before the login")
        r = c.request("POST", "/test/session/protected", {"csrf_token": c.csrf()})
        self.assertEqual(r.status, 200, r)
