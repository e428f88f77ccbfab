/* Every GPT kernel's backward pass against central finite differences of its forward pass:
 * the loss is a fixed random projection of the output, L = sum(out * R), so dL/dout = R. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt_ops.h"
#include "common/rng.h"
#include "common/util.h"

static rng_t s_rng;

static float *s_rand(size_t n, double scale) { return tu_randn(&s_rng, n, scale); }

/* ---- each op -------------------------------------------------------------------------- */

enum { B = 2, T = 5, C = 8, NH = 2, OC = 6, V = 11 };

typedef struct {
    float *a, *b, *c, *out, *R, *mean, *rstd, *att;
    int *tokens, *pos;
} ctx_t;

static double L_layernorm(void *p) {
    ctx_t *x = p;
    layernorm_forward(x->out, x->mean, x->rstd, x->a, x->b, x->c, B * T, C);
    return tu_dot(x->out, x->R, B * T * C);
}

static void test_gpt_ops_layernorm(void **state) {
    (void)state;
    ctx_t x = {.a = s_rand(B * T * C, 1), .b = s_rand(C, 1), .c = s_rand(C, 1), .out = s_rand(B * T * C, 0),
               .R = s_rand(B * T * C, 1), .mean = s_rand(B * T, 0), .rstd = s_rand(B * T, 0)};
    float *dx = xcalloc(B * T * C, sizeof(float)), *dw = xcalloc(C, sizeof(float)), *db = xcalloc(C, sizeof(float));
    L_layernorm(&x);
    layernorm_backward(dx, dw, db, x.R, x.a, x.b, x.mean, x.rstd, B * T, C);
    tu_grad_check("ln inp", x.a, dx, B * T * C, L_layernorm, &x);
    tu_grad_check("ln weight", x.b, dw, C, L_layernorm, &x);
    tu_grad_check("ln bias", x.c, db, C, L_layernorm, &x);
    free(x.a), free(x.b), free(x.c), free(x.out), free(x.R), free(x.mean), free(x.rstd), free(dx), free(dw), free(db);
}

static double L_matmul(void *p) {
    ctx_t *x = p;
    matmul_forward(x->out, x->a, x->b, x->c, B * T, C, OC);
    return tu_dot(x->out, x->R, B * T * OC);
}

static void test_gpt_ops_matmul(void **state) {
    (void)state;
    ctx_t x = {.a = s_rand(B * T * C, 1), .b = s_rand(C * OC, 1), .c = s_rand(OC, 1), .out = s_rand(B * T * OC, 0),
               .R = s_rand(B * T * OC, 1)};
    float *dx = xcalloc(B * T * C, sizeof(float)), *dw = xcalloc(C * OC, sizeof(float)), *db = xcalloc(OC, sizeof(float));
    L_matmul(&x);
    matmul_backward(dx, dw, db, x.R, x.a, x.b, B * T, C, OC);
    tu_grad_check("mm inp", x.a, dx, B * T * C, L_matmul, &x);
    tu_grad_check("mm weight", x.b, dw, C * OC, L_matmul, &x);
    tu_grad_check("mm bias", x.c, db, OC, L_matmul, &x);
    free(x.a), free(x.b), free(x.c), free(x.out), free(x.R), free(dx), free(dw), free(db);
}

static const int *s_seg; /* the attention tests' segments, or NULL */
static double L_attention(void *p) {
    ctx_t *x = p;
    attention_forward(x->out, x->att, x->a, s_seg, B, T, C, NH);
    return tu_dot(x->out, x->R, B * T * C);
}

/* Finite differences of attention with segments seg (NULL: plain causal); then every score is
 * positive where the key is visible (earlier, and of segment 0 or the query's own) and 0
 * elsewhere. */
static void s_attention_case(const char *name, const int *seg) {
    s_seg = seg;
    ctx_t x = {.a = s_rand(B * T * 3 * C, 1), .out = s_rand(B * T * C, 0), .R = s_rand(B * T * C, 1),
               .att = s_rand(B * NH * T * T, 0)};
    float *dqkv = xcalloc(B * T * 3 * C, sizeof(float)), *datt = xcalloc(B * NH * T * T, sizeof(float));
    L_attention(&x);
    attention_backward(dqkv, datt, x.R, x.a, x.att, B, T, C, NH);
    tu_grad_check(name, x.a, dqkv, B * T * 3 * C, L_attention, &x);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++)
                for (int u = 0; u < T; u++) {
                    int visible = u <= t && (!seg || seg[b * T + u] == 0 || seg[b * T + u] == seg[b * T + t]);
                    float a = x.att[(((size_t)b * NH + h) * T + t) * T + u];
                    assert_true(visible ? a > 0 : a == 0.0f);
                }
    s_seg = NULL;
    free(x.a), free(x.out), free(x.R), free(x.att), free(dqkv), free(datt);
}

static void test_gpt_ops_attention(void **state) {
    (void)state;
    s_attention_case("attention", NULL);
}

/* Segments: a shared prefix, then branches that see it and themselves, not each other. */
static void test_gpt_ops_attention_segments(void **state) {
    (void)state;
    static const int seg[B * T] = {0, 0, 1, 1, 2, 0, 1, 2, 2, 3};
    s_attention_case("attention with segments", seg);
}

