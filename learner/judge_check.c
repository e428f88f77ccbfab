/* judge_check — see judge_check.h. */
#include "learner/judge_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/curve.h"
#include "common/log.h"
#include "common/util.h"
#include "common/wire.h"
#include "learner/peers.h"

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
    check_t checks[JUDGE_CHECK_MAX];
};

int judge_check_init(learner_t *L) {
    struct judge_check *c = xcalloc(1, sizeof *c);
    c->zctx = zmq_ctx_new();
    wire_init(&c->wire, L->wire.sender_id, L->cfg->wire.max_frame_bytes);
    snprintf(c->wire.run_id, sizeof c->wire.run_id, "%s", L->wire.run_id);
    if (L->cfg->security.curve) {
        if (!L->cfg->security.judge_public[0]) {
            c->trust = 1;
            log_info("judge pool: security.judge_public is not set, so judges are not reached before they are "
                     "published; CURVE admits only judge keys to register them");
        } else {
            char err[1024];
            if (!(c->curve = curve_new(c->zctx, L->cfg, err, sizeof err))) {
                log_error("config error: %s", err);
                zmq_ctx_term(c->zctx);
                free(c);
                return -1;
            }
        }
    }
    L->jcheck = c;
    return 0;
}

void judge_check_request(learner_t *L, peer_t *p) {
    p->judge_ok = 0;
    p->check_tries = 0;
    p->check_at_ms = util_now_ms();
    if (L->jcheck && L->jcheck->trust) {
        p->judge_ok = 1;
        log_info("judge %s joins the judge pool at %s", p->id, p->endpoint);
    }
}

static void s_close(check_t *k) {
    zmq_close(k->sock);
    k->sock = NULL;
}

/* A check that failed: the peer is tried again later, each time after a longer pause. */
static void s_failed(learner_t *L, check_t *k, const char *why, int64_t now) {
    peer_t *p = peers_find(L, k->peer);
    if (p && !strcmp(p->endpoint, k->endpoint)) {
        if (p->check_tries++ == 0)
            log_warn("judge %s registered %s but %s: not published until it answers there (retrying)", p->id,
                     p->endpoint, why);
        int64_t pause = (int64_t)1000 << (p->check_tries < 5 ? p->check_tries : 5);
        p->check_at_ms = now + (pause < RETRY_MAX_MS ? pause : RETRY_MAX_MS);
    }
    s_close(k);
}

/* Reads a check's answers; returns 1 when its judge was confirmed. */
static int s_read(learner_t *L, check_t *k, int64_t now) {
    struct judge_check *c = L->jcheck;
    Spar__Envelope *in;
    while (k->sock && wire_readable(k->sock)) {
        if (!(in = wire_recv(&c->wire, k->sock, 0, NULL))) continue;
        int judge = in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT && in->heartbeat->role == SPAR__ROLE__ROLE_JUDGE;
        int same = !strcmp(in->sender_id, k->peer);
        wire_free(in);
        if (!judge) {
            s_failed(L, k, "what answers there is not a judge", now);
            return 0;
        }
        if (!same) {
            s_failed(L, k, "another judge answers there", now);
            return 0;
        }
        peer_t *p = peers_find(L, k->peer);
        int ok = p && !strcmp(p->endpoint, k->endpoint);
        if (ok) {
            p->judge_ok = 1;
            log_info("judge %s joins the judge pool at %s", p->id, p->endpoint);
        }
        s_close(k);
        return ok;
    }
    return 0;
}

static int s_checking(const struct judge_check *c, const char *peer) {
    for (int i = 0; i < JUDGE_CHECK_MAX; i++)
        if (c->checks[i].sock && !strcmp(c->checks[i].peer, peer)) return 1;
    return 0;
}

static void s_start(learner_t *L, check_t *k, const peer_t *p, int64_t now) {
    struct judge_check *c = L->jcheck;
    snprintf(k->peer, sizeof k->peer, "%s", p->id);
    snprintf(k->endpoint, sizeof k->endpoint, "%s", p->endpoint);
    k->deadline_ms = now + JUDGE_CHECK_WAIT_MS;
    k->sock = zmq_socket(c->zctx, ZMQ_DEALER);
    wire_socket_defaults(k->sock, L->cfg->wire.max_frame_bytes);
    if ((c->curve && curve_client(c->curve, k->sock, CURVE_JUDGE, "judge pool check") != 0) ||
        zmq_connect(k->sock, k->endpoint) != 0) {
        s_failed(L, k, "it cannot be connected to", now);
        return;
    }
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_LEARNER;
    hb.policy_version = L->core.version;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    (void)wire_send(&c->wire, k->sock, NULL, &env); /* queued until connected */
}

int judge_check_tick(learner_t *L, int64_t now) {
    struct judge_check *c = L->jcheck;
    if (!c || c->trust) return 0;
    int changed = 0;
    for (int i = 0; i < JUDGE_CHECK_MAX; i++) {
        check_t *k = &c->checks[i];
        if (!k->sock) continue;
        changed |= s_read(L, k, now);
        if (k->sock && now >= k->deadline_ms) s_failed(L, k, "nothing answered there", now);
    }
    for (int i = 0; i < L->n_peers; i++) {
        const peer_t *p = &L->peers[i];
        if (p->role != SPAR__ROLE__ROLE_JUDGE || !p->hello || !p->endpoint[0] || p->judge_ok || p->left ||
            p->silent || p->check_at_ms > now || s_checking(c, p->id))
            continue;
        check_t *slot = NULL;
        for (int s = 0; s < JUDGE_CHECK_MAX && !slot; s++)
            if (!c->checks[s].sock) slot = &c->checks[s];
        if (!slot) break;
        s_start(L, slot, p, now);
    }
    return changed;
}

int judge_check_pollitems(const learner_t *L, zmq_pollitem_t *items, int max) {
    int n = 0;
    for (int i = 0; L->jcheck && i < JUDGE_CHECK_MAX && n < max; i++)
        if (L->jcheck->checks[i].sock) items[n++] = (zmq_pollitem_t){L->jcheck->checks[i].sock, 0, ZMQ_POLLIN, 0};
    return n;
}

int64_t judge_check_next_ms(const learner_t *L) {
    int64_t next = INT64_MAX;
    if (!L->jcheck || L->jcheck->trust) return next;
    for (int i = 0; i < JUDGE_CHECK_MAX; i++)
        if (L->jcheck->checks[i].sock && L->jcheck->checks[i].deadline_ms < next) next = L->jcheck->checks[i].deadline_ms;
    for (int i = 0; i < L->n_peers; i++) {
        const peer_t *p = &L->peers[i];
        if (p->role == SPAR__ROLE__ROLE_JUDGE && p->hello && p->endpoint[0] && !p->judge_ok && !p->left &&
            !p->silent && p->check_at_ms < next)
            next = p->check_at_ms;
    }
    return next;
}

void judge_check_fini(learner_t *L) {
    struct judge_check *c = L->jcheck;
    if (!c) return;
    for (int i = 0; i < JUDGE_CHECK_MAX; i++)
        if (c->checks[i].sock) s_close(&c->checks[i]);
    curve_destroy(&c->curve);
    zmq_ctx_term(c->zctx);
    wire_fini(&c->wire);
    free(c);
    L->jcheck = NULL;
}
