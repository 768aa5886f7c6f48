"""Applications built outside the tree: `millrace new` writes one, it builds against the
installed millrace.h and `pkg-config millrace` only (a staged `make install`), and its two
README commands serve it through its own nginx. A new build rolls in on SIGHUP under a
64-connection load without a failed request; a broken build is refused, at start with exit
78 and `file: reason`, on reload with a log line while the old build keeps serving."""
import json
import re
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from lib import env, http, load, procs

PORT = env.HTTP_PORT + 11  # the app's own nginx, beside the stack's


def run(argv, cwd=None, extra_env=None, timeout=120):
    e = dict(os.environ)
    e.update(extra_env or {})
    p = subprocess.run(argv, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class AppTestCase(unittest.TestCase):
    """One staged install and one new application for the whole file."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mr-app-")
        os.chmod(cls.tmp, 0o755)  # the workers (www-data under root) read the module here
        cls.stage = os.path.join(cls.tmp, "stage")
        rc, out = run(["make", "-s", "install", "DESTDIR=" + cls.stage, "PREFIX=/usr/local"],
                      cwd=env.ROOT, timeout=600)
        assert rc == 0, "make install DESTDIR=%s failed:\n%s" % (cls.stage, out)
        cls.pkg_env = {
            "PKG_CONFIG_PATH": os.path.join(cls.stage, "usr/local/lib/pkgconfig"),
            "PKG_CONFIG_SYSROOT_DIR": cls.stage,
            "MILLRACE": env.millrace_bin(),
        }
        cls.app = os.path.join(cls.tmp, "site")
        rc, out = run([env.millrace_bin(), "new", cls.app, "--port", str(PORT)])
        assert rc == 0, out
        cls.so = os.path.join(cls.app, "build", "site.so")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def make(self, version="0.1.0"):
        """Builds the module as `version` (what /api/version answers)."""
        self.built = version
        rc, out = run(["make", "-s", "VERSION=" + version], cwd=self.app, extra_env=self.pkg_env)
        self.assertEqual(rc, 0, out)
        return out

    def start(self):
        """`make run` in its own session; returns once nginx answers /api/version."""
        log = open(os.path.join(self.tmp, "run.log"), "w")
        e = dict(os.environ)
        e.update(self.pkg_env)
        self.proc = subprocess.Popen(["make", "run", "VERSION=" + self.built], cwd=self.app,
                                     env=e, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.addCleanup(self.stop)
        try:
            procs.wait_for(lambda: self.version() is not None, 20, what="the app on :%d" % PORT)
        except procs.Timeout as e:
            raise AssertionError("%s\nmake run:\n%s" % (e, self.run_log()))

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C: millrace stops, the trap stops nginx
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        procs.wait_for(lambda: not procs.port_open(PORT), 10, what="the app's nginx to stop")

    def run_log(self):
        with open(os.path.join(self.tmp, "run.log")) as f:
            return f.read()

    def manager(self):
        with open(os.path.join(self.app, "run", "millrace.pid")) as f:
            return int(f.read())

    def version(self):
        try:
            r = http.get("/api/version", port=PORT, timeout=2)
        except OSError:
            return None
        return json.loads(r.body)["version"] if r.status == 200 else None


class TestNewApp(AppTestCase):
    def test_builds_against_the_installed_header_and_serves_through_nginx(self):
        cflags = run(["pkg-config", "--cflags", "millrace"], extra_env=self.pkg_env)[1]
        self.assertIn(os.path.join(self.stage, "usr/local/include"), cflags)
        self.make("1.0.0")
        self.start()
        r = http.get("/api/hello?name=you%22", port=PORT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(json.loads(r.body), {"message": 'Hello, you"!'})
        self.assertEqual(self.version(), "1.0.0")
        r = http.get("/", port=PORT)  # public/index.html, from nginx itself
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"Served by nginx from public/", r.body)
        r = http.get("/healthz", port=PORT)  # millrace's own routes stay beside the app's
        self.assertEqual(r.status, 200, r)
        r = http.get("/nope", port=PORT)
        self.assertEqual(r.status, 404, r)
        body = json.loads(r.body)
        self.assertEqual(body["status"], 404)
        self.assertRegex(body["request_id"], r"^[0-9a-f]{32}$")

    def test_millrace_new_refuses_a_folder_in_use(self):
        rc, out = run([env.millrace_bin(), "new", self.app])
        self.assertEqual(rc, 73, out)
        self.assertIn("exists and is not empty", out)


class TestDeploy(AppTestCase):
    def test_sighup_rolls_a_new_build_in_without_a_failed_request(self):
        self.make("1.0.0")
        self.start()
        with load.Load("/api/version", concurrency=64, duration_s=60, timeout_s=5,
                       keep_body=True, port=PORT) as l:
            time.sleep(1.5)
            self.make("2.0.0")  # a new file (mv), as a deploy writes it
            os.kill(self.manager(), signal.SIGHUP)
            t_hup = time.monotonic()
            # Rolled when a full second of answers comes from the new build only.
            deadline = t_hup + 30
            while time.monotonic() < deadline:
                time.sleep(0.5)
                recent = [s for s in l.since(time.monotonic() - 1.0) if s.body]
                if recent and all(b'"2.0.0"' in s.body for s in recent):
                    break
            t_rolled = time.monotonic()
            time.sleep(2)
            res = l.stop()
        self.assertLess(t_rolled, deadline, "still answering from the old build 30 s after HUP")
        self.assertEqual(res.failures, [], res.summary())
        self.assertGreater(len(res.samples), 500, res.summary())
        after = [s for s in res.after(t_rolled)]
        self.assertTrue(after)
        old = [s for s in after if b'"2.0.0"' not in (s.body or b"")]
        self.assertEqual(old, [], "answers from the old build after the roll")
        self.assertIn("config_reloaded", self.run_log())

    def test_a_broken_build_is_refused_and_the_old_one_keeps_serving(self):
        self.make("1.0.0")
        self.start()
        good = os.path.join(self.tmp, "good.so")
        shutil.copy(self.so, good)
        broken = os.path.join(self.app, "broken.c")
        write(broken, "void mr_no_such_call(void);\nvoid use(void);\n"  # not in this server
              "void use(void) { mr_no_such_call(); }\n")
        self.addCleanup(os.remove, broken)
        self.make("3.0.0")
        os.kill(self.manager(), signal.SIGHUP)
        procs.wait_for(lambda: "reload_failed" in self.run_log(), 15, what="reload_failed")
        self.assertIn("undefined symbol: mr_no_such_call", self.run_log())
        for _ in range(20):
            self.assertEqual(self.version(), "1.0.0")
        # At start the same build is refused: exit 78 and `file: reason` from `millrace -t`.
        rc, out = run([env.millrace_bin(), "-t", "-c", os.path.join(self.app, "millrace.conf")])
        self.assertEqual(rc, 78, out)
        self.assertIn(self.so + ": undefined symbol: mr_no_such_call", out)
        shutil.copy(good, self.so)


SUM_ROUTE = r"""
static const struct mr_input sum_inputs[] = {
    MR_IN_INT("a", MR_FROM_QUERY, 1, 100, MR_REQUIRED),
    MR_IN_INT("b", MR_FROM_QUERY, -5, 5, MR_DEFAULT("0")),
    MR_IN_ENUM("op", MR_FROM_QUERY, ops, MR_DEFAULT("add")),
    MR_IN_END,
};

static int
sum(struct mr_ctx *ctx)
{
    long long a = mr_input_int(ctx, "a"), b = mr_input_int(ctx, "b");
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "result");
    mr_jw_int(j, mr_input_enum(ctx, "op") == 0 ? a + b : a - b);
    mr_jw_object_end(j);
    return 0;
}

