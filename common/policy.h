/* policy — an opaque policy and what can be done with it, whatever its backend: `tabular` (a
 * softmax over n actions per prompt, exact doubles, for matrix games; common/policy_tabular.c),
 * `gpt` (spar's byte-level GPT-2) and `hf` (a Hugging Face model with its tokenizer), both
 * language models of common/lm.h (common/policy_lm.c). Actors draw
 * responses with policy_generate; the learner computes sequence log-probs of (prompt, response)
 * with policy_logprobs, back-propagates dL/dlogpi with policy_backward_seqs and steps an
 * optimiser on policy_view; both load the same weights from one serialised blob (safetensors).
 * A response is a token sequence; a tabular response is one token, the action. Not here: the
 * backends' internals (common/policy_backend.h). Functions marked "tabular" or "gpt" take a
 * policy of that backend only. */
#ifndef SPAR_POLICY_H
#define SPAR_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/gpt.h"
#include "common/lm.h"
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
    const char *const *stop; /* gpt: a response also ends with the token that completes one of
                                these texts (common/stop.h); NULL: none */
    int n_stop;
} policy_sample_opts_t;

/* The parameters as one flat array and their gradients in the same layout (owned by the
 * policy; valid until it is destroyed): floats for a neural model (gpt), doubles for an exact
 * one (tabular); the other pair is NULL. */
typedef struct {
    size_t n;
    float *f32, *grad_f32;
    double *f64, *grad_f64;
} policy_view_t;

/* Tabular policy: softmax(logits[prompt]) over n actions, logits 0. */
policy_t *policy_tabular_new(int prompts, int n);
/* A language-model policy owning m (any family of common/lm.h). */
policy_t *policy_lm_new(lm_t *m);
/* The byte-level GPT policy owning m (policy_lm_new(lm_from_gpt(m))). */
policy_t *policy_gpt_new(gpt_t *m);

policy_t *policy_clone(const policy_t *p);
/* dst's parameters := src's (same backend and shape). */
void policy_copy(policy_t *dst, const policy_t *src);
/* Exchanges everything two policies hold; each pointer stays valid and now names the other's. */
void policy_swap(policy_t *a, policy_t *b);
void policy_destroy(policy_t **p);
void policy_zero_grad(policy_t *p);
/* The backend's name, "tabular" | "gpt" | "hf" (the metadata "policy" of its blobs). */
const char *policy_kind(const policy_t *p);
policy_view_t policy_view(const policy_t *p);
/* y's parameters := a * x's + b * y's, element by element in double (same backend and shape). */
void policy_axpby(policy_t *y, double a, const policy_t *x, double b);
/* Per parameter of the view, 1 when weight decay applies (gpt: the matrices, not biases or
 * LayerNorms; malloc'd), or NULL when it applies to all (tabular: every parameter is a logit). */
uint8_t *policy_decay_mask(const policy_t *p);

/* Is seq a response this policy can produce to its prompt? (tabular: one action < n; gpt:
 * 1 or more tokens < vocab, end-of-text only last, prompt + response within the context.) */
int policy_valid_seq(const policy_t *p, const policy_seq_t *seq);
/* lp[i] = log pi(seqs[i].tokens | prompt), summed over the response tokens (-INFINITY for an
 * invalid one). The batch is kept for policy_backward_seqs. */
void policy_logprobs(policy_t *p, const policy_seq_t *seqs, int n, double *lp);
/* Adds sum_i dlp[i] * d lp[i] / d params into the gradients; seqs must be those of the last
 * policy_logprobs call on p. */
void policy_backward_seqs(policy_t *p, const policy_seq_t *seqs, int n, const double *dlp);
/* Draws one response per prompt of prompts[0..n-1], the i-th with stream rngs[i]; batched for
 * gpt. Returns 0, or -1 when a prompt is not one the policy knows (tabular) or does not fit the
 * model's context (gpt). */
int policy_generate(policy_t *p, const policy_seq_t *prompts, int n, rng_t *rngs, const policy_sample_opts_t *o,
                    policy_sample_t *out);
/* The same from the geometric mixture p^(1 - mix) ref^mix (Nash-MD's opponent): per action for a
 * tabular policy, per token for gpt; the samples' log-probs are under the mixture. -1 also when
 * ref is NULL or not of p's backend and shape. */
int policy_generate_mixture(policy_t *p, policy_t *ref, double mix, const policy_seq_t *prompts, int n, rng_t *rngs,
                            const policy_sample_opts_t *o, policy_sample_t *out);
void policy_sample_free(policy_sample_t *s);
/* A printable rendering of a response (malloc'd): the action "a3", or the response's bytes up
 * to end-of-text with bytes outside printable ASCII shown as '?'. */
char *policy_response_text(const policy_t *p, const uint32_t *tokens, int n_tokens);

/* Weights as safetensors bytes (malloc'd), tagged with version; and back (any backend, by the
 * blob's metadata "policy"). policy_load returns NULL with the reason in why for a blob that is
 * not a valid policy. */
void *policy_serialize(const policy_t *p, uint64_t version, size_t *len_out);
policy_t *policy_load(const void *blob, size_t len, uint64_t *version_out, char *why, size_t whylen);
/* A blob onto a base model already loaded (an hf policy; its adapters, if any, unused): a LoRA
 * blob (kind "lora": adapters and their base's identity) becomes base's weights, shared and not
 * copied, with those adapters, refused with why when they were made for another base; any other
 * blob loads as policy_load does. */
policy_t *policy_load_onto(policy_t *base, const void *blob, size_t len, uint64_t *version_out, char *why,
                           size_t whylen);
/* hf: the base model of a LoRA run, from its folder (policy.checkpoint): the weights frozen
 * (no gradient buffer) and without adapters, onto which policy_load_onto puts a version's
 * adapters and every policy loaded so shares its weights. NULL with why. */
policy_t *policy_lora_base(const char *dir, char *why, size_t whylen);
/* hf: attaches fresh adapters (rank, alpha, comma-separated targets; PEFT's initialisation
 * from seed) to p's model, whose trainable view is then the adapters alone. 0 or -1 with why. */
int policy_lora_attach(policy_t *p, int rank, double alpha, const char *targets, uint64_t seed, char *why,
                       size_t whylen);
/* hf: the policy's adapters off (the base model's output, e.g. pi_ref) or on again. */
void policy_lora_enable(policy_t *p, int on);

/* tabular: init "uniform" or "random" (logits ~ N(0, scale^2), seeded). */
void policy_init(policy_t *p, policy_init_t init, double scale, uint64_t seed);
/* tabular: how many prompts and actions per prompt. */
void policy_tabular_shape(const policy_t *p, int *prompts, int *actions);
/* tabular: probabilities of every action for a prompt. */
void policy_probs(const policy_t *p, int prompt, double *out);
/* tabular: log pi(response | prompt), or -INFINITY for an invalid response. */
double policy_logprob(const policy_t *p, int prompt, const uint32_t *tokens, int n_tokens);
/* tabular: adds dL/dlogpi * d logpi / d params into the gradients. */
void policy_backward(policy_t *p, int prompt, const uint32_t *tokens, int n_tokens, double dlp);

/* gpt, hf: the language model (owned by the policy). */
lm_t *policy_lm(policy_t *p);
/* gpt, hf: its GPT-2 model, or NULL for another family. */
gpt_t *policy_gpt_model(policy_t *p);
/* gpt: the rows of the packed batch of the last policy_logprobs (0 when nothing was valid). */
int policy_gpt_batch_rows(const policy_t *p);

#endif
