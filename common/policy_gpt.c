/* policy_gpt — the gpt backend of common/policy.h: a (prompt, response) pair is the prompt's
 * bytes followed by the response's tokens; its log-prob is the sum over the response tokens
 * (the prompt masked out, docs/algorithms.md, "Notation"). A batch of pairs is one packed forward pass
 * (below: responses to the same prompt share its computation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt_sample.h"
#include "common/policy_backends.h"
#include "common/tokenizer.h"
#include "common/util.h"

void gptpol_free(policy_t *p) {
    gpt_destroy(&p->gpt);
    free(p->batch_tokens);
    free(p->batch_pos);
    free(p->batch_seg);
    free(p->batch_preds);
}

/* The prompt's tokens (at most ctx); returns how many, or -1 when the text does not fit. */
static int s_prompt_tokens(const policy_t *p, const policy_seq_t *s, int *out) {
    int ctx = gpt_config(p->gpt)->ctx;
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

int gptpol_valid_seq(const policy_t *p, const policy_seq_t *s) {
    const gpt_config_t *c = gpt_config(p->gpt);
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
    const gpt_config_t *c = gpt_config(p->gpt);
    int ctx = c->ctx, limit = PACK_FACTOR * ctx, n_rows = 0, cap = 0, pl = 0, branch = 0;
    int *pt = xmalloc(sizeof(int) * (size_t)ctx);
    row_t *rows = NULL, *cur = NULL;
    const char *cur_prompt = NULL;
    p->batch_n_preds = 0;
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
            int k = p->batch_n_preds++;
            p->batch_preds[k] = (gpt_pred_t){j == 0 ? pl - 1 : start + j - 1, (int)seqs[i].tokens[j], i};
            pred_row[k] = n_rows - 1;
            s_row_push(cur, (int)seqs[i].tokens[j], pl + j, branch);
        }
    }
    free(pt);
    *rows_out = rows;
    return n_rows;
}

void gptpol_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp) {
    size_t max_preds = 1;
    for (int i = 0; i < n; i++) max_preds += seqs[i].n_tokens > 0 ? (size_t)seqs[i].n_tokens : 0;
    p->batch_preds = xrealloc(p->batch_preds, sizeof(gpt_pred_t) * max_preds);
    int *pred_row = xmalloc(sizeof(int) * max_preds);
    row_t *rows = NULL;
    int B = s_pack(p, seqs, n, &rows, pred_row, lp), T = 1;
    for (int b = 0; b < B; b++) T = rows[b].n > T ? rows[b].n : T;
    p->batch_B = B;
    p->batch_T = T;
    p->batch_n_seqs = n;
    p->batch_tokens = xrealloc(p->batch_tokens, sizeof(int) * (size_t)(B ? B : 1) * T);
    p->batch_pos = xrealloc(p->batch_pos, sizeof(int) * (size_t)(B ? B : 1) * T);
    p->batch_seg = xrealloc(p->batch_seg, sizeof(int) * (size_t)(B ? B : 1) * T);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) { /* padding: its own segment, nothing predicted from it */
            int in = t < rows[b].n;
            p->batch_tokens[b * T + t] = in ? rows[b].tok[t] : GPT_EOT;
            p->batch_pos[b * T + t] = in ? rows[b].pos[t] : 0;
            p->batch_seg[b * T + t] = in ? rows[b].seg[t] : -1;
        }
        free(rows[b].tok), free(rows[b].pos), free(rows[b].seg);
    }
    free(rows);
    for (int k = 0; k < p->batch_n_preds; k++) p->batch_preds[k].at += pred_row[k] * T;
    free(pred_row);
    if (B > 0) {
        if (gpt_forward_packed(p->gpt, p->batch_tokens, p->batch_pos, p->batch_seg, B, T) == 0) {
            gpt_preds_logprob(p->gpt, p->batch_preds, p->batch_n_preds, lp);
        } else {
            for (int i = 0; i < n; i++) lp[i] = -INFINITY;
            p->batch_B = 0;
        }
    }
}

void gptpol_backward(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp) {
    (void)seqs;
    if (n != p->batch_n_seqs || p->batch_B == 0) return; /* not the last batch, or nothing valid in it */
    double *d = xmalloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) d[i] = isfinite(dlp[i]) ? dlp[i] : 0.0;
    gpt_backward_preds(p->gpt, p->batch_tokens, p->batch_pos, p->batch_preds, p->batch_n_preds, d);
    free(d);
}

int gptpol_generate(policy_t *p, policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                    const policy_sample_opts_t *o, policy_sample_t *out) {
    int ctx = gpt_config(p->gpt)->ctx, max_new = o->max_new > 0 ? o->max_new : 1, rc = 0;
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
    if (rc == 0) rc = gpt_generate_mixture(p->gpt, ref ? ref->gpt : NULL, mix, pp, plen, n, &go, rngs, toks, lps, len);
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
