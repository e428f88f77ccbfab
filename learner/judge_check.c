/* judge_check — see judge_check.h. */
#include "learner/judge_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/curve.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/wire_socket.h"
#include "common/util.h"
#include "common/wire.h"

#define RETRY_MAX_MS 30000

typedef struct {
    void *sock; /* NULL: free */
    char peer[LEASE_HOLDER_MAX + 1];
    char endpoint[256];
    int64_t deadline_ms;
} check_t;

struct judge_check {
    void *zctx; /* its own: connecting resolves names on this context's I/O thread */
    curve_t *curve;
    int trust;  /* CURVE without judge_public: judge keys are trusted as they are */
    wire_t wire;
    long max_frame_bytes;
    check_t checks[JUDGE_CHECK_MAX];
    peers_t *peers;
    loop_t *loop;
    uint64_t timer; /* at the next time a check needs attention; 0: none armed */
    judge_check_changed_fn changed;
    void *changed_arg;
};

static int64_t s_next_ms(const struct judge_check *c);
static int s_tick(struct judge_check *c, int64_t now);

/* The published pool changed: the learner publishes it again. */
static void s_work(struct judge_check *c, int64_t now) {
    if (s_tick(c, now)) c->changed(c->changed_arg);
}

static int64_t s_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    struct judge_check *c = arg;
    s_work(c, now);
    int64_t next = s_next_ms(c);
    if (next == INT64_MAX) c->timer = 0;
    return next == INT64_MAX ? LOOP_TIMER_DONE : next;
}

/* The timer follows the earliest time a check needs attention. */
void judge_check_arm(struct judge_check *c) {
    int64_t next = s_next_ms(c);
    if (next == INT64_MAX) return;
    if (c->timer) loop_set_timer(c->loop, c->timer, next);
    else c->timer = loop_add_timer(c->loop, next, s_due, c);
}

static void s_readable(loop_t *loop, void *socket, void *arg) {
    (void)socket;
    struct judge_check *c = arg;
    s_work(c, loop_now(loop));
    judge_check_arm(c);
}

struct judge_check *judge_check_new(const spar_config_t *cfg, const wire_t *learner_wire, peers_t *peers,
                                    loop_t *loop, judge_check_changed_fn changed, void *changed_arg) {
    struct judge_check *c = xcalloc(1, sizeof *c);
    c->peers = peers;
    c->loop = loop;
    c->changed = changed;
    c->changed_arg = changed_arg;
    c->zctx = zmq_ctx_new();
    c->max_frame_bytes = cfg->wire.max_frame_bytes;
    wire_init(&c->wire, learner_wire->sender_id, cfg->wire.max_frame_bytes);
    snprintf(c->wire.run_id, sizeof c->wire.run_id, "%s", learner_wire->run_id);
    if (cfg->security.curve) {
        if (!cfg->security.judge_public[0]) {
            c->trust = 1;
            log_info("judge pool: security.judge_public is not set, so judges are not reached before they are "
                     "published; CURVE admits only judge keys to register them");
        } else {
            char err[1024];
            if (!(c->curve = curve_new(c->zctx, cfg, err, sizeof err))) {
                log_error("config error: %s", err);
                zmq_ctx_term(c->zctx);
                wire_fini(&c->wire);
                free(c);
                return NULL;
            }
        }
    }
    return c;
}

void judge_check_request(struct judge_check *c, peer_t *p, int64_t now) {
    p->judge_ok = 0;
    p->check_tries = 0;
    p->check_at_ms = now;
    if (c->trust) {
        p->judge_ok = 1;
        log_info("judge %s joins the judge pool at %s", p->id, p->endpoint);
        return;
    }
    judge_check_arm(c);
}

static void s_close(struct judge_check *c, check_t *k) {
    loop_remove_socket(c->loop, k->sock);
    zmq_close(k->sock);
    k->sock = NULL;
}

/* A check that failed: the peer is tried again later, each time after a longer pause. */
static void s_failed(struct judge_check *c, check_t *k, const char *why, int64_t now) {
    peer_t *p = peers_find(c->peers, k->peer);
    if (p && !strcmp(p->endpoint, k->endpoint)) {
        if (p->check_tries++ == 0)
            log_warn("judge %s registered %s but %s: not published until it answers there (retrying)", p->id,
                     p->endpoint, why);
        int64_t pause = (int64_t)1000 << (p->check_tries < 5 ? p->check_tries : 5);
        p->check_at_ms = now + (pause < RETRY_MAX_MS ? pause : RETRY_MAX_MS);
    }
    s_close(c, k);
}

