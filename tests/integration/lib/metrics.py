"""millrace's /metrics, read two ways: `values()` as a flat {'name{labels}': value} dict for
tests that watch a few series move, and `Scrape` for tests that check the exposition itself
(the Prometheus text format 0.0.4, parsed here rather than trusted: labels, escapes, TYPE
lines, duplicate series), with the histogram arithmetic Prometheus would do on it.

A worker records a request after FCGX_Finish_r, so a response can reach the client a moment
before it is counted: `scrape()` first waits until every worker is back in accept()."""
import math
import re
import time

from . import http, procs

# ---- the flat view -------------------------------------------------------------------------

_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$")


def values():
    """{'name{labels}': value} from GET /metrics through nginx. A scrape right after a flood
    may be shed (503 with Retry-After: the manager's queue sample, every 100 ms, still shows
    the flood): it is tried again for up to 1.5 s."""
    for _ in range(10):
        r = http.get("/metrics", timeout=5)
        if r.status != 503 or r.header("Retry-After") is None:
            break
        time.sleep(0.15)
    if r.status != 200:
        raise AssertionError("GET /metrics answered %r" % r)
    out = {}
    for line in r.body.decode().splitlines():
        m = _METRIC.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def key(name, backend, role):
    """The flat key of a per-backend series."""
    return '%s{backend="%s",role="%s"}' % (name, backend, role)


REPLICA_Q = key("millrace_db_queries_total", "replica1", "replica")
PRIMARY_Q = key("millrace_db_queries_total", "primary", "primary")
CACHE_HITS = "millrace_cache_hits_total"
CACHE_MISSES = "millrace_cache_misses_total"
# Keys a worker's L1 served without asking Redis (routes flagged MR_ROUTE_CACHE_L1, such as
# /cached-queries): not in CACHE_HITS, so a route's keys are CACHE_HITS + CACHE_L1_HITS +
# CACHE_MISSES.
CACHE_L1_HITS = "millrace_cache_l1_hits_total"


def cache_hits(before, after):
    """Keys served from a cache (Redis or a worker's L1) between two values()."""
    return sum(after.get(k, 0) - before.get(k, 0) for k in (CACHE_HITS, CACHE_L1_HITS))
REPLICA_LAG = 'millrace_replica_lag_seconds{backend="replica1"}'
REDIS_STATE = key("millrace_breaker_state", "redis", "cache")
REDIS_OPENED = key("millrace_breaker_opened_total", "redis", "cache")
REPLICA_STATE = key("millrace_breaker_state", "replica1", "replica")
REPLICA_OPENED = key("millrace_breaker_opened_total", "replica1", "replica")
REPLICA_UP = key("millrace_backend_up", "replica1", "replica")
PRIMARY_UP = key("millrace_backend_up", "primary", "primary")


# ---- the exposition, parsed in full ----------------------------------------------------------

INF = float("inf")
BUCKETS = 28  # MR_HIST_BUCKETS: le = 2^k us for k = 0..26, then +Inf

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$')
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"[ \t]*(,|$)')


def _unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def _value(s):
    special = {"+Inf": INF, "-Inf": -INF, "NaN": math.nan}
    return special[s] if s in special else float(s)


class Scrape:
    """One /metrics body: samples keyed by (name, sorted label items), and the TYPE lines."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.types = {}
        for n, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3]
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError("line %d is not a sample: %r" % (n, line))
            labels = {}
            rest = m.group(2) or ""
            pos = 0
            while pos < len(rest):
                lm = _LABEL.match(rest, pos)
                if not lm:
                    raise AssertionError("line %d: bad labels at %r" % (n, rest[pos:]))
                labels[lm.group(1)] = _unescape(lm.group(2))
                pos = lm.end()
            key = (m.group(1), tuple(sorted(labels.items())))
            if key in self.samples:
                raise AssertionError("line %d: duplicate series %r" % (n, line))
            self.samples[key] = _value(m.group(3))

    def series(self, name):
        """[(labels dict, value)] of one metric name."""
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name]

    def get(self, name, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def one(self, name, **labels):
        v = self.get(name, **labels)
        if v is None:
            raise AssertionError("no series %s%r in the scrape" % (name, labels))
        return v

    def buckets(self, method, route):
        """[(le, cumulative count)] of a route's histogram, in the order served."""
        out = []
        for labels, v in self.series("millrace_request_duration_seconds_bucket"):
            if labels.get("method") == method and labels.get("route") == route:
                out.append((labels["le"], v))
        return out


def delta(a, b, name):
    """{labels tuple: b - a} for every series of `name` in b (a missing in a counts as 0)."""
    out = {}
    for k, v in b.samples.items():
        if k[0] == name:
            out[k[1]] = v - a.samples.get(k, 0.0)
    return out


def histogram_quantile(q, cum):
    """Prometheus's histogram_quantile over [(upper bound, cumulative count)] ending at +Inf:
    the first bucket whose count reaches rank q * total, linear inside it (from 0 for the
    first bucket); in the +Inf bucket, the last finite bound."""
    total = cum[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    for i, (le, c) in enumerate(cum[:-1]):
        if c >= rank:
            lo, below = (0.0, 0.0) if i == 0 else cum[i - 1]
            return lo + (le - lo) * (rank - below) / (c - below)
    return cum[-2][0]


def bucket_index(seconds):
    """The histogram bucket (2^k us upper bounds) a duration falls in, as millrace files it."""
    us = seconds * 1e6
    k = 0
    while k < BUCKETS - 1 and us > 2 ** k + 1e-9:
        k += 1
    return k


def quiet(timeout=10.0):
    """Waits until every worker is blocked in accept(): every response already sent has been
    recorded in the scoreboard (a worker records after FCGX_Finish_r)."""
    def all_idle():
        w = procs.workers()
        return w and set(procs.idle_workers()) == set(w)
    procs.wait_for(all_idle, timeout, what="every worker back in accept()")


def scrape(quiet_first=True):
    if quiet_first:
        quiet()
    r = http.get("/metrics", timeout=10)
    if r.status != 200:
        raise AssertionError("GET /metrics answered %r" % r)
    return Scrape(r.body.decode())
