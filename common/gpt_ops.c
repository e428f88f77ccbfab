/* gpt_ops — see gpt_ops.h. The layouts and the backward passes follow the forward passes in
 * reverse, as in karpathy/llm.c's train_gpt2.c; written anew for spar. */
#include "common/gpt_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- vector-friendly helpers ------------------------------------------------------------ */

/* exp(x) for x in about [-87, 88] (clamped outside: under 2e-38 or over 1.6e38), to ~1e-7
 * relative: x = n ln2 + r, |r| <= ln2/2, exp(r) by Cephes' polynomial, 2^n put in the exponent
 * bits. Unlike libm's expf it inlines, so every loop over it vectorises (the profile had GELU
 * and the softmaxes in scalar expf calls). Written for this file's -ffast-math: n is rounded by
 * adding 1.5 * 2^23 and read back from the bits (the usual subtraction would be folded away,
 * and a float-to-int conversion after the clamp stops the vectoriser), and ln2 is split in two
 * fmaf steps (Cody and Waite), which reassociation leaves alone. */
static inline float fast_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    union {
        float f;
        int32_t i;
    } t = {.f = x * 1.44269504088896341f + 12582912.0f}, scale;
    int32_t ni = t.i - 0x4B400000;
    float n = (float)ni;
    float r = fmaf(n, 2.12194440e-4f, fmaf(n, -0.693359375f, x));
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    scale.i = (ni + 127) << 23;
    return p * scale.f;
}

/* The maximum over LANES partial maxima, which the compiler keeps in one vector register (a
 * float maximum is no reduction it vectorises while NaNs keep their meaning; sums are, under
 * this file's -ffast-math). */
#define LANES 16

static float row_max(const float *a, int n) {
    float m[LANES], r = -INFINITY;
    int i = 0;
    for (int j = 0; j < LANES; j++) m[j] = -INFINITY;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) m[j] = a[i + j] > m[j] ? a[i + j] : m[j];
    for (; i < n; i++) r = a[i] > r ? a[i] : r;
    for (int j = 0; j < LANES; j++) r = m[j] > r ? m[j] : r;
    return r;
}

/* sum of exp(a[i] - shift) */
static float exp_sum(const float *a, int n, float shift) {
    float s = 0;
    for (int i = 0; i < n; i++) s += fast_expf(a[i] - shift);
    return s;
}

/* a[0..n) = softmax(a); entries at -INFINITY (hidden keys) get exactly 0 */
static void softmax_row(float *a, int n) {
    float m = row_max(a, n), sum = 0;
    for (int i = 0; i < n; i++) a[i] = a[i] == -INFINITY ? 0.0f : fast_expf(a[i] - m);
    for (int i = 0; i < n; i++) sum += a[i];
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) a[i] *= inv;
}

/* One row of the softmax's backward in place: d[u] = a[u] (d[u] - sum(a d)) scale for u < n,
 * then 0 up to width (keys no query of the row sees). */
static void softmax_row_backward(float *d, const float *a, int n, int width, float scale) {
    float dot = 0;
    for (int i = 0; i < n; i++) dot += a[i] * d[i];
    for (int i = 0; i < n; i++) d[i] = a[i] * (d[i] - dot) * scale;
    for (int i = n; i < width; i++) d[i] = 0;
}

