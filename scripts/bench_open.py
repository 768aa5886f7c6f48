#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench_open.py (`make bench-open`): latency at a fixed rate. For each rate of
BENCH_OPEN_RATES (100 1000 5000 requests/s) and each of the seven TechEmpower endpoints and
the day mix (bench/mix-day.txt), BENCH_OPEN_SECONDS (10) of open-loop load from
build/rel/loadgen against millrace (through its nginx) and php-fpm (behind the peers' nginx),
in the same run and interleaved: each (rate, endpoint) runs both stacks back to back,
millrace first on even steps and php-fpm first on odd ones, so slow drift on a shared
machine falls on both alike. Before each run the stacks' process trees must be idle (under
0.1 core, at most 30 s), so that an overloaded run's backlog does not land in the next.

Open loop: request i is sent at start + i / rate whether or not earlier answers are in, and
its latency runs from that due time, so queueing in the server shows as latency (wrk's
closed loop hides it: coordinated omission). Up to BENCH_OPEN_MAX_CONNS (1024) connections
are opened as needed; a request that finds none free is sent late and counted. A rate the
stack cannot sustain shows as late sends, timeouts and a P99 in seconds: reported, not an
error. Each run is bounded (-T); BENCH_OPEN_PAUSE (2) seconds separate runs.

BENCH_OPEN_ENDPOINTS (a space-separated list; "mix" is the day mix) narrows the endpoints,
BENCH_OPEN_PHP=0 measures millrace alone, and BENCH_LOADGEN_RT=1 runs the generator under
`chrt -f 1`, so that on a busy machine its own wake-ups are not what the percentiles show.
The markdown result goes to bench/results/open-<UTC time>.md (BENCH_RESULTS_DIR to change).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadbench as lb  # noqa: E402

MIX = os.path.join(lb.ROOT, "bench", "mix-day.txt")
ENDPOINTS = ["/plaintext", "/json", "/db", "/queries?queries=20", "/cached-queries?count=20",
             "/fortunes", "/updates?queries=20", "mix"]


