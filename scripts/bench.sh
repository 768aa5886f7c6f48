#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench.sh: millrace through its nginx, measured with the peers' bench script (the yardstick
# in ../shared/peers, when it is there) so that its rows compare with php-fpm's, gunicorn's
# and uvicorn's from the same machine. Loopback only; every wrk run is bounded.
#
#   scripts/bench.sh                 the seven TechEmpower endpoints, 64 connections
#   BENCH_PEERS="php flask fastapi" scripts/bench.sh
#                                    also each peer, one at a time, in the same run, plus the
#                                    FastCGI ceiling (nginx -> an empty libfcgi responder)
#   BENCH_DURATION=10s BENCH_CONNECTIONS=64 BENCH_ENDPOINTS="/json /db" ... as bench.sh takes
#
# Without ../shared/peers it falls back to one plain wrk run per endpoint.
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
PEERS=${PEERS_DIR:-$ROOT/../shared/peers}
PORT=${MR_HTTP_PORT:-8080}
URL=http://127.0.0.1:$PORT

"$ROOT/scripts/stack.py" up >/dev/null
pids() { for f in "$@"; do [ -f "$ROOT/var/$f" ] && cat "$ROOT/var/$f"; done; }
pg_pids() {
    for d in primary replica; do
        [ -f "$ROOT/var/pg/$d/postmaster.pid" ] && head -1 "$ROOT/var/pg/$d/postmaster.pid"
    done
}

if [ ! -x "$PEERS/bench.sh" ]; then
    echo "bench: $PEERS/bench.sh not found; plain wrk per endpoint" >&2
    for e in ${BENCH_ENDPOINTS:-/plaintext /json /db /queries?queries=20 /cached-queries?count=20 /fortunes /updates?queries=20}; do
        printf '%-26s ' "$e"
        timeout 60 wrk -t2 -c"${BENCH_CONNECTIONS:-64}" -d"${BENCH_DURATION:-10s}" "$URL$e" |
            awk '/Requests\/sec/ {print $2 " req/s"}'
    done
    exit 0
fi

"$PEERS/bench.sh" -l millrace -p "$(pids millrace.pid) $(pids nginx.pid)" \
    -x "$(pg_pids) $(pids redis.pid)" "$URL"

for peer in ${BENCH_PEERS:-}; do
    "$PEERS/peer.sh" start "$peer" >/dev/null
    "$PEERS/bench.sh" -l "$peer" -p "$("$PEERS/peer.sh" pids "$peer")" \
        -x "$("$PEERS/peer.sh" pids db)" "$("$PEERS/peer.sh" url "$peer")"
    "$PEERS/peer.sh" stop "$peer" >/dev/null
done
if [ -n "${BENCH_PEERS:-}" ]; then
    "$PEERS/fcgi-ceiling.sh" -n 2
fi
