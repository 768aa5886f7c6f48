"""PostgreSQL for the local stack: the primary (initdb on first up, then role, database and
scripts/seed.sql on every up) and its streaming replica (pg_basebackup -R into var/pg/replica,
rebuilt whenever it is not a usable standby of today's primary). As root, every PostgreSQL
program runs as `postgres`."""
import os
import re
import shutil
import signal
import subprocess
import time

from . import procs
from .common import Fail, S, port_free, say, since, wait_up, warn

SEED_ROLE_DB = """\
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'millrace') THEN
        CREATE ROLE millrace LOGIN;
    END IF;
END $$;
SELECT 'CREATE DATABASE millrace OWNER millrace'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'millrace') \\gexec
"""


def tool(name):
    return os.path.join(S.pg_bin, name)


def as_pg(argv, log=None, timeout=None, **kw):
    """Runs a PostgreSQL program as the PostgreSQL user; output appends to log if given."""
    if log is None:
        return procs.run_as(S.as_pg(), argv, timeout=timeout, **kw)
    with open(log, "ab") as f:
        return procs.run_as(S.as_pg(), argv, stdout=f, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, timeout=timeout, **kw)


def pg_own(*paths):
    """Gives files we wrote into a PostgreSQL-owned place back to that user."""
    if procs.is_root():
        uid, gid = procs.owner_of(S.pg_user)
        for p in paths:
            os.chown(p, uid, gid)


def touch(path):
    with open(path, "a"):
        pass


def pid_of(datadir):
    """The postmaster's pid from its own postmaster.pid, when it runs; postgres checks that
    file for staleness itself at start, so we never remove it."""
    pid = procs.read_pid(os.path.join(datadir, "postmaster.pid"))
    return pid if pid and procs.ours(pid, "postgres") else None


def port_of(datadir):
    """The port a running postmaster listens on: line 4 of its postmaster.pid."""
    try:
        with open(os.path.join(datadir, "postmaster.pid")) as f:
            lines = f.read().splitlines()
        return int(lines[3])
    except (OSError, IndexError, ValueError):
        return None


def write_conf(datadir, port, role):
    """Our settings live in millrace-local.conf next to postgresql.conf (which includes it),
    written on every start so that a changed port takes effect. pg_basebackup copies both into
    the replica, which then rewrites its own copy. Local stack only: fsync and
    synchronous_commit are off (a crash may lose the last commits or corrupt the cluster;
    `rm -rf var/pg` and up again rebuilds it), and every loopback connection is trusted."""
    local = os.path.join(datadir, "millrace-local.conf")
    hba = os.path.join(datadir, "pg_hba.conf")
    with open(local, "w") as f:
        f.write("""\
# Written by scripts/stack.py on every start of the %(role)s; edits here are lost.
listen_addresses = '127.0.0.1'
port = %(port)d
unix_socket_directories = '%(sock)s'
cluster_name = 'millrace-%(role)s'
max_connections = 300
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
max_slot_wal_keep_size = '1GB'  # a replica left down forever must not fill the disk
hot_standby = on
hot_standby_feedback = on       # long replica reads are not cancelled by the primary's vacuum
fsync = off                     # local stack only
synchronous_commit = off        # local stack only
""" % {"role": role, "port": port, "sock": S.pg_sock})
    with open(hba, "w") as f:
        f.write("""\
# Written by scripts/stack.py: local stack only, loopback is trusted.
local all         all                trust
host  all         all  127.0.0.1/32  trust
local replication all                trust
host  replication all  127.0.0.1/32  trust
""")
    pg_own(local, hba)
    os.chmod(local, 0o600)
    os.chmod(hba, 0o600)


def start(datadir, log):
    """pg_ctl -w waits (bounded by -t) until the server accepts connections, or a standby
    read-only ones, and returns at once if the postmaster dies. True on success."""
    touch(log)
    pg_own(log)
    try:
        p = as_pg([tool("pg_ctl"), "-D", datadir, "-l", log, "-w", "-t", str(S.wait_s),
                   "start"], log=log, timeout=S.wait_s + 30)
    except subprocess.TimeoutExpired:
        return False
    return p.returncode == 0


def stop(name, datadir, log):
    """pg_ctl stop -m fast (disconnect clients, clean shutdown); if that does not finish in
    time, immediate shutdown (SIGQUIT), then SIGKILL of the postmaster."""
    pid = pid_of(datadir)
    if pid is None:
        say("%s: not running" % name)
        return
    t0 = time.monotonic()
    try:
        ok = as_pg([tool("pg_ctl"), "-D", datadir, "-m", "fast", "-w", "-t", str(S.wait_s),
                    "stop"], log=log, timeout=S.wait_s + 30).returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    if not ok and procs.alive(pid):
        warn("%s (pid %d) did not stop in %d s: immediate shutdown, then SIGKILL"
             % (name, pid, S.wait_s))
        if procs.terminate(pid, 5, first=signal.SIGQUIT) == "survived":
            warn("%s (pid %d) survived SIGKILL" % (name, pid))
    say("%s: stopped (pid %d) in %s" % (name, pid, since(t0)))


