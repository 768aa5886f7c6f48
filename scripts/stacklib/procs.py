"""Process chores of the local stack, shared by scripts/stack.py and tests/integration/lib.

Pid files and the checks that a pid still names the process we started (the kernel reuses
pids), waiting with a deadline, stopping with TERM then KILL (both bounded), starting a
detached service in its own session, the lock that serialises two stack.py runs, ports and
sockets, and running a command as another user. Standard library only; Linux /proc.

Nothing here prints: callers decide what a timeout or a survivor means, and say it once.
"""
import contextlib
import errno
import fcntl
import os
import pwd
import signal
import socket
import stat
import subprocess
import time


class Timeout(AssertionError):
    """A wait_for deadline passed. An AssertionError, so that a test that waits fails (rather
    than errors) under unittest, with the reason in its message."""


def wait_for(cond, timeout, interval=0.05, what="condition"):
    """Polls cond() until it returns a truthy value (returned) or timeout seconds pass
    (Timeout naming `what` and the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        last = cond()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise Timeout("timed out after %.1fs waiting for %s (last: %r)"
                          % (timeout, what, last))
        time.sleep(interval)


# ---- pids -----------------------------------------------------------------------------------

def read_pid(path):
    """The pid on the first line of path (PostgreSQL's postmaster.pid has more lines), or None
    when the file is missing, empty or garbled."""
    try:
        with open(path) as f:
            first = f.readline()
    except OSError:
        return None
    digits = "".join(c for c in first if c.isdigit())
    return int(digits) if digits else None


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    # The name is in parentheses and may itself contain spaces and parentheses.
    return text[text.rindex(")") + 2:].split()


def alive(pid):
    """True if pid exists and is not a zombie: a zombie has exited and only waits to be reaped
    (a service started by `stack.py run` until we reap it, an orphan until init does)."""
    if not pid or pid <= 0:
        return False
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def cmdline(pid):
    """The command line of pid as one space-separated string ("" when gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def exe(pid):
    """The executable of pid ("... (deleted)" once rebuilt), or "" when unknown."""
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def ours(pid, pattern):
    """True if pid is alive and its command line or executable mentions pattern: a pid file
    left by a dead service may name a pid the kernel has since given to something else."""
    return alive(pid) and (pattern in cmdline(pid) or pattern in exe(pid))


def pidfile_pid(path, pattern, remove_stale=True):
    """The pid in path if that process runs and is ours, else None (and a stale file is
    removed, so that the next look is cheap and `status` is not fooled twice)."""
    pid = read_pid(path)
    if pid is not None and ours(pid, pattern):
        return pid
    if remove_stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return None


def children(ppid):
    """Live children of ppid, sorted."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        fields = _stat_fields(int(d))
        if fields and fields[0] != "Z" and int(fields[1]) == ppid:
            out.append(int(d))
    return sorted(out)


def _reap(pid):
    """Collects pid's exit status if it is our own child, so that it stops being a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_gone(pid, timeout, interval=0.05):
    """Waits up to timeout seconds for pid to exit; True once it has."""
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def signal_pid(pid, sig):
    """Sends sig to pid; False if it is already gone."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def terminate(pid, term_wait_s, kill_wait_s=5.0, first=signal.SIGTERM, before_kill=None):
    """Stops pid: `first` (SIGTERM), then SIGKILL if it is still there after term_wait_s
    (before_kill() runs just before that). Returns "stopped", "killed" (it needed SIGKILL) or
    "survived" (not even SIGKILL worked within kill_wait_s: uninterruptible sleep)."""
    signal_pid(pid, first)
    if wait_gone(pid, term_wait_s):
        return "stopped"
    if before_kill:
        before_kill()
    signal_pid(pid, signal.SIGKILL)
    return "killed" if wait_gone(pid, kill_wait_s) else "survived"


def stop_tree(pid, pattern, term_wait_s, kid_wait_s=2.0):
    """terminate(pid), then SIGKILL any of its children (that still match pattern) which
    outlive it for kid_wait_s: nginx and millrace workers are reparented once their master
    dies, so they are listed before the signal and again before SIGKILL.
    Returns (terminate's result, [pids of children that needed SIGKILL])."""
    kids = set(children(pid))
    how = terminate(pid, term_wait_s, before_kill=lambda: kids.update(children(pid)))
    killed = []
    for k in sorted(kids):
        if ours(k, pattern) and not wait_gone(k, kid_wait_s):
            signal_pid(k, signal.SIGKILL)
            killed.append(k)
    return how, killed


# ---- starting -------------------------------------------------------------------------------

def spawn(argv, log_path, pid_path=None, cwd=None, env=None):
    """Starts argv detached and returns its pid. It gets a session of its own (setsid), so
    that Ctrl-C on the terminal reaches only the stack program (which then stops the stack in
    order) and a closed terminal sends it no SIGHUP. stdin is /dev/null, stdout and stderr
    append to log_path, and no other descriptor (the stack lock) is inherited. The pid is
    argv's own: no shell or wrapper in between, so it is what the pid file must name."""
    with open(log_path, "ab") as log:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=cwd,
                             env=env, start_new_session=True, close_fds=True)
    if pid_path:
        write_pid(pid_path, p.pid)
    # The service outlives this object; forget it so that Python does not warn about it or
    # reap it behind our back (wait_gone reaps it when we stop it ourselves).
    p.returncode = 0
    return p.pid


def write_pid(path, pid):
    """Writes pid to path atomically (a reader never sees a half-written file)."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % pid)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(path, timeout):
    """Holds an exclusive flock on path for the with block (serialises two `make up` at once).
    Raises Timeout when another holder keeps it for timeout seconds. The descriptor is
    close-on-exec, so services started inside the block do not keep the lock."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise Timeout("another holder has kept %s locked for %g s" % (path, timeout))
            time.sleep(0.1)
        yield
    finally:
        os.close(fd)


# ---- ports and sockets ----------------------------------------------------------------------

def port_open(port, host="127.0.0.1", timeout=1.0):
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_socket(path):
    """True if path exists and is a unix socket."""
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


# ---- users ----------------------------------------------------------------------------------

def is_root():
    return os.geteuid() == 0


def user_kwargs(user):
    """subprocess keyword arguments that run a command as user (with its groups, its HOME,
    from /), or {} when user is None. Running as another user needs root."""
    if user is None:
        return {}
    pw = pwd.getpwnam(user)
    env = dict(os.environ, USER=pw.pw_name, LOGNAME=pw.pw_name, HOME=pw.pw_dir)
    # From / so that a repo under a 0700 home gives no "could not change directory" warning.
    return {"user": pw.pw_uid, "group": pw.pw_gid,
            "extra_groups": os.getgrouplist(pw.pw_name, pw.pw_gid), "env": env, "cwd": "/"}


def run_as(user, argv, **kw):
    """subprocess.run(argv) as user (None: as ourselves); kw as for subprocess.run, and an
    env= in kw is merged over the user's environment."""
    extra = user_kwargs(user)
    if "env" in kw and "env" in extra:
        extra["env"].update(kw.pop("env"))
    extra.update(kw)
    return subprocess.run(argv, **extra)


def can_search(user, path):
    """True if user may traverse (search) directory path: tried as that user, since ACLs and
    supplementary groups make a mode-bit reading unreliable."""
    try:
        return run_as(user, ["test", "-x", path], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def owner_of(user):
    """(uid, gid) of user, for chown."""
    pw = pwd.getpwnam(user)
    return pw.pw_uid, pw.pw_gid

