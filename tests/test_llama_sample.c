/* KV-cache sampling of the Llama family (llama_generate) and the shared token choice. The
 * reference is a naive full forward pass written here from the Hugging Face equations (double,
 * no cache, one sequence at a time), for tiny random models of each variant: Llama with GQA,
 * all biases, untied head and llama3 rope scaling; Qwen2 with q/k/v biases and a tied head;
 * Qwen3 with q/k norm and head_dim != d_model / n_head. Greedy generation is the argmax of the
 * reference, step by step; every returned log-prob is the reference's log-softmax; a stream
 * draws the same tokens in any batch; EOS ends a sequence; top-k 1 is greedy; the mixture with
 * mix 0 is the plain model and its log-probs are those of the mixed logits; and the token
 * choice is the one gpt_sample makes (its draw is restated here as the reference). */
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/llama.h"
#include "common/token_choice.h"

static const llama_config_t LLAMA = {
    .n_layer = 2, .d_model = 32, .n_head = 4, .n_kv_head = 2, .head_dim = 8, .d_ff = 48, .vocab = 61,
    .ctx = 512, .rms_eps = 1e-5, .rope_theta = 10000, .rope_llama3 = 1, .rope_factor = 8,
    .rope_low_freq_factor = 1, .rope_high_freq_factor = 4, .rope_original_ctx = 64,
    .qkv_bias = 1, .o_bias = 1, .mlp_bias = 1, .tied = 0};
static const llama_config_t QWEN2 = {
    .n_layer = 2, .d_model = 32, .n_head = 4, .n_kv_head = 2, .head_dim = 8, .d_ff = 40, .vocab = 67,
    .ctx = 512, .rms_eps = 1e-6, .rope_theta = 1000000, .qkv_bias = 1, .tied = 1};
static const llama_config_t QWEN3 = {
    .n_layer = 2, .d_model = 32, .n_head = 4, .n_kv_head = 1, .head_dim = 12, .d_ff = 40, .vocab = 53,
    .ctx = 512, .rms_eps = 1e-6, .rope_theta = 1000000, .qk_norm = 1, .tied = 0};
static const llama_config_t *const CONFIGS[] = {&LLAMA, &QWEN2, &QWEN3};
static const char *const NAMES[] = {"llama", "qwen2", "qwen3"};
enum { N_CONFIGS = 3, B = 4, NEW = 9, MAXT = 400 };

/* A model with every parameter random (norm weights near 1, biases and weights large enough
 * that the next-token distributions are peaked and their argmax has a clear margin). */
static llama_t *s_model(const llama_config_t *c, uint64_t seed) {
    llama_t *m = llama_new(c, seed);
    assert_non_null(m);
    rng_t r;
    rng_seed(&r, seed ^ 0xabcdef);
    float *p = llama_params(m);
    for (int i = 0; i < llama_n_tensors(m); i++) {
        const llama_tensor_t *t = llama_tensor(m, i);
        int is_norm = strstr(t->name, "norm") != NULL, is_bias = strstr(t->name, "bias") != NULL;
        double sd = t->ndim == 2 ? 1.5 / sqrt((double)t->shape[1]) : 0.3;
        for (size_t j = 0; j < t->n; j++)
            p[t->offset + j] = (float)((is_norm ? 1.0 : 0.0) + (is_norm || is_bias || t->ndim == 2 ? sd : 0) * rng_normal(&r));
    }
    return m;
}

static const float *s_w(llama_t *m, const char *fmt, int l) {
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    const llama_tensor_t *t = llama_tensor_by_name(m, name);
    assert_non_null(t);
    return llama_params(m) + t->offset;
}

/* ---- the reference: a naive forward pass in double ------------------------------------- */

static void n_rms(double *y, const double *x, const float *w, int d, double eps) {
    double ss = 0;
    for (int i = 0; i < d; i++) ss += x[i] * x[i];
    double r = 1 / sqrt(ss / d + eps);
    for (int i = 0; i < d; i++) y[i] = w[i] * x[i] * r;
}

