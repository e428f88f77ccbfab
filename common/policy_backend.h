/* policy_backend — what a policy backend implements: one operations table per model family
 * (common/policy_tabular.c, common/policy_gpt.c) over the backend's own state. common/policy.c
 * holds the table of backends and turns every public function of common/policy.h into a call
 * through p->ops. Private to the policy module: nothing outside common/policy*.c includes it. */
#ifndef SPAR_POLICY_BACKEND_H
#define SPAR_POLICY_BACKEND_H

#include "common/policy.h"
#include "common/safetensors.h"

typedef struct policy_ops policy_ops_t;

struct policy {
    const policy_ops_t *ops;
    void *state; /* the backend's, owned */
};

/* Every entry is required. Two-policy operations (copy, axpby, generate's ref) are only called
 * with policies of the same backend; shapes are the backend's to check. */
struct policy_ops {
    const char *kind; /* the safetensors metadata "policy" of its blobs */
    policy_t *(*clone)(const policy_t *p);
    void (*copy)(policy_t *dst, const policy_t *src);
    void (*free_state)(void *state);
    void (*zero_grad)(policy_t *p);
    policy_view_t (*view)(const policy_t *p);
    void (*axpby)(policy_t *y, double a, const policy_t *x, double b);
    uint8_t *(*decay_mask)(const policy_t *p);
    int (*valid_seq)(const policy_t *p, const policy_seq_t *seq);
    void (*logprobs)(policy_t *p, const policy_seq_t *seqs, int n, double *lp);
    void (*backward)(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp);
    /* ref NULL: from p itself; else the geometric mixture p^(1 - mix) ref^mix */
    int (*generate)(policy_t *p, const policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                    const policy_sample_opts_t *o, policy_sample_t *out);
    char *(*response_text)(const policy_t *p, const uint32_t *tokens, int n_tokens);
    void *(*serialize)(const policy_t *p, uint64_t version, size_t *len_out);
    /* f: the parsed blob, whose metadata "policy" is this backend's kind */
    policy_t *(*load)(const void *blob, size_t len, const st_file_t *f, uint64_t *version_out, char *why,
                      size_t whylen);
};

extern const policy_ops_t policy_tabular_ops;
extern const policy_ops_t policy_gpt_ops; /* the byte-level GPT (common/policy_lm.c) */
extern const policy_ops_t policy_hf_ops;  /* Hugging Face models (common/policy_lm.c) */

/* A policy of the given backend around its state (taken over). */
policy_t *policy_wrap(const policy_ops_t *ops, void *state);

#endif
