#!/bin/sh
# Times the quickstart (make demo's job) end to end: median wall time of 5 interleaved runs
# with 1 and with 2 actors, the median samples/s of the collection phase, and the 2-actor
# time as a ratio of the 1-actor time measured in the same session. Prints; asserts nothing.
set -eu
SPAR=${SPAR:-$(pwd)/build/spar}
RUNS=${RUNS:-5}
tmp=$(mktemp -d /tmp/spar-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$RUNS"); do
  for a in 1 2; do
    start=$(date +%s%N)
    (cd "$tmp" && "$SPAR" run --set actor.count=$a --set run.dir="runs/a$a-$i" >/dev/null)
    end=$(date +%s%N)
    echo "$a $(( (end - start) / 1000000 ))" >> "$tmp/times"
  done
done
/usr/bin/python3 - "$tmp" <<'PY'
import json, statistics, sys, glob, os
tmp = sys.argv[1]
times = {1: [], 2: []}
for line in open(os.path.join(tmp, "times")):
    a, t = line.split(); times[int(a)].append(float(t) / 1000.0)
for a in (1, 2):
    sps = []
    for f in glob.glob(os.path.join(tmp, "runs", "a%d-*" % a, "iterations.jsonl")):
        for l in open(f):
            o = json.loads(l)
            if o["iteration"] > 1 and o["samples_per_s"]: sps.append(o["samples_per_s"])
    print("actors=%d  wall median %.2f s (min %.2f, max %.2f)  samples/s median %.0f" % (
        a, statistics.median(times[a]), min(times[a]), max(times[a]), statistics.median(sps)))
print("2-actor / 1-actor wall time: %.2f" % (statistics.median(times[2]) / statistics.median(times[1])))
PY
