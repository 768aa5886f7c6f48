"""The stack script (scripts/stack.sh): up [svc...], down [svc...], start SVC, stop SVC,
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


def ensure_millrace(timeout=30):
    """Starts millrace when its manager is not running, then waits for a full pool."""
    if procs.manager_pid() is None:
        up("millrace")
    procs.wait_for(procs.manager_pid, timeout, what="the millrace manager")
    return procs.wait_pool(timeout)
