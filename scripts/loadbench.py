# SPDX-License-Identifier: BSD-2-Clause
"""loadbench: what `make bench-day` and `make bench-open` share. The two stacks under test
(millrace's local stack through its nginx, and php-fpm from ../shared/peers behind the peers'
nginx), runs of build/rel/loadgen with its key=value lines parsed, the CPU seconds of
process trees from /proc, and the markdown file a run leaves in bench/results/.

Only loopback addresses are used (loadgen refuses any other). A peer is stopped at the end
only when this run started it; the local stack's services likewise.
"""
import datetime
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADGEN = os.path.join(ROOT, "build", "rel", "loadgen")
STACK = os.path.join(ROOT, "scripts", "stack.py")
PEERS = os.environ.get("PEERS_DIR") or os.path.join(ROOT, "..", "shared", "peers")
PEER_SH = os.path.join(PEERS, "peer.sh")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PEERS_REDIS_DEFAULT = 26379  # ../shared/peers/lib.sh


class BenchError(Exception):
    pass


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def env_int(name, default, lo=1, hi=10**9):
    text = os.environ.get(name, "")
    if text == "":
        return default
    if not re.fullmatch(r"[0-9]+", text) or not lo <= int(text) <= hi:
        raise BenchError("%s=%s: expected an integer in %d..%d" % (name, text, lo, hi))
    return int(text)


# ---- process trees and their CPU time -------------------------------------------------------

def _stat(pid):
    """(ppid, utime + stime + cutime + cstime in ticks) of pid, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2:].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, utime + stime + cutime + cstime


def tree_ticks(roots):
    """CPU ticks of every process in the trees under roots: each live process's own time plus
    what its exited, reaped children used (cutime/cstime). A child that exits during a run
    moves from the first sum into its parent's second, so before/after differences hold."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _stat(int(name))
            if s is not None:
                stats[int(name)] = s
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, seen, todo = 0, set(), [r for r in roots if r in stats]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def machine_busy_ticks():
    """Non-idle CPU ticks of the whole machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts[:8]) - idle


class CpuMeter:
    """CPU seconds of named process trees between start() and stop(), plus the machine's."""

    def __init__(self, parts):
        self.parts = parts  # name -> list of root pids

    def start(self):
        self.before = {n: tree_ticks(p) for n, p in self.parts.items()}
        self.machine_before = machine_busy_ticks()
        self.self_before = os.times()

    def stop(self):
        after = {n: tree_ticks(p) for n, p in self.parts.items()}
        t = os.times()
        secs = {n: (after[n] - self.before[n]) / CLK_TCK for n in self.parts}
        secs["loadgen"] = (t.children_user + t.children_system -
                           self.self_before.children_user - self.self_before.children_system)
        machine = (machine_busy_ticks() - self.machine_before) / CLK_TCK
        secs["other"] = max(0.0, machine - sum(secs.values()))
        return secs


# ---- loadgen ---------------------------------------------------------------------------------

LINE = re.compile(r"^loadgen (.*)$")


def run_loadgen(args, base_url, label, timeout_s):
    """Runs loadgen; returns (exit code, {path: {key: value}}, raw lines). The '*' entry is
    the total. The run has loadgen's own -T bound and, around it, timeout_s."""
    cmd = [LOADGEN, "-L", label] + args + [base_url]
    if os.environ.get("BENCH_LOADGEN_RT") == "1":
        # SCHED_FIFO for the generator only: on a busy machine its wake-ups then come on
        # time, so an open loop's sends do too. Bounded like every run (-T, timeout_s).
        cmd = ["chrt", "-f", "1"] + cmd
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise BenchError("loadgen did not stop within %d s: %s" % (timeout_s, shlex.join(cmd)))
    if p.returncode == 2:
        raise BenchError("loadgen refused its arguments: %s\n%s" % (shlex.join(cmd), p.stderr))
    rows, raw = {}, []
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        raw.append(line)
        kv = dict(item.split("=", 1) for item in m.group(1).split())
        rows[kv["path"]] = kv
    if "*" not in rows:
        raise BenchError("loadgen printed no total: %s\n%s" % (shlex.join(cmd), p.stderr))
    return p.returncode, rows, raw


def ms(row, key):
    return int(row[key]) / 1000.0


def problems(row):
    """Non-2xx answers, socket errors and unanswered requests of a total row."""
    return int(row["non2xx"]) + int(row["errors"]) + int(row.get("unfinished", 0))


# ---- the two stacks --------------------------------------------------------------------------

def _pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def stack_status():
    """Services of the local stack that run now."""
    p = subprocess.run([sys.executable, STACK, "status"], capture_output=True, text=True,
                       timeout=60)
    running = set()
    for line in (p.stdout + p.stderr).splitlines():
        m = re.match(r"^\s*(\w+):?\s+running", line)
        if m:
            running.add(m.group(1))
    return running


