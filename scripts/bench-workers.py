#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench-workers.py (`make bench-workers`): throughput and memory against the number of
workers, so that the default pool size comes from a curve and not from a rule of thumb.

For each pool size (millrace `workers`, pm static) and each nginx worker_processes, the
local stack is restarted with that config (MR_CONF_EXTRA, MR_NGINX_WORKERS), warmed up for
a second per endpoint, then measured: one short wrk run per endpoint (req/s, p99, errors),
then the PSS of all the pool's workers (the sum of Pss from /proc/PID/smaps_rollup, the pids
from /status?json&full). The sweep runs BENCH_REPEATS times, every other pass in reverse
order, so that each point is measured early and late and the drift of a shared machine shows
as the spread between passes instead of as a slope in the curve.

  scripts/bench-workers.py
  BENCH_WORKERS="1 2 3 4 5 6 8 12 16 24 32"  BENCH_NGINX_WORKERS="1 2"
  BENCH_ENDPOINTS="/db /cached-queries?count=20"  BENCH_DURATION=3 (s)  BENCH_CONNECTIONS=64
  BENCH_REPEATS=2  BENCH_OUT=workers (bench/results/NAME.{md,dat,png})

Loopback only; every wrk run is bounded. The stack is started for the sweep and, if it was
not running before, stopped after; if it was, it is put back in the default config.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = os.path.join(ROOT, "scripts", "stack.py")
SERVICES = ["pg", "replica", "redis", "nginx", "millrace"]


def die(msg):
    sys.exit("bench-workers: %s" % msg)


def env_ints(name, default, lo, hi):
    text = os.environ.get(name) or default
    try:
        vals = [int(x) for x in text.split()]
    except ValueError:
        die("%s=%r: want whole numbers" % (name, text))
    if not vals or any(not lo <= v <= hi for v in vals):
        die("%s=%r: want %d..%d" % (name, text, lo, hi))
    return vals


def settings():
    s = {
        "workers": env_ints("BENCH_WORKERS", "1 2 3 4 5 6 8 12 16 24 32", 1, 256),
        "nginx": env_ints("BENCH_NGINX_WORKERS", "1 2", 1, 64),
        "dur": env_ints("BENCH_DURATION", "3", 1, 60)[0],
        "conns": env_ints("BENCH_CONNECTIONS", "64", 1, 4096)[0],
        "repeats": env_ints("BENCH_REPEATS", "2", 1, 10)[0],
        "endpoints": (os.environ.get("BENCH_ENDPOINTS")
                      or "/db /cached-queries?count=20").split(),
        "out": os.environ.get("BENCH_OUT") or "workers",
        "port": int(os.environ.get("MR_HTTP_PORT") or 8080),
        "extra": os.environ.get("MR_CONF_EXTRA", ""),
    }
    if not re.fullmatch(r"[A-Za-z0-9._-]+", s["out"]):
        die("BENCH_OUT=%s: letters, digits, . _ - only" % s["out"])
    if any(not e.startswith("/") for e in s["endpoints"]):
        die("BENCH_ENDPOINTS: want paths starting with /")
    if re.search(r"^\s*(workers|pm)\s*[=:]", s["extra"], re.M):
        die("MR_CONF_EXTRA sets workers or pm: the sweep sets those")
    return s


