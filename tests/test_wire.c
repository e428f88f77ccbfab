/* Wire: every message round-trips; the decoder refuses truncated, oversized, garbage and
 * wrong-version frames and bad preference matrices; and live learner, judge and actor
 * processes count such frames, drop them and go on serving. */
#include "tests/testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/records.h"
#include "common/util.h"
#include "common/wire.h"

static uint8_t *s_pack(Spar__Envelope *e, uint32_t version, size_t *len) {
    e->protocol_version = version;
    *len = spar__envelope__get_packed_size(e);
    uint8_t *buf = xmalloc(*len);
    spar__envelope__pack(e, buf);
    return buf;
}

static Spar__Envelope *s_round_trip(Spar__Envelope *e) {
    size_t len;
    uint8_t *buf = s_pack(e, WIRE_PROTOCOL_VERSION, &len);
    char why[256] = "";
    Spar__Envelope *d = wire_decode(buf, len, 1 << 20, why, sizeof why);
    free(buf);
    if (!d) fail_msg("round trip of %s failed: %s", wire_body_name(e), why);
    assert_int_equal(d->body_case, e->body_case);
    return d;
}

static void test_wire_every_message_round_trips(void **state) {
    (void)state;
    Spar__Envelope e = SPAR__ENVELOPE__INIT, *d;
    e.run_id = "run-1";
    e.sender_id = "tester";
    e.seq = 77;

    Spar__Hello h = SPAR__HELLO__INIT;
    h.role = SPAR__ROLE__ROLE_ACTOR, h.host = "box", h.pid = 12;
    e.body_case = SPAR__ENVELOPE__BODY_HELLO, e.hello = &h;
    d = s_round_trip(&e);
    assert_int_equal(d->hello->pid, 12);
    assert_string_equal(d->hello->host, "box");
    assert_string_equal(d->run_id, "run-1");
    assert_int_equal(d->seq, 77);
    wire_free(d);

    Spar__Welcome w = SPAR__WELCOME__INIT;
    w.run_id = "r", w.current_version = 5, w.seed = 9, w.prompts = 16, w.policy_kind = "tabular";
    e.body_case = SPAR__ENVELOPE__BODY_WELCOME, e.welcome = &w;
    d = s_round_trip(&e);
    assert_int_equal(d->welcome->current_version, 5);
    assert_int_equal(d->welcome->seed, 9);
    wire_free(d);

    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.bad_messages = 3, hb.policy_version = 2;
    e.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT, e.heartbeat = &hb;
    d = s_round_trip(&e);
    assert_int_equal(d->heartbeat->bad_messages, 3);
    wire_free(d);

    Spar__WorkRequest wr = SPAR__WORK_REQUEST__INIT;
    wr.have_version = 4, wr.max_prompts = 2;
    e.body_case = SPAR__ENVELOPE__BODY_WORK_REQUEST, e.work_request = &wr;
    d = s_round_trip(&e);
    assert_int_equal(d->work_request->max_prompts, 2);
    wire_free(d);

    uint32_t ids[3] = {4, 5, 6};
    Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
    g.lease_id = 8, g.iteration = 3, g.policy_version = 2, g.prompt_ids = ids, g.n_prompt_ids = 3;
    g.samples_per_prompt = 4, g.deadline_unix_ms = 123456;
    e.body_case = SPAR__ENVELOPE__BODY_WORK_GRANT, e.work_grant = &g;
    d = s_round_trip(&e);
    assert_int_equal(d->work_grant->n_prompt_ids, 3);
    assert_int_equal(d->work_grant->prompt_ids[2], 6);
    wire_free(d);

    uint32_t tok[2][1] = {{0}, {2}};
    float tlp[2] = {-0.5f, -1.0f};
    Spar__Response r[2], *rp[2] = {&r[0], &r[1]};
    for (int i = 0; i < 2; i++) {
        spar__response__init(&r[i]);
        r[i].tokens = tok[i], r[i].n_tokens = 1, r[i].token_logprobs = &tlp[i], r[i].n_token_logprobs = 1;
        r[i].logprob = tlp[i];
    }
    double P[4] = {0.5, 0.8, 0.2, 0.5};
    Spar__RolloutGroup rg = SPAR__ROLLOUT_GROUP__INIT;
    rg.iteration = 3, rg.prompt_id = 5, rg.policy_version = 2, rg.responses = rp, rg.n_responses = 2;
    rg.preference = P, rg.n_preference = 4, rg.judge_version = "j1";
    e.body_case = SPAR__ENVELOPE__BODY_ROLLOUT_GROUP, e.rollout_group = &rg;
    d = s_round_trip(&e);
    assert_int_equal(d->rollout_group->responses[1]->tokens[0], 2);
    assert_true(d->rollout_group->preference[1] == 0.8);
    wire_free(d);

    Spar__RolloutAck ack = SPAR__ROLLOUT_ACK__INIT;
    ack.iteration = 3, ack.prompt_id = 5, ack.status = SPAR__ACK_STATUS__ACK_DUPLICATE;
    e.body_case = SPAR__ENVELOPE__BODY_ROLLOUT_ACK, e.rollout_ack = &ack;
    d = s_round_trip(&e);
    assert_int_equal(d->rollout_ack->status, SPAR__ACK_STATUS__ACK_DUPLICATE);
    wire_free(d);

    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = 11, jr.prompt_id = 5, jr.prompt = "game-5", jr.responses = rp, jr.n_responses = 2;
    e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST, e.judge_request = &jr;
    d = s_round_trip(&e);
    assert_int_equal(d->judge_request->request_id, 11);
    wire_free(d);

    Spar__JudgeReply jp = SPAR__JUDGE_REPLY__INIT;
    jp.request_id = 11, jp.k = 2, jp.preference = P, jp.n_preference = 4, jp.judge_version = "j1";
    e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY, e.judge_reply = &jp;
    d = s_round_trip(&e);
    assert_string_equal(d->judge_reply->judge_version, "j1");
    wire_free(d);

    uint8_t dig[32] = {1, 2, 3};
    Spar__WeightsAvailable wa = SPAR__WEIGHTS_AVAILABLE__INIT;
    wa.version = 6, wa.total_bytes = 100, wa.n_chunks = 1, wa.digest.data = dig, wa.digest.len = 32;
    e.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE, e.weights_available = &wa;
    d = s_round_trip(&e);
    assert_memory_equal(d->weights_available->digest.data, dig, 32);
    wire_free(d);

    Spar__WeightsFetch wf = SPAR__WEIGHTS_FETCH__INIT;
    wf.version = 6, wf.chunk_index = 0;
    e.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_FETCH, e.weights_fetch = &wf;
    d = s_round_trip(&e);
    assert_int_equal(d->weights_fetch->version, 6);
    wire_free(d);

    uint8_t data[10] = "abcdefghi";
    Spar__WeightsChunk wc = SPAR__WEIGHTS_CHUNK__INIT;
    wc.version = 6, wc.chunk_index = 0, wc.n_chunks = 1, wc.total_bytes = 10, wc.data.data = data, wc.data.len = 10;
    wc.chunk_digest.data = dig, wc.chunk_digest.len = 32, wc.digest.data = dig, wc.digest.len = 32;
    e.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK, e.weights_chunk = &wc;
    d = s_round_trip(&e);
    assert_memory_equal(d->weights_chunk->data.data, data, 10);
    wire_free(d);

    Spar__IterationSummary is = SPAR__ITERATION_SUMMARY__INIT;
    is.iteration = 4, is.json = "{\"iteration\":4}";
    e.body_case = SPAR__ENVELOPE__BODY_ITERATION_SUMMARY, e.iteration_summary = &is;
    d = s_round_trip(&e);
    assert_string_equal(d->iteration_summary->json, "{\"iteration\":4}");
    wire_free(d);

    Spar__Shutdown sd = SPAR__SHUTDOWN__INIT;
    sd.reason = "done";
    e.body_case = SPAR__ENVELOPE__BODY_SHUTDOWN, e.shutdown = &sd;
    d = s_round_trip(&e);
    assert_string_equal(d->shutdown->reason, "done");
    wire_free(d);
}

