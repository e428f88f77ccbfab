/* learner — the learner role: owns the policy, pi_ref, leases and the run directory.
 * Binds a ROUTER (control: hello, heartbeats, work, groups, weight fetches) and a PUB
 * (weights announcements, iteration summaries, shutdown). Runs the synchronous loop of
 * docs/architecture.md, "One iteration": announce v_t, lease out the prompts, collect every judged group
 * exactly once, train, checkpoint, log one line of iterations.jsonl, move to v_{t+1}. */
#ifndef SPAR_LEARNER_H
#define SPAR_LEARNER_H

#include "common/config.h"

/* Runs a whole run, or with resume continues the one in the run folder from its last complete
 * checkpoint (a folder without a run yet: starts it, so a service may always pass --resume). Returns the process exit status: 0 when every iteration completed. */
int learner_main(const spar_config_t *cfg, int resume);

/* The run folder a config names: run.dir, or runs/<run.name>. */
void learner_run_dir(const spar_config_t *cfg, char *out, size_t outlen);

#endif
