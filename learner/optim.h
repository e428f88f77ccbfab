/* optim — the learner's optimiser over a policy's parameters: Adam or plain SGD over a tabular
 * policy's doubles, AdamW (common/adamw.h: decay mask, clipping) over a gpt policy's floats.
 * The learner makes a fresh optimiser state each iteration (optim_reset): every iteration is
 * its own regression against a new pi_t. */
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
    adamw_t *adamw;  /* gpt policies */
    uint8_t *decay;  /* its weight-decay mask */
} optim_t;

/* kind "adam" | "sgd" for tabular policies; a gpt policy always gets AdamW with the given
 * weight decay and gradient-norm clip (0: off), its learning rate warming up over `warmup` steps
 * of each iteration. */
optim_t *optim_new(optimizer_t kind, double lr, const policy_t *p, double weight_decay, double clip, long warmup);
void optim_reset(optim_t *o);
void optim_step(optim_t *o, double *params, const double *grads);
/* One step on the policy's own parameters and gradients, whatever its kind. */
void optim_step_policy(optim_t *o, policy_t *p);
void optim_destroy(optim_t **o);

#endif
