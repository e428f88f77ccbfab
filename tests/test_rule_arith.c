/* The arith rule judge: correct beats wrong, nearer beats farther, well-formed beats junk, and
 * the matrix is a valid preference matrix. */
#include "tests/testutil.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <zmq.h>

#include "common/task_styles.h"
#include "common/util.h"
#include "common/wire.h"
#include "common/rule_arith.h"

static void test_rule_arith_orders_responses(void **state) {
    (void)state;
    const char *r[5] = {"42", "41", "50", "x2", ""};
    double P[25];
    assert_int_equal(rule_arith_judge("12+30=", r, 5, P), 0);
    assert_true(P[0 * 5 + 1] == 1.0 && P[0 * 5 + 2] == 1.0 && P[0 * 5 + 3] == 1.0); /* correct first */
    assert_true(P[1 * 5 + 2] == 1.0);                                                /* 41 nearer than 50 */
    assert_true(P[2 * 5 + 3] == 1.0 && P[2 * 5 + 4] == 1.0);                         /* any number beats junk */
    assert_true(P[3 * 5 + 4] == 0.5);                                                 /* junk ties junk */
    char why[128];
    assert_int_equal(wire_check_preference(P, 25, 5, why, sizeof why), 0);
    assert_true(rule_arith_score("12+30=", "42") == 2.0);
    assert_true(rule_arith_score("hello", "42") < 0);
    assert_int_equal(rule_arith_judge("12*30=", r, 5, P), -1);
}

/* Sends env on s and returns the one reply (fails the test after 10 s). */
static Spar__Envelope *s_ask(wire_t *w, void *s, Spar__Envelope *env) {
    assert_int_equal(wire_send(w, s, NULL, env), 0);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    assert_true(zmq_poll(&it, 1, 10000) == 1);
    Spar__Envelope *rep = wire_recv(w, s, 0, NULL);
    assert_non_null(rep);
    return rep;
}

/* A live judge process (argv) speaking the judge protocol on endpoint ep: a JudgeRequest of byte
 * responses gets the rule's matrix and the judge's version; a prompt that is not a sum gets an
 * error; a Heartbeat gets the judge's Heartbeat with its count of requests served. */
static void s_live_judge(char *const argv[], const char *log, const char *ep, const char *version) {
    pid_t pid = tu_spawnv(NULL, log, argv);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    wire_socket_defaults(s, 64 << 20);
    zmq_connect(s, ep);
    uint32_t a[3] = {'4', '2', 256}, b[2] = {'7', 256}, c[2] = {'?', 256};
    Spar__Response r[3], *rp[3] = {&r[0], &r[1], &r[2]};
    uint32_t *toks[3] = {a, b, c};
    size_t lens[3] = {3, 2, 2};
    for (int i = 0; i < 3; i++) {
        spar__response__init(&r[i]);
        r[i].tokens = toks[i], r[i].n_tokens = lens[i], r[i].logprob = -1;
    }
    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = 5, jr.prompt = "12+30=", jr.responses = rp, jr.n_responses = 3;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST, e.judge_request = &jr;
    wire_t w;
    wire_init(&w, "tester", 1 << 20);
    Spar__Envelope *rep = s_ask(&w, s, &e);
    assert_int_equal(rep->body_case, SPAR__ENVELOPE__BODY_JUDGE_REPLY);
    assert_int_equal(rep->judge_reply->request_id, 5);
    const double *P = rep->judge_reply->preference;
    assert_int_equal(rep->judge_reply->n_preference, 9);
    assert_true(P[0 * 3 + 1] == 1.0 && P[0 * 3 + 2] == 1.0 && P[1 * 3 + 2] == 1.0); /* 42 > 7 > junk */
    assert_string_equal(rep->judge_reply->judge_version, version);
    wire_free(rep);

    jr.request_id = 6, jr.prompt = "hello";
    rep = s_ask(&w, s, &e);
    assert_int_equal(rep->body_case, SPAR__ENVELOPE__BODY_JUDGE_REPLY);
    assert_int_equal(rep->judge_reply->request_id, 6);
    assert_true(rep->judge_reply->error && rep->judge_reply->error[0]);
    assert_int_equal(rep->judge_reply->n_preference, 0);
    wire_free(rep);

    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_TOOL;
    Spar__Envelope he = SPAR__ENVELOPE__INIT;
    he.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT, he.heartbeat = &hb;
    rep = s_ask(&w, s, &he);
    assert_int_equal(rep->body_case, SPAR__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal(rep->heartbeat->role, SPAR__ROLE__ROLE_JUDGE);
    assert_true(rep->heartbeat->requests_served >= 1);
    wire_free(rep);
    zmq_close(s);
    zmq_ctx_term(ctx);
    /* spar ping, the containers' health check, gets the judge's heartbeat */
    char *plog = xasprintf("%s.ping", log);
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, plog, SPAR_BIN, "ping", ep, NULL), 10000)), 0);
    assert_true(tu_file_contains(plog, ": judge, "));
    free(plog);
    kill(pid, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(pid, 10000)), 0);
}

