"""Bad input straight to the FastCGI socket (var/run/millrace.sock), bypassing nginx:
garbage, truncated records, huge lengths, stalls, too many params, an unknown role. After
each: the connection ends (no hang), a good request succeeds, the manager and the full pool
are alive, and no worker crashed. Bad input gets a clear 4xx, never a crash, a hang or a leak:
whatever can reach the socket is untrusted."""
import json
import os
import socket
import struct
import time

from lib import fcgi, http, procs
from lib.base import StackTestCase
from lib.http import HELLO_JSON



def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


class BadInput(StackTestCase):
    def after_bad_input(self):
        """The next good request succeeds, straight and through nginx; the pool is whole;
        no worker crashed."""
        r = fcgi.request("GET", "/json", timeout=5)
        self.assertEqual((r.status, r.body), (200, HELLO_JSON), r)
        self.assertEqual(r.protocol_status, 0, r)
        self.assert_serves("/json")
        self.assert_pool_normal()
        crashes = [l for l in self.log().splitlines()
                   if "event=worker_exited" in l and "planned=no" in l]
        self.assertEqual(crashes, [], "a worker died on bad input; log:\n" + self.log())

    def assert_ends_without_answer(self, res, within=3.0):
        """The server closed the connection promptly and sent no response."""
        self.assertTrue(res.closed, "server kept the connection open: %r" % res)
        self.assertLess(res.elapsed, within, res)
        stdout = [c for t, _, c in fcgi.parse_records(res.data) if t == fcgi.STDOUT]
        self.assertEqual(stdout, [], "server answered bad input with output: %r" % res)

    def test_garbage_bytes_closed_and_pool_survives(self):
        garbage = b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(4096)
        self.assert_ends_without_answer(fcgi.send_raw(garbage, wait=5))
        # Garbage with a valid version byte and a nonsense record type.
        junk = fcgi.record(200, os.urandom(100)) + os.urandom(64)
        res = fcgi.send_raw(junk, wait=5, shut_write=True)
        self.assertTrue(res.closed, res)
        self.after_bad_input()

    def test_truncated_record_closed_and_pool_survives(self):
        begin = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body())
        # A header, then half of the 8-byte body it announces, then EOF.
        self.assert_ends_without_answer(fcgi.send_raw(begin[:12], wait=5, shut_write=True))
        # Half a record header.
        self.assert_ends_without_answer(fcgi.send_raw(begin[:5], wait=5, shut_write=True))
        # A PARAMS record announcing 1000 bytes that brings 10, then EOF.
        data = begin + fcgi.record(fcgi.PARAMS, b"\x04\x03abc", length=1000)
        self.assert_ends_without_answer(fcgi.send_raw(data, wait=5, shut_write=True))
        self.after_bad_input()

    def test_params_claiming_gigabytes_then_close(self):
        begin = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body())
        # A name-value pair whose 4-byte lengths claim 0x7fffffff bytes each.
        huge = struct.pack("!II", 0xFFFFFFFF, 0xFFFFFFFF) + b"x" * 100
        data = begin + fcgi.record(fcgi.PARAMS, huge)
        # The client goes away without ending the stream.
        s = fcgi.connect(timeout=5)
        s.sendall(data)
        time.sleep(0.3)
        s.close()
        # The same, half-closed, must end promptly without an answer.
        self.assert_ends_without_answer(fcgi.send_raw(data, wait=5, shut_write=True))
        # A single claimed name of 0x7fffffff bytes with a short value.
        one = struct.pack("!IB", 0xFFFFFFFF, 1) + b"x" * 50
        self.assert_ends_without_answer(
            fcgi.send_raw(begin + fcgi.record(fcgi.PARAMS, one), wait=5, shut_write=True))
        self.after_bad_input()

    def test_half_request_stall_does_not_block_and_is_closed(self):
        # All workers but one receive half a request and nothing more. The last worker must
        # keep serving, and the server must close each stalled connection once its read
        # timeout passes.
        n_stall = max(1, len(self.workers_before) - 1)
        half = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body()) + \
            fcgi.record(fcgi.PARAMS, fcgi.encode_params(fcgi.default_params()))[:40]
        stalled = []
        t0 = time.monotonic()
        try:
            for _ in range(n_stall):
                s = fcgi.connect(timeout=1)
                s.sendall(half)
                stalled.append(s)
            time.sleep(0.3)
            for i in range(20):
                t = time.monotonic()
                r = fcgi.request("GET", "/plaintext", timeout=5)
                self.assertEqual((r.status, r.body), (200, b"Hello, World!"), r)
                g = http.get("/json", timeout=5)
                self.assertEqual((g.status, g.body), (200, HELLO_JSON), g)
                self.assertLess(time.monotonic() - t, 2.0,
                                "a good request waited behind the stalled ones")
            # Each stalled connection is closed by the server.
            limit = fcgi.read_timeout_s() + 3.0
            for s in stalled:
                left = t0 + limit - time.monotonic()
                s.settimeout(max(0.1, left))
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    self.fail("a stalled connection was still open %.1fs after it stalled "
                              "(read_timeout_ms is %.0f ms)" % (limit, fcgi.read_timeout_s() * 1000))
                except ConnectionResetError:
                    data = b""
                out = [c for t, _, c in fcgi.parse_records(data) if t == fcgi.STDOUT]
                self.assertEqual(out, [], "a half request was answered: %r" % data)
        finally:
            for s in stalled:
                s.close()
        self.after_bad_input()

    def test_too_many_params_431(self):
        extra = [("HTTP_X_FILLER_%d" % i, "v") for i in range(300)]  # max_params is 256
        r = fcgi.request("GET", "/json", extra_params=extra, timeout=5)
        self.assertEqual(r.status, 431, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        self.assertEqual(json.loads(r.body)["status"], 431, r)
        self.assertEqual(int(r.header("Content-Length")), len(r.body), r)
        self.after_bad_input()

    def test_header_value_over_limit_431(self):
        r = fcgi.request("GET", "/json", extra_params=[("HTTP_X_BIG", "v" * 10000)],
                         timeout=5)
        self.assertEqual(r.status, 431, r)
        self.after_bad_input()

    def test_unknown_role_refused(self):
        msg = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body(role=99)) + \
            fcgi.stream(fcgi.PARAMS, fcgi.encode_params(fcgi.default_params())) + \
            fcgi.stream(fcgi.STDIN, b"")
        res = fcgi.send_raw(msg, wait=5)
        recs = fcgi.parse_records(res.data)
        self.assertEqual([c for t, _, c in recs if t == fcgi.STDOUT], [],
                         "a request with an unknown role was served: %r" % res)
        ends = [c for t, _, c in recs if t == fcgi.END_REQUEST]
        if ends:  # the protocol's answer: FCGI_UNKNOWN_ROLE (3)
            self.assertEqual(struct.unpack("!IB3x", ends[0][:8])[1], 3, res)
        else:
            self.assertTrue(res.closed, "neither END_REQUEST nor close: %r" % res)
            self.assertLess(res.elapsed, 3.0, res)
        self.after_bad_input()

    def test_body_over_limit_413_straight(self):
        body = b"y" * (1048576 + 1)  # default max_body_bytes + 1
        r = fcgi.request("POST", "/test/echo", body=body, timeout=20)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        self.assertEqual(json.loads(r.body)["status"], 413, r)
        self.after_bad_input()

    def test_body_shorter_than_content_length_400(self):
        params = fcgi.default_params("POST", "/test/echo", 100)
        msg = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body()) + \
            fcgi.stream(fcgi.PARAMS, fcgi.encode_params(params)) + \
            fcgi.stream(fcgi.STDIN, b"z" * 10)
        s = fcgi.connect(timeout=fcgi.read_timeout_s() + 5)
        try:
            s.sendall(msg)
            r = fcgi.read_response(s)
        finally:
            s.close()
        self.assertEqual(r.status, 400, r)
        self.after_bad_input()

    def test_bad_content_length_400(self):
        params = [(k, v) for k, v in fcgi.default_params("POST", "/test/echo")
                  if k != "CONTENT_LENGTH"] + [("CONTENT_LENGTH", "12abc")]
        r = fcgi.request(params=params, timeout=5)
        self.assertEqual(r.status, 400, r)
        self.after_bad_input()

    def test_many_bad_connections_leak_no_descriptors(self):
        before = {w: fd_count(w) for w in procs.workers()}
        begin = fcgi.record(fcgi.BEGIN_REQUEST, fcgi.begin_body())
        for i in range(60):
            kind = i % 3
            if kind == 0:
                fcgi.send_raw(os.urandom(64), wait=2, shut_write=True)
            elif kind == 1:
                fcgi.send_raw(begin[:11], wait=2, shut_write=True)
            else:
                fcgi.request("GET", "/json?x=%zz", timeout=5)
        self.after_bad_input()
        after = {w: fd_count(w) for w in procs.workers()}
        grown = {w: (before[w], after[w]) for w in before
                 if w in after and None not in (before[w], after[w]) and after[w] > before[w]}
        self.assertEqual(grown, {}, "workers hold more descriptors after bad input")
