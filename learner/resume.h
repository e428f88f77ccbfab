/* resume — continues a run from its run directory: the last complete checkpoint (policy, its
 * state file and its iterations.jsonl line all present and whole), the groups of the next
 * iteration that the records already hold (so no accepted work is asked for again), and every
 * file cut back to that point. With the same config and seed the resumed run ends with the same
 * final checkpoint, bit for bit, as one that was never interrupted. */
#ifndef SPAR_RESUME_H
#define SPAR_RESUME_H

#include "learner/service.h"

/* Sets L up (policy, optimiser, counters, files) to continue the run in L->files.dir. Returns 0
 * or an exit status (2: nothing to resume from), logged. */
int resume_prepare(learner_service_t *L);
/* At the start of the resumed iteration: admits the groups of it the records held (those that
 * still fit; the others are logged and dropped, and asked for again). */
void resume_take_back(learner_service_t *L);

#endif