/* y (out) = W (out, in) x + b */
static void n_lin(double *y, const double *x, const float *w, const float *b, int in, int out) {
    for (int o = 0; o < out; o++) {
        double s = b ? b[o] : 0;
        for (int i = 0; i < in; i++) s += (double)w[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static double n_inv_freq(const llama_config_t *c, int i) {
    double f = 1 / pow(c->rope_theta, (2.0 * i) / c->head_dim);
    if (!c->rope_llama3) return f;
    double wl = 2 * M_PI / f, lo = c->rope_original_ctx / c->rope_low_freq_factor;
    double hi = c->rope_original_ctx / c->rope_high_freq_factor;
    if (wl < hi) return f;
    if (wl > lo) return f / c->rope_factor;
    double s = (c->rope_original_ctx / wl - c->rope_low_freq_factor) / (c->rope_high_freq_factor - c->rope_low_freq_factor);
    return (1 - s) * f / c->rope_factor + s * f;
}

/* x' = x cos + rotate_half(x) sin, rotate_half(x) = (-x[hd/2:], x[:hd/2]) */
static void n_rope(double *x, int hd, int p, const llama_config_t *c) {
    double tmp[64];
    for (int j = 0; j < hd; j++) {
        int i = j % (hd / 2);
        double a = p * n_inv_freq(c, i), rot = j < hd / 2 ? -x[j + hd / 2] : x[j - hd / 2];
        tmp[j] = x[j] * cos(a) + rot * sin(a);
    }
    memcpy(x, tmp, sizeof(double) * hd);
}

/* Logits of the last position of tokens[0..T) into z (V). */
static void n_forward(llama_t *m, const int *tokens, int T, double *z) {
    const llama_config_t *c = llama_config(m);
    int d = c->d_model, hd = c->head_dim, nh = c->n_head, nkv = c->n_kv_head, f = c->d_ff;
    double *x = calloc((size_t)T * d, sizeof(double)), *xn = malloc(sizeof(double) * d);
    double *q = malloc(sizeof(double) * (size_t)T * nh * hd), *k = malloc(sizeof(double) * (size_t)T * nkv * hd);
    double *v = malloc(sizeof(double) * (size_t)T * nkv * hd), *a = malloc(sizeof(double) * (size_t)T * nh * hd);
    double *g = malloc(sizeof(double) * f), *u = malloc(sizeof(double) * f), *y = malloc(sizeof(double) * d);
    double *att = malloc(sizeof(double) * T);
    const float *E = s_w(m, "model.embed_tokens.weight", 0);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < d; i++) x[(size_t)t * d + i] = E[(size_t)tokens[t] * d + i];
    for (int l = 0; l < c->n_layer; l++) {
        const char *pre = "model.layers.%d.";
        char nm[128];
#define W(s) (snprintf(nm, sizeof nm, "%s%s", pre, s), s_w(m, nm, l))
        for (int t = 0; t < T; t++) {
            n_rms(xn, x + (size_t)t * d, W("input_layernorm.weight"), d, c->rms_eps);
            n_lin(q + (size_t)t * nh * hd, xn, W("self_attn.q_proj.weight"), c->qkv_bias ? W("self_attn.q_proj.bias") : NULL, d, nh * hd);
            n_lin(k + (size_t)t * nkv * hd, xn, W("self_attn.k_proj.weight"), c->qkv_bias ? W("self_attn.k_proj.bias") : NULL, d, nkv * hd);
            n_lin(v + (size_t)t * nkv * hd, xn, W("self_attn.v_proj.weight"), c->qkv_bias ? W("self_attn.v_proj.bias") : NULL, d, nkv * hd);
            for (int h = 0; h < nh; h++) {
                double *qh = q + ((size_t)t * nh + h) * hd;
                if (c->qk_norm) n_rms(qh, qh, W("self_attn.q_norm.weight"), hd, c->rms_eps);
                n_rope(qh, hd, t, c);
            }
            for (int h = 0; h < nkv; h++) {
                double *kh = k + ((size_t)t * nkv + h) * hd;
                if (c->qk_norm) n_rms(kh, kh, W("self_attn.k_norm.weight"), hd, c->rms_eps);
                n_rope(kh, hd, t, c);
            }
        }
        for (int t = 0; t < T; t++)
            for (int h = 0; h < nh; h++) {
                int kh = h / (nh / nkv);
                double mx = -INFINITY, s = 0;
                for (int s2 = 0; s2 <= t; s2++) {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[((size_t)t * nh + h) * hd + i] * k[((size_t)s2 * nkv + kh) * hd + i];
                    att[s2] = dot / sqrt((double)hd);
                    if (att[s2] > mx) mx = att[s2];
                }
                for (int s2 = 0; s2 <= t; s2++) s += (att[s2] = exp(att[s2] - mx));
                for (int i = 0; i < hd; i++) {
                    double o = 0;
                    for (int s2 = 0; s2 <= t; s2++) o += att[s2] / s * v[((size_t)s2 * nkv + kh) * hd + i];
                    a[((size_t)t * nh + h) * hd + i] = o;
                }
            }
        for (int t = 0; t < T; t++) {
            double *xt = x + (size_t)t * d;
            n_lin(y, a + (size_t)t * nh * hd, W("self_attn.o_proj.weight"), c->o_bias ? W("self_attn.o_proj.bias") : NULL, nh * hd, d);
            for (int i = 0; i < d; i++) xt[i] += y[i];
            n_rms(xn, xt, W("post_attention_layernorm.weight"), d, c->rms_eps);
            n_lin(g, xn, W("mlp.gate_proj.weight"), c->mlp_bias ? W("mlp.gate_proj.bias") : NULL, d, f);
            n_lin(u, xn, W("mlp.up_proj.weight"), c->mlp_bias ? W("mlp.up_proj.bias") : NULL, d, f);
            for (int i = 0; i < f; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            n_lin(y, g, W("mlp.down_proj.weight"), c->mlp_bias ? W("mlp.down_proj.bias") : NULL, f, d);
            for (int i = 0; i < d; i++) xt[i] += y[i];
        }
#undef W
    }
    n_rms(xn, x + (size_t)(T - 1) * d, s_w(m, "model.norm.weight", 0), d, c->rms_eps);
    n_lin(z, xn, s_w(m, c->tied ? "model.embed_tokens.weight" : "lm_head.weight", 0), NULL, d, c->vocab);
    free(x), free(xn), free(q), free(k), free(v), free(a), free(g), free(u), free(y), free(att);
}

static double n_logsoftmax(const double *z, int V, int t) {
    double mx = -INFINITY, s = 0;
    for (int v = 0; v < V; v++) mx = fmax(mx, z[v]);
    for (int v = 0; v < V; v++) s += exp(z[v] - mx);
    return z[t] - mx - log(s);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct {
    int tok[B * NEW], len[B];
    float lp[B * NEW];
} gen_t;

static int P0[MAXT], P1[MAXT], P2[MAXT], P3[MAXT];
static const int *const PROMPTS[B] = {P0, P1, P2, P3};
static const int PLEN[B] = {5, 1, 9, 300}; /* the last spans two prefill batches */

static void s_prompts(int V) {
    int *p[B] = {P0, P1, P2, P3};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < MAXT; t++) p[b][t] = (7 * t + 13 * b + t * t) % V;
}

static void s_streams(rng_t *r, const int *ids, int n) {
    for (int i = 0; i < n; i++) rng_stream(&r[i], 9, 1, (uint64_t)ids[i], 0);
}

static gen_t s_gen(llama_t *m, llama_t *ref, double mix, const llama_sample_opts_t *o) {
    gen_t g;
    rng_t r[B];
    int ids[B] = {0, 1, 2, 3};
    s_streams(r, ids, B);
    assert_int_equal(llama_generate(m, ref, mix, PROMPTS, PLEN, B, o, r, g.tok, g.lp, g.len), 0);
    return g;
}

/* Every returned log-prob against the reference's log-softmax of (1 - mix) z_m + mix z_ref
 * along the generated path; with greedy, each token is also the reference's argmax. Returns the
 * largest difference. */
static double s_check_path(llama_t *m, llama_t *ref, double mix, const gen_t *g, int greedy) {
    int V = llama_config(m)->vocab, seq[MAXT + NEW];
    double *z = malloc(sizeof(double) * V), *zr = malloc(sizeof(double) * V), worst = 0;
    for (int b = 0; b < B; b++) {
        memcpy(seq, PROMPTS[b], sizeof(int) * PLEN[b]);
        for (int i = 0; i < g->len[b]; i++) {
            n_forward(m, seq, PLEN[b] + i, z);
            if (ref) {
                n_forward(ref, seq, PLEN[b] + i, zr);
                for (int v = 0; v < V; v++) z[v] = (1 - mix) * z[v] + mix * zr[v];
            }
            int t = g->tok[b * NEW + i];
            assert_true(t >= 0 && t < V);
            if (greedy) {
                int best = 0;
                for (int v = 1; v < V; v++)
                    if (z[v] > z[best]) best = v;
                assert_int_equal(t, best);
            }
            double err = fabs(n_logsoftmax(z, V, t) - g->lp[b * NEW + i]);
            if (err > worst) worst = err;
            seq[PLEN[b] + i] = t;
        }
    }
    free(z), free(zr);
    return worst;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_greedy_is_reference_argmax(void **state) {
    (void)state;
    for (int ci = 0; ci < N_CONFIGS; ci++) {
        llama_t *m = s_model(CONFIGS[ci], 11 + ci);
        s_prompts(CONFIGS[ci]->vocab);
        llama_sample_opts_t o = {.temperature = 0, .top_p = 1, .max_new = NEW};
        gen_t g = s_gen(m, NULL, 0, &o);
        for (int b = 0; b < B; b++) assert_int_equal(g.len[b], NEW);
        double worst = s_check_path(m, NULL, 0, &g, 1);
        fprintf(stderr, "%s greedy: tokens = reference argmax, worst log-prob difference %.1e\n", NAMES[ci], worst);
        assert_true(worst < 1e-4);
        llama_destroy(&m);
    }
}

static void test_sampled_logprobs_are_reference(void **state) {
    (void)state;
    for (int ci = 0; ci < N_CONFIGS; ci++) {
        llama_t *m = s_model(CONFIGS[ci], 21 + ci);
        s_prompts(CONFIGS[ci]->vocab);
        llama_sample_opts_t o = {.temperature = 1.3, .top_k = 20, .top_p = 0.95, .max_new = NEW};
        gen_t g = s_gen(m, NULL, 0, &o);
        double worst = s_check_path(m, NULL, 0, &g, 0);
        fprintf(stderr, "%s sampled: worst log-prob difference %.1e\n", NAMES[ci], worst);
        assert_true(worst < 1e-4);
        llama_destroy(&m);
    }
}

/* The cached, prefilled sampler against the model's own full forward pass (llama_forward): the
 * log-prob of every generated token, prompt tokens fed in batches and generated ones one by one. */
static void test_matches_model_forward(void **state) {
    (void)state;
    for (int ci = 0; ci < N_CONFIGS; ci++) {
        llama_t *m = s_model(CONFIGS[ci], 81 + ci);
        int V = CONFIGS[ci]->vocab;
        s_prompts(V);
        llama_sample_opts_t o = {.temperature = 1.0, .top_p = 1, .max_new = NEW};
        gen_t g = s_gen(m, NULL, 0, &o);
        double worst = 0;
        float *z = malloc(sizeof(float) * NEW * V);
        for (int b = 0; b < B; b++) {
            int seq[MAXT + NEW], at[NEW], T = PLEN[b] + g.len[b];
            memcpy(seq, PROMPTS[b], sizeof(int) * PLEN[b]);
            memcpy(seq + PLEN[b], g.tok + b * NEW, sizeof(int) * g.len[b]);
            assert_int_equal(llama_forward(m, seq, NULL, NULL, 1, T), 0);
            for (int i = 0; i < g.len[b]; i++) at[i] = PLEN[b] - 1 + i; /* position t predicts token t + 1 */
            llama_logits_at(m, at, g.len[b], z);
            for (int i = 0; i < g.len[b]; i++) {
                double err = fabs(token_choice_logprob(z + (size_t)i * V, V, seq[PLEN[b] + i]) - g.lp[b * NEW + i]);
                if (err > worst) worst = err;
            }
        }
        fprintf(stderr, "%s: cached sampler vs llama_forward, worst log-prob difference %.1e\n", NAMES[ci], worst);
        assert_true(worst < 1e-4);
        free(z);
        llama_destroy(&m);
    }
}

/* The sequences one batch, in reverse order, and one at a time: the same tokens and log-probs. */
static void test_stream_same_in_any_batch(void **state) {
    (void)state;
    for (int ci = 0; ci < N_CONFIGS; ci++) {
        llama_t *m = s_model(CONFIGS[ci], 31 + ci);
        s_prompts(CONFIGS[ci]->vocab);
        llama_sample_opts_t o = {.temperature = 1.0, .top_p = 0.9, .max_new = NEW};
        gen_t all = s_gen(m, NULL, 0, &o);
        const int *rp[B];
        int rl[B], ids[B], tok[B * NEW], len[B];
        float lp[B * NEW];
        rng_t r[B];
        for (int i = 0; i < B; i++) rp[i] = PROMPTS[B - 1 - i], rl[i] = PLEN[B - 1 - i], ids[i] = B - 1 - i;
        s_streams(r, ids, B);
        assert_int_equal(llama_generate(m, NULL, 0, rp, rl, B, &o, r, tok, lp, len), 0);
        for (int i = 0; i < B; i++) {
            int b = B - 1 - i;
            assert_int_equal(len[i], all.len[b]);
            for (int j = 0; j < len[i]; j++) {
                assert_int_equal(tok[i * NEW + j], all.tok[b * NEW + j]);
                assert_true(fabsf(lp[i * NEW + j] - all.lp[b * NEW + j]) < 1e-5f);
            }
        }
        for (int b = 0; b < B; b++) {
            s_streams(r, &b, 1);
            assert_int_equal(llama_generate(m, NULL, 0, &PROMPTS[b], &PLEN[b], 1, &o, r, tok, lp, len), 0);
            assert_int_equal(len[0], all.len[b]);
            for (int j = 0; j < len[0]; j++) {
                assert_int_equal(tok[j], all.tok[b * NEW + j]);
                assert_true(fabsf(lp[j] - all.lp[b * NEW + j]) < 1e-5f);
            }
        }
        llama_destroy(&m);
    }
}

static void test_eos_ends_a_sequence(void **state) {
    (void)state;
    llama_t *m = s_model(&QWEN2, 41);
    s_prompts(QWEN2.vocab);
    llama_sample_opts_t o = {.temperature = 0, .top_p = 1, .max_new = NEW};
    gen_t g = s_gen(m, NULL, 0, &o);
    int eos[2] = {QWEN2.vocab - 1, g.tok[0 * NEW + 3]}; /* sequence 0 draws it at step 3 (or before) */
    o.eos = eos;
    o.n_eos = 2;
    gen_t e = s_gen(m, NULL, 0, &o);
    for (int b = 0; b < B; b++) {
        int first = NEW; /* where the first EOS is, in the run without them */
        for (int i = 0; i < NEW && first == NEW; i++)
            if (g.tok[b * NEW + i] == eos[0] || g.tok[b * NEW + i] == eos[1]) first = i;
        int want = first < NEW ? first + 1 : NEW;
        assert_int_equal(e.len[b], want);
        for (int i = 0; i < want; i++) assert_int_equal(e.tok[b * NEW + i], g.tok[b * NEW + i]);
    }
    assert_true(e.len[0] <= 4 && e.tok[0 * NEW + e.len[0] - 1] == eos[1]);
    llama_destroy(&m);
}

static void test_top_k_one_is_greedy(void **state) {
    (void)state;
    llama_t *m = s_model(&LLAMA, 51);
    s_prompts(LLAMA.vocab);
    llama_sample_opts_t greedy = {.temperature = 0, .top_p = 1, .max_new = NEW};
    llama_sample_opts_t k1 = {.temperature = 1.5, .top_k = 1, .top_p = 1, .max_new = NEW};
    gen_t a = s_gen(m, NULL, 0, &greedy), b = s_gen(m, NULL, 0, &k1);
    assert_memory_equal(a.len, b.len, sizeof a.len);
    assert_memory_equal(a.tok, b.tok, sizeof(int) * B * NEW);
    for (int i = 0; i < B * NEW; i++) assert_true(a.lp[i] == b.lp[i]); /* the same unfiltered log-prob */
    llama_destroy(&m);
}

static void test_mixture(void **state) {
    (void)state;
    for (int ci = 0; ci < N_CONFIGS; ci += 2) {
        llama_t *m = s_model(CONFIGS[ci], 61), *ref = s_model(CONFIGS[ci], 62);
        s_prompts(CONFIGS[ci]->vocab);
        llama_sample_opts_t o = {.temperature = 1.0, .top_p = 1, .max_new = NEW};
        gen_t plain = s_gen(m, NULL, 0, &o), mix0 = s_gen(m, ref, 0.0, &o);
        assert_memory_equal(plain.len, mix0.len, sizeof plain.len);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < plain.len[b]; i++) {
                assert_int_equal(plain.tok[b * NEW + i], mix0.tok[b * NEW + i]);
                assert_true(plain.lp[b * NEW + i] == mix0.lp[b * NEW + i]);
            }
        gen_t half = s_gen(m, ref, 0.4, &o);
        double worst = s_check_path(m, ref, 0.4, &half, 0);
        fprintf(stderr, "%s mixture 0.4: worst log-prob difference %.1e\n", NAMES[ci], worst);
        assert_true(worst < 1e-4);
        llama_sample_opts_t g = {.temperature = 0, .top_p = 1, .max_new = NEW};
        gen_t gm = s_gen(m, ref, 0.7, &g);
        s_check_path(m, ref, 0.7, &gm, 1); /* greedy under the mixture is its argmax */
        llama_destroy(&m), llama_destroy(&ref);
    }
}

static void test_invalid_input(void **state) {
    (void)state;
    llama_t *m = s_model(&QWEN3, 71), *other = s_model(&QWEN2, 72);
    s_prompts(QWEN3.vocab);
    llama_sample_opts_t o = {.temperature = 1, .top_p = 1, .max_new = NEW};
    int tok[B * NEW], len[B];
    float lp[B * NEW];
    rng_t r[B];
    int ids[B] = {0, 1, 2, 3};
    s_streams(r, ids, B);
    int bad_tok[2] = {3, QWEN3.vocab}, neg_tok[2] = {-1, 3}, zero = 0, full = QWEN3.ctx, two = 2;
    const int *bt = bad_tok, *nt = neg_tok;
    assert_int_equal(llama_generate(m, NULL, 0, &bt, &two, 1, &o, r, tok, lp, len), -1);
    assert_int_equal(llama_generate(m, NULL, 0, &nt, &two, 1, &o, r, tok, lp, len), -1);
    assert_int_equal(llama_generate(m, NULL, 0, PROMPTS, &zero, 1, &o, r, tok, lp, len), -1);
    static int longp[600];
    const int *lpp = longp;
    assert_int_equal(llama_generate(m, NULL, 0, &lpp, &full, 1, &o, r, tok, lp, len), -1);
    assert_int_equal(llama_generate(m, other, 0.5, PROMPTS, PLEN, B, &o, r, tok, lp, len), -1);
    llama_sample_opts_t neg = o;
    neg.max_new = -1;
    assert_int_equal(llama_generate(m, NULL, 0, PROMPTS, PLEN, B, &neg, r, tok, lp, len), -1);
    assert_int_equal(llama_generate(m, NULL, 0, PROMPTS, PLEN, B, &o, NULL, tok, lp, len), -1);
    /* a prompt that leaves one position: one token, then the context is full */
    int edge = QWEN3.ctx - 1;
    assert_int_equal(llama_generate(m, NULL, 0, &lpp, &edge, 1, &o, r, tok, lp, len), 0);
    assert_int_equal(len[0], 1);
    llama_destroy(&m), llama_destroy(&other);
}

/* ---- the token choice against gpt_sample's draw (restated: a full insertion sort) --------- */

static int ref_draw(const float *logits, int V, double temp, int top_k, double top_p, rng_t *r) {
    if (temp <= 0) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        return best;
    }
    double *p = malloc(sizeof(double) * V), maxv = -INFINITY, sum = 0;
    int *order = malloc(sizeof(int) * V);
    for (int v = 0; v < V; v++) maxv = fmax(maxv, logits[v] / temp);
    for (int v = 0; v < V; v++) sum += (p[v] = exp(logits[v] / temp - maxv));
    for (int v = 0; v < V; v++) p[v] /= sum;
    if ((top_k > 0 && top_k < V) || top_p < 1.0) {
        for (int v = 0; v < V; v++) order[v] = v;
        for (int i = 1; i < V; i++) {
            int x = order[i], j = i - 1;
            while (j >= 0 && p[order[j]] < p[x]) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = x;
        }
        int keep = top_k > 0 && top_k < V ? top_k : V;
        double cum = 0;
        for (int i = 0; i < keep; i++) {
            cum += p[order[i]];
            if (cum >= top_p) {
                keep = i + 1;
                break;
            }
        }
        double kept = 0;
        for (int i = 0; i < V; i++) {
            if (i >= keep) p[order[i]] = 0;
            else kept += p[order[i]];
        }
        for (int v = 0; v < V; v++) p[v] /= kept;
    }
    int t = rng_categorical(r, p, V);
    free(p), free(order);
    return t;
}

static void test_token_choice_is_gpt_draw(void **state) {
    (void)state;
    enum { V = 400 };
    const double temps[] = {0, 0.5, 1, 1.7};
    const int ks[] = {0, 1, 2, 7, 60, V - 1, V};
    const double ps[] = {1, 0.999999, 0.9, 0.5, 0.05, 0};
    token_choice_scratch_t *s = token_choice_scratch_new(V);
    float z[V];
    rng_t zr;
    rng_seed(&zr, 5);
    int draws = 0, differ_from_argmax = 0;
    for (int row = 0; row < 12; row++) {
        /* rows with ties (logits on a coarse grid), peaked rows and flat rows */
        double spread = row % 3 == 0 ? 8 : row % 3 == 1 ? 1 : 0.05;
        for (int v = 0; v < V; v++) {
            double x = spread * rng_normal(&zr);
            z[v] = (float)(row % 2 ? round(x * 2) / 2 : x);
        }
        for (size_t a = 0; a < sizeof temps / sizeof *temps; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                for (size_t c = 0; c < sizeof ps / sizeof *ps; c++)
                    for (int rep = 0; rep < 4; rep++) {
                        rng_t r1, r2;
                        rng_stream(&r1, (uint64_t)row, a * 100 + b * 10 + c, (uint64_t)rep, 3);
                        r2 = r1;
                        float lp;
                        int t = token_choice(z, V, temps[a], ks[b], ps[c], &r1, s, &lp);
                        int u = ref_draw(z, V, temps[a], ks[b], ps[c], &r2);
                        assert_int_equal(t, u);
                        assert_memory_equal(&r1, &r2, sizeof r1); /* the same numbers consumed */
                        assert_true(lp == token_choice_logprob(z, V, t));
                        draws++;
                        if (z[t] != z[ref_draw(z, V, 0, 0, 1, &r2)]) differ_from_argmax++;
                    }
    }
    /* the log-prob is log softmax(z) at temperature 1 */
    double mx = -INFINITY, sum = 0;
    for (int v = 0; v < V; v++) mx = fmax(mx, z[v]);
    for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
    assert_true(fabs(token_choice_logprob(z, V, 17) - (z[17] - mx - log(sum))) < 1e-5);
    fprintf(stderr, "token choice = gpt draw on %d draws (%d not the argmax)\n", draws, differ_from_argmax);
    assert_true(differ_from_argmax > draws / 10);
    token_choice_scratch_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_choice_is_gpt_draw),
        cmocka_unit_test(test_greedy_is_reference_argmax),
        cmocka_unit_test(test_sampled_logprobs_are_reference),
        cmocka_unit_test(test_matches_model_forward),
        cmocka_unit_test(test_stream_same_in_any_batch),
        cmocka_unit_test(test_eos_ends_a_sequence),
        cmocka_unit_test(test_top_k_one_is_greedy),
        cmocka_unit_test(test_mixture),
        cmocka_unit_test(test_invalid_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
