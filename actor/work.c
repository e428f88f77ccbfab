/* work — see work.h. A rollout's timer fires at its due time and does what its state says is due;
 * the request timer sends a request once the actor is idle (no open lease, every rollout
 * submitted) and request_at has come. Both wait while the learner does not know this actor. */
#include "actor/work.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"

#include "actor/actor_state.h"
#include "actor/send.h"

#define REQUEST_RETRY_MS 2000
#define ACTOR_MAX_RETRY_MS 10000 /* the longest wait a learner may prescribe */

uint64_t work_groups_sent(const actor_t *A) { return A->work.groups_sent; }

int work_lease_version(const actor_t *A, uint64_t *version) {
    *version = A->work.lease.version;
    return A->work.lease.open;
}

int work_lease_wants_ref(const actor_t *A) { return A->work.lease.open && A->work.lease.mix > 0; }

static int s_busy(const work_t *W) {
    if (W->lease.open) return 1;
    for (int i = 0; i < W->n_rollouts; i++)
        if (W->rollouts[i]->state != ROLLOUT_SUBMITTED) return 1;
    return 0;
}

/* The request timer looks again: the actor may be idle now, or request_at moved. */
static void s_wake_request(actor_t *A) { loop_set_timer(A->loop, A->work.request_timer, loop_now(A->loop)); }

/* request_at: an unanswered request is sent again then, and an empty grant's retry_ms is
 * honoured (an idle actor does not ask again as fast as the learner answers). */
static int64_t s_request_timer(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    actor_t *A = arg;
    work_t *W = &A->work;
    if (!link_welcomed(A) || s_busy(W)) return ACTOR_PARKED;
    if (now >= W->request_at) {
        send_work_request(&A->wire, A->sockets.ctl, weights_version(A));
        W->request_outstanding = 1;
        W->request_at = now + REQUEST_RETRY_MS;
    }
    return W->request_at;
}

void work_start(actor_t *A) { A->work.request_timer = loop_add_timer(A->loop, ACTOR_PARKED, s_request_timer, A); }

void work_free(actor_t *A) {
    work_t *W = &A->work;
    for (int i = 0; i < W->n_rollouts; i++) rollout_free(W->rollouts[i]);
    free(W->rollouts);
    lease_free(&W->lease);
}

void work_task_wait(actor_t *A, rollout_t *t, rollout_state_t state, int64_t at_ms) {
    t->state = state;
    t->due_ms = at_ms;
    loop_set_timer(A->loop, t->timer, at_ms);
}

static void s_submit(actor_t *A, rollout_t *t, int64_t now) {
    responses_t resp;
    rollout_responses(weights_policy(A), t, &resp);
    send_rollout_group(&A->wire, A->sockets.ctl, t, resp.rp);
    responses_free(&resp);
    if (t->state != ROLLOUT_SUBMITTED) A->work.groups_sent++;
    work_task_wait(A, t, ROLLOUT_SUBMITTED, now + A->cfg->actor.resend_ms);
    s_wake_request(A);
}

void work_task_judged(actor_t *A, rollout_t *t) { s_submit(A, t, loop_now(A->loop)); }

static int64_t s_task_timer(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    rollout_t *t = arg;
    actor_t *A = t->actor;
    if (!link_welcomed(A)) return ACTOR_PARKED;
    if (now < t->due_ms) return t->due_ms;
    if (t->state == ROLLOUT_GENERATING) judges_ask(A, t, now);
    else if (t->state == ROLLOUT_JUDGING) judges_timed_out(A, t, now);
    else s_submit(A, t, now);
    return t->due_ms;
}

static void s_task_add(actor_t *A, rollout_t *t, int64_t due_ms) {
    work_t *W = &A->work;
    if (W->n_rollouts == W->cap_rollouts) {
        W->cap_rollouts = W->cap_rollouts ? 2 * W->cap_rollouts : 16;
        W->rollouts = xrealloc(W->rollouts, sizeof *W->rollouts * (size_t)W->cap_rollouts);
    }
    W->rollouts[W->n_rollouts++] = t;
    t->actor = A;
    t->due_ms = due_ms;
    t->timer = loop_add_timer(A->loop, due_ms, s_task_timer, t);
}

static void s_task_remove(actor_t *A, int i) {
    work_t *W = &A->work;
    loop_cancel_timer(A->loop, W->rollouts[i]->timer);
    rollout_free(W->rollouts[i]);
    W->rollouts[i] = W->rollouts[--W->n_rollouts];
    s_wake_request(A);
}

