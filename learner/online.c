/* online — see online.h. */
#include "learner/online.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void online_init(online_t *o, const spar_config_t *cfg, const policy_t *theta) {
    memset(o, 0, sizeof *o);
    o->broadcast_every = cfg->learner.broadcast_every;
    o->online = o->broadcast_every > 0;
    o->step_groups = cfg->learner.step_groups > 0 ? cfg->learner.step_groups : cfg->learner.prompts_per_lease;
    o->max_staleness = cfg->learner.max_staleness;
    /* the versions that sampled, for online steps only: synchronous training reads pi_t from
     * theta itself, and a copy of a real model is gigabytes */
    if (o->online) {
        o->ring = xcalloc((size_t)o->max_staleness + 1, sizeof *o->ring);
        for (long i = 0; i <= o->max_staleness; i++) o->ring[i] = policy_clone(theta);
    }
    o->batch = xcalloc((size_t)cfg->task.prompts, sizeof *o->batch);
}

void online_free(online_t *o) {
    for (long i = 0; o->ring && i <= o->max_staleness; i++) policy_destroy(&o->ring[i]);
    free(o->ring);
    free(o->batch);
    memset(o, 0, sizeof *o);
}

policy_t *online_version(const online_t *o, uint64_t v) { return o->ring[v % (uint64_t)(o->max_staleness + 1)]; }

int online_admits(const online_t *o, uint64_t current, uint64_t v, uint64_t min_version) {
    return v <= current && current - v <= (uint64_t)o->max_staleness && v >= min_version;
}

void online_remember(online_t *o, uint64_t v, const policy_t *theta) {
    if (o->ring) policy_copy(online_version(o, v), theta);
    o->steps_since_broadcast = 0;
}

void online_reset(online_t *o, const policy_t *theta) {
    for (long i = 0; o->ring && i <= o->max_staleness; i++) policy_copy(o->ring[i], theta);
}

int online_add(online_t *o, int prompt) {
    o->batch[o->n_batch++] = prompt;
    return o->n_batch >= o->step_groups;
}

int online_step(online_t *o, learner_core_t *c, Spar__RolloutGroup *const *groups, iter_stats_t *s) {
    if (o->n_batch == 0) return 0;
    Spar__RolloutGroup **batch = xmalloc(sizeof *batch * (size_t)o->n_batch);
    policy_t **prevs = xmalloc(sizeof *prevs * (size_t)o->n_batch);
    for (int i = 0; i < o->n_batch; i++) {
        batch[i] = groups[o->batch[i]];
        prevs[i] = online_version(o, batch[i]->policy_version);
    }
    train_result_t tr = {0};
    core_train_step(c, prevs, batch, o->n_batch, &tr);
    iter_stats_step(s, tr.loss, tr.loss_initial);
    o->n_batch = 0;
    free(batch);
    free(prevs);
    o->steps++;
    return ++o->steps_since_broadcast >= o->broadcast_every;
}
