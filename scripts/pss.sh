#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# pss.sh: the proportional set size (KiB) of a group of processes: the sum of Pss in
# /proc/PID/smaps_rollup, so that pages the forked workers share count once in all, not once
# per worker as in RSS. The benchmarks report memory with it.
#
#   scripts/pss.sh PID...        the sum over these processes
#   scripts/pss.sh -t PID...     the same, each with all its descendants (a manager's pool,
#                                an nginx master and its workers)
#
# A process that is gone, or whose smaps_rollup we may not read, counts 0 and is named on
# stderr. Prints one integer.
set -euo pipefail
tree=0
[ "${1:-}" = -t ] && { tree=1; shift; }
[ $# -ge 1 ] || { sed -n '3,12p' "$0" >&2; exit 2; }
descendants() {
    local p
    for p in $(pgrep -P "$1" 2>/dev/null || true); do echo "$p"; descendants "$p"; done
}
pids=()
for p in "$@"; do
    [[ $p =~ ^[0-9]+$ ]] || { echo "pss.sh: not a pid: $p" >&2; exit 2; }
    pids+=("$p")
    [ "$tree" = 1 ] && mapfile -t -O "${#pids[@]}" pids < <(descendants "$p")
done
total=0
for p in $(printf '%s\n' "${pids[@]}" | sort -un); do
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    [ -n "$kb" ] || { echo "pss.sh: no smaps_rollup for pid $p" >&2; kb=0; }
    total=$((total + kb))
done
echo "$total"
