/* link — see link.h. */
#include "actor/link.h"

#include <stdio.h>

#include "common/log.h"

#include "actor/actor_state.h"
#include "actor/send.h"

#define HELLO_RETRY_MS 1000

int link_welcomed(const actor_t *A) { return A->link.welcomed; }
uint64_t link_seed(const actor_t *A) { return A->link.seed; }
uint32_t link_prompts(const actor_t *A) { return A->link.prompts; }

void link_hello_again(actor_t *A) {
    if (A->link.welcomed) log_info("the learner asks for a Hello (it restarted?): saying hello again");
    A->link.welcomed = 0;
    loop_set_timer(A->loop, A->link.hello_timer, loop_now(A->loop));
}

static int64_t s_hello_timer(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    actor_t *A = arg;
    if (A->link.welcomed) return ACTOR_PARKED;
    send_hello(&A->wire, A->sockets.ctl);
    return now + HELLO_RETRY_MS;
}

static int64_t s_heartbeat_timer(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    actor_t *A = arg;
    if (!A->link.welcomed) return ACTOR_PARKED;
    if (now >= A->link.heartbeat_at) {
        send_heartbeat(&A->wire, A->sockets.ctl, weights_version(A), work_groups_sent(A));
        A->link.heartbeat_at = now + A->cfg->actor.heartbeat_ms;
    }
    return A->link.heartbeat_at;
}

/* Welcomed (again): the parts' timers that waited for it run now. */
static void s_on_welcome(actor_t *A, const Spar__Welcome *w) {
    if (!A->link.welcomed)
        log_info("joined run %s (learner at v%llu)", w->run_id, (unsigned long long)w->current_version);
    A->link.welcomed = 1;
    A->link.seed = w->seed;
    A->link.prompts = w->prompts;
    if (w->n_judges) judges_published(A, w->judges, w->n_judges);
    snprintf(A->wire.run_id, sizeof A->wire.run_id, "%s", w->run_id);
    loop_set_timer(A->loop, A->link.heartbeat_timer, loop_now(A->loop));
    work_welcomed(A);
    weights_resume(A);
    judges_resume(A);
}

static void s_shutdown(actor_t *A, const char *from, const char *reason) {
    log_info("%s: %s", from, reason);
    A->link.shut_down = 1;
    loop_stop(A->loop);
}

static void s_on_learner(actor_t *A, Spar__Envelope *in) {
    switch (in->body_case) {
    case SPAR__ENVELOPE__BODY_WELCOME: s_on_welcome(A, in->welcome); break;
    case SPAR__ENVELOPE__BODY_WORK_GRANT: work_on_grant(A, in->work_grant); break;
    case SPAR__ENVELOPE__BODY_ROLLOUT_ACK: work_on_ack(A, in->rollout_ack); break;
    case SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK: weights_on_chunk(A, in->weights_chunk); break;
    case SPAR__ENVELOPE__BODY_HEARTBEAT:
        if (in->heartbeat->hello_first && A->link.welcomed) link_hello_again(A);
        break;
    case SPAR__ENVELOPE__BODY_SHUTDOWN: s_shutdown(A, "learner says", in->shutdown->reason); break;
    default:
        A->wire.bad_messages++;
        log_warn("dropped %s from the learner: not a message for an actor", wire_body_name(in));
    }
}

static void s_on_broadcast(actor_t *A, Spar__Envelope *in) {
    if (in->body_case == SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE)
        weights_announced(A, in->weights_available);
    else if (in->body_case == SPAR__ENVELOPE__BODY_SHUTDOWN)
        s_shutdown(A, "learner broadcast", in->shutdown->reason);
    else if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_POOL)
        judges_published(A, in->judge_pool->endpoints, in->judge_pool->n_endpoints);
}

/* Everything waiting on socket, each message to on. */
static void s_drain(actor_t *A, void *socket, void (*on)(actor_t *A, Spar__Envelope *in)) {
    while (wire_readable(socket)) {
        Spar__Envelope *in = wire_recv(&A->wire, socket, 0, NULL);
        if (!in) continue;
        on(A, in);
        wire_free(in);
    }
}

static void s_on_control(loop_t *loop, void *socket, void *arg) {
    (void)loop;
    s_drain(arg, socket, s_on_learner);
}

static void s_on_publish(loop_t *loop, void *socket, void *arg) {
    (void)loop;
    s_drain(arg, socket, s_on_broadcast);
}

void link_busy(actor_t *A, int busy) {
    if (!busy) {
        keepalive_end(A->link.keepalive);
        return;
    }
    if (!A->link.welcomed) return; /* no heartbeats before the Welcome either */
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_ACTOR, .policy_version = weights_version(A),
                          .bad_messages = A->wire.bad_messages, .groups_sent = work_groups_sent(A)};
    keepalive_begin(A->link.keepalive, &hb);
}

void link_free(actor_t *A) { keepalive_free(&A->link.keepalive); }

void link_start(actor_t *A) {
    A->link.keepalive = keepalive_new(&A->wire, A->sockets.ctl, A->cfg->actor.heartbeat_ms);
    loop_add_socket(A->loop, A->sockets.ctl, s_on_control, A);
    loop_add_socket(A->loop, A->sockets.sub, s_on_publish, A);
    A->link.hello_timer = loop_add_timer(A->loop, loop_now(A->loop), s_hello_timer, A);
    A->link.heartbeat_timer = loop_add_timer(A->loop, ACTOR_PARKED, s_heartbeat_timer, A);
}
