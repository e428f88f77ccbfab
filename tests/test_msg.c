/* msg and wire_socket: every typed sender's envelope, sent over a real socket pair that
 * wire_socket_open made, is decoded by wire_recv with its body and fields; a ROUTER answers by
 * routing id; PUB/SUB subscribe to everything; the frame limit holds; a bad endpoint gives NULL. */
#include "tests/testutil.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/msg.h"
#include "common/util.h"
#include "common/wire_socket.h"

#define FRAME (1 << 20)

typedef struct {
    void *ctx, *router, *dealer;
    wire_t wr, wd; /* the router's and the dealer's ends */
    wire_peer_t dealer_id; /* as the router saw it */
} pair_t;

static void *s_open(void *ctx, int type, const char *ep, int bind, long max, const char *rid) {
    wire_socket_opts_t o = {.label = "test", .type = type, .endpoint = ep, .bind = bind, .max_frame_bytes = max,
                            .routing_id = rid};
    return wire_socket_open(ctx, &o);
}

static void s_pair(pair_t *p, const char *name) {
    char ep[128];
    snprintf(ep, sizeof ep, "inproc://test-msg-%s", name);
    p->ctx = zmq_ctx_new();
    assert_non_null(p->router = s_open(p->ctx, ZMQ_ROUTER, ep, 1, FRAME, NULL));
    assert_non_null(p->dealer = s_open(p->ctx, ZMQ_DEALER, ep, 0, FRAME, "dealer-1"));
    wire_init(&p->wr, "router", FRAME);
    wire_init(&p->wd, "dealer", FRAME);
}

static void s_unpair(pair_t *p) {
    zmq_close(p->router);
    zmq_close(p->dealer);
    zmq_ctx_term(p->ctx);
    assert_int_equal(p->wr.bad_messages + p->wd.bad_messages, 0);
    wire_fini(&p->wr);
    wire_fini(&p->wd);
}

/* The next envelope on sock within timeout_ms, or NULL. */
static Spar__Envelope *s_recv(wire_t *w, void *sock, int router, wire_peer_t *from, int timeout_ms) {
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1) return NULL;
    return wire_recv(w, sock, router, from);
}

/* What the router got from the dealer, of the expected body type and sender. */
static Spar__Envelope *s_at_router(pair_t *p, Spar__Envelope__BodyCase want) {
    Spar__Envelope *e = s_recv(&p->wr, p->router, 1, &p->dealer_id, 2000);
    assert_non_null(e);
    assert_int_equal(e->body_case, want);
    assert_string_equal(e->sender_id, "dealer");
    assert_int_equal(p->dealer_id.len, 8);
    assert_memory_equal(p->dealer_id.id, "dealer-1", 8);
    return e;
}

static Spar__Envelope *s_at_dealer(pair_t *p, Spar__Envelope__BodyCase want) {
    Spar__Envelope *e = s_recv(&p->wd, p->dealer, 0, NULL, 2000);
    assert_non_null(e);
    assert_int_equal(e->body_case, want);
    assert_string_equal(e->sender_id, "router");
    return e;
}