static const struct mr_route routes[] = {
    MR_ROUTE("GET", "/api/sum", sum, .inputs = sum_inputs),"""


class TestInputs(AppTestCase):
    def test_declared_inputs_are_validated_before_the_handler(self):
        path = os.path.join(self.app, "app.c")
        with open(path) as f:
            original = f.read()
        self.addCleanup(write, path, original)
        write(path, original.replace(
            "static const struct mr_route routes[] = {",
            'static const char *const ops[] = {"add", "sub", NULL};\n' + SUM_ROUTE))
        self.make("1.0.0")
        self.start()
        r = http.get("/api/sum?a=40&b=2", port=PORT)
        self.assertEqual((r.status, json.loads(r.body)), (200, {"result": 42}), r)
        r = http.get("/api/sum?a=40&op=sub", port=PORT)  # b's default, op an enum
        self.assertEqual(json.loads(r.body), {"result": 40}, r)
        r = http.get("/api/sum?a=x&b=9&op=mul", port=PORT)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(json.loads(r.body), {"error": "invalid input", "fields": [
            {"name": "a", "in": "query", "reason": "must be an integer between 1 and 100"},
            {"name": "b", "in": "query", "reason": "must be between -5 and 5"},
            {"name": "op", "in": "query", "reason": "must be one of: add, sub"}]})
        r = http.get("/api/sum", port=PORT)
        self.assertEqual(json.loads(r.body)["fields"],
                         [{"name": "a", "in": "query", "reason": "required"}])


DATA_ROUTES = r"""
static const struct mr_input item_inputs[] = {
    MR_IN_INT("id", MR_FROM_PATH, 1, 999, MR_REQUIRED),
    MR_IN_STR("title", MR_FROM_FORM, 1, 20, NULL, MR_REQUIRED),
    MR_IN_STR("who", MR_FROM_COOKIE, 1, 20, NULL, MR_DEFAULT("anonymous")),
    MR_IN_END,
};

static const struct mr_input json_inputs[] = {
    MR_IN_INT("qty", MR_FROM_JSON, 1, 10, MR_REQUIRED),
    MR_IN_EMAIL("user.email", MR_FROM_JSON, MR_REQUIRED),
    MR_IN_END,
};

static int
item(struct mr_ctx *ctx)
{
    mr_set_status(ctx, 201);
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "id");
    mr_jw_int(j, mr_input_int(ctx, "id"));
    mr_jw_key(j, "raw_id");
    mr_jw_string(j, mr_path_param(ctx, "id"));
    mr_jw_key(j, "title");
    mr_jw_string(j, mr_input_str(ctx, "title", NULL));
    mr_jw_key(j, "tags");
    mr_jw_array(j);
    const char *t;
    for (size_t i = 0; (t = mr_field_at(ctx, "tag", i)) != NULL; i++)
        mr_jw_string(j, t);
    mr_jw_array_end(j);
    mr_jw_key(j, "who");
    mr_jw_string(j, mr_input_str(ctx, "who", NULL));
    const struct mr_upload *u = mr_upload(ctx, "file");
    mr_jw_key(j, "file_bytes");
    mr_jw_int(j, u != NULL ? (long long)u->size : -1);
    mr_jw_object_end(j);
    return 0;
}

