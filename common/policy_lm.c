/* policy_lm — the language-model backend of common/policy.h, for every family of common/lm.h:
 * spar's byte-level GPT (blob kind "gpt") and Hugging Face models with their own tokenizer
 * (kind "hf"). A (prompt, response) pair is the prompt's tokens (as the model reads it: the
 * tokenizer's BOS added) followed by the response's tokens; its log-prob is the sum over the
 * response tokens (the prompt masked out, docs/algorithms.md, "Notation"). A batch of pairs is
 * one packed forward pass (below: responses to the same prompt share its computation). Not
 * here: the models' maths, sampling and files (common/lm.h and below it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lm.h"
#include "common/policy_backend.h"
#include "common/stop.h"
#include "common/util.h"

typedef struct {
    lm_t *lm; /* parameters and gradients in its float buffers */
    /* the packed batch of the last logprobs call, which backward differentiates */
    int *batch_tokens, *batch_pos, *batch_seg, batch_B, batch_T, batch_n_seqs, batch_n_preds;
    lm_pred_t *batch_preds;
} lmpol_t;

static lmpol_t *s_gp(const policy_t *p) { return p->state; }

policy_t *policy_lm_new(lm_t *m) {
    lmpol_t *g = xcalloc(1, sizeof *g);
    g->lm = m;
    return policy_wrap(lm_is_byte_level(m) ? &policy_gpt_ops : &policy_hf_ops, g);
}

policy_t *policy_gpt_new(gpt_t *m) { return policy_lm_new(lm_from_gpt(m)); }
lm_t *policy_lm(policy_t *p) { return s_gp(p)->lm; }
gpt_t *policy_gpt_model(policy_t *p) { return lm_gpt(s_gp(p)->lm); }
int policy_gpt_batch_rows(const policy_t *p) { return s_gp(p)->batch_B; }

static void s_free_state(void *state) {
    lmpol_t *g = state;
    lm_free(&g->lm);
    free(g->batch_tokens);
    free(g->batch_pos);
    free(g->batch_seg);
    free(g->batch_preds);
    free(g);
}

static void s_copy(policy_t *dst, const policy_t *src) {
    lm_t *s = s_gp(src)->lm;
    memcpy(lm_params(s_gp(dst)->lm), lm_params(s), lm_n_params(s) * sizeof(float));
}

static policy_t *s_clone(const policy_t *src) { return policy_lm_new(lm_clone(s_gp(src)->lm)); }

static void s_zero_grad(policy_t *p) { lm_zero_grad(s_gp(p)->lm); }

static policy_view_t s_view(const policy_t *p) {
    lm_t *m = s_gp(p)->lm;
    return (policy_view_t){.n = lm_n_params(m), .f32 = lm_params(m), .grad_f32 = lm_grads(m)};
}

/* In double, rounded to float once per element. */
static void s_axpby(policy_t *y, double a, const policy_t *x, double b) {
    lm_t *my = s_gp(y)->lm;
    float *py = lm_params(my);
    const float *px = lm_params(s_gp(x)->lm);
    for (size_t i = 0; i < lm_n_params(my); i++) py[i] = (float)(a * px[i] + b * py[i]);
}

static uint8_t *s_decay_mask(const policy_t *p) { return lm_decay_mask(s_gp(p)->lm); }

/* The prompt's tokens (malloc'd into *out); returns how many, or -1 when the text cannot be
 * encoded or leaves no room for a response in the context. */
static int s_prompt_tokens(const policy_t *p, const policy_seq_t *s, int **out) {
    const lm_t *m = s_gp(p)->lm;
    *out = NULL;
    if (!s->prompt_text) return -1;
    int32_t *ids;
    char why[200];
    int n = lm_encode_prompt(m, s->prompt_text, &ids, why, sizeof why);
    if (n < 1 || n >= lm_ctx(m)) {
        if (n >= 0) free(ids);
        return -1;
    }
    *out = (int *)ids; /* int32_t is int here */
    return n;
}

/* Does the response fit after a prompt of pl tokens: 1 or more tokens in the vocabulary, an
 * EOS only last, prompt and response within the context? */
static int s_response_fits(const lm_t *m, int pl, const policy_seq_t *s) {
    if (pl < 0 || s->n_tokens < 1 || pl + s->n_tokens > lm_ctx(m)) return 0;
    for (int i = 0; i < s->n_tokens; i++)
        if (s->tokens[i] >= (uint32_t)lm_vocab(m) || (lm_is_eos(m, (int)s->tokens[i]) && i != s->n_tokens - 1))
            return 0;
    return 1;
}

