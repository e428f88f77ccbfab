/* gpt_sample — see gpt_sample.h. One decode step runs the B sequences' current tokens through
 * the model as a (B, C) batch: the GEMMs are shared, the attention of each sequence reads its own
 * cached keys and values up to its own position. Prompts are fed through the same step, one
 * token at a time, so a shorter prompt starts generating while a longer one is still reading. */
#include "common/gpt_sample.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/decode_gemm.h"
#include "common/gpt_ops.h"
#include "common/token_choice.h"
#include "common/util.h"

static int s_is_eos(const gpt_sample_opts_t *o, int t) {
    if (!o->eos) return t == GPT_EOT; /* the byte-level model's end-of-text */
    for (int i = 0; i < o->n_eos; i++)
        if (o->eos[i] == t) return 1;
    return 0;
}

typedef struct {
    int B, L, NH, hs, ctx;
    float *k, *v; /* (L, B, NH, ctx, hs) */
} kv_cache_t;

static float *s_kv(const kv_cache_t *c, float *base, int l, int b, int h, int pos) {
    return base + ((((size_t)l * c->B + b) * c->NH + h) * c->ctx + pos) * c->hs;
}

/* out (B, OC) = inp (B, C) w (C, OC) + bias: matmul_forward, for a step's few rows streaming w
 * once (decode_gemm_nn) rather than packing it for a GEMM. */
static void s_matmul(float *out, const float *inp, const float *w, const float *bias, int B, int C, int OC) {
    if (B <= DECODE_GEMM_NN_MAX_ROWS) decode_gemm_nn(out, inp, w, bias, B, C, OC);
    else matmul_forward(out, inp, w, bias, B, C, OC);
}

/* One step: tok[b] at position pos[b] for every sequence; writes (B, V) logits. */
static void s_step(gpt_t *m, kv_cache_t *kv, const int *tok, const int *pos, int B, float *logits, float *buf) {
    const gpt_config_t *c = gpt_config(m);
    const gpt_tensors_t *p = gpt_tensors(m);
    int C = c->d_model, NH = c->n_head, hs = C / NH, V = c->vocab;
    float *x = buf, *ln = x + (size_t)B * C, *qkv = ln + (size_t)B * C, *y = qkv + (size_t)B * 3 * C;
    float *proj = y + (size_t)B * C, *fc = proj + (size_t)B * C, *fcg = fc + (size_t)B * 4 * C;
    float *mean = fcg + (size_t)B * 4 * C, *rstd = mean + B, *att = rstd + B;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < C; i++) x[b * C + i] = p->wte[(size_t)tok[b] * C + i] + p->wpe[(size_t)pos[b] * C + i];
    float scale = 1.0f / sqrtf((float)hs);
    for (int l = 0; l < c->n_layer; l++) {
        layernorm_forward(ln, mean, rstd, x, p->ln1w + l * C, p->ln1b + l * C, B, C);
        s_matmul(qkv, ln, p->qkvw + (size_t)l * C * 3 * C, p->qkvb + l * 3 * C, B, C, 3 * C);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                memcpy(s_kv(kv, kv->k, l, b, h, pos[b]), qkv + (size_t)b * 3 * C + C + h * hs, sizeof(float) * hs);
                memcpy(s_kv(kv, kv->v, l, b, h, pos[b]), qkv + (size_t)b * 3 * C + 2 * C + h * hs, sizeof(float) * hs);
                const float *q = qkv + (size_t)b * 3 * C + h * hs;
                float maxv = -INFINITY, sum = 0;
                for (int u = 0; u <= pos[b]; u++) {
                    const float *k = s_kv(kv, kv->k, l, b, h, u);
                    float d = 0;
                    for (int i = 0; i < hs; i++) d += q[i] * k[i];
                    att[u] = d * scale;
                    maxv = fmaxf(maxv, att[u]);
                }
                for (int u = 0; u <= pos[b]; u++) sum += (att[u] = expf(att[u] - maxv));
                float *o = y + (size_t)b * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int u = 0; u <= pos[b]; u++) {
                    const float *v = s_kv(kv, kv->v, l, b, h, u);
                    float w = att[u] / sum;
                    for (int i = 0; i < hs; i++) o[i] += w * v[i];
                }
            }
        s_matmul(proj, y, p->attprojw + (size_t)l * C * C, p->attprojb + l * C, B, C, C);
        residual_forward(x, x, proj, B * C);
        layernorm_forward(ln, mean, rstd, x, p->ln2w + l * C, p->ln2b + l * C, B, C);
        s_matmul(fc, ln, p->fcw + (size_t)l * C * 4 * C, p->fcb + l * 4 * C, B, C, 4 * C);
        gelu_forward(fcg, fc, B * 4 * C);
        s_matmul(proj, fcg, p->fcprojw + (size_t)l * 4 * C * C, p->fcprojb + l * C, B, 4 * C, C);
        residual_forward(x, x, proj, B * C);
    }
    layernorm_forward(ln, mean, rstd, x, p->lnfw, p->lnfb, B, C);
    if (B <= DECODE_GEMM_MAX_ROWS) decode_gemm(logits, ln, p->wte, NULL, B, C, V);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, V, C, 1.0f, ln, C, p->wte, C, 0.0f, logits, V);
}

