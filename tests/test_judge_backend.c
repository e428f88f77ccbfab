/* The judge's local backends through their table (judge/backend.h): matrix, rule (arith and
 * styles, picked by the task), reward and preference (tiny random models) each answer a request
 * with a valid preference matrix or K rewards, refuse a bad request with an error, and count pairs,
 * ties and cache use as a heartbeat reports them. The remote backend is covered by the system
 * tests that run a judge against examples/python_judge. */
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/digest.h"
#include "common/gpt.h"
#include "common/task.h"
#include "common/util.h"
#include "common/wire.h"
#include "judge/backend.h"

static const gpt_config_t TINY = {.n_layer = 1, .n_head = 2, .d_model = 16, .ctx = 24, .vocab = GPT_VOCAB};

/* What a sink received: a copy of each reply. */
typedef struct {
    int n;
    struct {
        uint64_t id;
        uint32_t k;
        char version[96], error[256];
        double values[64];
        size_t n_preference, n_rewards;
    } r[8];
} got_t;

static void s_collect(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep) {
    (void)to;
    got_t *g = ctx;
    assert_true(g->n < 8);
    size_t n = rep->n_preference ? rep->n_preference : rep->n_rewards;
    assert_true(n <= 64);
    g->r[g->n].id = rep->request_id;
    g->r[g->n].k = rep->k;
    snprintf(g->r[g->n].version, sizeof g->r[g->n].version, "%s", rep->judge_version ? rep->judge_version : "");
    snprintf(g->r[g->n].error, sizeof g->r[g->n].error, "%s", rep->error ? rep->error : "");
    if (n) memcpy(g->r[g->n].values, rep->n_preference ? rep->preference : rep->rewards, sizeof(double) * n);
    g->r[g->n].n_preference = rep->n_preference;
    g->r[g->n].n_rewards = rep->n_rewards;
    g->n++;
}

/* A request being built: up to 8 responses of up to 63 tokens. */
typedef struct {
    Spar__JudgeRequest req;
    Spar__Response resp[8], *rp[8];
    uint32_t tokens[8][64];
} request_t;

static void s_request(request_t *q, uint64_t id, const char *prompt, uint32_t prompt_id) {
    memset(q, 0, sizeof *q);
    spar__judge_request__init(&q->req);
    q->req.request_id = id, q->req.prompt = (char *)prompt, q->req.prompt_id = prompt_id, q->req.responses = q->rp;
}

static void s_add_tokens(request_t *q, const uint32_t *t, size_t n) {
    size_t i = q->req.n_responses++;
    spar__response__init(&q->resp[i]);
    memcpy(q->tokens[i], t, sizeof(uint32_t) * n);
    q->resp[i].tokens = q->tokens[i], q->resp[i].n_tokens = n, q->resp[i].logprob = -1;
    q->rp[i] = &q->resp[i];
}

/* A text response: its bytes, then end-of-text. */
static void s_add_text(request_t *q, const char *text) {
    uint32_t t[64];
    size_t n = strlen(text);
    assert_true(n < 63);
    for (size_t i = 0; i < n; i++) t[i] = (unsigned char)text[i];
    t[n] = GPT_EOT;
    s_add_tokens(q, t, n + 1);
}

/* Judges the requests in one call; returns the sink's copy. */
static void s_judge(judge_backend_t *b, request_t *const *qs, int n, got_t *got) {
    judge_call_t calls[8];
    for (int i = 0; i < n; i++) calls[i] = (judge_call_t){.sender = "tester.1@host", .request = &qs[i]->req};
    memset(got, 0, sizeof *got);
    judge_sink_t sink = {s_collect, got};
    judge_backend_judge(b, calls, n, &sink);
    assert_int_equal(got->n, n);
}

static void s_assert_valid_matrix(const got_t *g, int i, size_t k) {
    char why[160];
    assert_string_equal(g->r[i].error, "");
    assert_int_equal(g->r[i].k, k);
    assert_int_equal(g->r[i].n_preference, k * k);
    assert_int_equal(wire_check_preference(g->r[i].values, g->r[i].n_preference, k, why, sizeof why), 0);
}