static int s_valid_seq(const policy_t *p, const policy_seq_t *s) {
    int *pt, pl = s_prompt_tokens(p, s, &pt);
    free(pt);
    return s_response_fits(s_gp(p)->lm, pl, s);
}

/* Packing: the responses to one prompt share a row, the prompt once (segment 0), then each
 * response as its own segment with positions continuing the prompt's (gpt_forward_packed), so
 * the prompt is computed once for all of them. A row holds at most PACK_FACTOR x ctx tokens;
 * further responses to the prompt open another row. */
#define PACK_FACTOR 2
#define PACK_ROW_MAX 1024

typedef struct {
    int *tok, *pos, *seg;
    int n, cap;
} row_t;

static void s_row_push(row_t *r, int tok, int pos, int seg) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->tok = xrealloc(r->tok, sizeof(int) * (size_t)r->cap);
        r->pos = xrealloc(r->pos, sizeof(int) * (size_t)r->cap);
        r->seg = xrealloc(r->seg, sizeof(int) * (size_t)r->cap);
    }
    r->tok[r->n] = tok;
    r->pos[r->n] = pos;
    r->seg[r->n++] = seg;
}

/* Lays the valid sequences out in rows; fills the predictions with row-relative positions in
 * .at and the row in *pred_row. Returns the number of rows. */
static int s_pack(policy_t *p, const policy_seq_t *seqs, int n, row_t **rows_out, int *pred_row, double *lp) {
    lmpol_t *g = s_gp(p);
    const lm_t *m = g->lm;
    /* a long-context model (Qwen: 32768) packs to a row length attention can afford */
    int ctx = lm_ctx(m), limit = PACK_FACTOR * (ctx < PACK_ROW_MAX ? ctx : PACK_ROW_MAX);
    int n_rows = 0, cap = 0, pl = 0, branch = 0;
    int *pt = NULL;
    row_t *rows = NULL, *cur = NULL;
    const char *cur_prompt = NULL;
    g->batch_n_preds = 0;
    for (int i = 0; i < n; i++) {
        lp[i] = 0;
        /* the prompt is encoded once per run of responses to it */
        int same = cur && seqs[i].prompt_text && !strcmp(cur_prompt, seqs[i].prompt_text), spl = pl;
        if (!same) {
            free(pt);
            spl = s_prompt_tokens(p, &seqs[i], &pt);
        }
        if (!s_response_fits(m, spl, &seqs[i])) {
            lp[i] = -INFINITY;
            continue;
        }
        if (!same || cur->n + seqs[i].n_tokens > limit) {
            const int *prompt = same ? cur->tok : pt; /* a row starts with its prompt */
            if (n_rows == cap) rows = xrealloc(rows, sizeof(row_t) * (size_t)(cap = cap ? 2 * cap : 16));
            cur = &rows[n_rows++];
            memset(cur, 0, sizeof *cur);
            cur_prompt = seqs[i].prompt_text;
            pl = spl;
            for (int t = 0; t < pl; t++) s_row_push(cur, prompt[t], t, 0);
            branch = 0;
        }
        branch++;
        int start = cur->n;
        for (int j = 0; j < seqs[i].n_tokens; j++) {
            /* token j is predicted at the prompt's last position (j = 0) or at the response's previous one */
            int k = g->batch_n_preds++;
            g->batch_preds[k] = (lm_pred_t){j == 0 ? pl - 1 : start + j - 1, (int)seqs[i].tokens[j], i};
            pred_row[k] = n_rows - 1;
            s_row_push(cur, (int)seqs[i].tokens[j], pl + j, branch);
        }
    }
    free(pt);
    *rows_out = rows;
    return n_rows;
}

