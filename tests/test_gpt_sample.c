/* KV-cache generation: the cached decoder gives the same per-token log-probs as a full forward
 * pass (1e-5), a fixed seed gives the same samples whatever the batch, top-k 1 is greedy. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/gpt_sample.h"

enum { B = 3, NEW = 10 };
static const gpt_config_t CFG = {.n_layer = 2, .n_head = 2, .d_model = 16, .ctx = 32, .vocab = GPT_VOCAB};
static const int P0[] = {49, 43, 50, 61}, P1[] = {55}, P2[] = {51, 52, 53, 54, 55, 56, 57};
static const int *const PROMPTS[B] = {P0, P1, P2};
static const int PLEN[B] = {4, 1, 7};

static gpt_t *s_model(void) {
    gpt_t *m = gpt_new(&CFG, 5);
    float *p = gpt_params(m);
    for (size_t i = 0; i < gpt_n_params(m); i++) p[i] *= 10.0f; /* a peaked, non-uniform model */
    return m;
}

static void s_streams(rng_t *r, int n) {
    for (int b = 0; b < n; b++) rng_stream(&r[b], 1, 2, (uint64_t)b, 0);
}

static void test_gpt_sample_cached_matches_uncached(void **state) {
    (void)state;
    gpt_t *m = s_model();
    gpt_sample_opts_t o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = NEW};
    rng_t r[B];
    s_streams(r, B);
    int toks[B * NEW], len[B];
    float lps[B * NEW];
    assert_int_equal(gpt_generate(m, PROMPTS, PLEN, B, &o, r, toks, lps, len), 0);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        assert_true(len[b] >= 1 && len[b] <= NEW);
        int seq[64], T = PLEN[b] + len[b];
        memcpy(seq, PROMPTS[b], sizeof(int) * PLEN[b]);
        memcpy(seq + PLEN[b], toks + b * NEW, sizeof(int) * len[b]);
        assert_int_equal(gpt_forward(m, seq, 1, T), 0);
        for (int i = 0; i < len[b]; i++) {
            int t = PLEN[b] - 1 + i; /* position t predicts token t + 1 */
            gpt_pred_t pr = {t, seq[t + 1], 0};
            double full = 0;
            gpt_preds_logprob(m, &pr, 1, &full);
            double err = fabs(full - lps[b * NEW + i]);
            if (err > worst) worst = err;
        }
        double total = 0, seqlp;
        for (int i = 0; i < len[b]; i++) total += lps[b * NEW + i];
        int pl = PLEN[b];
        gpt_seq_logprob(m, seq, &pl, &T, &seqlp);
        assert_true(fabs(total - seqlp) < 1e-4);
    }
    fprintf(stderr, "cached vs full forward: worst token log-prob difference %.1e\n", worst);
    assert_true(worst < 1e-5);
    gpt_destroy(&m);
}

static void test_gpt_sample_seeded_and_batch_independent(void **state) {
    (void)state;
    gpt_t *m = s_model();
    gpt_sample_opts_t o = {.temperature = 0.8, .top_k = 20, .top_p = 0.95, .max_new = NEW};
    rng_t r1[B], r2[B];
    int t1[B * NEW], t2[B * NEW], l1[B], l2[B];
    float p1[B * NEW], p2[B * NEW];
    s_streams(r1, B);
    s_streams(r2, B);
    gpt_generate(m, PROMPTS, PLEN, B, &o, r1, t1, p1, l1);
    gpt_generate(m, PROMPTS, PLEN, B, &o, r2, t2, p2, l2);
    assert_memory_equal(l1, l2, sizeof l1);
    assert_memory_equal(t1, t2, sizeof(int) * B * NEW);
    /* sequence 2 alone, with its own stream, draws what it drew in the batch */
    rng_t solo;
    rng_stream(&solo, 1, 2, 2, 0);
    int ts[NEW], ls;
    float ps[NEW];
    gpt_generate(m, &PROMPTS[2], &PLEN[2], 1, &o, &solo, ts, ps, &ls);
    assert_int_equal(ls, l1[2]);
    assert_memory_equal(ts, t1 + 2 * NEW, sizeof(int) * ls);
    /* top-k 1 is greedy whatever the temperature */
    gpt_sample_opts_t greedy = {.temperature = 0, .max_new = NEW, .top_p = 1.0}, k1 = {.temperature = 2.0, .top_k = 1, .top_p = 1.0, .max_new = NEW};
    s_streams(r1, B);
    s_streams(r2, B);
    gpt_generate(m, PROMPTS, PLEN, B, &greedy, r1, t1, p1, l1);
    gpt_generate(m, PROMPTS, PLEN, B, &k1, r2, t2, p2, l2);
    assert_memory_equal(t1, t2, sizeof(int) * B * NEW);
    /* a prompt that fills the context is refused */
    int big[40] = {0}, bl = 32;
    const int *bp = big;
    assert_int_equal(gpt_generate(m, &bp, &bl, 1, &o, r1, t1, p1, l1), -1);
    gpt_destroy(&m);
}

