/* Every Llama kernel's backward pass against central finite differences of its forward pass
 * (summed in double; the loss is a fixed random projection L = sum(out * R), so dL/dout = R),
 * and the forward passes against the equations where a direct check is simple: the llama3
 * inverse frequencies, RoPE's rotation, attention's mask, the head's chunking. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/llama_ops.h"
#include "common/rng.h"
#include "common/util.h"

static rng_t s_rng;

static float *s_rand(size_t n, double scale) { return tu_randn(&s_rng, n, scale); }

/* ---- RMSNorm, alone and per head -------------------------------------------------------- */

enum { N = 6, C = 8 };

typedef struct {
    float *x, *w, *b, *out, *R, *rstd, *cos_t, *sin_t;
    int n, h, c, stride, ic, oc;
} ctx_t;

static double L_rms(void *p) {
    ctx_t *k = p;
    llama_rmsnorm_forward(k->out, k->rstd, k->x, k->w, k->n, k->h, k->c, k->stride, 1e-5f);
    /* only the normed entries count: a row's other entries (other heads' room) stay out */
    double s = 0;
    for (int n = 0; n < k->n; n++) s += tu_dot(k->out + (size_t)n * k->stride, k->R + (size_t)n * k->stride, (size_t)k->h * k->c);
    return s;
}

static void s_rms_case(const char *name, int H, int HD, int stride) {
    size_t total = (size_t)N * stride;
    ctx_t k = {.x = s_rand(total, 1), .w = s_rand(HD, 1), .out = s_rand(total, 0), .R = s_rand(total, 1),
               .rstd = s_rand((size_t)N * H, 0), .n = N, .h = H, .c = HD, .stride = stride};
    float *dx = xcalloc(total, sizeof(float)), *dw = xcalloc(HD, sizeof(float));
    L_rms(&k);
    for (int n = 0; n < N; n++) /* the definition, per vector */
        for (int h = 0; h < H; h++) {
            const float *x = k.x + (size_t)n * stride + (size_t)h * HD;
            double ss = 0;
            for (int i = 0; i < HD; i++) ss += (double)x[i] * x[i];
            double r = 1 / sqrt(ss / HD + 1e-5);
            for (int i = 0; i < HD; i++)
                assert_true(fabs(k.out[(size_t)n * stride + (size_t)h * HD + i] - x[i] * r * k.w[i]) < 1e-5);
        }
    llama_rmsnorm_backward(dx, dw, k.R, k.x, k.w, k.rstd, N, H, HD, stride);
    char what[64];
    snprintf(what, sizeof what, "%s input", name);
    tu_grad_check(what, k.x, dx, total, L_rms, &k);
    snprintf(what, sizeof what, "%s weight", name);
    tu_grad_check(what, k.w, dw, HD, L_rms, &k);
    free(k.x), free(k.w), free(k.out), free(k.R), free(k.rstd), free(dx), free(dw);
}

static void test_llama_ops_rmsnorm(void **state) {
    (void)state;
    s_rms_case("rmsnorm", 1, C, C);
}

/* Qwen3's q/k norm: 3 heads of 4 inside rows of 20 (the rest another tensor's) */
static void test_llama_ops_qk_norm(void **state) {
    (void)state;
    s_rms_case("qk norm", 3, 4, 20);
}

/* ---- RoPE ------------------------------------------------------------------------------- */

static double L_rope(void *p) {
    ctx_t *k = p;
    size_t total = (size_t)k->n * k->stride;
    memcpy(k->out, k->x, sizeof(float) * total);
    llama_rope_forward(k->out, k->cos_t, k->sin_t, k->n, k->h, k->c, k->stride);
    return tu_dot(k->out, k->R, total);
}