static Spar__Envelope *s_decode(const void *buf, size_t len, long max, char *why) {
    return wire_decode(buf, len, max, why, 256);
}

static void test_wire_decoder_refuses_bad_frames(void **state) {
    (void)state;
    char why[256];
    Spar__Hello h = SPAR__HELLO__INIT;
    h.host = "a-long-enough-host-name-to-truncate";
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.run_id = "r", e.sender_id = "s", e.body_case = SPAR__ENVELOPE__BODY_HELLO, e.hello = &h;
    size_t len;
    uint8_t *buf = s_pack(&e, WIRE_PROTOCOL_VERSION, &len);
    assert_null(s_decode(buf, len - 5, 1 << 20, why)); /* truncated */
    assert_null(s_decode(buf, len, 8, why));           /* oversized */
    assert_non_null(strstr(why, "exceeds"));
    free(buf);
    buf = s_pack(&e, 99, &len); /* wrong version */
    assert_null(s_decode(buf, len, 1 << 20, why));
    assert_non_null(strstr(why, "protocol version 99"));
    free(buf);
    uint8_t garbage[64];
    for (int i = 0; i < 64; i++) garbage[i] = (uint8_t)(i * 37 + 11);
    assert_null(s_decode(garbage, sizeof garbage, 1 << 20, why));
    Spar__Envelope empty = SPAR__ENVELOPE__INIT; /* no body */
    buf = s_pack(&empty, WIRE_PROTOCOL_VERSION, &len);
    assert_null(s_decode(buf, len, 1 << 20, why));
    free(buf);
    /* text a peer sends that reaches logs and later envelopes must be printable */
    e.sender_id = "evil\nlearner info: forged";
    buf = s_pack(&e, WIRE_PROTOCOL_VERSION, &len);
    assert_null(s_decode(buf, len, 1 << 20, why));
    assert_non_null(strstr(why, "sender id"));
    free(buf);
    Spar__Welcome w = SPAR__WELCOME__INIT;
    w.run_id = "run\x1b[2J";
    Spar__Envelope we = SPAR__ENVELOPE__INIT;
    we.run_id = "r", we.sender_id = "s", we.body_case = SPAR__ENVELOPE__BODY_WELCOME, we.welcome = &w;
    buf = s_pack(&we, WIRE_PROTOCOL_VERSION, &len);
    assert_null(s_decode(buf, len, 1 << 20, why));
    assert_non_null(strstr(why, "welcome run id"));
    free(buf);
}

