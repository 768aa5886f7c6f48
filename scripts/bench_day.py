#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench_day.py (`make bench-day`): a day in 100 seconds. BENCH_DAY_REQUESTS (1,000,000)
requests of the mix in bench/mix-day.txt, closed loop over BENCH_DAY_CONNS (64) keep-alive
connections, through millrace's nginx (the local stack, started if needed), then the same
mix, seed and count through php-fpm behind the peers' nginx (../shared/peers, started if
needed, stopped again if this run started it), in the same run, for the ratio.

For each stack: wall time, answers per second, errors (non-2xx, socket errors, unanswered:
all must be 0, else the exit status is 1), P50/P99/P99.9 overall and per path, and the CPU
seconds of nginx, the application server (millrace's manager and workers; php-fpm's master
and children), Redis and PostgreSQL (primary and replica) separately: utime + stime of each
process tree from /proc/<pid>/stat, with exited children through cutime + cstime, before and
after the measured run; plus loadgen's own and the rest of the machine's ("other", which
should stay small: it is noise from outside the run).

Each stack gets BENCH_DAY_WARMUP (20,000) requests first, not measured (Redis filled,
connections and prepared statements made). BENCH_DAY_PHP=0 measures millrace alone.
PEERS_REDIS_PORT moves the peers' Redis when MR_REDIS_PORT takes its port;
BENCH_LOADGEN_RT=1 runs the generator under `chrt -f 1`.
The markdown result goes to bench/results/day-<UTC time>.md (BENCH_RESULTS_DIR to change).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadbench as lb  # noqa: E402

MIX = os.path.join(lb.ROOT, "bench", "mix-day.txt")
PARTS = ["nginx", "app", "redis", "postgresql", "loadgen", "other"]


def measure(stack, requests, conns, warmup, timeout_ms):
    """Warm-up, then the measured run with CPU meters around it."""
    args = ["-m", MIX, "-c", str(conns), "-t", str(timeout_ms), "-s", "1"]
    if warmup > 0:
        lb.run_loadgen(args + ["-n", str(warmup), "-s", "2"], stack.url, stack.label + "-warmup",
                       900)
    limit_s = 3600
    meter = lb.CpuMeter(stack.parts())
    meter.start()
    rc, rows, raw = lb.run_loadgen(args + ["-n", str(requests), "-T", str(limit_s)], stack.url,
                                   stack.label, limit_s + 60)
    cpu = meter.stop()
    return {"rc": rc, "rows": rows, "raw": raw, "cpu": cpu}


def cpu_cells(cpu):
    return " | ".join("%.1f" % cpu[p] for p in PARTS)


