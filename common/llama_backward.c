/* llama_backward — the backward pass of llama.h: the chunked output head (recomputing each
 * chunk's logits), then the trunk layer by layer from the top, with one layer's worth of
 * gradient scratch reused by every layer. Gradients of the parameters are added into
 * llama_grads(). Letters as in llama_forward.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/llama.h"
#include "common/llama_model.h"
#include "common/llama_ops.h"
#include "common/util.h"

/* Layer l's adapter of target t, when it has one: its gradients from dy (N rows of stride ldy)
 * and x (N, in) of the forward pass, and d(A x) into the adapters' scratch; then (input) dx
 * (N, in) += the gradient through it. */
static int s_lora_params(llama_t *m, int l, int t, const float *dy, int ldy, const float *x, int N) {
    lora_t *L = m->lora;
    if (!L || !lora_enabled(L) || !lora_A(L, l, t)) return 0;
    int in, out;
    lora_dims(&m->cfg, t, &in, &out);
    lora_backward_params(lora_dA(L, l, t), lora_dB(L, l, t), lora_scratch(L), dy, ldy, x, in, lora_acts(L, l, t),
                         lora_B(L, l, t), N, in, out, lora_spec(L)->rank, lora_scale(L));
    return 1;
}

static void s_lora_input(llama_t *m, int l, int t, float *dx, int N) {
    lora_t *L = m->lora;
    int in, out;
    lora_dims(&m->cfg, t, &in, &out);
    lora_backward_input(dx, in, lora_scratch(L), lora_A(L, l, t), N, in, lora_spec(L)->rank);
}

/* Both halves for an adapter whose input gradient dx the base's backward has already written. */
static void s_lora_after(llama_t *m, int l, int t, const float *dy, int ldy, const float *x, float *dx, int N) {
    if (s_lora_params(m, l, t, dy, ldy, x, N)) s_lora_input(m, l, t, dx, N);
}

/* d_res holds d(layer output) on entry and d(layer input) on return. Frozen weights (grads
 * NULL): only the input gradients pass through them. */
static void s_layer_backward(llama_t *m, int l) {
    const llama_config_t *c = &m->cfg;
    const llama_layer_off_t *o = &m->off[l];
    const llama_layer_acts_t *a = &m->acts[l];
    const float *P = m->params;
    float *G = m->grads;
    int B = m->B, T = m->T, N = B * T, C = c->d_model, HD = c->head_dim, NH = c->n_head, NKV = c->n_kv_head;
    int QD = NH * HD, D = (NH + 2 * NKV) * HD, F = c->d_ff;
#define GR(off) (G ? G + (off) : NULL)
#define OPT(off) ((off) == LLAMA_NONE ? NULL : GR(off))
    /* MLP: out = h + down(swiglu(gate_up(rms(h)))); d_res is d(out) */
    llama_swiglu_forward(m->ff, a->gu, N, F); /* recomputed: cheaper than keeping (N, F) per layer */
    int down = s_lora_params(m, l, LORA_DOWN, m->d_res, C, m->ff, N); /* before ff becomes d(ff) */
    llama_linear_backward(m->ff, GR(o->wdown), OPT(o->bdown), m->d_res, m->ff, P + o->wdown, N, F, C);
    if (down) s_lora_input(m, l, LORA_DOWN, m->ff, N);
    llama_swiglu_backward(m->d_gu, m->ff, a->gu, N, F);
    llama_linear_backward(m->d_xn, GR(o->wgu), OPT(o->bgu), m->d_gu, a->xn2, P + o->wgu, N, C, 2 * F);
    s_lora_after(m, l, LORA_GATE, m->d_gu, 2 * F, a->xn2, m->d_xn, N);
    s_lora_after(m, l, LORA_UP, m->d_gu + F, 2 * F, a->xn2, m->d_xn, N);
    llama_rmsnorm_backward(m->d_res, GR(o->ln2), m->d_xn, a->h, P + o->ln2, a->rstd2, N, 1, C, C);
    /* attention: h = x + o_proj(attn(...)); d_res is now d(h) */
    llama_linear_backward(m->d_ao, GR(o->wo), OPT(o->bo), m->d_res, a->ao, P + o->wo, N, QD, C);
    s_lora_after(m, l, LORA_O, m->d_res, C, a->ao, m->d_ao, N);
    memset(m->d_qkr, 0, sizeof(float) * (size_t)N * D);
    llama_attention_backward(m->d_qkr, m->att_scratch, m->d_ao, a->qkr, a->att, B, T, NH, NKV, HD);
    llama_rope_backward(m->d_qkr, m->rope_cos, m->rope_sin, N, NH + NKV, HD, D);
    if (c->qk_norm) { /* d_qkv separate from d_qkr: the norms add into it; v passes through */
        memset(m->d_qkv, 0, sizeof(float) * (size_t)N * D);
        llama_rmsnorm_backward(m->d_qkv, GR(o->qnorm), m->d_qkr, a->qkv, P + o->qnorm, a->qk_rstd, N, NH, HD, D);
        llama_rmsnorm_backward(m->d_qkv + QD, GR(o->knorm), m->d_qkr + QD, a->qkv + QD, P + o->knorm,
                               a->qk_rstd + (size_t)N * NH, N, NKV, HD, D);
        for (int n = 0; n < N; n++)
            memcpy(m->d_qkv + (size_t)n * D + QD + NKV * HD, m->d_qkr + (size_t)n * D + QD + NKV * HD,
                   sizeof(float) * NKV * HD);
    }
    llama_linear_backward(m->d_xn, GR(o->wqkv), OPT(o->bqkv), m->d_qkv, a->xn1, P + o->wqkv, N, C, D);
    s_lora_after(m, l, LORA_Q, m->d_qkv, D, a->xn1, m->d_xn, N);
    s_lora_after(m, l, LORA_K, m->d_qkv + QD, D, a->xn1, m->d_xn, N);
    s_lora_after(m, l, LORA_V, m->d_qkv + QD + NKV * HD, D, a->xn1, m->d_xn, N);
    llama_rmsnorm_backward(m->d_res, GR(o->ln1), m->d_xn, a->x, P + o->ln1, a->rstd1, N, 1, C, C);
#undef GR
#undef OPT
}