/* The records file: a group wire would refuse reads as corrupt, and a length the file does not
 * back reads as torn without allocating it (both from fuzz_records). */
static void test_wire_records_refuse_what_wire_refuses(void **state) {
    (void)state;
    uint32_t tok = 1;
    Spar__Response r = SPAR__RESPONSE__INIT, *rs[] = {&r};
    r.n_tokens = 1, r.tokens = &tok, r.logprob = -0.5;
    double reward = 1.0;
    Spar__RolloutGroup g = SPAR__ROLLOUT_GROUP__INIT;
    g.n_responses = 1, g.responses = rs, g.n_rewards = 1, g.rewards = &reward;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(records_append(f, &g), 0);
    g.n_rewards = 0; /* neither preferences nor rewards */
    assert_int_equal(records_append(f, &g), 0);
    fclose(f);
    f = fmemopen(buf, len, "rb");
    int bad;
    Spar__RolloutGroup *back = records_next(f, &bad);
    assert_non_null(back);
    assert_int_equal(bad, 0);
    spar__rollout_group__free_unpacked(back, NULL);
    assert_null(records_next(f, &bad));
    assert_int_equal(bad, 1);
    fclose(f);
    free(buf);
    uint8_t torn[] = {0x80, 0x80, 0x80, 0x80, 0x02, 0x0a, 0x00}; /* claims 512 MiB, holds 2 bytes */
    f = fmemopen(torn, sizeof torn, "rb");
    assert_null(records_next(f, &bad));
    assert_int_equal(bad, 1);
    fclose(f);
}

static int s_judge_reply_ok(double *P, size_t n, uint32_t k) {
    Spar__JudgeReply jp = SPAR__JUDGE_REPLY__INIT;
    jp.k = k, jp.preference = P, jp.n_preference = n;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY, e.judge_reply = &jp;
    size_t len;
    uint8_t *buf = s_pack(&e, WIRE_PROTOCOL_VERSION, &len);
    char why[256];
    Spar__Envelope *d = s_decode(buf, len, 1 << 20, why);
    free(buf);
    wire_free(d);
    return d != NULL;
}

