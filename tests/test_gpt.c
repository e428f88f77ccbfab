/* The GPT-2 policy model: its sequence log-prob's gradient against finite differences over every
 * parameter, the prompt mask, and padding that never reaches an earlier position. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"

enum { B = 2, T = 8 };
static const int PROMPT[B] = {3, 2}, LEN[B] = {8, 6};
static const double W[B] = {0.7, -1.3};
static int s_tokens[B * T] = {72, 105, 61, 52, 50, 256, 10, 33, 49, 43, 49, 61, 50, 256, 0, 0};

static double s_loss(gpt_t *m) {
    double lp[B];
    assert_int_equal(gpt_forward(m, s_tokens, B, T), 0);
    gpt_seq_logprob(m, s_tokens, PROMPT, LEN, lp);
    return W[0] * lp[0] + W[1] * lp[1];
}

static void test_gpt_seq_logprob_gradient_check(void **state) {
    (void)state;
    gpt_config_t cfg = {.n_layer = 2, .n_head = 2, .d_model = 8, .ctx = T, .vocab = GPT_VOCAB};
    gpt_t *m = gpt_new(&cfg, 7);
    assert_non_null(m);
    /* larger weights than GPT-2's init, so every path carries signal */
    float *p = gpt_params(m);
    for (size_t i = 0; i < gpt_n_params(m); i++) p[i] *= 5.0f;
    s_loss(m);
    gpt_zero_grad(m);
    gpt_backward(m, s_tokens, PROMPT, LEN, W);
    float *g = gpt_grads(m);
    size_t off = 0;
    for (int t = 0; t < GPT_N_TENSORS; t++) {
        double worst = 0;
        size_t n = gpt_tensor_size(m, t);
        for (size_t i = 0; i < n; i++) {
            float keep = p[off + i];
            double h = 2e-3;
            p[off + i] = keep + (float)h;
            double lp = s_loss(m);
            p[off + i] = keep - (float)h;
            double lm = s_loss(m);
            p[off + i] = keep;
            double num = (lp - lm) / (2 * h), ana = g[off + i];
            /* float32 forward: differences carry ~5e-4 of rounding noise, so the bound is
             * absolute for small gradients and 5% for large ones */
            double err = fabs(num - ana);
            if (err / (fabs(num) + 1e-2) > worst) worst = err / (fabs(num) + 1e-2);
            if (err > 2e-3 + 5e-2 * fabs(num)) fail_msg("%s[%zu]: analytic %g numeric %g", gpt_tensor_name(t), i, ana, num);
        }
        fprintf(stderr, "%-9s %6zu parameters, worst relative error %.1e\n", gpt_tensor_name(t), n, worst);
        off += n;
    }
    gpt_destroy(&m);
    assert_null(m);
}

static void test_gpt_prompt_mask_and_padding(void **state) {
    (void)state;
    gpt_config_t cfg = {.n_layer = 2, .n_head = 2, .d_model = 16, .ctx = T, .vocab = GPT_VOCAB};
    gpt_t *m = gpt_new(&cfg, 3);
    double lp[B], lp2[B];
    assert_int_equal(gpt_forward(m, s_tokens, B, T), 0);
    gpt_seq_logprob(m, s_tokens, PROMPT, LEN, lp);
    assert_true(lp[0] < 0 && lp[1] < 0);
    /* 5 and 4 response tokens at about log(1/257) each under a fresh model */
    assert_true(fabs(lp[0] / 5 - log(1.0 / GPT_VOCAB)) < 0.5 && fabs(lp[1] / 4 - log(1.0 / GPT_VOCAB)) < 0.5);
    int padded[B * T];
    memcpy(padded, s_tokens, sizeof padded);
    padded[14] = 200, padded[15] = 7; /* past sequence 1's end */
    assert_int_equal(gpt_forward(m, padded, B, T), 0);
    gpt_seq_logprob(m, padded, PROMPT, LEN, lp2);
    assert_true(lp2[0] == lp[0] && lp2[1] == lp[1]);
    /* a longer prompt masks more: the log-prob is over fewer tokens */
    int longer[B] = {5, 2};
    gpt_seq_logprob(m, s_tokens, longer, LEN, lp2);
    assert_true(lp2[0] > lp[0] && lp2[1] == lp[1]);
    /* out-of-range tokens and too-long inputs are refused */
    padded[3] = GPT_VOCAB;
    assert_int_equal(gpt_forward(m, padded, B, T), -1);
    assert_int_equal(gpt_forward(m, s_tokens, 1, T + 1), -1);
    gpt_config_t bad = {.n_layer = 1, .n_head = 3, .d_model = 8, .ctx = 8, .vocab = GPT_VOCAB};
    assert_null(gpt_new(&bad, 1));
    gpt_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt_seq_logprob_gradient_check),
        cmocka_unit_test(test_gpt_prompt_mask_and_padding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
