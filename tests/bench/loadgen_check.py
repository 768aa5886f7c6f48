#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""loadgen_check.py: loadgen against small servers that misbehave on purpose, each on an
ephemeral 127.0.0.1 port in this process (a tiny fake is the only way to get a server that
never answers, or answers garbage). Checks what loadgen counts and that its bounds hold:
every run must end by itself, with the exit status its contract gives.

    python3 tests/bench/loadgen_check.py [LOADGEN]     (default build/asan/loadgen)

`make loadgen-test` runs it after `loadgen --self-test`. Standard library only.
"""
import os
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ANSWERS = {
    "ok": OK,
    "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "eof": b"HTTP/1.1 200 OK\r\n\r\nbody until the end",
    "chunked404": b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n0\r\n\r\n",
    "garbage": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "extra": OK + b"HTTP/1.1 200 OK\r\n",
}


class Fake:
    """A server on 127.0.0.1:<ephemeral> that reads a request and sends `mode`'s answer
    (closing after it when the answer says so), or never answers ("silent")."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(10)
        answer = ANSWERS.get(self.mode)
        try:
            while not self.stop.is_set():
                if not c.recv(65536):
                    break
                if answer is None and self.mode == "slow":
                    self.stop.wait(0.2)
                    answer = OK
                elif answer is None:  # silent: hold the connection, answer nothing
                    self.stop.wait(10)
                    break
                c.sendall(answer)
                if self.mode in ("close", "eof", "garbage"):
                    break
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop.set()
        self.sock.close()


def run(loadgen, args, url):
    t0 = time.monotonic()
    p = subprocess.run([loadgen] + args + [url], capture_output=True, text=True, timeout=60)
    total = {}
    for line in p.stdout.splitlines():
        kv = dict(item.split("=", 1) for item in line.split()[1:])
        if kv.get("path") == "*":
            total = {k: v for k, v in kv.items()}
    return p.returncode, total, time.monotonic() - t0, p.stderr


def main():
    loadgen = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "asan",
                                                                  "loadgen")
    failures = []

    def check(name, cond, detail):
        print("%s  %s" % ("PASS" if cond else "FAIL", name), flush=True)
        if not cond:
            failures.append(name)
            print("      " + detail, flush=True)

    cases = [
        # mode, args, expected exit, what the total line must say, longest run in s
        ("ok", ["-c", "4", "-n", "200"], 0, {"ok": "200", "errors": "0"}, 10),
        ("close", ["-c", "4", "-n", "100"], 0, {"ok": "100", "conns_opened": "100"}, 10),
        ("eof", ["-c", "2", "-n", "20"], 0, {"ok": "20"}, 10),
        ("chunked404", ["-c", "2", "-n", "50"], 1, {"non2xx": "50", "errors": "0"}, 10),
        ("garbage", ["-c", "2", "-n", "20"], 1, {"read_errors": "20", "ok": "0"}, 10),
        ("extra", ["-c", "2", "-n", "20"], 1, {"read_errors": "20"}, 10),
        # Never answered: each request times out after -t, and -T ends the run.
        ("silent", ["-c", "2", "-n", "100", "-t", "300", "-T", "2"], 3, {"ok": "0"}, 6),
        # Open loop: 2 s at 200/s is 400 requests, on schedule, none late.
        ("ok", ["-R", "200", "-d", "2"], 0, {"requests": "400", "ok": "400"}, 8),
        # Open loop, answers in 200 ms, at most 2 connections: 50/s needs 10, so sends fall
        # behind and are counted late; every request is still answered.
        ("slow", ["-R", "50", "-d", "1", "-C", "2", "-c", "2"], 0, {"ok": "50",
                                                                    "conns_max": "2"}, 15),
        # Open loop against a server that never answers: bounded by -C, -t and -T.
        ("silent", ["-R", "100", "-d", "1", "-C", "8", "-t", "300", "-T", "3"], None,
         {"ok": "0"}, 7),
    ]
    for mode, args, want_rc, want, max_s in cases:
        fake = Fake(mode)
        try:
            rc, total, took, err = run(loadgen, args, "http://127.0.0.1:%d/x" % fake.port)
        finally:
            fake.close()
        name = "%s %s" % (mode, " ".join(args))
        bad = [k for k, v in want.items() if total.get(k) != v]
        check(name, (want_rc is None or rc == want_rc) and not bad and took <= max_s,
              "exit %d (want %s), %.1f s (at most %d), wrong: %s\n      %s" % (
                  rc, want_rc, took, max_s, {k: total.get(k) for k in bad}, err[-300:]))
        if mode == "silent" and "-R" in args:
            check("silent open loop: timeouts counted and bounded by -C",
                  int(total.get("timeouts", 0)) >= 8 and int(total.get("conns_max", 99)) <= 8,
                  str(total))
        if mode == "slow":
            check("slow open loop: sends held back by -C are counted late",
                  int(total.get("late_sends", 0)) > 0, str(total))
        if mode == "ok" and "-R" in args:
            # The schedule, not the answers, sets the length: it cannot end before -d.
            check("open loop keeps to its schedule", 1.9 <= float(total["wall_s"]) <= 4,
                  str(total))

    for url in ("http://10.0.0.1:80/", "http://localhost:80/", "https://127.0.0.1:443/",
                "http://127.0.0.1:0/", "http://127.0.0.1:99999/"):
        rc, _, _, _ = run(loadgen, ["-c", "1", "-n", "1"], url)
        check("refuses %s" % url, rc == 2, "exit %d" % rc)
    rc, _, _, _ = run(loadgen, ["-c", "1"], "http://127.0.0.1:8080/")
    check("refuses a run with neither -n nor -R", rc == 2, "exit %d" % rc)

    print("%d failed" % len(failures) if failures else "loadgen_check: all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
