/* llama_sample — llama_generate (see llama.h): batched sampling with a KV cache.
 *
 * A step runs any set of (sequence, position, token) rows through the decoder as one batch: the
 * projections are GEMMs over all rows, each row's keys and values go into its sequence's cache
 * at its position before any row attends, and each row attends to its own sequence's cache up
 * to its position. So the prompts are prefilled as a few large batches (all prompt tokens of all
 * sequences, in chunks), and decoding is one step of the live sequences per new token. Only the
 * rows whose next token is drawn reach the output head, so the logits are at most (B, V).
 *
 * The weights are used in place, in their Hugging Face (out, in) layout: a prefill batch's
 * products are transposed-B GEMMs, a decode step's (a row per live sequence) go through
 * decode_gemm, which reads each weight once per step where OpenBLAS would pack it first (a
 * transposed copy would double the memory; OpenBLAS as Debian builds it has no cblas_sbgemm, and
 * bf16 weights would not reproduce the float model anyway).
 * The cache holds only what this call needs: (L, B, n_kv_head, longest prompt + max_new, head_dim).
 * A model with LoRA adapters (common/lora.h) adds (alpha / r) B (A x) to each adapted product, so
 * the actors draw from the adapted model. */
#include "common/llama.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/decode_gemm.h"
#include "common/lora.h"
#include "common/token_choice.h"
#include "common/util.h"

/* Prompt rows per prefill batch: large enough for an efficient GEMM, small enough that the
 * activations stay a few megabytes whatever the prompts' lengths. */
enum { PREFILL_ROWS = 256 };

typedef struct {
    const float *in_norm, *q, *k, *v, *qb, *kb, *vb, *o, *ob, *q_norm, *k_norm;
    const float *post_norm, *gate, *up, *down, *gate_b, *up_b, *down_b;
} s_layer_t;

/* One model's weights, cache and activations for one generate call. */
typedef struct {
    const llama_config_t *c;
    const float *embed, *norm, *head;
    s_layer_t *layer;
    const lora_t *lora; /* adapters (enabled), or NULL */
    float *lora_u;      /* (rows, rank) */
    int B, max_len;
    float *kc, *vc;       /* (L, B, n_kv_head, max_len, head_dim) */
    float *cos, *sin;     /* (max_len, head_dim / 2) */
    float *x, *xn, *q, *k, *v, *att, *out, *gate, *up, *scores;
} s_run_t;

/* The weight of a Hugging Face name as a float pointer, checked against the expected shape
 * (d1 0: a vector); NULL (and *ok 0) when missing or misshapen. */
static const float *s_weight(llama_t *m, int *ok, int64_t d0, int64_t d1, const char *fmt, int l) {
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    const llama_tensor_t *t = llama_tensor_by_name(m, name);
    if (!t || t->ndim != (d1 ? 2 : 1) || t->shape[0] != d0 || (d1 && t->shape[1] != d1)) {
        *ok = 0;
        return NULL;
    }
    return llama_params(m) + t->offset;
}

static void s_run_free(s_run_t *r) {
    free(r->layer), free(r->kc), free(r->vc), free(r->cos), free(r->sin), free(r->x), free(r->xn), free(r->q);
    free(r->k), free(r->v), free(r->att), free(r->out), free(r->gate), free(r->up), free(r->scores), free(r->lora_u);
    memset(r, 0, sizeof *r);
}

/* inv_freq of RoPE dimension pair i, in float as transformers computes it (1 / theta ** (2i / hd)),
 * with the llama3 rescaling when configured; the angle is then the float product pos * inv_freq.
 * The float rounding is the reference's, so positions in the thousands agree with it (and with
 * llama_forward) to float precision rather than drifting by the angle's rounding. */
static float s_inv_freq(const llama_config_t *c, int i) {
    float inv = 1.0f / powf((float)c->rope_theta, (float)(2 * i) / (float)c->head_dim);
    if (!c->rope_llama3) return inv;
    double f = inv, wavelen = 2 * M_PI / f;
    double low_wavelen = c->rope_original_ctx / c->rope_low_freq_factor;
    double high_wavelen = c->rope_original_ctx / c->rope_high_freq_factor;
    if (wavelen > low_wavelen) return (float)(f / c->rope_factor);
    if (wavelen < high_wavelen) return inv;
    double smooth = (c->rope_original_ctx / wavelen - c->rope_low_freq_factor) /
                    (c->rope_high_freq_factor - c->rope_low_freq_factor);
    return (float)((1 - smooth) * f / c->rope_factor + smooth * f);
}

