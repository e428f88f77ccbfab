/* gpt_ops — see gpt_ops.h. The layouts and the backward passes follow the forward passes in
 * reverse, as in karpathy/llm.c's train_gpt2.c; written anew for spar. */
#include "common/gpt_ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     int N, int C, int OC) {
    /* dinp (N, C) += dout (N, OC) @ w^T;  dw (C, OC) += inp^T @ dout */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C, OC, 1.0f, dout, OC, w, OC, 1.0f, dinp, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, N, 1.0f, inp, C, dout, OC, 1.0f, dw, OC);
    if (dbias)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) dbias[o] += dout[(size_t)n * OC + o];
}

/* Per (sequence, head), three GEMMs: scores S = scale Q K^T (T x T, the masked part computed and
 * then zeroed: cheaper than a loop over the triangle), a softmax over each row's visible keys,
 * out = S V. q, k and v are read in place from qkv (row stride 3C). */
void attention_forward(float *out, float *att, const float *qkv, const int *seg, int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
            const int *sg = seg ? seg + (size_t)b * T : NULL;
            float *S = att + ((size_t)b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, 3 * C, k, 3 * C, 0.0f, S, T);
            for (int t = 0; t < T; t++) {
                float *a = S + (size_t)t * T, maxv = -INFINITY, sum = 0;
                for (int u = 0; u <= t; u++) /* causal; with segments, another branch is hidden too */
                    if (!(sg && sg[u] != 0 && sg[u] != sg[t]) && a[u] > maxv) maxv = a[u];
                for (int u = 0; u <= t; u++)
                    sum += (a[u] = sg && sg[u] != 0 && sg[u] != sg[t] ? 0.0f : expf(a[u] - maxv));
                float inv = 1.0f / sum;
                for (int u = 0; u <= t; u++) a[u] *= inv;
                for (int u = t + 1; u < T; u++) a[u] = 0; /* the future gets no weight */
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, S, T, v, 3 * C, 0.0f,
                        out + (size_t)b * T * C + h * hs, C);
        }
}

/* The same GEMMs backwards: dS = dout V^T, dV += S^T dout, the softmax's backward in place
 * (dpre = S (dS - rowsum(S dS)) scale; hidden keys have S = 0 and get nothing), dQ += dpre K,
 * dK += dpre^T Q. datt is scratch (T x T per sequence and head). */
void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att, int B,
                        int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t base = (size_t)b * T * 3 * C + h * hs;
            const float *q = qkv + base, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
            const float *dO = dout + (size_t)b * T * C + h * hs, *S = att + ((size_t)b * NH + h) * T * T;
            float *dS = datt + ((size_t)b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dO, C, v, 3 * C, 0.0f, dS, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, S, T, dO, C, 1.0f, dv, 3 * C);
            for (int t = 0; t < T; t++) {
                const float *a = S + (size_t)t * T;
                float *d = dS + (size_t)t * T, dot = 0;
                for (int u = 0; u <= t; u++) dot += a[u] * d[u];
                for (int u = 0; u <= t; u++) d[u] = a[u] * (d[u] - dot) * scale;
                for (int u = t + 1; u < T; u++) d[u] = 0;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, k, 3 * C, 1.0f, dq, 3 * C);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dS, T, q, 3 * C, 1.0f, dk, 3 * C);
        }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

/* GPT-2's tanh GELU, 0.5 x (1 + tanh u), written as x sigmoid(2u): the same function with one
 * expf instead of tanhf (which is much slower). u = sqrt(2/pi) (x + 0.044715 x^3). */
void gelu_forward(float *out, const float *inp, int N) {
    for (int i = 0; i < N; i++) {
        float x = inp[i], u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = x / (1.0f + expf(-2.0f * u));
    }
}

/* d/dx [x s] with s = sigmoid(2u): s + x s (1 - s) 2 u' */
void gelu_backward(float *dinp, const float *inp, const float *dout, int N) {
    for (int i = 0; i < N; i++) {
        float x = inp[i], u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float sg = 1.0f / (1.0f + expf(-2.0f * u));
        float grad = sg + x * sg * (1.0f - sg) * 2.0f * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += grad * dout[i];
    }
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

void logsoftmax_forward(float *logp, const float *logits, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *o = logp + (size_t)n * V;
        float m = -INFINITY;
        for (int v = 0; v < V; v++) m = fmaxf(m, z[v]);
        double s = 0;
        for (int v = 0; v < V; v++) s += exp((double)(z[v] - m));
        float lse = m + (float)log(s);
        for (int v = 0; v < V; v++) o[v] = z[v] - lse;
    }
}

void logsoftmax_backward(float *dlogits, const float *logp, const int *row, const int *target, const float *g, int n,
                         int V) {
    for (int i = 0; i < n; i++) {
        if (target[i] < 0 || g[i] == 0.0f) continue;
        const float *lp = logp + (size_t)row[i] * V;
        float *d = dlogits + (size_t)row[i] * V;
        for (int v = 0; v < V; v++) d[v] -= g[i] * expf(lp[v]);
        d[target[i]] += g[i];
    }
}