def one_run(stack, endpoint, rate, seconds, max_conns, timeout_ms):
    args = ["-R", str(rate), "-d", str(seconds), "-C", str(max_conns), "-t", str(timeout_ms),
            "-s", "1"]
    url = stack.url
    if endpoint == "mix":
        args += ["-m", MIX]
    else:
        url += endpoint
    limit = seconds + 2 * (timeout_ms // 1000 + 1) + 5
    _, rows, raw = lb.run_loadgen(args + ["-T", str(limit)], url, "%s-%s-%d" % (
        stack.label, endpoint.strip("/").split("?")[0] or "root", rate), limit + 30)
    return rows["*"], raw


def warm(stacks, max_conns, timeout_ms):
    """Two seconds of the mix at 500/s on each stack, not reported: Redis filled, nginx and
    the servers' connections made, before the first measured run."""
    for s in stacks:
        one_run(s, "mix", 500, 2, max_conns, timeout_ms)


def cell(row, rate, seconds):
    """P50 / P99 / P99.9 in ms, with what went wrong, if anything."""
    text = "%.2f / %.2f / %.2f" % (lb.ms(row, "p50_us"), lb.ms(row, "p99_us"),
                                   lb.ms(row, "p999_us"))
    notes = []
    if int(row["non2xx"]):
        notes.append("%s non-2xx" % row["non2xx"])
    if int(row["errors"]) + int(row.get("unfinished", 0)):
        notes.append("%d errors" % (int(row["errors"]) + int(row.get("unfinished", 0))))
    late = int(row.get("late_sends", 0))
    if late > rate * seconds / 100:
        notes.append("%d late, send lag P99 %.1f ms" % (late, lb.ms(row, "lag_p99_us")))
    return text + (" (%s)" % ", ".join(notes) if notes else "")


def report(grid, rates, endpoints, labels, seconds, started_at, machine, raw):
    out = ["# Latency at a fixed rate (`make bench-open`)", "",
           "%s; %s. Open loop (build/rel/loadgen -R RATE -d %d): latency from each request's "
           "due time, so queueing counts. Each cell: P50 / P99 / P99.9 in ms; \"late\": sends "
           "more than 1 ms behind schedule (no free connection under the bound, or the "
           "generator itself behind), shown with the P99 of every send's lag when over 1%% of "
           "the requests; non-2xx answers and "
           "socket errors when there are any. The stacks ran interleaved, endpoint by "
           "endpoint, alternating which went first, each run starting once both stacks were "
           "idle. The mix is "
           "`bench/mix-day.txt`." % (started_at, machine, seconds), ""]
    for rate in rates:
        out += ["## %d requests/s" % rate, "",
                "| endpoint | " + " | ".join(labels) + " |",
                "| --- |" + " ---: |" * len(labels)]
        for e in endpoints:
            cells = [cell(grid[(rate, e, lab)], rate, seconds) if (rate, e, lab) in grid
                     else "—" for lab in labels]
            out.append("| %s | %s |" % ("day mix" if e == "mix" else "`%s`" % e,
                                        " | ".join(cells)))
        out.append("")
    if (1000, "mix", "millrace") in grid:
        row = grid[(1000, "mix", "millrace")]
        p99, p999 = lb.ms(row, "p99_us"), lb.ms(row, "p999_us")
        met = p99 <= 2 and p999 <= 10 and lb.problems(row) == 0
        out += ["Target (open loop at 1,000 req/s of the mix: P99 ≤ 2 ms, P99.9 ≤ 10 ms): "
                "**%s** (P99 %.2f ms, P99.9 %.2f ms)." % ("met" if met else "missed", p99,
                                                         p999), ""]
    out += ["## loadgen's lines", "", "```"] + raw + ["```", ""]
    return "\n".join(out)


def main():
    seconds = lb.env_int("BENCH_OPEN_SECONDS", 10, 1, 600)
    max_conns = lb.env_int("BENCH_OPEN_MAX_CONNS", 1024, 1, 20000)
    timeout_ms = lb.env_int("BENCH_OPEN_TIMEOUT_MS", 5000, 1, 600000)
    pause = lb.env_int("BENCH_OPEN_PAUSE", 2, 0, 600)
    rates = [int(x) for x in os.environ.get("BENCH_OPEN_RATES", "100 1000 5000").split()]
    endpoints = os.environ.get("BENCH_OPEN_ENDPOINTS", "").split() or ENDPOINTS
    for e in endpoints:
        if e != "mix" and not e.startswith("/"):
            raise lb.BenchError("BENCH_OPEN_ENDPOINTS: %s is neither a path nor \"mix\"" % e)
    if not rates or any(r < 1 or r > 100000 for r in rates):
        raise lb.BenchError("BENCH_OPEN_RATES: expected rates in 1..100000")
    want_php = os.environ.get("BENCH_OPEN_PHP", "1") != "0"
    if not os.access(lb.LOADGEN, os.X_OK):
        raise lb.BenchError("%s missing: make build/rel/loadgen" % lb.LOADGEN)
    started_at, machine = lb.utc_now(), lb.machine_line()
    stacks = lb.stacks_up(want_php)
    grid, raw, step = {}, [], 0
    try:
        for s in stacks:
            lb.say("%s: starting" % s.label)
            s.up()
        machine += ", millrace binary %s" % stacks[0].binary()
        lb.wait_quiet()
        roots = [p for s in stacks for pids in s.parts().values() for p in pids]
        warm(stacks, max_conns, timeout_ms)
        for rate in rates:
            for e in endpoints:
                order = stacks if step % 2 == 0 else list(reversed(stacks))
                step += 1
                for s in order:
                    time.sleep(pause)
                    waited = lb.wait_idle(roots)
                    if waited >= 30:
                        lb.say("the stacks were still busy after 30 s; running anyway")
                    row, lines = one_run(s, e, rate, seconds, max_conns, timeout_ms)
                    grid[(rate, e, s.label)] = row
                    raw += lines
                    lb.say("%5d/s %-26s %-8s P50 %.2f P99 %.2f P99.9 %.2f ms, %d errors, "
                           "%s late" % (rate, e, s.label, lb.ms(row, "p50_us"),
                                        lb.ms(row, "p99_us"), lb.ms(row, "p999_us"),
                                        lb.problems(row), row.get("late_sends", "?")))
    finally:
        lb.stacks_down(stacks)
    labels = [s.label for s in stacks]
    path = lb.write_result("open", report(grid, rates, endpoints, labels, seconds, started_at,
                                          machine, raw))
    print(open(path).read())
    lb.say("result: %s" % lb.shown(path))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except lb.BenchError as e:
        lb.say("error: %s" % e)
        sys.exit(1)
