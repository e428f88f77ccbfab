/* iterlog — the end of an iteration after its training: the checkpoint, the exact metrics and
 * the iterations.jsonl line (also published as an IterationSummary and kept for the status).
 * In the synchronous mode the checkpoint and the metrics run on a worker thread while the
 * learner goes on serving — actors fetch the new version and collect the next iteration
 * meanwhile, which is what makes weight delivery fast on large policies; the line is written by
 * the learner's thread once they are done, always after the checkpoint (a resume trusts a
 * checkpoint only with its line). The next training waits for them: until then nothing writes
 * what they read (the policy, pi_ref, the average iterate, the optimiser). The online mode,
 * whose training runs during collection, does it all inline. */
#ifndef SPAR_ITERLOG_H
#define SPAR_ITERLOG_H

#include "learner/learner_state.h"

/* Starts the end of iteration L->iteration: takes its counters now (the next iteration resets
 * them) and the checkpoint and metrics on the worker (or inline). tr NULL: the initial line. */
void iterlog_start(learner_t *L, const train_result_t *tr, double wall_s, double collect_s, int lost);
/* Writes the line when the worker is done; with wait, waits for it. Returns 0 (done, or nothing
 * pending), 1 (still running, not waiting), or -1 when the checkpoint could not be written. */
int iterlog_finish(learner_t *L, int wait);

#endif
