/* gpt — see gpt.h. Sections: parameter table, activations, build, forward, the head (log-probs
 * and their backward, chunk by chunk), the trunk's backward. Dimension letters: B sequences, T
 * positions, C channels, L layers, NH heads, V vocabulary, N = B T. */
#include "common/gpt.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt_ops.h"
#include "common/rng.h"
#include "common/util.h"

/* ---- parameter table -------------------------------------------------------------------- */

static const char *s_names[GPT_N_TENSORS] = {"wte",  "wpe",  "ln1w", "ln1b",     "qkvw",     "qkvb",
                                             "attprojw", "attprojb", "ln2w", "ln2b", "fcw", "fcb",
                                             "fcprojw",  "fcprojb",  "lnfw", "lnfb"};

static void s_sizes(const gpt_config_t *c, size_t *sz) {
    size_t V = (size_t)c->vocab, C = (size_t)c->d_model, L = (size_t)c->n_layer, T = (size_t)c->ctx;
    size_t s[GPT_N_TENSORS] = {V * C, T * C, L * C,         L * C,     L * C * 3 * C, L * 3 * C, L * C * C, L * C,
                               L * C, L * C, L * C * 4 * C, L * 4 * C, L * 4 * C * C, L * C,     C,         C};
    memcpy(sz, s, sizeof s);
}

/* ---- activations ------------------------------------------------------------------------ */

/* What the forward pass keeps for the backward pass. Each layer's output projections write
 * straight onto the residual stream (matmul_forward_residual), and the GELU's output is not
 * kept: the backward pass recomputes it (one vectorised pass) into scratch. */
typedef struct {
    float *encoded;                   /* (B, T, C) */
    float *ln1, *ln1_mean, *ln1_rstd; /* (L, B, T, C), (L, B, T) x 2 */
    float *qkv;                       /* (L, B, T, 3C) */
    float *atty;                      /* (L, B, T, C) */
    float *att;                       /* (L, B, NH, T, T) */
    float *residual2;                 /* (L, B, T, C) */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch;                       /* (L, B, T, 4C) */
    float *residual3;                 /* (L, B, T, C) */
    float *lnf, *lnf_mean, *lnf_rstd; /* (B, T, C), (B, T) x 2 */
} acts_t;
#define N_ACTS 16

/* One layer's worth of scratch, reused by every layer: the forward pass's GELU output, and the
 * backward pass's gradients (the residual stream's runs through all layers in dres). */
typedef struct {
    float *gelu;  /* (B, T, 4C) the GELU's output, forward and recomputed backward */
    float *d4;    /* (B, T, 4C) d(GELU output), then d(fc pre-activation) in place */
    float *dqkv;  /* (B, T, 3C) */
    float *dc;    /* (B, T, C) d(ln2), d(atty), d(ln1) in turn */
    float *dres;  /* (B, T, C) d(residual stream) */
    float *dlnf;  /* (B, T, C) d(final LayerNorm output) */
    float *datt;  /* (T, T) attention backward's scratch */
} scratch_t;
#define N_SCRATCH 7

/* The head's chunk: rows gathered from lnf, their logits, and d(rows). */
typedef struct {
    float *rows;   /* (R, C) */
    float *logits; /* (R, V) */
    float *drows;  /* (R, C) */
    float *lse;    /* (R) */
} head_t;

/* The head works on chunks of at most this many predicted positions, fewer when the vocabulary
 * is large: its logits stay within HEAD_FLOATS (16 MiB), whatever the batch. */
#define HEAD_ROWS 512
#define HEAD_FLOATS ((size_t)1 << 22)

struct gpt {
    gpt_config_t cfg;
    size_t sizes[GPT_N_TENSORS], n_params;
    float *params, *grads;
    gpt_tensors_t p, g;
    int B, T;                        /* shapes of the activations held */
    size_t act_cap, scratch_cap;     /* floats allocated */
    float *act_mem, *scratch_mem;
    acts_t a;
    scratch_t s;
    int head_rows;                   /* rows per chunk */
    size_t head_cap;
    float *head_mem;
    head_t h;
    gpt_pred_t *wrap_preds;          /* gpt_seq_logprob's and gpt_backward's predictions */
    size_t wrap_cap;
};

static void s_point(float *mem, const size_t *sizes, float **ptrs, int n) {
    for (int i = 0; i < n; i++) {
        ptrs[i] = mem;
        mem += sizes[i];
    }
}