static void s_rope_case(const char *name, const llama_config_t *cfg) {
    int HD = cfg->head_dim, H = 2, stride = H * HD, pos[N] = {0, 1, 2, 7, 300, 5000};
    float *inv = xmalloc(sizeof(float) * HD / 2);
    llama_rope_inv_freq(inv, cfg);
    /* the inverse frequencies, from the equations in double */
    for (int i = 0; i < HD / 2; i++) {
        double f = pow(cfg->rope_theta, -2.0 * i / HD);
        if (cfg->rope_llama3) {
            double wl = 2 * M_PI / f, old = cfg->rope_original_ctx, lo = cfg->rope_low_freq_factor,
                   hi = cfg->rope_high_freq_factor;
            if (wl > old / lo)
                f /= cfg->rope_factor;
            else if (!(wl < old / hi)) {
                double s = (old / wl - lo) / (hi - lo);
                f = (1 - s) * f / cfg->rope_factor + s * f;
            }
        }
        assert_true(fabs(inv[i] - f) <= 1e-6 * f);
    }
    ctx_t k = {.x = s_rand((size_t)N * stride, 1), .out = s_rand((size_t)N * stride, 0),
               .R = s_rand((size_t)N * stride, 1), .cos_t = s_rand((size_t)N * HD / 2, 0),
               .sin_t = s_rand((size_t)N * HD / 2, 0), .n = N, .h = H, .c = HD, .stride = stride};
    llama_rope_table(k.cos_t, k.sin_t, inv, pos, N, HD);
    L_rope(&k);
    /* the rotation itself: dimension i pairs with i + HD/2, by angle pos * inv_freq[i] */
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < HD / 2; i++) {
                size_t a = (size_t)n * stride + (size_t)h * HD + i, b = a + HD / 2;
                double ang = (double)pos[n] * inv[i], c = cos(ang), s = sin(ang);
                double tol = 1e-5 + 1e-6 * pos[n]; /* the float angle rounds as transformers' does */
                assert_true(fabs(k.out[a] - (k.x[a] * c - k.x[b] * s)) < tol);
                assert_true(fabs(k.out[b] - (k.x[b] * c + k.x[a] * s)) < tol);
            }
    float *dx = xmalloc(sizeof(float) * N * stride);
    memcpy(dx, k.R, sizeof(float) * N * stride);
    llama_rope_backward(dx, k.cos_t, k.sin_t, N, H, HD, stride);
    tu_grad_check(name, k.x, dx, (size_t)N * stride, L_rope, &k);
    free(inv), free(k.x), free(k.out), free(k.R), free(k.cos_t), free(k.sin_t), free(dx);
}

static void test_llama_ops_rope(void **state) {
    (void)state;
    llama_config_t c = {.head_dim = 16, .rope_theta = 10000};
    s_rope_case("rope", &c);
}

/* factor 8 over an original context of 64: with theta 500000 and HD 32 the frequencies fall in
 * all three regimes (kept, blended, divided) */
static void test_llama_ops_rope_llama3(void **state) {
    (void)state;
    llama_config_t c = {.head_dim = 32, .rope_theta = 500000, .rope_llama3 = 1, .rope_factor = 8,
                        .rope_low_freq_factor = 1, .rope_high_freq_factor = 4, .rope_original_ctx = 64};
    float inv[16];
    llama_rope_inv_freq(inv, &c);
    int kept = 0, divided = 0, blended = 0;
    for (int i = 0; i < 16; i++) {
        double f = pow(500000.0, -2.0 * i / 32), r = inv[i] / f;
        kept += fabs(r - 1) < 1e-6, divided += fabs(r - 0.125) < 1e-6;
        blended += r > 0.126 && r < 0.999;
    }
    assert_true(kept > 0 && divided > 0 && blended > 0);
    s_rope_case("rope llama3", &c);
}

/* ---- SwiGLU ----------------------------------------------------------------------------- */

enum { F = 7 };

static double L_swiglu(void *p) {
    ctx_t *k = p;
    llama_swiglu_forward(k->out, k->x, N, F);
    return tu_dot(k->out, k->R, (size_t)N * F);
}

static void test_llama_ops_swiglu(void **state) {
    (void)state;
    ctx_t k = {.x = s_rand((size_t)N * 2 * F, 2), .out = s_rand((size_t)N * F, 0), .R = s_rand((size_t)N * F, 1)};
    L_swiglu(&k);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < F; i++) {
            double g = k.x[n * 2 * F + i], u = k.x[n * 2 * F + F + i];
            assert_true(fabs(k.out[n * F + i] - g / (1 + exp(-g)) * u) < 1e-5);
        }
    float *dgu = xmalloc(sizeof(float) * N * 2 * F);
    llama_swiglu_backward(dgu, k.R, k.x, N, F);
    tu_grad_check("swiglu", k.x, dgu, (size_t)N * 2 * F, L_swiglu, &k);
    free(k.x), free(k.out), free(k.R), free(dgu);
}

/* ---- linear ------------------------------------------------------------------------------- */

enum { IC = 5, OC = 9 };

static double L_linear(void *p) {
    ctx_t *k = p;
    llama_linear_forward(k->out, k->x, k->w, k->b, N, IC, OC, 0);
    return tu_dot(k->out, k->R, (size_t)N * OC);
}

