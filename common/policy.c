/* policy — the backend-independent half of common/policy.h: every public function is a call
 * through the policy's operations table, plus the table of backends that policy_load picks
 * from by a blob's metadata. A backend's maths and buffers are in its own file
 * (common/policy_tabular.c, common/policy_gpt.c); adding one is a file and a row below. */
#include "common/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy_backend.h"
#include "common/util.h"

static const policy_ops_t *const s_backends[] = {&policy_tabular_ops, &policy_gpt_ops, &policy_hf_ops};

policy_t *policy_wrap(const policy_ops_t *ops, void *state) {
    policy_t *p = xmalloc(sizeof *p);
    p->ops = ops;
    p->state = state;
    return p;
}

policy_t *policy_clone(const policy_t *p) { return p->ops->clone(p); }
void policy_copy(policy_t *dst, const policy_t *src) { src->ops->copy(dst, src); }

void policy_swap(policy_t *a, policy_t *b) {
    policy_t t = *a;
    *a = *b;
    *b = t;
}

void policy_destroy(policy_t **pp) {
    if (!pp || !*pp) return;
    (*pp)->ops->free_state((*pp)->state);
    free(*pp);
    *pp = NULL;
}

void policy_zero_grad(policy_t *p) { p->ops->zero_grad(p); }
const char *policy_kind(const policy_t *p) { return p->ops->kind; }
policy_view_t policy_view(const policy_t *p) { return p->ops->view(p); }
void policy_axpby(policy_t *y, double a, const policy_t *x, double b) { y->ops->axpby(y, a, x, b); }
uint8_t *policy_decay_mask(const policy_t *p) { return p->ops->decay_mask(p); }
int policy_valid_seq(const policy_t *p, const policy_seq_t *s) { return p->ops->valid_seq(p, s); }
void policy_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp) { p->ops->logprobs(p, seqs, n, lp); }

void policy_backward_seqs(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp) {
    p->ops->backward(p, seqs, n, dlp);
}

int policy_generate(policy_t *p, const policy_seq_t *prompts, int n, rng_t *rngs, const policy_sample_opts_t *o,
                    policy_sample_t *out) {
    return p->ops->generate(p, NULL, 0.0, prompts, n, rngs, o, out);
}

int policy_generate_mixture(policy_t *p, policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                            const policy_sample_opts_t *o, policy_sample_t *out) {
    if (!ref || ref->ops != p->ops) return -1;
    return p->ops->generate(p, ref, mix, prompts, n, rngs, o, out);
}

void policy_sample_free(policy_sample_t *s) {
    free(s->tokens);
    free(s->token_logprobs);
    memset(s, 0, sizeof *s);
}

char *policy_response_text(const policy_t *p, const uint32_t *tokens, int n_tokens) {
    return p->ops->response_text(p, tokens, n_tokens);
}

void *policy_serialize(const policy_t *p, uint64_t version, size_t *len_out) {
    return p->ops->serialize(p, version, len_out);
}

policy_t *policy_load(const void *blob, size_t len, uint64_t *version_out, char *why, size_t wl) {
    st_file_t f;
    if (st_parse(blob, len, &f, why, wl) != 0) return NULL;
    const char *kind = st_meta(&f, "policy");
    policy_t *p = NULL;
    size_t i = 0, nb = sizeof s_backends / sizeof s_backends[0];
    while (i < nb && !(kind && !strcmp(kind, s_backends[i]->kind))) i++;
    if (i < nb) p = s_backends[i]->load(blob, len, &f, version_out, why, wl);
    else snprintf(why, wl, "not a policy of a known kind (metadata policy = %s)", kind ? kind : "missing");
    st_free(&f);
    return p;
}
