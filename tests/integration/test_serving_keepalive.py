"""The keepalive trap: with libfcgi a kept FastCGI connection pins a
worker, so more kept connections than workers stalls requests. 64 concurrent clients
through nginx against fewer workers: nothing may take 2 s, nothing may fail.

nginx keeps FastCGI connections (upstream keepalive 32, more than there are workers) for / and
/kept/ alike: before each worker held several connections and served whichever was readable,
that load stalled the whole pool (34 timeouts in 5 s), and plain requests behind it stalled
too. test_serving_keepconn.py drives the harder cases (POSTs, reloads, recycling, shrinking)."""
import threading

from lib import load
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

    def test_kept_connections_beyond_workers_do_not_stall_gets(self):
        self.check("/kept/plaintext")

    def test_plain_requests_are_not_stalled_by_kept_connections(self):
        """While 64 clients hold kept connections, other clients still get answers fast."""
        results = {}

        def kept_load():
            results["kept"] = load.http_load("/kept/json", 5, 64, timeout_s=2)

        t = threading.Thread(target=kept_load)
        t.start()
        try:
            r = load.http_load("/plaintext", 4, 4, timeout_s=2)
        finally:
            t.join(30)
        self.assertEqual(r.errors, 0, r)
        self.assertEqual(r.non2xx, 0, r)
        self.assertLess(r.max_latency_s, 2.0, r)
        self.assertEqual(results["kept"].errors, 0, results["kept"])
        self.assertEqual(results["kept"].non2xx, 0, results["kept"])
        self.assert_pool_normal()
