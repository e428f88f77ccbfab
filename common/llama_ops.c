/* llama_ops — see llama_ops.h. The equations are Hugging Face's modeling_llama / qwen2 / qwen3,
 * written anew: the elementwise loops are plain so the compiler vectorises them (this file is
 * built with -ffast-math, so it never uses infinities: maxima start at -FLT_MAX and a hidden
 * attention score is HIDDEN_SCORE, whose exp is 0), the products are OpenBLAS GEMMs. */
#include "common/llama_ops.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- RMSNorm ------------------------------------------------------------------------------ */

void llama_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int H, int C, int stride,
                           float eps) {
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            size_t at = (size_t)n * stride + (size_t)h * C;
            const float *xi = x + at;
            float *o = out + at, ss = 0;
            for (int i = 0; i < C; i++) ss += xi[i] * xi[i];
            float r = 1.0f / sqrtf(ss / (float)C + eps);
            for (int i = 0; i < C; i++) o[i] = xi[i] * r * w[i];
            rstd[(size_t)n * H + h] = r;
        }
}

/* y_i = x_i r w_i with r = (mean(x^2) + eps)^(-1/2), dr/dx_j = -r^3 x_j / C:
 * dx_j = r w_j dy_j - x_j r^3 / C * sum_i dy_i w_i x_i;  dw_i = sum over rows of dy_i x_i r. */
void llama_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            const float *rstd, int N, int H, int C, int stride) {
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++) {
            size_t at = (size_t)n * stride + (size_t)h * C;
            const float *xi = x + at, *d = dout + at;
            float *dxi = dx + at, r = rstd[(size_t)n * H + h], dot = 0;
            for (int i = 0; i < C; i++) dot += d[i] * w[i] * xi[i];
            float k = dot * r * r * r / (float)C;
            for (int i = 0; i < C; i++) {
                dxi[i] += r * w[i] * d[i] - k * xi[i];
            }
            if (dw)
                for (int i = 0; i < C; i++) dw[i] += d[i] * xi[i] * r;
        }
}

/* ---- rotary embeddings -------------------------------------------------------------------- */

void llama_rope_inv_freq(float *inv_freq, const llama_config_t *c) {
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        /* float, as transformers computes it: 1 / theta ** (arange(0, HD, 2).float() / HD) */
        float e = (float)(2 * i) / (float)c->head_dim;
        inv_freq[i] = 1.0f / powf((float)c->rope_theta, e);
    }
    if (!c->rope_llama3) return;
    double old = c->rope_original_ctx, lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor;
    double low_wavelen = old / lo, high_wavelen = old / hi;
    for (int i = 0; i < half; i++) {
        double f = inv_freq[i], wavelen = 2 * M_PI / f;
        if (wavelen > low_wavelen)
            f = f / c->rope_factor;
        else if (wavelen >= high_wavelen) { /* medium: blend the scaled and the original */
            double smooth = (old / wavelen - lo) / (hi - lo);
            f = (1 - smooth) * f / c->rope_factor + smooth * f;
        }
        inv_freq[i] = (float)f;
    }
}

void llama_rope_table(float *cos_t, float *sin_t, const float *inv_freq, const int *pos, int N, int HD) {
    int half = HD / 2;
    for (int n = 0; n < N; n++) {
        float p = (float)(pos ? pos[n] : n);
        for (int i = 0; i < half; i++) {
            /* the angle is a float product, as in transformers; its cos and sin exact */
            float a = p * inv_freq[i];
            cos_t[(size_t)n * half + i] = (float)cos((double)a);
            sin_t[(size_t)n * half + i] = (float)sin((double)a);
        }
    }
}

/* (a, b) = (x_i, x_{i+HD/2}) -> (a cos - b sin, b cos + a sin); the backward rotates by -angle. */
static void s_rope(float *x, const float *cos_t, const float *sin_t, int N, int H, int HD, int stride, float sign) {
    int half = HD / 2;
    for (int n = 0; n < N; n++) {
        const float *cs = cos_t + (size_t)n * half, *sn = sin_t + (size_t)n * half;
        for (int h = 0; h < H; h++) {
            float *a = x + (size_t)n * stride + (size_t)h * HD, *b = a + half;
            for (int i = 0; i < half; i++) {
                float ai = a[i], bi = b[i], s = sign * sn[i];
                a[i] = ai * cs[i] - bi * s;
                b[i] = bi * cs[i] + ai * s;
            }
        }
    }
}

