/* gpt — see gpt.h. Sections: parameter table, build, activations, forward, log-probs,
 * backward, free. Dimension letters: B sequences, T positions, C channels, L layers, NH heads,
 * V vocabulary. */
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

typedef struct {
    float *encoded;              /* (B, T, C) */
    float *ln1, *ln1_mean, *ln1_rstd; /* (L, B, T, C), (L, B, T) x 2 */
    float *qkv;                  /* (L, B, T, 3C) */
    float *atty;                 /* (L, B, T, C) */
    float *att;                  /* (L, B, NH, T, T) */
    float *attproj;              /* (L, B, T, C) */
    float *residual2;            /* (L, B, T, C) */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu;       /* (L, B, T, 4C) */
    float *fcproj;               /* (L, B, T, C) */
    float *residual3;            /* (L, B, T, C) */
    float *lnf, *lnf_mean, *lnf_rstd; /* (B, T, C), (B, T) x 2 */
    float *logits, *logp;        /* (B, T, V) */
} acts_t;
#define N_ACTS 21

struct gpt {
    gpt_config_t cfg;
    size_t sizes[GPT_N_TENSORS], n_params;
    float *params, *grads;
    gpt_tensors_t p, g;
    int B, T;              /* shapes of the activations held */
    size_t act_total;      /* floats of each of act_mem and dact_mem in use */
    size_t act_cap;        /* floats allocated */
    float *act_mem, *dact_mem;
    acts_t a, d;           /* activations and their gradients, same layout */
};

static void s_point(float *mem, const size_t *sizes, float **ptrs, int n) {
    for (int i = 0; i < n; i++) {
        ptrs[i] = mem;
        mem += sizes[i];
    }
}

static void s_act_sizes(const gpt_config_t *c, int B, int T, size_t *s) {
    size_t L = (size_t)c->n_layer, C = (size_t)c->d_model, NH = (size_t)c->n_head, V = (size_t)c->vocab;
    size_t BT = (size_t)B * T;
    size_t v[N_ACTS] = {BT * C,     L * BT * C, L * BT,     L * BT,     L * BT * 3 * C, L * BT * C, L * B * NH * T * T,
                        L * BT * C, L * BT * C, L * BT * C, L * BT,     L * BT,         L * BT * 4 * C,
                        L * BT * 4 * C, L * BT * C, L * BT * C, BT * C, BT, BT, BT * V, BT * V};
    memcpy(s, v, sizeof v);
}

/* Lays the activations out for B x T, growing the buffers only when they are too small (batches
 * of varying length reuse them). */