static void s_act_sizes(const gpt_config_t *c, int B, int T, size_t *s) {
    size_t L = (size_t)c->n_layer, C = (size_t)c->d_model, NH = (size_t)c->n_head;
    size_t BT = (size_t)B * T;
    size_t v[N_ACTS] = {BT * C,     L * BT * C, L * BT,     L * BT, L * BT * 3 * C, L * BT * C, L * B * NH * T * T, L * BT * C,
                        L * BT * C, L * BT,     L * BT,     L * BT * 4 * C, L * BT * C, BT * C, BT, BT};
    memcpy(s, v, sizeof v);
}

static void s_scratch_sizes(const gpt_config_t *c, int B, int T, size_t *s) {
    size_t C = (size_t)c->d_model, BT = (size_t)B * T;
    size_t v[N_SCRATCH] = {BT * 4 * C, BT * 4 * C, BT * 3 * C, BT * C, BT * C, BT * C, (size_t)T * T};
    memcpy(s, v, sizeof v);
}

/* Grows *mem to hold the n sizes (never shrinks: batches of varying length reuse it) and points
 * ptrs into it. */
static void s_layout(float **mem, size_t *cap, const size_t *sizes, float **ptrs, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += sizes[i];
    if (total > *cap) {
        free(*mem);
        *mem = xmalloc(total * sizeof(float));
        *cap = total;
    }
    s_point(*mem, sizes, ptrs, n);
}

/* Lays the activations and scratch out for B x T. */
static void s_ensure_acts(gpt_t *m, int B, int T) {
    if (m->act_mem && B == m->B && T == m->T) return;
    size_t s[N_ACTS > N_SCRATCH ? N_ACTS : N_SCRATCH];
    s_act_sizes(&m->cfg, B, T, s);
    s_layout(&m->act_mem, &m->act_cap, s, (float **)&m->a, N_ACTS);
    s_scratch_sizes(&m->cfg, B, T, s);
    s_layout(&m->scratch_mem, &m->scratch_cap, s, (float **)&m->s, N_SCRATCH);
    m->B = B;
    m->T = T;
}

/* Rows per head chunk: as set, or HEAD_ROWS within HEAD_FLOATS of logits. */
static int s_default_head_rows(const gpt_config_t *c) {
    size_t r = HEAD_FLOATS / (size_t)c->vocab;
    return r < 1 ? 1 : r > HEAD_ROWS ? HEAD_ROWS : (int)r;
}

static void s_ensure_head(gpt_t *m) {
    if (m->head_mem) return;
    size_t R = (size_t)m->head_rows, C = (size_t)m->cfg.d_model, V = (size_t)m->cfg.vocab;
    size_t s[4] = {R * C, R * V, R * C, R};
    s_layout(&m->head_mem, &m->head_cap, s, (float **)&m->h, 4);
}

void gpt_set_head_chunk(gpt_t *m, int rows) {
    int r = rows >= 1 ? (rows < HEAD_ROWS ? rows : HEAD_ROWS) : s_default_head_rows(&m->cfg);
    if (r == m->head_rows) return;
    m->head_rows = r;
    free(m->head_mem);
    m->head_mem = NULL;
    m->head_cap = 0;
}

size_t gpt_activation_bytes(const gpt_t *m) {
    size_t head = m->head_mem ? m->head_cap
                              : (size_t)m->head_rows * (2 * (size_t)m->cfg.d_model + (size_t)m->cfg.vocab + 1);
    return (m->act_cap + m->scratch_cap + head) * sizeof(float);
}

/* ---- build ------------------------------------------------------------------------------ */

gpt_t *gpt_new(const gpt_config_t *cfg, unsigned long long seed) {
    if (cfg->n_layer < 1 || cfg->n_head < 1 || cfg->d_model < 1 || cfg->d_model % cfg->n_head != 0 ||
        cfg->ctx < 2 || cfg->vocab < 2)
        return NULL;
    gpt_t *m = xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    s_sizes(cfg, m->sizes);
    for (int i = 0; i < GPT_N_TENSORS; i++) m->n_params += m->sizes[i];
    m->head_rows = s_default_head_rows(cfg);
    m->params = xcalloc(m->n_params, sizeof(float));
    m->grads = xcalloc(m->n_params, sizeof(float));
    s_point(m->params, m->sizes, (float **)&m->p, GPT_N_TENSORS);
    s_point(m->grads, m->sizes, (float **)&m->g, GPT_N_TENSORS);
    rng_t r;
    rng_seed(&r, seed);
    float **t = (float **)&m->p;
    double resid = 0.02 / sqrt(2.0 * cfg->n_layer);
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        const char *n = s_names[i];
        int is_ln_w = !strcmp(n, "ln1w") || !strcmp(n, "ln2w") || !strcmp(n, "lnfw");
        int is_bias = n[strlen(n) - 1] == 'b';
        double sd = (!strcmp(n, "attprojw") || !strcmp(n, "fcprojw")) ? resid : 0.02;
        for (size_t j = 0; j < m->sizes[i]; j++)
            t[i][j] = is_ln_w ? 1.0f : is_bias ? 0.0f : (float)(sd * rng_normal(&r));
    }
    return m;
}

