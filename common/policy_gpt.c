/* policy_gpt — the gpt backend of common/policy.h: a (prompt, response) pair is the prompt's
 * bytes followed by the response's tokens; its log-prob is the sum over the response tokens
 * (the prompt masked out, docs/algorithms.md, "Notation"). A batch of pairs is one packed forward
 * pass (below: responses to the same prompt share its computation). Not here: the model's maths
 * (common/gpt.c), sampling (common/gpt_sample.c), the safetensors layout (common/gpt_io.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt_io.h"
#include "common/gpt_sample.h"
#include "common/policy_backend.h"
#include "common/tokenizer.h"
#include "common/util.h"

typedef struct {
    gpt_t *gpt; /* parameters and gradients in its float buffers */
    /* the packed batch of the last logprobs call, which backward differentiates */
    int *batch_tokens, *batch_pos, *batch_seg, batch_B, batch_T, batch_n_seqs, batch_n_preds;
    gpt_pred_t *batch_preds;
} gptpol_t;

static gptpol_t *s_gp(const policy_t *p) { return p->state; }

policy_t *policy_gpt_new(gpt_t *m) {
    gptpol_t *g = xcalloc(1, sizeof *g);
    g->gpt = m;
    return policy_wrap(&policy_gpt_ops, g);
}

gpt_t *policy_gpt_model(policy_t *p) { return s_gp(p)->gpt; }
int policy_gpt_batch_rows(const policy_t *p) { return s_gp(p)->batch_B; }

static void s_free_state(void *state) {
    gptpol_t *g = state;
    gpt_destroy(&g->gpt);
    free(g->batch_tokens);
    free(g->batch_pos);
    free(g->batch_seg);
    free(g->batch_preds);
    free(g);
}

static void s_copy(policy_t *dst, const policy_t *src) {
    gpt_t *s = s_gp(src)->gpt;
    memcpy(gpt_params(s_gp(dst)->gpt), gpt_params(s), gpt_n_params(s) * sizeof(float));
}

static policy_t *s_clone(const policy_t *src) {
    policy_t *p = policy_gpt_new(gpt_new(gpt_config(s_gp(src)->gpt), 0));
    s_copy(p, src);
    return p;
}

static void s_zero_grad(policy_t *p) { gpt_zero_grad(s_gp(p)->gpt); }

static policy_view_t s_view(const policy_t *p) {
    gpt_t *m = s_gp(p)->gpt;
    return (policy_view_t){.n = gpt_n_params(m), .f32 = gpt_params(m), .grad_f32 = gpt_grads(m)};
}

/* In double, rounded to float once per element. */
static void s_axpby(policy_t *y, double a, const policy_t *x, double b) {
    gpt_t *my = s_gp(y)->gpt;
    float *py = gpt_params(my);
    const float *px = gpt_params(s_gp(x)->gpt);
    for (size_t i = 0; i < gpt_n_params(my); i++) py[i] = (float)(a * px[i] + b * py[i]);
}

static uint8_t *s_decay_mask(const policy_t *p) { return gpt_decay_mask(s_gp(p)->gpt); }

/* The prompt's tokens (at most ctx); returns how many, or -1 when the text does not fit. */
static int s_prompt_tokens(const policy_t *p, const policy_seq_t *s, int *out) {
    int ctx = gpt_config(s_gp(p)->gpt)->ctx;
    if (!s->prompt_text) return -1;
    int n = tok_encode(s->prompt_text, out, ctx);
    return n >= 1 && (size_t)n == strlen(s->prompt_text) ? n : -1;
}

/* Does the response fit after a prompt of pl tokens: 1 or more tokens in the vocabulary,
 * end-of-text only last, prompt and response within the context? */
static int s_response_fits(const gpt_config_t *c, int pl, const policy_seq_t *s) {
    if (pl < 0 || s->n_tokens < 1 || pl + s->n_tokens > c->ctx) return 0;
    for (int i = 0; i < s->n_tokens; i++)
        if (s->tokens[i] >= (uint32_t)c->vocab || (s->tokens[i] == GPT_EOT && i != s->n_tokens - 1)) return 0;
    return 1;
}

static int s_valid_seq(const policy_t *p, const policy_seq_t *s) {
    const gpt_config_t *c = gpt_config(s_gp(p)->gpt);
    int *pt = xmalloc(sizeof(int) * (size_t)c->ctx), pl = s_prompt_tokens(p, s, pt);
    free(pt);
    return s_response_fits(c, pl, s);
}

/* Packing: the responses to one prompt share a row, the prompt once (segment 0), then each
 * response as its own segment with positions continuing the prompt's (gpt_forward_packed), so
 * the prompt is computed once for all of them. A row holds at most PACK_FACTOR x ctx tokens;
 * further responses to the prompt open another row. */