void encoder_forward(float *out, const int *tokens, const int *pos, const float *wte, const float *wpe, int B, int T,
                     int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            int at = pos ? pos[b * T + t] : t;
            const float *e = wte + (size_t)tokens[b * T + t] * C, *p = wpe + (size_t)at * C;
            for (int i = 0; i < C; i++) o[i] = e[i] + p[i];
        }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, const int *pos, int B, int T,
                      int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            int at = pos ? pos[b * T + t] : t;
            float *de = dwte + (size_t)tokens[b * T + t] * C, *dp = dwpe + (size_t)at * C;
            for (int i = 0; i < C; i++) {
                de[i] += d[i];
                dp[i] += d[i];
            }
        }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float m = 0, v = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= C;
        float s = 1.0f / sqrtf(v + 1e-5f);
        float *o = out + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
        mean[n] = m;
        rstd[n] = s;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *d = dout + (size_t)n * C, *x = inp + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        /* two reductions: mean of dnorm and of dnorm * norm */
        float dnorm_mean = 0, dnorm_norm_mean = 0;
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s, dnorm = w[i] * d[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s, dnorm = w[i] * d[i];
            db[i] += d[i];
            dw[i] += norm * d[i];
            dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int C, int OC) {
    if (bias)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, sizeof(float) * OC);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, C, 1.0f, inp, C, w, OC, bias ? 1.0f : 0.0f, out, OC);
}

void matmul_forward_residual(float *out, const float *res, const float *inp, const float *w, const float *bias, int N,
                             int C, int OC) {
    for (int n = 0; n < N; n++) { /* the residual and the bias first, then the product on top (beta 1) */
        float *o = out + (size_t)n * OC;
        const float *r = res + (size_t)n * OC;
        for (int i = 0; i < OC; i++) o[i] = r[i] + bias[i];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, C, 1.0f, inp, C, w, OC, 1.0f, out, OC);
}

/* dinp (N, C) = beta dinp + dout (N, OC) @ w^T;  dw (C, OC) += inp^T @ dout;  dbias += column sums */
static void s_matmul_backward(float beta, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                              const float *w, int N, int C, int OC) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C, OC, 1.0f, dout, OC, w, OC, beta, dinp, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, N, 1.0f, inp, C, dout, OC, 1.0f, dw, OC);
    if (dbias)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++) dbias[o] += d[o];
        }
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     int N, int C, int OC) {
    s_matmul_backward(1.0f, dinp, dw, dbias, dout, inp, w, N, C, OC);
}

void matmul_backward_set(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                         int N, int C, int OC) {
    s_matmul_backward(0.0f, dinp, dw, dbias, dout, inp, w, N, C, OC);
}

/* Rows of attention scores are done in blocks of ATT_BLOCK queries: a block's queries see keys up
 * to its last row only, so each GEMM stops there (about 5/8 of the full square at T = 256). */
#define ATT_BLOCK 64

/* The (B, NH, T, T) scores in blocks of query rows [t0, t1): S = scale Q K^T over keys < t1, a
 * softmax over each row's visible keys (the rest of the row is 0), out = S V over keys < t1. q,
 * k and v are read in place from qkv (row stride 3C). */
void attention_forward(float *out, float *att, const float *qkv, const int *seg, int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
            const int *sg = seg ? seg + (size_t)b * T : NULL;
            float *S = att + ((size_t)b * NH + h) * T * T;
            for (int t0 = 0; t0 < T; t0 += ATT_BLOCK) {
                int t1 = t0 + ATT_BLOCK < T ? t0 + ATT_BLOCK : T, n = t1 - t0;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, t1, hs, scale, q + (size_t)t0 * 3 * C, 3 * C, k,
                            3 * C, 0.0f, S + (size_t)t0 * T, T);
                for (int t = t0; t < t1; t++) {
                    float *a = S + (size_t)t * T;
                    if (sg) /* with segments, another branch is hidden too */
                        for (int u = 0; u <= t; u++)
                            if (sg[u] != 0 && sg[u] != sg[t]) a[u] = -INFINITY;
                    softmax_row(a, t + 1);
                    memset(a + t + 1, 0, sizeof(float) * (size_t)(T - t - 1)); /* the future gets no weight */
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, t1, 1.0f, S + (size_t)t0 * T, T, v, 3 * C,
                            0.0f, out + ((size_t)b * T + t0) * C + h * hs, C);
            }
        }
}

/* The same blocks backwards, the last first (it reaches every key, so it can overwrite dK and dV
 * and the earlier blocks add to them): dS = dout V^T, dV += S^T dout, the softmax's backward in
 * place (dpre = S (dS - rowsum(S dS)) scale; hidden keys have S = 0 and get nothing), dQ = dpre K,
 * dK += dpre^T Q. */