/* Resolves m's weights and allocates the cache for B sequences of max_len positions and the
 * activations of steps of up to rows rows; 0 or -1 (a weight missing or misshapen). */
static int s_run_init(s_run_t *r, llama_t *m, int B, int max_len, size_t rows) {
    const llama_config_t *c = llama_config(m);
    memset(r, 0, sizeof *r);
    r->c = c;
    r->B = B;
    r->max_len = max_len;
    int d = c->d_model, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_kv_head * hd, f = c->d_ff, ok = 1;
    r->embed = s_weight(m, &ok, c->vocab, d, "model.embed_tokens.weight", 0);
    r->norm = s_weight(m, &ok, d, 0, "model.norm.weight", 0);
    r->head = c->tied ? r->embed : s_weight(m, &ok, c->vocab, d, "lm_head.weight", 0);
    r->layer = xcalloc((size_t)c->n_layer, sizeof(s_layer_t));
    for (int l = 0; l < c->n_layer; l++) {
        s_layer_t *w = &r->layer[l];
        w->in_norm = s_weight(m, &ok, d, 0, "model.layers.%d.input_layernorm.weight", l);
        w->q = s_weight(m, &ok, qd, d, "model.layers.%d.self_attn.q_proj.weight", l);
        w->k = s_weight(m, &ok, kvd, d, "model.layers.%d.self_attn.k_proj.weight", l);
        w->v = s_weight(m, &ok, kvd, d, "model.layers.%d.self_attn.v_proj.weight", l);
        w->o = s_weight(m, &ok, d, qd, "model.layers.%d.self_attn.o_proj.weight", l);
        if (c->qkv_bias) {
            w->qb = s_weight(m, &ok, qd, 0, "model.layers.%d.self_attn.q_proj.bias", l);
            w->kb = s_weight(m, &ok, kvd, 0, "model.layers.%d.self_attn.k_proj.bias", l);
            w->vb = s_weight(m, &ok, kvd, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        }
        if (c->o_bias) w->ob = s_weight(m, &ok, d, 0, "model.layers.%d.self_attn.o_proj.bias", l);
        if (c->qk_norm) {
            w->q_norm = s_weight(m, &ok, hd, 0, "model.layers.%d.self_attn.q_norm.weight", l);
            w->k_norm = s_weight(m, &ok, hd, 0, "model.layers.%d.self_attn.k_norm.weight", l);
        }
        w->post_norm = s_weight(m, &ok, d, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        w->gate = s_weight(m, &ok, f, d, "model.layers.%d.mlp.gate_proj.weight", l);
        w->up = s_weight(m, &ok, f, d, "model.layers.%d.mlp.up_proj.weight", l);
        w->down = s_weight(m, &ok, d, f, "model.layers.%d.mlp.down_proj.weight", l);
        if (c->mlp_bias) {
            w->gate_b = s_weight(m, &ok, f, 0, "model.layers.%d.mlp.gate_proj.bias", l);
            w->up_b = s_weight(m, &ok, f, 0, "model.layers.%d.mlp.up_proj.bias", l);
            w->down_b = s_weight(m, &ok, d, 0, "model.layers.%d.mlp.down_proj.bias", l);
        }
    }
    if (!ok) {
        s_run_free(r);
        return -1;
    }
    size_t kvn = (size_t)c->n_layer * B * c->n_kv_head * max_len * hd;
    r->kc = xmalloc(sizeof(float) * kvn);
    r->vc = xmalloc(sizeof(float) * kvn);
    int half = hd / 2;
    r->cos = xmalloc(sizeof(float) * (size_t)max_len * half);
    r->sin = xmalloc(sizeof(float) * (size_t)max_len * half);
    for (int i = 0; i < half; i++) {
        float inv = s_inv_freq(c, i);
        for (int p = 0; p < max_len; p++) {
            float a = (float)p * inv;
            r->cos[(size_t)p * half + i] = (float)cos((double)a);
            r->sin[(size_t)p * half + i] = (float)sin((double)a);
        }
    }
    r->x = xmalloc(sizeof(float) * rows * d);
    r->xn = xmalloc(sizeof(float) * rows * d);
    r->out = xmalloc(sizeof(float) * rows * d);
    r->q = xmalloc(sizeof(float) * rows * qd);
    r->att = xmalloc(sizeof(float) * rows * qd);
    r->k = xmalloc(sizeof(float) * rows * kvd);
    r->v = xmalloc(sizeof(float) * rows * kvd);
    r->gate = xmalloc(sizeof(float) * rows * f);
    r->up = xmalloc(sizeof(float) * rows * f);
    r->scores = xmalloc(sizeof(float) * (size_t)(c->n_head / c->n_kv_head) * max_len);
    const lora_t *L = llama_lora(m);
    if (L && lora_enabled(L)) {
        r->lora = L;
        r->lora_u = xmalloc(sizeof(float) * rows * (size_t)lora_spec(L)->rank);
    }
    return 0;
}

/* y (n, out) = x (n, in) W^T (+ bias), W in nn.Linear's (out, in) layout: a decode step's few
 * rows stream W once (decode_gemm), a prefill batch's many go through the GEMM. */
static void s_linear(float *y, const float *x, const float *w, const float *bias, int n, int in, int out) {
    if (n <= DECODE_GEMM_MAX_ROWS) {
        decode_gemm(y, x, w, bias, n, in, out);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (bias)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out; j++) y[(size_t)i * out + j] += bias[j];
}

/* y (n, out) += layer l's adapter of target t on x (n, in), when it has one. */
static void s_lora(const s_run_t *r, int l, int t, float *y, const float *x, int n) {
    const float *A = r->lora ? lora_A_const(r->lora, l, t) : NULL;
    if (!A) return;
    int in, out;
    lora_dims(r->c, t, &in, &out);
    lora_forward(y, out, r->lora_u, x, in, A, lora_B_const(r->lora, l, t), n, in, out, lora_spec(r->lora)->rank,
                 lora_scale(r->lora));
}

/* y = w * x / sqrt(mean(x^2) + eps) over rows of width d (Hugging Face's RMSNorm). */
static void s_rmsnorm(float *y, const float *x, const float *w, int n, int d, double eps) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = y + (size_t)i * d;
        double ss = 0;
        for (int j = 0; j < d; j++) ss += (double)xi[j] * xi[j];
        float rs = (float)(1.0 / sqrt(ss / d + eps));
        for (int j = 0; j < d; j++) yi[j] = w[j] * (xi[j] * rs);
    }
}