def report(results, requests, conns, warmup, started_at, machine):
    out = ["# A day in 100 seconds (`make bench-day`)", "",
           "%s; %s. %d requests of `bench/mix-day.txt`, closed loop, %d keep-alive "
           "connections (build/rel/loadgen), after %d warm-up requests per stack; everything "
           "on loopback, sharing the machine's cores. Latencies in ms; CPU in seconds "
           "(utime + stime of each process tree, exited children included)."
           % (started_at, machine, requests, conns, warmup), "",
           "| stack | wall s | answers/s | non-2xx | errors | P50 | P99 | P99.9 | max "
           "| CPU nginx | CPU app | CPU Redis | CPU PostgreSQL | CPU loadgen | CPU other "
           "| CPU ms per request |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
           "| ---: | ---: | ---: | ---: |"]
    for label, r in results:
        t = r["rows"]["*"]
        served = sum(r["cpu"][p] for p in ("nginx", "app", "redis", "postgresql"))
        out.append("| %s | %.1f | %.0f | %s | %s | %.2f | %.2f | %.2f | %.1f | %s | %.3f |" % (
            label, float(t["wall_s"]), float(t["rps"]), t["non2xx"],
            int(t["errors"]) + int(t["unfinished"]), lb.ms(t, "p50_us"), lb.ms(t, "p99_us"),
            lb.ms(t, "p999_us"), lb.ms(t, "max_us"), cpu_cells(r["cpu"]),
            1000.0 * served / max(1, int(t["requests"]))))
    out.append("")
    out.append("CPU ms per request: nginx + app + Redis + PostgreSQL, over the requests.")
    if len(results) == 2:
        (_, a), (_, b) = results
        ta, tb = a["rows"]["*"], b["rows"]["*"]
        out += ["", "millrace ÷ php-fpm: %.2f× the answers per second, %.2f× the wall time, "
                "P99 %.2f×." % (float(ta["rps"]) / max(float(tb["rps"]), 1e-9),
                                float(ta["wall_s"]) / max(float(tb["wall_s"]), 1e-9),
                                lb.ms(ta, "p99_us") / max(lb.ms(tb, "p99_us"), 1e-9))]
    mr = results[0][1]["rows"]["*"]
    met = float(mr["wall_s"]) <= 100 * requests / 1e6 and lb.problems(mr) == 0
    out += ["", "Target (1,000,000 requests in at most 100 s, 0 errors; scaled to %d requests: "
            "%.1f s): **%s** (%.1f s, %d errors)." % (
                requests, 100 * requests / 1e6, "met" if met else "missed",
                float(mr["wall_s"]), lb.problems(mr))]
    for label, r in results:
        out += ["", "## %s per path" % label, "",
                "| path | requests | non-2xx | errors | P50 | P99 | P99.9 | max |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for path, row in r["rows"].items():
            if path != "*":
                out.append("| `%s` | %s | %s | %s | %.2f | %.2f | %.2f | %.1f |" % (
                    path, row["requests"], row["non2xx"], row["errors"], lb.ms(row, "p50_us"),
                    lb.ms(row, "p99_us"), lb.ms(row, "p999_us"), lb.ms(row, "max_us")))
    out += ["", "## loadgen's lines", "", "```"]
    for _, r in results:
        out += r["raw"]
    out += ["```", ""]
    return "\n".join(out)


def main():
    requests = lb.env_int("BENCH_DAY_REQUESTS", 1000000, 1, 10**9)
    conns = lb.env_int("BENCH_DAY_CONNS", 64, 1, 10000)
    warmup = lb.env_int("BENCH_DAY_WARMUP", 20000, 0, 10**8)
    timeout_ms = lb.env_int("BENCH_DAY_TIMEOUT_MS", 5000, 1, 600000)
    want_php = os.environ.get("BENCH_DAY_PHP", "1") != "0"
    if not os.access(lb.LOADGEN, os.X_OK):
        raise lb.BenchError("%s missing: make build/rel/loadgen" % lb.LOADGEN)
    started_at, machine = lb.utc_now(), lb.machine_line()
    stacks = lb.stacks_up(want_php)
    results = []
    try:
        for s in stacks:
            lb.say("%s: starting" % s.label)
            s.up()
            if isinstance(s, lb.Millrace):
                machine += ", millrace binary %s" % s.binary()
            lb.say("%s: waiting for a quiet machine (BENCH_QUIET_S)" % s.label)
            lb.wait_quiet()
            lb.say("%s: %d requests over %d connections" % (s.label, requests, conns))
            results.append((s.label, measure(s, requests, conns, warmup, timeout_ms)))
            t = results[-1][1]["rows"]["*"]
            lb.say("%s: %.1f s, %.0f answers/s, %d errors, P50 %.2f ms, P99 %.2f ms" % (
                s.label, float(t["wall_s"]), float(t["rps"]), lb.problems(t),
                lb.ms(t, "p50_us"), lb.ms(t, "p99_us")))
    finally:
        lb.stacks_down(stacks)
    path = lb.write_result("day", report(results, requests, conns, warmup, started_at,
                                         machine))
    print(open(path).read())
    lb.say("result: %s" % lb.shown(path))
    bad = [label for label, r in results if lb.problems(r["rows"]["*"]) != 0]
    if bad:
        lb.say("FAILED: errors from %s (must be 0)" % ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except lb.BenchError as e:
        lb.say("error: %s" % e)
        sys.exit(1)
