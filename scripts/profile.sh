#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# profile.sh (`make profile`): where the time of each main path goes, through the local
# stack's nginx with the release build. Loopback only; every load is bounded in time or count;
# whatever it starts (perf, strace, wrk, a valgrind worker) it stops, by pid.
#
# For each path, three stages (PROFILE_STAGES, default "perf strace callgrind"):
#   perf      wrk runs PROFILE_SECONDS + 2 s; `perf record -a -g` samples the whole machine
#             for PROFILE_SECONDS in the middle; shares by process group and shared object
#   strace    `strace -c -f` on every millrace worker and every nginx worker for one wrk run
#             of PROFILE_SECONDS; calls per request = calls / wrk's requests
#   callgrind the stack's millrace is stopped and one plain worker (spawn-fcgi style: fd 0 the
#             listening socket) runs under `valgrind --tool=callgrind` behind the same nginx,
#             twice: PROFILE_CG_N1 and PROFILE_CG_N2 requests; the difference of the two totals
#             over N2 - N1 is the cost of one request with start-up cancelled. (vgdb and
#             callgrind_control cannot reach a worker that dropped root: its FIFO is root's.)
#             The stack's millrace is started again at the end.
#
#   PROFILE_PATHS="/plaintext /db"  PROFILE_SECONDS=4  PROFILE_CONNECTIONS=32
#   PROFILE_CG_N1=50 PROFILE_CG_N2=250  PROFILE_OUT=bench/results/profile.md
# Raw files: var/profile/ (perf.data, perf report text, strace summaries, callgrind.out).
set -euo pipefail -f  # -f: no globbing, the paths hold "?"
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
die() { echo "profile: $*" >&2; exit 2; }

PATHS=${PROFILE_PATHS:-/plaintext /json /db /queries?queries=20 /cached-queries?count=20 /fortunes /updates?queries=20}
SECS=${PROFILE_SECONDS:-4}
CONNS=${PROFILE_CONNECTIONS:-32}
N1=${PROFILE_CG_N1:-50}
N2=${PROFILE_CG_N2:-250}
STAGES=${PROFILE_STAGES:-perf strace callgrind}
OUT=${PROFILE_OUT:-bench/results/profile.md}
for v in SECS CONNS N1 N2; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: want a positive integer"
done
[ "$SECS" -le 60 ] && [ "$CONNS" -le 1024 ] && [ "$N2" -le 5000 ] || die "at most 60 s, 1024 connections, 5000 callgrind requests"
[ "$N2" -gt "$N1" ] || die "PROFILE_CG_N2 must be above PROFILE_CG_N1"
for t in wrk perf strace valgrind curl ss; do command -v $t >/dev/null || die "no $t (apt-get install linux-perf strace valgrind wrk curl iproute2)"; done
[ "$(id -u)" = 0 ] || die "perf -a and strace -p on the workers want root"

PORT=${MR_HTTP_PORT:-8080}
URL=http://127.0.0.1:$PORT
VAR=$ROOT/var
SOCK=$VAR/run/millrace.sock
DIR=$VAR/profile
mkdir -p "$DIR"
chmod 0777 "$DIR"  # the valgrind worker drops to the stack's web user and writes here
BIN=${MILLRACE_BIN:-./millrace}

scripts/stack.py up

