"""Processes of the running stack: the manager's pid (var/millrace.pid), its workers and the
millrace log. Pid files, liveness, children and waiting with a deadline are scripts/stack.py's
own helpers (scripts/stacklib/procs.py), re-exported here so that the suite and the stack
program judge a pid the same way."""
import os
import platform
import re
import sys

from . import env

sys.path.insert(0, os.path.join(env.ROOT, "scripts"))
from stacklib.procs import Timeout, alive, children, exe, port_open, read_pid, wait_for  # noqa: E402,F401,E501


def manager_pid():
    """The manager's pid when it is alive, else None."""
    pid = read_pid(env.MILLRACE_PID)
    return pid if alive(pid) else None


def nginx_pid():
    pid = read_pid(env.NGINX_PID)
    return pid if alive(pid) else None


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]$", t)
            if m:
                out.add(int(m.group(1)))
    except OSError:
        pass
    return out


def listen_inodes(path=None):
    """Inodes of listening unix sockets bound to path (from /proc/net/unix)."""
    path = path or env.SOCKET
    out = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]; Flags 00010000 = listening
            if len(parts) >= 8 and parts[7] == path and int(parts[3], 16) & 0x10000:
                out.add(int(parts[6]))
    return out


def workers(mgr=None):
    """Pids of the manager's workers: its children that hold the listening socket (the
    health prober is a child too, but it closes the socket). A worker that has begun to
    quit closes the socket as well, so it no longer counts."""
    mgr = mgr or manager_pid()
    if not mgr:
        return []
    inodes = listen_inodes() or socket_inodes(mgr)
    return [c for c in children(mgr) if socket_inodes(c) & inodes]


def expected_workers():
    """The pool size the running manager reported (event=started ... workers=N, or the
    latest config_reloaded after it); else the configured number, else 2 x cores + 1."""
    mgr = manager_pid()
    n = None
    if mgr:
        seen = False
        for line in log_lines():
            if "event=started" in line and "pid=%d " % mgr in line + " ":
                seen = True
                n = _field_int(line, "workers")
            elif seen and "event=config_reloaded" in line:
                n = _field_int(line, "workers") or n
    if n:
        return n
    try:
        with open(env.MILLRACE_CONF) as f:
            m = re.search(r"^\s*workers\s*=\s*(\d+)", f.read(), re.M)
        if m and int(m.group(1)) > 0:
            return int(m.group(1))
    except OSError:
        pass
    return 2 * (os.cpu_count() or 1) + 1


def _field_int(line, key):
    m = re.search(r"\b%s=(\d+)" % re.escape(key), line)
    return int(m.group(1)) if m else None


def field(line, key):
    """The value of key= in a logfmt line (quotes removed), or None."""
    m = re.search(r'(?:^|\s|>)%s=("((?:[^"\\]|\\.)*)"|\S*)' % re.escape(key), line)
    if not m:
        return None
    return m.group(2) if m.group(2) is not None else m.group(1)


def pool_ready(n=None, mgr=None):
    """The worker pids when the pool has exactly n (default: expected) workers, else None."""
    n = n or expected_workers()
    w = workers(mgr)
    return w if len(w) == n else None


def wait_pool(timeout=10.0, n=None):
    return wait_for(lambda: pool_ready(n), timeout, what="a full worker pool (%s wanted)"
                    % (n or expected_workers()))


def kill(pid, sig):
    os.kill(pid, sig)


# Syscall numbers of the waits we recognise, per architecture (/proc/PID/syscall).
_SYSCALLS = {
    "x86_64": {"accept4": 288, "accept": 43, "epoll_wait": 232, "epoll_pwait": 281,
               "clock_nanosleep": 230, "nanosleep": 35},
    "aarch64": {"accept4": 242, "accept": 202, "epoll_pwait": 22, "clock_nanosleep": 115,
                "nanosleep": 101},
}


def current_syscall(pid):
    """The name of the syscall pid is blocked in (among those we know), its number as text,
    or None when it is running or gone."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            first = f.read().split()[0]
    except (OSError, IndexError):
        return None
    if first == "running":
        return None
    names = _SYSCALLS.get(platform.machine(), {})
    for name, num in names.items():
        if first == str(num):
            return name
    return first


def sleeping_workers(mgr=None):
    """Workers inside a nanosleep: the ones serving GET /test/sleep."""
    return [w for w in workers(mgr)
            if current_syscall(w) in ("clock_nanosleep", "nanosleep")]


def idle_workers(mgr=None):
    """Workers waiting for work: in epoll_wait on their connections and the listening socket
    (app/serve/worker.c; glibc's epoll_wait is epoll_pwait on some architectures), not
    inside a request."""
    return [w for w in workers(mgr)
            if current_syscall(w) in ("epoll_wait", "epoll_pwait", "accept4", "accept")]


def log_mark(path=None):
    """The current size of the log, to read only what comes after it."""
    try:
        return os.path.getsize(path or env.MILLRACE_LOG)
    except OSError:
        return 0


def log_since(mark, path=None):
    try:
        with open(path or env.MILLRACE_LOG, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def log_lines(path=None):
    try:
        with open(path or env.MILLRACE_LOG, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def wait_log(mark, pattern, timeout=5.0, path=None):
    """Waits until a line matching regex `pattern` appears after mark; returns the line."""
    rx = re.compile(pattern)

    def find():
        for line in log_since(mark, path).splitlines():
            if rx.search(line):
                return line
        return None
    return wait_for(find, timeout, what="log line /%s/" % pattern)