static void test_msg_field_senders_deliver_their_fields(void **state) {
    (void)state;
    pair_t p;
    s_pair(&p, "fields");
    Spar__Envelope *e;
    assert_int_equal(msg_send_hello(&p.wd, p.dealer, NULL, SPAR__ROLE__ROLE_JUDGE, "host-a", 42, "tcp://h:1"), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_HELLO);
    assert_int_equal(e->hello->role, SPAR__ROLE__ROLE_JUDGE);
    assert_string_equal(e->hello->host, "host-a");
    assert_int_equal(e->hello->pid, 42);
    assert_string_equal(e->hello->endpoint, "tcp://h:1");
    wire_free(e);

    msg_heartbeat_t c = {.role = SPAR__ROLE__ROLE_JUDGE, .policy_version = 1, .bad_messages = 2, .groups_sent = 3,
                         .requests_served = 4, .pairs_judged = 5, .ties = 6, .cache_hits = 7, .cache_misses = 8,
                         .hello_first = 1};
    assert_int_equal(msg_send_heartbeat(&p.wd, p.dealer, NULL, &c), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_HEARTBEAT);
    const Spar__Heartbeat *hb = e->heartbeat;
    assert_int_equal(hb->role, SPAR__ROLE__ROLE_JUDGE);
    assert_int_equal(hb->policy_version, 1);
    assert_int_equal(hb->bad_messages, 2);
    assert_int_equal(hb->groups_sent, 3);
    assert_int_equal(hb->requests_served, 4);
    assert_int_equal(hb->pairs_judged, 5);
    assert_int_equal(hb->ties, 6);
    assert_int_equal(hb->cache_hits, 7);
    assert_int_equal(hb->cache_misses, 8);
    assert_true(hb->hello_first);
    wire_free(e);

    assert_int_equal(msg_send_work_request(&p.wd, p.dealer, NULL, 9, 16), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_WORK_REQUEST);
    assert_int_equal(e->work_request->have_version, 9);
    assert_int_equal(e->work_request->max_prompts, 16);
    wire_free(e);

    assert_int_equal(msg_send_weights_fetch(&p.wd, p.dealer, NULL, 3, 7), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_WEIGHTS_FETCH);
    assert_int_equal(e->weights_fetch->version, 3);
    assert_int_equal(e->weights_fetch->chunk_index, 7);
    wire_free(e);

    assert_int_equal(msg_send_status_request(&p.wd, p.dealer, NULL, 5), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_STATUS_REQUEST);
    assert_int_equal(e->status_request->iterations, 5);
    wire_free(e);

    assert_int_equal(msg_send_shutdown(&p.wd, p.dealer, NULL, "actor stopping"), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_SHUTDOWN);
    assert_string_equal(e->shutdown->reason, "actor stopping");
    wire_free(e);
    assert_int_equal(msg_send_shutdown(&p.wd, p.dealer, NULL, "judge stopping"), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_SHUTDOWN);
    assert_string_equal(e->shutdown->reason, "judge stopping");
    assert_int_equal(e->seq, 7); /* every sender numbers through the same wire_t */
    wire_free(e);
    s_unpair(&p);
}

/* The learner's field senders, answered to the dealer by its routing id. */
static void test_msg_router_replies_reach_the_peer(void **state) {
    (void)state;
    pair_t p;
    s_pair(&p, "replies");
    assert_int_equal(msg_send_status_request(&p.wd, p.dealer, NULL, 0), 0);
    wire_free(s_at_router(&p, SPAR__ENVELOPE__BODY_STATUS_REQUEST));
    const wire_peer_t *to = &p.dealer_id;
    Spar__Envelope *e;

    assert_int_equal(msg_send_rollout_ack(&p.wr, p.router, to, 4, 11, SPAR__ACK_STATUS__ACK_STALE), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_ROLLOUT_ACK);
    assert_int_equal(e->rollout_ack->iteration, 4);
    assert_int_equal(e->rollout_ack->prompt_id, 11);
    assert_int_equal(e->rollout_ack->status, SPAR__ACK_STATUS__ACK_STALE);
    wire_free(e);

    uint8_t digest[32];
    for (int i = 0; i < 32; i++) digest[i] = (uint8_t)i;
    assert_int_equal(msg_send_weights_available(&p.wr, p.router, to, 6, 1000, 3, digest), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE);
    assert_int_equal(e->weights_available->version, 6);
    assert_int_equal(e->weights_available->total_bytes, 1000);
    assert_int_equal(e->weights_available->n_chunks, 3);
    assert_int_equal(e->weights_available->digest.len, 32);
    assert_memory_equal(e->weights_available->digest.data, digest, 32);
    wire_free(e);

    char *judges[] = {"tcp://j1:5557", "tcp://j2:5557"};
    assert_int_equal(msg_send_judge_pool(&p.wr, p.router, to, judges, 2), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_JUDGE_POOL);
    assert_int_equal(e->judge_pool->n_endpoints, 2);
    assert_string_equal(e->judge_pool->endpoints[1], "tcp://j2:5557");
    wire_free(e);

    assert_int_equal(msg_send_iteration_summary(&p.wr, p.router, to, 12, "{\"iteration\":12}"), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_ITERATION_SUMMARY);
    assert_int_equal(e->iteration_summary->iteration, 12);
    assert_string_equal(e->iteration_summary->json, "{\"iteration\":12}");
    wire_free(e);

    char *lines[] = {"{\"iteration\":1}", "{\"iteration\":2}"};
    assert_int_equal(msg_send_status(&p.wr, p.router, to, "{\"state\":\"running\"}", lines, 2), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_STATUS);
    assert_string_equal(e->status->json, "{\"state\":\"running\"}");
    assert_int_equal(e->status->n_iterations, 2);
    assert_string_equal(e->status->iterations[0], "{\"iteration\":1}");
    wire_free(e);
    s_unpair(&p);
}