void gpt_destroy(gpt_t **mp) {
    if (!mp || !*mp) return;
    gpt_t *m = *mp;
    free(m->params);
    free(m->grads);
    free(m->act_mem);
    free(m->scratch_mem);
    free(m->head_mem);
    free(m->wrap_preds);
    free(m);
    *mp = NULL;
}

extern void openblas_set_num_threads(int);

void gpt_set_threads(int n) {
    if (n >= 1) openblas_set_num_threads(n);
}

const gpt_config_t *gpt_config(const gpt_t *m) { return &m->cfg; }
size_t gpt_n_params(const gpt_t *m) { return m->n_params; }
float *gpt_params(gpt_t *m) { return m->params; }
float *gpt_grads(gpt_t *m) { return m->grads; }
gpt_tensors_t *gpt_tensors(gpt_t *m) { return &m->p; }
const char *gpt_tensor_name(int i) { return s_names[i]; }
size_t gpt_tensor_size(const gpt_t *m, int i) { return m->sizes[i]; }
uint8_t *gpt_decay_mask(const gpt_t *m) {
    uint8_t *mask = xmalloc(m->n_params), *p = mask;
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        const char *n = s_names[i];
        int matrix = !strcmp(n, "wte") || !strcmp(n, "wpe") || !strcmp(n, "qkvw") || !strcmp(n, "attprojw") ||
                     !strcmp(n, "fcw") || !strcmp(n, "fcprojw");
        memset(p, matrix, m->sizes[i]);
        p += m->sizes[i];
    }
    return mask;
}

void gpt_zero_grad(gpt_t *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* ---- forward ---------------------------------------------------------------------------- */

int gpt_forward(gpt_t *m, const int *tokens, int B, int T) { return gpt_forward_packed(m, tokens, NULL, NULL, B, T); }

int gpt_forward_packed(gpt_t *m, const int *tokens, const int *pos, const int *seg, int B, int T) {
    const gpt_config_t *c = &m->cfg;
    if (B < 1 || T < 1 || (!pos && T > c->ctx)) return -1;
    for (int i = 0; i < B * T; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab || (pos && (pos[i] < 0 || pos[i] >= c->ctx))) return -1;
    s_ensure_acts(m, B, T);
    int C = c->d_model, NH = c->n_head, N = B * T;
    size_t BTC = (size_t)N * C;
    gpt_tensors_t *p = &m->p;
    acts_t *a = &m->a;
    float *gelu = m->s.gelu;
    encoder_forward(a->encoded, tokens, pos, p->wte, p->wpe, B, T, C);
    for (int l = 0; l < c->n_layer; l++) {
        const float *x = l == 0 ? a->encoded : a->residual3 + (l - 1) * BTC;
        float *ln1 = a->ln1 + l * BTC, *qkv = a->qkv + l * 3 * BTC, *atty = a->atty + l * BTC;
        float *att = a->att + (size_t)l * B * NH * T * T, *res2 = a->residual2 + l * BTC, *ln2 = a->ln2 + l * BTC;
        float *fch = a->fch + l * 4 * BTC, *res3 = a->residual3 + l * BTC;
        layernorm_forward(ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, x, p->ln1w + l * C,
                          p->ln1b + l * C, N, C);
        matmul_forward(qkv, ln1, p->qkvw + (size_t)l * C * 3 * C, p->qkvb + l * 3 * C, N, C, 3 * C);
        attention_forward(atty, att, qkv, seg, B, T, C, NH);
        matmul_forward_residual(res2, x, atty, p->attprojw + (size_t)l * C * C, p->attprojb + l * C, N, C, C);
        layernorm_forward(ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, res2, p->ln2w + l * C,
                          p->ln2b + l * C, N, C);
        matmul_forward(fch, ln2, p->fcw + (size_t)l * C * 4 * C, p->fcb + l * 4 * C, N, C, 4 * C);
        gelu_forward(gelu, fch, N * 4 * C);
        matmul_forward_residual(res3, res2, gelu, p->fcprojw + (size_t)l * 4 * C * C, p->fcprojb + l * C, N, 4 * C, C);
    }
    const float *last = a->residual3 + (c->n_layer - 1) * BTC;
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, last, p->lnfw, p->lnfb, N, C);
    return 0;
}