static int
order(struct mr_ctx *ctx)
{
    const char *name = "";
    (void)mr_json_get_str(ctx, "user.name", &name);
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "qty");
    mr_jw_int(j, mr_input_int(ctx, "qty"));
    mr_jw_key(j, "email");
    mr_jw_string(j, mr_input_str(ctx, "user.email", NULL));
    mr_jw_key(j, "name");
    mr_jw_string(j, name);
    mr_jw_object_end(j);
    return 0;
}

static int
login(struct mr_ctx *ctx)
{
    struct mr_cookie_options o = {.has_max_age = true, .max_age_s = 60};
    if (mr_set_cookie(ctx, "who", "ada", &o) != 0 || mr_set_cookie(ctx, "bad name", "x", NULL) == 0)
        return 500;
    return mr_redirect(ctx, 303, "/api/hello") == 0 ? 0 : 500;
}

static const struct mr_route routes[] = {
    MR_ROUTE("POST", "/api/items/{id:int}", item, .inputs = item_inputs),
    MR_ROUTE("POST", "/api/orders", order, .inputs = json_inputs),
    MR_ROUTE("POST", "/api/login", login),"""


class TestRequestData(AppTestCase):
    """Path parameters, forms (urlencoded and multipart), JSON bodies and cookies, through
    nginx, into validated inputs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        path = os.path.join(cls.app, "app.c")
        with open(path) as f:
            original = f.read()
        write(path, original.replace("static const struct mr_route routes[] = {", DATA_ROUTES))

    def setUp(self):
        self.make("1.0.0")
        self.start()

    def post(self, path, body, ctype, headers=None):
        h = {"Content-Type": ctype}
        h.update(headers or {})
        return http.request("POST", path, body=body, headers=h, port=PORT)

    def test_path_form_and_cookie_inputs(self):
        r = self.post("/api/items/42", b"title=Hello+there&tag=a&tag=b%20c",
                      "application/x-www-form-urlencoded", {"Cookie": "x=1; who=grace"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(json.loads(r.body), {"id": 42, "raw_id": "42", "title": "Hello there",
                                              "tags": ["a", "b c"], "who": "grace",
                                              "file_bytes": -1})
        r = self.post("/api/items/1000", b"title=", "application/x-www-form-urlencoded")
        self.assertEqual(r.status, 400, r)
        self.assertEqual([f["name"] for f in json.loads(r.body)["fields"]], ["id", "title"])
        r = self.post("/api/items/abc", b"title=x", "application/x-www-form-urlencoded")
        self.assertEqual(r.status, 404, r)  # {id:int} does not take "abc"
        r = self.post("/api/items/7", b"title=%zz", "application/x-www-form-urlencoded")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(json.loads(r.body)["error"], "malformed form body")

    def test_multipart_fields_and_files(self):
        big = b"\x00\xff" * 50000  # 100 kB: spilled to a temporary file
        for content, size in ((b"small file", 10), (big, len(big))):
            body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nUp\r\n"
                    b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; "
                    b"filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    + content + b"\r\n--XyZ--\r\n")
            r = self.post("/api/items/3", body, "multipart/form-data; boundary=XyZ")
            self.assertEqual(r.status, 201, r)
            doc = json.loads(r.body)
            self.assertEqual((doc["title"], doc["file_bytes"]), ("Up", size))
        r = self.post("/api/items/3", b"--XyZ\r\nbroken", "multipart/form-data; boundary=XyZ")
        self.assertEqual(r.status, 400, r)

    def test_json_body_inputs(self):
        r = self.post("/api/orders", b'{"qty": 3, "user": {"email": "a@b.example", "name": "Ada"}}',
                      "application/json")
        self.assertEqual((r.status, json.loads(r.body)),
                         (200, {"qty": 3, "email": "a@b.example", "name": "Ada"}), r)
        r = self.post("/api/orders", b'{"qty": "many", "user": {"email": "nope"}}',
                      "application/json")
        self.assertEqual(r.status, 400, r)
        self.assertEqual([(f["name"], f["in"]) for f in json.loads(r.body)["fields"]],
                         [("qty", "json"), ("user.email", "json")])
        for bad in (b'{"qty": 1,', b'{"qty": 1, "qty": 2}', b"[" * 40 + b"]" * 40):
            r = self.post("/api/orders", bad, "application/json")
            self.assertEqual(r.status, 400, (bad, r))
            self.assertEqual(json.loads(r.body)["error"], "malformed JSON body")

    def test_set_cookie_defaults_and_redirect(self):
        r = self.post("/api/login", b"", "application/x-www-form-urlencoded")
        self.assertEqual(r.status, 303, r)
        self.assertEqual(r.header("Location"), "/api/hello")
        self.assertEqual(r.header_all("Set-Cookie"),
                         ["who=ada; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"])


class TestCrash(AppTestCase):
    def test_a_crashing_handler_kills_one_worker_and_is_counted_by_route(self):
        path = os.path.join(self.app, "app.c")
        with open(path) as f:
            original = f.read()
        self.addCleanup(write, path, original)
        write(path, original.replace("static const struct mr_route routes[] = {",
                                     "static int\ncrash(struct mr_ctx *ctx)\n{\n"
                                     "    (void)ctx;\n    __builtin_trap();\n}\n\n"
                                     "static const struct mr_route routes[] = {\n"
                                     "    MR_ROUTE(\"GET\", \"/api/crash\", crash),"))
        self.make("1.0.0")
        self.start()
        r = http.get("/api/crash", port=PORT)
        self.assertEqual(r.status, 502, r)  # nginx: the worker died mid-request
        procs.wait_for(lambda: "route=/api/crash" in self.run_log(), 10,
                       what="worker_exited naming the route")
        self.assertRegex(self.run_log(), r"event=worker_exited .*signal=4 planned=no "
                                         r"method=GET route=/api/crash")
        for _ in range(10):  # the others keep serving, and a new worker took its place
            self.assertEqual(self.version(), "1.0.0")
        m = http.get("/metrics", port=PORT).body.decode()
        self.assertIn('millrace_route_crashes_total{method="GET",route="/api/crash"} 1\n', m)
        self.assertIn('millrace_route_crashes_total{method="GET",route="/api/hello"} 0\n', m)


class TestModuleChecks(AppTestCase):
    """What the throwaway child refuses, each with the module's path and the reason."""

    def check(self, source):
        path = os.path.join(self.app, "app.c")
        with open(path) as f:
            original = f.read()
        self.addCleanup(write, path, original)
        write(path, source(original))
        self.make()
        rc, out = run([env.millrace_bin(), "-t", "-c", os.path.join(self.app, "millrace.conf")])
        return rc, out

    def test_route_conflicting_with_the_server_is_refused(self):
        rc, out = self.check(lambda s: s.replace('"/api/version"', '"/metrics"'))
        self.assertEqual(rc, 78, out)
        self.assertIn("GET /metrics (route 2 of the application) conflicts with GET /metrics "
                      "(served by millrace itself)", out)

    def test_duplicate_routes_are_refused(self):
        rc, out = self.check(lambda s: s.replace('"/api/version"', '"/api/hello"'))
        self.assertEqual(rc, 78, out)
        self.assertIn("GET /api/hello (route 1 of the application) conflicts with "
                      "GET /api/hello (route 2 of the application)", out)

    def test_wrong_api_version_is_refused(self):
        rc, out = self.check(lambda s: s.replace(
            "#include <millrace.h>", "#include <millrace.h>\n#undef MR_API_VERSION\n"
            "#define MR_API_VERSION 999"))
        self.assertEqual(rc, 78, out)
        self.assertIn("built for millrace API version 999", out)

    def test_failing_init_is_refused(self):
        rc, out = self.check(lambda s: s.replace(
            "MR_APP(", "static int boom(const struct mr_worker_info *w)\n"
            "{\n    (void)w;\n    return -13;\n}\n\nMR_APP(.init = boom, "))
        self.assertEqual(rc, 78, out)
        self.assertIn(self.so + ": init failed: Permission denied", out)

    def test_crash_in_init_is_refused(self):
        rc, out = self.check(lambda s: s.replace(
            "MR_APP(", "static int boom(const struct mr_worker_info *w)\n"
            "{\n    (void)w;\n    __builtin_trap();\n}\n\nMR_APP(.init = boom, "))
        self.assertEqual(rc, 78, out)
        self.assertIn(self.so + ": crashed while loading or in init", out)

    def test_template_syntax_error_is_refused_with_its_line(self):
        rc, out = self.check(lambda s: s.replace(
            "MR_APP(", "static const struct mr_template pages[] = {\n"
            "    {\"page\", \"<p>\\n{{#items}}<li>{{name}}\\n\"},\n};\n\n"
            "MR_APP(.templates = pages, .n_templates = 1, "))
        self.assertEqual(rc, 78, out)
        self.assertRegex(out, re.escape(self.so) + r": page:2: .*items")

    def test_bad_input_table_is_refused_naming_the_route(self):
        rc, out = self.check(lambda s: s.replace(
            "static const struct mr_route routes[] = {",
            "static const struct mr_input bad[] = {\n"
            "    MR_IN_INT(\"n\", MR_FROM_QUERY, 9, 1, MR_REQUIRED),\n    MR_IN_END,\n};\n\n"
            "static const struct mr_route routes[] = {").replace(
            'MR_ROUTE("GET", "/api/hello", hello)',
            'MR_ROUTE("GET", "/api/hello", hello, .inputs = bad)'))
        self.assertEqual(rc, 78, out)
        self.assertIn(self.so + ": GET /api/hello: ", out)
        self.assertIn('"n"', out)

    def test_not_a_module_is_refused(self):
        rc, out = self.check(lambda s: "int x;\n")
        self.assertEqual(rc, 78, out)
        self.assertIn("not a millrace module", out)


if __name__ == "__main__":
    unittest.main()
