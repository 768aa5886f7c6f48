"""The example application (handlers/notes/), through nginx: a second millrace pool serves
build/asan/notes.so on its own socket and config, sharing the stack's PostgreSQL, replica and
Redis, behind an nginx of its own on MR_HTTP_PORT + 10. Its tables come from its migration,
applied with `millrace migrate` (which is tested here too: applied once, a re-run applies
nothing, a broken file fails naming itself and leaves nothing behind).

Then, as a user would: sign-up, sign-in, sign-out; a note created with a validation error
(422, the text kept) and then saved (303, and 403 without the CSRF token); read-your-writes
with replay paused on the replica; pagination; the list invalidated by a write; edits by the
author and 403 for anyone else; the JSON API; Redis stopped (pages still right, signed out,
never a 500) and the primary stopped (reads from the replica, writes a 503 page)."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.parse

from lib import backends as be
from lib import env, http, procs
from lib.base import StackTestCase
from lib.faults import FailoverCase

PORT = env.HTTP_PORT + 10  # the notes board's own nginx, beside the stack's
SO = os.path.join(env.ROOT, "build", "asan", "notes.so")
MIGRATIONS = os.path.join(env.ROOT, "handlers", "notes", "migrations")


def run(argv, timeout=60):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, cwd=env.ROOT)
    return p.returncode, p.stdout


class Board:
    """The notes pool and its nginx, started once for the file."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mr-notes-")
        os.chmod(self.tmp, 0o755)
        self.sock = os.path.join(self.tmp, "notes.sock")
        self.conf = os.path.join(self.tmp, "millrace.conf")
        self.log = os.path.join(self.tmp, "millrace.log")
        with open(env.MILLRACE_CONF) as f:
            stack_conf = f.read()
        text = re.sub(r'^listen = .*$', 'listen = "unix:%s";' % self.sock, stack_conf, flags=re.M)
        text += 'app = "%s";\nworkers = 2;\npm = "static";\n' % SO
        with open(self.conf, "w") as f:
            f.write(text)
        self.nginx_conf = os.path.join(self.tmp, "nginx.conf")
        with open(self.nginx_conf, "w") as f:
            f.write(NGINX % {"tmp": self.tmp, "port": PORT, "sock": self.sock,
                             "user": "user www-data;" if os.geteuid() == 0 else ""})
        self.mgr = self.nginx = None

    def start(self):
        with open(self.log, "a") as log:
            self.mgr = subprocess.Popen([env.millrace_bin(), "-c", self.conf], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        procs.wait_for(lambda: os.path.exists(self.sock) or self.mgr.poll() is not None, 20,
                       what="the notes pool's socket")
        if self.mgr.poll() is not None:
            raise AssertionError("the notes pool exited:\n" + self.read_log())
        err = os.path.join(self.tmp, "nginx-error.log")
        self.nginx = subprocess.Popen(["nginx", "-c", self.nginx_conf, "-p", self.tmp + "/",
                                       "-e", err, "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        procs.wait_for(self.answers, 20, what="the notes board on :%d" % PORT)

    def answers(self):
        try:
            return http.get("/healthz", port=PORT, timeout=2).status == 200
        except OSError:
            return False

    def stop(self):
        for p in (self.nginx, self.mgr):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def remove(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


NGINX = """%(user)s
worker_processes 1;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(tmp)s/nb;
    fastcgi_temp_path %(tmp)s/nf;
    proxy_temp_path %(tmp)s/np;
    uwsgi_temp_path %(tmp)s/nu;
    scgi_temp_path %(tmp)s/ns;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_param REQUEST_ID $request_id;
            fastcgi_pass unix:%(sock)s;
            fastcgi_connect_timeout 1s;
            fastcgi_read_timeout 30s;
        }
    }
}
"""


class Browser:
    """Cookies kept as a browser keeps them (name=value; Max-Age=0 deletes), no redirects
    followed: each answer is checked as it came."""

    def __init__(self):
        self.cookies = {}

    def request(self, method, path, form=None, body=None, headers=None):
        h = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        r = http.request(method, path, body=body, headers=h, port=PORT, timeout=15)
        for c in r.header_all("Set-Cookie"):
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if "max-age=0" in c.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def csrf(self, path="/signin"):
        r = self.get(path)
        m = re.search(rb'name="csrf_token" value="([^"]+)"', r.body)
        assert m, "no csrf_token in %s: %r" % (path, r)
        return m.group(1).decode()

    def post(self, path, fields, token=True, page=None):
        fields = dict(fields)
        if token:
            fields["csrf_token"] = self.csrf(page or path_form(path))
        return self.request("POST", path, form=fields)

    def signup(self, name, password="correct horse"):
        return self.post("/signup", {"name": name, "password": password})

    def signin(self, name, password="correct horse"):
        return self.post("/signin", {"name": name, "password": password})

    def create(self, title, body="some text"):
        return self.post("/items", {"title": title, "body": body}, page="/items/new")

    def api_token(self):
        return json.loads(self.get("/api/session").body)["csrf_token"]


def path_form(path):
    """The page whose form posts to path."""
    if path == "/items":
        return "/items/new"
    if re.match(r"^/items/\d+$", path):
        return path + "/edit"
    if path == "/signout":
        return "/"
    return path


def note_id(r):
    m = re.match(r"^/items/(\d+)$", r.header("Location") or "")
    assert m, "expected a 303 to /items/N, got %r" % r
    return int(m.group(1))


def uname(tag):
    return "%s_%d" % (tag, random.randint(10**6, 10**9))


BOARD = None


def setUpModule():
    global BOARD
    rc, out = run(["make", "-s", "build/asan/notes.so"], timeout=300)
    assert rc == 0, out
    rc, out = run([env.millrace_bin(), "migrate", "-c", env.MILLRACE_CONF, MIGRATIONS])
    assert rc == 0, out
    BOARD = Board()
    BOARD.start()


def tearDownModule():
    if BOARD is not None:
        BOARD.stop()
        BOARD.remove()


def assert_no_sanitizer_report(testcase, mark):
    """The notes pool's log since mark holds no ASan/UBSan report (the stack's own log is
    checked by StackTestCase)."""
    with open(BOARD.log, errors="replace") as f:
        f.seek(mark)
        text = f.read()
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
        testcase.assertNotIn(marker, text, text[-4000:])


class NotesCase(StackTestCase):
    def setUp(self):
        super().setUp()
        self.notes_mark = os.path.getsize(BOARD.log)
        if not BOARD.answers():
            BOARD.stop()
            BOARD.start()

    def tearDown(self):
        try:
            assert_no_sanitizer_report(self, self.notes_mark)
        finally:
            super().tearDown()

    def user(self, tag="u"):
        b = Browser()
        name = uname(tag)
        r = b.signup(name)
        self.assertEqual(r.status, 303, r)
        return b, name


class Migrate(StackTestCase):
    def test_applies_once_and_a_broken_file_leaves_nothing(self):
        d = tempfile.mkdtemp(prefix="mr-mig-")
        self.addCleanup(shutil.rmtree, d, True)
        t = "mig_%d" % random.randint(10**6, 10**9)
        with open(os.path.join(d, "001_a.sql"), "w") as f:
            f.write("CREATE TABLE %s_a (id int);\nINSERT INTO %s_a VALUES (1);\n" % (t, t))
        with open(os.path.join(d, "002_b.sql"), "w") as f:
            f.write("CREATE TABLE %s_b (id int);\n" % t)
        self.addCleanup(be.psql, "DROP TABLE IF EXISTS %s_a, %s_b, %s_c; DELETE FROM "
                        "millrace_migrations WHERE name IN ('001_a.sql', '002_b.sql', "
                        "'003_c.sql')" % (t, t, t))
        be.psql("DELETE FROM millrace_migrations WHERE name IN ('001_a.sql', '002_b.sql', "
                "'003_c.sql')")
        argv = [env.millrace_bin(), "migrate", "-c", env.MILLRACE_CONF, d]
        rc, out = run(argv)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.splitlines(), ["millrace migrate: applied 001_a.sql",
                                            "millrace migrate: applied 002_b.sql"], out)
        rc, out = run(argv)
        self.assertEqual((rc, out), (0, ""))
        with open(os.path.join(d, "003_c.sql"), "w") as f:
            f.write("CREATE TABLE %s_c (id int);\nINSERT INTO %s_c VALUES ('x');\n" % (t, t))
        rc, out = run(argv)
        self.assertEqual(rc, 1, out)
        self.assertIn("003_c.sql: ERROR: invalid input syntax for type integer", out)
        self.assertEqual(be.psql("SELECT to_regclass('%s_c') IS NULL, count(*) FROM "
                                 "millrace_migrations WHERE name = '003_c.sql'" % t),
                         [["t", "0"]])
        self.assertEqual(be.psql("SELECT count(*) FROM %s_a" % t), [["1"]])

    def test_refuses_a_missing_folder_and_bad_usage(self):
        rc, out = run([env.millrace_bin(), "migrate", "-c", env.MILLRACE_CONF, "/nonexistent"])
        self.assertEqual(rc, 1, out)
        self.assertIn("/nonexistent: No such file or directory", out)
        rc, out = run([env.millrace_bin(), "migrate"])
        self.assertEqual(rc, 64, out)


class Accounts(NotesCase):
    def test_signup_signin_signout(self):
        b, name = self.user("acct")
        page = b.get("/")
        self.assertEqual(page.status, 200, page)
        self.assertIn(("signed in as <b>%s</b>" % name).encode(), page.body)
        sid = dict(b.cookies)
        r = b.post("/signout", {}, page="/")
        self.assertEqual(r.status, 303, r)
        self.assertNotIn(b"signed in as", b.get("/").body)
        r = b.signin(name, "wrong password")
        self.assertEqual(r.status, 422, r)
        self.assertIn(b"do not match an account", r.body)
        self.assertIn(('value="%s"' % name).encode(), r.body)  # the name kept, never the password
        self.assertNotIn(b"wrong password", r.body)
        r = b.signin(name)
        self.assertEqual(r.status, 303, r)
        self.assertNotEqual(b.cookies.get("millrace_session"), sid.get("millrace_session"),
                            "the session id must change at sign-in")
        self.assertIn(("signed in as <b>%s</b>" % name).encode(), b.get("/").body)
        # The stored hash is argon2id, never the password.
        rows = be.psql("SELECT password_hash FROM users WHERE name = '%s'" % name)
        self.assertTrue(rows[0][0].startswith("$argon2id$"), rows)

    def test_signup_refuses_a_taken_name_and_bad_fields(self):
        b, name = self.user("dup")
        r = Browser().signup(name)
        self.assertEqual(r.status, 422, r)
        self.assertIn(b"is taken", r.body)
        r = Browser().signup("A!", "short")
        self.assertEqual(r.status, 422, r)
        self.assertIn(b"Name must be", r.body)
        self.assertIn(b"Password must be at least 8 characters", r.body)


class Items(NotesCase):
    def test_create_with_a_validation_error_then_success(self):
        b, name = self.user("create")
        r = b.create("", "kept <b>text</b>")
        self.assertEqual(r.status, 422, r)
        self.assertIn(b"Title must be at least 1 character", r.body)
        self.assertIn(b"kept &lt;b&gt;text&lt;/b&gt;", r.body)  # the input kept, escaped
        r = b.request("POST", "/items", form={"title": "t", "body": "b"})  # no token
        self.assertEqual(r.status, 403, r)
        self.assertIn(b"CSRF", r.body)
        title = "Hello <script>%d" % random.randint(0, 10**9)
        r = b.create(title, "first note")
        self.assertEqual(r.status, 303, r)
        i = note_id(r)
        page = b.get("/items/%d" % i)
        self.assertEqual(page.status, 200, page)
        self.assertIn(title.replace("<", "&lt;").replace(">", "&gt;").encode(), page.body)
        self.assertNotIn(b"<script>", page.body)
        self.assertEqual(b.get("/items/999999999999").status, 404)
        anon = Browser()
        r = anon.post("/items", {"title": "t", "body": "b"}, page="/signin")
        self.assertEqual((r.status, r.header("Location")), (303, "/signin"), r)  # signed out
        self.assertEqual(Browser().get("/items/new").header("Location"), "/signin")

    def test_edit_by_the_author_and_403_for_another_user(self):
        b, _ = self.user("edit")
        i = note_id(b.create("before edit"))
        r = b.post("/items/%d" % i, {"title": "after edit", "body": "new body"})
        self.assertEqual(r.status, 303, r)
        page = b.get("/items/%d" % i)
        self.assertIn(b"after edit", page.body)
        self.assertIn(b"(edited", page.body)
        r = b.post("/items/%d" % i, {"title": "x" * 201, "body": "y"})
        self.assertEqual(r.status, 422, r)
        self.assertIn(b"at most 200 characters", r.body)
        other, _ = self.user("other")
        self.assertEqual(other.get("/items/%d/edit" % i).status, 403)
        token = other.csrf("/items/new")
        r = other.request("POST", "/items/%d" % i,
                          form={"title": "hijack", "body": "z", "csrf_token": token})
        self.assertEqual(r.status, 403, r)
        self.assertIn(b"after edit", b.get("/items/%d" % i).body)

    def test_pagination_and_the_list_invalidated_by_a_write(self):
        b, _ = self.user("pages")
        first = b.get("/")
        self.assertEqual(first.status, 200)
        tag = random.randint(0, 10**9)
        ids = [note_id(b.create("page note %d %d" % (tag, k))) for k in range(12)]
        # The newest first, 10 a page: the newest 10 on page 1 (a cached page, masked by each
        # write), the two oldest of them at the top of page 2.
        p1 = b.get("/items?page=1").body.decode()
        got = [int(x) for x in re.findall(r'<a href="/items/(\d+)">', p1)]
        self.assertEqual(got, ids[::-1][:10])
        self.assertIn('href="/items?page=2"', p1)
        self.assertNotIn('rel="prev"', p1)
        p2 = b.get("/items?page=2").body.decode()
        got2 = [int(x) for x in re.findall(r'<a href="/items/(\d+)">', p2)]
        self.assertEqual(got2[:2], ids[::-1][10:12])
        self.assertIn('href="/items?page=1"', p2)
        self.assertEqual(b.get("/items?page=0").status, 400)
        # An edit shows on the cached list at once.
        r = b.post("/items/%d" % ids[-1], {"title": "renamed %d" % tag, "body": "b"})
        self.assertEqual(r.status, 303)
        self.assertIn(("renamed %d" % tag).encode(), b.get("/").body)
        # Readers without a token, once the replica has replayed the edit: the cached page was
        # masked, so no copy from before the edit is served.
        be.wait_replica_caught_up()
        self.assertIn(("renamed %d" % tag).encode(), Browser().get("/").body)
        self.assertIn(("renamed %d" % tag).encode(), Browser().get("/").body)


class ReadYourWrites(be.ReplayPausing, NotesCase):
    def test_the_author_sees_the_new_note_with_replay_paused(self):
        b, _ = self.user("ryw")
        be.wait_replica_caught_up()
        self.pause_replay()
        title = "while paused %d" % random.randint(0, 10**9)
        r = b.create(title)
        self.assertEqual(r.status, 303, r)
        self.assertIn("millrace_token", b.cookies)
        i = note_id(r)
        page = b.get("/items/%d" % i)
        self.assertEqual(page.status, 200, page)
        self.assertEqual(page.header("X-Notes-Source"), "primary")
        self.assertIn(title.encode(), b.get("/").body)
        self.assertIn(title.encode(), b.get("/api/items").body)
        r = b.post("/items/%d" % i, {"title": title + " edited", "body": "b"})
        self.assertEqual(r.status, 303, r)
        self.assertIn((title + " edited").encode(), b.get("/items/%d" % i).body)
        # Without the token a reader is served by the replica, which has not replayed it.
        self.assertEqual(Browser().get("/items/%d" % i).status, 404)
        self.resume_replay()
        be.wait_replica_caught_up()
        self.assertEqual(Browser().get("/items/%d" % i).status, 200)

    def test_a_new_account_signs_in_from_another_browser_with_replay_paused(self):
        # The other browser has no token: the replica, which has not replayed the sign-up,
        # does not know the name, and the primary is asked before the sign-in is refused.
        be.wait_replica_caught_up()
        self.pause_replay()
        _, name = self.user("fresh")
        other = Browser()
        r = other.signin(name)
        self.assertEqual(r.status, 303, r)
        self.assertIn(("signed in as <b>%s</b>" % name).encode(), other.get("/").body)
        self.assertEqual(other.signin(name, "wrong password").status, 422)


class Api(NotesCase):
    def test_json_api(self):
        b, name = self.user("api")
        token = b.api_token()
        body = json.dumps({"title": "from the API", "body": "json body"})
        h = {"Content-Type": "application/json", "X-CSRF-Token": token}
        r = b.request("POST", "/api/items", body=body, headers=h)
        self.assertEqual(r.status, 201, r)
        doc = json.loads(r.body)
        self.assertEqual((doc["title"], doc["body"], doc["author"]),
                         ("from the API", "json body", name))
        self.assertEqual(r.header("Location"), "/api/items/%d" % doc["id"])
        got = json.loads(b.get("/api/items/%d" % doc["id"]).body)
        self.assertEqual(got, doc)
        lst = json.loads(b.get("/api/items?page=1").body)
        self.assertEqual(lst["items"][0]["id"], doc["id"])
        self.assertEqual(lst["page_size"], 10)
        r = b.request("POST", "/api/items", body=json.dumps({"title": "", "body": 3}), headers=h)
        self.assertEqual(r.status, 422, r)
        err = json.loads(r.body)
        self.assertEqual(err["error"], "invalid input")
        self.assertEqual([f["name"] for f in err["fields"]], ["title"], err)
        r = b.request("POST", "/api/items", body=json.dumps({"body": "x"}), headers=h)
        self.assertEqual([f["name"] for f in json.loads(r.body)["fields"]], ["title"])
        r = b.request("POST", "/api/items", body=body, headers={"Content-Type":
                                                                  "application/json"})
        http.json_error(self, r, 403)
        http.json_error(self, b.get("/api/items/999999999999"), 404)
        anon = Browser()
        r = anon.request("POST", "/api/items", body=body,
                         headers={"Content-Type": "application/json",
                                  "X-CSRF-Token": anon.api_token()})
        http.json_error(self, r, 401)


class Outages(FailoverCase):
    """Redis and the primary stopped for real; the stack heals in tearDown."""

    def setUp(self):
        super().setUp()
        self.notes_mark = os.path.getsize(BOARD.log)
        if not BOARD.answers():
            BOARD.stop()
            BOARD.start()
        self.b, self.name = Browser(), uname("outage")
        self.assertEqual(self.b.signup(self.name).status, 303)
        self.note = note_id(self.b.create("outage note %d" % random.randint(0, 10**9)))
        be.wait_replica_caught_up()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            assert_no_sanitizer_report(self, self.notes_mark)

    def test_redis_stopped(self):
        self.stop("redis")
        for _ in range(5):
            r = self.b.get("/")
            self.assertEqual(r.status, 200, r)
            self.assertIn(("/items/%d" % self.note).encode(), r.body)
            self.assertNotIn(b"signed in as", r.body)  # the session cannot be read
            r = self.b.get("/items/%d" % self.note)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.b.get("/api/items").status, 200)
        token = self.b.csrf("/signin")
        r = self.b.post("/items", {"title": "t", "body": "b", "csrf_token": token}, token=False)
        # Signed out (the session cannot be read): sent to /signin, not a 500.
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.header("Location"), "/signin")
        self.assertEqual(self.b.get("/signin").status, 200)

    def test_primary_stopped(self):
        self.stop("pg")
        r = self.b.get("/items/%d" % self.note)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Notes-Source"), "replica")
        self.assertEqual(self.b.get("/").status, 200)
        self.assertEqual(self.b.get("/api/items").status, 200)
        r = self.b.create("while the primary is down")
        self.assertEqual(r.status, 503, r)
        self.assertIn(b"cannot save anything right now", r.body)
        self.assertIn("text/html", r.header("Content-Type"))
        token = self.b.api_token()
        r = self.b.request("POST", "/api/items", body=json.dumps({"title": "t", "body": "b"}),
                           headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        http.json_error(self, r, 503)


if __name__ == "__main__":
    unittest.main()
