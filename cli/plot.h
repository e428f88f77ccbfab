/* plot — `spar plot RUN_DIR [--out FILE.png|FILE.svg]`: draws a run's curves from its
 * iterations.jsonl with gnuplot (a child process), one panel per kind of metric the run has:
 * win rate, exploitability, accuracy, loss, KL to the reference, throughput. It reads the log
 * only; it never talks to a running process. */
#ifndef SPAR_PLOT_H
#define SPAR_PLOT_H

/* Exit status: 0 drawn; 1 gnuplot failed; 2 bad arguments, a missing run folder or
 * iterations.jsonl, a malformed line (FILE:LINE), or no gnuplot installed. */
int plot_main(int argc, char **argv);

#endif