const float *gpt_hidden(const gpt_t *m) { return m->a.lnf; }

/* ---- the head --------------------------------------------------------------------------- */

/* The tied head over n <= head_rows rows of lnf at flat positions at[]: gathers them into
 * h.rows, writes their logits (n, V) = rows @ wte^T into out. */
static void s_head_logits(gpt_t *m, const int *at, int n, float *out) {
    int C = m->cfg.d_model, V = m->cfg.vocab;
    for (int i = 0; i < n; i++) memcpy(m->h.rows + (size_t)i * C, m->a.lnf + (size_t)at[i] * C, sizeof(float) * C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f, m->h.rows, C, m->p.wte, C, 0.0f, out, V);
}

void gpt_logits_at(gpt_t *m, const int *at, int n, float *out) {
    s_ensure_head(m);
    int R = m->head_rows, V = m->cfg.vocab;
    for (int i0 = 0; i0 < n; i0 += R) s_head_logits(m, at + i0, n - i0 < R ? n - i0 : R, out + (size_t)i0 * V);
}

/* Predictions are taken a chunk at a time; a chunk's rows are its predictions' positions (a
 * position predicted twice, as a packed prompt's last one is, is computed twice). */
static int s_chunk_at(const gpt_pred_t *p, int n, int *at) {
    for (int i = 0; i < n; i++) at[i] = p[i].at;
    return n;
}

void gpt_preds_logprob(gpt_t *m, const gpt_pred_t *p, int n, double *lp) {
    s_ensure_head(m);
    int R = m->head_rows, V = m->cfg.vocab, at[HEAD_ROWS];
    for (int i0 = 0; i0 < n; i0 += R) {
        int k = s_chunk_at(p + i0, n - i0 < R ? n - i0 : R, at);
        s_head_logits(m, at, k, m->h.logits);
        logsoftmax_lse(m->h.lse, m->h.logits, k, V);
        for (int i = 0; i < k; i++)
            lp[p[i0 + i].seq] += m->h.logits[(size_t)i * V + p[i0 + i].target] - m->h.lse[i];
    }
}

/* d(sum_s dlp[s] lp[s]) for one chunk of predictions: the logits recomputed, overwritten by
 * their gradient, then dlnf[at] += dlogits @ wte and dwte += dlogits^T @ rows. */
static void s_head_backward(gpt_t *m, const gpt_pred_t *p, int n, const double *dlp) {
    int C = m->cfg.d_model, V = m->cfg.vocab, at[HEAD_ROWS] = {0}, k = 0; /* = {0}: gcc -O1 cannot see s_chunk_at fill it */
    gpt_pred_t kept[HEAD_ROWS];
    for (int i = 0; i < n; i++) /* a prediction with no weight adds nothing */
        if (dlp[p[i].seq] != 0.0) kept[k++] = p[i];
    if (k == 0) return;
    s_chunk_at(kept, k, at);
    s_head_logits(m, at, k, m->h.logits);
    logsoftmax_lse(m->h.lse, m->h.logits, k, V);
    for (int i = 0; i < k; i++)
        logsoftmax_grad_inplace(m->h.logits + (size_t)i * V, m->h.lse[i], kept[i].target, (float)dlp[kept[i].seq], V);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, C, V, 1.0f, m->h.logits, V, m->p.wte, C, 0.0f, m->h.drows, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, k, 1.0f, m->h.logits, V, m->h.rows, C, 1.0f, m->g.wte, C);
    for (int i = 0; i < k; i++) {
        float *d = m->s.dlnf + (size_t)at[i] * C;
        const float *dr = m->h.drows + (size_t)i * C;
        for (int j = 0; j < C; j++) d[j] += dr[j];
    }
}

static void s_backward_trunk(gpt_t *m, const int *tokens, const int *pos);

void gpt_backward_preds(gpt_t *m, const int *tokens, const int *pos, const gpt_pred_t *preds, int n_preds,
                        const double *dlp) {
    s_ensure_head(m);
    memset(m->s.dlnf, 0, sizeof(float) * (size_t)m->B * m->T * m->cfg.d_model);
    for (int i0 = 0; i0 < n_preds; i0 += m->head_rows)
        s_head_backward(m, preds + i0, n_preds - i0 < m->head_rows ? n_preds - i0 : m->head_rows, dlp);
    s_backward_trunk(m, tokens, pos);
}

void gpt_backward_hidden(gpt_t *m, const int *tokens, const int *pos, const float *dh) {
    memcpy(m->s.dlnf, dh, sizeof(float) * (size_t)m->B * m->T * m->cfg.d_model);
    s_backward_trunk(m, tokens, pos);
}

