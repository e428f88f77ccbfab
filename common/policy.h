/* policy — the interface every policy backend implements (tabular now; gpt later).
 * Actors sample from a policy; the learner needs sequence log-probs, their gradients and an
 * optimiser step; both load the same weights from one serialised blob (safetensors).
 * A response is a token sequence; the tabular policy's responses are one token, the action. */
#ifndef SPAR_POLICY_H
#define SPAR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

typedef struct policy policy_t;

typedef struct {
    uint32_t tokens[1]; /* tabular: one action; later backends carry sequences elsewhere */
    int n_tokens;
    double logprob; /* sampler's sequence log-prob */
} policy_sample_t;

struct policy {
    const char *kind;
    int prompts; /* prompt ids are 0 .. prompts-1 */
    int n;       /* tabular: actions per prompt */
    size_t n_params;
    double *params; /* flat, owned */
    double *grads;  /* same layout, owned */
};

/* Tabular policy: softmax(logits[prompt]) over n actions. */
policy_t *policy_tabular_new(int prompts, int n);
/* init: "uniform" or "random" (logits ~ N(0, scale^2), seeded). */
void policy_init(policy_t *p, const char *init, double scale, uint64_t seed);
policy_t *policy_clone(const policy_t *p);
void policy_copy(policy_t *dst, const policy_t *src);
void policy_destroy(policy_t **p);

/* Probabilities of every action for a prompt (tabular). */
void policy_probs(const policy_t *p, int prompt, double *out);
/* log pi(response | prompt). Returns a log-probability or -INFINITY for an invalid response. */
double policy_logprob(const policy_t *p, int prompt, const uint32_t *tokens, int n_tokens);
/* Adds dL/dlogpi * d logpi / d params into p->grads. */
void policy_backward(policy_t *p, int prompt, const uint32_t *tokens, int n_tokens, double dlp);
void policy_zero_grad(policy_t *p);
/* Draws one response with the given stream. */
void policy_sample(const policy_t *p, int prompt, rng_t *r, policy_sample_t *out);
/* Draws one response from the geometric mixture p^(1 - m) ref^m (Nash-MD's opponent); its
 * logprob is under the mixture. */
void policy_sample_mixture(const policy_t *p, const policy_t *ref, double m, int prompt, rng_t *r,
                           policy_sample_t *out);
/* Does `tokens` name a valid response of this policy? */
int policy_valid_response(const policy_t *p, const uint32_t *tokens, int n_tokens);

/* Weights as safetensors bytes (malloc'd), tagged with version; and back.
 * policy_load returns NULL with the reason in why for a blob that is not a valid policy. */
void *policy_serialize(const policy_t *p, uint64_t version, size_t *len_out);
policy_t *policy_load(const void *blob, size_t len, uint64_t *version_out, char *why, size_t whylen);

#endif
