/* AdamW: the warm-up + cosine schedule, clipping, decay only where the mask says, and training
 * the GPT policy with it: the log-prob of a fixed response rises step after step. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>

#include "common/gpt.h"
#include "common/adamw.h"

static void test_adamw_schedule_clip_and_decay(void **state) {
    (void)state;
    adamw_t *a = adamw_new(3, 1e-2, 0.1, 1.0, 10, 110);
    assert_true(fabs(adamw_lr(a, 0) - 1e-3) < 1e-12);       /* warm-up: 1/10 of lr */
    assert_true(fabs(adamw_lr(a, 9) - 1e-2) < 1e-12);       /* full lr at the end of warm-up */
    assert_true(fabs(adamw_lr(a, 60) - 5.5e-3) < 1e-12);    /* cosine half way: (lr + lr_min) / 2 */
    assert_true(fabs(adamw_lr(a, 110) - 1e-3) < 1e-12);     /* lr_min = 0.1 lr at the end */
    float p[3] = {1, 1, 1}, g[3] = {30, 40, 0};
    uint8_t decay[3] = {1, 1, 0};
    double norm = adamw_step(a, p, g, decay);
    assert_true(fabs(norm - 50) < 1e-9);
    /* first Adam step moves every parameter with a gradient by lr (m/sqrt(v) = sign); decay adds lr*wd*p */
    assert_true(fabs(p[0] - (1 - 1e-3 * (1 + 0.1))) < 1e-6 && fabs(p[1] - (1 - 1e-3 * (1 + 0.1))) < 1e-6);
    assert_true(p[2] == 1.0f); /* no gradient, no decay */
    adamw_destroy(&a);
    assert_null(a);
}

static void test_adamw_trains_the_gpt_policy(void **state) {
    (void)state;
    gpt_config_t cfg = {.n_layer = 2, .n_head = 2, .d_model = 32, .ctx = 16, .vocab = GPT_VOCAB};
    gpt_t *m = gpt_new(&cfg, 9);
    int tokens[12] = {51, 55, 43, 52, 53, 61, 57, 48, 256, 0, 0, 0}, pl = 6, len = 9; /* "37+45=" -> "80" EOT */
    adamw_t *a = adamw_new(gpt_n_params(m), 3e-3, 0.01, 1.0, 5, 60);
    uint8_t *mask = gpt_decay_mask(m);
    double first = 0, lp = 0;
    for (int step = 0; step < 60; step++) {
        gpt_forward(m, tokens, 1, 12);
        gpt_seq_logprob(m, tokens, &pl, &len, &lp);
        if (step == 0) first = lp;
        gpt_zero_grad(m);
        double dlp = -1.0; /* minimise -log p(response | prompt) */
        gpt_backward(m, tokens, &pl, &len, &dlp);
        adamw_step(a, gpt_params(m), gpt_grads(m), mask);
    }
    gpt_forward(m, tokens, 1, 12);
    gpt_seq_logprob(m, tokens, &pl, &len, &lp);
    fprintf(stderr, "log p(response): %.3f -> %.3f after 60 AdamW steps\n", first, lp);
    assert_true(first < -10 && lp > -3); /* from ~e^-17 to above 5% */
    free(mask);
    adamw_destroy(&a);
    gpt_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_schedule_clip_and_decay),
        cmocka_unit_test(test_adamw_trains_the_gpt_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
