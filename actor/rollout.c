/* rollout — see rollout.h. A rollout is freed with everything it holds. */
#include "actor/rollout.h"

#include <stdlib.h>

#include "common/util.h"

void rollout_free(rollout_t *t) {
    if (!t) return;
    for (int i = 0; t->samples && i < t->k; i++) policy_sample_free(&t->samples[i]);
    free(t->samples);
    free(t->prompt_text);
    free(t->judging.rewards);
    free(t->judging.P);
    free(t);
}

void rollout_responses(const policy_t *policy, const rollout_t *t, responses_t *out) {
    out->k = t->k;
    out->rs = xcalloc((size_t)t->k, sizeof *out->rs);
    out->rp = xcalloc((size_t)t->k, sizeof *out->rp);
    out->text = xcalloc((size_t)t->k, sizeof *out->text);
    for (int i = 0; i < t->k; i++) {
        const policy_sample_t *y = &t->samples[i];
        spar__response__init(&out->rs[i]);
        out->rs[i].tokens = y->tokens;
        out->rs[i].n_tokens = (size_t)y->n_tokens;
        out->rs[i].logprob = y->logprob;
        out->rs[i].token_logprobs = y->token_logprobs;
        out->rs[i].n_token_logprobs = (size_t)y->n_tokens;
        out->rs[i].text = out->text[i] = policy_response_text(policy, y->tokens, y->n_tokens);
        out->rp[i] = &out->rs[i];
    }
}

void responses_free(responses_t *r) {
    for (int i = 0; i < r->k; i++) free(r->text[i]);
    free(r->rs);
    free(r->rp);
    free(r->text);
}
