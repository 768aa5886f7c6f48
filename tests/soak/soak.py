#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Soak: a bounded number of mixed requests through nginx (wrk, loopback only), with each
worker's RSS and open descriptors sampled after a warm-up and at the end.

    python3 tests/soak/soak.py [--requests 1000000] [--warmup 50000]

Passes when no worker was replaced during the run (same pids), every worker's RSS at the end
is within 10% of its value after the warm-up, its descriptor count did not grow, and no
request failed. Needs the local stack up (`make soak` starts and stops it).
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = int(os.environ.get("MR_HTTP_PORT", "8080"))
THREADS, CONNS = 2, 32


def workers():
    with open(os.path.join(ROOT, "var", "millrace.pid")) as f:
        mgr = f.read().strip()
    out = subprocess.run(["pgrep", "-P", mgr], capture_output=True, text=True).stdout.split()
    res = {}
    for pid in out:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                f.read()
            with open(f"/proc/{pid}/statm") as f:
                rss_kb = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        res[int(pid)] = (rss_kb, fds)
    return res


def wrk_chunk(seconds=10):
    cmd = ["timeout", str(seconds + 30), "wrk", "-t", str(THREADS), "-c", str(CONNS), "-d",
           f"{seconds}s", "-s", os.path.join(ROOT, "tests", "soak", "mix.lua"),
           f"http://127.0.0.1:{PORT}/"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errs = sum(int(x) for x in m.groups()) if m else 0
    return reqs, bad, errs


def run_wrk(n, max_seconds=3600):
    """At least n requests, in 10 s wrk runs; at most max_seconds in all."""
    total = bad = errs = 0
    start = time.time()
    while total < n and time.time() - start < max_seconds:
        r, b, e = wrk_chunk()
        total, bad, errs = total + r, bad + b, errs + e
    rps = f"{total / max(time.time() - start, 0.001):.0f}"
    return total, bad, errs, rps


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=int(os.environ.get("SOAK_REQUESTS", "1000000")))
    ap.add_argument("--warmup", type=int, default=50000)
    a = ap.parse_args()
    total = bad = errs = 0
    n, b, e, rps = run_wrk(a.warmup)
    total, bad, errs = n, b, e
    before = workers()
    # The prober and the status process are children too; the workers are the ones serving.
    print(f"soak: warm-up {n} requests ({rps} req/s); sampled {len(before)} children")
    n, b, e, rps = run_wrk(a.requests - a.warmup)
    total, bad, errs = total + n, bad + b, errs + e
    after = workers()
    print(f"soak: {total} requests in all ({rps} req/s in the main run), non-2xx {bad}, "
          f"socket errors {errs}")
    failures = []
    for pid, (rss0, fd0) in sorted(before.items()):
        if pid not in after:
            failures.append(f"pid {pid} was replaced during the run")
            continue
        rss1, fd1 = after[pid]
        growth = (rss1 - rss0) / rss0 * 100 if rss0 else 0
        print(f"  pid {pid}: rss {rss0} -> {rss1} KiB ({growth:+.1f}%), fds {fd0} -> {fd1}")
        if rss1 > rss0 * 1.10:
            failures.append(f"pid {pid} RSS grew {growth:.1f}%")
        if fd1 > fd0:
            failures.append(f"pid {pid} descriptors grew {fd0} -> {fd1}")
    if bad or errs:
        failures.append(f"{bad} non-2xx responses, {errs} socket errors")
    if total < a.requests * 0.99:
        failures.append(f"only {total} of {a.requests} requests were made")
    for f in failures:
        print("FAIL " + f)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
