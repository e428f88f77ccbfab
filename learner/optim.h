/* optim — the learner's optimiser over a policy's parameter view (common/policy.h): Adam or
 * plain SGD over exact (double) parameters, as a tabular policy has; AdamW (common/adamw.h:
 * decay mask, clipping) over a neural model's floats, as a gpt policy has. The learner makes a
 * fresh optimiser state each iteration (optim_reset): every iteration is its own regression
 * against a new pi_t. Not here: the losses and their gradients (learner/train.c). */
#ifndef SPAR_OPTIM_H
#define SPAR_OPTIM_H

#include <stddef.h>

#include "common/policy.h"
#include "common/adamw.h"

typedef struct {
    int adam;
    double lr, beta1, beta2, eps;
    size_t n;
    double *m, *v;
    long t;
    adamw_t *adamw;  /* float parameters */
    uint8_t *decay;  /* its weight-decay mask (NULL: every parameter decays) */
} optim_t;

/* kind "adam" | "sgd" for double parameters; float parameters always get AdamW with the given
 * weight decay and gradient-norm clip (0: off), its learning rate warming up over `warmup` steps
 * of each iteration, decaying the parameters policy_decay_mask marks. */
optim_t *optim_new(optimizer_t kind, double lr, const policy_t *p, double weight_decay, double clip, long warmup);
void optim_reset(optim_t *o);
/* One step on the policy's own parameters and gradients, whatever its backend. */
void optim_step_policy(optim_t *o, policy_t *p);
void optim_destroy(optim_t **o);

#endif
