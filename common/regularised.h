/* regularised — the KL-regularised preference game of docs/algorithms.md, "Metrics and the regularised game":
 * J(pi, pi') = pi^T P pi' - tau KL(pi || ref) + tau KL(pi' || ref). Its equilibrium is the
 * fixed point pi* = softmax(log ref + P pi* / tau), and its duality gap
 * Gap_tau(pi) = 2 [tau log sum_y ref(y) exp((P pi)_y / tau) + tau KL(pi || ref) - 1/2] >= 0,
 * zero exactly at pi*. */
#ifndef SPAR_REGULARISED_H
#define SPAR_REGULARISED_H

double reg_gap(const double *P, int n, const double *pi, const double *ref, double tau);

/* pi* by extragradient on the logits until the logits stop moving (1e-14; Gap_tau is then
 * ~1e-16) or max_iter steps.
 * Returns the steps taken, or -1 when it did not get there. */
int reg_nash(const double *P, int n, const double *ref, double tau, double *out, int max_iter);

/* KL(p || q) over n actions. */
double reg_kl(const double *p, const double *q, int n);

#endif
