#!/bin/sh
# Installs the Debian packages spar builds and tests with, only those missing.
# Runs as root on Debian 12 (or via sudo when available).
set -eu
PKGS="build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
libopenblas-dev libyaml-dev libcmocka-dev libjansson-dev libsodium-dev gnuplot-nox python3
python3-zmq python3-protobuf protobuf-compiler python3-yaml libmicrohttpd-dev prometheus"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends $missing
}
