/* policy_gpt — the gpt backend of common/policy.h: a (prompt, response) pair is the prompt's
 * bytes followed by the response's tokens; its log-prob is the sum over the response tokens
 * (the prompt masked out, ALGORITHMS.md section 0b). A batch of pairs is one forward pass of
 * B rows padded to the longest (causal attention keeps padding out of every earlier position). */
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
    free(p->batch_plen);
    free(p->batch_len);
}

/* The prompt's tokens (at most ctx); returns how many, or -1 when the text does not fit. */
static int s_prompt_tokens(const policy_t *p, const policy_seq_t *s, int *out) {
    int ctx = gpt_config(p->gpt)->ctx;
    if (!s->prompt_text) return -1;
    int n = tok_encode(s->prompt_text, out, ctx);
    return n >= 1 && (size_t)n == strlen(s->prompt_text) ? n : -1;
}

int gptpol_valid_seq(const policy_t *p, const policy_seq_t *s) {
    const gpt_config_t *c = gpt_config(p->gpt);
    int *pt = xmalloc(sizeof(int) * (size_t)c->ctx), pl = s_prompt_tokens(p, s, pt);
    free(pt);
    if (pl < 0 || s->n_tokens < 1 || pl + s->n_tokens > c->ctx) return 0;
    for (int i = 0; i < s->n_tokens; i++)
        if (s->tokens[i] >= (uint32_t)c->vocab || (s->tokens[i] == GPT_EOT && i != s->n_tokens - 1)) return 0;
    return 1;
}

void gptpol_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp) {
    int ctx = gpt_config(p->gpt)->ctx, T = 1;
    int *rows = xmalloc(sizeof(int) * (size_t)n * ctx), *valid = xmalloc(sizeof(int) * (size_t)n);
    p->batch_plen = xrealloc(p->batch_plen, sizeof(int) * (size_t)n);
    p->batch_len = xrealloc(p->batch_len, sizeof(int) * (size_t)n);
    for (int b = 0; b < n; b++) {
        int *row = rows + (size_t)b * ctx;
        valid[b] = gptpol_valid_seq(p, &seqs[b]);
        if (!valid[b]) { /* a row with no response positions: lp 0, gradient 0 */
            row[0] = GPT_EOT;
            p->batch_plen[b] = p->batch_len[b] = 1;
            continue;
        }
        int pl = s_prompt_tokens(p, &seqs[b], row);
        for (int i = 0; i < seqs[b].n_tokens; i++) row[pl + i] = (int)seqs[b].tokens[i];
        p->batch_plen[b] = pl;
        p->batch_len[b] = pl + seqs[b].n_tokens;
        if (p->batch_len[b] > T) T = p->batch_len[b];
    }
    p->batch_tokens = xrealloc(p->batch_tokens, sizeof(int) * (size_t)n * T);
    for (int b = 0; b < n; b++) {
        int *dst = p->batch_tokens + (size_t)b * T;
        memcpy(dst, rows + (size_t)b * ctx, sizeof(int) * (size_t)p->batch_len[b]);
        for (int t = p->batch_len[b]; t < T; t++) dst[t] = GPT_EOT;
    }
    p->batch_B = n;
    p->batch_T = T;
    if (n > 0 && gpt_forward(p->gpt, p->batch_tokens, n, T) == 0) {
        gpt_seq_logprob(p->gpt, p->batch_tokens, p->batch_plen, p->batch_len, lp);
    } else {
        for (int b = 0; b < n; b++) lp[b] = -INFINITY;
    }
    for (int b = 0; b < n; b++)
        if (!valid[b]) lp[b] = -INFINITY;
    free(rows);
    free(valid);
}

void gptpol_backward(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp) {
    (void)seqs;
    if (n != p->batch_B || n == 0) return; /* programmer error: not the last batch */
    double *d = xmalloc(sizeof(double) * (size_t)n);
    for (int b = 0; b < n; b++) d[b] = isfinite(dlp[b]) ? dlp[b] : 0.0;
    gpt_backward(p->gpt, p->batch_tokens, p->batch_plen, p->batch_len, d);
    free(d);
}

int gptpol_generate(policy_t *p, const policy_seq_t *prompts, int n, rng_t *rngs, const policy_sample_opts_t *o,
                    policy_sample_t *out) {
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
    if (rc == 0) rc = gpt_generate(p->gpt, pp, plen, n, &go, rngs, toks, lps, len);
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