static void test_wire_refuses_bad_preference_matrices(void **state) {
    (void)state;
    double good[4] = {0.5, 0.8, 0.2, 0.5};
    assert_true(s_judge_reply_ok(good, 4, 2));
    assert_false(s_judge_reply_ok(good, 3, 2)); /* not K x K */
    assert_false(s_judge_reply_ok(good, 4, 3));
    double out[4] = {0.5, 1.2, -0.2, 0.5}; /* outside [0, 1] */
    assert_false(s_judge_reply_ok(out, 4, 2));
    double asym[4] = {0.5, 0.8, 0.3, 0.5}; /* P + P^T != 1 */
    assert_false(s_judge_reply_ok(asym, 4, 2));
    double diag[4] = {0.4, 0.8, 0.2, 0.5}; /* diagonal not 1/2 */
    assert_false(s_judge_reply_ok(diag, 4, 2));
}

/* ---- live processes --------------------------------------------------------------------- */

typedef struct {
    char *dir, *log;
    void *ctx;
} live_t;

static void s_send_raw(void *sock, const void *buf, size_t len) { zmq_send(sock, buf, len, 0); }

/* Sends a message of n frames (a DEALER's view: no routing id). */
static void s_send_frames(void *sock, int n, const void *buf, size_t len) {
    for (int i = 0; i < n; i++) zmq_send(sock, buf, len, i + 1 < n ? ZMQ_SNDMORE : 0);
}

/* Sends the classes of bad messages that are counted; returns how many were sent. */
static int s_send_bad_frames(void *sock) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.run_id = "", e.sender_id = "evil", e.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT, e.heartbeat = &hb;
    hb.groups_sent = 123456789;
    size_t len;
    uint8_t *buf = s_pack(&e, WIRE_PROTOCOL_VERSION, &len);
    s_send_raw(sock, buf, len - 3); /* truncated */
    s_send_frames(sock, 2, buf, len); /* a valid envelope with a second frame */
    s_send_frames(sock, 7, buf, len); /* and with six more (they once hung every process) */
    free(buf);
    s_send_raw(sock, "\xff\xfe garbage \x01\x02\x03", 14); /* garbage */
    buf = s_pack(&e, 7, &len);                           /* wrong version */
    s_send_raw(sock, buf, len);
    free(buf);
    return 5;
}

static uint64_t s_bad_count(void *sock);

/* A frame over wire.max_frame_bytes is never read: ZeroMQ closes the sender's connection
 * (ZMQ_MAXMSGSIZE). The process keeps serving: a new connection gets its heartbeat, and the
 * count of bad messages is what it was. */
static void s_oversized_closes_only_that_connection(void *ctx, const char *ep, uint64_t bad_before) {
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    wire_socket_defaults(s, 64 << 20);
    zmq_connect(s, ep);
    uint8_t *big = xcalloc(8192, 1); /* the processes run with a 4096-byte limit */
    s_send_raw(s, big, 8192);
    free(big);
    util_sleep_ms(200);
    zmq_close(s);
    void *t = zmq_socket(ctx, ZMQ_DEALER);
    wire_socket_defaults(t, 64 << 20);
    zmq_connect(t, ep);
    assert_int_equal(s_bad_count(t), bad_before);
    zmq_close(t);
}

static Spar__Envelope *s_recv(void *sock, int timeout_ms) {
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, sock, 0);
    char why[256];
    Spar__Envelope *e = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 30, why, sizeof why);
    zmq_msg_close(&m);
    return e;
}

static void s_send_env(void *sock, Spar__Envelope *e) {
    size_t len;
    e->run_id = e->run_id ? e->run_id : "";
    e->sender_id = "tester";
    uint8_t *buf = s_pack(e, WIRE_PROTOCOL_VERSION, &len);
    s_send_raw(sock, buf, len);
    free(buf);
}

/* Asks a server for its counters with a Heartbeat. */
static uint64_t s_bad_count(void *sock) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT, e.heartbeat = &hb;
    s_send_env(sock, &e);
    Spar__Envelope *r = s_recv(sock, 5000);
    assert_non_null(r);
    assert_int_equal(r->body_case, SPAR__ENVELOPE__BODY_HEARTBEAT);
    uint64_t n = r->heartbeat->bad_messages;
    wire_free(r);
    return n;
}

