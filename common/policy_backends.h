/* policy_backends — what each backend gives common/policy.c, which dispatches on the kind.
 * Internal to the policy module. */
#ifndef SPAR_POLICY_BACKENDS_H
#define SPAR_POLICY_BACKENDS_H

#include "common/policy.h"
#include "common/safetensors.h"

policy_t *tabular_clone(const policy_t *src);
void tabular_copy(policy_t *dst, const policy_t *src);
void tabular_free(policy_t *p);
void tabular_zero_grad(policy_t *p);
int tabular_valid_response(const policy_t *p, const uint32_t *tokens, int n_tokens);
void *tabular_serialize(const policy_t *p, uint64_t version, size_t *len_out);
policy_t *tabular_load(const st_file_t *f, uint64_t *version_out, char *why, size_t whylen);

int gptpol_valid_seq(const policy_t *p, const policy_seq_t *seq);
void gptpol_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp);
void gptpol_backward(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp);
int gptpol_generate(policy_t *p, policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                    const policy_sample_opts_t *o, policy_sample_t *out);
void gptpol_free(policy_t *p);

#endif
