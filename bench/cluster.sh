#!/bin/sh
# The cluster benchmarks, each against a baseline measured in the same run: learner ingest
# (groups/s a real learner admits vs raw ZeroMQ messages of the same sizes), weight broadcast
# (16 and 64 MiB to 1, 4 and 16 real actors vs raw ZeroMQ), and the distributed tax (`spar run`
# vs the same work in one process, on the quickstart and on a data-bound variant); then one
# summary table. Prints; asserts nothing. About 5 minutes on 2 idle cores.
# SPAR names the spar binary (default build/spar); the bench programs are beside it in bench/.
# INGEST_ARGS, BROADCAST_ARGS and TAX_ARGS pass options on (each program's --help lists them).
set -eu
SPAR=${SPAR:-$(pwd)/build/spar}
BENCH=${BENCH_DIR:-$(dirname "$SPAR")/bench}
for b in bench_ingest bench_broadcast bench_tax; do
  [ -x "$BENCH/$b" ] || { echo "cluster.sh: $BENCH/$b not built (make build)" >&2; exit 2; }
done
summary=$(mktemp /tmp/spar-bench-summary-XXXXXX)
trap 'rm -f "$summary"' EXIT
export SPAR BENCH_SUMMARY="$summary"
status=0
for b in ingest broadcast tax; do
  start=$(date +%s)
  echo "== $b"
  case $b in
    ingest) "$BENCH/bench_ingest" ${INGEST_ARGS:-} || status=1 ;;
    broadcast) "$BENCH/bench_broadcast" ${BROADCAST_ARGS:-} || status=1 ;;
    tax) # the quickstart (training-bound), then the same with 16x the prompts and 1 epoch (data-bound)
      "$BENCH/bench_tax" ${TAX_ARGS:-} || status=1
      echo
      "$BENCH/bench_tax" --reps 3 --set task.prompts=256 --set learner.epochs=1 ${TAX_ARGS:-} || status=1 ;;
  esac
  echo "($b took $(( $(date +%s) - start )) s)"
  echo
done
echo "== summary (2 cores; other work on the machine skews every figure: load average now $(cut -d' ' -f1 /proc/loadavg))"
awk -F'\t' 'BEGIN { printf "%-10s %-42s %-36s %-36s %s\n", "bench", "case", "spar", "baseline", "ratio" }
            { printf "%-10s %-42s %-36s %-36s %s\n", $1, $2, $3, $4, $5 }' "$summary"
exit $status