static void test_matrix_backend(void **state) {
    (void)state;
    spar_config_t cfg;
    config_defaults(&cfg); /* 16 cyclic games of 3 actions */
    char why[256];
    judge_backend_t *b = judge_backend_matrix(&cfg, why, sizeof why);
    assert_non_null(b);
    assert_true(!strncmp(b->version, "matrix-cyclic-", 14) && !b->rewards && b->batch == 1);
    request_t q, bad_game, bad_action;
    s_request(&q, 7, "game-2", 2);
    uint32_t actions[4] = {0, 1, 2, 1};
    for (int i = 0; i < 4; i++) s_add_tokens(&q, &actions[i], 1);
    s_request(&bad_game, 8, "game-99", 99);
    s_add_tokens(&bad_game, &actions[0], 1);
    s_add_tokens(&bad_game, &actions[1], 1);
    s_request(&bad_action, 9, "game-1", 1);
    uint32_t no_action = 7;
    s_add_tokens(&bad_action, &actions[0], 1);
    s_add_tokens(&bad_action, &no_action, 1);
    got_t g;
    s_judge(b, (request_t *[]){&q, &bad_game, &bad_action}, 3, &g);
    s_assert_valid_matrix(&g, 0, 4);
    assert_int_equal(g.r[0].id, 7);
    assert_string_equal(g.r[0].version, b->version);
    assert_true(g.r[0].values[1 * 4 + 3] == 0.5 && g.r[0].values[0 * 4 + 1] != 0.5); /* the same action ties */
    assert_non_null(strstr(g.r[1].error, "is not one of this judge's 16 games"));
    assert_non_null(strstr(g.r[2].error, "response 1 is not an action 0..2"));
    assert_int_equal(g.r[1].n_preference + g.r[2].n_preference, 0);
    judge_stats_t st;
    judge_backend_stats(b, &st);
    assert_int_equal(st.pairs, 6); /* the refused requests count none */
    assert_int_equal(st.ties, 1);
    assert_int_equal(st.cache_hits + st.cache_misses, 0);
    assert_null(judge_backend_socket(b));
    judge_backend_destroy(&b);
    assert_null(b);
}

static void test_rule_backend_follows_the_task(void **state) {
    (void)state;
    spar_config_t cfg;
    config_defaults(&cfg);
    char err[256];
    assert_ptr_equal(task_of(&cfg), &task_game);
    assert_int_equal(config_set(&cfg, "task.kind=styles", err, sizeof err), 0);
    assert_ptr_equal(task_of(&cfg), &task_styles);
    assert_int_equal(config_set(&cfg, "task.kind=arith", err, sizeof err), 0);
    assert_ptr_equal(task_of(&cfg), &task_arith);

    judge_backend_t *arith = judge_backend_rule(&task_arith), *styles = judge_backend_rule(&task_styles);
    assert_string_equal(arith->version, "rule-arith-1");
    assert_string_equal(styles->version, "rule-styles-1");
    request_t q, bad;
    s_request(&q, 1, "12+30=", 0);
    s_add_text(&q, "42"), s_add_text(&q, "42!"), s_add_text(&q, "41"), s_add_text(&q, "x");
    s_request(&bad, 2, "hello\x01", 0);
    s_add_text(&bad, "42"), s_add_text(&bad, "7");
    got_t g;
    s_judge(arith, (request_t *[]){&q, &bad}, 2, &g);
    s_assert_valid_matrix(&g, 0, 4);
    assert_true(g.r[0].values[0 * 4 + 2] == 1.0 && g.r[0].values[2 * 4 + 3] == 1.0); /* right > near > junk */
    assert_true(g.r[0].values[1 * 4 + 0] == 0.0); /* "42!" is junk, not a sum, for arith */
    assert_string_equal(g.r[1].error, "prompt 'hello?' is not an arith problem");
    s_judge(styles, (request_t *[]){&q}, 1, &g);
    s_assert_valid_matrix(&g, 0, 4);
    assert_true(fabs(g.r[0].values[1 * 4 + 0] - 0.8) < 1e-12); /* bang beats plain by 0.30 */
    judge_stats_t st;
    judge_backend_stats(arith, &st);
    assert_int_equal(st.pairs, 6);
    assert_int_equal(st.ties, 1); /* junk ties junk */
    judge_backend_destroy(&arith), judge_backend_destroy(&styles);

    judge_backend_t *game = judge_backend_rule(&task_game); /* the game task has no rule of its own */
    request_t gq;
    s_request(&gq, 3, "game-3", 3);
    s_add_text(&gq, "1"), s_add_text(&gq, "2");
    s_judge(game, (request_t *[]){&gq}, 1, &g);
    assert_string_equal(g.r[0].error, "prompt 'game-3' is not an arith problem");
    judge_backend_destroy(&game);
}

