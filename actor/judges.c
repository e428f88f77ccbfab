/* judges — see judges.h. Each judge socket is a loop source from the pool's open hook to its
 * close hook; its handler finds the entry by socket and reads until the socket is empty. */
#include "actor/judges.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

#include "actor/actor_state.h"
#include "actor/send.h"

int judges_count(const actor_t *A) { return A->judges.pool.n; }

static void s_wake(actor_t *A) { loop_set_timer(A->loop, A->judges.timer, loop_now(A->loop)); }

void judges_resume(actor_t *A) { s_wake(A); }

void judges_published(actor_t *A, char *const *endpoints, size_t n) {
    jp_published(&A->judges.pool, endpoints, n, loop_now(A->loop));
    s_wake(A);
}

static const char *s_name(const actor_t *A, uint64_t id) {
    int j = jp_find(&A->judges.pool, id);
    return j >= 0 ? A->judges.pool.e[j].endpoint : "(gone)";
}

void judges_ask(actor_t *A, rollout_t *t, int64_t now) {
    judges_t *J = &A->judges;
    rollout_judging_t *q = &t->judging;
    q->request_id = ++J->next_request_id;
    int last = q->attempts > 0 ? jp_find(&J->pool, q->judge) : -1; /* a retry goes to another judge */
    int j = jp_pick(&J->pool, last, now);
    if (j == -2) { /* every judge has its window full: the next reply makes room */
        work_task_wait(A, t, ROLLOUT_GENERATING, now + 5);
        return;
    }
    if (j < 0) { /* no judge verified yet: wait for one */
        if (now >= J->no_judge_logged_ms) {
            log_info("no judge to ask yet (waiting for one to answer as a judge)");
            J->no_judge_logged_ms = now + 10000;
        }
        work_task_wait(A, t, ROLLOUT_GENERATING, now + 100);
        return;
    }
    q->judge = J->pool.e[j].id;
    J->pool.e[j].in_flight++;
    responses_t resp;
    rollout_responses(weights_policy(A), t, &resp);
    send_judge_request(&A->wire, J->pool.e[j].sock, q->request_id, t, resp.rp);
    responses_free(&resp);
    q->attempts++;
    q->sent_ms = util_now_ms();
    work_task_wait(A, t, ROLLOUT_JUDGING, q->sent_ms + A->cfg->judge.timeout_ms);
}

/* The rollout's request is over (answered, refused, timed out): room in its judge's window. */
static void s_request_over(actor_t *A, const rollout_t *t) {
    int j = jp_find(&A->judges.pool, t->judging.judge);
    if (j >= 0 && A->judges.pool.e[j].in_flight > 0) A->judges.pool.e[j].in_flight--;
}

/* A judge request failed (timed out, refused, or answered with something else): ask again, the
 * next judge in turn, after a backoff that doubles with each attempt (50 ms .. 3.2 s). */
static void s_failed(actor_t *A, rollout_t *t, const char *why, int64_t now) {
    rollout_judging_t *q = &t->judging;
    s_request_over(A, t);
    int64_t backoff = (int64_t)50 << (q->attempts < 6 ? q->attempts : 6);
    q->failures++;
    log_warn("judge %s failed on prompt %u (%s); asking again in %lld ms", s_name(A, q->judge), t->prompt, why,
             (long long)backoff);
    work_task_wait(A, t, ROLLOUT_GENERATING, now + backoff); /* the rollout's timer asks again */
}

void judges_timed_out(actor_t *A, rollout_t *t, int64_t now) {
    int j = jp_find(&A->judges.pool, t->judging.judge);
    if (j >= 0) jp_strike(&A->judges.pool, j, now);
    s_failed(A, t, "no reply before judge.timeout_ms", now);
}

static void s_on_reply(actor_t *A, uint64_t judge, const Spar__JudgeReply *r) {
    /* only the judge asked may answer (request ids are no secret); a reply to a request already
     * answered by another judge finds no rollout */
    rollout_t *t = work_task_judging(A, r->request_id, judge);
    if (!t) return;
    rollout_judging_t *q = &t->judging;
    int refused = r->error && r->error[0];
    int matrix = r->n_preference == (size_t)t->k * t->k, rewards = !matrix && r->n_rewards == (size_t)t->k;
    if (refused || r->k != (uint32_t)t->k || (!matrix && !rewards)) {
        if (!refused) A->wire.bad_messages++; /* a valid frame, but not an answer to this request */
        s_failed(A, t, refused ? r->error : "reply does not match the request", loop_now(A->loop));
        return;
    }
    s_request_over(A, t);
    q->latency_ms = (double)(util_now_ms() - q->sent_ms);
    if (matrix) {
        q->P = xmalloc(sizeof(double) * r->n_preference);
        memcpy(q->P, r->preference, sizeof(double) * r->n_preference);
    } else { /* the learner turns rewards into Bradley-Terry preferences */
        q->rewards = xmalloc(sizeof(double) * r->n_rewards);
        memcpy(q->rewards, r->rewards, sizeof(double) * r->n_rewards);
    }
    snprintf(q->judge_version, sizeof q->judge_version, "%s", r->judge_version);
    work_task_judged(A, t);
}

