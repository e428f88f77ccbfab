/* policy_tabular — the tabular backend of common/policy.h, the matrix-game policy: per prompt,
 * a softmax over n actions with free logits, d log pi(y) / d z_k = 1[k = y] - pi_k. Every
 * quantity is exact (double precision), which is what the exact checks of docs/algorithms.md,
 * "Metrics and the regularised game" need. Not here: the games themselves (common/game.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/policy_backend.h"
#include "common/safetensors.h"
#include "common/util.h"

typedef struct {
    int prompts; /* prompt ids are 0 .. prompts-1 */
    int n;       /* actions per prompt */
    size_t n_params;
    double *params; /* flat logits, prompts x n */
    double *grads;  /* same layout */
} tabular_t;

static tabular_t *s_tab(const policy_t *p) { return p->state; }

policy_t *policy_tabular_new(int prompts, int n) {
    tabular_t *t = xcalloc(1, sizeof *t);
    t->prompts = prompts;
    t->n = n;
    t->n_params = (size_t)prompts * n;
    t->params = xcalloc(t->n_params, sizeof(double));
    t->grads = xcalloc(t->n_params, sizeof(double));
    return policy_wrap(&policy_tabular_ops, t);
}

void policy_init(policy_t *p, policy_init_t init, double scale, uint64_t seed) {
    tabular_t *t = s_tab(p);
    if (init == INIT_UNIFORM) {
        memset(t->params, 0, t->n_params * sizeof(double));
        return;
    }
    for (int q = 0; q < t->prompts; q++) {
        rng_t r;
        rng_stream(&r, seed, 0x696e6974, (uint64_t)q, 0); /* "init" */
        for (int a = 0; a < t->n; a++) t->params[(size_t)q * t->n + a] = scale * rng_normal(&r);
    }
}

void policy_tabular_shape(const policy_t *p, int *prompts, int *actions) {
    *prompts = s_tab(p)->prompts;
    *actions = s_tab(p)->n;
}

static void s_copy(policy_t *dst, const policy_t *src) {
    memcpy(s_tab(dst)->params, s_tab(src)->params, s_tab(src)->n_params * sizeof(double));
}

static policy_t *s_clone(const policy_t *src) {
    policy_t *p = policy_tabular_new(s_tab(src)->prompts, s_tab(src)->n);
    s_copy(p, src);
    return p;
}

static void s_free_state(void *state) {
    tabular_t *t = state;
    free(t->params);
    free(t->grads);
    free(t);
}

static void s_zero_grad(policy_t *p) { memset(s_tab(p)->grads, 0, s_tab(p)->n_params * sizeof(double)); }

static policy_view_t s_view(const policy_t *p) {
    return (policy_view_t){.n = s_tab(p)->n_params, .f64 = s_tab(p)->params, .grad_f64 = s_tab(p)->grads};
}

static void s_axpby(policy_t *y, double a, const policy_t *x, double b) {
    double *py = s_tab(y)->params;
    const double *px = s_tab(x)->params;
    for (size_t i = 0; i < s_tab(y)->n_params; i++) py[i] = a * px[i] + b * py[i];
}

static uint8_t *s_decay_mask(const policy_t *p) {
    (void)p;
    return NULL;
}

void policy_probs(const policy_t *p, int prompt, double *out) {
    const tabular_t *t = s_tab(p);
    const double *z = t->params + (size_t)prompt * t->n;
    double m = z[0];
    for (int a = 1; a < t->n; a++) m = z[a] > m ? z[a] : m;
    double s = 0;
    for (int a = 0; a < t->n; a++) s += (out[a] = exp(z[a] - m));
    for (int a = 0; a < t->n; a++) out[a] /= s;
}

static double s_lse(const double *z, int n) {
    double m = z[0];
    for (int a = 1; a < n; a++) m = z[a] > m ? z[a] : m;
    double s = 0;
    for (int a = 0; a < n; a++) s += exp(z[a] - m);
    return m + log(s);
}

static int s_valid(const tabular_t *t, int prompt, const uint32_t *tokens, int n_tokens) {
    return prompt >= 0 && prompt < t->prompts && n_tokens == 1 && tokens[0] < (uint32_t)t->n;
}

double policy_logprob(const policy_t *p, int prompt, const uint32_t *tokens, int n_tokens) {
    const tabular_t *t = s_tab(p);
    if (!s_valid(t, prompt, tokens, n_tokens)) return -INFINITY;
    const double *z = t->params + (size_t)prompt * t->n;
    return z[tokens[0]] - s_lse(z, t->n);
}

void policy_backward(policy_t *p, int prompt, const uint32_t *tokens, int n_tokens, double dlp) {
    tabular_t *t = s_tab(p);
    if (!s_valid(t, prompt, tokens, n_tokens)) return;
    double pi[4096];
    policy_probs(p, prompt, pi);
    double *g = t->grads + (size_t)prompt * t->n;
    for (int a = 0; a < t->n; a++) g[a] += dlp * ((a == (int)tokens[0]) - pi[a]);
}

static int s_valid_seq(const policy_t *p, const policy_seq_t *s) {
    return s_valid(s_tab(p), s->prompt, s->tokens, s->n_tokens);
}

static void s_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp) {
    for (int i = 0; i < n; i++) lp[i] = policy_logprob(p, seqs[i].prompt, seqs[i].tokens, seqs[i].n_tokens);
}

