#!/bin/sh
# Runs every libFuzzer target of fuzz/ for SECONDS each, on a temporary copy of its seed corpus
# (fuzz/corpus/<target>/), and prints per target: executions, executions per second, crashes
# (crash, leak, timeout or out-of-memory inputs) and the corpus reached. Exits 1 when a target
# crashed; the inputs and logs stay in BUILD_DIR/fuzz-out/<target>/ (fix the decoder, then add
# the input to fuzz/corpus/<target>/). Not part of `make test`.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (60)] [BUILD_DIR (build-fuzz)]
# Builds with clang (installed when missing: Debian 12, as root or via sudo) and -DSPAR_FUZZ=ON.
set -eu
SECONDS_PER_TARGET=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$ROOT/build-fuzz}
case $SECONDS_PER_TARGET in '' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number" >&2; exit 2 ;; esac

"$ROOT/scripts/setup.sh"
if ! command -v clang >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' libclang-rt-dev 2>/dev/null |
  grep -q "install ok installed"; then
  echo "fuzz: installing clang and libFuzzer"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev
  }
fi

# RelWithDebInfo: optimised, with line numbers in the sanitizers' reports.
CC=clang cmake -S "$ROOT" -B "$BUILD" -DSPAR_FUZZ=ON -DSPAR_NATIVE=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD.cmake.log" 2>&1 || {
  cat "$BUILD.cmake.log" >&2
  exit 2
}
cmake --build "$BUILD" -j "$(nproc)" --target fuzz >"$BUILD.build.log" 2>&1 || {
  tail -40 "$BUILD.build.log" >&2
  exit 2
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=$BUILD/fuzz-out
failed=0
printf '%-14s %8s %12s %10s %8s %21s\n' target seconds executions execs/s crashes corpus
for src in "$ROOT"/fuzz/fuzz_*.c; do
  t=$(basename "$src" .c)
  t=${t#fuzz_}
  corpus=$WORK/$t
  mkdir -p "$corpus"
  [ -d "$ROOT/fuzz/corpus/$t" ] && cp "$ROOT/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  rm -rf "${OUT:?}/$t"
  mkdir -p "$OUT/$t"
  # -timeout: an input running 10 s counts as a crash; the outer timeout guards a hung target
  rc=0
  timeout $((SECONDS_PER_TARGET + 120)) "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/$t/" \
    "$corpus" >"$OUT/$t/log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$OUT/$t/log" | tail -1)
  crashes=$(find "$OUT/$t" -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' | wc -l)
  [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1 # died without leaving an input
  files=$(find "$corpus" -type f | wc -l)
  kib=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
  printf '%-14s %8s %12s %10s %8s %9s files %5s KiB\n' "$t" "$SECONDS_PER_TARGET" "${execs:-?}" "${rate:-?}" \
    "$crashes" "$files" "$kib"
  if [ "$crashes" -ne 0 ]; then
    failed=1
    echo "  see $OUT/$t/log" >&2
  fi
done
exit $failed
