#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""stack.py: the local stack that `make run`, `make up`, the integration tests and the
benchmarks share. PostgreSQL 15 primary plus a streaming read replica (pg_basebackup -R),
Redis, nginx and millrace, all on 127.0.0.1, all state under the repo's var/ (git-ignored).
It works from any clone: paths come from this file's own location, never from the caller's
directory.

  stack.py up [SERVICE...]     start what is not running (default: all, in dependency order);
                               returns once each part answers, or exits non-zero naming the
                               part and its log. A second up is harmless and fast.
  stack.py down [SERVICE...]   stop what is running (default: all, in reverse order)
  stack.py start|stop SERVICE  the same for one service (tests use these to break and heal)
  stack.py status [SERVICE...] one line per service: running (pid N) or stopped
  stack.py run                 up, stay in the foreground until Ctrl-C / SIGTERM, then down
  stack.py psql [replica] [ARGS...]   psql as millrace into the primary (or the replica)

Services: pg (primary), replica, redis, nginx, millrace.

Environment (defaults avoid the system services' ports):
  MR_HTTP_PORT=8080  MR_PG_PORT=15432  MR_PG_REPLICA_PORT=15433  MR_REDIS_PORT=16379
  MILLRACE_BIN=./millrace (relative paths are relative to the repo root)
  MR_CONF_EXTRA      raw libconfig text appended to var/millrace.conf (tests tune it)
  MR_NGINX_WORKERS   nginx's worker_processes: auto (default, one per core) or 1..64
  MR_WAIT_S=30       how long each part may take to answer

Layout: var/pg/{primary,replica} data dirs, var/run sockets (var/run/millrace.sock,
var/run/pg/.s.PGSQL.*), var/log logs, var/{redis,nginx,millrace}.pid, var/nginx.conf and
var/millrace.conf (rendered on every up), var/nginx/ nginx temp dirs.

Processes are only ever stopped by the pid recorded for them (var/*.pid, or PostgreSQL's own
postmaster.pid through pg_ctl). A pid file whose process is gone, or is no longer ours, is
treated as stopped and removed.
"""
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stacklib import libconfig, pg, procs  # noqa: E402
from stacklib.common import Fail, S, port_free, say, since, wait_up, warn  # noqa: E402

SERVICES = ["pg", "replica", "redis", "nginx", "millrace"]  # dependency order
LOG_FILES = ["millrace", "nginx-access", "nginx-error", "redis", "pg-primary", "pg-replica"]


def stop_pidfile(name, pidfile, pattern, term_wait_s=10):
    """Stops the service in pidfile (TERM, then KILL), and any children it left behind."""
    pid = procs.pidfile_pid(pidfile, pattern)
    if pid is None:
        say("%s: not running" % name)
        return
    t0 = time.monotonic()
    how, kids = procs.stop_tree(pid, pattern, term_wait_s)
    if how != "stopped":
        warn("%s (pid %d) still running %d s after SIGTERM: SIGKILL" % (name, pid, term_wait_s))
    if how == "survived":
        warn("%s (pid %d) survived SIGKILL" % (name, pid))
    for k in kids:
        warn("%s: child %d outlived its parent: SIGKILL" % (name, k))
    if not procs.alive(pid):
        try:
            os.unlink(pidfile)
        except FileNotFoundError:
            pass
    say("%s: stopped (pid %d) in %s" % (name, pid, since(t0)))


def write_if_changed(path, text):
    """Writes text to path.new; returns True if it differs from path (the caller then moves
    it into place), False (and path.new removed) if path already holds exactly that."""
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    with open(path + ".new", "w") as f:
        f.write(text)
    return True


def install(path):
    os.replace(path + ".new", path)


# ---- Redis ----------------------------------------------------------------------------------

def redis_answers():
    try:
        p = procs.run_as(None, ["redis-cli", "-h", "127.0.0.1", "-p", str(S.redis_port),
                                "ping"], capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return False
    return p.stdout.strip() == "PONG"


def redis_pid():
    return procs.pidfile_pid(S.path("redis.pid"), "redis-server")


def up_redis():
    log, t0 = S.log("redis"), time.monotonic()
    pid = redis_pid()
    # Redis shows its address in its process title ("redis-server 127.0.0.1:16379").
    if pid and (":%d" % S.redis_port) not in procs.cmdline(pid):
        say("redis: MR_REDIS_PORT changed: restarting")
        stop_pidfile("redis", S.path("redis.pid"), "redis-server")
        pid = None
    if pid:
        wait_up("redis", log, pid, redis_answers)
        say("redis: running (pid %d)" % pid)
        return
    port_free("redis", S.redis_port, log)
    # A cache: no RDB snapshots, no AOF. In the foreground, so that its pid is the one we got.
    pid = procs.spawn(["redis-server", "--bind", "127.0.0.1", "--port", str(S.redis_port),
                       "--save", "", "--appendonly", "no", "--daemonize", "no",
                       "--dir", S.run, "--logfile", ""], log, S.path("redis.pid"))
    wait_up("redis", log, pid, redis_answers)
    say("redis: started (pid %d) on 127.0.0.1:%d in %s" % (pid, S.redis_port, since(t0)))


# ---- nginx ----------------------------------------------------------------------------------

def http_code(path):
    """The HTTP status of GET path through nginx, or 0 when nothing answers."""
    url = "http://127.0.0.1:%d%s" % (S.http_port, path)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return 0


def nginx_pid():
    return procs.pidfile_pid(S.path("nginx.pid"), "nginx")


def millrace_pid():
    return procs.pidfile_pid(S.path("millrace.pid"), "millrace")


def nginx_answers():
    # With millrace up, /healthz must pass; without it, any answer (502) shows nginx listens.
    if millrace_pid():
        return http_code("/healthz") == 200
    return http_code("/healthz") != 0


def render_nginx_conf():
    with open(os.path.join(S.root, "etc", "nginx-local.conf.in")) as f:
        tpl = f.read()
    if procs.is_root():
        user_line = "user %s;" % S.web_user
    else:
        user_line = "# user: not started as root, so the workers run as %s" % S.me
    for key, value in (("@VAR@", S.var), ("@HTTP_PORT@", str(S.http_port)),
                       ("@USER@", user_line), ("@NGINX_WORKERS@", S.nginx_workers)):
        tpl = tpl.replace(key, value)
    return tpl.rstrip("\n") + "\n"


def up_nginx():
    log, conf, t0 = S.log("nginx-error"), S.path("nginx.conf"), time.monotonic()
    changed = write_if_changed(conf, render_nginx_conf())
    pid = nginx_pid()
    if pid and not changed:
        wait_up("nginx", log, pid, nginx_answers)
        say("nginx: running (pid %d)" % pid)
        return
    if pid:
        say("nginx: etc/nginx-local.conf.in, MR_HTTP_PORT or MR_NGINX_WORKERS changed: "
            "restarting")
        stop_pidfile("nginx", S.path("nginx.pid"), "nginx")
    port_free("nginx", S.http_port, log)
    if changed:
        install(conf)
    # daemon off: nginx stays the process we started (it also writes the same pid into
    # var/nginx.pid itself, and removes the file when it exits).
    pid = procs.spawn(["nginx", "-c", conf, "-p", S.var + "/", "-e", log,
                       "-g", "daemon off;"], log, S.path("nginx.pid"))
    wait_up("nginx", log, pid, nginx_answers)
    say("nginx: started (pid %d) on 127.0.0.1:%d in %s" % (pid, S.http_port, since(t0)))


# ---- millrace -------------------------------------------------------------------------------

LOCAL_SESSION_KEY = "6c6f63616c2d737461636b2d6f6e6c792d6e657665722d696e2d70726f64756374"


def render_millrace_conf():
    """var/millrace.conf: the stack's settings, then MR_CONF_EXTRA verbatim. As root, workers
    must not stay root (allow_root is off by default and the manager refuses), so they drop to
    www-data, unless MR_CONF_EXTRA chooses `user` or `allow_root` itself (libconfig refuses a
    setting given twice). A group of ours that MR_CONF_EXTRA defines (a `db` with another
    db setting) is left out too: the extra then gives the whole group."""
    backend = "host=127.0.0.1 port=%d dbname=millrace user=millrace"
    settings = [
        ("listen", "unix:" + S.sock),
        ("listen_mode", "0666"),
        ("db", [("primary", backend % S.pg_port),
                ("replicas", [backend % S.replica_port])]),
        ("cache", [("host", "127.0.0.1"), ("port", S.redis_port)]),
        # A fixed key, known to everyone: for the local stack and its tests only.
        ("sessions", [("keys", [LOCAL_SESSION_KEY])]),
    ]
    extra = S.conf_extra
    theirs = libconfig.top_level_names(extra)
    settings = [(k, v) for k, v in settings if k not in theirs]
    if procs.is_root() and not libconfig.top_level_names(extra) & {"user", "allow_root"}:
        settings.append(("user", S.web_user))
    text = "# Written by scripts/stack.py on every up; edits here are lost (use MR_CONF_EXTRA).\n"
    text += libconfig.render(settings)
    if extra:
        text += "# MR_CONF_EXTRA:\n" + extra.rstrip("\n") + "\n"
    return text


def millrace_answers():
    # Through nginx when it runs (the definition of "up"); else the socket is there.
    if nginx_pid():
        return http_code("/healthz") == 200
    return procs.is_socket(S.sock)


def up_millrace():
    log, conf, t0 = S.log("millrace"), S.path("millrace.conf"), time.monotonic()
    binary = S.millrace_bin
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise Fail(None, "millrace: no %s (make millrace, or set MILLRACE_BIN)" % binary)
    changed = write_if_changed(conf, render_millrace_conf())
    pid = millrace_pid()
    if pid:
        # Another build (the integration tests' ASan binary; a rebuilt ./millrace shows as
        # "(deleted)"), or another config: the running one is not what was asked for.
        running = procs.exe(pid)
        if running != os.path.realpath(binary):
            say("millrace: running %s, want %s: restarting" % (running or "?", binary))
        elif changed:
            say("millrace: var/millrace.conf changed (ports or MR_CONF_EXTRA): restarting")
        else:
            wait_up("millrace", log, pid, millrace_answers)
            say("millrace: running (pid %d)" % pid)
            return
        stop_millrace()
    if changed:
        install(conf)
    remove(S.sock)  # no one owns it when millrace is not running
    pid = procs.spawn([binary, "-c", conf], log, S.path("millrace.pid"))
    wait_up("millrace", log, pid, millrace_answers)
    say("millrace: started (pid %d) %s in %s" % (pid, binary, since(t0)))


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def stop_millrace():
    stop_pidfile("millrace", S.path("millrace.pid"), "millrace")
    remove(S.sock)


# ---- var/ -----------------------------------------------------------------------------------

def setup_var():
    # Explicit modes: a umask of 077 would otherwise lock www-data out of var/run.
    for d in (S.run, S.log_dir, S.path("nginx"), S.pg_dir, S.pg_sock):
        os.makedirs(d, exist_ok=True)
    for d in (S.var, S.run, S.log_dir):
        os.chmod(d, 0o755)
    os.chmod(S.pg_dir, 0o700)
    if procs.is_root():
        uid, gid = procs.owner_of(S.pg_user)
        for d in (S.pg_dir, S.pg_sock):
            os.chown(d, uid, gid)
        make_reachable(S.pg_user, S.pg_sock)
        make_reachable(S.web_user, S.run)


def make_reachable(user, target):
    """postgres must reach var/pg and var/run/pg, and nginx's www-data workers
    var/run/millrace.sock. A clone under a 0700 directory (/root is 0700 on Debian) blocks
    both. We add o+x (search only: no listing, no reading) on exactly the ancestors that
    block, and say so. Moving the data dirs out of the repo would spread the stack's state
    over the file system and still leave the socket unreachable for nginx; running nginx's
    workers as root would be worse. Costs one check as that user when nothing needs fixing."""
    if procs.can_search(user, target):
        return
    path = ""
    for part in S.root.strip("/").split("/"):
        path += "/" + part
        if not procs.can_search(user, path):
            os.chmod(path, os.stat(path).st_mode | 0o001)
            say("stack: chmod o+x %s (so that %s can reach %s; search only, no listing)"
                % (path, user, S.var))
    if not procs.can_search(user, target):
        raise Fail(None, "%s cannot reach %s even after chmod o+x on its parents"
                   % (user, target))


# ---- commands -------------------------------------------------------------------------------

UP = {"pg": pg.up_primary, "replica": pg.up_replica, "redis": up_redis, "nginx": up_nginx,
      "millrace": up_millrace}
DOWN = {"pg": pg.stop_primary, "replica": pg.stop_replica,
        "redis": lambda: stop_pidfile("redis", S.path("redis.pid"), "redis-server"),
        "nginx": lambda: stop_pidfile("nginx", S.path("nginx.pid"), "nginx"),
        "millrace": stop_millrace}
PIDS = {"pg": lambda: pg.pid_of(S.primary), "replica": lambda: pg.pid_of(S.replica),
        "redis": redis_pid, "nginx": nginx_pid, "millrace": millrace_pid}


def select(names, reverse=False):
    """The named services (none or "all": every one) in dependency order, or reversed."""
    for n in names:
        if n != "all" and n not in SERVICES:
            raise Fail(None, "unknown service '%s' (services: %s)" % (n, " ".join(SERVICES)))
    want = set(SERVICES) if not names or "all" in names else set(names)
    sel = [s for s in SERVICES if s in want]
    return sel[::-1] if reverse else sel


def locked():
    os.makedirs(S.var, exist_ok=True)
    return procs.locked(S.path(".stack.lock"), 180)


def cmd_up(names):
    t0 = time.monotonic()
    sel = select(names)
    with locked():
        setup_var()
        for s in sel:
            UP[s]()
    say("up in %s" % since(t0))
    say("millrace: %s" % S.url)


def cmd_down(names):
    sel = select(names, reverse=True)
    if not os.path.isdir(S.var):
        say("nothing to stop: no %s" % S.var)
        return
    with locked():
        for s in sel:
            DOWN[s]()


def cmd_status(names):
    where = {"pg": "127.0.0.1:%d" % S.pg_port, "replica": "127.0.0.1:%d" % S.replica_port,
             "redis": "127.0.0.1:%d" % S.redis_port, "nginx": S.url,
             "millrace": "unix:" + S.sock}
    for s in select(names):
        pid = PIDS[s]() if os.path.isdir(S.var) else None
        if pid:
            say("%-9s %-20s %s" % (s, "running (pid %d)" % pid, where[s]))
        else:
            say("%-9s %s" % (s, "stopped"))


class Stop(Exception):
    """SIGINT or SIGTERM arrived during `run`."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def cmd_run():
    """up, then wait for SIGINT/SIGTERM, then down. The stack is also stopped when up itself
    fails or is interrupted half way, so `run` never leaves anything behind. A signal once the
    stack is up is the normal way to end `run`: exit 0 then (make would otherwise report
    "Error 130"); during up it exits 128 + the signal."""
    def on_signal(signum, frame):
        raise Stop(signum)
    running, rc = False, 0
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        cmd_up([])
        say("logs:")
        for f in LOG_FILES:
            say("  %s" % S.log(f))
        say("Ctrl-C stops the stack.")
        running = True
        while True:
            signal.pause()
    except Stop as e:
        rc = 0 if running else 128 + e.signum
    except Fail as e:
        e.report()  # before the shutdown's lines, which would bury it
        rc = 1
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave services behind.
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        say()
        say("stopping...")
        cmd_down([])
    return rc


def cmd_psql(args):
    port = S.pg_port
    if args and args[0] == "replica":
        port, args = S.replica_port, args[1:]
    elif args and args[0] in ("primary", "pg"):
        args = args[1:]
    argv = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "millrace", "-d", "millrace"]
    os.execvp("psql", argv + list(args))


def usage(out=sys.stdout):
    out.write(__doc__)


def main(argv):
    cmd, args = (argv[0], argv[1:]) if argv else ("", [])
    os.chdir(S.root)
    if cmd == "up":
        cmd_up(args)
    elif cmd == "down":
        cmd_down(args)
    elif cmd in ("start", "stop"):
        if not args:
            raise Fail(None, "usage: stack.py %s SERVICE..." % cmd)
        (cmd_up if cmd == "start" else cmd_down)(args)
    elif cmd == "status":
        cmd_status(args)
    elif cmd == "run":
        if args:
            raise Fail(None, "usage: stack.py run")
        return cmd_run()
    elif cmd == "psql":
        cmd_psql(args)
    elif cmd in ("-h", "--help", "help"):
        usage()
    else:
        warn("unknown command '%s'" % cmd)
        usage(sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Fail as e:
        e.report()
        sys.exit(1)
    except procs.Timeout as e:
        warn("error: %s" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
