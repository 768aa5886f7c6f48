#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench.sh (`make bench`): millrace through its nginx, measured interleaved with the peers by
# the shared yardstick ../shared/peers/ab.sh: for each endpoint, BENCH_ROUNDS rounds, and in
# each round one wrk run per stack, the order rotating from round to round, so that the drift
# of a shared machine falls on every stack alike. Loopback only; every wrk run is bounded;
# whatever it starts (the local stack, peers, the ceiling) it stops.
#
#   scripts/bench.sh                              millrace alone, the seven endpoints
#   BENCH_PEERS="php fastapi flask" scripts/bench.sh
#                                                 also those peers, and the FastCGI ceiling
#                                                 (nginx -> an empty libfcgi responder) on
#                                                 /plaintext and /json
#
#   BENCH_ROUNDS=3 BENCH_DURATION=5 (seconds per run) BENCH_CONNECTIONS=64
#   BENCH_ENDPOINTS="/json /db"   BENCH_OUT=interleaved (file names under bench/results/)
#   BENCH_CEILING=0               leave the ceiling out even with peers
#   PEERS_DIR=/path/to/peers      where ab.sh and peer.sh are (../shared/peers, /work/shared/peers)
#
# ab.sh prints medians only. So that the report can show the spread of the rounds too, wrk is
# a shim first on PATH for ab.sh: it runs the real wrk, passes its output through untouched,
# and logs URL, req/s, p99 and errors of every measured run (those with --latency; ab.sh's
# 1-second warm-ups have none). scripts/bench-report.py turns that log into
# bench/results/NAME.{md,runs,dat,png}.
set -euo pipefail -f  # -f: no globbing, the endpoints hold "?"
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
die() { echo "bench: $*" >&2; exit 2; }

ROUNDS=${BENCH_ROUNDS:-3}
DUR=${BENCH_DURATION:-5}
DUR=${DUR%s}
CONNS=${BENCH_CONNECTIONS:-64}
ENDPOINTS=${BENCH_ENDPOINTS:-/plaintext /json /db /queries?queries=20 /cached-queries?count=20 /fortunes /updates?queries=20}
PEER_NAMES=${BENCH_PEERS:-}
OUT=${BENCH_OUT:-interleaved}
CEILING=${BENCH_CEILING:-1}
for v in ROUNDS DUR CONNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_${v/DUR/DURATION}=${!v}: want a positive integer"
done
if [ "$ROUNDS" -gt 50 ] || [ "$DUR" -gt 120 ] || [ "$CONNS" -gt 4096 ]; then
    die "at most 50 rounds of 120 s with 4096 connections"
