"""The log: nothing per successful request; one request_failed line per failing request,
joined to nginx's access log by req=; a REQUEST_ID param cannot forge a line; every line is
`<N>event=...` logfmt under 4 KiB."""
import os
import random
import re
import signal
import time

from lib import env, fcgi, http, procs, stack
from lib.base import StackTestCase
from lib.load import drive
from lib.metrics import quiet


# ---- the log ---------------------------------------------------------------------------------

LOGFMT_LINE = re.compile(r'^<[0-7]>event=[a-z][a-z0-9_]*'
                         r'(?: [A-Za-z_][A-Za-z0-9_.]*=(?:"(?:[^"\\]|\\.)*"|[^\s"]*))*$')


class Logs(StackTestCase):

    def nginx_request_id(self, token, timeout=5.0):
        """nginx's $request_id for the request whose URI holds token (the access log is
        flushed every second)."""
        path = os.path.join(env.LOG_DIR, "nginx-access.log")

        def find():
            try:
                with open(path, errors="replace") as f:
                    for line in f:
                        if token in line:
                            return line
            except OSError:
                return None
        line = procs.wait_for(find, timeout, what="%s in nginx's access log" % token)
        m = re.search(r"\breq=([0-9a-f]{32})\b", line)
        self.assertIsNotNone(m, line)
        return m.group(1), line

    def test_successful_requests_write_no_log_line(self):
        mark = procs.log_mark()
        seen = drive([("GET", "/json")] * 100 + [("GET", "/plaintext")] * 100
                     + [("GET", "/db")] * 30 + [("GET", "/queries?queries=3")] * 20
                     + [("GET", "/fortunes")] * 20 + [("GET", "/cached-queries")] * 20
                     + [("GET", "/updates?queries=2")] * 10)
        self.assertEqual({k[2] for k in seen}, {200}, seen)
        quiet()
        time.sleep(0.2)
        self.assertEqual(procs.log_since(mark), "",
                         "300 successful requests wrote to the log")

    def test_failed_request_logs_one_line_with_nginx_request_id(self):
        token = "obs%d" % random.randrange(10 ** 9)
        stack.stop("pg")
        try:
            r = http.get("/updates?queries=1&t=%s" % token, timeout=10)
            self.assertEqual(r.status, 503, r)
            rid, access = self.nginx_request_id(token)
            self.assertIn('" 503 ', access)
            line = procs.wait_log(self.mark, r"\breq=%s\b" % rid, timeout=5)
            quiet()
            text = self.log()  # before healing: requests while the primary returns may fail
        finally:
            stack.start("pg")
            procs.wait_for(lambda: http.get("/updates?queries=1", timeout=5).status == 200, 15,
                           what="/updates to answer 200 once the primary is back")
        ours = [l for l in text.splitlines() if rid in l]
        failed = [l for l in text.splitlines() if "event=request_failed" in l]
        self.assertEqual(ours, [line], "lines naming req=%s:\n%s" % (rid, text))
        self.assertEqual(failed, [line], "request_failed lines during the test:\n%s" % text)
        self.assertTrue(line.startswith("<3>event=request_failed "), line)
        self.assertEqual(procs.field(line, "req"), rid, line)
        self.assertEqual(procs.field(line, "status"), "503", line)
        self.assertEqual(procs.field(line, "uri"), "/updates", line)
        self.assertRegex(line, LOGFMT_LINE)

    def test_request_id_from_fastcgi_cannot_forge_a_log_line(self):
        """REQUEST_ID is a FastCGI param: nginx sends $request_id (hex), but a front end that
        passes a client's X-Request-Id, or anything that reaches the socket, sends what it
        likes. The log quotes values with spaces and escapes quotes and newlines, so no value
        can start a line of its own. A
        slow request (over log.slow_ms = 1000 by default) is logged with req=."""
        rid = 'a b"c\n<3>event=forged_by_request_id'
        mark = procs.log_mark()
        params = [p for p in fcgi.default_params("GET", "/test/sleep?ms=1050")
                  if p[0] != "REQUEST_ID"] + [("REQUEST_ID", rid)]
        r = fcgi.request("GET", "/test/sleep?ms=1050", timeout=10, params=params)
        self.assertEqual(r.status, 200, r)
        line = procs.wait_log(mark, r"event=slow_request", timeout=5)
        text = procs.log_since(mark)
        self.assertNotIn("event=forged_by_request_id", "\n".join(
            l for l in text.splitlines() if not l.startswith("<4>event=slow_request")),
            "REQUEST_ID started a log line of its own:\n%s" % text)
        self.assertEqual(len(text.splitlines()), 1, "one slow request, lines:\n%s" % text)
        self.assertRegex(line, LOGFMT_LINE)
        self.assertEqual(procs.field(line, "req"), rid.replace("\\", "\\\\").replace(
            '"', '\\"').replace("\n", "\\n"), line)

    def test_every_log_line_is_prefixed_logfmt_with_event_first_under_4k(self):
        """Lines this test makes millrace write: a stop and a start (stopping, stopped,
        started, backend_up), a reload (config_reloaded) and a slow request (slow_request).
        Only lines since the test began, so that another test's failure is not this one's."""
        stack.stop("millrace")
        stack.restart_millrace("")
        procs.wait_log(self.mark, r"event=backend_up", timeout=5)
        os.kill(procs.manager_pid(), signal.SIGHUP)
        procs.wait_log(self.mark, r"event=config_reloaded", timeout=5)
        procs.wait_pool(10)
        r = http.get("/test/sleep?ms=1020", timeout=10)
        self.assertEqual(r.status, 200, r)
        procs.wait_log(self.mark, r"event=slow_request", timeout=5)
        with open(env.MILLRACE_LOG, "rb") as f:
            f.seek(self.mark)
            raw = f.read()
        self.assertTrue(raw.endswith(b"\n"), "the log does not end with a newline: %r" % raw[-200:])
        lines = raw[:-1].split(b"\n")
        events = {procs.field(l.decode("utf-8", "replace"), "event") for l in lines}
        self.assertTrue({"stopped", "started", "config_reloaded", "slow_request"} <= events,
                        events)
        long_ = [(len(l) + 1, l[:100]) for l in lines if len(l) + 1 > 4096]
        self.assertFalse(long_, "lines over 4 KiB (bytes, start): %r" % long_)
        bad = [l.decode("utf-8", "replace") for l in lines
               if not LOGFMT_LINE.match(l.decode("utf-8", "replace"))]
        self.assertFalse(bad, "%d of %d lines are not `<N>event=... key=value`:\n%s"
                         % (len(bad), len(lines), "\n".join(bad[:10])))
