/* llama_forward — the forward pass of llama.h over a packed batch, keeping what the backward
 * pass needs, and what reads its result: sequence log-probs through the chunked head, the
 * hidden features, full logits at chosen positions. Letters: N = B*T positions, C d_model,
 * NH / NKV heads of HD, D = (NH + 2 NKV) HD the fused q/k/v width, F d_ff, V vocabulary. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "common/llama.h"
#include "common/llama_model.h"
#include "common/llama_ops.h"
#include "common/util.h"

/* ---- activations -------------------------------------------------------------------------- */

typedef struct {
    float *base; /* NULL: only counting */
    size_t used;
} cursor_t;

static float *s_take(cursor_t *cur, size_t n) {
    float *p = cur->base ? cur->base + cur->used : NULL;
    cur->used += n;
    return p;
}

/* Lays out the activations and scratch of B x T from base (NULL: only counts them). Returns the
 * floats used. */
static size_t s_layout(llama_t *m, int B, int T, float *base) {
    const llama_config_t *c = &m->cfg;
    size_t N = (size_t)B * T, C = (size_t)c->d_model, HD = (size_t)c->head_dim, NH = (size_t)c->n_head;
    size_t NKV = (size_t)c->n_kv_head, D = (NH + 2 * NKV) * HD, F = (size_t)c->d_ff;
    cursor_t cur = {base, 0};
    /* inference only: layer l works in set l % 2 and writes its output into the other's x */
    int sets = m->inference_only && c->n_layer > 2 ? 2 : c->n_layer;
    for (int l = 0; l < sets; l++) {
        llama_layer_acts_t *a = &m->acts[l];
        a->x = s_take(&cur, N * C);
        a->rstd1 = s_take(&cur, N);
        a->xn1 = s_take(&cur, N * C);
        a->qkr = s_take(&cur, N * D);
        /* without q/k norm the projection is rotated in place: no second copy */
        a->qkv = c->qk_norm ? s_take(&cur, N * D) : a->qkr;
        a->qk_rstd = c->qk_norm ? s_take(&cur, N * (NH + NKV)) : NULL;
        a->att = s_take(&cur, (size_t)B * NH * T * T);
        a->ao = s_take(&cur, N * NH * HD);
        a->h = s_take(&cur, N * C);
        a->rstd2 = s_take(&cur, N);
        a->xn2 = s_take(&cur, N * C);
        a->gu = s_take(&cur, N * 2 * F);
    }
    for (int l = sets; l < c->n_layer; l++) m->acts[l] = m->acts[l % 2];
    m->x_last = s_take(&cur, N * C);
    m->rstd_f = s_take(&cur, N);
    m->hidden = s_take(&cur, N * C);
    m->rope_cos = s_take(&cur, N * HD / 2);
    m->rope_sin = s_take(&cur, N * HD / 2);
    if (m->inference_only) { /* no backward: none of its buffers */
        m->d_res = m->d_xn = m->d_hidden = m->d_ao = m->d_qkr = m->d_qkv = m->d_gu = NULL;
    } else {
        m->d_res = s_take(&cur, N * C);
        m->d_xn = s_take(&cur, N * C);
        m->d_hidden = s_take(&cur, N * C);
        m->d_ao = s_take(&cur, N * NH * HD);
        m->d_qkr = s_take(&cur, N * D);
        m->d_qkv = c->qk_norm ? s_take(&cur, N * D) : m->d_qkr;
        m->d_gu = s_take(&cur, N * 2 * F);
    }
    m->ff = s_take(&cur, N * F);
    m->att_scratch = s_take(&cur, (size_t)T * T);
    return cur.used;
}

void llama_ensure_acts(llama_t *m, int B, int T) {
    if (m->act_mem && B == m->B && T == m->T) return;
    if (!m->acts) m->acts = xcalloc((size_t)m->cfg.n_layer, sizeof *m->acts);
    size_t need = s_layout(m, B, T, NULL);
    if (need > m->act_cap) {
        free(m->act_mem);
        m->act_mem = xmalloc(sizeof(float) * need);
        m->act_cap = need;
    }
    m->act_floats = need;
    s_layout(m, B, T, m->act_mem);
    if ((size_t)B * T > m->tokens_cap) {
        free(m->tokens);
        m->tokens_cap = (size_t)B * T;
        m->tokens = xmalloc(sizeof(int) * m->tokens_cap);
    }
    m->B = B;
    m->T = T;
}

/* ---- forward ------------------------------------------------------------------------------ */

/* y (N rows of stride ldy) += layer l's adapter of target t on x (N, in), when it has one. */
static void s_lora(llama_t *m, int l, int t, float *y, int ldy, const float *x, int N) {
    lora_t *L = m->lora;
    const float *A = L && lora_enabled(L) ? lora_A_const(L, l, t) : NULL;
    if (!A) return;
    int in, out;
    lora_dims(&m->cfg, t, &in, &out);
    lora_forward(y, ldy, lora_acts(L, l, t), x, in, A, lora_B_const(L, l, t), N, in, out, lora_spec(L)->rank,
                 lora_scale(L));
}

