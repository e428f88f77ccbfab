/* The judge's serving on common/loop (judge/serve.h) over real inproc sockets: a request is
 * answered by the backend, one of more responses than the judge answers is refused, a heartbeat
 * gets the judge's counters, anything else is counted; the remote backend's answers come back
 * through its socket and a request its remote leaves unanswered is answered with an error by the
 * loop's timer, at judge.timeout_ms; remote_expire says when it is next due. */
#include "tests/testutil.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/config.h"
#include "common/loop.h"
#include "common/msg.h"
#include "common/util.h"
#include "common/wire_socket.h"
#include "judge/backend.h"
#include "judge/remote.h"
#include "judge/serve.h"

#define FRAME (1 << 20)

static void *s_open(void *ctx, int type, const char *ep, int bind) {
    wire_socket_opts_t o = {.label = "test", .type = type, .endpoint = ep, .bind = bind, .max_frame_bytes = FRAME};
    void *s = wire_socket_open(ctx, &o);
    assert_non_null(s);
    return s;
}

/* A request of k one-token responses (the matrix backend's actions 0, 1, 2, 0, ...). */
typedef struct {
    Spar__JudgeRequest req;
    Spar__Response resp[8], *rp[8];
    uint32_t tokens[8];
} request_t;

static Spar__JudgeRequest *s_request(request_t *q, uint64_t id, size_t k) {
    memset(q, 0, sizeof *q);
    spar__judge_request__init(&q->req);
    q->req.request_id = id, q->req.prompt = "game-2", q->req.prompt_id = 2, q->req.responses = q->rp;
    q->req.n_responses = k;
    for (size_t i = 0; i < k; i++) {
        spar__response__init(&q->resp[i]);
        q->tokens[i] = (uint32_t)(i % 3);
        q->resp[i].tokens = &q->tokens[i], q->resp[i].n_tokens = 1, q->resp[i].logprob = -1;
        q->rp[i] = &q->resp[i];
    }
    return &q->req;
}

/* Runs the loop until a message waits on sock (at most 3 s); returns it. */
static Spar__Envelope *s_await(loop_t *loop, wire_t *w, void *sock, int router, wire_peer_t *from) {
    int64_t until = util_now_ms() + 3000;
    while (!wire_readable(sock) && util_now_ms() < until) assert_true(loop_once(loop, 20) >= 0);
    Spar__Envelope *in = wire_recv(w, sock, router, from);
    assert_non_null(in);
    return in;
}

static void test_serve_answers_refuses_and_counts(void **state) {
    (void)state;
    spar_config_t cfg;
    config_defaults(&cfg);
    char why[256];
    judge_backend_t *b = judge_backend_matrix(&cfg, why, sizeof why);
    assert_non_null(b);
    void *ctx = zmq_ctx_new(), *router = s_open(ctx, ZMQ_ROUTER, "inproc://serve-a", 1);
    void *actor = s_open(ctx, ZMQ_DEALER, "inproc://serve-a", 0);
    wire_t wj, wa;
    wire_init(&wj, "judge-test", FRAME);
    wire_init(&wa, "actor-test", FRAME);
    loop_t *loop = loop_new();
    serve_t S;
    serve_start(&S, loop, &wj, router, b, 3);

    request_t q;
    assert_int_equal(msg_send_judge_request(&wa, actor, NULL, s_request(&q, 7, 3)), 0);
    assert_int_equal(msg_send_judge_request(&wa, actor, NULL, s_request(&q, 8, 4)), 0); /* K 4 > 3 */
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_ACTOR};
    assert_int_equal(msg_send_heartbeat(&wa, actor, NULL, &hb), 0);
    assert_int_equal(msg_send_work_request(&wa, actor, NULL, 0, 1), 0); /* not for a judge */

    Spar__Envelope *in = s_await(loop, &wa, actor, 0, NULL);
    assert_int_equal(in->body_case, SPAR__ENVELOPE__BODY_JUDGE_REPLY);
    assert_int_equal(in->judge_reply->request_id, 7);
    assert_int_equal(in->judge_reply->n_preference, 9);
    assert_string_equal(in->judge_reply->judge_version, b->version);
    wire_free(in);
    in = s_await(loop, &wa, actor, 0, NULL);
    assert_int_equal(in->judge_reply->request_id, 8);
    assert_non_null(strstr(in->judge_reply->error, "this judge answers at most 3"));
    assert_int_equal(in->judge_reply->n_preference, 0);
    wire_free(in);
    in = s_await(loop, &wa, actor, 0, NULL);
    assert_int_equal(in->body_case, SPAR__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal(in->heartbeat->role, SPAR__ROLE__ROLE_JUDGE);
    assert_int_equal(in->heartbeat->requests_served, 1); /* a refusal is not served */
    assert_int_equal(in->heartbeat->pairs_judged, 3);
    assert_int_equal(in->heartbeat->bad_messages, 1); /* the refusal; the work request is behind it */
    wire_free(in);
    for (int i = 0; i < 3; i++) loop_once(loop, 20);
    assert_int_equal(wj.bad_messages, 2);
    uint64_t served, pairs;
    serve_counts(&S, &served, &pairs);
    assert_int_equal(served, 1);
    assert_int_equal(pairs, 3);

    loop_destroy(&loop);
    judge_backend_destroy(&b);
    zmq_close(actor), zmq_close(router);
    zmq_ctx_term(ctx);
    wire_fini(&wj), wire_fini(&wa);
}