/* The unpacked form's predictions: position t of row b predicts token t + 1 over the response
 * prompt_len[b] .. len[b] - 1 (the prompt is masked out). */
static int s_response_preds(gpt_t *m, const int *tokens, const int *prompt_len, const int *len) {
    int B = m->B, T = m->T, n = 0;
    if (m->wrap_cap < (size_t)B * T) {
        m->wrap_cap = (size_t)B * T;
        m->wrap_preds = xrealloc(m->wrap_preds, sizeof(gpt_pred_t) * m->wrap_cap);
    }
    for (int b = 0; b < B; b++)
        for (int t = prompt_len[b] - 1; t < len[b] - 1; t++)
            if (t >= 0) m->wrap_preds[n++] = (gpt_pred_t){b * T + t, tokens[b * T + t + 1], b};
    return n;
}

void gpt_seq_logprob(gpt_t *m, const int *tokens, const int *prompt_len, const int *len, double *lp) {
    int n = s_response_preds(m, tokens, prompt_len, len);
    for (int b = 0; b < m->B; b++) lp[b] = 0;
    gpt_preds_logprob(m, m->wrap_preds, n, lp);
}

void gpt_backward(gpt_t *m, const int *tokens, const int *prompt_len, const int *len, const double *dlp) {
    int n = s_response_preds(m, tokens, prompt_len, len);
    gpt_backward_preds(m, tokens, NULL, m->wrap_preds, n, dlp);
}

/* ---- the trunk's backward ---------------------------------------------------------------- */

/* From d(final LayerNorm output) in s.dlnf down to the embeddings. dres carries the residual
 * stream's gradient from layer to layer; within a layer the scratch buffers are overwritten. */
static void s_backward_trunk(gpt_t *m, const int *tokens, const int *pos) {
    const gpt_config_t *c = &m->cfg;
    int B = m->B, T = m->T, C = c->d_model, NH = c->n_head, N = B * T;
    size_t BTC = (size_t)N * C;
    gpt_tensors_t *p = &m->p, *g = &m->g;
    acts_t *a = &m->a;
    scratch_t *s = &m->s;
    float *last = a->residual3 + (c->n_layer - 1) * BTC;
    memset(s->dres, 0, sizeof(float) * BTC);
    layernorm_backward(s->dres, g->lnfw, g->lnfb, s->dlnf, last, p->lnfw, a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        const float *x = l == 0 ? a->encoded : a->residual3 + (l - 1) * BTC;
        float *ln1 = a->ln1 + l * BTC, *qkv = a->qkv + l * 3 * BTC, *atty = a->atty + l * BTC;
        float *att = a->att + (size_t)l * B * NH * T * T, *res2 = a->residual2 + l * BTC;
        float *ln2 = a->ln2 + l * BTC, *fch = a->fch + l * 4 * BTC;
        /* dres is d(residual3): it flows on to residual2 and into the MLP's output projection */
        gelu_forward(s->gelu, fch, N * 4 * C);
        matmul_backward_set(s->d4, g->fcprojw + (size_t)l * 4 * C * C, g->fcprojb + l * C, s->dres, s->gelu,
                            p->fcprojw + (size_t)l * 4 * C * C, N, 4 * C, C);
        gelu_backward_inplace(s->d4, fch, N * 4 * C);
        matmul_backward_set(s->dc, g->fcw + (size_t)l * C * 4 * C, g->fcb + l * 4 * C, s->d4, ln2,
                            p->fcw + (size_t)l * C * 4 * C, N, C, 4 * C);
        layernorm_backward(s->dres, g->ln2w + l * C, g->ln2b + l * C, s->dc, res2, p->ln2w + l * C,
                           a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N, C);
        /* dres is d(residual2): on to the layer's input and into the attention's projection */
        matmul_backward_set(s->dc, g->attprojw + (size_t)l * C * C, g->attprojb + l * C, s->dres, atty,
                            p->attprojw + (size_t)l * C * C, N, C, C);
        attention_backward(s->dqkv, s->datt, s->dc, qkv, att, B, T, C, NH);
        matmul_backward_set(s->dc, g->qkvw + (size_t)l * C * 3 * C, g->qkvb + l * 3 * C, s->dqkv, ln1,
                            p->qkvw + (size_t)l * C * 3 * C, N, C, 3 * C);
        layernorm_backward(s->dres, g->ln1w + l * C, g->ln1b + l * C, s->dc, x, p->ln1w + l * C,
                           a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, N, C);
    }
    encoder_backward(g->wte, g->wpe, s->dres, tokens, pos, B, T, C);
}