STARTED=()  # pids this script started and has not yet reaped
cleanup() {
    local p
    for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

name_of() { local s=${1#/}; s=${s//[?=&]/_}; echo "${s:-root}"; }
pidfile() { cat "$VAR/$1.pid" 2>/dev/null || true; }
kids() { pgrep -P "$1" 2>/dev/null || true; }
# The millrace workers: the processes that hold the listening socket, but the manager.
workers() {
    local mgr
    mgr=$(pidfile millrace)
    ss -xlpn 2>/dev/null | grep -F " $SOCK " | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u |
        grep -vx "$mgr" || true
}
pg_pids() {
    local d p
    set +f
    for d in "$VAR"/pg/*/; do
        [ -f "$d/postmaster.pid" ] || continue
        p=$(head -1 "$d/postmaster.pid")
        echo "$p"; kids "$p"
    done
    set -f
}
# "tid group" for every thread of this stack; wrk's pid is $1.
tids() {
    local g p t
    set +f
    while read -r g p; do
        for t in /proc/"$p"/task/*; do [ -e "$t" ] && echo "${t##*/} $g"; done
    done < <(
        n=$(pidfile nginx); echo "nginx $n"; for k in $(kids "$n"); do echo "nginx $k"; done
        m=$(pidfile millrace); echo "millrace $m"; for k in $(kids "$m"); do echo "millrace $k"; done
        for k in $(pg_pids); do echo "PostgreSQL $k"; done
        echo "Redis $(pidfile redis)"
        echo "wrk $1")
    set -f
}
check_ok() {  # one request answers 200, or the profile of that path would be of an error
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$URL$1") || true
    [ "$code" = 200 ] || die "$1 answers $code, not 200"
}

# One line per run; a run with the perf stage starts the list again. A later run of other
# stages alone (callgrind with another N1) keeps the perf and strace files, and says so here.
[[ " $STAGES " == *" perf "* ]] && rm -f "$DIR/meta.txt"
echo "stages $STAGES at $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load" \
    "$(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD), wrk -t2" \
    "-c$CONNS, $SECS s per stage, callgrind N1=$N1 N2=$N2" >>"$DIR/meta.txt"

stage_perf() {  # path name
    local w
    wrk -t2 -c"$CONNS" -d$((SECS + 2))s "$URL$1" >"$DIR/$2.wrk.perf" &
    w=$!; STARTED+=("$w")
    sleep 1
    tids "$w" >"$DIR/$2.tids"
    perf record -q -a -g -F 499 -o "$DIR/$2.perf.data" -- sleep "$SECS" 2>"$DIR/$2.perf.log"
    wait "$w"; STARTED=("${STARTED[@]/$w/}")
    perf report -i "$DIR/$2.perf.data" --no-children --sort pid,dso -g none --stdio -q \
        --percent-limit 0 >"$DIR/$2.perf.txt" 2>/dev/null
    local wp
    wp=$(workers | paste -sd,)
    perf report -i "$DIR/$2.perf.data" --no-children --pid "$wp" --sort dso,sym -g none \
        --stdio -q --percent-limit 0.5 >"$DIR/$2.perf.workers.txt" 2>/dev/null || true
    echo "profile: perf $1: $(grep -o '[0-9.]* requests in' "$DIR/$2.wrk.perf" || echo '?')"
}

stage_strace() {  # path name
    local s1 s2 wp np
    wp=$(workers | sed 's/^/-p /' | paste -sd' ')
    np=$(kids "$(pidfile nginx)" | sed 's/^/-p /' | paste -sd' ')
    [ -n "$wp" ] || die "no millrace workers on $SOCK"
    # shellcheck disable=SC2086
    strace -c -f -o "$DIR/$2.strace.millrace" $wp 2>/dev/null &
    s1=$!; STARTED+=("$s1")
    # shellcheck disable=SC2086
    strace -c -f -o "$DIR/$2.strace.nginx" $np 2>/dev/null &
    s2=$!; STARTED+=("$s2")
    sleep 1  # attached before the first request
    wrk -t2 -c"$CONNS" -d"${SECS}s" "$URL$1" >"$DIR/$2.wrk.strace"
    kill -INT "$s1" "$s2"; wait "$s1" "$s2" 2>/dev/null || true
    STARTED=("${STARTED[@]/$s1/}"); STARTED=("${STARTED[@]/$s2/}")
    echo "profile: strace $1: $(grep -o '[0-9.]* requests in' "$DIR/$2.wrk.strace" || echo '?')"
}

# One plain worker under callgrind on the stack's socket, serving $3 requests of $1.
cg_run() {  # path name count
    local v log urls=() ok
    rm -f "$SOCK"
    log=$DIR/$2.cg.log
    rm -f "$log"  # "started" must be this run's
    python3 - "$SOCK" "$log" "$DIR/$2.cg.$3" "$BIN" "$VAR/millrace.conf" <<'EOF' &
import os, socket, sys
sock, log, out, binary, conf = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sock)
os.chmod(sock, 0o666)
s.listen(128)
os.dup2(s.fileno(), 0)
s.close()
# Made here, writable by all: valgrind opens it again at exit, after the worker dropped root.
os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666))
os.chmod(out, 0o666)
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
os.dup2(fd, 1)
os.dup2(fd, 2)
os.execvp("valgrind", ["valgrind", "--tool=callgrind", "--vgdb=no",
                       "--callgrind-out-file=" + out, binary, "-c", conf])
EOF
    v=$!; STARTED+=("$v")
    for _ in $(seq 600); do  # up to 60 s for valgrind to start the worker
        grep -q 'event=started' "$log" 2>/dev/null && break
        kill -0 "$v" 2>/dev/null || die "the callgrind worker exited: see $log"
        sleep 0.1
    done
    for _ in $(seq "$3"); do urls+=("$URL$1"); done
    # Bodies and codes to one stream; each code on a line of its own after its body.
    ok=$(curl -s -m 600 -w '\n%{http_code}\n' "${urls[@]}" | grep -c '^200$' || true)
    kill -TERM "$v"; wait "$v" 2>/dev/null || true
    STARTED=("${STARTED[@]/$v/}")
    [ "$ok" = "$3" ] || die "callgrind $1: $ok of $3 answered 200 (see $log)"
    echo "profile: callgrind $1: $3 requests"
}

stage_callgrind() {
    local p
    # First the shared state both runs of a pair must find alike (Redis filled, PostgreSQL's
    # buffers): the stack's own workers serve each path for PROFILE_SECONDS (thousands of
    # requests: /cached-queries?count=20 must have touched most of the 10,000 keys). Without
    # it the first run of a pair fills Redis and costs more than the second.
    for p in $PATHS; do
        wrk -t2 -c"$CONNS" -d"${SECS}s" "$URL$p" >"$DIR/$(name_of "$p").wrk.warm"
    done
    # The stack's manager and its workers go; the plain worker takes their socket.
    p=$(pidfile millrace)
    if [ -n "$p" ]; then
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    fi
    for p in $PATHS; do
        set +f; rm -f "$DIR/$(name_of "$p")".cg.*; set -f
        cg_run "$p" "$(name_of "$p")" "$N1"
        cg_run "$p" "$(name_of "$p")" "$N2"
    done
    rm -f "$SOCK"
    scripts/stack.py up >/dev/null  # the stack's millrace again
}

args=()
for p in $PATHS; do
    check_ok "$p"
    args+=("$p=$(name_of "$p")")
done
for s in $STAGES; do
    case $s in
    perf | strace) for p in $PATHS; do "stage_$s" "$p" "$(name_of "$p")"; done ;;
    callgrind) stage_callgrind ;;
    *) die "unknown stage $s (perf strace callgrind)" ;;
    esac
done
python3 scripts/profile-report.py "$DIR" "$OUT" "${args[@]}"
