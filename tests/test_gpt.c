/* The GPT-2 policy model: its sequence log-prob's gradient against finite differences over every
 * parameter, the prompt mask, and padding that never reaches an earlier position. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/policy.h"
#include "common/tokenizer.h"
#include "common/util.h"

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

/* The policy packs the responses to one prompt into one row (the prompt computed once). Its
 * log-probs and gradients must equal those of each (prompt, response) run on its own row. */
static void test_gpt_packed_equals_separate(void **state) {
    (void)state;
    gpt_config_t c = {2, 2, 16, 24, GPT_VOCAB};
    policy_t *pol = policy_gpt_new(gpt_new(&c, 5));
    const char *prompts[] = {"12+7=", "12+7=", "12+7=", "3+4=", "3+4=", "12+7="};
    const char *responses[] = {"19", "18!", "x", "7", "77777", "1"};
    int n = 6, eot[] = {1, 1, 0, 1, 1, 1}; /* one response cut off before its end-of-text */
    uint32_t toks[6][16];
    policy_seq_t seqs[6];
    for (int i = 0; i < n; i++) {
        int t[16], k = tok_encode(responses[i], t, 15);
        if (eot[i]) t[k++] = GPT_EOT;
        for (int j = 0; j < k; j++) toks[i][j] = (uint32_t)t[j];
        seqs[i] = (policy_seq_t){0, prompts[i], toks[i], k};
    }
    double lp[6], dlp[6] = {0.3, -1.2, 0.7, 2.0, -0.4, 1.1};
    policy_zero_grad(pol);
    policy_logprobs(pol, seqs, n, lp);
    assert_true(policy_gpt_batch_rows(pol) == 3); /* 12+7= (first three), 3+4=, 12+7= again */
    policy_backward_seqs(pol, seqs, n, dlp);
    size_t np = gpt_n_params(policy_gpt_model(pol));
    float *packed_grad = xmalloc(sizeof(float) * np);
    memcpy(packed_grad, gpt_grads(policy_gpt_model(pol)), sizeof(float) * np);

    gpt_zero_grad(policy_gpt_model(pol));
    double gmax = 0, err = 0;
    for (int i = 0; i < n; i++) { /* each alone: prompt + response in one row */
        int row[32], pl = tok_encode(prompts[i], row, 32);
        for (int j = 0; j < seqs[i].n_tokens; j++) row[pl + j] = (int)toks[i][j];
        int len = pl + seqs[i].n_tokens;
        double one;
        assert_int_equal(gpt_forward(policy_gpt_model(pol), row, 1, len), 0);
        gpt_seq_logprob(policy_gpt_model(pol), row, &pl, &len, &one);
        assert_true(fabs(one - lp[i]) < 1e-5 * (1 + fabs(one)));
        gpt_backward(policy_gpt_model(pol), row, &pl, &len, &dlp[i]);
    }
    const float *sep = gpt_grads(policy_gpt_model(pol));
    for (size_t k = 0; k < np; k++) {
        gmax = fmax(gmax, fabs(sep[k]));
        err = fmax(err, fabs(sep[k] - packed_grad[k]));
    }
    fprintf(stderr, "packed vs separate: gradient max |g| %.3e, max difference %.3e\n", gmax, err);
    assert_true(gmax > 0);
    assert_true(err < 1e-5 * gmax);
    free(packed_grad);
    policy_destroy(&pol);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt_seq_logprob_gradient_check),
        cmocka_unit_test(test_gpt_prompt_mask_and_padding),
        cmocka_unit_test(test_gpt_packed_equals_separate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