def stop_primary():
    stop("pg", S.primary, S.log("pg-primary"))


def stop_replica():
    stop("replica", S.replica, S.log("pg-replica"))


def psql_admin(port, *args, sql=None):
    """psql as the superuser, quiet, failing on the first error, connect bounded.
    Returns (exit code, stdout + stderr)."""
    argv = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
            "-p", str(port), "-U", "postgres", "-d", "postgres"] + list(args)
    env = dict(os.environ, PGCONNECT_TIMEOUT="5")
    try:
        p = subprocess.run(argv, input=sql or "", capture_output=True, text=True, env=env,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return 1, "psql timed out"
    return p.returncode, (p.stdout + p.stderr).strip()


def is_ready(port):
    try:
        return subprocess.run([tool("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port),
                               "-t", "2"], timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def sysid(datadir):
    """"Database system identifier" of a data dir: a fresh initdb gets a new one, and a
    replica copied from an older primary keeps the old one. None if unreadable."""
    try:
        p = as_pg([tool("pg_controldata"), "-D", datadir], capture_output=True, text=True,
                  timeout=30, env=dict(os.environ, LC_ALL="C"))
    except subprocess.TimeoutExpired:
        return None
    m = re.search(r"Database system identifier:\s+(\d+)", p.stdout)
    return m.group(1) if p.returncode == 0 and m else None


def initialised(datadir):
    """True if datadir holds a finished initdb (or base backup)."""
    version = os.path.join(datadir, "PG_VERSION")
    return (os.path.isfile(version) and os.path.getsize(version) > 0
            and os.path.isfile(os.path.join(datadir, "global", "pg_control")))


def init_primary():
    log = S.log("pg-primary")
    say("pg: initdb %s" % S.primary)
    # No PG_VERSION or pg_control: nothing, or what an interrupted initdb left. Start over.
    shutil.rmtree(S.primary, ignore_errors=True)
    if as_pg([tool("initdb"), "-D", S.primary, "-U", "postgres", "-A", "trust", "-E", "UTF8",
              "--locale=C", "-N"], log=log, timeout=300).returncode != 0:
        raise Fail("pg", "initdb failed", log)
    with open(os.path.join(S.primary, "postgresql.conf"), "a") as f:
        f.write("\ninclude = 'millrace-local.conf'  # added by scripts/stack.py\n")


def seed():
    """Role and database (as the superuser), then scripts/seed.sql as millrace so that
    millrace owns the tables. Runs on every up of pg; idempotent, a few tens of ms."""
    log = S.log("pg-primary")
    rc, out = psql_admin(S.pg_port, sql=SEED_ROLE_DB)
    if rc != 0:
        append(log, out)
        raise Fail("pg", "creating role and database millrace failed", log)
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                        "-p", str(S.pg_port), "-U", "millrace", "-d", "millrace",
                        "-f", os.path.join(S.root, "scripts", "seed.sql")],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
    if p.returncode != 0:
        append(log, p.stdout + p.stderr)
        raise Fail("pg", "scripts/seed.sql failed", log)


def append(log, text):
    with open(log, "a") as f:
        f.write(text.rstrip("\n") + "\n")


def up_primary():
    log, t0 = S.log("pg-primary"), time.monotonic()
    pid = pid_of(S.primary)
    if pid and port_of(S.primary) != S.pg_port:
        say("pg: running on port %s, MR_PG_PORT is %d: restarting"
            % (port_of(S.primary), S.pg_port))
        stop_primary()
        pid = None
    if pid:
        wait_up("pg", log, pid, lambda: is_ready(S.pg_port))
        say("pg: running (pid %d)" % pid)
    else:
        port_free("pg", S.pg_port, log)
        if not initialised(S.primary):
            init_primary()
        write_conf(S.primary, S.pg_port, "primary")
        if not start(S.primary, log):
            raise Fail("pg", "pg_ctl start failed or timed out (%d s)" % S.wait_s, log)
        say("pg: started (pid %s) on 127.0.0.1:%d in %s"
            % (pid_of(S.primary) or "?", S.pg_port, since(t0)))
    seed()


# ---- the replica ----------------------------------------------------------------------------

def replica_problem():
    """Why the replica's data dir cannot be used as is; None if it can."""
    if not os.path.isdir(S.replica):
        return "not built yet"
    if not initialised(S.replica):
        return "incomplete data dir"
    if not os.path.isfile(os.path.join(S.replica, "standby.signal")):
        return "no standby.signal: not a standby"
    mine = sysid(S.replica)
    if mine is None:
        return "pg_controldata cannot read it"
    theirs = sysid(S.primary)
    if theirs is not None and mine != theirs:
        return "copied from an older primary (system id %s, now %s)" % (mine, theirs)
    return None


def drop_slot():
    """Drops the replication slot of a previous replica (its walsender may take a moment to
    notice that replica is gone), so that pg_basebackup -C can create it again."""
    query = "SELECT active FROM pg_replication_slots WHERE slot_name = '%s'" % S.slot
    deadline = time.monotonic() + 10
    while True:
        rc, active = psql_admin(S.pg_port, "-c", query)
        if rc != 0:
            return False
        if active == "":
            return True
        if active == "f":
            return psql_admin(S.pg_port, "-c",
                              "SELECT pg_drop_replication_slot('%s')" % S.slot)[0] == 0
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def build_replica(reason):
    """A fresh copy of the primary: pg_basebackup -R writes standby.signal and
    primary_conninfo; the slot keeps the primary's WAL until the replica has it (bounded by
    max_slot_wal_keep_size)."""
    log = S.log("pg-replica")
    if pid_of(S.primary) is None:
        raise Fail("replica", "needs a rebuild (%s) but the primary is not running "
                   "(stack.py up pg)" % reason, log)
    say("replica: pg_basebackup from the primary (%s)" % reason)
    if not drop_slot():
        raise Fail("replica", "could not drop replication slot %s" % S.slot,
                   S.log("pg-primary"))
    shutil.rmtree(S.replica, ignore_errors=True)
    touch(log)
    try:
        ok = as_pg([tool("pg_basebackup"), "-h", "127.0.0.1", "-p", str(S.pg_port),
                    "-U", "postgres", "-D", S.replica, "-R", "-X", "stream", "-C",
                    "-S", S.slot, "-c", "fast", "-N"], log=log, timeout=120).returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    if not ok:
        raise Fail("replica", "pg_basebackup failed", log)


def auto_conf():
    return os.path.join(S.replica, "postgresql.auto.conf")


def configure_replica():
    """The replica's own port, and primary_conninfo pointed at today's MR_PG_PORT
    (pg_basebackup -R wrote the port of the day it ran into postgresql.auto.conf, which wins
    over includes)."""
    write_conf(S.replica, S.replica_port, "replica")
    with open(auto_conf()) as f:
        lines = f.read().splitlines(keepends=True)
    out = [re.sub(r"port=\d+", "port=%d" % S.pg_port, ln)
           if ln.startswith("primary_conninfo") else ln for ln in lines]
    if out != lines:
        with open(auto_conf(), "w") as f:
            f.write("".join(out))


def replica_recovery():
    rc, out = psql_admin(S.replica_port, "-c", "SELECT pg_is_in_recovery()")
    return out if rc == 0 else ""


def start_replica():
    """Starts the replica and checks it is a hot standby that answers queries. False (rather
    than Fail) so that up_replica can rebuild once."""
    log = S.log("pg-replica")
    port_free("replica", S.replica_port, log)
    configure_replica()
    return start(S.replica, log) and pid_of(S.replica) and replica_recovery() == "t"


def replica_ports_ok():
    """Whether the running replica listens on MR_PG_REPLICA_PORT and streams from
    MR_PG_PORT."""
    if port_of(S.replica) != S.replica_port:
        return False
    try:
        with open(auto_conf()) as f:
            text = f.read()
    except OSError:
        return False
    return re.search(r"^primary_conninfo.*port=%d[ ']" % S.pg_port, text, re.M) is not None


def up_replica():
    log, t0, rebuilt = S.log("pg-replica"), time.monotonic(), False
    if not os.path.isdir(S.primary):
        raise Fail("replica", "there is no primary yet (stack.py up pg)", log)
    problem = replica_problem()
    pid = pid_of(S.replica)
    if pid:
        if problem is None and not replica_ports_ok():
            say("replica: MR_PG_REPLICA_PORT or MR_PG_PORT changed: restarting")
        elif problem is None:
            wait_up("replica", log, pid, lambda: replica_recovery() != "")
            if replica_recovery() == "t":
                say("replica: running (pid %d)" % pid)
                return
            problem = "running, but promoted: not a standby any more"
        stop_replica()
    if problem:
        build_replica(problem)
        rebuilt = True
    if not start_replica():
        if rebuilt:
            raise Fail("replica", "a fresh copy did not start as a hot standby", log)
        stop_replica()
        build_replica("it did not start as a hot standby")
        if not start_replica():
            raise Fail("replica", "a fresh copy did not start as a hot standby", log)
    say("replica: started (pid %s) on 127.0.0.1:%d in %s"
        % (pid_of(S.replica) or "?", S.replica_port, since(t0)))
