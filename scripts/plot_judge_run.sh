#!/bin/sh
# Draws a text run's curves from its iterations.jsonl into a PNG: the rule's greedy and sampled
# accuracy and, with a learned judge, its win rate against the initial policy next to the rule's.
#   scripts/plot_judge_run.sh RUN_DIR OUT.png
set -eu
run=$1
out=$2
dat=$(mktemp /tmp/spar-plot-XXXXXX)
/usr/bin/python3 - "$run/iterations.jsonl" > "$dat" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    v = [o.get(k) for k in ("iteration", "accuracy", "accuracy_sampled", "judge_win_rate", "rule_win_rate")]
    print(" ".join("nan" if x is None else str(x) for x in v))
PY
gnuplot <<GP
set terminal pngcairo size 760,480
set output "$out"
set xlabel "iteration"
set ylabel "share"
set key outside below
set grid
plot "$dat" using 1:2 with linespoints title "rule: greedy accuracy", \
     "$dat" using 1:3 with linespoints title "rule: sampled accuracy", \
     "$dat" using 1:4 with linespoints title "learned judge: win rate vs initial policy", \
     "$dat" using 1:5 with linespoints title "rule: win rate vs initial policy"
GP
rm -f "$dat"
echo "wrote $out"