static void s_ensure_acts(gpt_t *m, int B, int T) {
    if (m->act_mem && B == m->B && T == m->T) return;
    size_t s[N_ACTS], total = 0;
    s_act_sizes(&m->cfg, B, T, s);
    for (int i = 0; i < N_ACTS; i++) total += s[i];
    if (total > m->act_cap) {
        free(m->act_mem);
        free(m->dact_mem);
        m->act_mem = xcalloc(total, sizeof(float));
        m->dact_mem = xcalloc(total, sizeof(float));
        m->act_cap = total;
    }
    m->act_total = total;
    s_point(m->act_mem, s, (float **)&m->a, N_ACTS);
    s_point(m->dact_mem, s, (float **)&m->d, N_ACTS);
    m->B = B;
    m->T = T;
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
    free(m->dact_mem);
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

const float *gpt_logits(const gpt_t *m) { return m->a.logits; }
const float *gpt_logp(const gpt_t *m) { return m->a.logp; }
void gpt_zero_grad(gpt_t *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* ---- forward ---------------------------------------------------------------------------- */

int gpt_forward(gpt_t *m, const int *tokens, int B, int T) { return gpt_forward_packed(m, tokens, NULL, NULL, B, T); }

int gpt_forward_packed(gpt_t *m, const int *tokens, const int *pos, const int *seg, int B, int T) {
    const gpt_config_t *c = &m->cfg;
    if (B < 1 || T < 1 || (!pos && T > c->ctx)) return -1;
    for (int i = 0; i < B * T; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab || (pos && (pos[i] < 0 || pos[i] >= c->ctx))) return -1;
    s_ensure_acts(m, B, T);
    int C = c->d_model, NH = c->n_head, V = c->vocab, N = B * T;
    size_t BTC = (size_t)N * C;
    gpt_tensors_t *p = &m->p;
    acts_t *a = &m->a;
    encoder_forward(a->encoded, tokens, pos, p->wte, p->wpe, B, T, C);
    for (int l = 0; l < c->n_layer; l++) {
        const float *x = l == 0 ? a->encoded : a->residual3 + (l - 1) * BTC;
        float *ln1 = a->ln1 + l * BTC, *qkv = a->qkv + l * 3 * BTC, *atty = a->atty + l * BTC;
        float *att = a->att + (size_t)l * B * NH * T * T, *attproj = a->attproj + l * BTC;
        float *res2 = a->residual2 + l * BTC, *ln2 = a->ln2 + l * BTC, *fch = a->fch + l * 4 * BTC;
        float *fchg = a->fch_gelu + l * 4 * BTC, *fcproj = a->fcproj + l * BTC, *res3 = a->residual3 + l * BTC;
        layernorm_forward(ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, x, p->ln1w + l * C,
                          p->ln1b + l * C, N, C);
        matmul_forward(qkv, ln1, p->qkvw + (size_t)l * C * 3 * C, p->qkvb + l * 3 * C, N, C, 3 * C);
        attention_forward(atty, att, qkv, seg, B, T, C, NH);
        matmul_forward(attproj, atty, p->attprojw + (size_t)l * C * C, p->attprojb + l * C, N, C, C);
        residual_forward(res2, x, attproj, N * C);
        layernorm_forward(ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, res2, p->ln2w + l * C,
                          p->ln2b + l * C, N, C);
        matmul_forward(fch, ln2, p->fcw + (size_t)l * C * 4 * C, p->fcb + l * 4 * C, N, C, 4 * C);
        gelu_forward(fchg, fch, N * 4 * C);
        matmul_forward(fcproj, fchg, p->fcprojw + (size_t)l * 4 * C * C, p->fcprojb + l * C, N, 4 * C, C);
        residual_forward(res3, res2, fcproj, N * C);
    }
    const float *last = a->residual3 + (c->n_layer - 1) * BTC;
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, last, p->lnfw, p->lnfb, N, C);
    /* tied head: logits (N, V) = lnf (N, C) @ wte^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C, 1.0f, a->lnf, C, p->wte, C, 0.0f, a->logits, V);
    logsoftmax_forward(a->logp, a->logits, N, V);
    return 0;
}

/* ---- log-probs -------------------------------------------------------------------------- */

void gpt_seq_logprob(const gpt_t *m, const int *tokens, const int *prompt_len, const int *len, double *lp) {
    int T = m->T, V = m->cfg.vocab;
    for (int b = 0; b < m->B; b++) {
        double s = 0;
        /* position t predicts token t + 1: the response tokens are prompt_len .. len - 1 */
        for (int t = prompt_len[b] - 1; t < len[b] - 1; t++)
            s += m->a.logp[((size_t)b * T + t) * V + tokens[b * T + t + 1]];
        lp[b] = s;
    }
}

/* ---- backward --------------------------------------------------------------------------- */

void gpt_preds_logprob(const gpt_t *m, const gpt_pred_t *p, int n, double *lp) {
    int V = m->cfg.vocab;
    for (int i = 0; i < n; i++) lp[p[i].seq] += m->a.logp[(size_t)p[i].at * V + p[i].target];
}

void gpt_backward(gpt_t *m, const int *tokens, const int *prompt_len, const int *len, const double *dlp) {
    int B = m->B, T = m->T, n = 0;
    gpt_pred_t *p = xmalloc(sizeof *p * (size_t)B * T);
    for (int b = 0; b < B; b++) /* position t predicts token t + 1 over the response */
        for (int t = prompt_len[b] - 1; t < len[b] - 1; t++) p[n++] = (gpt_pred_t){b * T + t, tokens[b * T + t + 1], b};
    gpt_backward_preds(m, tokens, NULL, p, n, dlp);
    free(p);
}

static void s_backward_trunk(gpt_t *m, const int *tokens, const int *pos);

void gpt_backward_preds(gpt_t *m, const int *tokens, const int *pos, const gpt_pred_t *preds, int n_preds,
                        const double *dlp) {
    const gpt_config_t *c = &m->cfg;
    int C = c->d_model, V = c->vocab, N = m->B * m->T;
    gpt_tensors_t *p = &m->p, *g = &m->g;
    acts_t *a = &m->a, *d = &m->d;
    memset(m->dact_mem, 0, m->act_total * sizeof(float));
    int *row = xmalloc(sizeof(int) * (size_t)(n_preds ? n_preds : 1)), *target = xmalloc(sizeof(int) * (size_t)(n_preds ? n_preds : 1));
    float *w = xmalloc(sizeof(float) * (size_t)(n_preds ? n_preds : 1));
    for (int i = 0; i < n_preds; i++) {
        row[i] = preds[i].at;
        target[i] = preds[i].target;
        w[i] = (float)dlp[preds[i].seq];
    }
    logsoftmax_backward(d->logits, a->logp, row, target, w, n_preds, V);
    free(row);
    free(target);
    free(w);
    /* logits = lnf @ wte^T:  dlnf += dlogits @ wte;  dwte += dlogits^T @ lnf */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, V, 1.0f, d->logits, V, p->wte, C, 1.0f, d->lnf, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, N, 1.0f, d->logits, V, a->lnf, C, 1.0f, g->wte, C);
    s_backward_trunk(m, tokens, pos);
}

const float *gpt_hidden(const gpt_t *m) { return m->a.lnf; }

void gpt_backward_hidden(gpt_t *m, const int *tokens, const int *pos, const float *dh) {
    memset(m->dact_mem, 0, m->act_total * sizeof(float));
    memcpy(m->d.lnf, dh, sizeof(float) * (size_t)m->B * m->T * m->cfg.d_model);
    s_backward_trunk(m, tokens, pos);
}

/* From d(final LayerNorm output) in d.lnf down to the embeddings. */
static void s_backward_trunk(gpt_t *m, const int *tokens, const int *pos) {
    const gpt_config_t *c = &m->cfg;
    int B = m->B, T = m->T, C = c->d_model, NH = c->n_head, N = B * T;
    size_t BTC = (size_t)N * C;
    gpt_tensors_t *p = &m->p, *g = &m->g;
    acts_t *a = &m->a, *d = &m->d;
    float *last = a->residual3 + (c->n_layer - 1) * BTC, *dlast = d->residual3 + (c->n_layer - 1) * BTC;
    layernorm_backward(dlast, g->lnfw, g->lnfb, d->lnf, last, p->lnfw, a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        const float *x = l == 0 ? a->encoded : a->residual3 + (l - 1) * BTC;
        float *dx = l == 0 ? d->encoded : d->residual3 + (l - 1) * BTC;
        float *ln1 = a->ln1 + l * BTC, *dln1 = d->ln1 + l * BTC, *qkv = a->qkv + l * 3 * BTC, *dqkv = d->qkv + l * 3 * BTC;
        float *atty = a->atty + l * BTC, *datty = d->atty + l * BTC;
        float *att = a->att + (size_t)l * B * NH * T * T, *datt = d->att + (size_t)l * B * NH * T * T;
        float *dattproj = d->attproj + l * BTC, *res2 = a->residual2 + l * BTC, *dres2 = d->residual2 + l * BTC;
        float *ln2 = a->ln2 + l * BTC, *dln2 = d->ln2 + l * BTC, *fch = a->fch + l * 4 * BTC, *dfch = d->fch + l * 4 * BTC;
        float *fchg = a->fch_gelu + l * 4 * BTC, *dfchg = d->fch_gelu + l * 4 * BTC;
        float *dfcproj = d->fcproj + l * BTC, *dres3 = d->residual3 + l * BTC;
        residual_backward(dres2, dfcproj, dres3, N * C);
        matmul_backward(dfchg, g->fcprojw + (size_t)l * 4 * C * C, g->fcprojb + l * C, dfcproj, fchg,
                        p->fcprojw + (size_t)l * 4 * C * C, N, 4 * C, C);
        gelu_backward(dfch, fch, dfchg, N * 4 * C);
        matmul_backward(dln2, g->fcw + (size_t)l * C * 4 * C, g->fcb + l * 4 * C, dfch, ln2, p->fcw + (size_t)l * C * 4 * C,
                        N, C, 4 * C);
        layernorm_backward(dres2, g->ln2w + l * C, g->ln2b + l * C, dln2, res2, p->ln2w + l * C,
                           a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N, C);
        residual_backward(dx, dattproj, dres2, N * C);
        matmul_backward(datty, g->attprojw + (size_t)l * C * C, g->attprojb + l * C, dattproj, atty,
                        p->attprojw + (size_t)l * C * C, N, C, C);
        attention_backward(dqkv, datt, datty, qkv, att, B, T, C, NH);
        matmul_backward(dln1, g->qkvw + (size_t)l * C * 3 * C, g->qkvb + l * 3 * C, dqkv, ln1,
                        p->qkvw + (size_t)l * C * 3 * C, N, C, 3 * C);
        layernorm_backward(dx, g->ln1w + l * C, g->ln1b + l * C, dln1, x, p->ln1w + l * C, a->ln1_mean + (size_t)l * N,
                           a->ln1_rstd + (size_t)l * N, N, C);
    }
    encoder_backward(g->wte, g->wpe, d->encoded, tokens, pos, B, T, C);
}