def stack(args, env=None, check=True):
    p = subprocess.run([sys.executable, STACK] + args, env=env, capture_output=True, text=True,
                       timeout=300)
    if check and p.returncode != 0:
        die("stack.py %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def running_services():
    out = stack(["status"], check=False)
    return {ln.split()[0] for ln in out.splitlines() if " running " in ln + " "}


def status_json(port):
    url = "http://127.0.0.1:%d/status?json&full" % port
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as r:
        return json.load(r)


def worker_pids(port, want, timeout_s=15):
    """The pool's worker pids once all `want` of them are live (the manager starts at most
    max_spawn_rate a second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            pids = [p["pid"] for p in status_json(port).get("processes", [])]
        except (OSError, ValueError):
            pids = []
        if len(pids) == want or time.monotonic() > deadline:
            if len(pids) != want:
                die("the pool has %d workers, want %d" % (len(pids), want))
            return pids
        time.sleep(0.2)


def pss_kib(pids):
    out = subprocess.run([os.path.join(ROOT, "scripts", "pss.sh")] + [str(p) for p in pids],
                         capture_output=True, text=True, timeout=30).stdout
    return int(out.strip() or 0)


def wrk(url, dur, conns, latency=True):
    """(req/s, p99 ms, errors) of one bounded wrk run."""
    cmd = ["timeout", str(dur + 20), "wrk", "-t2", "-c%d" % conns, "-d%ds" % dur]
    if latency:
        cmd.append("--latency")
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=dur + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = int(float(m.group(1))) if m else 0
    p99 = 0.0
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errs = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errs += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errs += sum(int(x) for x in m.groups())
    return rps, p99, errs


def sweep_order(s):
    points = [(nw, w) for w in s["workers"] for nw in s["nginx"]]
    for rep in range(s["repeats"]):
        for pt in (points if rep % 2 == 0 else points[::-1]):
            yield rep, pt


def measure(s):
    """{(nw, w, endpoint): [(rps, p99, errors, pass), ...]}, {(nw, w): [pss KiB, ...]}."""
    res, mem = {}, {}
    total = len(s["workers"]) * len(s["nginx"]) * s["repeats"]
    for i, (rep, (nw, w)) in enumerate(sweep_order(s), 1):
        env = dict(os.environ, MR_NGINX_WORKERS=str(nw),
                   MR_CONF_EXTRA=(s["extra"].rstrip("\n") + "\n" if s["extra"] else "")
                   + 'pm = "static";\nworkers = %d;\n' % w)
        stack(["up"], env=env)
        pids = worker_pids(s["port"], w)
        base = "http://127.0.0.1:%d" % s["port"]
        for ep in s["endpoints"]:
            wrk(base + ep, 1, s["conns"], latency=False)  # warm-up: caches, connections
        line = []
        for ep in s["endpoints"]:
            r = wrk(base + ep, s["dur"], s["conns"])
            res.setdefault((nw, w, ep), []).append(r + (rep,))
            line.append("%s %d req/s p99 %.1f ms%s" % (ep, r[0], r[1],
                                                       " %d errors" % r[2] if r[2] else ""))
        kib = pss_kib(pids)
        mem.setdefault((nw, w), []).append(kib)
        print("bench-workers: [%d/%d] pass %d nginx %d workers %2d: %s; workers' PSS %.1f MiB"
              % (i, total, rep + 1, nw, w, ", ".join(line), kib / 1024), flush=True)
    return res, mem


def mib(kib):
    return kib / 1024.0


def write_dat(path, s, res, mem):
    """One gnuplot index block per (endpoint, nginx workers): workers, mean, min, max req/s,
    workers' PSS MiB (mean over passes), PSS per worker MiB."""
    with open(path, "w") as f:
        f.write("# blocks (gnuplot index): %s\n" % "; ".join(
            "%d: %s nginx %d" % (i, ep, nw) for i, (ep, nw) in enumerate(
                (ep, nw) for ep in s["endpoints"] for nw in s["nginx"])))
        f.write("# workers\treq_s_mean\treq_s_min\treq_s_max\tpss_workers_mib\t"
                "pss_per_worker_mib\n")
        for ep in s["endpoints"]:
            for nw in s["nginx"]:
                f.write("# %s nginx %d\n" % (ep, nw))
                for w in s["workers"]:
                    r = [x[0] for x in res[(nw, w, ep)]]
                    p = statistics.mean(mem[(nw, w)])
                    f.write("%d\t%.0f\t%d\t%d\t%.2f\t%.2f\n" % (
                        w, statistics.mean(r), min(r), max(r), mib(p), mib(p) / w))
                f.write("\n\n")


def draw(s, dat, png, title):
    # gnuplot's word() splits at spaces: none inside a name.
    names = " ".join("%s,nginx=%d" % (ep, nw) for ep in s["endpoints"] for nw in s["nginx"])
    cores = os.cpu_count() or 1
    gp = os.path.join(ROOT, "scripts", "bench-workers.gp")
    p = subprocess.run(["gnuplot", "-e", "datafile='%s'; outfile='%s'; nblocks=%d; nnginx=%d;"
                        " names='%s'; ngnames='%s'; today=%d; chart_title='%s'" % (
                            dat, png, len(names.split()), len(s["nginx"]), names,
                            " ".join("nginx=%d" % nw for nw in s["nginx"]), 2 * cores + 1,
                            title.replace("'", "")), gp],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        die("gnuplot failed: %s" % p.stderr.strip())


def num(x):
    return "{:,}".format(int(round(x)))


def write_md(path, s, res, mem, meta):
    name = os.path.splitext(os.path.basename(path))[0]
    cols = ["workers"]
    for ep in s["endpoints"]:
        for nw in s["nginx"]:
            cols.append("`%s` nginx %d" % (ep, nw))
    cols += ["workers' PSS (MiB)", "PSS per worker (MiB)"]
    rows = ["| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 1)]
    for w in s["workers"]:
        row = ["%d" % w]
        for ep in s["endpoints"]:
            for nw in s["nginx"]:
                r = res[(nw, w, ep)]
                rps = [x[0] for x in r]
                errs = sum(x[2] for x in r)
                row.append("%s [%s–%s] (%.1f)%s" % (
                    num(statistics.mean(rps)), num(min(rps)), num(max(rps)),
                    statistics.median(x[1] for x in r), ", **%d errors**" % errs if errs else ""))
        p = [k for nw in s["nginx"] for k in mem[(nw, w)]]
        row += ["%.1f" % mib(statistics.mean(p)), "%.2f" % (mib(statistics.mean(p)) / w)]
        rows.append("| " + " | ".join(row) + " |")
    # Drift: the same points, later pass against the first.
    drift = []
    for rep in range(1, s["repeats"]):
        ratios = [x[0] / first[0] for k, v in res.items()
                  for first in [v[0]] for x in v if x[3] == rep and first[0] > 0]
        if ratios:
            drift.append("pass %d / pass 1: median %.2f (%.2f–%.2f)"
                         % (rep + 1, statistics.median(ratios), min(ratios), max(ratios)))
    md = ["# Throughput and memory against workers", "",
          "- command: `%s`" % meta["command"], "- date: %s" % meta["date"],
          "- commit: %s" % meta["commit"], "- machine: %s" % meta["machine"],
          "- wrk -t2 -c%d -d%ds per point and endpoint, after a 1 s warm-up; %d passes over"
          " the sweep, every other one in reverse order; pm static" % (
              s["conns"], s["dur"], s["repeats"]), "",
          "Each cell: mean req/s over the passes [min–max] (median p99 in ms). PSS: the sum of"
          " Pss over the pool's workers after the point's runs (the manager, prober, nginx,"
          " PostgreSQL and Redis not included), mean over passes and nginx settings.", "",
          "\n".join(rows), "", "Drift between passes (req/s of a point in a later pass over the"
          " same point in the first): %s." % ("; ".join(drift) or "one pass only"), "",
          "![chart](%s.png)" % name, "", "The chart's data: `%s.dat`." % name]
    with open(path, "w") as f:
        f.write("\n".join(md) + "\n")


def git(*args):
    p = subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True)
    return p.stdout.strip(), p.returncode


def main():
    if len(sys.argv) > 1:
        sys.stdout.write(__doc__)
        return 0 if sys.argv[1] in ("-h", "--help") else 2
    s = settings()
    for tool in ("wrk", "gnuplot"):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            die("no %s (make deps)" % tool)
    results = os.path.join(ROOT, "bench", "results")
    os.makedirs(results, exist_ok=True)
    before = running_services()
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    try:
        res, mem = measure(s)
    finally:
        # Back to what was there: the default config if the stack ran, else nothing.
        env = dict(os.environ)
        env.pop("MR_NGINX_WORKERS", None)
        if before:
            stack(["up"] + sorted(before, key=SERVICES.index), env=env, check=False)
        stop = [x for x in SERVICES[::-1] if x not in before]
        if stop:
            stack(["stop"] + stop, env=env, check=False)
    commit, _ = git("rev-parse", "--short", "HEAD")
    _, dirty = git("diff", "--quiet", "HEAD")
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                   "?")
    meta = {
        "command": "BENCH_WORKERS=\"%s\" BENCH_NGINX_WORKERS=\"%s\" BENCH_DURATION=%d "
                   "BENCH_REPEATS=%d make bench-workers" % (
                       " ".join(map(str, s["workers"])), " ".join(map(str, s["nginx"])),
                       s["dur"], s["repeats"]),
        "date": "%s to %s" % (start, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        "commit": (commit or "unknown") + (" (with uncommitted changes)" if dirty else ""),
        "machine": "%s, %d cores (%s), load average at start %s" % (
            " ".join(os.uname()[i] for i in (0, 2)), os.cpu_count() or 0, cpu, " ".join(load)),
    }
    out = os.path.join(results, s["out"])
    write_dat(out + ".dat", s, res, mem)
    write_md(out + ".md", s, res, mem, meta)
    draw(s, out + ".dat", out + ".png",
         "req/s and PSS of the workers against their number (wrk -c%d -d%ds, %d passes)"
         % (s["conns"], s["dur"], s["repeats"]))
    print("bench-workers: %s.md, .png, .dat" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
