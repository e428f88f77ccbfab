#!/bin/sh
# The front door for a bare Debian 12 machine, where there is no make yet: installs every
# Debian package spar builds and tests with (scripts/setup.sh, make included; as root, or via
# sudo), then runs the Makefile's target.  ./spar.sh demo  |  ./spar.sh test [SANITIZE=1]
# (also build, bench, setup). With make already there, `make demo` / `make test` do the same.
set -eu
cd "$(dirname "$0")"
usage() {
    echo "usage: ./spar.sh demo|test|build|bench|setup [make variables, e.g. SANITIZE=1]" >&2
    echo "  demo: SPPO self-play on the built-in quickstart; test: every test through ctest" >&2
}
case "${1:-}" in
demo | test | build | bench | setup) ;;
-h | --help | help) usage; exit 0 ;;
*) usage; exit 2 ;;
esac
./scripts/setup.sh
exec make "$@"
