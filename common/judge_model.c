/* judge_model — see judge_model.h. */
#include "common/judge_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt_io.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/tokenizer.h"
#include "common/util.h"

judge_model_t *jm_new(jm_kind_t kind, const gpt_config_t *c, int dim, unsigned long long seed) {
    if (dim < 1 || (kind == JM_REWARD && dim != 1) || (kind == JM_PREFERENCE && dim % 2 != 0)) return NULL;
    gpt_t *t = gpt_new(c, seed);
    if (!t) return NULL;
    judge_model_t *m = xcalloc(1, sizeof *m);
    m->kind = kind;
    m->dim = dim;
    m->trunk = t;
    size_t C = (size_t)c->d_model;
    m->w = xcalloc(C * dim, sizeof(float));
    m->b = xcalloc((size_t)dim, sizeof(float));
    m->gw = xcalloc(C * dim, sizeof(float));
    m->gb = xcalloc((size_t)dim, sizeof(float));
    rng_t r;
    rng_stream(&r, seed, 0x68656164, 0, 0); /* "head" */
    for (size_t i = 0; i < C * dim; i++) m->w[i] = (float)(0.02 * rng_normal(&r));
    return m;
}

void jm_destroy(judge_model_t **mp) {
    if (!mp || !*mp) return;
    judge_model_t *m = *mp;
    gpt_destroy(&m->trunk);
    free(m->w), free(m->b), free(m->gw), free(m->gb), free(m->tokens), free(m->at);
    free(m);
    *mp = NULL;
}

void jm_zero_grad(judge_model_t *m) {
    gpt_zero_grad(m->trunk);
    memset(m->gw, 0, sizeof(float) * (size_t)gpt_config(m->trunk)->d_model * m->dim);
    memset(m->gb, 0, sizeof(float) * (size_t)m->dim);
}

int jm_forward(judge_model_t *m, const char *const *prompts, const char *const *responses, int n, float *v) {
    const gpt_config_t *c = gpt_config(m->trunk);
    int ctx = c->ctx, C = c->d_model, T = 1;
    int *rows = xmalloc(sizeof(int) * (size_t)n * ctx), *len = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int pl;
        if ((len[i] = tok_encode_pair(prompts[i], responses[i], rows + (size_t)i * ctx, ctx, &pl)) < 0) {
            free(rows), free(len);
            return -1;
        }
        T = len[i] > T ? len[i] : T;
    }
    m->tokens = xrealloc(m->tokens, sizeof(int) * (size_t)n * T);
    m->at = xrealloc(m->at, sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) { /* padded past the end: causal attention keeps it out of h */
        for (int t = 0; t < T; t++) m->tokens[i * T + t] = t < len[i] ? rows[(size_t)i * ctx + t] : GPT_EOT;
        m->at[i] = i * T + len[i] - 1; /* the end-of-text token */
    }
    free(rows), free(len);
    m->B = n;
    m->T = T;
    if (gpt_forward(m->trunk, m->tokens, n, T) != 0) return -1;
    const float *h = gpt_hidden(m->trunk);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < m->dim; d++) {
            double s = m->b[d];
            for (int k = 0; k < C; k++) s += (double)h[(size_t)m->at[i] * C + k] * m->w[(size_t)k * m->dim + d];
            v[i * m->dim + d] = (float)s;
        }
    return 0;
}

void jm_backward(judge_model_t *m, const float *dv) {
    int C = gpt_config(m->trunk)->d_model, D = m->dim;
    const float *h = gpt_hidden(m->trunk);
    float *dh = xcalloc((size_t)m->B * m->T * C, sizeof(float));
    for (int i = 0; i < m->B; i++) {
        const float *hi = h + (size_t)m->at[i] * C;
        float *dhi = dh + (size_t)m->at[i] * C;
        for (int d = 0; d < D; d++) {
            float g = dv[i * D + d];
            if (g == 0.0f) continue;
            m->gb[d] += g;
            for (int k = 0; k < C; k++) {
                m->gw[(size_t)k * D + d] += hi[k] * g;
                dhi[k] += m->w[(size_t)k * D + d] * g;
            }
        }
    }
    gpt_backward_hidden(m->trunk, m->tokens, NULL, dh);
    free(dh);
}

double jm_score(const judge_model_t *m, const float *va, const float *vb) {
    if (m->kind == JM_REWARD) return (double)va[0] - vb[0];
    double s = 0;
    for (int i = 0; i < m->dim; i += 2) s += (double)va[i] * vb[i + 1] - (double)va[i + 1] * vb[i];
    return s;
}

