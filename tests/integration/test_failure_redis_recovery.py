"""Redis comes back, the cache is used again within one probe interval: after a Redis restart
the prober's first successful PING closes Redis's breaker and voids every worker's reconnect
backoff (app/lib/backend.c), so workers wait out neither. The same policy as PostgreSQL's."""
import re
import struct
import time

from lib import backends as be
from lib import env, http, metrics, procs, stack
from lib.base import StackTestCase

# The prober's interval for this test: short, so that "within one interval" is far below the
# breaker's cooldown (cache.breaker_cooldown_ms, 1000 ms by default) and the reconnect backoff
# (up to cache.reconnect_backoff_max_ms, 2000 ms) a worker would otherwise wait out.
PROBE_INTERVAL_MS = 100
# Allowance for what the bound leaves out: one probe round (PostgreSQL first, then the PING),
# the poll loop's own /metrics reads, and scheduling on a loaded 2-core machine under ASan.
MARGIN_S = 0.150


def probe_interval_ms():
    """health.interval_ms as millrace runs it (var/millrace.conf), else the default 500."""
    with open(env.MILLRACE_CONF) as f:
        text = f.read()
    m = re.search(r"health\s*[=:]\s*\{[^}]*\binterval_ms\s*[=:]\s*(\d+)", text)
    return int(m.group(1)) if m else 500


def envelope(payload, ttl_ms=600000):
    """millrace's cache value (cache/internal.h): magic, version, delta_us, expiry, length."""
    expiry = int(time.time() * 1000) + ttl_ms
    return struct.pack("<BBIqI", be.ENV_MAGIC, 1, 0, expiry, len(payload)) + payload


def seed_every_world():
    """Every World row in Redis, so that any request's first Redis call after the restart is
    a hit: what is measured is when workers use Redis again, not when they refill it."""
    with be.Redis() as r:
        r.pipeline([("SET", be.world_key(i), envelope(b"1"), "PX", 600000)
                    for i in range(1, 10001)])


class RedisRecovery(StackTestCase):
    def setUp(self):
        super().setUp()
        self.redis_stopped = False
        e = {"MR_CONF_EXTRA": "health = { interval_ms = %d; };" % PROBE_INTERVAL_MS}
        if self.millrace_binary:
            e["MILLRACE_BIN"] = self.millrace_binary
        stack.up("millrace", extra_env=e)
        procs.wait_for(procs.manager_pid, 15, what="the millrace manager")
        procs.wait_pool(15)
        be.wait_all_up(20)

    def tearDown(self):
        try:
            if self.redis_stopped:
                stack.start("redis")
            e = {"MR_CONF_EXTRA": ""}
            if self.millrace_binary:
                e["MILLRACE_BIN"] = self.millrace_binary
            stack.up("millrace", extra_env=e)
            procs.wait_for(procs.manager_pid, 15, what="the millrace manager")
            be.wait_all_up(20)
        finally:
            super().tearDown()

    def drive_until_breaker_reopens(self):
        """Requests with Redis stopped until the breaker has opened and then reopened after a
        failed half-open try: every worker has failed, backed off, and the cooldown has just
        begun again, the worst moment for Redis to come back."""
        opened0 = metrics.values()[metrics.REDIS_OPENED]
        deadline = time.monotonic() + 15
        while metrics.values()[metrics.REDIS_OPENED] < opened0 + 2:
            self.assertLess(time.monotonic(), deadline, "Redis's breaker never reopened")
            for _ in range(4):
                r = http.get("/cached-queries?count=5", timeout=5)
                self.assertEqual(r.status, 200, r)

    def test_cache_hits_resume_within_one_probe_interval_after_redis_restart(self):
        interval_s = probe_interval_ms() / 1000.0
        self.assertEqual(interval_s, PROBE_INTERVAL_MS / 1000.0)
        stack.stop("redis")
        self.redis_stopped = True
        be.wait_backend("redis", "down", 5)
        self.drive_until_breaker_reopens()

        stack.start("redis")
        self.redis_stopped = False
        t0 = time.monotonic()
        seed_every_world()
        hits0 = metrics.values()[metrics.CACHE_HITS]
        request_s = 0.0
        while True:
            t = time.monotonic()
            r = http.get("/cached-queries?count=5", timeout=5)
            request_s = max(request_s, time.monotonic() - t)
            self.assertEqual(r.status, 200, r)
            if metrics.values()[metrics.CACHE_HITS] > hits0:
                break
            self.assertLess(time.monotonic() - t0, 10, "cache hits never resumed")
        took = time.monotonic() - t0
        bound = interval_s + request_s + MARGIN_S
        print("\n      cache hits resumed %.3f s after Redis started (bound %.3f s: interval "
              "%.3f + request %.3f + margin %.3f)" % (took, bound, interval_s, request_s,
                                                       MARGIN_S))
        self.assertLessEqual(took, bound, "workers waited out their backoff or the breaker's "
                             "cooldown after Redis came back\nlog:\n%s" % self.log()[-3000:])
