"""What the FastCGI listener trusts. A TCP listener admits only listen_allowed_clients (a
second loopback address, 127.0.0.2, against a list of 127.0.0.1, gets nothing and is closed
before a byte is read; counted and logged once a minute per address), and refuses to start
on an address other hosts reach without a list. Every record stream passes the record guard
before libfcgi parses it: the reproducers that abort libfcgi 2.4.2 close their connection
instead, a well-formed GET_VALUES is answered, and the pool survives."""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from lib import env, fcgi, pm
from lib.base import StackTestCase


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check(conf_text):
    d = tempfile.mkdtemp(prefix="millrace-listen-")
    path = os.path.join(d, "millrace.conf")
    with open(path, "w") as f:
        f.write(conf_text)
    p = subprocess.run([env.millrace_bin(), "-t", "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=20)
    return p


def tcp_request(port, uri="/json", source="127.0.0.1", timeout=5.0):
    """One FastCGI request over TCP from `source`: (answered Response or None, bytes back)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    msg = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body()) + \
        fcgi.stream(fcgi.PARAMS, fcgi.encode_params(fcgi.default_params("GET", uri))) + \
        fcgi.stream(fcgi.STDIN, b"")
    data = b""
    try:
        s.sendall(msg)
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    recs = fcgi.parse_records(data)
    out = b"".join(c for t, _, c in recs if t == fcgi.STDOUT)
    return out, data


class ConfigRule(unittest.TestCase):
    """millrace -t applies the listener rule to a configured TCP address."""

    def test_public_tcp_listener_without_a_list_is_refused(self):
        p = check('listen = "0.0.0.0:%d";\n' % free_port())
        self.assertEqual(p.returncode, 78, p)
        self.assertIn("listen_allowed_clients", p.stderr)
        self.assertIn("other hosts can reach", p.stderr)

    def test_public_tcp_listener_with_a_list_or_any_is_accepted(self):
        for lst in ('["10.1.0.0/16", "::1", "127.0.0.1"]', '["any"]'):
            p = check('listen = "0.0.0.0:%d";\nlisten_allowed_clients = %s;\n'
                      % (free_port(), lst))
            self.assertEqual(p.returncode, 0, (lst, p))

    def test_loopback_tcp_and_unix_listeners_need_no_list(self):
        for listen in ("127.0.0.1:%d" % free_port(), "[::1]:%d" % free_port(), "unix:/tmp/x.sock"):
            p = check('listen = "%s";\n' % listen)
            self.assertEqual(p.returncode, 0, (listen, p))

    def test_bad_entries_are_refused_with_the_reason(self):
        for entry, reason in (("10.0.0.0/33", "prefix must be 0..32"),
                              ("10.1.2.3/16", "bits set past /16"),
                              ("example.com", "not a numeric"),
                              ("", "expected an address")):
            p = check('listen_allowed_clients = ["%s"];\n' % entry)
            self.assertEqual(p.returncode, 78, (entry, p))
            self.assertRegex(p.stderr, r":1: listen_allowed_clients: entry \"%s\": .*%s"
                             % (re.escape(entry), re.escape(reason)), p)
        p = check('listen_allowed_clients = ["any", "127.0.0.1"];\n')
        self.assertEqual(p.returncode, 78, p)
        self.assertIn('"any" must be the only one', p.stderr)


class AllowList(unittest.TestCase):
    """A millrace of its own on a loopback TCP port, admitting 127.0.0.1 only."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="millrace-allow-")
        cls.port = free_port()
        cls.log = os.path.join(cls.dir, "millrace.log")
        conf = os.path.join(cls.dir, "millrace.conf")
        with open(conf, "w") as f:
            f.write('listen = "127.0.0.1:%d";\nlisten_allowed_clients = ["127.0.0.1"];\n'
                    'workers = 2;\nlog = { file = "%s"; };\n'
                    'db = { primary = "host=127.0.0.1 port=%d dbname=millrace user=millrace"; };\n'
                    % (cls.port, cls.log, env.PG_PORT))
            if os.geteuid() == 0:
                f.write('user = "www-data";\n')
        os.chmod(cls.dir, 0o777)
        cls.proc = subprocess.Popen([env.millrace_bin(), "-c", conf], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                out, _ = tcp_request(cls.port)
                if b"Hello" in out:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or cls.proc.poll() is not None:
                cls.tearDownClass()
                raise AssertionError("millrace on 127.0.0.1:%d did not serve" % cls.port)
            time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.send_signal(signal.SIGTERM)
            try:
                cls.proc.wait(15)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait(5)
        cls.proc.stderr.close()

    def metrics(self):
        out, _ = tcp_request(self.port, "/metrics")
        return out.decode("latin-1")

    def test_a_client_outside_the_list_gets_nothing_and_is_counted_and_logged_once(self):
        before = pm.metric("millrace_clients_refused_total", self.metrics()) or 0
        for _ in range(3):
            out, data = tcp_request(self.port, source="127.0.0.2")
            self.assertEqual(data, b"", "127.0.0.2 got bytes back: %r" % data[:80])
        out, _ = tcp_request(self.port)
        self.assertIn(b"Hello, World!", out, "127.0.0.1 is still served")
        after = pm.metric("millrace_clients_refused_total", self.metrics())
        self.assertEqual(after - before, 3)
        with open(self.log, errors="replace") as f:
            lines = [ln for ln in f if "event=client_refused" in ln and "127.0.0.2" in ln]
        self.assertEqual(len(lines), 1, lines)


class RecordGuard(StackTestCase):
    """The record guard on the stack's own socket."""

    def refused(self):
        return pm.metric("millrace_fcgi_refused_total") or 0

    def test_libfcgi_reproducers_replay_without_a_worker_dying(self):
        p = subprocess.run([sys.executable, os.path.join(env.ROOT, "tests", "fuzz", "fcgi_fuzz.py"),
                            "--replay", os.path.join(env.ROOT, "tests", "fuzz", "regressions",
                                                     "fcgi")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        self.assertIn("without a finding", p.stdout)

    def test_a_well_formed_get_values_is_answered(self):
        # libfcgi sends its answer with the next request's (alone, it is never flushed).
        body = fcgi.encode_params([(b"FCGI_MAX_CONNS", b""), (b"FCGI_MPXS_CONNS", b"")])
        req = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body()) + \
            fcgi.stream(fcgi.PARAMS, fcgi.encode_params(fcgi.default_params("GET", "/json"))) + \
            fcgi.stream(fcgi.STDIN, b"")
        res = fcgi.send_raw(fcgi.record(fcgi.GET_VALUES, body, 0) + req, wait=3,
                            shut_write=True)
        recs = fcgi.parse_records(res.data)
        self.assertEqual([t for t, _, _ in recs][:1], [fcgi.GET_VALUES_RESULT], res)
        self.assertIn(b"FCGI_MPXS_CONNS", recs[0][2])
        self.assertIn(b"Hello, World!", b"".join(c for t, _, c in recs if t == fcgi.STDOUT))

    def test_a_broken_stream_is_closed_counted_and_the_pool_serves(self):
        before = self.refused()
        twice = fcgi.encode_params([(b"FCGI_MAX_CONNS", b"")] * 4)
        huge = struct.pack("!II", 0xC0000000, 0xBFFFFFFF) + b"x" * 8
        for data in (fcgi.record(fcgi.GET_VALUES, twice, 0),
                     fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body()) +
                     fcgi.record(fcgi.PARAMS, huge),
                     fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body(), version=2)):
            res = fcgi.send_raw(data, wait=3, shut_write=True)
            self.assertEqual(fcgi.parse_records(res.data), [], res)
            self.assertTrue(res.closed, res)
        deadline = time.monotonic() + 5
        while self.refused() - before < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.refused() - before, 3)
        r = fcgi.request("GET", "/json")
        self.assertIn(b"Hello, World!", r.body)


if __name__ == "__main__":
    unittest.main()
