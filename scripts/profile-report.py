#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""profile-report.py: turns what scripts/profile.sh recorded under var/profile/ into one
markdown report (bench/results/profile.md by default). Three kinds of input, per path:

  NAME.perf.txt     `perf report --no-children --sort pid,dso -g none` of a `perf record -a`
  NAME.tids         "tid group" lines: the threads of this stack (nginx, millrace, PostgreSQL,
                    Redis, wrk) when the record ran; any other thread is other work on the
                    machine, counted apart
  NAME.strace.W     `strace -c -f` summaries of the millrace workers and the nginx workers
  NAME.wrk.strace   wrk's output for the same window (its request count is the divisor)
  NAME.cg.N1 / .N2  callgrind.out files of one plain worker that served N1 and N2 requests;
                    their difference over N2 - N1 is the cost of a request, start-up cancelled

Kernel samples are one group whatever process they were taken in (the syscalls and the
loopback network of every process), with the split by process shown beside it."""
import os
import re
import sys
from collections import defaultdict

# Shared objects of a millrace worker, by group; anything else in the worker is "other libs".
WORKER_DSOS = [
    ("millrace", re.compile(r"^millrace$")),
    ("libfcgi", re.compile(r"^libfcgi")),
    ("libpq", re.compile(r"^libpq")),
    ("hiredis", re.compile(r"^libhiredis")),
    ("libc", re.compile(r"^(libc[.-]|ld-linux)")),
]
GROUPS = ["nginx", "millrace", "PostgreSQL", "Redis", "wrk"]


def pct(x, total):
    return "%.1f" % (100.0 * x / total) if total else "-"


def read_tids(path):
    tids = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                tids[parts[0]] = parts[1]
    return tids


def worker_group(dso):
    for name, rx in WORKER_DSOS:
        if rx.search(dso):
            return "millrace: " + name
    return "millrace: other libs"


def perf_shares(stem):
    """Shares of every sample (the whole machine), by group; kernel samples apart."""
    tids = read_tids(stem + ".tids")
    user, kern, other, idle = defaultdict(float), defaultdict(float), 0.0, 0.0
    rx = re.compile(r"^\s*([0-9.]+)%\s+(\d+):(\S+)\s+(.*?)\s*$")
    with open(stem + ".perf.txt") as f:
        for line in f:
            m = rx.match(line)
            if not m:
                continue
            share, tid, dso = float(m.group(1)), m.group(2), m.group(4)
            group = tids.get(tid)
            if tid == "0":  # the idle task (swapper): a core with nothing to run
                idle += share
            elif group is None:
                other += share
            elif dso.startswith("[kernel") or dso == "[vdso]":
                kern[group] += share
            elif group == "millrace":
                user[worker_group(dso)] += share
            else:
                user[group] += share
    return user, kern, other, idle


def strace_summary(path):
    """Total calls and the top calls of a `strace -c` summary."""
    calls, total = {}, 0
    if not os.path.exists(path):
        return 0, {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) >= 5 and re.match(r"^[0-9.]+$", parts[0]) and parts[-1] != "total":
                try:
                    n = int(parts[3])
                except ValueError:
                    continue
                calls[parts[-1]] = n
            elif parts and parts[-1] == "total" and len(parts) >= 4:
                total = int(parts[3])
    return total, calls


def wrk_requests(path):
    text = open(path).read() if os.path.exists(path) else ""
    m = re.search(r"(\d+) requests in", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: (.*)", text)
    return (int(m.group(1)) if m else 0, int(bad.group(1)) if bad else 0,
            errs.group(1) if errs else "")


def callgrind_costs(path):
    """Self Ir per (object, function) and the file's total, from a callgrind.out file."""
    names = {"ob": {}, "fn": {}}
    cost = defaultdict(int)
    ob = fn = "?"
    skip_next = False
    total = 0

    def name(kind, value):
        m = re.match(r"^\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), value)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if skip_next:  # the inclusive cost of a call, counted in the callee
                skip_next = False
                continue
            if line.startswith("ob="):
                ob = name("ob", line[3:])
            elif line.startswith("cob="):
                name("ob", line[4:])
            elif line.startswith("fn="):
                fn = name("fn", line[3:])
            elif line.startswith("cfn=") or line.startswith("cfi=") or line.startswith("cfl="):
                if line.startswith("cfn="):
                    name("fn", line[4:])
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
            elif line and (line[0].isdigit() or line[0] in "+-*"):
                parts = line.split()
                if len(parts) >= 2:
                    cost[(os.path.basename(ob), fn)] += int(parts[1])
    return cost, total


def object_group(ob):
    for name, rx in WORKER_DSOS:
        if rx.search(ob):
            return name
    if ob.startswith("vgpreload") or ob == "?":
        return "valgrind"
    return "other libs"


def report_perf(paths, out):
    out.append("## Where the CPU goes (perf record -a -g, the whole machine)\n")
    out.append("Shares of all CPU samples on both cores while wrk ran. *kernel* is every "
               "process's kernel time (syscalls, loopback TCP and unix sockets, scheduling); "
               "*other work* is what else ran on the machine (not this stack); *idle* is "
               "the idle task.\n")
    rows = ["nginx", "millrace: millrace", "millrace: libfcgi", "millrace: libpq",
            "millrace: hiredis", "millrace: libc", "millrace: other libs", "PostgreSQL",
            "Redis", "wrk", "kernel", "other work", "idle"]
    table = {}
    kern_by = {}
    for p, stem in paths:
        user, kern, other, idle = perf_shares(stem)
        col = dict(user)
        col["kernel"] = sum(kern.values())
        col["other work"] = other
        col["idle"] = idle
        table[p] = col
        kern_by[p] = kern
    out.append("| group | " + " | ".join("`%s`" % p for p, _ in paths) + " |")
    out.append("| --- |" + " ---: |" * len(paths))
    for r in rows:
        out.append("| %s | " % r + " | ".join("%.1f" % table[p].get(r, 0.0) for p, _ in paths)
                   + " |")
    out.append("")
    out.append("The kernel's share split by the process it ran for:\n")
    out.append("| kernel, for | " + " | ".join("`%s`" % p for p, _ in paths) + " |")
    out.append("| --- |" + " ---: |" * len(paths))
    for g in GROUPS:
        out.append("| %s | " % g + " | ".join("%.1f" % kern_by[p].get(g, 0.0) for p, _ in paths)
                   + " |")
    out.append("")
    out.append("Within this stack alone (other work and idle left out, rescaled to 100):\n")
    out.append("| group | " + " | ".join("`%s`" % p for p, _ in paths) + " |")
    out.append("| --- |" + " ---: |" * len(paths))
    for r in rows[:-2]:
        vals = []
        for p, _ in paths:
            stack = 100.0 - table[p].get("other work", 0.0) - table[p].get("idle", 0.0)
            vals.append(pct(table[p].get(r, 0.0), stack))
        out.append("| %s | " % r + " | ".join(vals) + " |")
    out.append("")


def report_strace(paths, out):
    out.append("## Syscalls per request (strace -c -f on the workers)\n")
    out.append("One bounded wrk run per path with strace attached to every millrace worker and, "
               "separately, every nginx worker; calls over the requests wrk completed.\n")
    out.append("| path | requests | non-2xx | millrace calls/req | top millrace calls per req "
               "| nginx calls/req |")
    out.append("| --- | ---: | ---: | ---: | --- | ---: |")
    for p, stem in paths:
        n, bad, errs = wrk_requests(stem + ".wrk.strace")
        mt, mc = strace_summary(stem + ".strace.millrace")
        nt, _ = strace_summary(stem + ".strace.nginx")
        if not n:
            out.append("| `%s` | 0 | | | (no wrk output) | |" % p)
            continue
        top = sorted(mc.items(), key=lambda kv: -kv[1])[:6]
        tops = ", ".join("%s %.1f" % (k, v / n) for k, v in top)
        out.append("| `%s` | %d | %d | %.1f | %s | %.1f |" % (p, n, bad, mt / n, tops, nt / n))
    out.append("")


def report_callgrind(paths, out):
    out.append("## Instructions per request (callgrind, one plain worker)\n")
    out.append("One spawn-fcgi-style worker (fd 0 the listening socket) under "
               "`valgrind --tool=callgrind` behind the stack's nginx; two runs serving N1 and "
               "N2 requests, and the difference over N2 - N1, so start-up cancels. User-space "
               "instructions only: the kernel's part is in the perf tables.\n")
    groups = ["millrace", "libfcgi", "libpq", "hiredis", "libc", "other libs"]
    out.append("| path | Ir/request | " + " | ".join(groups) + " |")
    out.append("| --- | ---: |" + " ---: |" * len(groups))
    tops = []
    for p, stem in paths:
        runs = sorted((f for f in os.listdir(os.path.dirname(stem) or ".")
                       if re.match(re.escape(os.path.basename(stem)) + r"\.cg\.\d+$", f)),
                      key=lambda f: int(f.rsplit(".", 1)[1]))
        if len(runs) < 2:
            out.append("| `%s` | (no callgrind runs) |" % p + " |" * len(groups))
            continue
        n1, n2 = (int(r.rsplit(".", 1)[1]) for r in runs[:2])
        c1, t1 = callgrind_costs(os.path.join(os.path.dirname(stem), runs[0]))
        c2, t2 = callgrind_costs(os.path.join(os.path.dirname(stem), runs[1]))
        per = (t2 - t1) / float(n2 - n1)
        by = defaultdict(float)
        diff = {}
        for k in set(c1) | set(c2):
            d = c2.get(k, 0) - c1.get(k, 0)
            diff[k] = d
            by[object_group(k[0])] += d
        out.append("| `%s` | %d | " % (p, per) + " | ".join(pct(by[g], t2 - t1) + "%"
                                                            for g in groups) + " |")
        top = sorted(diff.items(), key=lambda kv: -kv[1])[:8]
        tops.append((p, [(k, v / float(n2 - n1)) for k, v in top], n1, n2))
    out.append("")
    out.append("Top functions by self instructions per request:\n")
    for p, top, n1, n2 in tops:
        out.append("- `%s` (N1=%d, N2=%d): " % (p, n1, n2) + "; ".join(
            "%s [%s] %d" % (fn, ob, v) for (ob, fn), v in top))
    out.append("")


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: profile-report.py DIR OUT.md PATH=NAME...")
    d, out_path = argv[1], argv[2]
    paths = []
    for a in argv[3:]:
        p, name = a.rsplit("=", 1)
        paths.append((p, os.path.join(d, name)))
    out = ["# Profile of the main paths\n",
           "Written by `make profile` (scripts/profile.sh, then scripts/profile-report.py); "
           "the raw files are under var/profile/. Meta: %s\n"
           % open(os.path.join(d, "meta.txt")).read().strip().replace("\n", "; ")]
    have = lambda suffix: any(os.path.exists(s + suffix) for _, s in paths)
    if have(".perf.txt"):
        report_perf([(p, s) for p, s in paths if os.path.exists(s + ".perf.txt")], out)
    if have(".wrk.strace"):
        report_strace(paths, out)
    if any(re.search(r"\.cg\.\d+$", f) for f in os.listdir(d)):
        report_callgrind(paths, out)
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("profile: wrote %s" % out_path)


if __name__ == "__main__":
    main(sys.argv)