/* Reads a check's answers; returns 1 when its judge was confirmed. */
static int s_read(struct judge_check *c, check_t *k, int64_t now) {
    Spar__Envelope *in;
    while (k->sock && wire_readable(k->sock)) {
        if (!(in = wire_recv(&c->wire, k->sock, 0, NULL))) continue;
        int judge = in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT && in->heartbeat->role == SPAR__ROLE__ROLE_JUDGE;
        int same = !strcmp(in->sender_id, k->peer);
        wire_free(in);
        if (!judge) {
            s_failed(c, k, "what answers there is not a judge", now);
            return 0;
        }
        if (!same) {
            s_failed(c, k, "another judge answers there", now);
            return 0;
        }
        peer_t *p = peers_find(c->peers, k->peer);
        int ok = p && !strcmp(p->endpoint, k->endpoint);
        if (ok) {
            p->judge_ok = 1;
            log_info("judge %s joins the judge pool at %s", p->id, p->endpoint);
        }
        s_close(c, k);
        return ok;
    }
    return 0;
}

static int s_checking(const struct judge_check *c, const char *peer) {
    for (int i = 0; i < JUDGE_CHECK_MAX; i++)
        if (c->checks[i].sock && !strcmp(c->checks[i].peer, peer)) return 1;
    return 0;
}

static void s_start(struct judge_check *c, check_t *k, const peer_t *p, int64_t now) {
    snprintf(k->peer, sizeof k->peer, "%s", p->id);
    snprintf(k->endpoint, sizeof k->endpoint, "%s", p->endpoint);
    k->deadline_ms = now + JUDGE_CHECK_WAIT_MS;
    k->sock = wire_socket_open(c->zctx, &(wire_socket_opts_t){.label = "judge pool check", .type = ZMQ_DEALER,
        .endpoint = k->endpoint, .max_frame_bytes = c->max_frame_bytes, .curve = c->curve,
        .curve_peer = CURVE_JUDGE, .quiet = 1});
    if (!k->sock) {
        s_failed(c, k, "it cannot be connected to", now);
        return;
    }
    loop_add_socket(c->loop, k->sock, s_readable, c);
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_LEARNER, .policy_version = c->peers->version};
    (void)msg_send_heartbeat(&c->wire, k->sock, NULL, &hb); /* queued until connected */
}

/* Starts due checks, reads answers, expires waits; returns 1 when the published pool changed. */
static int s_tick(struct judge_check *c, int64_t now) {
    peers_t *P = c->peers;
    if (c->trust) return 0;
    int changed = 0;
    for (int i = 0; i < JUDGE_CHECK_MAX; i++) {
        check_t *k = &c->checks[i];
        if (!k->sock) continue;
        changed |= s_read(c, k, now);
        if (k->sock && now >= k->deadline_ms) s_failed(c, k, "nothing answered there", now);
    }
    for (int i = 0; i < P->n_peers; i++) {
        const peer_t *p = &P->peers[i];
        if (p->role != SPAR__ROLE__ROLE_JUDGE || !p->hello || !p->endpoint[0] || p->judge_ok || p->left ||
            p->silent || p->check_at_ms > now || s_checking(c, p->id))
            continue;
        check_t *slot = NULL;
        for (int s = 0; s < JUDGE_CHECK_MAX && !slot; s++)
            if (!c->checks[s].sock) slot = &c->checks[s];
        if (!slot) break;
        s_start(c, slot, p, now);
    }
    return changed;
}

/* The earliest time a check needs attention, or INT64_MAX. */
static int64_t s_next_ms(const struct judge_check *c) {
    const peers_t *P = c->peers;
    int64_t next = INT64_MAX;
    if (c->trust) return next;
    for (int i = 0; i < JUDGE_CHECK_MAX; i++)
        if (c->checks[i].sock && c->checks[i].deadline_ms < next) next = c->checks[i].deadline_ms;
    for (int i = 0; i < P->n_peers; i++) {
        const peer_t *p = &P->peers[i];
        if (p->role == SPAR__ROLE__ROLE_JUDGE && p->hello && p->endpoint[0] && !p->judge_ok && !p->left &&
            !p->silent && p->check_at_ms < next && !s_checking(c, p->id)) /* a running check: its deadline */
            next = p->check_at_ms;
    }
    return next;
}

void judge_check_destroy(struct judge_check **cp) {
    struct judge_check *c = *cp;
    if (!c) return;
    for (int i = 0; i < JUDGE_CHECK_MAX; i++)
        if (c->checks[i].sock) s_close(c, &c->checks[i]);
    if (c->timer) loop_cancel_timer(c->loop, c->timer);
    curve_destroy(&c->curve);
    zmq_ctx_term(c->zctx);
    wire_fini(&c->wire);
    free(c);
    *cp = NULL;
}
