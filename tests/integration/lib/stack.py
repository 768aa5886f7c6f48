"""The stack program (scripts/stack.py): up [svc...], down [svc...], start SVC, stop SVC,
status. Every call is bounded by a timeout."""
import os
import subprocess

from . import env, procs


def run(*args, timeout=180, extra_env=None, check=True):
    e = dict(os.environ)
    e.setdefault("MILLRACE_BIN", "build/asan/millrace-test")
    if extra_env:
        e.update(extra_env)
    p = subprocess.run([env.STACK] + list(args), cwd=env.ROOT, env=e, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and p.returncode != 0:
        raise AssertionError("%s %s exited %d:\n%s" % (env.STACK, " ".join(args),
                                                       p.returncode, p.stdout))
    return p


def start(svc, **kw):
    return run("start", svc, **kw)


def stop(svc, **kw):
    return run("stop", svc, **kw)


def up(*svcs, **kw):
    return run("up", *svcs, **kw)


def running_binary():
    """The executable of the running manager (to restart the same build), or None."""
    pid = procs.manager_pid()
    if not pid:
        return None
    exe = procs.exe(pid)
    return None if not exe or exe.endswith(" (deleted)") else exe


def ensure_millrace(timeout=30, binary=None):
    """Starts millrace (the given binary, else $MILLRACE_BIN, else the test build) when its
    manager is not running, then waits for a full pool."""
    if procs.manager_pid() is None:
        up("millrace", extra_env={"MILLRACE_BIN": binary} if binary else None)
    procs.wait_for(procs.manager_pid, timeout, what="the millrace manager")
    return procs.wait_pool(timeout)


def restart_millrace(extra="", binary=None, timeout=15):
    """Starts the stack's millrace again with MR_CONF_EXTRA = extra appended to its config
    ("" restores the default), the given binary or $MILLRACE_BIN, and waits for a full pool.
    For a whole test class (setUpClass); a single test uses lib/pm.PmTestCase.configure."""
    e = {"MR_CONF_EXTRA": extra}
    if binary:
        e["MILLRACE_BIN"] = binary
    up("millrace", extra_env=e)
    procs.wait_for(procs.manager_pid, timeout, what="the millrace manager")
    return procs.wait_pool(timeout)
