/* gpt_sample — batched generation from a GPT policy with a KV cache: every sequence of the
 * batch has its own prompt, position and random stream, so the same (seed, iteration, prompt,
 * sample) draws the same tokens on any actor and in any batch. Temperature, top-k and top-p
 * shape the sampling distribution; the returned per-token log-probs are the policy's own
 * (temperature 1, no filtering), the quantity the learner recomputes. */
#ifndef SPAR_GPT_SAMPLE_H
#define SPAR_GPT_SAMPLE_H

#include "common/gpt.h"
#include "common/rng.h"

typedef struct {
    double temperature; /* 0: greedy */
    int top_k;          /* 0: off */
    double top_p;       /* 1: off */
    int max_new;        /* tokens to generate at most (generation also stops at an EOS id or ctx) */
    const int *eos;     /* the ids that end a sequence (NULL: GPT_EOT, the byte-level model's; n_eos 0: none) */
    int n_eos;
} gpt_sample_opts_t;

/* Generates for B sequences. prompts[b] has plen[b] >= 1 tokens. out_tokens and out_logprobs
 * are (B, max_new); out_len[b] is how many were generated (an end-of-text token, when drawn, is
 * included). Returns 0, or -1 for invalid input (a prompt that does not fit the context, a token
 * outside the vocabulary). */
int gpt_generate(gpt_t *m, const int *const *prompts, const int *plen, int B, const gpt_sample_opts_t *o, rng_t *rngs,
                 int *out_tokens, float *out_logprobs, int *out_len);

/* The same from the token-level geometric mixture of m and ref: each next token is drawn from
 * softmax((1 - mix) z_m + mix z_ref) (then shaped by the options), and out_logprobs are under
 * that mixture (Nash-MD's opponent for language models). ref NULL: gpt_generate. Returns -1 also
 * when the two models' vocabulary or context differ. */
int gpt_generate_mixture(gpt_t *m, gpt_t *ref, double mix, const int *const *prompts, const int *plen, int B,
                         const gpt_sample_opts_t *o, rng_t *rngs, int *out_tokens, float *out_logprobs, int *out_len);

#endif
