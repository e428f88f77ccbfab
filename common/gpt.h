/* gpt — the GPT-2 policy model: pre-LayerNorm blocks, GELU MLP, learned positions, output head
 * tied to the token embedding; byte-level vocabulary (256 bytes + end-of-text = 257).
 * All parameters live in one float buffer with a named pointer per tensor (shapes below, in
 * GPT-2's Conv1D orientation (in, out)); gradients use the same layout, so an optimiser is one
 * loop. The policy's only loss input is the sequence log-prob of a response given its prompt:
 * gpt_forward computes every position's log-softmax, gpt_seq_logprob sums the response's token
 * log-probs (the prompt masked out), gpt_backward takes dL/dlp per sequence.
 * Sampling with a KV cache is in gpt_sample.h, checkpoints in gpt_io.h, AdamW in learner/adamw.h;
 * the learner and actors do not run this model yet (common/policy.h is the tabular interface). */
#ifndef SPAR_GPT_H
#define SPAR_GPT_H

#include <stddef.h>
#include <stdint.h>

#define GPT_VOCAB 257 /* bytes 0..255 and end-of-text 256 */
#define GPT_EOT 256
#define GPT_N_TENSORS 16

typedef struct {
    int n_layer, n_head, d_model, ctx, vocab;
} gpt_config_t;

typedef struct {
    float *wte;      /* (V, C) token embedding, also the output head */
    float *wpe;      /* (ctx, C) */
    float *ln1w;     /* (L, C) */
    float *ln1b;     /* (L, C) */
    float *qkvw;     /* (L, C, 3C) */
    float *qkvb;     /* (L, 3C) */
    float *attprojw; /* (L, C, C) */
    float *attprojb; /* (L, C) */
    float *ln2w;     /* (L, C) */
    float *ln2b;     /* (L, C) */
    float *fcw;      /* (L, C, 4C) */
    float *fcb;      /* (L, 4C) */
    float *fcprojw;  /* (L, 4C, C) */
    float *fcprojb;  /* (L, C) */
    float *lnfw;     /* (C) */
    float *lnfb;     /* (C) */
} gpt_tensors_t;

typedef struct gpt gpt_t;

/* Returns the model with parameters drawn as GPT-2 does (N(0, 0.02); the residual projections
 * scaled by 1/sqrt(2L); LayerNorms 1 and 0), seeded; NULL for an invalid config. */
gpt_t *gpt_new(const gpt_config_t *cfg, unsigned long long seed);
void gpt_destroy(gpt_t **m);
/* Threads OpenBLAS uses for this process's matrix products (n < 1: leave its default). */
void gpt_set_threads(int n);

const gpt_config_t *gpt_config(const gpt_t *m);
size_t gpt_n_params(const gpt_t *m);
float *gpt_params(gpt_t *m);
float *gpt_grads(gpt_t *m);
gpt_tensors_t *gpt_tensors(gpt_t *m);
/* Name ("wte", "qkvw", ...) and element count of tensor i < GPT_N_TENSORS. */
const char *gpt_tensor_name(int i);
size_t gpt_tensor_size(const gpt_t *m, int i);
void gpt_zero_grad(gpt_t *m);
/* Per parameter, 1 when weight decay applies (the matrices; not biases, LayerNorms): malloc'd. */
uint8_t *gpt_decay_mask(const gpt_t *m);

/* Forward pass over B sequences of T tokens (row-major, padded freely past their ends: attention
 * is causal, so padding never reaches an earlier position). T <= ctx. Returns 0 or -1. */
int gpt_forward(gpt_t *m, const int *tokens, int B, int T);

/* After gpt_forward: the (B, T, V) logits and their log-softmax. */
const float *gpt_logits(const gpt_t *m);
const float *gpt_logp(const gpt_t *m);

/* After gpt_forward: lp[b] = sum of log p(tokens[b, t+1] | tokens[b, ..t]) over the response
 * positions prompt_len[b] .. len[b]-1 (the prompt is masked out). */
void gpt_seq_logprob(const gpt_t *m, const int *tokens, const int *prompt_len, const int *len, double *lp);

/* After gpt_forward: adds d(sum_b dlp[b] * lp[b]) / d(params) into the gradients. */
void gpt_backward(gpt_t *m, const int *tokens, const int *prompt_len, const int *len, const double *dlp);

#endif
