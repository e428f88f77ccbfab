/* judge_model — a learned judge on the GPT trunk (common/gpt.h). A (prompt, response) pair is
 * read as prompt + response + end-of-text; the trunk's final hidden state at the end-of-text
 * token is the response's feature h, and a linear head maps it to v = W^T h + b (W is (C, dim)).
 *   reward      (Bradley-Terry): dim 1, r = v_0, P(a > b) = sigmoid(r_a - r_b);
 *   preference  (general preference model): dim 2m, P(a > b) = sigmoid(v_a^T J v_b) with J
 *               block-diagonal in [[0, 1], [-1, 0]]. J is skew-symmetric, so P(a > b) + P(b > a)
 *               = 1 and P(a > a) = 1/2 exactly, and unlike any scalar score it can express
 *               cycles (rock > scissors > paper > rock).
 * The loss of a judged pair, chosen c over rejected r, with s = s(c, r): -log sigmoid(s); a tie:
 * -(1/2) log sigmoid(s) - (1/2) log sigmoid(-s). */
#ifndef SPAR_JUDGE_MODEL_H
#define SPAR_JUDGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "common/gpt.h"

typedef enum { JM_REWARD, JM_PREFERENCE } jm_kind_t;

typedef struct {
    jm_kind_t kind;
    int dim;
    gpt_t *trunk;
    float *w, *b;   /* the head: (C, dim), (dim) */
    float *gw, *gb; /* their gradients */
    /* the batch of the last jm_forward */
    int *tokens, *at, B, T;
} judge_model_t;

/* A new model (GPT-2 initialisation for the trunk, small random head); NULL for a bad config.
 * dim: 1 for reward, an even number for preference. */
judge_model_t *jm_new(jm_kind_t kind, const gpt_config_t *c, int dim, unsigned long long seed);
void jm_destroy(judge_model_t **m);
void jm_zero_grad(judge_model_t *m);

/* v (n, dim) of n (prompt, response) pairs, in one pass of the trunk. Returns 0, or -1 when a
 * pair does not fit the context. */
int jm_forward(judge_model_t *m, const char *const *prompts, const char *const *responses, int n, float *v);
/* Adds the gradients of sum(dv * v) (dv (n, dim), as in the last jm_forward) into the head and trunk. */
void jm_backward(judge_model_t *m, const float *dv);

/* s(a, b): r_a - r_b (reward) or v_a^T J v_b (preference); P(a > b) = sigmoid(s). */
double jm_score(const judge_model_t *m, const float *va, const float *vb);
/* Adds g * ds/dva into dva and g * ds/dvb into dvb. */
void jm_score_backward(const judge_model_t *m, const float *va, const float *vb, double g, float *dva, float *dvb);
/* The pair loss at s, and dL/ds. */
double jm_pair_loss(double s, int tie, double *dlds);

/* DIR/trunk/ (Hugging Face layout) and DIR/head.safetensors, atomically. Returns 0 or -errno. */
int jm_save(judge_model_t *m, const char *dir);
/* NULL with the reason in why. */
judge_model_t *jm_load(const char *dir, char *why, size_t whylen);
/* The digest of the model's weights (trunk, head weight, head bias, in that order): what names
 * the model a judge serves. */
void jm_digest(const judge_model_t *m, uint8_t out[DIGEST_BYTES]);

#endif