fi
[[ $OUT =~ ^[A-Za-z0-9._-]+$ ]] || die "BENCH_OUT=$OUT: letters, digits, . _ - only"
for e in $ENDPOINTS; do [[ $e == /* ]] || die "endpoint $e: want a path starting with /"; done
for p in $PEER_NAMES; do
    case $p in php | flask | flask-gevent | fastapi) ;; *) die "unknown peer $p (php flask flask-gevent fastapi)" ;; esac
done
if [ -n "${PEERS_DIR:-}" ]; then PEERS=$PEERS_DIR
elif [ -d "$ROOT/../shared/peers" ]; then PEERS=$ROOT/../shared/peers
else PEERS=/work/shared/peers; fi
[ -x "$PEERS/ab.sh" ] || die "no $PEERS/ab.sh: the interleaved yardstick (set PEERS_DIR)"
REAL_WRK=$(command -v wrk) || die "no wrk (make deps)"
command -v gnuplot >/dev/null || die "no gnuplot (make deps)"

PORT=${MR_HTTP_PORT:-8080}
URL=http://127.0.0.1:$PORT
CEILING_PORT=${CEILING_PORT:-28091}
export CEILING_PORT
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
TMP=$(mktemp -d)
STACK_BEFORE="" PEERS_BEFORE=""

# Stops what this run started: the peers (apps, then their nginx and databases) that were
# not running before, then the parts of the local stack that were not.
cleanup() {
    local rc=$? n
    if [ -n "$PEER_NAMES" ]; then
        for n in $PEER_NAMES nginx redis pg-replica pg-primary; do
            grep -q "^$n  *running" <<<"$PEERS_BEFORE" || "$PEERS/peer.sh" stop "$n" >/dev/null 2>&1 || true
        done
    fi
    for n in millrace nginx redis replica pg; do
        grep -q "^$n *running" <<<"$STACK_BEFORE" || "$ROOT/scripts/stack.py" stop "$n" >/dev/null || true
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STACK_BEFORE=$("$ROOT/scripts/stack.py" status 2>&1 || true)
"$ROOT/scripts/stack.py" up >/dev/null
TARGETS=("millrace=$URL")
if [ -n "$PEER_NAMES" ]; then
    PEERS_BEFORE=$("$PEERS/peer.sh" status 2>&1 || true)
    for p in $PEER_NAMES; do
        "$PEERS/peer.sh" start "$p" >/dev/null ||
            die "peer $p did not start (its logs: ${PEERS_VAR:-/tmp/peers-var}/log)"
        TARGETS+=("$p=$("$PEERS/peer.sh" url "$p")")
    done
fi

# The shim: ab.sh runs `timeout ... wrk ...`, and timeout finds wrk on PATH.
mkdir "$TMP/bin"
cat >"$TMP/bin/wrk" <<SHIM
#!/bin/sh
out=\$(mktemp)
"$REAL_WRK" "\$@" >"\$out" 2>&1 & pid=\$!
trap 'kill \$pid 2>/dev/null' TERM INT
wait \$pid; rc=\$?
cat "\$out"
case " \$* " in *" --latency "*)
    for a in "\$@"; do url=\$a; done
    awk -v url="\$url" '
        /Requests\/sec/ {r=\$2} /^ +99%/ {v=\$2; m=1; if (v ~ /us\$/) m=0.001; if (v ~ /[0-9]s\$/) m=1000; sub(/[a-z]+\$/,"",v); p=v*m}
        /Non-2xx/ {e+=\$NF} /Socket errors/ {gsub(/,/,""); e+=\$4+\$6+\$8+\$10}
        END {printf "%s %d %.2f %d\n", url, int(r), p, e}' "\$out" >>"$TMP/runs.log" ;;
esac
rm -f "\$out"
exit \$rc
SHIM
chmod +x "$TMP/bin/wrk"
: >"$TMP/runs.log"

# The ceiling answers every path with "Hello, World!": a fair yardstick only where millrace
# does no more than that, so it runs on /plaintext and /json and nowhere else.
trivial="" rest=""
for e in $ENDPOINTS; do
    case $e in /plaintext | /json) trivial="$trivial $e" ;; *) rest="$rest $e" ;; esac
done
START=$(date -u +%FT%TZ)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
ab() { PATH="$TMP/bin:$PATH" "$PEERS/ab.sh" -r "$ROUNDS" -d "$DUR" -c "$CONNS" -e "$1" "${@:2}"; }
: >"$TMP/ab.out"
if [ -n "$trivial" ] && [ -n "$PEER_NAMES" ] && [ "$CEILING" != 0 ]; then
    ab "${trivial# }" "${TARGETS[@]}" ceiling=ceiling | tee -a "$TMP/ab.out"
    CEIL_TARGET=(--target "ceiling=http://127.0.0.1:$CEILING_PORT")
else
    rest="$trivial$rest"
    CEIL_TARGET=()
fi
[ -z "$rest" ] || ab "${rest# }" "${TARGETS[@]}" | tee -a "$TMP/ab.out"

# Memory after the run, each stack's whole process tree with its nginx (the peers share one
# nginx, which each of their figures includes).
: >"$TMP/pss"
mr_pids="$(cat "$ROOT/var/millrace.pid") $(cat "$ROOT/var/nginx.pid")"
# shellcheck disable=SC2086
echo "millrace $("$ROOT/scripts/pss.sh" -t $mr_pids)" >>"$TMP/pss"
for p in $PEER_NAMES; do
    # shellcheck disable=SC2046
    echo "$p $("$ROOT/scripts/pss.sh" -t $("$PEERS/peer.sh" pids "$p"))" >>"$TMP/pss"
done

targs=()
for t in "${TARGETS[@]}"; do targs+=(--target "$t"); done
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
python3 "$ROOT/scripts/bench-report.py" --runs "$TMP/runs.log" --ab "$TMP/ab.out" \
    --pss "$TMP/pss" --out "$RESULTS/$OUT" --endpoints "$ENDPOINTS" "${targs[@]}" "${CEIL_TARGET[@]}" \
    --command "BENCH_ROUNDS=$ROUNDS BENCH_DURATION=$DUR BENCH_CONNECTIONS=$CONNS BENCH_PEERS=\"$PEER_NAMES\"${BENCH_ENDPOINTS:+ BENCH_ENDPOINTS=\"$ENDPOINTS\"} make bench" \
    --date "$START to $(date -u +%FT%TZ)" \
    --commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')" \
    --machine "$(uname -sr), $(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load average at start $LOAD; $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
    --params "rounds=$ROUNDS duration=${DUR}s conns=$CONNS threads=2"
echo "bench: $RESULTS/$OUT.md, .png, .dat, .runs"