/* Half-split rotation of nh heads of one row at the position whose cos/sin rows are given. */
static void s_rope(float *x, int nh, int hd, const float *cs, const float *sn) {
    int half = hd / 2;
    for (int h = 0; h < nh; h++) {
        float *a = x + (size_t)h * hd, *b = a + half;
        for (int i = 0; i < half; i++) {
            float x1 = a[i], x2 = b[i];
            a[i] = x1 * cs[i] - x2 * sn[i];
            b[i] = x2 * cs[i] + x1 * sn[i];
        }
    }
}

static float *s_cache(const s_run_t *r, float *base, int l, int b, int g) {
    const llama_config_t *c = r->c;
    return base + (((size_t)l * r->B + b) * c->n_kv_head + g) * (size_t)r->max_len * c->head_dim;
}

/* Runs n rows (token tok[i] of sequence seq[i] at position pos[i]; a sequence's earlier
 * positions already cached or among the rows) through the decoder, caching their keys and
 * values; the j-th row with want[i] set gets its logits in logits + j * V. Returns how many did. */
static int s_step(s_run_t *r, const int *tok, const int *seq, const int *pos, const int *want, int n, float *logits) {
    const llama_config_t *c = r->c;
    int d = c->d_model, hd = c->head_dim, nh = c->n_head, nkv = c->n_kv_head, grp = nh / nkv, f = c->d_ff;
    int qd = nh * hd, kvd = nkv * hd, half = hd / 2;
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < n; i++) memcpy(r->x + (size_t)i * d, r->embed + (size_t)tok[i] * d, sizeof(float) * d);
    for (int l = 0; l < c->n_layer; l++) {
        const s_layer_t *w = &r->layer[l];
        s_rmsnorm(r->xn, r->x, w->in_norm, n, d, c->rms_eps);
        s_linear(r->q, r->xn, w->q, w->qb, n, d, qd);
        s_linear(r->k, r->xn, w->k, w->kb, n, d, kvd);
        s_linear(r->v, r->xn, w->v, w->vb, n, d, kvd);
        s_lora(r, l, LORA_Q, r->q, r->xn, n);
        s_lora(r, l, LORA_K, r->k, r->xn, n);
        s_lora(r, l, LORA_V, r->v, r->xn, n);
        if (c->qk_norm) {
            s_rmsnorm(r->q, r->q, w->q_norm, n * nh, hd, c->rms_eps);
            s_rmsnorm(r->k, r->k, w->k_norm, n * nkv, hd, c->rms_eps);
        }
        for (int i = 0; i < n; i++) {
            const float *cs = r->cos + (size_t)pos[i] * half, *sn = r->sin + (size_t)pos[i] * half;
            s_rope(r->q + (size_t)i * qd, nh, hd, cs, sn);
            s_rope(r->k + (size_t)i * kvd, nkv, hd, cs, sn);
            for (int g = 0; g < nkv; g++) {
                size_t at = (size_t)pos[i] * hd;
                memcpy(s_cache(r, r->kc, l, seq[i], g) + at, r->k + (size_t)i * kvd + g * hd, sizeof(float) * hd);
                memcpy(s_cache(r, r->vc, l, seq[i], g) + at, r->v + (size_t)i * kvd + g * hd, sizeof(float) * hd);
            }
        }
        /* attention: the grp query heads of a KV head read its cache together, as two GEMMs */
        for (int i = 0; i < n; i++) {
            int T = pos[i] + 1;
            for (int g = 0; g < nkv; g++) {
                const float *q = r->q + (size_t)i * qd + (size_t)g * grp * hd;
                float *o = r->att + (size_t)i * qd + (size_t)g * grp * hd, *s = r->scores;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, grp, T, hd, scale, q, hd,
                            s_cache(r, r->kc, l, seq[i], g), hd, 0.0f, s, T);
                for (int h = 0; h < grp; h++) {
                    float *sh = s + (size_t)h * T, mx = -INFINITY, sum = 0;
                    for (int u = 0; u < T; u++) mx = fmaxf(mx, sh[u]);
                    for (int u = 0; u < T; u++) sum += (sh[u] = expf(sh[u] - mx));
                    for (int u = 0; u < T; u++) sh[u] /= sum;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, grp, hd, T, 1.0f, s, T,
                            s_cache(r, r->vc, l, seq[i], g), hd, 0.0f, o, hd);
            }
        }
        s_linear(r->out, r->att, w->o, w->ob, n, qd, d);
        s_lora(r, l, LORA_O, r->out, r->att, n);
        for (size_t i = 0; i < (size_t)n * d; i++) r->x[i] += r->out[i];
        s_rmsnorm(r->xn, r->x, w->post_norm, n, d, c->rms_eps);
        s_linear(r->gate, r->xn, w->gate, w->gate_b, n, d, f);
        s_linear(r->up, r->xn, w->up, w->up_b, n, d, f);
        s_lora(r, l, LORA_GATE, r->gate, r->xn, n);
        s_lora(r, l, LORA_UP, r->up, r->xn, n);
        for (size_t i = 0; i < (size_t)n * f; i++) {
            float g = r->gate[i];
            r->gate[i] = g / (1.0f + expf(-g)) * r->up[i];
        }
        s_linear(r->out, r->gate, w->down, w->down_b, n, f, d);
        s_lora(r, l, LORA_DOWN, r->out, r->gate, n);
        for (size_t i = 0; i < (size_t)n * d; i++) r->x[i] += r->out[i];
    }
    int nw = 0; /* the final norm and the head only for the rows whose next token is drawn */
    for (int i = 0; i < n; i++)
        if (want[i]) s_rmsnorm(r->xn + (size_t)nw++ * d, r->x + (size_t)i * d, r->norm, 1, d, c->rms_eps);
    if (nw) s_linear(logits, r->xn, r->head, NULL, nw, d, c->vocab);
    return nw;
}

