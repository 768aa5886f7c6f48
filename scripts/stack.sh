#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# stack.sh: the local stack that `make run`, `make up`, the integration tests and the benchmarks
# share. PostgreSQL 15 primary plus a streaming read replica (pg_basebackup -R), Redis, nginx and
# millrace, all on 127.0.0.1, all state under the repo's var/ (git-ignored). It works from any
# clone: paths come from this file's own location, never from the caller's directory.
#
#   stack.sh up [SERVICE...]     start what is not running (default: all, in dependency order);
#                                returns once each part answers, or exits non-zero naming the
#                                part and its log. A second up is harmless and fast.
#   stack.sh down [SERVICE...]   stop what is running (default: all, in reverse order)
#   stack.sh start|stop SERVICE  the same for one service (tests use these to break and heal)
#   stack.sh status [SERVICE...] one line per service: running (pid N) or stopped
#   stack.sh run                 up, stay in the foreground until Ctrl-C / SIGTERM, then down
#   stack.sh psql [replica] [ARGS...]   psql as millrace into the primary (or the replica)
#
# Services: pg (primary), replica, redis, nginx, millrace.
#
# Environment (defaults avoid the system services' ports):
#   MR_HTTP_PORT=8080  MR_PG_PORT=15432  MR_PG_REPLICA_PORT=15433  MR_REDIS_PORT=16379
#   MILLRACE_BIN=./millrace (relative paths are relative to the repo root)
#   MR_CONF_EXTRA      raw libconfig text appended to var/millrace.conf (tests tune it)
#   MR_WAIT_S=30       how long each part may take to answer
#
# Layout: var/pg/{primary,replica} data dirs, var/run sockets (var/run/millrace.sock,
# var/run/pg/.s.PGSQL.*), var/log logs, var/{redis,nginx,millrace}.pid, var/nginx.conf and
# var/millrace.conf (rendered on every up), var/nginx/ nginx temp dirs.
#
# Processes are only ever stopped by the pid recorded for them (var/*.pid, or PostgreSQL's own
# postmaster.pid through pg_ctl). A pid file whose process is gone, or is no longer ours, is
# treated as stopped and removed.
set -euo pipefail
# bash 5.2 gives `&` a meaning in ${var//pat/rep}; the renderer below wants it literal.
shopt -u patsub_replacement 2>/dev/null || true

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
VAR=$ROOT/var
RUN=$VAR/run
LOG=$VAR/log
PG_DIR=$VAR/pg
PRIMARY=$PG_DIR/primary
REPLICA=$PG_DIR/replica
PG_SOCK=$RUN/pg
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SOCK=$RUN/millrace.sock
SLOT=millrace_replica