static void s_layer_forward(llama_t *m, int l, const int *seg, float *out) {
    const llama_config_t *c = &m->cfg;
    const llama_layer_off_t *o = &m->off[l];
    llama_layer_acts_t *a = &m->acts[l];
    const float *P = m->params;
    int B = m->B, T = m->T, N = B * T, C = c->d_model, HD = c->head_dim, NH = c->n_head, NKV = c->n_kv_head;
    int QD = NH * HD, D = (NH + 2 * NKV) * HD, F = c->d_ff;
    float eps = (float)c->rms_eps;
#define OPT(off) ((off) == LLAMA_NONE ? NULL : P + (off))
    llama_rmsnorm_forward(a->xn1, a->rstd1, a->x, P + o->ln1, N, 1, C, C, eps);
    llama_linear_forward(a->qkv, a->xn1, P + o->wqkv, OPT(o->bqkv), N, C, D, 0);
    s_lora(m, l, LORA_Q, a->qkv, D, a->xn1, N);
    s_lora(m, l, LORA_K, a->qkv + QD, D, a->xn1, N);
    s_lora(m, l, LORA_V, a->qkv + QD + NKV * HD, D, a->xn1, N);
    if (c->qk_norm) {
        llama_rmsnorm_forward(a->qkr, a->qk_rstd, a->qkv, P + o->qnorm, N, NH, HD, D, eps);
        llama_rmsnorm_forward(a->qkr + QD, a->qk_rstd + (size_t)N * NH, a->qkv + QD, P + o->knorm, N, NKV, HD, D, eps);
        for (int n = 0; n < N; n++) /* v as projected */
            memcpy(a->qkr + (size_t)n * D + QD + NKV * HD, a->qkv + (size_t)n * D + QD + NKV * HD,
                   sizeof(float) * NKV * HD);
    }
    llama_rope_forward(a->qkr, m->rope_cos, m->rope_sin, N, NH + NKV, HD, D); /* q and k heads are adjacent */
    llama_attention_forward(a->ao, a->att, a->qkr, seg, B, T, NH, NKV, HD);
    memcpy(a->h, a->x, sizeof(float) * (size_t)N * C);
    llama_linear_forward(a->h, a->ao, P + o->wo, OPT(o->bo), N, QD, C, 1);
    s_lora(m, l, LORA_O, a->h, C, a->ao, N);
    llama_rmsnorm_forward(a->xn2, a->rstd2, a->h, P + o->ln2, N, 1, C, C, eps);
    llama_linear_forward(a->gu, a->xn2, P + o->wgu, OPT(o->bgu), N, C, 2 * F, 0);
    s_lora(m, l, LORA_GATE, a->gu, 2 * F, a->xn2, N);
    s_lora(m, l, LORA_UP, a->gu + F, 2 * F, a->xn2, N);
    llama_swiglu_forward(m->ff, a->gu, N, F);
    memcpy(out, a->h, sizeof(float) * (size_t)N * C);
    llama_linear_forward(out, m->ff, P + o->wdown, OPT(o->bdown), N, F, C, 1);
    s_lora(m, l, LORA_DOWN, out, C, m->ff, N);
#undef OPT
}

int llama_forward(llama_t *m, const int *tokens, const int *pos, const int *seg, int B, int T) {
    const llama_config_t *c = &m->cfg;
    if (B < 1 || T < 1 || (!pos && T > c->ctx)) return -1;
    size_t N = (size_t)B * T, C = (size_t)c->d_model;
    for (size_t i = 0; i < N; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab || (pos && (pos[i] < 0 || pos[i] >= c->ctx))) return -1;
    llama_ensure_acts(m, B, T);
    memcpy(m->tokens, tokens, sizeof(int) * N);
    if (m->lora) lora_ensure_acts(m->lora, (int)N);
    if (pos)
        llama_rope_table(m->rope_cos, m->rope_sin, m->inv_freq, pos, (int)N, c->head_dim);
    else
        for (int b = 0; b < B; b++) /* position t in every row */
            llama_rope_table(m->rope_cos + (size_t)b * T * (c->head_dim / 2),
                             m->rope_sin + (size_t)b * T * (c->head_dim / 2), m->inv_freq, NULL, T, c->head_dim);
    const float *E = m->params + m->embed;
    float *x0 = m->acts[0].x;
    for (size_t i = 0; i < N; i++) memcpy(x0 + i * C, E + (size_t)tokens[i] * C, sizeof(float) * C);
    for (int l = 0; l < c->n_layer; l++)
        s_layer_forward(m, l, seg, l + 1 < c->n_layer ? m->acts[l + 1].x : m->x_last);
    llama_rmsnorm_forward(m->hidden, m->rstd_f, m->x_last, m->params + m->norm, (int)N, 1, (int)C, (int)C,
                          (float)c->rms_eps);
    m->have_forward = 1;
    return 0;
}

/* ---- reading the result ------------------------------------------------------------------- */

void llama_preds_logprob(llama_t *m, const llama_pred_t *p, int n, double *lp) {
    if (n <= 0) return;
    const llama_config_t *c = &m->cfg;
    int *rows = xmalloc(sizeof(int) * (size_t)n), *target = xmalloc(sizeof(int) * (size_t)n);
    double *each = xmalloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) {
        rows[i] = p[i].at;
        target[i] = p[i].target;
    }
    llama_head_logprob(each, m->hidden, rows, target, n, m->params + m->head, c->d_model, c->vocab, m->head_chunk,
                       llama_head_scratch(m));
    for (int i = 0; i < n; i++) lp[p[i].seq] += each[i];
    free(rows);
    free(target);
    free(each);
}

const float *llama_hidden(const llama_t *m) { return m->hidden; }

void llama_logits_at(llama_t *m, const int *at, int n, float *out) {
    if (n <= 0) return;
    int C = m->cfg.d_model;
    float *h = xmalloc(sizeof(float) * (size_t)n * C);
    for (int i = 0; i < n; i++) memcpy(h + (size_t)i * C, m->hidden + (size_t)at[i] * C, sizeof(float) * C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m->cfg.vocab, C, 1.0f, h, C, m->params + m->head, C, 0.0f,
                out, m->cfg.vocab);
    free(h);
}
