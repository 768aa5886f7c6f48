#!/bin/sh
# Installs the Debian packages millrace builds, tests and runs with, when any is missing.
# Does nothing when all are present. Runs apt-get update first; uses sudo when not root.
set -eu
PKGS="build-essential pkg-config libfcgi-dev libfcgi-bin libpq-dev libhiredis-dev libconfig-dev libjansson-dev
libsodium-dev check libsubunit-dev postgresql postgresql-client redis-server nginx-light wrk spawn-fcgi
python3 curl procps gnuplot-nox iproute2 systemd prometheus clang libclang-rt-14-dev valgrind clang-format"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