static void s_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp) {
    lmpol_t *g = s_gp(p);
    size_t max_preds = 1;
    for (int i = 0; i < n; i++) max_preds += seqs[i].n_tokens > 0 ? (size_t)seqs[i].n_tokens : 0;
    g->batch_preds = xrealloc(g->batch_preds, sizeof(lm_pred_t) * max_preds);
    int *pred_row = xmalloc(sizeof(int) * max_preds);
    row_t *rows = NULL;
    int B = s_pack(p, seqs, n, &rows, pred_row, lp), T = 1, pad = lm_first_eos(g->lm) >= 0 ? lm_first_eos(g->lm) : 0;
    for (int b = 0; b < B; b++) T = rows[b].n > T ? rows[b].n : T;
    g->batch_B = B;
    g->batch_T = T;
    g->batch_n_seqs = n;
    g->batch_tokens = xrealloc(g->batch_tokens, sizeof(int) * (size_t)(B ? B : 1) * T);
    g->batch_pos = xrealloc(g->batch_pos, sizeof(int) * (size_t)(B ? B : 1) * T);
    g->batch_seg = xrealloc(g->batch_seg, sizeof(int) * (size_t)(B ? B : 1) * T);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) { /* padding: its own segment, nothing predicted from it */
            int in = t < rows[b].n;
            g->batch_tokens[b * T + t] = in ? rows[b].tok[t] : pad;
            g->batch_pos[b * T + t] = in ? rows[b].pos[t] : 0;
            g->batch_seg[b * T + t] = in ? rows[b].seg[t] : -1;
        }
        free(rows[b].tok), free(rows[b].pos), free(rows[b].seg);
    }
    free(rows);
    for (int k = 0; k < g->batch_n_preds; k++) g->batch_preds[k].at += pred_row[k] * T;
    free(pred_row);
    if (B > 0) {
        if (lm_forward(g->lm, g->batch_tokens, g->batch_pos, g->batch_seg, B, T) == 0) {
            lm_preds_logprob(g->lm, g->batch_preds, g->batch_n_preds, lp);
        } else {
            for (int i = 0; i < n; i++) lp[i] = -INFINITY;
            g->batch_B = 0;
        }
    }
}

static void s_backward(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp) {
    (void)seqs;
    lmpol_t *g = s_gp(p);
    if (n != g->batch_n_seqs || g->batch_B == 0) return; /* not the last batch, or nothing valid in it */
    double *d = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) d[i] = isfinite(dlp[i]) ? dlp[i] : 0.0;
    lm_backward(g->lm, g->batch_tokens, g->batch_pos, g->batch_preds, g->batch_n_preds, d);
    free(d);
}

/* How many of the n tokens a response keeps under the stop strings: up to and including the
 * first token whose text completes one (the texts of longer prefixes extend the shorter ones',
 * so the shortest such prefix is found by bisection), else all n. */
static int s_stop_length(const lm_t *m, const int *toks, int n, const policy_sample_opts_t *o) {
    if (o->n_stop <= 0 || n == 0) return n;
    char *text = lm_decode(m, toks, n);
    long hit = stop_find(text, o->stop, o->n_stop);
    free(text);
    if (hit < 0) return n;
    int lo = 1, hi = n; /* the prefix of hi tokens holds a stop string */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        char *t = lm_decode(m, toks, mid);
        if (stop_find(t, o->stop, o->n_stop) >= 0) hi = mid;
        else lo = mid + 1;
        free(t);
    }
    return hi;
}

static int s_generate(policy_t *p, const policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                      const policy_sample_opts_t *o, policy_sample_t *out) {
    int max_new = o->max_new > 0 ? o->max_new : 1, rc = 0;
    int **ptok = xcalloc((size_t)n, sizeof *ptok), *plen = xmalloc(sizeof(int) * (size_t)n);
    for (int b = 0; b < n && rc == 0; b++)
        if ((plen[b] = s_prompt_tokens(p, &prompts[b], &ptok[b])) < 0) rc = -1;
    int *toks = xmalloc(sizeof(int) * (size_t)n * max_new), *len = xmalloc(sizeof(int) * (size_t)n);
    float *lps = xmalloc(sizeof(float) * (size_t)n * max_new);
    lm_sample_opts_t so = {o->temperature, o->top_k, o->top_p, max_new};
    if (rc == 0)
        rc = lm_generate(s_gp(p)->lm, ref ? s_gp(ref)->lm : NULL, mix, (const int *const *)ptok, plen, n, &so, rngs,
                         toks, lps, len);
    for (int b = 0; b < n && rc == 0; b++) {
        policy_sample_t *s = &out[b];
        int m = s_stop_length(s_gp(p)->lm, toks + (size_t)b * max_new, len[b] > 0 ? len[b] : 0, o);
        s->n_tokens = m;
        s->tokens = xmalloc(sizeof(uint32_t) * (size_t)(m ? m : 1));
        s->token_logprobs = xmalloc(sizeof(float) * (size_t)(m ? m : 1));
        s->logprob = 0;
        for (int i = 0; i < m; i++) {
            s->tokens[i] = (uint32_t)toks[(size_t)b * max_new + i];
            s->token_logprobs[i] = lps[(size_t)b * max_new + i];
            s->logprob += lps[(size_t)b * max_new + i];
        }
    }
    for (int b = 0; b < n; b++) free(ptok[b]);
    free(ptok), free(plen), free(toks), free(len), free(lps);
    return rc;
}

