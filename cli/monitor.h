/* monitor — `spar monitor RUN_DIR|ENDPOINT [--interval S] [--once] [--iterations N]`: a live
 * terminal view of a run: the last iterations of iterations.jsonl, the learner's live status
 * (state, prompts done, each peer's role, version, state and throughput), the version-lag
 * histogram and the judge latency. It reads RUN_DIR's iterations.jsonl and status.json, or
 * asks the learner's control endpoint with a StatusRequest. It only reads; it changes nothing. */
#ifndef SPAR_MONITOR_H
#define SPAR_MONITOR_H

/* Exit status: 0 after --once with something to show or after Ctrl-C; 1 when an ENDPOINT gave
 * no answer within 2 s (--once); 2 bad arguments or a missing run folder. */
int monitor_main(int argc, char **argv);

#endif
