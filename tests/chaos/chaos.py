#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Chaos under load: a mixed load through nginx while Redis, the replica and the primary are
stopped and restarted and workers are killed with SIGKILL, one thing at a time.

    python3 tests/chaos/chaos.py [--seconds 60] [--clients 16]

Needs the local stack up (`make chaos` starts and stops it). Loopback only; every request has
a timeout, the load and the chaos stop by themselves after --seconds.

Checks, each of which makes the exit status non-zero:
  lost writes   every /updates that answered 200 must be in the primary. An audit trigger,
                created for the run and dropped after, records each committed row change in
                the same transaction as the update, so the check is exact: each (id,
                randomNumber) a client saw acknowledged must be in the audit table.
  read errors   a read (/db, /queries, /cached-queries, /fortunes) that failed while a
                database was up, outside the half second around a worker kill.
  crashes       a worker that died by a signal we did not send (event=worker_exited with a
                signal other than 9 in millrace's log).
"""
import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = os.path.join(ROOT, "scripts", "stack.py")
PORT = int(os.environ.get("MR_HTTP_PORT", "8080"))
READS = ["/db", "/queries?queries=5", "/cached-queries?count=5", "/fortunes"]
WRITE = "/updates?queries=3"


def psql(sql, replica=False):
    args = [STACK, "psql"] + (["replica"] if replica else []) + ["-X", "-q", "-At", "-c", sql]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout


def stack(*args):
    subprocess.run([STACK, *args], capture_output=True, text=True, timeout=120, check=True)


class Timeline:
    """Which service was down when, and when workers were killed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.down = []  # (service, start, end)
        self.kills = []  # times

    def add_down(self, svc, start, end):
        with self.lock:
            self.down.append((svc, start, end))

    def add_kill(self, t):
        with self.lock:
            self.kills.append(t)

    def services_down(self, t0, t1):
        return {s for s, a, b in self.down if a <= t1 and t0 <= b}

    def near_kill(self, t0, t1):
        return any(t0 - 0.5 <= k <= t1 + 0.5 for k in self.kills)


def manager_pid():
    with open(os.path.join(ROOT, "var", "millrace.pid")) as f:
        return int(f.read().strip())


def worker_pids():
    out = subprocess.run(["pgrep", "-P", str(manager_pid())], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def chaos(deadline, timeline, log):
    actions = ["redis", "replica", "pg", "kill", "kill"]
    while time.time() < deadline - 6:
        time.sleep(random.uniform(1.0, 2.5))
        act = random.choice(actions)
        if act == "kill":
            pids = worker_pids()
            if len(pids) > 2:  # one of them is the prober or status process: any will do
                pid = random.choice(pids)
                timeline.add_kill(time.time())
                try:
                    os.kill(pid, 9)
                    log.append(f"kill -9 {pid}")
                except ProcessLookupError:
                    pass
            continue
        start = time.time()
        stack("stop", act)
        time.sleep(random.uniform(2.0, 4.0))
        stack("start", act)
        end = time.time()
        timeline.add_down(act, start, end)
        log.append(f"{act} down {end - start:.1f}s")


class Load:
    def __init__(self, deadline):
        self.deadline = deadline
        self.lock = threading.Lock()
        self.results = []  # (t0, t1, path, status or error kind)
        self.acked = []  # (id, randomNumber)

    def run(self):
        conn = None
        while time.time() < self.deadline:
            path = WRITE if random.random() < 0.25 else random.choice(READS)
            t0 = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                outcome = r.status
                if path == WRITE and r.status == 200:
                    rows = json.loads(body)
                    with self.lock:
                        self.acked.extend((w["id"], w["randomNumber"]) for w in rows)
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError) as e:
                outcome = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            with self.lock:
                self.results.append((t0, time.time(), path, outcome))
        if conn is not None:
            conn.close()


def crashes_since(offset):
    path = os.path.join(ROOT, "var", "log", "millrace.log")
    with open(path, errors="replace") as f:
        f.seek(offset)
        text = f.read()
    return [l for l in text.splitlines()
            if "event=worker_exited" in l and re.search(r"signal=(?!9\b)\d+", l)]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("CHAOS_SECONDS", "60")))
    ap.add_argument("--clients", type=int, default=16)
    a = ap.parse_args()

    psql("DROP TABLE IF EXISTS chaos_audit; CREATE TABLE chaos_audit (id int, r int);"
         "CREATE OR REPLACE FUNCTION chaos_audit_fn() RETURNS trigger LANGUAGE plpgsql AS "
         "$$BEGIN INSERT INTO chaos_audit VALUES (NEW.id, NEW.randomnumber); RETURN NEW; END$$;"
         "CREATE TRIGGER chaos_audit_trg AFTER UPDATE ON world FOR EACH ROW "
         "EXECUTE FUNCTION chaos_audit_fn();")
    log_path = os.path.join(ROOT, "var", "log", "millrace.log")
    log_offset = os.path.getsize(log_path)
    deadline = time.time() + a.seconds
    timeline, events = Timeline(), []
    load = Load(deadline)
    threads = [threading.Thread(target=load.run) for _ in range(a.clients)]
    threads.append(threading.Thread(target=chaos, args=(deadline, timeline, events)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=a.seconds + 120)
    stack("up")  # whatever the last action left stopped

    audit = set()
    try:
        for line in psql("SELECT id, r FROM chaos_audit").split():
            i, r = line.split("|")
            audit.add((int(i), int(r)))
    finally:
        psql("DROP TRIGGER IF EXISTS chaos_audit_trg ON world; DROP TABLE IF EXISTS chaos_audit;"
             "DROP FUNCTION IF EXISTS chaos_audit_fn();")
    lost = [w for w in load.acked if tuple(w) not in audit]

    by_kind, read_errors = {}, []
    for t0, t1, path, outcome in load.results:
        if outcome == 200:
            continue
        key = f"{path.split('?')[0]} {outcome}"
        by_kind[key] = by_kind.get(key, 0) + 1
        if path == WRITE or timeline.near_kill(t0, t1):
            continue
        if timeline.services_down(t0, t1) >= {"pg", "replica"}:
            continue  # never both, but be exact about the rule
        read_errors.append((t0, path, outcome, sorted(timeline.services_down(t0, t1))))
    crashes = crashes_since(log_offset)

    total = len(load.results)
    ok = sum(1 for r in load.results if r[3] == 200)
    print(f"chaos: {a.seconds}s, {a.clients} clients, {total} requests, {ok} ok, "
          f"{len(load.acked)} acknowledged row updates")
    print("events: " + "; ".join(events))
    for svc, s, e in timeline.down:
        n = sum(1 for r in load.results if r[3] != 200 and r[0] <= e and s <= r[1])
        print(f"outage {svc:8s} {e - s:4.1f}s: {n} failed requests during it")
    for k in sorted(by_kind):
        print(f"errors {k}: {by_kind[k]}")
    print(f"lost writes: {len(lost)}")
    print(f"read errors while a database was up: {len(read_errors)}")
    for e in read_errors[:10]:
        print(f"  {e}")
    print(f"worker crashes not caused by the test: {len(crashes)}")
    for c in crashes[:10]:
        print(f"  {c}")
    failed = bool(lost or read_errors or crashes)
    print(f"{0 if failed else 1} passed, {1 if failed else 0} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
