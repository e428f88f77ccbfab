/* online — the online mode's buffer (learner.broadcast_every > 0): the accepted groups wait in
 * a batch of step_groups, each full batch is one learner step whose pi_t per group is the
 * version that sampled it, and every broadcast_every steps a new version is broadcast. The ring
 * of the last max_staleness + 1 versions' policies (by version) serves both modes: groups are
 * admitted up to max_staleness versions behind (synchronous: 0). No sockets, no files. */
#ifndef SPAR_ONLINE_H
#define SPAR_ONLINE_H

#include <stdint.h>

#include "common/config.h"
#include "common/policy.h"
#include "learner/core.h"
#include "learner/iter_stats.h"

typedef struct {
    int online;                 /* learner.broadcast_every > 0 */
    long step_groups, broadcast_every, max_staleness;
    policy_t **ring;            /* the last max_staleness + 1 versions' policies, by version */
    int *batch, n_batch;        /* prompts of the next step */
    long steps;                 /* learner steps of the run (checkpointed) */
    long steps_since_broadcast;
} online_t;

/* The mode of cfg, every ring entry a copy of theta. */
void online_init(online_t *o, const spar_config_t *cfg, const policy_t *theta);
void online_free(online_t *o);
/* The policy of version v (held while v is at most max_staleness behind the current). */
policy_t *online_version(const online_t *o, uint64_t v);
/* Is a group sampled by v admitted at the current version (and not older than min_version)? */
int online_admits(const online_t *o, uint64_t current, uint64_t v, uint64_t min_version);
/* Version v (just made current) is theta: into the ring; the steps since a broadcast restart. */
void online_remember(online_t *o, uint64_t v, const policy_t *theta);
/* Every ring entry becomes theta (a resumed run holds only its current version). */
void online_reset(online_t *o, const policy_t *theta);
/* An accepted group's prompt joins the batch; 1 when the batch is full (time for a step). */
int online_add(online_t *o, int prompt);
/* One learner step on the batch (nothing when it is empty): groups[prompt] are the iteration's
 * groups; its losses go to s. Returns 1 when a new version is due (broadcast_every steps). */
int online_step(online_t *o, learner_core_t *c, Spar__RolloutGroup *const *groups, iter_stats_t *s);

#endif
