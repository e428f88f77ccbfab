/* judge — see judge.h. The role's main, in the order it runs: the process's name and wire, the
 * sockets, the backend judge.kind picks (judge/backend.h), the bind and the pool membership, the
 * loop, and teardown in reverse. What an answer is belongs to the backend, not to this file. */
#include "judge/judge.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/curve.h"
#include "common/log.h"
#include "common/util.h"
#include "common/wire.h"
#include "judge/backend.h"
#include "judge/presence.h"

typedef struct {
    const spar_config_t *cfg;
    wire_t wire;
    void *zctx, *sock;
    curve_t *curve;           /* security.curve: the ZAP handler admitting only security.allowed keys */
    judge_backend_t *backend; /* what answers the requests */
    judge_sink_t sink;        /* where the backend's answers go: s_reply on the ROUTER */
    presence_t *presence;     /* in the learner's judge pool, or NULL */
    uint64_t served;
    size_t max_k; /* larger requests are refused before anything is allocated for them */
} judge_t;

static void s_send(judge_t *J, const wire_peer_t *to, Spar__Envelope *env) {
    if (wire_send(&J->wire, J->sock, to, env) != 0) log_warn("reply failed: %s", zmq_strerror(zmq_errno()));
}

/* The sink of every backend answer. */
static void s_reply(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep) {
    judge_t *J = ctx;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY;
    env.judge_reply = rep;
    s_send(J, to, &env);
    J->served++;
}

/* A request of more responses than this judge answers (wire_judge_max_k): refused with an error
 * before its K x K reply is allocated, and counted as a bad message. Returns 1 when refused. */
static int s_refuse_large(judge_t *J, const wire_peer_t *from, const Spar__Envelope *in) {
    const Spar__JudgeRequest *r = in->judge_request;
    if (r->n_responses <= J->max_k) return 0;
    char why[160];
    snprintf(why, sizeof why, "judge request with %zu responses; this judge answers at most %zu (its reply must fit "
             "wire.max_frame_bytes and %ld bytes)", r->n_responses, J->max_k, (long)WIRE_JUDGE_REPLY_MAX_BYTES);
    wire_count_bad(&J->wire, in->sender_id, why);
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = r->request_id;
    rep.judge_version = J->backend->version;
    rep.k = (uint32_t)r->n_responses;
    rep.error = why;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY;
    env.judge_reply = &rep;
    s_send(J, from, &env);
    return 1;
}

static void s_on_heartbeat(judge_t *J, const wire_peer_t *from) {
    judge_stats_t st;
    judge_backend_stats(J->backend, &st);
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_JUDGE;
    hb.bad_messages = J->wire.bad_messages;
    hb.requests_served = J->served;
    hb.cache_hits = st.cache_hits;
    hb.cache_misses = st.cache_misses;
    hb.pairs_judged = st.pairs;
    hb.ties = st.ties;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    s_send(J, from, &env);
}

/* The requests held so far, to the backend in one call. */
typedef struct {
    judge_call_t calls[JUDGE_BATCH_MAX];
    Spar__Envelope *in[JUDGE_BATCH_MAX];
    int n;
} held_t;

static void s_judge_held(judge_t *J, held_t *h) {
    judge_backend_judge(J->backend, h->calls, h->n, &J->sink);
    for (int q = 0; q < h->n; q++) wire_free(h->in[q]);
    h->n = 0;
}

/* Everything waiting on the ROUTER: requests go to the backend batch by batch (a learned
 * judge's batch is every request waiting, up to JUDGE_BATCH_MAX; the others' one each). */
static void s_drain(judge_t *J) {
    held_t h;
    h.n = 0;
    while (wire_readable(J->sock)) {
        wire_peer_t from;
        Spar__Envelope *in = wire_recv(&J->wire, J->sock, 1, &from);
        if (!in) continue;
        if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REQUEST && !s_refuse_large(J, &from, in)) {
            h.calls[h.n] = (judge_call_t){from, in->sender_id, in->judge_request};
            h.in[h.n++] = in;
            if (h.n == J->backend->batch) s_judge_held(J, &h);
            continue;
        }
        if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) s_on_heartbeat(J, &from);
        else if (in->body_case != SPAR__ENVELOPE__BODY_JUDGE_REQUEST) {
            char why[96];
            snprintf(why, sizeof why, "%s is not a message for a judge", wire_body_name(in));
            wire_count_bad(&J->wire, in->sender_id, why);
        }
        wire_free(in);
    }
    s_judge_held(J, &h);
}