static void test_preference_backend_batches(void **state) {
    (void)state;
    judge_model_t *m = jm_new(JM_PREFERENCE, &TINY, 4, 5);
    assert_null(judge_backend_reward(m, 64, "tiny")); /* not its kind */
    judge_backend_t *b = judge_backend_preference(m, 64, "tiny");
    assert_non_null(b);
    assert_true(!strncmp(b->version, "preference-", 11) && strlen(b->version) == 11 + 12);
    assert_true(!b->rewards && b->batch == JUDGE_BATCH_MAX);
    request_t q1, q2, long_one;
    s_request(&q1, 1, "3+4=", 0);
    s_add_text(&q1, "7"), s_add_text(&q1, "8"), s_add_text(&q1, "7!");
    s_request(&q2, 2, "1+1=", 0);
    s_add_text(&q2, "2"), s_add_text(&q2, "2.");
    s_request(&long_one, 3, "1+1=", 0);
    s_add_text(&long_one, "2"), s_add_text(&long_one, "222222222222222222222222222222222");
    got_t g;
    s_judge(b, (request_t *[]){&q1, &long_one, &q2}, 3, &g);
    s_assert_valid_matrix(&g, 0, 3);
    s_assert_valid_matrix(&g, 2, 2);
    assert_string_equal(g.r[1].error, "a response does not fit the judge model's context with its prompt");
    assert_true(g.r[0].id == 1 && g.r[1].id == 3 && g.r[2].id == 2);
    judge_stats_t st;
    judge_backend_stats(b, &st);
    assert_int_equal(st.pairs, 3 + 1);
    assert_true(st.cache_misses >= 5);
    uint64_t hits = st.cache_hits;
    s_judge(b, (request_t *[]){&q2}, 1, &g); /* embedded before: from the cache */
    judge_backend_stats(b, &st);
    assert_int_equal(st.cache_hits, hits + 2);
    judge_backend_destroy(&b);
}

static void test_reward_backend_answers_rewards(void **state) {
    (void)state;
    judge_model_t *m = jm_new(JM_REWARD, &TINY, 1, 5);
    assert_null(judge_backend_preference(m, 0, "tiny"));
    judge_backend_t *b = judge_backend_reward(m, 0, "tiny");
    assert_true(b->rewards && !strncmp(b->version, "reward-", 7));
    request_t q;
    s_request(&q, 4, "3+4=", 0);
    s_add_text(&q, "7"), s_add_text(&q, "7"), s_add_text(&q, "9");
    got_t g;
    s_judge(b, (request_t *[]){&q}, 1, &g);
    assert_string_equal(g.r[0].error, "");
    assert_int_equal(g.r[0].n_preference, 0);
    assert_int_equal(g.r[0].n_rewards, 3);
    for (int i = 0; i < 3; i++) assert_true(isfinite(g.r[0].values[i]));
    assert_true(g.r[0].values[0] == g.r[0].values[1]);
    judge_stats_t st;
    judge_backend_stats(b, &st);
    assert_int_equal(st.pairs, 3);
    assert_int_equal(st.ties, 1); /* the two equal answers */
    judge_backend_destroy(&b);
}

/* The version names the weights: the digest of trunk, head weight and head bias laid end to end
 * (what judges have always advertised); the same model gives the same version, one changed
 * weight another. */
static void test_learned_version_is_the_weights_digest(void **state) {
    (void)state;
    judge_model_t *d = jm_new(JM_REWARD, &TINY, 1, 9);
    size_t nt = gpt_n_params(d->trunk), nw = (size_t)TINY.d_model;
    float *all = xmalloc(sizeof(float) * (nt + nw + 1));
    memcpy(all, gpt_params(d->trunk), sizeof(float) * nt);
    memcpy(all + nt, d->w, sizeof(float) * nw);
    all[nt + nw] = d->b[0];
    uint8_t want[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1], version[96];
    digest_compute(all, sizeof(float) * (nt + nw + 1), want);
    digest_hex(want, hex);
    snprintf(version, sizeof version, "reward-%.12s", hex);
    free(all);
    judge_backend_t *from_d = judge_backend_reward(d, 0, "d");
    assert_string_equal(from_d->version, version);
    judge_backend_destroy(&from_d);

    judge_backend_t *a = judge_backend_reward(jm_new(JM_REWARD, &TINY, 1, 9), 0, "a");
    judge_backend_t *same = judge_backend_reward(jm_new(JM_REWARD, &TINY, 1, 9), 0, "b");
    judge_model_t *m = jm_new(JM_REWARD, &TINY, 1, 9);
    m->b[0] += 1.0f;
    judge_backend_t *other = judge_backend_reward(m, 0, "c");
    assert_string_equal(a->version, same->version);
    assert_string_not_equal(a->version, other->version);
    judge_backend_destroy(&a), judge_backend_destroy(&same), judge_backend_destroy(&other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_backend),
        cmocka_unit_test(test_rule_backend_follows_the_task),
        cmocka_unit_test(test_preference_backend_batches),
        cmocka_unit_test(test_reward_backend_answers_rewards),
        cmocka_unit_test(test_learned_version_is_the_weights_digest),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