/* From d(hidden) in d_hidden down to the token embeddings. */
static void s_backward_trunk(llama_t *m) {
    const llama_config_t *c = &m->cfg;
    size_t N = (size_t)m->B * m->T, C = (size_t)c->d_model;
    memset(m->d_res, 0, sizeof(float) * N * C);
    llama_rmsnorm_backward(m->d_res, m->grads ? m->grads + m->norm : NULL, m->d_hidden, m->x_last, m->params + m->norm,
                           m->rstd_f,
                           (int)N, 1, (int)C, (int)C);
    for (int l = c->n_layer - 1; l >= 0; l--) s_layer_backward(m, l);
    if (!m->grads) return; /* frozen: no embedding gradient */
    float *dE = m->grads + m->embed;
    for (size_t i = 0; i < N; i++) {
        float *d = dE + (size_t)m->tokens[i] * C;
        const float *s = m->d_res + i * C;
        for (size_t j = 0; j < C; j++) d[j] += s[j];
    }
}

void llama_backward(llama_t *m, const llama_pred_t *p, int n, const double *dlp) {
    const llama_config_t *c = &m->cfg;
    size_t N = (size_t)m->B * m->T;
    if (m->inference_only || !m->have_forward) {
        fprintf(stderr, "llama_backward: %s\n", m->inference_only ? "an inference-only model" : "no forward pass");
        abort();
    }
    memset(m->d_hidden, 0, sizeof(float) * N * (size_t)c->d_model);
    if (n > 0) {
        int *rows = xmalloc(sizeof(int) * (size_t)n), *target = xmalloc(sizeof(int) * (size_t)n);
        float *g = xmalloc(sizeof(float) * (size_t)n);
        for (int i = 0; i < n; i++) {
            rows[i] = p[i].at;
            target[i] = p[i].target;
            g[i] = (float)dlp[p[i].seq];
        }
        llama_head_backward(m->d_hidden, m->grads ? m->grads + m->head : NULL, m->hidden, rows, target, g, n,
                            m->params + m->head,
                            c->d_model, c->vocab, m->head_chunk, llama_head_scratch(m));
        free(rows);
        free(target);
        free(g);
    }
    s_backward_trunk(m);
}

void llama_backward_hidden(llama_t *m, const float *dh) {
    memcpy(m->d_hidden, dh, sizeof(float) * (size_t)m->B * m->T * m->cfg.d_model);
    s_backward_trunk(m);
}
