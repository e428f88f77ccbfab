/* lease — the one lease an actor holds at a time: a grant checked against what the run and this
 * process can hold, its prompts and sampling options kept, and the sampling of all its prompts
 * into rollouts in one batch. Not the rollouts' life after sampling (work.c) nor fetching the
 * version it names (weights.c). */
#ifndef SPAR_ACTOR_LEASE_H
#define SPAR_ACTOR_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "common/policy.h"
#include "common/wire.h"

#include "actor/rollout.h"

typedef struct {
    int open; /* granted and not yet sampled */
    uint64_t id, iteration, version;
    uint32_t *prompts;
    char **texts; /* the prompts' texts */
    int n, k;
    policy_sample_opts_t opts; /* its stop strings are the lease's */
    char **stop;
    int n_stop;
    double mix; /* > 0: also sample opponents from pi^(1-mix) pi_ref^mix */
} lease_t;

/* The counts of a grant checked against a run of run_prompts prompts (0: not known) and what
 * this process can hold (wire checked the message's own consistency). Returns 1 with why when
 * the grant is refused. */
int lease_out_of_range(const Spar__WorkGrant *g, uint32_t run_prompts, char *why, size_t wl);
/* The grant (in range) becomes the open lease. */
void lease_take(lease_t *l, const Spar__WorkGrant *g);
void lease_free(lease_t *l);
/* Samples every prompt of l into rollouts[0..l->n) (the seed of each sample depends only on run
 * seed, iteration, prompt and sample index, so any actor draws the same responses). ref: pi_ref,
 * for a lease with mixture opponents. Returns 0, or -1 (logged, nothing kept) when a prompt does
 * not fit the policy. */
int lease_sample(const lease_t *l, policy_t *policy, policy_t *ref, uint64_t seed, rollout_t **rollouts);

#endif
