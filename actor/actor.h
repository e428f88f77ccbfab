/* actor — the actor role: asks the learner for work, fetches and verifies the weights of the
 * version a lease names, samples K responses per prompt, has a judge compare them, and submits
 * each judged group until the learner acknowledges it. Holds every group until acked and
 * re-sends it; retries a silent judge on the next one. Any number of actors serve one run. */
#ifndef SPAR_ACTOR_H
#define SPAR_ACTOR_H

#include "common/config.h"

int actor_main(const spar_config_t *cfg, const char *id);

#endif