static void s_failed_bad_message(actor_t *A, rollout_t *t) { s_failed(A, t, "bad message", loop_now(A->loop)); }

/* Bad messages from a judge's socket (two frames, garbage): a strike, and the requests waiting
 * on it are asked elsewhere now rather than after their timeout. */
static void s_misbehaved(actor_t *A, int j) {
    uint64_t id = A->judges.pool.e[j].id;
    jp_strike(&A->judges.pool, j, loop_now(A->loop));
    work_each_judging(A, id, s_failed_bad_message);
}

/* One message from judge entry j (id), valid as a frame. */
static void s_on_message(actor_t *A, int j, uint64_t id, Spar__Envelope *in) {
    judge_pool_t *P = &A->judges.pool;
    if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REPLY) {
        if (jp_usable(P, j)) {
            jp_alive(P, j);
            s_on_reply(A, id, in->judge_reply);
        } else { /* an endpoint not verified as a judge was never asked */
            wire_count_bad(&A->wire, P->e[j].endpoint, "judge reply from an endpoint not verified as a judge");
        }
    } else if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
        if (jp_on_heartbeat(P, j, in->heartbeat->role == SPAR__ROLE__ROLE_JUDGE, in->sender_id, loop_now(A->loop)) ==
            JP_HB_NOT_JUDGE)
            wire_count_bad(&A->wire, in->sender_id, "heartbeat from a judge endpoint, not as a judge");
    } else {
        char why[96];
        snprintf(why, sizeof why, "%s from a judge: not a judge reply", wire_body_name(in));
        wire_count_bad(&A->wire, in->sender_id, why);
        if ((j = jp_find(P, id)) >= 0) s_misbehaved(A, j);
    }
}

/* A judge socket's handler: everything waiting on it. A heartbeat may make its entry an alias
 * or evict it (closing the socket), so the entry is looked up again before each read. */
static void s_on_readable(loop_t *loop, void *socket, void *arg) {
    (void)loop;
    actor_t *A = arg;
    judge_pool_t *P = &A->judges.pool;
    int j = 0;
    while (j < P->n && P->e[j].sock != socket) j++;
    if (j == P->n) return;
    uint64_t id = P->e[j].id;
    while ((j = jp_find(P, id)) >= 0 && P->e[j].sock && wire_readable(P->e[j].sock)) {
        uint64_t bad = A->wire.bad_messages;
        Spar__Envelope *in = wire_recv(&A->wire, P->e[j].sock, 0, NULL);
        if (!in) {
            if (A->wire.bad_messages != bad) s_misbehaved(A, j);
            continue;
        }
        s_on_message(A, j, id, in);
        wire_free(in);
    }
    s_wake(A); /* what the pool does next may have changed */
}

/* The pool's evictions and refills, and a probe to each entry not verified yet. */
static int64_t s_pool_timer(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    actor_t *A = arg;
    judge_pool_t *P = &A->judges.pool;
    if (!link_welcomed(A)) return ACTOR_PARKED;
    jp_tick(P, now);
    for (int j = 0; j < P->n; j++)
        if (jp_probe_due(P, j, now)) {
            send_probe(&A->wire, P->e[j].sock);
            jp_probe_sent(P, j, now);
        }
    return jp_next_ms(P, now);
}

/* The pool's socket hooks: a judge's socket is in the loop while the pool holds it. */
static void *s_open(void *ctx, const char *endpoint) {
    actor_t *A = ctx;
    void *sock = actor_sockets_judge(&A->sockets, endpoint);
    if (sock) loop_add_socket(A->loop, sock, s_on_readable, A);
    return sock;
}

static void s_close(void *ctx, void *sock) {
    actor_t *A = ctx;
    loop_remove_socket(A->loop, sock);
    actor_sockets_close_judge(sock);
}

int judges_start(actor_t *A) {
    judge_pool_t *P = &A->judges.pool;
    jp_init(P, &(jp_io_t){s_open, s_close, A}, A->cfg->judge.timeout_ms);
    int64_t now = loop_now(A->loop);
    A->judges.timer = loop_add_timer(A->loop, now, s_pool_timer, A);
    char list[sizeof A->cfg->judge.endpoints];
    snprintf(list, sizeof list, "%s", A->cfg->judge.endpoints);
    for (char *save = NULL, *ep = strtok_r(list, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save))
        if (jp_add_config(P, ep, now) < 0) {
            if (P->n >= JP_MAX_ENTRIES) break;
            return -1;
        }
    if (P->n == 0) {
        log_error("judge.endpoints names no judge");
        return -1;
    }
    return 0;
}

void judges_free(actor_t *A) { jp_free(&A->judges.pool); }