static void s_backward(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp) {
    for (int i = 0; i < n; i++)
        if (dlp[i] != 0.0) policy_backward(p, seqs[i].prompt, seqs[i].tokens, seqs[i].n_tokens, dlp[i]);
}

static void s_set_sample(policy_sample_t *out, uint32_t action, double logprob) {
    out->tokens = xmalloc(sizeof(uint32_t));
    out->token_logprobs = xmalloc(sizeof(float));
    out->tokens[0] = action;
    out->token_logprobs[0] = (float)logprob;
    out->n_tokens = 1;
    out->logprob = logprob;
}

static void s_sample(const policy_t *p, int prompt, rng_t *r, policy_sample_t *out) {
    double pi[4096];
    policy_probs(p, prompt, pi);
    int a = rng_categorical(r, pi, s_tab(p)->n);
    uint32_t y = (uint32_t)a;
    s_set_sample(out, y, policy_logprob(p, prompt, &y, 1));
}

/* One action from the geometric mixture p^(1 - m) ref^m; its logprob is under the mixture. */
static void s_sample_mixture(const tabular_t *t, const tabular_t *ref, double m, int prompt, rng_t *r,
                             policy_sample_t *out) {
    const double *z = t->params + (size_t)prompt * t->n, *zr = ref->params + (size_t)prompt * t->n;
    double *mix = xmalloc(sizeof(double) * 2 * (size_t)t->n), *pi = mix + t->n;
    for (int a = 0; a < t->n; a++) mix[a] = (1.0 - m) * z[a] + m * zr[a];
    double lse = s_lse(mix, t->n);
    for (int a = 0; a < t->n; a++) pi[a] = exp(mix[a] - lse);
    int a = rng_categorical(r, pi, t->n);
    s_set_sample(out, (uint32_t)a, mix[a] - lse);
    free(mix);
}

static int s_generate(policy_t *p, const policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                      const policy_sample_opts_t *o, policy_sample_t *out) {
    (void)o; /* a tabular policy always samples pi itself */
    const tabular_t *t = s_tab(p), *r = ref ? s_tab(ref) : NULL;
    for (int i = 0; i < n; i++) {
        if (prompts[i].prompt < 0 || prompts[i].prompt >= t->prompts) return -1;
        if (r && (r->prompts != t->prompts || r->n != t->n)) return -1;
        if (r) s_sample_mixture(t, r, mix, prompts[i].prompt, &rngs[i], &out[i]);
        else s_sample(p, prompts[i].prompt, &rngs[i], &out[i]);
    }
    return 0;
}

static char *s_response_text(const policy_t *p, const uint32_t *tokens, int n_tokens) {
    (void)p;
    return xasprintf("a%u", n_tokens > 0 ? tokens[0] : 0);
}

static void *s_serialize(const policy_t *p, uint64_t version, size_t *len_out) {
    const tabular_t *t = s_tab(p);
    st_tensor_t ts = {.name = "logits", .dtype = "F64", .ndim = 2,
                      .shape = {t->prompts, t->n}, .data = t->params,
                      .nbytes = t->n_params * sizeof(double)};
    char ver[32];
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    const char *keys[] = {"policy", "version", "format"};
    const char *vals[] = {policy_tabular_ops.kind, ver, "spar-tabular-1"};
    return st_serialize(&ts, 1, keys, vals, 3, len_out);
}

static policy_t *s_load(const void *blob, size_t len, const st_file_t *fp, uint64_t *version_out, char *why,
                        size_t wl) {
    (void)blob, (void)len; /* the parsed file fp is all a tabular policy needs */
    const st_tensor_t *ts = st_find(fp, "logits");
    if (!ts) {
        snprintf(why, wl, "tensor 'logits' missing");
        return NULL;
    }
    if (strcmp(ts->dtype, "F64") != 0 || ts->ndim != 2 || ts->shape[0] < 1 || ts->shape[1] < 2 ||
        ts->shape[1] > 4096) {
        snprintf(why, wl, "tensor 'logits' must be F64 (prompts, n) with 2 <= n <= 4096");
        return NULL;
    }
    policy_t *p = policy_tabular_new((int)ts->shape[0], (int)ts->shape[1]);
    tabular_t *t = s_tab(p);
    memcpy(t->params, ts->data, ts->nbytes); /* memcpy: the blob need not be aligned */
    for (size_t i = 0; i < t->n_params; i++)
        if (!isfinite(t->params[i])) {
            snprintf(why, wl, "tensor 'logits' holds a non-finite value");
            policy_destroy(&p);
            return NULL;
        }
    const char *v = st_meta(fp, "version");
    if (version_out) *version_out = v ? strtoull(v, NULL, 10) : 0;
    return p;
}

const policy_ops_t policy_tabular_ops = {
    .kind = "tabular",
    .clone = s_clone,
    .copy = s_copy,
    .free_state = s_free_state,
    .zero_grad = s_zero_grad,
    .view = s_view,
    .axpby = s_axpby,
    .decay_mask = s_decay_mask,
    .valid_seq = s_valid_seq,
    .logprobs = s_logprobs,
    .backward = s_backward,
    .generate = s_generate,
    .response_text = s_response_text,
    .serialize = s_serialize,
    .load = s_load,
};