class Millrace:
    label = "millrace"

    def __init__(self):
        self.port = env_int("MR_HTTP_PORT", 8080, 1, 65535)
        self.url = "http://127.0.0.1:%d" % self.port
        self.started = []

    def up(self):
        before = stack_status()
        p = subprocess.run([sys.executable, STACK, "up"], capture_output=True, text=True,
                           timeout=600)
        if p.returncode != 0:
            raise BenchError("scripts/stack.py up failed:\n" + p.stdout + p.stderr)
        self.started = [s for s in ("pg", "replica", "redis", "nginx", "millrace")
                        if s not in before]

    def down(self):
        # Reverse order, only what this run started.
        for s in reversed(self.started):
            subprocess.run([sys.executable, STACK, "stop", s], capture_output=True, timeout=120)

    def binary(self):
        """The program the running manager was started from (the stack may run another
        build than ./millrace: MILLRACE_BIN)."""
        try:
            return os.readlink("/proc/%d/exe" % _pidfile(os.path.join(ROOT, "var",
                                                                     "millrace.pid")))
        except (OSError, TypeError):
            return "unknown"

    def parts(self):
        var = os.path.join(ROOT, "var")
        pg = [_pidfile(os.path.join(var, "pg", d, "postmaster.pid")) for d in
              ("primary", "replica")]
        return {"nginx": [_pidfile(os.path.join(var, "nginx.pid"))],
                "app": [_pidfile(os.path.join(var, "millrace.pid"))],
                "redis": [_pidfile(os.path.join(var, "redis.pid"))],
                "postgresql": [p for p in pg if p is not None]}


class Php:
    label = "php-fpm"

    def __init__(self):
        if not os.access(PEER_SH, os.X_OK):
            raise BenchError("%s not found: php-fpm needs ../shared/peers (PEERS_DIR)" % PEER_SH)
        self.env = dict(os.environ)
        if os.environ.get("PEERS_REDIS_PORT"):
            self.env["REDIS_PORT"] = os.environ["PEERS_REDIS_PORT"]
        self.started = []

    def _peer(self, *args, timeout=300):
        p = subprocess.run([PEER_SH] + list(args), capture_output=True, text=True,
                           timeout=timeout, env=self.env)
        if p.returncode != 0:
            raise BenchError("peer.sh %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
        return p.stdout

    def _running(self):
        out = self._peer("status", timeout=60)
        return {m.group(1) for m in re.finditer(r"^(\S+)\s+running", out, re.M)}

    def up(self):
        before = self._running()
        redis_port = int(self.env.get("REDIS_PORT") or PEERS_REDIS_DEFAULT)
        mr_redis = env_int("MR_REDIS_PORT", 16379, 1, 65535)
        if "redis" not in before and redis_port == mr_redis:
            raise BenchError("the peers' Redis would take port %d, which MR_REDIS_PORT uses: "
                             "set PEERS_REDIS_PORT to a free port" % redis_port)
        self._peer("start", "php")
        self.url = self._peer("url", "php", timeout=60).strip()
        if not re.fullmatch(r"http://127\.0\.0\.1:[0-9]+", self.url):
            raise BenchError("peer.sh url php gave %r, not a loopback URL" % self.url)
        after = self._running()
        self.started = [s for s in ("php", "nginx", "redis", "pg-replica", "pg-primary")
                        if s in after and s not in before]

    def down(self):
        for s in self.started:
            self._peer("stop", s, timeout=120)

    def parts(self):
        app = [int(x) for x in self._peer("pids", "php", timeout=60).split()]
        db = [int(x) for x in self._peer("pids", "db", timeout=60).split()]
        # pids php: the php-fpm master, then nginx's; pids db: primary, replica, Redis.
        return {"nginx": app[1:], "app": app[:1], "redis": db[2:3], "postgresql": db[:2]}


def stacks_up(want_php):
    """The stacks, started; the caller must call stacks_down() whatever happens."""
    stacks = [Millrace()]
    if want_php:
        stacks.append(Php())
    return stacks


def stacks_down(stacks):
    for s in stacks:
        try:
            s.down()
        except (BenchError, subprocess.TimeoutExpired) as e:
            say("stopping %s: %s" % (s.label, e))


# ---- the markdown result ---------------------------------------------------------------------

def machine_line():
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    return ("commit %s%s, %d cores, kernel %s, load average before the run %.2f / %.2f / %.2f"
            % (commit, " (modified)" if dirty else "", os.cpu_count(), os.uname().release,
               *load))


def write_result(kind, text):
    out_dir = os.environ.get("BENCH_RESULTS_DIR") or os.path.join(ROOT, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = os.path.join(out_dir, "%s-%s.md" % (kind, stamp))
    with open(path, "w") as f:
        f.write(text)
    return path


def shown(path):
    """path relative to the repo when it is inside it, else as it is."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def wait_idle(roots, max_s=30, cores=0.1):
    """Waits (at most max_s) until the process trees under roots use less than `cores` of a
    core over half a second: the backlog of an overloaded run (requests queued in nginx, the
    server, PostgreSQL) drains before the next run starts. Returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < max_s:
        a = tree_ticks(roots)
        time.sleep(0.5)
        if (tree_ticks(roots) - a) / CLK_TCK / 0.5 < cores:
            break
    return time.monotonic() - t0


def wait_quiet(busy_limit=0.15):
    """Waits (at most BENCH_QUIET_S, default 30) until the machine's CPU use over one second
    is under busy_limit of all cores, so that a run does not start in another's tail.
    Returns the last share measured (None when BENCH_QUIET_S=0)."""
    max_s = env_int("BENCH_QUIET_S", 30, 0, 600)
    share = None
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        a = machine_busy_ticks()
        time.sleep(1)
        share = (machine_busy_ticks() - a) / CLK_TCK / os.cpu_count()
        if share < busy_limit:
            break
    return share
