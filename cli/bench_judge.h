/* bench_judge — `spar bench judge [--threads N]`: judge throughput on this machine, in pairs
 * judged per second (K(K-1)/2 per request), for the rule judge and the learned reward and
 * preference judges (the tiny trunk, 4 layers, d 128) at K = 4 and K = 8 on one-digit arith
 * answers; the rule's rate is the baseline the learned ones are reported against. */
#ifndef SPAR_BENCH_JUDGE_H
#define SPAR_BENCH_JUDGE_H

int bench_judge_main(int argc, char **argv);

#endif