static int s_is_eos(const llama_sample_opts_t *o, int t) {
    for (int i = 0; i < o->n_eos; i++)
        if (o->eos[i] == t) return 1;
    return 0;
}

int llama_generate(llama_t *m, llama_t *ref, double mix, const int *const *prompts, const int *plen, int B,
                   const llama_sample_opts_t *o, rng_t *rngs, int *out_tokens, float *out_logprobs, int *out_len) {
    if (!m || !o || B < 0 || o->max_new < 0 || (o->n_eos > 0 && !o->eos) || (B > 0 && (!prompts || !plen)))
        return -1;
    if (o->temperature > 0 && !rngs) return -1;
    const llama_config_t *c = llama_config(m);
    int V = c->vocab;
    if (ref) {
        const llama_config_t *rc = llama_config(ref);
        if (rc->vocab != V || rc->ctx != c->ctx || !isfinite(mix)) return -1;
    }
    int longest = 0;
    for (int b = 0; b < B; b++) {
        if (plen[b] < 1 || plen[b] >= c->ctx || !prompts[b]) return -1;
        for (int t = 0; t < plen[b]; t++)
            if (prompts[b][t] < 0 || prompts[b][t] >= V) return -1;
        if (plen[b] > longest) longest = plen[b];
    }
    for (int b = 0; b < B; b++) out_len[b] = 0;
    if (B == 0 || o->max_new == 0) return 0;
    /* positions fed: the prompt and every drawn token but the last */
    int max_len = longest + o->max_new - 1 < c->ctx ? longest + o->max_new - 1 : c->ctx;
    int rows = B > PREFILL_ROWS ? B : PREFILL_ROWS;
    s_run_t run, rrun;
    if (s_run_init(&run, m, B, max_len, rows) < 0) return -1;
    if (ref && s_run_init(&rrun, ref, B, max_len, rows) < 0) {
        s_run_free(&run);
        return -1;
    }
    float *logits = xmalloc(sizeof(float) * (size_t)B * V), *rlogits = ref ? xmalloc(sizeof(float) * (size_t)B * V) : NULL;
    int *tok = xmalloc(sizeof(int) * rows), *seq = xmalloc(sizeof(int) * rows);
    int *pos = xmalloc(sizeof(int) * rows), *want = xmalloc(sizeof(int) * rows);
    int *drawn = xmalloc(sizeof(int) * B), *done = xcalloc((size_t)B, sizeof(int));
    token_choice_scratch_t *scratch = token_choice_scratch_new(V);
    int next_b = 0, next_t = 0, live = B;
    for (;;) {
        /* the rows of this step: while prompts remain, the next prompt tokens in order; then the
         * last drawn token of every live sequence */
        int n = 0;
        if (next_b < B) {
            for (; next_b < B && n < PREFILL_ROWS; n++) {
                tok[n] = prompts[next_b][next_t];
                seq[n] = next_b;
                pos[n] = next_t;
                want[n] = next_t == plen[next_b] - 1;
                if (++next_t == plen[next_b]) next_b++, next_t = 0;
            }
        } else {
            if (!live) break;
            for (int b = 0; b < B; b++)
                if (!done[b]) {
                    tok[n] = drawn[b];
                    seq[n] = b;
                    pos[n] = plen[b] + out_len[b] - 1;
                    want[n++] = 1;
                }
        }
        int nw = s_step(&run, tok, seq, pos, want, n, logits);
        if (ref) { /* the geometric mixture, token by token, renormalised by the token choice */
            s_step(&rrun, tok, seq, pos, want, n, rlogits);
            for (size_t i = 0; i < (size_t)nw * V; i++) logits[i] = (float)((1 - mix) * logits[i] + mix * rlogits[i]);
        }
        for (int i = 0, j = 0; i < n; i++) {
            if (!want[i]) continue;
            int b = seq[i];
            float lp;
            int t = token_choice(logits + (size_t)j++ * V, V, o->temperature, o->top_k, o->top_p, rngs ? &rngs[b] : NULL,
                                 scratch, &lp);
            out_tokens[(size_t)b * o->max_new + out_len[b]] = t;
            out_logprobs[(size_t)b * o->max_new + out_len[b]] = lp;
            out_len[b]++;
            drawn[b] = t;
            if (s_is_eos(o, t) || out_len[b] >= o->max_new || plen[b] + out_len[b] >= c->ctx) {
                done[b] = 1;
                live--;
            }
        }
    }
    token_choice_scratch_free(&scratch);
    s_run_free(&run);
    if (ref) s_run_free(&rrun);
    free(logits), free(rlogits), free(tok), free(seq), free(pos), free(want), free(drawn), free(done);
    return 0;
}
