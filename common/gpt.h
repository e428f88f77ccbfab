/* gpt — the GPT-2 policy model: pre-LayerNorm blocks, GELU MLP, learned positions, output head
 * tied to the token embedding; byte-level vocabulary (256 bytes + end-of-text = 257).
 * All parameters live in one float buffer with a named pointer per tensor (shapes below, in
 * GPT-2's Conv1D orientation (in, out)); gradients use the same layout, so an optimiser is one
 * loop. The policy's only loss input is the sequence log-prob of a response given its prompt:
 * the forward pass stops at the final LayerNorm (gpt_hidden), and the tied head and its
 * log-softmax are computed on demand, a bounded chunk of predicted positions at a time, so no
 * (B, T, V) tensor exists and a GPT-2 vocabulary (50257) keeps memory bounded:
 * gpt_preds_logprob sums chosen token log-probs, gpt_backward_preds takes dL/dlp per sequence;
 * gpt_seq_logprob and gpt_backward are the same for unpacked rows (the prompt masked out).
 * Sampling with a KV cache is in gpt_sample.h, checkpoints in gpt_io.h, AdamW in common/adamw.h;
 * the learner and actors run it through common/policy.h (common/policy_gpt.c). */
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
 * is causal, so padding never reaches an earlier position). T <= ctx. Returns 0 or -1. It runs
 * the trunk only (to gpt_hidden); the head is computed by the calls below. */
int gpt_forward(gpt_t *m, const int *tokens, int B, int T);

/* After a forward pass: out (n, V) = the logits at flat positions at[i] (= row * T + t). */
void gpt_logits_at(gpt_t *m, const int *at, int n, float *out);

/* After gpt_forward: lp[b] = sum of log p(tokens[b, t+1] | tokens[b, ..t]) over the response
 * positions prompt_len[b] .. len[b]-1 (the prompt is masked out). */
void gpt_seq_logprob(gpt_t *m, const int *tokens, const int *prompt_len, const int *len, double *lp);

/* After gpt_forward: adds d(sum_b dlp[b] * lp[b]) / d(params) into the gradients. */
void gpt_backward(gpt_t *m, const int *tokens, const int *prompt_len, const int *len, const double *dlp);

/* A packed batch: B rows of T tokens with explicit positions pos (< ctx; the row itself may be
 * longer) and segments seg: a position sees the earlier positions of segment 0, the shared
 * prefix, and of its own segment. K responses to one prompt fit in one row, the prompt as
 * segment 0 and response i as segment i with positions continuing the prompt's, so the prompt
 * is computed once for all K (and its gradient gathers all K). pos and seg NULL: gpt_forward.
 * Returns 0 or -1 (a position outside the context, a token outside the vocabulary). */
int gpt_forward_packed(gpt_t *m, const int *tokens, const int *pos, const int *seg, int B, int T);

/* One predicted token: log p(target) at flat position at (= row * T + t) counts into sequence seq. */
typedef struct {
    int at, target, seq;
} gpt_pred_t;

/* After a forward pass: the final LayerNorm's output (B, T, C), the trunk's features that the
 * tied head reads; a judge model puts its own head on them. */
const float *gpt_hidden(const gpt_t *m);
/* After a forward pass (pos as given to it): adds the gradient of sum(dh * hidden) into the
 * parameters, dh (B, T, C) being dL/d(gpt_hidden). */
void gpt_backward_hidden(gpt_t *m, const int *tokens, const int *pos, const float *dh);

/* After a forward pass: lp[p.seq] += log p(p.target) at p.at for each prediction (the caller
 * zeroes lp). The head runs over chunks of predictions (gpt_set_head_chunk). */
void gpt_preds_logprob(gpt_t *m, const gpt_pred_t *p, int n, double *lp);
/* After a forward pass (pos as given to it): adds d(sum_s dlp[s] * lp[s]) / d(params) into the
 * gradients, lp as gpt_preds_logprob sums it. Each chunk's logits are recomputed. */
void gpt_backward_preds(gpt_t *m, const int *tokens, const int *pos, const gpt_pred_t *p, int n, const double *dlp);

/* Predicted positions per head chunk, 1 .. 512; rows < 1 restores the default (512, fewer
 * when the vocabulary is large: a chunk's logits stay within 16 MiB). The results do not
 * depend on it beyond float rounding. */
void gpt_set_head_chunk(gpt_t *m, int rows);

/* Bytes of the activations and scratch the model holds for its last batch shape (the head's
 * chunk counted whether allocated yet or not): what a batch costs beyond the parameters,
 * gradients and optimiser. It grows with B T^2 (attention scores) and B T C, not with V
 * beyond one chunk. */
size_t gpt_activation_bytes(const gpt_t *m);

#endif
