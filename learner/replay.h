/* replay — `spar replay RUN_DIR`: re-runs every learner update of a run from its records alone
 * (records/groups.pb, in the order the learner accepted them), starting from the run's
 * iteration-0 checkpoint, and checks each resulting policy's digest against the run's
 * checkpoint of that iteration. A run is reproducible from its log even where generation (a
 * sampler, a remote judge) is not. */
#ifndef SPAR_REPLAY_H
#define SPAR_REPLAY_H

#include "common/config.h"

/* Returns the exit status: 0 when every checkpoint was reproduced bit for bit, 1 when one
 * differs or cannot be read, 2 when the run folder cannot be replayed at all. */
int replay_main(const spar_config_t *cfg, const char *run_dir);

#endif
