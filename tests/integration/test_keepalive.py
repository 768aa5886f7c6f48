"""The keepalive trap (issue 2, item 7): with libfcgi a kept FastCGI connection pins a
worker, so more kept connections than workers stalls requests. 64 concurrent clients
through nginx against fewer workers: nothing may take 2 s, nothing may fail."""
from lib import load, procs
from lib.base import StackTestCase


class KeepaliveStall(StackTestCase):
    def check(self, path):
        n = len(self.workers_before)
        self.assertLess(n, 64, "this test needs fewer workers than connections")
        r = load.http_load(path, 5, 64, timeout_s=2)
        self.assertGreater(r.requests, 500, r)
        self.assertEqual(r.errors, 0, r)  # a request over 2 s counts as a timeout error
        self.assertEqual(r.non2xx, 0, r)
        self.assertIsNotNone(r.max_latency_s, r)
        self.assertLess(r.max_latency_s, 2.0, r)
        self.assert_pool_normal()

    def test_64_connections_fewer_workers_no_stall_plaintext(self):
        self.check("/plaintext")