static void test_llama_ops_linear_bias(void **state) {
    (void)state;
    ctx_t k = {.x = s_rand(N * IC, 1), .w = s_rand(OC * IC, 1), .b = s_rand(OC, 1), .out = s_rand(N * OC, 0),
               .R = s_rand(N * OC, 1)};
    L_linear(&k);
    for (int n = 0; n < N; n++) /* (out, in) weights: out[n, j] = sum_i x[n, i] w[j, i] + b[j] */
        for (int j = 0; j < OC; j++) {
            double s = k.b[j];
            for (int i = 0; i < IC; i++) s += (double)k.x[n * IC + i] * k.w[j * IC + i];
            assert_true(fabs(k.out[n * OC + j] - s) < 1e-5);
        }
    /* accumulate: adds onto what is there (the residual connection) */
    float *acc = s_rand(N * OC, 1), *keep = xmalloc(sizeof(float) * N * OC);
    memcpy(keep, acc, sizeof(float) * N * OC);
    llama_linear_forward(acc, k.x, k.w, k.b, N, IC, OC, 1);
    for (int i = 0; i < N * OC; i++) assert_true(fabs(acc[i] - (keep[i] + k.out[i])) < 1e-5);
    float *dx = s_rand(N * IC, 1), *dw = xcalloc(OC * IC, sizeof(float)), *db = xcalloc(OC, sizeof(float));
    llama_linear_backward(dx, dw, db, k.R, k.x, k.w, N, IC, OC); /* dx overwritten: garbage before */
    tu_grad_check("linear input", k.x, dx, N * IC, L_linear, &k);
    tu_grad_check("linear weight", k.w, dw, OC * IC, L_linear, &k);
    tu_grad_check("linear bias", k.b, db, OC, L_linear, &k);
    free(k.x), free(k.w), free(k.b), free(k.out), free(k.R), free(acc), free(keep), free(dx), free(dw), free(db);
}

/* ---- attention ---------------------------------------------------------------------------- */

enum { AB = 2, AT = 6, NH = 4, NKV = 2, HD = 4, AD = (NH + 2 * NKV) * HD };

static const int *s_seg;
static float *s_att;
static double L_attention(void *p) {
    ctx_t *k = p;
    llama_attention_forward(k->out, s_att, k->x, s_seg, AB, AT, NH, NKV, HD);
    return tu_dot(k->out, k->R, (size_t)AB * AT * NH * HD);
}

/* GQA: 4 query heads on 2 kv heads. Finite differences w.r.t. every q, k, v entry; every
 * probability positive exactly where the key is visible; and each output the direct softmax
 * sum in double. */
static void s_attention_case(const char *name, const int *seg) {
    s_seg = seg;
    size_t nout = (size_t)AB * AT * NH * HD;
    ctx_t k = {.x = s_rand((size_t)AB * AT * AD, 1), .out = s_rand(nout, 0), .R = s_rand(nout, 1)};
    s_att = s_rand((size_t)AB * NH * AT * AT, 0);
    L_attention(&k);
    for (int b = 0; b < AB; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < AT; t++) {
                int kv = h / (NH / NKV);
                const float *q = k.x + ((size_t)b * AT + t) * AD + h * HD;
                double w[AT], mx = -INFINITY, sum = 0;
                for (int u = 0; u < AT; u++) {
                    int vis = u <= t && (!seg || seg[b * AT + u] == 0 || seg[b * AT + u] == seg[b * AT + t]);
                    const float *kk = k.x + ((size_t)b * AT + u) * AD + (NH + kv) * HD;
                    w[u] = vis ? tu_dot(q, kk, HD) / sqrt(HD) : -INFINITY;
                    if (w[u] > mx) mx = w[u];
                    float a = s_att[(((size_t)b * NH + h) * AT + t) * AT + u];
                    assert_true(vis ? a > 0 : a == 0.0f);
                }
                for (int u = 0; u < AT; u++) sum += (w[u] = exp(w[u] - mx));
                for (int d = 0; d < HD; d++) {
                    double o = 0;
                    for (int u = 0; u < AT; u++) o += w[u] / sum * k.x[((size_t)b * AT + u) * AD + (NH + NKV + kv) * HD + d];
                    assert_true(fabs(k.out[((size_t)b * AT + t) * NH * HD + h * HD + d] - o) < 1e-5);
                }
            }
    float *dqkv = xcalloc((size_t)AB * AT * AD, sizeof(float)), *scratch = xmalloc(sizeof(float) * AT * AT);
    llama_attention_backward(dqkv, scratch, k.R, k.x, s_att, AB, AT, NH, NKV, HD);
    tu_grad_check(name, k.x, dqkv, (size_t)AB * AT * AD, L_attention, &k);
    s_seg = NULL;
    free(k.x), free(k.out), free(k.R), free(s_att), free(dqkv), free(scratch);
}