static void test_wire_live_judge_drops_bad_frames_and_serves(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/judge.log", dir), *ep = xasprintf("ipc://%s/judge", dir);
    char *bind = xasprintf("judge.bind=%s", ep);
    /* K = 8: with a 4 KiB frame limit a judge answers at most 16 responses (its reply must fit) */
    pid_t pid = tu_spawn(NULL, log, SPAR_BIN, "judge", "--set", bind, "--set", "wire.max_frame_bytes=4096", "--set",
                         "rollout.samples_per_prompt=8", NULL);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    wire_socket_defaults(s, 64 << 20);
    zmq_connect(s, ep);
    assert_int_equal(s_bad_count(s), 0); /* also waits until the judge is up */
    int sent = s_send_bad_frames(s);
    uint32_t tok[3][1] = {{0}, {1}, {2}};
    Spar__Response r[3], *rp[3] = {&r[0], &r[1], &r[2]};
    for (int i = 0; i < 3; i++) {
        spar__response__init(&r[i]);
        r[i].tokens = tok[i], r[i].n_tokens = 1, r[i].logprob = -1.0;
    }
    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = 42, jr.prompt_id = 3, jr.responses = rp, jr.n_responses = 3;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST, e.judge_request = &jr;
    s_send_env(s, &e);
    Spar__Envelope *rep = s_recv(s, 5000);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, SPAR__ENVELOPE__BODY_JUDGE_REPLY);
    assert_int_equal(rep->judge_reply->request_id, 42);
    assert_int_equal(rep->judge_reply->n_preference, 9);
    assert_true(rep->judge_reply->preference[0] == 0.5);
    wire_free(rep);
    assert_int_equal(s_bad_count(s), (uint64_t)sent);
    s_oversized_closes_only_that_connection(ctx, ep, (uint64_t)sent);
    zmq_close(s);
    zmq_ctx_term(ctx);
    kill(pid, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(pid, 10000)), 0);
    assert_true(tu_file_contains(log, "dropped bad message"));
    free(log), free(ep), free(bind);
    tu_done(dir);
}

static void test_wire_live_learner_drops_bad_frames_and_serves(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/learner.log", dir);
    char *ctl = xasprintf("learner.control=ipc://%s/ctl", dir), *pub = xasprintf("learner.publish=ipc://%s/pub", dir);
    char *rd = xasprintf("run.dir=%s/run", dir), *ep = xasprintf("ipc://%s/ctl", dir);
    pid_t pid = tu_spawn(NULL, log, SPAR_BIN, "learner", "--set", ctl, "--set", pub, "--set", rd, "--set",
                         "wire.max_frame_bytes=4096", "--set", "rollout.samples_per_prompt=8", NULL);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    wire_socket_defaults(s, 64 << 20);
    zmq_connect(s, ep);
    assert_int_equal(s_bad_count(s), 0);
    int sent = s_send_bad_frames(s);
    Spar__Hello h = SPAR__HELLO__INIT;
    h.role = SPAR__ROLE__ROLE_TOOL;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_HELLO, e.hello = &h;
    s_send_env(s, &e);
    Spar__Envelope *w = s_recv(s, 5000);
    assert_non_null(w);
    assert_int_equal(w->body_case, SPAR__ENVELOPE__BODY_WELCOME);
    assert_int_equal(w->welcome->current_version, 0);
    wire_free(w);
    assert_int_equal(s_bad_count(s), (uint64_t)sent);
    s_oversized_closes_only_that_connection(ctx, ep, (uint64_t)sent);
    zmq_close(s);
    zmq_ctx_term(ctx);
    kill(pid, SIGTERM);
    assert_true(tu_wait(pid, 10000) != -1);
    free(log), free(ctl), free(pub), free(rd), free(ep);
    tu_done(dir);
}

/* The test plays the learner: the actor's first Hello is answered with bad frames, then a
 * Welcome; the actor must count the frames (its heartbeats say so) and keep asking for work. */