MR_HTTP_PORT=${MR_HTTP_PORT:-8080}
MR_PG_PORT=${MR_PG_PORT:-15432}
MR_PG_REPLICA_PORT=${MR_PG_REPLICA_PORT:-15433}
MR_REDIS_PORT=${MR_REDIS_PORT:-16379}
MR_WAIT_S=${MR_WAIT_S:-30}
MR_CONF_EXTRA=${MR_CONF_EXTRA:-}
MILLRACE_BIN=${MILLRACE_BIN:-./millrace}
[[ $MILLRACE_BIN == /* ]] || MILLRACE_BIN=$ROOT/${MILLRACE_BIN#./}

SERVICES=(pg replica redis nginx millrace) # dependency order; down walks it backwards
URL=http://127.0.0.1:$MR_HTTP_PORT/

# PostgreSQL refuses to run as root, and nginx should not serve as root: when root, the
# database runs as `postgres` and nginx's workers as `www-data`. Otherwise everything runs as
# the invoking user.
if [[ $(id -u) -eq 0 ]]; then IS_ROOT=1; else IS_ROOT=0; fi
PG_USER=postgres
WEB_USER=www-data

say() { printf '%s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }
die() {
    warn "error: $*"
    exit 1
}

# Microseconds since the epoch (EPOCHREALTIME's decimal point follows the locale: strip it).
now_us() { printf '%s' "${EPOCHREALTIME//[^0-9]/}"; }
# "1.23 s" since a now_us value.
since() {
    local ms=$((($(now_us) - $1) / 1000))
    printf '%d.%02d s' $((ms / 1000)) $((ms % 1000 / 10))
}

# A part did not come up: say which, show the end of its log, and stop with non-zero.
fail() { # NAME MESSAGE LOGFILE
    warn "error: $1: $2"
    if [[ -s $3 ]]; then
        warn "last lines of $3:"
        tail -n 15 -- "$3" | sed 's/^/    /' >&2
    fi
    warn "log: $3"
    exit 1
}

# Run a command as the PostgreSQL user. From / so that a repo under a 0700 home does not give
# "could not change directory" warnings.
as_pg() {
    if ((IS_ROOT)); then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        "$@"
    fi
}

# Give a file we wrote into a PostgreSQL-owned place back to that user.
pg_own() { if ((IS_ROOT)); then chown "$PG_USER:" "$@"; fi; }

# --- processes -------------------------------------------------------------------------------

# True if PID exists and is not a zombie: a service started by `run` stays one until this
# script reaps it, and an orphan until init does (some container inits are slow at that).
alive() {
    local stat
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# True if PID is alive and its command line or executable mentions PATTERN: a pid file left by
# a dead service may name a pid the kernel has since given to something else.
ours() { # PID PATTERN
    local cmd exe
    alive "$1" || return 1
    cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || cmd=
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || exe=
    [[ $cmd == *"$2"* || $exe == *"$2"* ]]
}

# Print the pid in FILE if that process runs and is ours; else remove a stale FILE and fail.
pidfile_pid() { # FILE PATTERN
    local pid
    [[ -s $1 ]] || return 1
    pid=$(head -n 1 -- "$1" | tr -dc 0-9)
    if ours "$pid" "$2"; then
        printf '%s' "$pid"
        return 0
    fi
    rm -f -- "$1"
    return 1
}

# PostgreSQL keeps its own pid file; postgres checks it for staleness itself at start.
pg_pid() { # DATADIR
    local pid
    [[ -s $1/postmaster.pid ]] || return 1
    pid=$(head -n 1 -- "$1/postmaster.pid" | tr -dc 0-9)
    ours "$pid" postgres || return 1
    printf '%s' "$pid"
}

svc_pid() { # SERVICE
    case $1 in
    pg) pg_pid "$PRIMARY" ;;
    replica) pg_pid "$REPLICA" ;;
    redis) pidfile_pid "$VAR/redis.pid" redis-server ;;
    nginx) pidfile_pid "$VAR/nginx.pid" nginx ;;
    millrace) pidfile_pid "$VAR/millrace.pid" millrace ;;
    esac
}

# Wait up to SECONDS for PID to go away; polls every 0.1 s.
wait_gone() { # PID SECONDS
    local deadline=$(($(now_us) + $2 * 1000000))
    while alive "$1"; do
        (($(now_us) < deadline)) || return 1
        sleep 0.1
    done
}

# Wait until CHECK... succeeds, at most MR_WAIT_S. If PID (may be empty) dies first, give up at
# once. On failure, fail (exits) naming the part and its log.
wait_for() { # NAME LOGFILE PID CHECK...
    local name=$1 log=$2 pid=$3 deadline
    shift 3
    deadline=$(($(now_us) + MR_WAIT_S * 1000000))
    until "$@"; do
        if [[ -n $pid ]] && ! alive "$pid"; then
            fail "$name" "exited while starting (pid $pid)" "$log"
        fi
        if (($(now_us) >= deadline)); then
            fail "$name" "did not answer within $MR_WAIT_S s" "$log"
        fi
        sleep 0.1
    done
}

# Refuse to start NAME when something else already listens on 127.0.0.1:PORT. Without this,
# the readiness check could be answered by the other listener (nginx retries bind() for 2.5 s
# before it gives up), and up would report success for a part that is about to die.
port_free() { # NAME PORT LOGFILE
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
        fail "$1" "127.0.0.1:$2 is already in use by another process (set another port)" "$3"
    fi
}

# Stop the process in a pid file: SIGTERM, wait, SIGKILL; then any children it left behind
# (nginx and millrace workers; they are reparented once their master dies, so they are listed
# before the signals go out).
stop_pidfile() { # NAME FILE PATTERN TERM_WAIT_S
    local name=$1 file=$2 pattern=$3 wait_s=$4 pid kids k t0
    if ! pid=$(pidfile_pid "$file" "$pattern"); then
        say "$name: not running"
        return 0
    fi
    t0=$(now_us)
    kids=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$wait_s"; then
        kids="$kids $(pgrep -P "$pid" || true)"
        warn "$name (pid $pid) still running $wait_s s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || warn "$name (pid $pid) survived SIGKILL"
    fi
    for k in $kids; do
        if ours "$k" "$pattern" && ! wait_gone "$k" 2; then
            warn "$name: child $k outlived its parent: SIGKILL"
            kill -KILL "$k" 2>/dev/null || true
        fi
    done
    rm -f -- "$file"
    say "$name: stopped (pid $pid) in $(since "$t0")"
}

# Start a long-running command in the background, detached: setsid puts it in its own session
# so that Ctrl-C in `run` reaches only this script (which then stops the stack in order), and
# nohup keeps it alive when the terminal goes. setsid does not fork here (a background job of
# a script is not a process group leader), so $! is the service's own pid. fd 9 is the lock.
spawn() { # PIDFILE LOGFILE COMMAND...
    local pidfile=$1 log=$2
    shift 2
    setsid nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
    printf '%s\n' "$!" >"$pidfile"
    SPAWNED=$!
}

# --- var/ ------------------------------------------------------------------------------------

# Serialise concurrent up/down (two `make up` at once). The lock is var/.stack.lock on fd 9.
lock() {
    mkdir -p -- "$VAR"
    exec 9>"$VAR/.stack.lock"
    flock -w 180 9 || die "another stack.sh has held $VAR/.stack.lock for 180 s"
}
unlock() { exec 9>&-; }

setup_var() {
    # Explicit modes: a umask of 077 would otherwise lock www-data out of var/run.
    mkdir -p -- "$RUN" "$LOG" "$VAR/nginx" "$PG_DIR" "$PG_SOCK"
    chmod 0755 -- "$VAR" "$RUN" "$LOG"
    chmod 0700 -- "$PG_DIR"
    if ((IS_ROOT)); then
        chown "$PG_USER:" -- "$PG_DIR" "$PG_SOCK"
        make_reachable "$PG_USER" "$PG_SOCK"
        make_reachable "$WEB_USER" "$RUN"
    fi
}

# postgres must reach var/pg and var/run/pg, and nginx's www-data workers var/run/millrace.sock.
# A clone under a 0700 directory (/root is 0700 on Debian) blocks both. Of the ways out, we
# chose to add o+x (search only: no listing, no reading) on exactly the ancestors that block,
# and to say so. Moving the data dirs out of the repo would spread the stack's state over the
# file system and still leave the socket unreachable for nginx; running nginx's workers as root
# would be worse. The check costs one runuser per user when nothing needs fixing.
make_reachable() { # USER DIR
    local user=$1 dir=$2 path="" part
    runuser -u "$user" -- test -x "$dir" 2>/dev/null && return 0
    local -a parts
    IFS=/ read -ra parts <<<"${ROOT#/}"
    for part in "${parts[@]}"; do
        path+=/$part
        if ! runuser -u "$user" -- test -x "$path" 2>/dev/null; then
            chmod o+x -- "$path"
            say "stack: chmod o+x $path (so that $user can reach $VAR; search only, no listing)"
        fi
    done
    runuser -u "$user" -- test -x "$dir" 2>/dev/null ||
        die "$user cannot reach $dir even after chmod o+x on its parents"
}

# --- PostgreSQL ------------------------------------------------------------------------------

# Our settings live in millrace-local.conf next to postgresql.conf (which includes it), written
# on every start so that a changed port takes effect. pg_basebackup copies both into the
# replica, which then rewrites its own copy. Local stack only: fsync and synchronous_commit are
# off (a crash may lose the last commits or corrupt the cluster; `rm -rf var/pg` and up again
# rebuilds it), and every loopback connection is trusted without a password.
write_pg_conf() { # DATADIR PORT ROLE
    cat >"$1/millrace-local.conf" <<EOF
# Written by scripts/stack.sh on every start of the $3; edits here are lost.
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$PG_SOCK'
cluster_name = 'millrace-$3'
max_connections = 300
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
max_slot_wal_keep_size = '1GB'  # a replica left down forever must not fill the disk
hot_standby = on
hot_standby_feedback = on       # long replica reads are not cancelled by the primary's vacuum
fsync = off                     # local stack only
synchronous_commit = off        # local stack only
EOF
    cat >"$1/pg_hba.conf" <<EOF
# Written by scripts/stack.sh: local stack only, loopback is trusted.
local all         all                trust
host  all         all  127.0.0.1/32  trust
local replication all                trust
host  replication all  127.0.0.1/32  trust
EOF
    pg_own "$1/millrace-local.conf" "$1/pg_hba.conf"
    chmod 0600 -- "$1/millrace-local.conf" "$1/pg_hba.conf"
}

# pg_ctl -w waits (bounded by -t) until the server accepts connections, or a standby read-only
# ones, and returns at once if the postmaster dies.
pg_start() { # DATADIR LOGFILE
    touch -- "$2"
    pg_own "$2"
    # shellcheck disable=SC2094 # both append: pg_ctl's own messages belong in the same log
    as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t "$MR_WAIT_S" start >>"$2" 2>&1 9>&-
}

# pg_ctl stop -m fast (disconnect clients, clean shutdown); if that does not finish in time,
# immediate shutdown, then SIGKILL of the postmaster.
pg_stop() { # NAME DATADIR LOGFILE
    local name=$1 dir=$2 log=$3 pid t0
    if ! pid=$(pg_pid "$dir"); then
        say "$name: not running"
        return 0
    fi
    t0=$(now_us)
    if ! as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w -t "$MR_WAIT_S" stop >>"$log" 2>&1; then
        warn "$name (pid $pid) did not stop in $MR_WAIT_S s: immediate shutdown, then SIGKILL"
        kill -QUIT "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 5; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || warn "$name (pid $pid) survived SIGKILL"
        fi
    fi
    say "$name: stopped (pid $pid) in $(since "$t0")"
}

# psql as the superuser, quiet, failing on the first error, connect bounded.
psql_admin() { # PORT ARGS...
    local port=$1
    shift
    PGCONNECT_TIMEOUT=5 psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
        -U postgres -d postgres "$@"
}

pg_isready_at() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -t 2; }

# "Database system identifier" of a data dir: a fresh initdb gets a new one, and a replica
# copied from an older primary keeps the old one.
sysid() { # DATADIR
    local out
    out=$(LC_ALL=C as_pg "$PG_BIN/pg_controldata" -D "$1" 2>/dev/null) || return 1
    [[ $out =~ Database\ system\ identifier:\ +([0-9]+) ]] || return 1
    printf '%s' "${BASH_REMATCH[1]}"
}

init_primary() {
    local log=$LOG/pg-primary.log
    say "pg: initdb $PRIMARY"
    # No PG_VERSION or pg_control: nothing, or what an interrupted initdb left. Start over.
    rm -rf -- "$PRIMARY"
    as_pg "$PG_BIN/initdb" -D "$PRIMARY" -U postgres -A trust -E UTF8 --locale=C -N \
        >>"$log" 2>&1 || fail pg "initdb failed" "$log"
    printf "\ninclude = 'millrace-local.conf'  # added by scripts/stack.sh\n" \
        >>"$PRIMARY/postgresql.conf"
}

# Role and database (as the superuser), then scripts/seed.sql as millrace so that millrace owns
# the tables. Runs on every up of pg; it is idempotent and takes a few tens of milliseconds.
seed() {
    local out
    if ! out=$(psql_admin "$MR_PG_PORT" 2>&1 <<'EOF'
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'millrace') THEN
        CREATE ROLE millrace LOGIN;
    END IF;
END $$;
SELECT 'CREATE DATABASE millrace OWNER millrace'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'millrace') \gexec
EOF
    ); then
        printf '%s\n' "$out" >>"$LOG/pg-primary.log"
        fail pg "creating role and database millrace failed" "$LOG/pg-primary.log"
    fi
    if ! out=$(PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$MR_PG_PORT" \
        -U millrace -d millrace -f "$ROOT/scripts/seed.sql" 2>&1); then
        printf '%s\n' "$out" >>"$LOG/pg-primary.log"
        fail pg "scripts/seed.sql failed" "$LOG/pg-primary.log"
    fi
}

# The port a running postmaster listens on: line 4 of its postmaster.pid.
pg_port() { sed -n 4p "$1/postmaster.pid" 2>/dev/null; }

up_pg() {
    local log=$LOG/pg-primary.log pid t0
    t0=$(now_us)
    if pid=$(pg_pid "$PRIMARY") && [[ $(pg_port "$PRIMARY") != "$MR_PG_PORT" ]]; then
        say "pg: running on port $(pg_port "$PRIMARY"), MR_PG_PORT is $MR_PG_PORT: restarting"
        pg_stop pg "$PRIMARY" "$log"
    fi
    if pid=$(pg_pid "$PRIMARY"); then
        wait_for pg "$log" "$pid" pg_isready_at "$MR_PG_PORT"
        say "pg: running (pid $pid)"
    else
        port_free pg "$MR_PG_PORT" "$log"
        [[ -s $PRIMARY/PG_VERSION && -f $PRIMARY/global/pg_control ]] || init_primary
        write_pg_conf "$PRIMARY" "$MR_PG_PORT" primary
        pg_start "$PRIMARY" "$log" ||
            fail pg "pg_ctl start failed or timed out ($MR_WAIT_S s)" "$log"
        say "pg: started (pid $(pg_pid "$PRIMARY" || echo '?')) on 127.0.0.1:$MR_PG_PORT" \
            "in $(since "$t0")"
    fi
    seed
}

# Why the replica's data dir cannot be used as is; empty output if it can.
replica_problem() {
    local mine theirs
    [[ -d $REPLICA ]] || { say "not built yet" && return; }
    [[ -s $REPLICA/PG_VERSION && -f $REPLICA/global/pg_control ]] ||
        { say "incomplete data dir" && return; }
    [[ -f $REPLICA/standby.signal ]] || { say "no standby.signal: not a standby" && return; }
    mine=$(sysid "$REPLICA") || { say "pg_controldata cannot read it" && return; }
    theirs=$(sysid "$PRIMARY") || return 0
    [[ $mine == "$theirs" ]] || say "copied from an older primary (system id $mine, now $theirs)"
}

# Drop the replication slot of a previous replica (its walsender may take a moment to notice
# that replica is gone), so that pg_basebackup -C can create it again.
drop_slot() {
    local active deadline=$(($(now_us) + 10 * 1000000))
    while :; do
        active=$(psql_admin "$MR_PG_PORT" -c \
            "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'") || return 1
        case $active in
        "") return 0 ;;
        f)
            psql_admin "$MR_PG_PORT" -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
            return
            ;;
        esac
        (($(now_us) < deadline)) || return 1
        sleep 0.1
    done
}

# A fresh copy of the primary: pg_basebackup -R writes standby.signal and primary_conninfo; the
# slot keeps the primary's WAL until the replica has it (bounded by max_slot_wal_keep_size).
build_replica() { # REASON
    local log=$LOG/pg-replica.log
    pg_pid "$PRIMARY" >/dev/null ||
        fail replica "needs a rebuild ($1) but the primary is not running (stack.sh up pg)" "$log"
    say "replica: pg_basebackup from the primary ($1)"
    drop_slot || fail replica "could not drop replication slot $SLOT" "$LOG/pg-primary.log"
    rm -rf -- "$REPLICA"
    touch -- "$log"
    as_pg timeout 120 "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$MR_PG_PORT" -U postgres \
        -D "$REPLICA" -R -X stream -C -S "$SLOT" -c fast -N >>"$log" 2>&1 ||
        fail replica "pg_basebackup failed" "$log"
}

# The replica's own port, and primary_conninfo pointed at today's MR_PG_PORT (pg_basebackup -R
# wrote the port of the day it ran into postgresql.auto.conf, which wins over includes).
configure_replica() {
    write_pg_conf "$REPLICA" "$MR_PG_REPLICA_PORT" replica
    as_pg sed -i "/^primary_conninfo/s/port=[0-9]*/port=$MR_PG_PORT/" \
        "$REPLICA/postgresql.auto.conf"
}

replica_recovery() { psql_admin "$MR_PG_REPLICA_PORT" -c 'SELECT pg_is_in_recovery()' 2>/dev/null; }
replica_in_recovery() { [[ $(replica_recovery) == t ]]; }
replica_answers() { [[ -n $(replica_recovery) ]]; }

# Start the replica and check it is a hot standby that answers queries. Returns non-zero
# (instead of exiting) so that up_replica can rebuild once.
start_replica() {
    local log=$LOG/pg-replica.log pid
    port_free replica "$MR_PG_REPLICA_PORT" "$log"
    configure_replica
    pg_start "$REPLICA" "$log" || return 1
    pid=$(pg_pid "$REPLICA") || return 1
    replica_in_recovery || return 1
}

# Whether the running replica listens on MR_PG_REPLICA_PORT and streams from MR_PG_PORT.
replica_ports_ok() {
    [[ $(pg_port "$REPLICA") == "$MR_PG_REPLICA_PORT" ]] &&
        grep -q "^primary_conninfo.*port=${MR_PG_PORT}[ ']" "$REPLICA/postgresql.auto.conf"
}

up_replica() {
    local log=$LOG/pg-replica.log pid problem t0 rebuilt=0
    t0=$(now_us)
    [[ -d $PRIMARY ]] || fail replica "there is no primary yet (stack.sh up pg)" "$log"
    problem=$(replica_problem)
    if pid=$(pg_pid "$REPLICA"); then
        if [[ -z $problem ]] && ! replica_ports_ok; then
            say "replica: MR_PG_REPLICA_PORT or MR_PG_PORT changed: restarting"
        elif [[ -z $problem ]]; then
            wait_for replica "$log" "$pid" replica_answers
            if replica_in_recovery; then
                say "replica: running (pid $pid)"
                return 0
            fi
            problem="running, but promoted: not a standby any more"
        fi
        pg_stop replica "$REPLICA" "$log"
    fi
    if [[ -n $problem ]]; then
        build_replica "$problem"
        rebuilt=1
    fi
    if ! start_replica; then
        ((rebuilt == 0)) || fail replica "a fresh copy did not start as a hot standby" "$log"
        pg_stop replica "$REPLICA" "$log"
        build_replica "it did not start as a hot standby"
        start_replica || fail replica "a fresh copy did not start as a hot standby" "$log"
    fi
    say "replica: started (pid $(pg_pid "$REPLICA" || echo '?')) on" \
        "127.0.0.1:$MR_PG_REPLICA_PORT in $(since "$t0")"
}

# --- Redis -----------------------------------------------------------------------------------

redis_answers() {
    [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$MR_REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

up_redis() {
    local log=$LOG/redis.log pid t0
    t0=$(now_us)
    # Redis shows its address in its process title ("redis-server 127.0.0.1:16379").
    if pid=$(svc_pid redis) &&
        [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") != *":$MR_REDIS_PORT"* ]]; then
        say "redis: MR_REDIS_PORT changed: restarting"
        stop_pidfile redis "$VAR/redis.pid" redis-server 10
    fi
    if pid=$(svc_pid redis); then
        wait_for redis "$log" "$pid" redis_answers
        say "redis: running (pid $pid)"
        return 0
    fi
    port_free redis "$MR_REDIS_PORT" "$log"
    # A cache: no RDB snapshots, no AOF. Foreground (daemonize no) under spawn's nohup.
    spawn "$VAR/redis.pid" "$log" redis-server --bind 127.0.0.1 --port "$MR_REDIS_PORT" \
        --save '' --appendonly no --daemonize no --dir "$RUN" --logfile ''
    wait_for redis "$log" "$SPAWNED" redis_answers
    say "redis: started (pid $SPAWNED) on 127.0.0.1:$MR_REDIS_PORT in $(since "$t0")"
}

# --- nginx -----------------------------------------------------------------------------------

render_nginx_conf() { # OUTFILE
    local tpl user_line="user $WEB_USER;"
    ((IS_ROOT)) || user_line="# user: not started as root, so the workers run as $(id -un)"
    tpl=$(<"$ROOT/etc/nginx-local.conf.in")
    tpl=${tpl//@VAR@/$VAR}
    tpl=${tpl//@HTTP_PORT@/$MR_HTTP_PORT}
    tpl=${tpl//@USER@/$user_line}
    printf '%s\n' "$tpl" >"$1"
}

http_code() { # PATH
    curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 2 \
        "http://127.0.0.1:$MR_HTTP_PORT$1" 2>/dev/null || true
}
healthz_ok() { [[ $(http_code /healthz) == 200 ]]; }
# Any HTTP answer will do (502 while millrace is down): nginx listens.
http_answers() { [[ $(http_code /healthz) != 000 ]]; }

nginx_answers() {
    if svc_pid millrace >/dev/null; then healthz_ok; else http_answers; fi
}

up_nginx() {
    local log=$LOG/nginx-error.log conf=$VAR/nginx.conf pid t0
    t0=$(now_us)
    render_nginx_conf "$conf.new"
    if pid=$(svc_pid nginx); then
        if cmp -s "$conf.new" "$conf"; then
            rm -f -- "$conf.new"
            wait_for nginx "$log" "$pid" nginx_answers
            say "nginx: running (pid $pid)"
            return 0
        fi
        say "nginx: etc/nginx-local.conf.in or MR_HTTP_PORT changed: restarting"
        stop_pidfile nginx "$VAR/nginx.pid" nginx 10
    fi
    port_free nginx "$MR_HTTP_PORT" "$log"
    mv -f -- "$conf.new" "$conf"
    # daemon off: nginx stays the process we started, so its pid is $! (nginx also writes the
    # same pid into var/nginx.pid itself, and removes the file when it exits).
    spawn "$VAR/nginx.pid" "$log" nginx -c "$conf" -p "$VAR/" -e "$log" -g 'daemon off;'
    wait_for nginx "$log" "$SPAWNED" nginx_answers
    say "nginx: started (pid $SPAWNED) on 127.0.0.1:$MR_HTTP_PORT in $(since "$t0")"
}

# --- millrace --------------------------------------------------------------------------------

# The settings the lead's loader knows (it refuses unknown ones). As root, workers must not
# stay root (allow_root is off by default and the manager refuses), so they drop to www-data,
# unless MR_CONF_EXTRA chooses `user` or `allow_root` itself (libconfig refuses duplicates).
render_millrace_conf() { # OUTFILE
    {
        say "# Written by scripts/stack.sh on every up; edits here are lost (use MR_CONF_EXTRA)."
        say "listen = \"unix:$SOCK\";"
        say 'listen_mode = "0666";'
        say 'db = {'
        say "  primary = \"host=127.0.0.1 port=$MR_PG_PORT dbname=millrace user=millrace\";"
        say "  replicas = [ \"host=127.0.0.1 port=$MR_PG_REPLICA_PORT dbname=millrace" \
            "user=millrace\" ];"
        say '};'
        say 'cache = {'
        say '  host = "127.0.0.1";'
        say "  port = $MR_REDIS_PORT;"
        say '};'
        if ((IS_ROOT)) &&
            ! [[ $MR_CONF_EXTRA =~ (^|[[:space:]\;])(user|allow_root)[[:space:]]*[=:] ]]; then
            say "user = \"$WEB_USER\";"
        fi
        if [[ -n $MR_CONF_EXTRA ]]; then
            say '# MR_CONF_EXTRA:'
            say "$MR_CONF_EXTRA"
        fi
    } >"$1"
}

# Through nginx when it runs (the definition of "up"); else the socket is there.
millrace_answers() {
    if svc_pid nginx >/dev/null; then healthz_ok; else [[ -S $SOCK ]]; fi
}

up_millrace() {
    local log=$LOG/millrace.log conf=$VAR/millrace.conf pid exe t0
    t0=$(now_us)
    [[ -x $MILLRACE_BIN ]] || die "millrace: no $MILLRACE_BIN (make millrace, or set MILLRACE_BIN)"
    render_millrace_conf "$conf.new"
    if pid=$(svc_pid millrace); then
        # Another build (the integration tests' ASan binary; a rebuilt ./millrace shows as
        # "(deleted)"), or another config: the running one is not what was asked for.
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || exe=
        if [[ $exe != "$(readlink -f -- "$MILLRACE_BIN")" ]]; then
            say "millrace: running ${exe:-?}, want $MILLRACE_BIN: restarting"
        elif ! cmp -s "$conf.new" "$conf"; then
            say "millrace: var/millrace.conf changed (ports or MR_CONF_EXTRA): restarting"
        else
            rm -f -- "$conf.new"
            wait_for millrace "$log" "$pid" millrace_answers
            say "millrace: running (pid $pid)"
            return 0
        fi
        stop_millrace
    fi
    mv -f -- "$conf.new" "$conf"
    rm -f -- "$SOCK" # no one owns it when millrace is not running
    spawn "$VAR/millrace.pid" "$log" "$MILLRACE_BIN" -c "$conf"
    wait_for millrace "$log" "$SPAWNED" millrace_answers
    say "millrace: started (pid $SPAWNED) $MILLRACE_BIN in $(since "$t0")"
}

stop_millrace() {
    stop_pidfile millrace "$VAR/millrace.pid" millrace 10
    rm -f -- "$SOCK"
}

# --- commands --------------------------------------------------------------------------------

usage() {
    sed -n '3,/^set -euo/{/^#/!d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit "${1:-0}"
}

# Validate SERVICE... into SEL, in dependency order (reversed for down). None or "all": all.
select_services() { # up|down SERVICE...
    local dir=$1 s want=" " i
    shift
    for s in "$@"; do
        [[ $s == all ]] && { want=" ${SERVICES[*]} " && continue; }
        [[ " ${SERVICES[*]} " == *" $s "* ]] ||
            die "unknown service '$s' (services: ${SERVICES[*]})"
        want+="$s "
    done
    [[ $want != " " ]] || want=" ${SERVICES[*]} "
    SEL=()
    for i in "${!SERVICES[@]}"; do
        [[ $want == *" ${SERVICES[$i]} "* ]] && SEL+=("${SERVICES[$i]}")
    done
    if [[ $dir == down ]]; then
        local -a rev=()
        for ((i = ${#SEL[@]} - 1; i >= 0; i--)); do rev+=("${SEL[$i]}"); done
        SEL=("${rev[@]}")
    fi
}

cmd_up() {
    local s t0
    t0=$(now_us)
    select_services up "$@"
    lock
    setup_var
    for s in "${SEL[@]}"; do "up_$s"; done
    unlock
    say "up in $(since "$t0")"
    say "millrace: $URL"
}

down_one() {
    case $1 in
    pg) pg_stop pg "$PRIMARY" "$LOG/pg-primary.log" ;;
    replica) pg_stop replica "$REPLICA" "$LOG/pg-replica.log" ;;
    redis) stop_pidfile redis "$VAR/redis.pid" redis-server 10 ;;
    nginx) stop_pidfile nginx "$VAR/nginx.pid" nginx 10 ;;
    millrace) stop_millrace ;;
    esac
}

cmd_down() {
    local s
    select_services down "$@"
    if [[ ! -d $VAR ]]; then
        say "nothing to stop: no $VAR"
        return 0
    fi
    lock
    for s in "${SEL[@]}"; do down_one "$s"; done
    unlock
}

cmd_status() {
    local s pid where
    select_services up "$@"
    for s in "${SEL[@]}"; do
        case $s in
        pg) where=127.0.0.1:$MR_PG_PORT ;;
        replica) where=127.0.0.1:$MR_PG_REPLICA_PORT ;;
        redis) where=127.0.0.1:$MR_REDIS_PORT ;;
        nginx) where=$URL ;;
        millrace) where=unix:$SOCK ;;
        esac
        if pid=$(svc_pid "$s"); then
            printf '%-9s %-20s %s\n' "$s" "running (pid $pid)" "$where"
        else
            printf '%-9s %s\n' "$s" stopped
        fi
    done
}

