"""The local stack's settings (paths, ports, users, from the environment) and its way of
speaking: progress on stdout, problems on stderr as `stack: ...`, and Fail for a part that
did not come up (named, with the end of its log)."""
import os
import pwd
import sys
import time

from . import procs


class Settings:
    """Everything scripts/stack.py reads from the environment, read once."""

    def __init__(self, environ):
        self.root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.realpath(__file__))))
        self.var = os.path.join(self.root, "var")
        self.run = os.path.join(self.var, "run")
        self.log_dir = os.path.join(self.var, "log")
        self.pg_dir = os.path.join(self.var, "pg")
        self.primary = os.path.join(self.pg_dir, "primary")
        self.replica = os.path.join(self.pg_dir, "replica")
        self.pg_sock = os.path.join(self.run, "pg")
        self.sock = os.path.join(self.run, "millrace.sock")
        self.pg_bin = environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
        self.slot = "millrace_replica"
        self.http_port = port(environ, "MR_HTTP_PORT", 8080)
        self.pg_port = port(environ, "MR_PG_PORT", 15432)
        self.replica_port = port(environ, "MR_PG_REPLICA_PORT", 15433)
        self.redis_port = port(environ, "MR_REDIS_PORT", 16379)
        self.wait_s = number(environ, "MR_WAIT_S", 30)
        self.conf_extra = environ.get("MR_CONF_EXTRA", "")
        # nginx's worker_processes: "auto" (one per core), or a count (the worker sweep).
        self.nginx_workers = environ.get("MR_NGINX_WORKERS", "") or "auto"
        if self.nginx_workers != "auto" and not 1 <= number(environ, "MR_NGINX_WORKERS",
                                                             0) <= 64:
            raise Fail(None, "MR_NGINX_WORKERS=%r: want auto or 1..64" % self.nginx_workers)
        binary = environ.get("MILLRACE_BIN") or "./millrace"
        self.millrace_bin = (binary if os.path.isabs(binary)
                             else os.path.normpath(os.path.join(self.root, binary)))
        self.url = "http://127.0.0.1:%d/" % self.http_port
        # PostgreSQL refuses to run as root, and nginx should not serve as root: as root, the
        # database runs as `postgres` and nginx's workers as `www-data`. Otherwise everything
        # runs as the invoking user.
        self.pg_user = "postgres"
        self.web_user = "www-data"
        self.me = pwd.getpwuid(os.geteuid()).pw_name

    def path(self, name):
        return os.path.join(self.var, name)

    def log(self, name):
        return os.path.join(self.log_dir, name + ".log")

    def as_pg(self):
        """The user PostgreSQL's programs run as: postgres when we are root, else ourselves."""
        return self.pg_user if procs.is_root() else None


def port(environ, name, default):
    value = number(environ, name, default)
    if not 0 < value < 65536:
        raise Fail(None, "%s=%s is not a TCP port" % (name, environ.get(name)))
    return value


def number(environ, name, default):
    text = environ.get(name, "")
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise Fail(None, "%s=%r is not a whole number" % (name, text)) from None


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def warn(text):
    print("stack: %s" % text, file=sys.stderr, flush=True)


def since(t0):
    """"1.23 s" since a time.monotonic() value."""
    return "%.2f s" % (time.monotonic() - t0)


class Fail(Exception):
    """A part did not come up (or a command was wrong): report() says which, shows the end of
    its log, and the program exits 1."""

    def __init__(self, name, message, log=None):
        super().__init__(message)
        self.name, self.message, self.log = name, message, log

    def report(self):
        warn("error: %s%s" % (self.name + ": " if self.name else "", self.message))
        if not self.log:
            return
        try:
            with open(self.log, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()[-15:]
        except OSError:
            lines = []
        if lines:
            warn("last lines of %s:" % self.log)
            sys.stderr.write("".join("    %s\n" % ln for ln in lines))
        warn("log: %s" % self.log)


def port_free(name, port, log):
    """Refuses to start name when something else already listens on 127.0.0.1:port. Without
    this, the readiness check could be answered by the other listener (nginx retries bind()
    for 2.5 s before it gives up), and up would report success for a part about to die."""
    if procs.port_open(port):
        raise Fail(name, "127.0.0.1:%d is already in use by another process (set another port)"
                   % port, log)


def wait_up(name, log, pid, check):
    """Waits until check() is true, at most MR_WAIT_S; gives up at once if pid (may be None)
    dies first. Raises Fail naming the part and its log."""
    deadline = time.monotonic() + S.wait_s
    while not check():
        if pid and not procs.alive(pid):
            raise Fail(name, "exited while starting (pid %d)" % pid, log)
        if time.monotonic() >= deadline:
            raise Fail(name, "did not answer within %d s" % S.wait_s, log)
        time.sleep(0.1)


try:
    S = Settings(os.environ)
except Fail as _e:
    _e.report()
    sys.exit(1)