void llama_rope_forward(float *x, const float *cos_t, const float *sin_t, int N, int H, int HD, int stride) {
    s_rope(x, cos_t, sin_t, N, H, HD, stride, 1.0f);
}

void llama_rope_backward(float *dx, const float *cos_t, const float *sin_t, int N, int H, int HD, int stride) {
    s_rope(dx, cos_t, sin_t, N, H, HD, stride, -1.0f);
}

/* ---- SwiGLU ------------------------------------------------------------------------------- */

void llama_swiglu_forward(float *out, const float *gu, int N, int F) {
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * F, *u = g + F;
        float *o = out + (size_t)n * F;
        for (int i = 0; i < F; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

/* silu(g) = g s, s = sigmoid(g); silu'(g) = s (1 + g (1 - s)). */
void llama_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int F) {
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * F, *u = g + F, *d = dout + (size_t)n * F;
        float *dg = dgu + (size_t)n * 2 * F, *du = dg + F;
        for (int i = 0; i < F; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            du[i] = d[i] * g[i] * s;
            dg[i] = d[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}

/* ---- linear ------------------------------------------------------------------------------- */

void llama_linear_forward(float *out, const float *x, const float *w, const float *bias, int N, int IC, int OC,
                          int accumulate) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, x, IC, w, IC, accumulate ? 1.0f : 0.0f,
                out, OC);
    if (bias)
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * OC;
            for (int j = 0; j < OC; j++) o[j] += bias[j];
        }
}

void llama_linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w, int N,
                           int IC, int OC) {
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, x, IC, 1.0f, dw, IC);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int j = 0; j < OC; j++) db[j] += d[j];
        }
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dx, IC);
}

/* ---- attention ---------------------------------------------------------------------------- */

#define HIDDEN_SCORE (-1e30f)

/* Per (row, head): S = scale Q K^T (one GEMM), masked softmax per query in place, O = S V. */
void llama_attention_forward(float *out, float *att, const float *qkv, const int *seg, int B, int T, int NH, int NKV,
                             int HD) {
    int D = (NH + 2 * NKV) * HD, OD = NH * HD, group = NH / NKV;
    float scale = 1.0f / sqrtf((float)HD);
    for (int b = 0; b < B; b++) {
        const int *sg = seg ? seg + (size_t)b * T : NULL;
        const float *row = qkv + (size_t)b * T * D;
        for (int h = 0; h < NH; h++) {
            int kvh = h / group;
            const float *q = row + (size_t)h * HD, *k = row + (size_t)(NH + kvh) * HD;
            const float *v = row + (size_t)(NH + NKV + kvh) * HD;
            float *S = att + ((size_t)b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, scale, q, D, k, D, 0.0f, S, T);
            for (int t = 0; t < T; t++) {
                float *a = S + (size_t)t * T, mx = -FLT_MAX, sum = 0;
                if (sg) /* a hidden key's weight is exactly 0 (exp(HIDDEN_SCORE - max)) */
                    for (int u = 0; u < t; u++)
                        if (sg[u] != 0 && sg[u] != sg[t]) a[u] = HIDDEN_SCORE;
                for (int u = 0; u <= t; u++) mx = a[u] > mx ? a[u] : mx;
                /* a hidden key's 0 set, not computed: expf's underflow path is slow, and packed
                 * rows hide most keys */
                for (int u = 0; u <= t; u++) sum += (a[u] = a[u] == HIDDEN_SCORE ? 0.0f : expf(a[u] - mx));
                float inv = 1.0f / sum;
                for (int u = 0; u <= t; u++) a[u] *= inv;
                for (int u = t + 1; u < T; u++) a[u] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, 1.0f, S, T, v, D, 0.0f,
                        out + (size_t)b * T * OD + (size_t)h * HD, OD);
        }
    }
}

/* dS = dO V^T, dV += S^T dO, dpre = S (dS - rowsum(S dS)) scale (0 where S is: hidden keys),
 * dQ += dpre K, dK += dpre^T Q. */