/* The fake remote judge's answer to one forwarded request of 2 responses. */
static void s_remote_answers(wire_t *w, void *remote, Spar__Envelope *fwd, const wire_peer_t *judge) {
    double P[4] = {0.5, 0.8, 0.2, 0.5};
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = fwd->judge_request->request_id;
    rep.k = 2;
    rep.judge_version = "fake-remote-1";
    rep.preference = P, rep.n_preference = 4;
    assert_int_equal(msg_send_judge_reply(w, remote, judge, &rep), 0);
}

static void test_serve_relays_remote_and_times_out(void **state) {
    (void)state;
    spar_config_t cfg;
    config_defaults(&cfg);
    char err[256];
    assert_int_equal(config_set(&cfg, "judge.remote=inproc://serve-remote", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "judge.timeout_ms=100", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "judge.cache_entries=0", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "judge.both_orders=0", err, sizeof err), 0);
    void *ctx = zmq_ctx_new(), *remote = s_open(ctx, ZMQ_ROUTER, "inproc://serve-remote", 1);
    void *router = s_open(ctx, ZMQ_ROUTER, "inproc://serve-b", 1), *actor = s_open(ctx, ZMQ_DEALER, "inproc://serve-b", 0);
    wire_t wj, wa, wr;
    wire_init(&wj, "judge-test", FRAME);
    wire_init(&wa, "actor-test", FRAME);
    wire_init(&wr, "remote-test", FRAME);
    judge_backend_t *b = judge_backend_remote(&cfg, ctx, NULL, &wj);
    assert_non_null(b);
    loop_t *loop = loop_new();
    serve_t S;
    serve_start(&S, loop, &wj, router, b, 8);

    request_t q;
    assert_int_equal(msg_send_judge_request(&wa, actor, NULL, s_request(&q, 21, 2)), 0);
    wire_peer_t judge;
    Spar__Envelope *fwd = s_await(loop, &wr, remote, 1, &judge);
    s_remote_answers(&wr, remote, fwd, &judge);
    wire_free(fwd);
    Spar__Envelope *in = s_await(loop, &wa, actor, 0, NULL);
    assert_int_equal(in->judge_reply->request_id, 21);
    assert_string_equal(in->judge_reply->judge_version, "fake-remote-1");
    assert_true(in->judge_reply->n_preference == 4 && in->judge_reply->preference[1] == 0.8);
    wire_free(in);

    int64_t sent = util_now_ms();
    assert_int_equal(msg_send_judge_request(&wa, actor, NULL, s_request(&q, 22, 2)), 0);
    wire_free(s_await(loop, &wr, remote, 1, &judge)); /* forwarded, never answered */
    in = s_await(loop, &wa, actor, 0, NULL);
    assert_true(util_now_ms() - sent >= 100);
    assert_int_equal(in->judge_reply->request_id, 22);
    assert_string_equal(in->judge_reply->error, "the remote judge did not answer in time");
    wire_free(in);
    assert_int_equal(S.served, 2);

    loop_destroy(&loop);
    judge_backend_destroy(&b);
    zmq_close(actor), zmq_close(router), zmq_close(remote);
    zmq_ctx_term(ctx);
    wire_fini(&wj), wire_fini(&wa), wire_fini(&wr);
}

static void s_count_reply(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep) {
    (void)to;
    assert_string_equal(rep->error, "the remote judge did not answer in time");
    (*(int *)ctx)++;
}

static void test_remote_expire_says_when(void **state) {
    (void)state;
    void *ctx = zmq_ctx_new();
    wire_t w;
    wire_init(&w, "judge-test", FRAME);
    remote_t *r = remote_new(ctx, NULL, "inproc://serve-nobody", &w, 50, 0, 0);
    assert_non_null(r);
    int replies = 0;
    assert_int_equal(remote_expire(r, 1000, s_count_reply, &replies), 1050); /* none pending */
    request_t q;
    wire_peer_t actor = {.len = 1};
    int64_t before = util_now_ms();
    assert_int_equal(remote_forward(r, &actor, s_request(&q, 5, 2), s_count_reply, &replies), 0);
    int64_t after = util_now_ms();
    int64_t due = remote_expire(r, after, s_count_reply, &replies); /* its deadline */
    assert_true(due >= before + 50 && due <= after + 50);
    assert_int_equal(replies, 0);
    assert_int_equal(remote_expire(r, due - 1, s_count_reply, &replies), due);
    assert_int_equal(replies, 0);
    assert_int_equal(remote_expire(r, due, s_count_reply, &replies), due + 50);
    assert_int_equal(replies, 1);
    assert_int_equal(remote_expire(r, due + 50, s_count_reply, &replies), due + 100); /* answered once */
    assert_int_equal(replies, 1);
    remote_destroy(&r);
    zmq_ctx_term(ctx);
    wire_fini(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_answers_refuses_and_counts),
        cmocka_unit_test(test_serve_relays_remote_and_times_out),
        cmocka_unit_test(test_remote_expire_says_when),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
