/* work — the lease machine: work requests (re-sent when unanswered, paced by an empty grant's
 * retry_ms), grants, the lease's rollouts each on its own timer (asked of a judge, timed out,
 * submitted and re-sent until the learner acks them). Not sampling (lease.c), judge requests
 * and replies (judges.c) nor weights (weights.c). */
#ifndef SPAR_ACTOR_WORK_H
#define SPAR_ACTOR_WORK_H

#include <stdint.h>

#include "common/wire.h"

#include "actor/lease.h"
#include "actor/rollout.h"

typedef struct actor actor_t;

typedef struct {
    lease_t lease;
    rollout_t **rollouts; /* the lease's rollouts, until acked */
    int n_rollouts, cap_rollouts;
    uint64_t groups_sent;
    int request_outstanding;
    int64_t request_at; /* when the next request may go out, once idle */
    uint64_t request_timer;
} work_t;

void work_start(actor_t *A);
void work_free(actor_t *A);
/* Welcomed (again): a request goes out now, the rollouts' timers resume. */
void work_welcomed(actor_t *A);
void work_on_grant(actor_t *A, const Spar__WorkGrant *g);
void work_on_ack(actor_t *A, const Spar__RolloutAck *a);
/* The learner no longer holds the version fetched: ask for work again. */
void work_weights_refused(actor_t *A);
/* A policy was loaded: the open lease starts if all it needs is here, else fetches it. */
void work_weights_loaded(actor_t *A);
/* 1 with the open lease's version, 0 when no lease is open. */
int work_lease_version(const actor_t *A, uint64_t *version);
/* Does the open lease sample opponents from a mixture with pi_ref (version 0)? */
int work_lease_wants_ref(const actor_t *A);
uint64_t work_groups_sent(const actor_t *A);

/* For the judge client: t waits in state until at_ms. */
void work_task_wait(actor_t *A, rollout_t *t, rollout_state_t state, int64_t at_ms);
/* t has its verdict: submitted now. */
void work_task_judged(actor_t *A, rollout_t *t);
/* The rollout waiting on this request of this judge, or NULL. */
rollout_t *work_task_judging(actor_t *A, uint64_t request_id, uint64_t judge);
/* fn on every rollout waiting on judge. */
void work_each_judging(actor_t *A, uint64_t judge, void (*fn)(actor_t *A, rollout_t *t));

#endif