/* The lease's version is loaded: every prompt sampled in one batch, each rollout then asked of a
 * judge actor.delay_ms after the one before. */
static void s_start_lease(actor_t *A) {
    work_t *W = &A->work;
    int64_t now = loop_now(A->loop);
    rollout_t **batch = xcalloc((size_t)W->lease.n, sizeof *batch);
    link_busy(A, 1); /* a lease of a real model samples for minutes */
    int sampled = lease_sample(&W->lease, weights_policy(A), weights_ref(A), link_seed(A), batch);
    link_busy(A, 0);
    if (sampled == 0)
        for (int j = 0; j < W->lease.n; j++) s_task_add(A, batch[j], now + A->cfg->actor.delay_ms * (j + 1));
    free(batch);
    W->lease.open = 0;
    s_wake_request(A);
}

/* Starts the open lease once every policy it needs is here, or fetches what is missing: pi_ref
 * (version 0) for a lease with mixture opponents, then the lease's version. */
void work_weights_loaded(actor_t *A) {
    const lease_t *l = &A->work.lease;
    if (!l->open) return;
    uint64_t need = l->version;
    if (l->mix > 0 && !weights_ref(A)) need = 0;
    else if (weights_running(A, l->version)) {
        s_start_lease(A);
        return;
    }
    weights_fetch(A, need);
}

void work_on_grant(actor_t *A, const Spar__WorkGrant *g) {
    work_t *W = &A->work;
    int64_t now = loop_now(A->loop);
    W->request_outstanding = 0;
    W->request_at = now; /* the next request goes out once this work is done */
    s_wake_request(A);
    if (g->hello_first) { /* the learner does not know this connection (it restarted): Hello again */
        link_hello_again(A);
        return;
    }
    if (g->n_prompt_ids > 0 && g->lease_id == W->lease.id && g->iteration == W->lease.iteration)
        return; /* the same lease again (a repeated request): already being answered */
    if (g->n_prompt_ids == 0) {
        uint32_t wait = g->retry_ms ? g->retry_ms : 50;
        W->request_at = now + (wait < ACTOR_MAX_RETRY_MS ? wait : ACTOR_MAX_RETRY_MS);
        return;
    }
    char why[200];
    if (lease_out_of_range(g, link_prompts(A), why, sizeof why)) { /* refused: ask again later */
        wire_count_bad(&A->wire, "learner", why);
        W->request_at = now + REQUEST_RETRY_MS;
        return;
    }
    lease_take(&W->lease, g);
    work_weights_loaded(A);
}

void work_on_ack(actor_t *A, const Spar__RolloutAck *a) {
    work_t *W = &A->work;
    for (int i = 0; i < W->n_rollouts; i++) {
        const rollout_t *t = W->rollouts[i];
        if (t->state != ROLLOUT_SUBMITTED || t->iteration != a->iteration || t->prompt != a->prompt_id) continue;
        if (a->status == SPAR__ACK_STATUS__ACK_STALE || a->status == SPAR__ACK_STATUS__ACK_REJECTED)
            log_warn("group for prompt %u of iteration %llu was %s", a->prompt_id, (unsigned long long)a->iteration,
                     a->status == SPAR__ACK_STATUS__ACK_STALE ? "stale" : "rejected");
        s_task_remove(A, i);
        return;
    }
}

void work_weights_refused(actor_t *A) {
    if (A->work.request_outstanding) return;
    A->work.request_at = loop_now(A->loop);
    s_wake_request(A);
}

void work_welcomed(actor_t *A) {
    work_t *W = &A->work;
    W->request_at = loop_now(A->loop);
    s_wake_request(A);
    for (int i = 0; i < W->n_rollouts; i++) loop_set_timer(A->loop, W->rollouts[i]->timer, W->rollouts[i]->due_ms);
}

rollout_t *work_task_judging(actor_t *A, uint64_t request_id, uint64_t judge) {
    for (int i = 0; i < A->work.n_rollouts; i++) {
        rollout_t *t = A->work.rollouts[i];
        if (t->state == ROLLOUT_JUDGING && t->judging.request_id == request_id && t->judging.judge == judge) return t;
    }
    return NULL;
}

void work_each_judging(actor_t *A, uint64_t judge, void (*fn)(actor_t *A, rollout_t *t)) {
    for (int i = 0; i < A->work.n_rollouts; i++) {
        rollout_t *t = A->work.rollouts[i];
        if (t->state == ROLLOUT_JUDGING && t->judging.judge == judge) fn(A, t);
    }
}