/* The token-level geometric mixture (Nash-MD's opponent): mix 1 samples the reference exactly,
 * and at mix 1/2 every token's log-prob is the log-softmax of the two models' averaged logits,
 * recomputed here by full forward passes of each model. */
static void test_gpt_sample_geometric_mixture(void **state) {
    (void)state;
    gpt_t *m = s_model(), *ref = gpt_new(&CFG, 9);
    float *rp = gpt_params(ref);
    for (size_t i = 0; i < gpt_n_params(ref); i++) rp[i] *= 10.0f;
    gpt_sample_opts_t o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = NEW};
    rng_t r[B];
    int ta[B * NEW], tb[B * NEW], la[B], lb[B];
    float pa[B * NEW], pb[B * NEW];
    s_streams(r, B);
    assert_int_equal(gpt_generate_mixture(m, ref, 1.0, PROMPTS, PLEN, B, &o, r, ta, pa, la), 0);
    s_streams(r, B);
    assert_int_equal(gpt_generate(ref, PROMPTS, PLEN, B, &o, r, tb, pb, lb), 0);
    for (int b = 0; b < B; b++) {
        assert_int_equal(la[b], lb[b]);
        for (int t = 0; t < la[b]; t++) {
            assert_int_equal(ta[b * NEW + t], tb[b * NEW + t]);
            assert_true(fabsf(pa[b * NEW + t] - pb[b * NEW + t]) < 1e-5f);
        }
    }
    s_streams(r, B);
    assert_int_equal(gpt_generate_mixture(m, ref, 0.5, PROMPTS, PLEN, B, &o, r, ta, pa, la), 0);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        int seq[64], n = PLEN[b] + la[b], V = CFG.vocab;
        memcpy(seq, PROMPTS[b], sizeof(int) * (size_t)PLEN[b]);
        memcpy(seq + PLEN[b], ta + b * NEW, sizeof(int) * (size_t)la[b]);
        float *zm = malloc(sizeof(float) * (size_t)n * V), *zr = malloc(sizeof(float) * (size_t)n * V);
        int at[64];
        for (int t = 0; t < n; t++) at[t] = t;
        assert_int_equal(gpt_forward(m, seq, 1, n), 0);
        gpt_logits_at(m, at, n, zm);
        assert_int_equal(gpt_forward(ref, seq, 1, n), 0);
        gpt_logits_at(ref, at, n, zr);
        for (int t = 0; t < la[b]; t++) {
            const float *a = zm + (size_t)(PLEN[b] - 1 + t) * V, *c = zr + (size_t)(PLEN[b] - 1 + t) * V;
            double mx = -INFINITY, sum = 0;
            for (int v = 0; v < V; v++) mx = fmax(mx, 0.5 * a[v] + 0.5 * c[v]);
            for (int v = 0; v < V; v++) sum += exp(0.5 * a[v] + 0.5 * c[v] - mx);
            int tok = ta[b * NEW + t];
            double want = 0.5 * a[tok] + 0.5 * c[tok] - mx - log(sum);
            worst = fmax(worst, fabs(want - pa[b * NEW + t]));
        }
        free(zm), free(zr);
    }
    fprintf(stderr, "mixture log-probs vs full forwards: worst difference %.1e\n", worst);
    assert_true(worst < 1e-4);
    gpt_destroy(&m), gpt_destroy(&ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt_sample_cached_matches_uncached),
        cmocka_unit_test(test_gpt_sample_seeded_and_batch_independent),
        cmocka_unit_test(test_gpt_sample_geometric_mixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