# up, then wait for SIGINT/SIGTERM without polling (wait returns as soon as a trapped signal
# arrives), then down. The EXIT trap also stops the stack when up itself fails or is
# interrupted half way, so `run` never leaves anything behind. A signal once the stack is up
# is the normal way to end `run`: exit 0 then (make would otherwise report "Error 130").
run_exit() {
    [[ -z $SLEEPER ]] || kill "$SLEEPER" 2>/dev/null || true
    say
    say "stopping..."
    cmd_down
}

cmd_run() {
    local f
    SLEEPER=
    RUNNING=0
    trap 'exit $((RUNNING ? 0 : 130))' INT
    trap 'exit $((RUNNING ? 0 : 143))' TERM
    trap 'trap - EXIT; run_exit' EXIT
    cmd_up
    say "logs:"
    for f in millrace nginx-access nginx-error redis pg-primary pg-replica; do
        say "  $LOG/$f.log"
    done
    say "Ctrl-C stops the stack."
    # shellcheck disable=SC2034 # read by the INT/TERM traps above
    RUNNING=1
    sleep infinity 9>&- &
    SLEEPER=$!
    wait "$SLEEPER" || true
}

cmd_psql() {
    local port=$MR_PG_PORT
    if [[ ${1:-} == replica ]]; then
        port=$MR_PG_REPLICA_PORT
        shift
    elif [[ ${1:-} == primary || ${1:-} == pg ]]; then
        shift
    fi
    exec psql -h 127.0.0.1 -p "$port" -U millrace -d millrace "$@"
}

main() {
    local cmd=${1:-}
    [[ $# -eq 0 ]] || shift
    cd -- "$ROOT"
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    start | stop)
        [[ $# -ge 1 ]] || die "usage: stack.sh $cmd SERVICE..."
        if [[ $cmd == start ]]; then cmd_up "$@"; else cmd_down "$@"; fi
        ;;
    status) cmd_status "$@" ;;
    run)
        [[ $# -eq 0 ]] || die "usage: stack.sh run"
        cmd_run
        ;;
    psql) cmd_psql "$@" ;;
    -h | --help | help) usage 0 ;;
    *)
        warn "unknown command '${cmd}'"
        usage 2 >&2
        ;;
    esac
}

main "$@"
