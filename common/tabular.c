/* tabular — the matrix-game policy: per prompt, a softmax over n actions with free logits.
 * Every quantity is exact (double precision), which is what the exact checks of
 * docs/algorithms.md, "Metrics and the regularised game" need. d log pi(y) / d z_k = 1[k = y] - pi_k. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/policy_backends.h"
#include "common/safetensors.h"
#include "common/util.h"

policy_t *policy_tabular_new(int prompts, int n) {
    policy_t *p = xcalloc(1, sizeof *p);
    p->kind = "tabular";
    p->prompts = prompts;
    p->n = n;
    p->n_params = (size_t)prompts * n;
    p->params = xcalloc(p->n_params, sizeof(double));
    p->grads = xcalloc(p->n_params, sizeof(double));
    return p;
}

void policy_init(policy_t *p, policy_init_t init, double scale, uint64_t seed) {
    if (init == INIT_UNIFORM) {
        memset(p->params, 0, p->n_params * sizeof(double));
        return;
    }
    for (int q = 0; q < p->prompts; q++) {
        rng_t r;
        rng_stream(&r, seed, 0x696e6974, (uint64_t)q, 0); /* "init" */
        for (int a = 0; a < p->n; a++) p->params[(size_t)q * p->n + a] = scale * rng_normal(&r);
    }
}

policy_t *tabular_clone(const policy_t *src) {
    policy_t *p = policy_tabular_new(src->prompts, src->n);
    tabular_copy(p, src);
    return p;
}

void tabular_copy(policy_t *dst, const policy_t *src) {
    memcpy(dst->params, src->params, src->n_params * sizeof(double));
}

void tabular_free(policy_t *p) {
    free(p->params);
    free(p->grads);
}

void policy_probs(const policy_t *p, int prompt, double *out) {
    const double *z = p->params + (size_t)prompt * p->n;
    double m = z[0];
    for (int a = 1; a < p->n; a++) m = z[a] > m ? z[a] : m;
    double s = 0;
    for (int a = 0; a < p->n; a++) s += (out[a] = exp(z[a] - m));
    for (int a = 0; a < p->n; a++) out[a] /= s;
}

static double s_lse(const double *z, int n) {
    double m = z[0];
    for (int a = 1; a < n; a++) m = z[a] > m ? z[a] : m;
    double s = 0;
    for (int a = 0; a < n; a++) s += exp(z[a] - m);
    return m + log(s);
}

int tabular_valid_response(const policy_t *p, const uint32_t *tokens, int n_tokens) {
    return n_tokens == 1 && tokens[0] < (uint32_t)p->n;
}

double policy_logprob(const policy_t *p, int prompt, const uint32_t *tokens, int n_tokens) {
    if (prompt < 0 || prompt >= p->prompts || !tabular_valid_response(p, tokens, n_tokens)) return -INFINITY;
    const double *z = p->params + (size_t)prompt * p->n;
    return z[tokens[0]] - s_lse(z, p->n);
}

void policy_backward(policy_t *p, int prompt, const uint32_t *tokens, int n_tokens, double dlp) {
    if (prompt < 0 || prompt >= p->prompts || !tabular_valid_response(p, tokens, n_tokens)) return;
    double pi[4096];
    policy_probs(p, prompt, pi);
    double *g = p->grads + (size_t)prompt * p->n;
    for (int a = 0; a < p->n; a++) g[a] += dlp * ((a == (int)tokens[0]) - pi[a]);
}

void tabular_zero_grad(policy_t *p) { memset(p->grads, 0, p->n_params * sizeof(double)); }

static void s_set_sample(policy_sample_t *out, uint32_t action, double logprob) {
    out->tokens = xmalloc(sizeof(uint32_t));
    out->token_logprobs = xmalloc(sizeof(float));
    out->tokens[0] = action;
    out->token_logprobs[0] = (float)logprob;
    out->n_tokens = 1;
    out->logprob = logprob;
}

void policy_sample(const policy_t *p, int prompt, rng_t *r, policy_sample_t *out) {
    double pi[4096];
    policy_probs(p, prompt, pi);
    int a = rng_categorical(r, pi, p->n);
    uint32_t y = (uint32_t)a;
    s_set_sample(out, y, policy_logprob(p, prompt, &y, 1));
}

void policy_sample_mixture(const policy_t *p, const policy_t *ref, double m, int prompt, rng_t *r,
                           policy_sample_t *out) {
    const double *z = p->params + (size_t)prompt * p->n, *zr = ref->params + (size_t)prompt * p->n;
    double *mix = xmalloc(sizeof(double) * 2 * (size_t)p->n), *pi = mix + p->n;
    for (int a = 0; a < p->n; a++) mix[a] = (1.0 - m) * z[a] + m * zr[a];
    double lse = s_lse(mix, p->n);
    for (int a = 0; a < p->n; a++) pi[a] = exp(mix[a] - lse);
    int a = rng_categorical(r, pi, p->n);
    s_set_sample(out, (uint32_t)a, mix[a] - lse);
    free(mix);
}

void *tabular_serialize(const policy_t *p, uint64_t version, size_t *len_out) {
    st_tensor_t t = {.name = "logits", .dtype = "F64", .ndim = 2,
                     .shape = {p->prompts, p->n}, .data = p->params,
                     .nbytes = p->n_params * sizeof(double)};
    char ver[32];
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    const char *keys[] = {"policy", "version", "format"};
    const char *vals[] = {p->kind, ver, "spar-tabular-1"};
    return st_serialize(&t, 1, keys, vals, 3, len_out);
}

policy_t *tabular_load(const st_file_t *fp, uint64_t *version_out, char *why, size_t wl) {
    const char *kind = st_meta(fp, "policy");
    const st_tensor_t *t = st_find(fp, "logits");
    policy_t *p = NULL;
    if (!kind || strcmp(kind, "tabular") != 0) {
        snprintf(why, wl, "not a tabular policy (metadata policy = %s)", kind ? kind : "missing");
    } else if (!t) {
        snprintf(why, wl, "tensor 'logits' missing");
    } else if (strcmp(t->dtype, "F64") != 0 || t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 2 ||
               t->shape[1] > 4096) {
        snprintf(why, wl, "tensor 'logits' must be F64 (prompts, n) with 2 <= n <= 4096");
    } else {
        p = policy_tabular_new((int)t->shape[0], (int)t->shape[1]);
        memcpy(p->params, t->data, t->nbytes); /* memcpy: the blob need not be aligned */
        for (size_t i = 0; i < p->n_params; i++)
            if (!isfinite(p->params[i])) {
                snprintf(why, wl, "tensor 'logits' holds a non-finite value");
                policy_destroy(&p);
                break;
            }
        const char *v = st_meta(fp, "version");
        if (p && version_out) *version_out = v ? strtoull(v, NULL, 10) : 0;
    }
    return p;
}