static Spar__Response *s_response(const char *text, uint32_t *tokens) {
    static Spar__Response r[4];
    static int n;
    Spar__Response *x = &r[n++ % 4];
    spar__response__init(x);
    x->text = (char *)text;
    x->tokens = tokens;
    x->n_tokens = 2;
    x->logprob = -1.5;
    return x;
}

static void test_msg_body_senders_deliver_the_filled_body(void **state) {
    (void)state;
    pair_t p;
    s_pair(&p, "bodies");
    Spar__Envelope *e;
    uint32_t tokens[2] = {5, 6};
    Spar__Response *rs[2] = {s_response("a", tokens), s_response("b", tokens)};
    double pref[4] = {0.5, 0.75, 0.25, 0.5};

    Spar__RolloutGroup g = SPAR__ROLLOUT_GROUP__INIT;
    g.iteration = 2, g.prompt_id = 3, g.responses = rs, g.n_responses = 2, g.preference = pref, g.n_preference = 4;
    g.actor_id = "actor-1";
    assert_int_equal(msg_send_rollout_group(&p.wd, p.dealer, NULL, &g), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_ROLLOUT_GROUP);
    assert_int_equal(e->rollout_group->prompt_id, 3);
    assert_int_equal(e->rollout_group->n_responses, 2);
    assert_string_equal(e->rollout_group->responses[1]->text, "b");
    assert_true(e->rollout_group->preference[1] == 0.75);
    wire_free(e);

    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = 77, jr.prompt = "2+2", jr.responses = rs, jr.n_responses = 2;
    assert_int_equal(msg_send_judge_request(&p.wd, p.dealer, NULL, &jr), 0);
    e = s_at_router(&p, SPAR__ENVELOPE__BODY_JUDGE_REQUEST);
    assert_int_equal(e->judge_request->request_id, 77);
    assert_string_equal(e->judge_request->prompt, "2+2");
    wire_free(e);
    const wire_peer_t *to = &p.dealer_id;

    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = 77, rep.judge_version = "rule", rep.k = 2, rep.preference = pref, rep.n_preference = 4;
    assert_int_equal(msg_send_judge_reply(&p.wr, p.router, to, &rep), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_JUDGE_REPLY);
    assert_int_equal(e->judge_reply->request_id, 77);
    assert_string_equal(e->judge_reply->judge_version, "rule");
    assert_int_equal(e->judge_reply->n_preference, 4);
    wire_free(e);

    Spar__Welcome w = SPAR__WELCOME__INIT;
    w.run_id = "run-1", w.current_version = 4, w.heartbeat_ms = 500, w.seed = 9, w.prompts = 8;
    assert_int_equal(msg_send_welcome(&p.wr, p.router, to, &w), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_WELCOME);
    assert_string_equal(e->welcome->run_id, "run-1");
    assert_int_equal(e->welcome->heartbeat_ms, 500);
    assert_int_equal(e->welcome->prompts, 8);
    wire_free(e);

    uint32_t ids[2] = {1, 2};
    Spar__WorkGrant wg = SPAR__WORK_GRANT__INIT;
    wg.lease_id = 5, wg.prompt_ids = ids, wg.n_prompt_ids = 2, wg.samples_per_prompt = 4, wg.temperature = 1;
    assert_int_equal(msg_send_work_grant(&p.wr, p.router, to, &wg), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_WORK_GRANT);
    assert_int_equal(e->work_grant->lease_id, 5);
    assert_int_equal(e->work_grant->n_prompt_ids, 2);
    assert_int_equal(e->work_grant->samples_per_prompt, 4);
    wire_free(e);

    uint8_t digest[32] = {1}, data[3] = {7, 8, 9};
    Spar__WeightsChunk c = SPAR__WEIGHTS_CHUNK__INIT;
    c.version = 4, c.chunk_index = 1, c.n_chunks = 2, c.total_bytes = 6, c.offset = 3;
    c.data = (ProtobufCBinaryData){3, data}, c.digest = (ProtobufCBinaryData){32, digest};
    c.chunk_digest = (ProtobufCBinaryData){32, digest};
    assert_int_equal(msg_send_weights_chunk(&p.wr, p.router, to, &c), 0);
    e = s_at_dealer(&p, SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK);
    assert_int_equal(e->weights_chunk->offset, 3);
    assert_int_equal(e->weights_chunk->data.len, 3);
    assert_memory_equal(e->weights_chunk->data.data, data, 3);
    wire_free(e);
    s_unpair(&p);
}

