/* lora — low-rank adapters on the linear layers of a Llama-family model (common/llama.h), as
 * PEFT's LoraConfig defines them: for a target linear W (out, in) of each layer, A (rank, in) and
 * B (out, rank), and the layer computes
 *     y = W x (+ bias) + (alpha / rank) B (A x)
 * with no dropout. A starts kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)),
 * B at 0 (PEFT's default), so a fresh adapter leaves the model's output exactly as it was.
 *
 * The adapters are one float buffer (with a gradient buffer of the same layout), layer by layer,
 * in target order, A then B: what an optimiser steps when LoRA is on. The model's own weights
 * stay read-only and gradient-free (llama_set_lora). Where they apply: llama_forward.c,
 * llama_backward.c and llama_sample.c call the products below; the tensors' PEFT names are
 * "base_model.model.model.layers.{l}.self_attn.q_proj.lora_A.weight" (mlp.*_proj likewise). */
#ifndef SPAR_LORA_H
#define SPAR_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "common/llama.h"

/* The adaptable linears of a layer, in the buffer's order. */
typedef enum { LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, LORA_N_TARGETS } lora_target_t;

typedef struct {
    int rank;         /* r >= 1 */
    double alpha;     /* the output is scaled by alpha / rank */
    unsigned targets; /* bit (1 << lora_target_t) per adapted linear */
} lora_spec_t;

typedef struct lora lora_t;

/* "q_proj", ..., "down_proj"; and "self_attn" or "mlp", the module holding it. */
const char *lora_target_name(int t);
const char *lora_target_module(int t);
/* The targets of a comma-separated list of names (spaces allowed); 0 or -1 with why. */
int lora_parse_targets(const char *csv, unsigned *targets, char *why, size_t whylen);
/* The list of the targets, comma-separated in buffer order (static buffer). */
const char *lora_targets_csv(unsigned targets);
/* in and out of target t in configuration c (the shape of W is (out, in)). */
void lora_dims(const llama_config_t *c, int t, int *in, int *out);

/* Adapters for configuration c, initialised as PEFT does (A from seed, B = 0). NULL when the
 * spec is invalid (rank < 1, alpha <= 0, no target). */
lora_t *lora_new(const llama_config_t *c, const lora_spec_t *s, uint64_t seed);
lora_t *lora_clone(const lora_t *l);
void lora_free(lora_t **l);

const lora_spec_t *lora_spec(const lora_t *l);
float lora_scale(const lora_t *l); /* alpha / rank */
size_t lora_n_params(const lora_t *l);
float *lora_params(lora_t *l);
float *lora_grads(lora_t *l);
void lora_zero_grad(lora_t *l);
/* Per parameter, 1: AdamW's weight decay applies to the adapters as torch applies it to every
 * trainable parameter (malloc'd). */
uint8_t *lora_decay_mask(const lora_t *l);
/* A (rank, in) and B (out, rank) of layer `layer`'s target t, or NULL when t is not adapted. */
float *lora_A(lora_t *l, int layer, int t);
float *lora_B(lora_t *l, int layer, int t);
const float *lora_A_const(const lora_t *l, int layer, int t);
const float *lora_B_const(const lora_t *l, int layer, int t);
/* Their gradients, same layout. */
float *lora_dA(lora_t *l, int layer, int t);
float *lora_dB(lora_t *l, int layer, int t);
/* Off: the model computes its base output (the adapters kept); on by default. */
void lora_set_enabled(lora_t *l, int on);
int lora_enabled(const lora_t *l);
/* The PEFT name of layer's target t's A (which 0) or B (which 1) into out. */
void lora_tensor_name(char *out, size_t len, int layer, int t, int which);

/* ---- the products (row-major float; ldx / ldy the row strides of x and y) ------------------- */

/* u (N, r) = x A^T, then y += scale u B^T. */
void lora_forward(float *y, int ldy, float *u, const float *x, int ldx, const float *A, const float *B, int N, int in,
                  int out, int r, float scale);
/* With u of the forward: du (N, r) = scale dy B, dB += scale dy^T u, dA += du^T x. */
void lora_backward_params(float *dA, float *dB, float *du, const float *dy, int ldy, const float *x, int ldx,
                          const float *u, const float *B, int N, int in, int out, int r, float scale);
/* dx (N, in) += du A. */
void lora_backward_input(float *dx, int ldx, const float *du, const float *A, int N, int in, int r);

/* Grows the forward activations (u of every adapted linear) and the (N, r) scratch for N rows;
 * then lora_acts gives layer's target t's u, lora_scratch the scratch. */
void lora_ensure_acts(lora_t *l, int N);
float *lora_acts(lora_t *l, int layer, int t);
float *lora_scratch(lora_t *l);

#endif