static double L_gelu(void *p) {
    ctx_t *x = p;
    gelu_forward(x->out, x->a, B * T * C);
    return tu_dot(x->out, x->R, B * T * C);
}

static void test_gpt_ops_gelu_and_residual(void **state) {
    (void)state;
    ctx_t x = {.a = s_rand(B * T * C, 2), .out = s_rand(B * T * C, 0), .R = s_rand(B * T * C, 1)};
    float *dx = xcalloc(B * T * C, sizeof(float));
    gelu_backward(dx, x.a, x.R, B * T * C);
    tu_grad_check("gelu", x.a, dx, B * T * C, L_gelu, &x);
    float *b = s_rand(B * T * C, 1), *da = xcalloc(B * T * C, sizeof(float)), *db = xcalloc(B * T * C, sizeof(float));
    residual_forward(x.out, x.a, b, B * T * C);
    residual_backward(da, db, x.R, B * T * C);
    for (int i = 0; i < B * T * C; i++) assert_true(x.out[i] == x.a[i] + b[i] && da[i] == x.R[i] && db[i] == x.R[i]);
    free(x.a), free(x.out), free(x.R), free(dx), free(b), free(da), free(db);
}

static double L_encoder(void *p) {
    ctx_t *x = p;
    encoder_forward(x->out, x->tokens, x->pos, x->a, x->b, B, T, C);
    return tu_dot(x->out, x->R, B * T * C);
}

static void test_gpt_ops_encoder(void **state) {
    (void)state;
    int tokens[B * T] = {1, 4, 4, 0, 10, 3, 3, 7, 1, 2};
    ctx_t x = {.a = s_rand(V * C, 1), .b = s_rand(T * C, 1), .out = s_rand(B * T * C, 0), .R = s_rand(B * T * C, 1),
               .tokens = tokens};
    float *dwte = xcalloc(V * C, sizeof(float)), *dwpe = xcalloc(T * C, sizeof(float));
    encoder_backward(dwte, dwpe, x.R, tokens, NULL, B, T, C);
    tu_grad_check("wte", x.a, dwte, V * C, L_encoder, &x);
    tu_grad_check("wpe", x.b, dwpe, T * C, L_encoder, &x);
    /* explicit positions (a packed row: branches restart where the prefix ends) */
    int pos[B * T] = {0, 1, 2, 2, 3, 0, 1, 1, 2, 4};
    x.pos = pos;
    memset(dwte, 0, V * C * sizeof(float));
    memset(dwpe, 0, T * C * sizeof(float));
    encoder_backward(dwte, dwpe, x.R, tokens, pos, B, T, C);
    tu_grad_check("wte, positions", x.a, dwte, V * C, L_encoder, &x);
    tu_grad_check("wpe, positions", x.b, dwpe, T * C, L_encoder, &x);
    free(x.a), free(x.b), free(x.out), free(x.R), free(dwte), free(dwpe);
}

/* L = sum_i g_i logp[row_i, target_i]: the weighted token log-probs a policy loss is made of;
 * the last two predictions share rows with others (K responses' first tokens share the
 * prompt's last position). */
#define N_PRED (B * T + 2)
static float s_g[N_PRED];
static int s_target[N_PRED], s_row[N_PRED];
static double L_logsoftmax(void *p) {
    ctx_t *x = p;
    logsoftmax_forward(x->out, x->a, B * T, V);
    double s = 0;
    for (int i = 0; i < N_PRED; i++)
        if (s_target[i] >= 0) s += s_g[i] * x->out[(size_t)s_row[i] * V + s_target[i]];
    return s;
}

static void test_gpt_ops_logsoftmax(void **state) {
    (void)state;
    for (int n = 0; n < N_PRED; n++) {
        s_row[n] = n < B * T ? n : n - B * T + 1;
        s_target[n] = n % 3 == 0 ? -1 : (n * 7) % V; /* -1: a masked (prompt) position */
        s_g[n] = (float)(0.5 + 0.1 * n);
    }
    ctx_t x = {.a = s_rand(B * T * V, 2), .out = s_rand(B * T * V, 0)};
    float *d = xcalloc(B * T * V, sizeof(float));
    L_logsoftmax(&x);
    logsoftmax_backward(d, x.out, s_row, s_target, s_g, N_PRED, V);
    tu_grad_check("logsoftmax", x.a, d, B * T * V, L_logsoftmax, &x);
    for (int n = 0; n < B * T; n++) { /* each row is a distribution */
        double s = 0;
        for (int v = 0; v < V; v++) s += exp(x.out[(size_t)n * V + v]);
        assert_true(fabs(s - 1) < 1e-5);
    }
    free(x.a), free(x.out), free(d);
}

int main(void) {
    rng_seed(&s_rng, 12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt_ops_encoder),   cmocka_unit_test(test_gpt_ops_layernorm),
        cmocka_unit_test(test_gpt_ops_matmul),    cmocka_unit_test(test_gpt_ops_attention),
        cmocka_unit_test(test_gpt_ops_attention_segments),
        cmocka_unit_test(test_gpt_ops_gelu_and_residual), cmocka_unit_test(test_gpt_ops_logsoftmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
