#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench-report.py: the report of one interleaved `make bench` run (scripts/bench.sh).

Reads the log of every measured wrk run (one line each: URL req/s p99_ms errors, in the order
they ran) and writes, for OUT (a path without extension):

  OUT.runs   every run: endpoint, stack, round, req/s, p99 ms, errors
  OUT.dat    what the chart plots: per endpoint, each stack's median, min and max req/s
  OUT.png    the chart (scripts/bench-chart.gp): clustered bars per endpoint, one colour per
             stack, error bars from min to max over the rounds, log scale
  OUT.md     the table (medians as ab.sh computes them, plus min-max over the rounds, median
             p99, errors, ratios to millrace), how it was run, and ab.sh's own output

Standard library only; gnuplot draws the chart.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_rps(xs):
    """ab.sh's median: the middle one, or the integer mean of the two middle ones."""
    s, n = sorted(xs), len(xs)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) // 2


def median_p99(xs):
    """ab.sh's p99 median: the lower middle one."""
    s = sorted(xs)
    return s[(len(s) + 1) // 2 - 1]


def parse_runs(path, targets):
    """{(endpoint, label): [(rps, p99, errors), ...]} in the order the runs happened."""
    runs = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 4:
                sys.exit("bench-report: %s:%d: want URL req/s p99 errors" % (path, n))
            url, rps, p99, err = parts
            for label, base in targets:
                rest = url[len(base):]
                if url.startswith(base) and rest.startswith("/"):
                    runs.setdefault((rest, label), []).append((int(float(rps)), float(p99),
                                                               int(err)))
                    break
            else:
                sys.exit("bench-report: %s:%d: %s is none of the targets" % (path, n, url))
    return runs


def num(x):
    return "{:,}".format(x)


def write_runs(out, runs, endpoints, labels):
    with open(out + ".runs", "w") as f:
        f.write("# endpoint\tstack\tround\treq_s\tp99_ms\terrors\n")
        for ep in endpoints:
            for lab in labels:
                for i, (rps, p99, err) in enumerate(runs.get((ep, lab), []), 1):
                    f.write("%s\t%s\t%d\t%d\t%.2f\t%d\n" % (ep, lab, i, rps, p99, err))


def write_dat(out, runs, endpoints, labels):
    with open(out + ".dat", "w") as f:
        f.write("# req/s per endpoint: for each stack (%s) median, min, max over the rounds;"
                " NaN = not measured\n" % " ".join(labels))
        f.write("endpoint\t" + "\t".join("%s\t%s_min\t%s_max" % (lab, lab, lab)
                                        for lab in labels) + "\n")
        for ep in endpoints:
            cells = []
            for lab in labels:
                r = [x[0] for x in runs.get((ep, lab), [])]
                cells += [str(median_rps(r)), str(min(r)), str(max(r))] if r else ["NaN"] * 3
            f.write('"%s"\t%s\n' % (ep, "\t".join(cells)))


def draw(out, labels, title):
    gp = os.path.join(ROOT, "scripts", "bench-chart.gp")
    args = ["gnuplot", "-e", "datafile='%s.dat'; outfile='%s.png'; nstacks=%d; names='%s'; "
            "chart_title='%s'" % (out, out, len(labels), " ".join(labels),
                                  title.replace("'", "")), gp]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit("bench-report: gnuplot failed: %s" % p.stderr.strip())


def table(runs, endpoints, labels):
    base = labels[0]
    cols = ["endpoint"] + labels + ["%s/%s" % (base, lab) for lab in labels[1:]]
    lines = ["| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 1)]
    for ep in endpoints:
        row, med = ["`%s`" % ep], {}
        for lab in labels:
            r = runs.get((ep, lab))
            if not r:
                row.append("—")
                continue
            rps = [x[0] for x in r]
            med[lab] = median_rps(rps)
            errs = sum(x[2] for x in r)
            cell = "%s [%s–%s] (%.1f)" % (num(med[lab]), num(min(rps)), num(max(rps)),
                                          median_p99([x[1] for x in r]))
            row.append(cell + (", **%d errors**" % errs if errs else ""))
        for lab in labels[1:]:
            ok = base in med and med.get(lab)
            row.append("%.2f" % (med[base] / med[lab]) if ok else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", required=True, help="the wrk shim's log")
    ap.add_argument("--ab", help="ab.sh's own output, quoted in the report")
    ap.add_argument("--pss", help="lines of: stack PSS_KiB")
    ap.add_argument("--out", required=True, help="path of the outputs, without extension")
    ap.add_argument("--endpoints", required=True, help="the endpoints, space separated")
    ap.add_argument("--target", action="append", default=[], metavar="LABEL=BASE_URL",
                    help="a stack and its base URL; the first is the base of the ratios")
    for k in ("command", "date", "commit", "machine", "params"):
        ap.add_argument("--" + k, default="?")
    a = ap.parse_args()
    targets = [tuple(t.split("=", 1)) for t in a.target]
    if not targets or any(len(t) != 2 for t in targets):
        sys.exit("bench-report: want --target LABEL=BASE_URL at least once")
    labels = [t[0] for t in targets]
    endpoints = a.endpoints.split()
    runs = parse_runs(a.runs, targets)
    if not runs:
        sys.exit("bench-report: no measured runs in %s" % a.runs)
    rounds = max(len(v) for v in runs.values())

    write_runs(a.out, runs, endpoints, labels)
    write_dat(a.out, runs, endpoints, labels)
    draw(a.out, labels, "req/s, median of %d rounds (bars: min-max), %s" % (rounds, a.params))

    name = os.path.basename(a.out)
    md = ["# Interleaved benchmark: %s" % " vs ".join(labels), "",
          "- command: `%s`" % a.command,
          "- date: %s" % a.date,
          "- commit: %s" % a.commit,
          "- machine: %s" % a.machine,
          "- wrk: %s, one run per stack per round, the order rotating (ab.sh)" % a.params,
          "", "Each cell: median req/s over the rounds [min–max over the rounds] (median p99 in"
          " ms). Ratios are of the medians. Only ratios within one run mean anything on a"
          " shared machine.", "",
          table(runs, endpoints, labels), "", "![chart](%s.png)" % name, "",
          "Every run: `%s.runs`; the chart's data: `%s.dat`." % (name, name)]
    if a.pss and os.path.exists(a.pss):
        with open(a.pss) as f:
            mem = [ln.split() for ln in f if len(ln.split()) == 2]
        if mem:
            md += ["", "Memory after the run (PSS of the server's processes and its nginx; the"
                   " peers share one nginx): " + ", ".join("%s %.1f MiB" % (s, int(k) / 1024)
                                                          for s, k in mem) + "."]
    if a.ab and os.path.exists(a.ab):
        with open(a.ab) as f:
            md += ["", "## ab.sh's own output", "", f.read().rstrip()]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
