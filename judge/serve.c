/* serve — see serve.h. One handler drains the ROUTER, holding requests until the backend's batch
 * is full or nothing more waits; a refused request and a heartbeat are answered here, every
 * other answer comes from the backend through the sink. The only clock here is the loop's, for
 * an asynchronous backend's deadlines. */
#include "judge/serve.h"

#include <stdio.h>
#include <zmq.h>

#include "common/log.h"
#include "common/msg.h"

static void s_send_reply(serve_t *S, const wire_peer_t *to, Spar__JudgeReply *rep) {
    if (msg_send_judge_reply(S->wire, S->router, to, rep) != 0) log_warn("reply failed: %s", zmq_strerror(zmq_errno()));
}

/* The sink of every backend answer. */
static void s_reply(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep) {
    serve_t *S = ctx;
    s_send_reply(S, to, rep);
    S->served++;
}

/* A request of more responses than this judge answers (wire_judge_max_k): refused with an error
 * before its K x K reply is allocated, and counted as a bad message. Returns 1 when refused. */
static int s_refuse_large(serve_t *S, const wire_peer_t *from, const Spar__Envelope *in) {
    const Spar__JudgeRequest *r = in->judge_request;
    if (r->n_responses <= S->max_k) return 0;
    char why[160];
    snprintf(why, sizeof why, "judge request with %zu responses; this judge answers at most %zu (its reply must fit "
             "wire.max_frame_bytes and %ld bytes)", r->n_responses, S->max_k, (long)WIRE_JUDGE_REPLY_MAX_BYTES);
    wire_count_bad(S->wire, in->sender_id, why);
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = r->request_id;
    rep.judge_version = S->backend->version;
    rep.k = (uint32_t)r->n_responses;
    rep.error = why;
    s_send_reply(S, from, &rep);
    return 1;
}

static void s_on_heartbeat(serve_t *S, const wire_peer_t *from) {
    judge_stats_t st;
    judge_backend_stats(S->backend, &st);
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_JUDGE, .bad_messages = S->wire->bad_messages,
                          .requests_served = S->served, .pairs_judged = st.pairs, .ties = st.ties,
                          .cache_hits = st.cache_hits, .cache_misses = st.cache_misses};
    if (msg_send_heartbeat(S->wire, S->router, from, &hb) != 0) log_warn("reply failed: %s", zmq_strerror(zmq_errno()));
}

/* The requests held so far, to the backend in one call. */
typedef struct {
    judge_call_t calls[JUDGE_BATCH_MAX];
    Spar__Envelope *in[JUDGE_BATCH_MAX];
    int n;
} held_t;

static void s_judge_held(serve_t *S, held_t *h) {
    if (S->busy) S->busy(S->busy_ctx, 1);
    judge_backend_judge(S->backend, h->calls, h->n, &S->sink);
    if (S->busy) S->busy(S->busy_ctx, 0);
    for (int q = 0; q < h->n; q++) wire_free(h->in[q]);
    h->n = 0;
}

/* The ROUTER's handler, everything waiting on it: requests go to the backend batch by batch (a
 * learned judge's batch is every request waiting, up to JUDGE_BATCH_MAX; the others' one each). */
static void s_on_router(loop_t *loop, void *socket, void *arg) {
    (void)loop;
    serve_t *S = arg;
    held_t h;
    h.n = 0;
    while (wire_readable(socket)) {
        wire_peer_t from;
        Spar__Envelope *in = wire_recv(S->wire, socket, 1, &from);
        if (!in) continue;
        if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REQUEST && !s_refuse_large(S, &from, in)) {
            h.calls[h.n] = (judge_call_t){from, in->sender_id, in->judge_request};
            h.in[h.n++] = in;
            if (h.n == S->backend->batch) s_judge_held(S, &h);
            continue;
        }
        if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) s_on_heartbeat(S, &from);
        else if (in->body_case != SPAR__ENVELOPE__BODY_JUDGE_REQUEST) {
            char why[96];
            snprintf(why, sizeof why, "%s is not a message for a judge", wire_body_name(in));
            wire_count_bad(S->wire, in->sender_id, why);
        }
        wire_free(in);
    }
    s_judge_held(S, &h);
}

/* An asynchronous backend's socket: the answers it relays. */
static void s_on_backend(loop_t *loop, void *socket, void *arg) {
    (void)loop, (void)socket;
    serve_t *S = arg;
    judge_backend_pump(S->backend, &S->sink);
}

/* Its requests past their time, answered with an error; again when the backend says. */
static int64_t s_expire_timer(loop_t *loop, uint64_t id, int64_t now_ms, void *arg) {
    (void)loop, (void)id;
    serve_t *S = arg;
    int64_t next = judge_backend_expire(S->backend, now_ms, &S->sink);
    return next >= 0 ? next : LOOP_TIMER_DONE;
}

void serve_start(serve_t *S, loop_t *loop, wire_t *wire, void *router, judge_backend_t *backend, size_t max_k) {
    *S = (serve_t){.wire = wire, .router = router, .backend = backend, .sink = {s_reply, S}, .max_k = max_k};
    loop_add_socket(loop, router, s_on_router, S);
    void *async = judge_backend_socket(backend);
    if (!async) return;
    loop_add_socket(loop, async, s_on_backend, S);
    loop_add_timer(loop, loop_now(loop), s_expire_timer, S);
}

void serve_counts(void *ctx, uint64_t *served, uint64_t *pairs) {
    const serve_t *S = ctx;
    judge_stats_t st;
    judge_backend_stats(S->backend, &st);
    *served = S->served;
    *pairs = st.pairs;
}