void llama_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B,
                              int T, int NH, int NKV, int HD) {
    int D = (NH + 2 * NKV) * HD, OD = NH * HD, group = NH / NKV;
    float scale = 1.0f / sqrtf((float)HD);
    for (int b = 0; b < B; b++) {
        const float *row = qkv + (size_t)b * T * D;
        float *drow = dqkv + (size_t)b * T * D;
        for (int h = 0; h < NH; h++) {
            int kvh = h / group;
            size_t qo = (size_t)h * HD, ko = (size_t)(NH + kvh) * HD, vo = (size_t)(NH + NKV + kvh) * HD;
            const float *S = att + ((size_t)b * NH + h) * T * T, *dO = dout + (size_t)b * T * OD + qo;
            float *dS = scratch;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, 1.0f, dO, OD, row + vo, D, 0.0f, dS, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, 1.0f, S, T, dO, OD, 1.0f, drow + vo, D);
            for (int t = 0; t < T; t++) {
                const float *a = S + (size_t)t * T;
                float *d = dS + (size_t)t * T, dot = 0;
                for (int u = 0; u <= t; u++) dot += a[u] * d[u];
                for (int u = 0; u <= t; u++) d[u] = a[u] * (d[u] - dot) * scale;
                for (int u = t + 1; u < T; u++) d[u] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, 1.0f, dS, T, row + ko, D, 1.0f, drow + qo,
                        D);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, 1.0f, dS, T, row + qo, D, 1.0f, drow + ko,
                        D);
        }
    }
}

/* ---- output head, chunked ----------------------------------------------------------------- */

/* scratch: logits (chunk, V), gathered hidden rows (chunk, C), their gradient (chunk, C) */
size_t llama_head_scratch_floats(int chunk, int C, int V) { return (size_t)chunk * ((size_t)V + 2 * (size_t)C); }

/* log-sum-exp of a row of logits */
static float s_lse(const float *z, int V) {
    float mx = -FLT_MAX, s = 0;
    for (int v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
    for (int v = 0; v < V; v++) s += expf(z[v] - mx);
    return mx + logf(s);
}

void llama_head_logprob(double *lp, const float *hidden, const int *rows, const int *target, int n, const float *w,
                        int C, int V, int chunk, float *scratch) {
    float *logits = scratch, *hc = scratch + (size_t)chunk * V;
    for (int i0 = 0; i0 < n; i0 += chunk) {
        int nc = n - i0 < chunk ? n - i0 : chunk;
        for (int j = 0; j < nc; j++) memcpy(hc + (size_t)j * C, hidden + (size_t)rows[i0 + j] * C, sizeof(float) * C);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nc, V, C, 1.0f, hc, C, w, C, 0.0f, logits, V);
        for (int j = 0; j < nc; j++) {
            const float *z = logits + (size_t)j * V;
            lp[i0 + j] = (double)z[target[i0 + j]] - (double)s_lse(z, V);
        }
    }
}

/* Chunks hold the next `chunk` predictions with g != 0; a chunk covers predictions [i0, i1). */
void llama_head_backward(float *dhidden, float *dw, const float *hidden, const int *rows, const int *target,
                         const float *g, int n, const float *w, int C, int V, int chunk, float *scratch) {
    float *logits = scratch, *hc = scratch + (size_t)chunk * V, *dhc = hc + (size_t)chunk * C;
    for (int i0 = 0; i0 < n;) {
        int nc = 0, i1 = i0;
        for (; i1 < n && nc < chunk; i1++)
            if (g[i1] != 0.0f) memcpy(hc + (size_t)nc++ * C, hidden + (size_t)rows[i1] * C, sizeof(float) * C);
        if (nc == 0) break;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nc, V, C, 1.0f, hc, C, w, C, 0.0f, logits, V);
        /* d(g log softmax(z)[y]) / dz = g (onehot(y) - softmax(z)), in place over the logits */
        for (int i = i0, j = 0; i < i1; i++) {
            if (g[i] == 0.0f) continue;
            float *z = logits + (size_t)j++ * V, lse = s_lse(z, V), gi = g[i];
            for (int v = 0; v < V; v++) z[v] = -gi * expf(z[v] - lse);
            z[target[i]] += gi;
        }
        if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, nc, 1.0f, logits, V, hc, C, 1.0f, dw, C);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nc, C, V, 1.0f, logits, V, w, C, 0.0f, dhc, C);
        for (int i = i0, j = 0; i < i1; i++) {
            if (g[i] == 0.0f) continue;
            float *dh = dhidden + (size_t)rows[i] * C;
            const float *d = dhc + (size_t)j++ * C;
            for (int c = 0; c < C; c++) dh[c] += d[c];
        }
        i0 = i1;
    }
}