static void test_wire_live_actor_drops_bad_frames_and_serves(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/actor.log", dir);
    char *ctl_ep = xasprintf("ipc://%s/ctl", dir), *pub_ep = xasprintf("ipc://%s/pub", dir);
    char *ctl = xasprintf("learner.control=%s", ctl_ep), *pub = xasprintf("learner.publish=%s", pub_ep);
    char *judge = xasprintf("judge.endpoints=ipc://%s/judge", dir);
    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER), *pubs = zmq_socket(ctx, ZMQ_PUB);
    wire_socket_defaults(router, 64 << 20);
    wire_socket_defaults(pubs, 64 << 20);
    assert_int_equal(zmq_bind(router, ctl_ep), 0);
    assert_int_equal(zmq_bind(pubs, pub_ep), 0);
    pid_t pid = tu_spawn(NULL, log, SPAR_BIN, "actor", "--set", ctl, "--set", pub, "--set", judge, "--set",
                         "wire.max_frame_bytes=4096", "--set", "rollout.samples_per_prompt=8", "--set",
                         "actor.heartbeat_ms=50", "--id", "victim", NULL);
    int sent = 0, welcomed = 0, work_requests_after = 0;
    uint64_t reported_bad = 0;
    int64_t end = util_now_ms() + 15000;
    while (util_now_ms() < end && !(work_requests_after >= 2 && reported_bad == (uint64_t)sent && sent)) {
        zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        zmq_msg_recv(&id, router, 0);
        zmq_msg_recv(&m, router, 0);
        char why[256];
        Spar__Envelope *in = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), 1 << 20, why, sizeof why);
        assert_non_null(in); /* the actor only sends valid frames */
        void *idbuf = zmq_msg_data(&id);
        size_t idlen = zmq_msg_size(&id);
        if (in->body_case == SPAR__ENVELOPE__BODY_HELLO && !welcomed) {
            /* bad frames first, each routed to the actor */
            Spar__Envelope hbe = SPAR__ENVELOPE__INIT;
            Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
            hbe.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT, hbe.heartbeat = &hb, hbe.run_id = "", hbe.sender_id = "x";
            size_t len;
            uint8_t *ok = s_pack(&hbe, WIRE_PROTOCOL_VERSION, &len);
            uint8_t *wv = s_pack(&hbe, 3, &len);
            const void *frames[4] = {ok, ok, "\x07garbage!", wv};
            size_t lens[4] = {len - 2, len, 9, len};
            for (int i = 0; i < 4; i++) {
                zmq_send(router, idbuf, idlen, ZMQ_SNDMORE);
                if (i == 1) zmq_send(router, frames[i], lens[i], ZMQ_SNDMORE); /* a whole envelope, then a second frame */
                zmq_send(router, frames[i], lens[i], 0);
                sent++;
            }
            free(ok), free(wv);
            Spar__Welcome w = SPAR__WELCOME__INIT;
            w.run_id = "test-run", w.seed = 1, w.prompts = 4, w.policy_kind = "tabular";
            Spar__Envelope we = SPAR__ENVELOPE__INIT;
            we.body_case = SPAR__ENVELOPE__BODY_WELCOME, we.welcome = &w, we.run_id = "test-run", we.sender_id = "t";
            uint8_t *wb = s_pack(&we, WIRE_PROTOCOL_VERSION, &len);
            zmq_send(router, idbuf, idlen, ZMQ_SNDMORE);
            zmq_send(router, wb, len, 0);
            free(wb);
            welcomed = 1;
        } else if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
            reported_bad = in->heartbeat->bad_messages;
        } else if (in->body_case == SPAR__ENVELOPE__BODY_WORK_REQUEST && welcomed) {
            work_requests_after++;
            Spar__WorkGrant g = SPAR__WORK_GRANT__INIT; /* no work yet: ask again */
            g.retry_ms = 20;
            Spar__Envelope ge = SPAR__ENVELOPE__INIT;
            ge.body_case = SPAR__ENVELOPE__BODY_WORK_GRANT, ge.work_grant = &g, ge.run_id = "test-run", ge.sender_id = "t";
            size_t len;
            uint8_t *gb = s_pack(&ge, WIRE_PROTOCOL_VERSION, &len);
            zmq_send(router, idbuf, idlen, ZMQ_SNDMORE);
            zmq_send(router, gb, len, 0);
            free(gb);
        }
        wire_free(in);
        zmq_msg_close(&id);
        zmq_msg_close(&m);
    }
    assert_int_equal(sent, 4);
    assert_int_equal(reported_bad, 4);
    assert_true(work_requests_after >= 2);
    kill(pid, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(pid, 10000)), 0);
    zmq_close(router);
    zmq_close(pubs);
    zmq_ctx_term(ctx);
    free(log), free(ctl_ep), free(pub_ep), free(ctl), free(pub), free(judge);
    tu_done(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_every_message_round_trips),
        cmocka_unit_test(test_wire_decoder_refuses_bad_frames),
        cmocka_unit_test(test_wire_refuses_bad_preference_matrices),
        cmocka_unit_test(test_wire_records_refuse_what_wire_refuses),
        cmocka_unit_test(test_wire_live_judge_drops_bad_frames_and_serves),
        cmocka_unit_test(test_wire_live_learner_drops_bad_frames_and_serves),
        cmocka_unit_test(test_wire_live_actor_drops_bad_frames_and_serves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