/* One turn of the loop: membership, a poll of the ROUTER (and an asynchronous backend's
 * socket), that backend's answers and requests past their time, then what is waiting. */
static void s_turn(judge_t *J) {
    judge_stats_t st;
    judge_backend_stats(J->backend, &st);
    presence_tick(J->presence, J->served, st.pairs);
    void *async = judge_backend_socket(J->backend);
    zmq_pollitem_t items[2] = {{J->sock, 0, ZMQ_POLLIN, 0}, {async, 0, ZMQ_POLLIN, 0}};
    int ready = zmq_poll(items, async ? 2 : 1, async ? 50 : 200);
    judge_backend_pump(J->backend, &J->sink);
    if (ready > 0) s_drain(J);
}

/* The context, the ROUTER and its CURVE server. Returns 0 or 2 (logged). */
static int s_open_sockets(judge_t *J) {
    char why[512];
    J->zctx = zmq_ctx_new();
    J->sock = zmq_socket(J->zctx, ZMQ_ROUTER);
    wire_socket_defaults(J->sock, J->cfg->wire.max_frame_bytes);
    if (!(J->curve = curve_new(J->zctx, J->cfg, why, sizeof why))) {
        log_error("config error: %s", why);
        return 2;
    }
    return curve_server(J->curve, J->sock, "judge.bind") != 0 ? 2 : 0;
}

/* Binds judge.bind and says what it serves. Returns 0 or 1 (logged). */
static int s_bind(judge_t *J) {
    const char *bind = J->cfg->judge.bind;
    if (zmq_bind(J->sock, bind) != 0) {
        log_error("cannot bind judge.bind %s: %s", bind, zmq_strerror(zmq_errno()));
        return 1;
    }
    log_info("judge %s %s on %s", J->backend->version, J->backend->serving, bind);
    log_info("judge answers requests of at most %zu responses", J->max_k);
    return 0;
}

static void s_log_totals(judge_t *J) {
    log_info("judge stopping: %llu requests served, %llu bad messages", (unsigned long long)J->served,
             (unsigned long long)J->wire.bad_messages);
    judge_stats_t st = {0};
    if (J->backend) judge_backend_stats(J->backend, &st);
    if (st.pairs) log_info("judge: %llu pairs judged, tie rate %.4f, position bias 0 (an answer's score never depends "
                           "on its position)", (unsigned long long)st.pairs, (double)st.ties / (double)st.pairs);
}

int judge_main(const spar_config_t *cfg, const char *id) {
    judge_t J = {.cfg = cfg, .sink = {s_reply, NULL}};
    J.sink.ctx = &J;
    char sid[128];
    util_process_id(id && id[0] ? id : "judge", sid, sizeof sid);
    wire_init(&J.wire, sid, cfg->wire.max_frame_bytes);
    log_set_name(id && id[0] ? id : "judge");
    util_install_stop_signals();

    int status = s_open_sockets(&J);
    if (status == 0) status = judge_backend_from_config(cfg, J.zctx, J.curve, &J.wire, &J.backend);
    if (status == 0) J.max_k = wire_judge_max_k(cfg->wire.max_frame_bytes, J.backend->rewards);
    if (status == 0) status = s_bind(&J);
    if (status == 0) J.presence = presence_new(cfg, &J.wire);
    while (status == 0 && !util_stop_requested()) s_turn(&J);

    s_log_totals(&J);
    presence_destroy(&J.presence);
    judge_backend_destroy(&J.backend); /* logs its caches */
    if (J.curve && cfg->security.curve)
        log_info("judge: %llu connections refused (CURVE)", (unsigned long long)curve_refused(J.curve));
    zmq_close(J.sock);
    curve_destroy(&J.curve);
    zmq_ctx_term(J.zctx);
    wire_fini(&J.wire);
    return status;
}