/* The byte-level model's rendering: bytes up to end-of-text, non-printable ones as '?'. */
static char *s_byte_text(const uint32_t *tokens, int n_tokens) {
    char *s = xmalloc((size_t)n_tokens + 1);
    int k = 0;
    for (int i = 0; i < n_tokens && tokens[i] != GPT_EOT; i++)
        s[k++] = tokens[i] >= 32 && tokens[i] < 127 ? (char)tokens[i] : '?';
    s[k] = '\0';
    return s;
}

/* A Hugging Face model's response is the tokenizer's decoding, up to its first EOS. */
static char *s_response_text(const policy_t *p, const uint32_t *tokens, int n_tokens) {
    const lm_t *m = s_gp(p)->lm;
    if (lm_is_byte_level(m)) return s_byte_text(tokens, n_tokens);
    int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)(n_tokens ? n_tokens : 1));
    for (int i = 0; i < n_tokens; i++) ids[i] = tokens[i] < (uint32_t)lm_vocab(m) ? (int32_t)tokens[i] : 0;
    char *s = lm_decode(m, ids, n_tokens);
    free(ids);
    return s;
}

static void *s_serialize(const policy_t *p, uint64_t version, size_t *len_out) {
    return lm_serialize(s_gp(p)->lm, version, len_out);
}

static policy_t *s_load(const void *blob, size_t len, const st_file_t *f, uint64_t *version_out, char *why,
                        size_t wl) {
    (void)f; /* lm checks the whole blob itself */
    lm_t *m = lm_deserialize(blob, len, version_out, why, wl);
    return m ? policy_lm_new(m) : NULL;
}

policy_t *policy_load_onto(policy_t *base, const void *blob, size_t len, uint64_t *version_out, char *why,
                           size_t wl) {
    if (!lm_is_lora_blob(blob, len)) return policy_load(blob, len, version_out, why, wl);
    if (!base || base->ops != &policy_hf_ops) {
        snprintf(why, wl, "a LoRA blob needs a Hugging Face base model to load onto (policy.checkpoint)");
        return NULL;
    }
    lm_t *m = lm_lora_deserialize(s_gp(base)->lm, blob, len, version_out, why, wl);
    return m ? policy_lm_new(m) : NULL;
}

policy_t *policy_lora_base(const char *dir, char *why, size_t wl) {
    lm_t *m = lm_load_dir(dir, NULL, why, wl);
    if (!m) return NULL;
    if (!lm_llama(m)) {
        snprintf(why, wl, "%s: LoRA adapts a Llama-family model, not this one", dir);
        lm_free(&m);
        return NULL;
    }
    lm_t *frozen = lm_share_base(m); /* the weights without the loaded model's gradient buffer */
    lm_free(&m);
    return policy_lm_new(frozen);
}

int policy_lora_attach(policy_t *p, int rank, double alpha, const char *targets, uint64_t seed, char *why,
                       size_t wl) {
    if (p->ops != &policy_hf_ops) {
        snprintf(why, wl, "LoRA adapts a Hugging Face model (policy kind %s)", p->ops->kind);
        return -1;
    }
    return lm_lora_attach(s_gp(p)->lm, rank, alpha, targets, seed, why, wl);
}

void policy_lora_enable(policy_t *p, int on) {
    lora_t *l = lm_lora(s_gp(p)->lm);
    if (l) lora_set_enabled(l, on);
}

#define LM_OPS                                                                                                     \
    .clone = s_clone, .copy = s_copy, .free_state = s_free_state, .zero_grad = s_zero_grad, .view = s_view,       \
    .axpby = s_axpby, .decay_mask = s_decay_mask, .valid_seq = s_valid_seq, .logprobs = s_logprobs,               \
    .backward = s_backward, .generate = s_generate, .response_text = s_response_text, .serialize = s_serialize,   \
    .load = s_load

/* One backend, two blob kinds: the byte-level GPT's blobs keep their form ("gpt"). */
const policy_ops_t policy_gpt_ops = {.kind = "gpt", LM_OPS};
const policy_ops_t policy_hf_ops = {.kind = "hf", LM_OPS};
