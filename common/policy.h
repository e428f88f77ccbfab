/* policy — the interface every policy backend implements: `tabular` (a softmax over n actions
 * per prompt, exact doubles, for matrix games) and `gpt` (the GPT-2 model of common/gpt.h over
 * byte tokens). Actors draw responses with policy_generate; the learner computes sequence
 * log-probs of (prompt, response) with policy_logprobs, back-propagates dL/dlogpi with
 * policy_backward_seqs and steps an optimiser; both load the same weights from one serialised
 * blob (safetensors). A response is a token sequence; a tabular response is one token, the
 * action. The functions marked "tabular" work on tabular policies only. */
#ifndef SPAR_POLICY_H
#define SPAR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/gpt.h"
#include "common/rng.h"

typedef struct policy policy_t;

/* One drawn response: tokens and their log-probs under the policy (malloc'd; free with
 * policy_sample_free). */
typedef struct {
    uint32_t *tokens;
    float *token_logprobs;
    int n_tokens;
    double logprob; /* sampler's sequence log-prob */
} policy_sample_t;

/* A (prompt, response) pair: the prompt by id (tabular) and text (gpt). */
typedef struct {
    int prompt;
    const char *prompt_text;
    const uint32_t *tokens;
    int n_tokens;
} policy_seq_t;

/* How actors sample a gpt policy (tabular policies always sample pi itself). */
typedef struct {
    double temperature; /* 1: pi itself; 0: greedy */
    int top_k;          /* 0: off */
    double top_p;       /* 1: off */
    int max_new;        /* response tokens at most */
} policy_sample_opts_t;

struct policy {
    const char *kind; /* "tabular" | "gpt" */
    int prompts;      /* tabular: prompt ids are 0 .. prompts-1 */
    int n;            /* tabular: actions per prompt */
    size_t n_params;
    double *params; /* tabular: flat logits, owned */
    double *grads;  /* tabular: same layout, owned */
    gpt_t *gpt;     /* gpt: the model (parameters and gradients in its float buffers) */
    /* gpt: the packed batch of the last policy_logprobs, which policy_backward_seqs differentiates */
    int *batch_tokens, *batch_pos, *batch_seg, batch_B, batch_T, batch_n_seqs, batch_n_preds;
    gpt_pred_t *batch_preds;
};

/* Tabular policy: softmax(logits[prompt]) over n actions. */
policy_t *policy_tabular_new(int prompts, int n);
/* tabular: init "uniform" or "random" (logits ~ N(0, scale^2), seeded). */
void policy_init(policy_t *p, policy_init_t init, double scale, uint64_t seed);
/* GPT policy owning the model m. */
policy_t *policy_gpt_new(gpt_t *m);

policy_t *policy_clone(const policy_t *p);
void policy_copy(policy_t *dst, const policy_t *src);
void policy_destroy(policy_t **p);
void policy_zero_grad(policy_t *p);

/* tabular: probabilities of every action for a prompt. */
void policy_probs(const policy_t *p, int prompt, double *out);
/* tabular: log pi(response | prompt), or -INFINITY for an invalid response. */
double policy_logprob(const policy_t *p, int prompt, const uint32_t *tokens, int n_tokens);
/* tabular: adds dL/dlogpi * d logpi / d params into p->grads. */
void policy_backward(policy_t *p, int prompt, const uint32_t *tokens, int n_tokens, double dlp);
/* tabular: draws one response with the given stream. */
void policy_sample(const policy_t *p, int prompt, rng_t *r, policy_sample_t *out);
/* tabular: draws one response from the geometric mixture p^(1 - m) ref^m (Nash-MD's opponent);
 * its logprob is under the mixture. */
void policy_sample_mixture(const policy_t *p, const policy_t *ref, double m, int prompt, rng_t *r,
                           policy_sample_t *out);

/* Is seq a response this policy can produce to its prompt? (tabular: one action < n; gpt:
 * 1 or more tokens < vocab, end-of-text only last, prompt + response within the context.) */
int policy_valid_seq(const policy_t *p, const policy_seq_t *seq);
/* lp[i] = log pi(seqs[i].tokens | prompt), summed over the response tokens (-INFINITY for an
 * invalid one). For gpt the batch is kept for policy_backward_seqs. */
void policy_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp);
/* Adds sum_i dlp[i] * d lp[i] / d params into the gradients; seqs must be those of the last
 * policy_logprobs call on p. */
void policy_backward_seqs(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp);
/* Draws one response per prompt of prompts[0..n-1], the i-th with stream rngs[i]; batched for
 * gpt. Returns 0, or -1 when a prompt does not fit the model's context. */
int policy_generate(policy_t *p, const policy_seq_t *prompts, int n, rng_t *rngs, const policy_sample_opts_t *o,
                    policy_sample_t *out);
/* The same from the geometric mixture p^(1 - mix) ref^mix (Nash-MD's opponent): per action for a
 * tabular policy, per token for gpt; the samples' log-probs are under the mixture. */
int policy_generate_mixture(policy_t *p, policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                            const policy_sample_opts_t *o, policy_sample_t *out);
void policy_sample_free(policy_sample_t *s);
/* A printable rendering of a response (malloc'd): the action "a3", or the response's bytes up
 * to end-of-text with bytes outside printable ASCII shown as '?'. */
char *policy_response_text(const policy_t *p, const uint32_t *tokens, int n_tokens);

/* Weights as safetensors bytes (malloc'd), tagged with version; and back (either kind).
 * policy_load returns NULL with the reason in why for a blob that is not a valid policy. */
void *policy_serialize(const policy_t *p, uint64_t version, size_t *len_out);
policy_t *policy_load(const void *blob, size_t len, uint64_t *version_out, char *why, size_t whylen);

#endif