#define PACK_FACTOR 2

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
    gptpol_t *g = s_gp(p);
    const gpt_config_t *c = gpt_config(g->gpt);
    int ctx = c->ctx, limit = PACK_FACTOR * ctx, n_rows = 0, cap = 0, pl = 0, branch = 0;
    int *pt = xmalloc(sizeof(int) * (size_t)ctx);
    row_t *rows = NULL, *cur = NULL;
    const char *cur_prompt = NULL;
    g->batch_n_preds = 0;
    for (int i = 0; i < n; i++) {
        lp[i] = 0;
        /* the prompt is encoded once per run of responses to it */
        int same = cur && seqs[i].prompt_text && !strcmp(cur_prompt, seqs[i].prompt_text);
        int spl = same ? pl : s_prompt_tokens(p, &seqs[i], pt);
        if (!s_response_fits(c, spl, &seqs[i])) {
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
            g->batch_preds[k] = (gpt_pred_t){j == 0 ? pl - 1 : start + j - 1, (int)seqs[i].tokens[j], i};
            pred_row[k] = n_rows - 1;
            s_row_push(cur, (int)seqs[i].tokens[j], pl + j, branch);
        }
    }
    free(pt);
    *rows_out = rows;
    return n_rows;
}

static void s_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp) {
    gptpol_t *g = s_gp(p);
    size_t max_preds = 1;
    for (int i = 0; i < n; i++) max_preds += seqs[i].n_tokens > 0 ? (size_t)seqs[i].n_tokens : 0;
    g->batch_preds = xrealloc(g->batch_preds, sizeof(gpt_pred_t) * max_preds);
    int *pred_row = xmalloc(sizeof(int) * max_preds);
    row_t *rows = NULL;
    int B = s_pack(p, seqs, n, &rows, pred_row, lp), T = 1;
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
            g->batch_tokens[b * T + t] = in ? rows[b].tok[t] : GPT_EOT;
            g->batch_pos[b * T + t] = in ? rows[b].pos[t] : 0;
            g->batch_seg[b * T + t] = in ? rows[b].seg[t] : -1;
        }
        free(rows[b].tok), free(rows[b].pos), free(rows[b].seg);
    }
    free(rows);
    for (int k = 0; k < g->batch_n_preds; k++) g->batch_preds[k].at += pred_row[k] * T;
    free(pred_row);
    if (B > 0) {
        if (gpt_forward_packed(g->gpt, g->batch_tokens, g->batch_pos, g->batch_seg, B, T) == 0) {
            gpt_preds_logprob(g->gpt, g->batch_preds, g->batch_n_preds, lp);
        } else {
            for (int i = 0; i < n; i++) lp[i] = -INFINITY;
            g->batch_B = 0;
        }
    }
}

static void s_backward(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp) {
    (void)seqs;
    gptpol_t *g = s_gp(p);
    if (n != g->batch_n_seqs || g->batch_B == 0) return; /* not the last batch, or nothing valid in it */
    double *d = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) d[i] = isfinite(dlp[i]) ? dlp[i] : 0.0;
    gpt_backward_preds(g->gpt, g->batch_tokens, g->batch_pos, g->batch_preds, g->batch_n_preds, d);
    free(d);
}

static int s_generate(policy_t *p, const policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                      const policy_sample_opts_t *o, policy_sample_t *out) {
    int ctx = gpt_config(s_gp(p)->gpt)->ctx, max_new = o->max_new > 0 ? o->max_new : 1, rc = 0;
    int *ptok = xmalloc(sizeof(int) * (size_t)n * ctx), *plen = xmalloc(sizeof(int) * (size_t)n);
    const int **pp = xmalloc(sizeof(int *) * (size_t)n);
    for (int b = 0; b < n && rc == 0; b++) {
        pp[b] = ptok + (size_t)b * ctx;
        plen[b] = s_prompt_tokens(p, &prompts[b], ptok + (size_t)b * ctx);
        if (plen[b] < 0 || plen[b] >= ctx) rc = -1;
    }
    int *toks = xmalloc(sizeof(int) * (size_t)n * max_new), *len = xmalloc(sizeof(int) * (size_t)n);
    float *lps = xmalloc(sizeof(float) * (size_t)n * max_new);
    gpt_sample_opts_t go = {o->temperature, o->top_k, o->top_p, max_new};
    if (rc == 0) rc = gpt_generate_mixture(s_gp(p)->gpt, ref ? s_gp(ref)->gpt : NULL, mix, pp, plen, n, &go, rngs, toks, lps, len);
    for (int b = 0; b < n && rc == 0; b++) {
        policy_sample_t *s = &out[b];
        int m = len[b] > 0 ? len[b] : 0;
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
    free(ptok), free(plen), free(pp), free(toks), free(len), free(lps);
    return rc;
}

static char *s_response_text(const policy_t *p, const uint32_t *tokens, int n_tokens) {
    (void)p;
    char *s = xmalloc((size_t)n_tokens + 1);
    int k = 0;
    for (int i = 0; i < n_tokens && tokens[i] != GPT_EOT; i++)
        s[k++] = tokens[i] >= 32 && tokens[i] < 127 ? (char)tokens[i] : '?';
    s[k] = '\0';
    return s;
}

static void *s_serialize(const policy_t *p, uint64_t version, size_t *len_out) {
    return gpt_serialize(s_gp(p)->gpt, version, len_out);
}

static policy_t *s_load(const void *blob, size_t len, const st_file_t *f, uint64_t *version_out, char *why,
                        size_t wl) {
    (void)f; /* gpt_io checks the whole blob itself */
    gpt_t *m = gpt_deserialize(blob, len, version_out, why, wl);
    return m ? policy_gpt_new(m) : NULL;
}

const policy_ops_t policy_gpt_ops = {
    .kind = "gpt",
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