/* The C judge, judge.kind rule. */
static void test_rule_arith_live_judge(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/judge.log", dir), *ep = xasprintf("ipc://%s/judge", dir);
    char *bind = xasprintf("judge.bind=%s", ep);
    char *argv[] = {SPAR_BIN, "judge", "--set", bind, "--set", "judge.kind=rule", NULL};
    s_live_judge(argv, log, ep, "rule-arith-1");
    free(log), free(ep), free(bind);
    tu_done(dir);
}

/* The Python judge (examples/python_judge): every judge message round-trips with the C side. */
static void test_rule_arith_python_judge_round_trip(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/judge.log", dir), *ep = xasprintf("ipc://%s/judge", dir);
    char *script = xasprintf("%s/examples/python_judge/judge.py", SPAR_SOURCE_DIR);
    char *argv[] = {"/usr/bin/python3", script, "--bind", ep, NULL};
    s_live_judge(argv, log, ep, "python-arith-1");
    free(log), free(ep), free(script);
    tu_done(dir);
}

/* The styles rule: the number first, then the style cycle; the Nash mixture (1/6, 1/3, 1/2) has
 * exploitability 0 and is a fixed point, every other mixture some style beats. */
static void test_rule_styles_cycle_and_nash(void **state) {
    (void)state;
    const char *r[] = {"12", "12.", "12!", "13!", "x", "12?"};
    double P[36];
    assert_int_equal(rule_styles_judge("7+5=", r, 6, P), 0);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) assert_true(fabs(P[i * 6 + j] + P[j * 6 + i] - 1) < 1e-12);
    assert_true(fabs(P[0 * 6 + 1] - 0.95) < 1e-12); /* plain > period by 0.45 */
    assert_true(fabs(P[1 * 6 + 2] - 0.65) < 1e-12); /* period > bang by 0.15 */
    assert_true(fabs(P[2 * 6 + 0] - 0.80) < 1e-12); /* bang > plain by 0.30 */
    for (int i = 0; i < 3; i++) assert_true(P[i * 6 + 3] == 1.0); /* correct beats wrong, any style */
    assert_true(P[3 * 6 + 4] == 1.0 && P[3 * 6 + 5] == 1.0);     /* a wrong number beats junk */
    assert_true(P[4 * 6 + 5] == 0.5);                             /* junk ties junk */
    assert_int_equal(rule_styles_judge("not a sum", r, 6, P), -1);

    double nash[STYLES], uniform[STYLES] = {1.0 / 3, 1.0 / 3, 1.0 / 3}, pure[STYLES] = {1, 0, 0};
    styles_nash(nash);
    assert_true(fabs(nash[0] - 1.0 / 6) < 1e-12 && fabs(nash[1] - 1.0 / 3) < 1e-12 && fabs(nash[2] - 0.5) < 1e-12);
    assert_true(fabs(styles_exploitability(nash)) < 1e-12);
    assert_true(fabs(styles_exploitability(uniform) - 0.05) < 1e-12);
    assert_true(fabs(styles_exploitability(pure) - 0.30) < 1e-12); /* bang beats pure plain by 0.30 */
    char digits[32];
    assert_int_equal(styles_split("12!", digits, sizeof digits), 2);
    assert_string_equal(digits, "12");
    assert_int_equal(styles_split("12!!", digits, sizeof digits), -1);
    assert_int_equal(styles_split("!", digits, sizeof digits), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rule_arith_orders_responses),
                                       cmocka_unit_test(test_rule_styles_cycle_and_nash),
                                       cmocka_unit_test(test_rule_arith_live_judge),
                                       cmocka_unit_test(test_rule_arith_python_judge_round_trip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