static void test_msg_envelope_points_the_body(void **state) {
    (void)state;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    Spar__Status st = SPAR__STATUS__INIT;
    msg_envelope(&env, SPAR__ENVELOPE__BODY_STATUS, &st);
    assert_int_equal(env.body_case, SPAR__ENVELOPE__BODY_STATUS);
    assert_ptr_equal(env.status, &st);
    msg_envelope(&env, (Spar__Envelope__BodyCase)99, &st); /* no such body: the decoder would refuse it */
    assert_int_equal(env.body_case, SPAR__ENVELOPE__BODY__NOT_SET);
}

/* PUB binds, SUB connects and hears everything without setting a subscription itself. */
static void test_wire_socket_open_sub_hears_everything(void **state) {
    (void)state;
    void *ctx = zmq_ctx_new();
    void *pub = s_open(ctx, ZMQ_PUB, "inproc://test-msg-pub", 1, FRAME, NULL);
    void *sub = s_open(ctx, ZMQ_SUB, "inproc://test-msg-pub", 0, FRAME, NULL);
    assert_non_null(pub);
    assert_non_null(sub);
    wire_t wp, ws;
    wire_init(&wp, "learner", FRAME);
    wire_init(&ws, "actor", FRAME);
    Spar__Envelope *e = NULL;
    for (int i = 0; i < 40 && !e; i++) { /* a SUB hears only what is sent after it joined */
        assert_int_equal(msg_send_iteration_summary(&wp, pub, NULL, 1, "{}"), 0);
        e = s_recv(&ws, sub, 0, NULL, 50);
    }
    assert_non_null(e);
    assert_int_equal(e->body_case, SPAR__ENVELOPE__BODY_ITERATION_SUMMARY);
    wire_free(e);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    wire_fini(&wp);
    wire_fini(&ws);
}

/* The receiver's limit holds: a frame larger than it is never delivered, a small one is. */
static void test_wire_socket_open_applies_the_frame_limit(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *ep = xasprintf("ipc://%s/limit", dir);
    void *ctx = zmq_ctx_new();
    void *router = s_open(ctx, ZMQ_ROUTER, ep, 1, 4096, NULL);
    void *dealer = s_open(ctx, ZMQ_DEALER, ep, 0, FRAME, "big");
    assert_non_null(router);
    assert_non_null(dealer);
    wire_t wr, wd;
    wire_init(&wr, "router", FRAME); /* only the socket's limit can stop the large frame */
    wire_init(&wd, "dealer", FRAME);
    assert_int_equal(msg_send_status(&wd, dealer, NULL, "{}", NULL, 0), 0);
    Spar__Envelope *e = s_recv(&wr, router, 1, NULL, 2000);
    assert_non_null(e);
    wire_free(e);
    char *big = xmalloc(8192);
    memset(big, 'x', 8191);
    big[8191] = 0;
    assert_int_equal(msg_send_status(&wd, dealer, NULL, big, NULL, 0), 0);
    assert_null(s_recv(&wr, router, 1, NULL, 500));
    assert_int_equal(wr.bad_messages, 0); /* never read, not read and refused */
    free(big);
    zmq_close(router);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    wire_fini(&wr);
    wire_fini(&wd);
    free(ep);
    tu_done(dir);
}

static void test_wire_socket_open_refuses_bad_endpoints(void **state) {
    (void)state;
    void *ctx = zmq_ctx_new();
    assert_null(s_open(ctx, ZMQ_DEALER, "nonsense://where", 0, FRAME, NULL));
    assert_null(s_open(ctx, ZMQ_ROUTER, "tcp://256.1.1.1:1", 1, FRAME, NULL));
    void *a = s_open(ctx, ZMQ_ROUTER, "inproc://test-msg-taken", 1, FRAME, NULL);
    assert_non_null(a);
    assert_null(s_open(ctx, ZMQ_ROUTER, "inproc://test-msg-taken", 1, FRAME, NULL)); /* address in use */
    zmq_close(a);
    zmq_ctx_term(ctx); /* would hang on a socket left open */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_field_senders_deliver_their_fields),
        cmocka_unit_test(test_msg_router_replies_reach_the_peer),
        cmocka_unit_test(test_msg_body_senders_deliver_the_filled_body),
        cmocka_unit_test(test_msg_envelope_points_the_body),
        cmocka_unit_test(test_wire_socket_open_sub_hears_everything),
        cmocka_unit_test(test_wire_socket_open_applies_the_frame_limit),
        cmocka_unit_test(test_wire_socket_open_refuses_bad_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