int gpt_generate(gpt_t *m, const int *const *prompts, const int *plen, int B, const gpt_sample_opts_t *o, rng_t *rngs,
                 int *out_tokens, float *out_logprobs, int *out_len) {
    return gpt_generate_mixture(m, NULL, 0.0, prompts, plen, B, o, rngs, out_tokens, out_logprobs, out_len);
}

int gpt_generate_mixture(gpt_t *m, gpt_t *ref, double mix, const int *const *prompts, const int *plen, int B,
                         const gpt_sample_opts_t *o, rng_t *rngs, int *out_tokens, float *out_logprobs, int *out_len) {
    const gpt_config_t *c = gpt_config(m);
    if (ref) { /* the two models must share vocabulary and context */
        const gpt_config_t *r = gpt_config(ref);
        if (r->vocab != c->vocab || r->ctx != c->ctx) return -1;
    }
    int C = c->d_model, V = c->vocab;
    for (int b = 0; b < B; b++) {
        if (plen[b] < 1 || plen[b] >= c->ctx) return -1;
        for (int t = 0; t < plen[b]; t++)
            if (prompts[b][t] < 0 || prompts[b][t] >= V) return -1;
    }
    kv_cache_t kv = {B, c->n_layer, c->n_head, C / c->n_head, c->ctx, NULL, NULL};
    size_t kvn = (size_t)c->n_layer * B * c->n_head * c->ctx * kv.hs;
    kv.k = xmalloc(sizeof(float) * kvn);
    kv.v = xmalloc(sizeof(float) * kvn);
    kv_cache_t rkv = {0};
    float *rbuf = NULL, *rlogits = NULL;
    if (ref) {
        const gpt_config_t *r = gpt_config(ref);
        int rC = r->d_model;
        rkv = (kv_cache_t){B, r->n_layer, r->n_head, rC / r->n_head, r->ctx, NULL, NULL};
        size_t rn = (size_t)r->n_layer * B * r->n_head * r->ctx * rkv.hs;
        rkv.k = xmalloc(sizeof(float) * rn);
        rkv.v = xmalloc(sizeof(float) * rn);
        rbuf = xmalloc(sizeof(float) * ((size_t)B * 15 * rC + 2 * (size_t)B + (size_t)r->ctx));
        rlogits = xmalloc(sizeof(float) * (size_t)B * V);
    }
    /* x, ln, y, proj (C each), qkv (3C), fc and its GELU (4C each): 15C per row; mean, rstd; scores */
    float *buf = xmalloc(sizeof(float) * ((size_t)B * 15 * C + 2 * (size_t)B + (size_t)c->ctx));
    float *logits = xmalloc(sizeof(float) * (size_t)B * V), *logp = xmalloc(sizeof(float) * V);
    token_choice_scratch_t *choice = token_choice_scratch_new(V);
    int *tok = xmalloc(sizeof(int) * B), *pos = xmalloc(sizeof(int) * B);
    int *done = xcalloc((size_t)B, sizeof(int));
    for (int b = 0; b < B; b++) {
        out_len[b] = 0;
        tok[b] = prompts[b][0];
        pos[b] = 0;
    }
    for (;;) {
        s_step(m, &kv, tok, pos, B, logits, buf);
        if (ref) { /* the geometric mixture, token by token: (1 - mix) z + mix z_ref, renormalised below */
            s_step(ref, &rkv, tok, pos, B, rlogits, rbuf);
            for (size_t i = 0; i < (size_t)B * V; i++) logits[i] = (float)((1 - mix) * logits[i] + mix * rlogits[i]);
        }
        int active = 0;
        for (int b = 0; b < B; b++) {
            if (done[b]) continue; /* finished rows still step (cheap at these sizes), their output is ignored */
            int next_pos = pos[b] + 1;
            if (next_pos < plen[b]) { /* still reading the prompt */
                tok[b] = prompts[b][next_pos];
                pos[b] = next_pos;
                active++;
                continue;
            }
            const float *z = logits + (size_t)b * V;
            int t = token_choice(z, V, o->temperature, o->top_k, o->top_p, &rngs[b], choice, NULL);
            logsoftmax_forward(logp, z, 1, V);
            out_tokens[(size_t)b * o->max_new + out_len[b]] = t;
            out_logprobs[(size_t)b * o->max_new + out_len[b]] = logp[t];
            out_len[b]++;
            if (s_is_eos(o, t) || out_len[b] >= o->max_new || next_pos >= c->ctx) {
                done[b] = 1;
                continue;
            }
            tok[b] = t;
            pos[b] = next_pos;
            active++;
        }
        if (!active) break;
    }
    token_choice_scratch_free(&choice);
    free(kv.k), free(kv.v), free(buf), free(logits), free(logp), free(tok), free(pos);
    free(done), free(rkv.k), free(rkv.v), free(rbuf), free(rlogits);
    return 0;
}