void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att, int B,
                        int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    int last = (T - 1) / ATT_BLOCK * ATT_BLOCK;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t base = (size_t)b * T * 3 * C + h * hs;
            const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
            const float *dO = dout + (size_t)b * T * C + h * hs, *S = att + ((size_t)b * NH + h) * T * T;
            for (int t0 = last; t0 >= 0; t0 -= ATT_BLOCK) {
                int t1 = t0 + ATT_BLOCK < T ? t0 + ATT_BLOCK : T, n = t1 - t0;
                float beta = t0 == last ? 0.0f : 1.0f, *dS = datt; /* (n, t1) */
                const float *dOb = dO + (size_t)t0 * C, *Sb = S + (size_t)t0 * T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, t1, hs, 1.0f, dOb, C, v, 3 * C, 0.0f, dS, t1);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t1, hs, n, 1.0f, Sb, T, dOb, C, beta, dv, 3 * C);
                for (int t = t0; t < t1; t++)
                    softmax_row_backward(dS + (size_t)(t - t0) * t1, Sb + (size_t)(t - t0) * T, t + 1, t1, scale);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, t1, 1.0f, dS, t1, k, 3 * C, 0.0f,
                            dq + (size_t)t0 * 3 * C, 3 * C);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t1, hs, n, 1.0f, dS, t1, q + (size_t)t0 * 3 * C,
                            3 * C, beta, dk, 3 * C);
            }
        }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

/* GPT-2's tanh GELU, 0.5 x (1 + tanh u), written as x sigmoid(2u): the same function with one
 * exponential instead of a tanh. u = sqrt(2/pi) (x + 0.044715 x^3). */
void gelu_forward(float *out, const float *inp, int N) {
    for (int i = 0; i < N; i++) {
        float x = inp[i], u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = x / (1.0f + fast_expf(-2.0f * u));
    }
}

/* d/dx [x s] with s = sigmoid(2u): s + x s (1 - s) 2 u' */
static inline float s_gelu_grad(float x) {
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    float sg = 1.0f / (1.0f + fast_expf(-2.0f * u));
    return sg + x * sg * (1.0f - sg) * 2.0f * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
}

void gelu_backward(float *dinp, const float *inp, const float *dout, int N) {
    for (int i = 0; i < N; i++) dinp[i] += s_gelu_grad(inp[i]) * dout[i];
}

void gelu_backward_inplace(float *d, const float *inp, int N) {
    for (int i = 0; i < N; i++) d[i] *= s_gelu_grad(inp[i]);
}

void residual_forward(float *out, const float *a, const float *b, int N) {
    for (int i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, int N) {
    for (int i = 0; i < N; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

void logsoftmax_lse(float *lse, const float *logits, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float m = row_max(z, V);
        lse[n] = m + logf(exp_sum(z, V, m));
    }
}

void logsoftmax_forward(float *logp, const float *logits, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float lse, *o = logp + (size_t)n * V;
        logsoftmax_lse(&lse, z, 1, V);
        for (int v = 0; v < V; v++) o[v] = z[v] - lse;
    }
}

void logsoftmax_backward(float *dlogits, const float *logp, const int *row, const int *target, const float *g, int n,
                         int V) {
    for (int i = 0; i < n; i++) {
        if (target[i] < 0 || g[i] == 0.0f) continue;
        const float *lp = logp + (size_t)row[i] * V;
        float *d = dlogits + (size_t)row[i] * V, gi = g[i];
        for (int v = 0; v < V; v++) d[v] -= gi * fast_expf(lp[v]);
        d[target[i]] += gi;
    }
}

void logsoftmax_grad_inplace(float *z, float lse, int target, float g, int V) {
    for (int v = 0; v < V; v++) z[v] = -g * fast_expf(z[v] - lse);
    z[target] += g;
}
