/* optim — Adam and plain SGD over a flat parameter array. The learner makes a fresh
 * optimiser state each iteration: every iteration is its own regression against a new pi_t. */
#ifndef SPAR_OPTIM_H
#define SPAR_OPTIM_H

#include <stddef.h>

typedef struct {
    int adam;
    double lr, beta1, beta2, eps;
    size_t n;
    double *m, *v;
    long t;
} optim_t;

optim_t *optim_new(const char *kind, double lr, size_t n);
void optim_reset(optim_t *o);
void optim_step(optim_t *o, double *params, const double *grads);
void optim_destroy(optim_t **o);

#endif