void jm_score_backward(const judge_model_t *m, const float *va, const float *vb, double g, float *dva, float *dvb) {
    if (m->kind == JM_REWARD) {
        dva[0] += (float)g;
        dvb[0] -= (float)g;
        return;
    }
    for (int i = 0; i < m->dim; i += 2) { /* s = sum va[i] vb[i+1] - va[i+1] vb[i] */
        dva[i] += (float)(g * vb[i + 1]);
        dva[i + 1] -= (float)(g * vb[i]);
        dvb[i + 1] += (float)(g * va[i]);
        dvb[i] -= (float)(g * va[i + 1]);
    }
}

/* log sigmoid(x), stable for large |x| */
static double s_log_sigmoid(double x) { return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)); }
static double s_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

double jm_pair_loss(double s, int tie, double *dlds) {
    if (tie) {
        *dlds = s_sigmoid(s) - 0.5;
        return -0.5 * s_log_sigmoid(s) - 0.5 * s_log_sigmoid(-s);
    }
    *dlds = s_sigmoid(s) - 1.0;
    return -s_log_sigmoid(s);
}

int jm_save(judge_model_t *m, const char *dir) {
    int rc = util_mkdirs(dir);
    if (rc != 0) return rc;
    char *trunk = xasprintf("%s/trunk", dir), *head = xasprintf("%s/head.safetensors", dir), dims[16];
    rc = gpt_save(m->trunk, trunk, 0);
    int C = gpt_config(m->trunk)->d_model;
    st_tensor_t t[2] = {{.name = "head.weight", .dtype = "F32", .ndim = 2, .shape = {C, m->dim}, .data = m->w,
                         .nbytes = sizeof(float) * (size_t)C * m->dim},
                        {.name = "head.bias", .dtype = "F32", .ndim = 1, .shape = {m->dim}, .data = m->b,
                         .nbytes = sizeof(float) * (size_t)m->dim}};
    snprintf(dims, sizeof dims, "%d", m->dim);
    const char *keys[] = {"judge", "dim"}, *vals[] = {m->kind == JM_REWARD ? "reward" : "preference", dims};
    size_t len;
    void *blob = st_serialize(t, 2, keys, vals, 2, &len);
    if (rc == 0) rc = util_write_atomic(head, blob, len);
    free(blob), free(trunk), free(head);
    return rc;
}

judge_model_t *jm_load(const char *dir, char *why, size_t wl) {
    char *trunk = xasprintf("%s/trunk", dir), *head = xasprintf("%s/head.safetensors", dir);
    gpt_t *t = gpt_load(trunk, NULL, why, wl);
    size_t len = 0;
    char *blob = t ? util_read_file(head, &len) : NULL;
    judge_model_t *m = NULL;
    st_file_t f;
    if (t && !blob) snprintf(why, wl, "%s: cannot read: %s", head, strerror(errno));
    if (t && blob && st_parse(blob, len, &f, why, wl) == 0) {
        const char *kind = st_meta(&f, "judge");
        const st_tensor_t *w = st_find(&f, "head.weight"), *b = st_find(&f, "head.bias");
        int C = gpt_config(t)->d_model;
        if (!kind || (strcmp(kind, "reward") && strcmp(kind, "preference"))) {
            snprintf(why, wl, "%s: metadata judge must be reward or preference", head);
        } else if (!w || !b || strcmp(w->dtype, "F32") || strcmp(b->dtype, "F32") || w->ndim != 2 || b->ndim != 1 ||
                   w->shape[0] != C || w->shape[1] != b->shape[0] || b->shape[0] < 1) {
            snprintf(why, wl, "%s: needs F32 head.weight (%d, dim) and head.bias (dim)", head, C);
        } else {
            int dim = (int)b->shape[0];
            m = jm_new(strcmp(kind, "reward") ? JM_PREFERENCE : JM_REWARD, gpt_config(t), dim, 0);
            if (!m) {
                snprintf(why, wl, "%s: dim %d does not suit a %s judge", head, dim, kind);
            } else {
                gpt_destroy(&m->trunk);
                m->trunk = t;
                t = NULL;
                memcpy(m->w, w->data, w->nbytes);
                memcpy(m->b, b->data, b->nbytes);
            }
        }
        st_free(&f);
    }
    gpt_destroy(&t);
    free(blob), free(trunk), free(head);
    return m;
}

void jm_digest(const judge_model_t *m, uint8_t out[DIGEST_BYTES]) {
    size_t nw = (size_t)gpt_config(m->trunk)->d_model * (size_t)m->dim;
    digest_state_t st;
    digest_begin(&st);
    digest_update(&st, gpt_params(m->trunk), sizeof(float) * gpt_n_params(m->trunk));
    digest_update(&st, m->w, sizeof(float) * nw);
    digest_update(&st, m->b, sizeof(float) * (size_t)m->dim);
    digest_end(&st, out);
}
