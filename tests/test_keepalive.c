/* keepalive: heartbeats go out on a real socket while the owning thread is busy, at the period,
 * and stop when the socket is taken back. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/keepalive.h"
#include "common/util.h"
#include "common/wire.h"

typedef struct {
    void *ctx, *router, *dealer;
    wire_t sender, receiver;
    char dir_ep[256];
    char *dir;
} pair_t;

static void s_open(pair_t *p) {
    p->dir = tu_tmpdir();
    snprintf(p->dir_ep, sizeof p->dir_ep, "ipc://%s/keepalive-learner", p->dir);
    p->ctx = zmq_ctx_new();
    p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
    p->dealer = zmq_socket(p->ctx, ZMQ_DEALER);
    wire_socket_defaults(p->router, 1 << 20);
    wire_socket_defaults(p->dealer, 1 << 20);
    assert_int_equal(zmq_bind(p->router, p->dir_ep), 0);
    assert_int_equal(zmq_connect(p->dealer, p->dir_ep), 0);
    wire_init(&p->sender, "actor-busy", 1 << 20);
    wire_init(&p->receiver, "learner", 1 << 20);
}

static void s_close(pair_t *p) {
    zmq_close(p->dealer);
    zmq_close(p->router);
    zmq_ctx_term(p->ctx);
    wire_fini(&p->sender);
    wire_fini(&p->receiver);
    tu_done(p->dir);
}

/* The heartbeats the router holds now, checking each is the one lent. */
static int s_drain(pair_t *p, uint64_t version) {
    int n = 0;
    while (wire_readable(p->router)) {
        wire_peer_t from;
        Spar__Envelope *in = wire_recv(&p->receiver, p->router, 1, &from);
        assert_non_null(in);
        assert_int_equal(in->body_case, SPAR__ENVELOPE__BODY_HEARTBEAT);
        assert_string_equal(in->sender_id, "actor-busy");
        assert_int_equal(in->heartbeat->policy_version, version);
        wire_free(in);
        n++;
    }
    return n;
}

static void test_heartbeats_while_lent_only(void **state) {
    (void)state;
    pair_t p;
    s_open(&p);
    keepalive_t *k = keepalive_new(&p.sender, p.dealer, 50);
    assert_non_null(k);
    util_sleep_ms(200); /* not lent: nothing goes out */
    assert_int_equal(s_drain(&p, 0), 0);
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_ACTOR, .policy_version = 7};
    keepalive_begin(k, &hb);
    util_sleep_ms(520); /* the owner "computes": ten periods */
    keepalive_end(k);
    unsigned long sent = keepalive_sent(k);
    util_sleep_ms(100); /* delivery */
    int got = s_drain(&p, 7);
    assert_int_equal((unsigned long)got, sent);
    assert_in_range(got, 6, 11); /* every 50 ms, with room for a loaded machine's scheduling */
    util_sleep_ms(200); /* taken back: nothing more */
    assert_int_equal(s_drain(&p, 7), 0);
    assert_int_equal(keepalive_sent(k), sent);
    /* the owner's own send works after the hand-back, and the sequence numbers stayed distinct */
    assert_int_equal(msg_send_heartbeat(&p.sender, p.dealer, NULL, &hb), 0);
    util_sleep_ms(50);
    assert_int_equal(s_drain(&p, 7), 1);
    assert_int_equal(p.sender.seq, sent + 1);
    /* lent again, briefly: shorter than a period, so none */
    keepalive_begin(k, &hb);
    util_sleep_ms(10);
    keepalive_end(k);
    assert_int_equal(keepalive_sent(k), sent);
    keepalive_free(&k);
    assert_null(k);
    keepalive_free(&k); /* safe twice */
    keepalive_begin(NULL, &hb); /* no thread: nothing, no crash */
    keepalive_end(NULL);
    s_close(&p);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeats_while_lent_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
