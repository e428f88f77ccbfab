/* The golden test: a tiny GPT-2 written by an independent numpy implementation in the Hugging
 * Face layout (tests/golden/make_gpt2_golden.py: model.safetensors with no spar metadata, and
 * config.json) loads into spar and gives the logits that implementation computed, for its
 * committed input. */
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/gpt.h"
#include "common/gpt_io.h"

static void test_gpt_golden_logits(void **state) {
    (void)state;
    char why[512];
    gpt_t *m = gpt_load(SPAR_SOURCE_DIR "/tests/golden/gpt2-tiny", NULL, why, sizeof why);
    if (!m) fail_msg("%s", why);
    const gpt_config_t *c = gpt_config(m);
    assert_true(c->n_layer == 2 && c->n_head == 2 && c->d_model == 16 && c->ctx == 16 && c->vocab == GPT_VOCAB);
    FILE *f = fopen(SPAR_SOURCE_DIR "/tests/golden/gpt2-tiny/logits.txt", "r");
    assert_non_null(f);
    int tokens[16], n = 0;
    char line[8192];
    assert_non_null(fgets(line, sizeof line, f));
    for (char *p = line, *end; n < 16; p = end) {
        long t = strtol(p, &end, 10);
        if (end == p) break;
        tokens[n++] = (int)t;
    }
    assert_int_equal(n, 15);
    assert_int_equal(gpt_forward(m, tokens, 1, n), 0);
    float logits[16 * GPT_VOCAB];
    int at[16];
    for (int t = 0; t < n; t++) at[t] = t;
    gpt_logits_at(m, at, n, logits);
    double worst = 0;
    for (int t = 0; t < n; t++)
        for (int v = 0; v < GPT_VOCAB; v++) {
            double want;
            assert_int_equal(fscanf(f, "%lf", &want), 1);
            double err = fabs(want - logits[t * GPT_VOCAB + v]);
            if (err > worst) worst = err;
        }
    fclose(f);
    fprintf(stderr, "golden logits: %d x %d, worst absolute difference %.2e (float32 vs float64)\n", n, GPT_VOCAB, worst);
    assert_true(worst < 1e-4);
    gpt_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gpt_golden_logits)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