static void test_llama_ops_attention_gqa(void **state) {
    (void)state;
    s_attention_case("attention gqa", NULL);
}

/* a shared prefix (segment 0), then branches that see it and themselves, not each other */
static void test_llama_ops_attention_segments(void **state) {
    (void)state;
    static const int seg[AB * AT] = {0, 0, 1, 1, 2, 2, 0, 1, 2, 1, 3, 3};
    s_attention_case("attention gqa segments", seg);
}

/* ---- output head -------------------------------------------------------------------------- */

enum { HN = 10, HC = 6, HV = 13, NP = 12 };
static int s_rows[NP], s_target[NP], s_chunk;
static float s_g[NP];

static double L_head(void *p) {
    ctx_t *k = p;
    double lp[NP], s = 0;
    float *scratch = xmalloc(sizeof(float) * llama_head_scratch_floats(s_chunk, HC, HV));
    llama_head_logprob(lp, k->x, s_rows, s_target, NP, k->w, HC, HV, s_chunk, scratch);
    free(scratch);
    for (int i = 0; i < NP; i++) s += s_g[i] * lp[i];
    return s;
}

/* 12 predictions over 10 rows (two rows predicted twice, as K responses share a prompt's last
 * position), one with weight 0; chunks of 5 and of all give the same, and the log-probs are
 * the direct log-softmax. */
static void test_llama_ops_head_chunked(void **state) {
    (void)state;
    for (int i = 0; i < NP; i++) {
        s_rows[i] = i < HN ? i : i - HN + 3;
        s_target[i] = (i * 5) % HV;
        s_g[i] = i == 4 ? 0.0f : (float)(0.5 + 0.1 * i);
    }
    ctx_t k = {.x = s_rand(HN * HC, 1), .w = s_rand(HV * HC, 1)};
    double lp_all[NP], lp_5[NP];
    float *scr = xmalloc(sizeof(float) * llama_head_scratch_floats(NP, HC, HV));
    llama_head_logprob(lp_all, k.x, s_rows, s_target, NP, k.w, HC, HV, NP, scr);
    llama_head_logprob(lp_5, k.x, s_rows, s_target, NP, k.w, HC, HV, 5, scr);
    for (int i = 0; i < NP; i++) {
        double z[HV], mx = -INFINITY, s = 0;
        for (int v = 0; v < HV; v++) {
            z[v] = tu_dot(k.x + s_rows[i] * HC, k.w + v * HC, HC);
            if (z[v] > mx) mx = z[v];
        }
        for (int v = 0; v < HV; v++) s += exp(z[v] - mx);
        assert_true(fabs(lp_all[i] - (z[s_target[i]] - mx - log(s))) < 1e-5);
        assert_true(fabs(lp_5[i] - lp_all[i]) < 1e-6);
    }
    float *dh1 = xcalloc(HN * HC, sizeof(float)), *dw1 = xcalloc(HV * HC, sizeof(float));
    float *dh5 = xcalloc(HN * HC, sizeof(float)), *dw5 = xcalloc(HV * HC, sizeof(float));
    llama_head_backward(dh1, dw1, k.x, s_rows, s_target, s_g, NP, k.w, HC, HV, NP, scr);
    llama_head_backward(dh5, dw5, k.x, s_rows, s_target, s_g, NP, k.w, HC, HV, 5, scr);
    for (int i = 0; i < HN * HC; i++) assert_true(fabs(dh1[i] - dh5[i]) < 1e-5);
    for (int i = 0; i < HV * HC; i++) assert_true(fabs(dw1[i] - dw5[i]) < 1e-5);
    s_chunk = 5;
    tu_grad_check("head hidden", k.x, dh5, HN * HC, L_head, &k);
    tu_grad_check("head weight", k.w, dw5, HV * HC, L_head, &k);
    free(k.x), free(k.w), free(scr), free(dh1), free(dw1), free(dh5), free(dw5);
}

int main(void) {
    rng_seed(&s_rng, 4242);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_ops_rmsnorm),        cmocka_unit_test(test_llama_ops_qk_norm),
        cmocka_unit_test(test_llama_ops_rope),           cmocka_unit_test(test_llama_ops_rope_llama3),
        cmocka_unit_test(test_llama_ops_swiglu),         cmocka_unit_test(test_llama_ops_linear_bias),
        cmocka_unit_test(test_llama_ops_attention_gqa),  cmocka_unit_test(test_llama_ops_attention_segments),
        cmocka_unit_test(test_llama_ops_head_chunked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
