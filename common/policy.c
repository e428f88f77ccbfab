/* policy — the backend-independent half of common/policy.h: dispatch on the policy's kind. */
#include "common/policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt_io.h"
#include "common/policy_backends.h"
#include "common/tokenizer.h"
#include "common/util.h"

static int s_is_gpt(const policy_t *p) { return p->gpt != NULL; }

policy_t *policy_gpt_new(gpt_t *m) {
    policy_t *p = xcalloc(1, sizeof *p);
    p->kind = "gpt";
    p->gpt = m;
    p->n_params = gpt_n_params(m);
    return p;
}

policy_t *policy_clone(const policy_t *src) {
    if (!s_is_gpt(src)) return tabular_clone(src);
    gpt_t *m = gpt_new(gpt_config(src->gpt), 0);
    policy_t *p = policy_gpt_new(m);
    policy_copy(p, src);
    return p;
}

void policy_copy(policy_t *dst, const policy_t *src) {
    if (!s_is_gpt(src)) {
        tabular_copy(dst, src);
        return;
    }
    memcpy(gpt_params(dst->gpt), gpt_params(src->gpt), gpt_n_params(src->gpt) * sizeof(float));
}

void policy_destroy(policy_t **pp) {
    if (!pp || !*pp) return;
    if (s_is_gpt(*pp)) gptpol_free(*pp);
    else tabular_free(*pp);
    free(*pp);
    *pp = NULL;
}

void policy_zero_grad(policy_t *p) {
    if (s_is_gpt(p)) gpt_zero_grad(p->gpt);
    else tabular_zero_grad(p);
}

int policy_valid_seq(const policy_t *p, const policy_seq_t *s) {
    if (s_is_gpt(p)) return gptpol_valid_seq(p, s);
    return s->prompt >= 0 && s->prompt < p->prompts && tabular_valid_response(p, s->tokens, s->n_tokens);
}

void policy_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp) {
    if (s_is_gpt(p)) {
        gptpol_logprobs(p, seqs, n, lp);
        return;
    }
    for (int i = 0; i < n; i++) lp[i] = policy_logprob(p, seqs[i].prompt, seqs[i].tokens, seqs[i].n_tokens);
}

void policy_backward_seqs(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp) {
    if (s_is_gpt(p)) {
        gptpol_backward(p, seqs, n, dlp);
        return;
    }
    for (int i = 0; i < n; i++)
        if (dlp[i] != 0.0) policy_backward(p, seqs[i].prompt, seqs[i].tokens, seqs[i].n_tokens, dlp[i]);
}

int policy_generate(policy_t *p, const policy_seq_t *prompts, int n, rng_t *rngs, const policy_sample_opts_t *o,
                    policy_sample_t *out) {
    if (s_is_gpt(p)) return gptpol_generate(p, NULL, 0.0, prompts, n, rngs, o, out);
    for (int i = 0; i < n; i++) {
        if (prompts[i].prompt < 0 || prompts[i].prompt >= p->prompts) return -1;
        policy_sample(p, prompts[i].prompt, &rngs[i], &out[i]);
    }
    return 0;
}

int policy_generate_mixture(policy_t *p, policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                            const policy_sample_opts_t *o, policy_sample_t *out) {
    if (!ref || s_is_gpt(p) != s_is_gpt(ref)) return -1;
    if (s_is_gpt(p)) return gptpol_generate(p, ref, mix, prompts, n, rngs, o, out);
    for (int i = 0; i < n; i++) {
        if (prompts[i].prompt < 0 || prompts[i].prompt >= p->prompts || ref->prompts != p->prompts || ref->n != p->n)
            return -1;
        policy_sample_mixture(p, ref, mix, prompts[i].prompt, &rngs[i], &out[i]);
    }
    return 0;
}

void policy_sample_free(policy_sample_t *s) {
    free(s->tokens);
    free(s->token_logprobs);
    memset(s, 0, sizeof *s);
}

char *policy_response_text(const policy_t *p, const uint32_t *tokens, int n_tokens) {
    if (!s_is_gpt(p)) return xasprintf("a%u", n_tokens > 0 ? tokens[0] : 0);
    char *s = xmalloc((size_t)n_tokens + 1);
    int k = 0;
    for (int i = 0; i < n_tokens && tokens[i] != GPT_EOT; i++)
        s[k++] = tokens[i] >= 32 && tokens[i] < 127 ? (char)tokens[i] : '?';
    s[k] = '\0';
    return s;
}

void *policy_serialize(const policy_t *p, uint64_t version, size_t *len_out) {
    if (s_is_gpt(p)) return gpt_serialize(p->gpt, version, len_out);
    return tabular_serialize(p, version, len_out);
}

policy_t *policy_load(const void *blob, size_t len, uint64_t *version_out, char *why, size_t wl) {
    st_file_t f;
    if (st_parse(blob, len, &f, why, wl) != 0) return NULL;
    const char *kind = st_meta(&f, "policy");
    policy_t *p = NULL;
    if (kind && !strcmp(kind, "gpt")) {
        gpt_t *m = gpt_deserialize(blob, len, version_out, why, wl);
        if (m) p = policy_gpt_new(m);
    } else {
        p = tabular_load(&f, version_out, why, wl);
    }
    st_free(&f);
    return p;
}
