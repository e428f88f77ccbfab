/* sppo — Self-Play Preference Optimisation (docs/algorithms.md, "SPPO").
 * Regresses a(y) = log pi_theta(y) - log pi_t(y) onto eta * (Phat(y > pi_t) - 1/2):
 *   all-K form (default):   L = (1/K) sum_i (a_i - eta (Phat_i - 1/2))^2
 *   best/worst form:        L = 1/2 [(a_w - eta (Phat_w - 1/2))^2 + (a_l - eta (Phat_l - 1/2))^2]
 * Phat is the leave-one-out win rate (default) or the row mean including the diagonal. */
#ifndef SPAR_SPPO_H
#define SPAR_SPPO_H

#include "learner/loss.h"

typedef struct {
    double eta;
    int include_self; /* win rate over all K including j = i (uclaml/SPPO) */
    int best_worst;   /* train only argmax/argmin of Phat (uclaml/SPPO) */
} sppo_opts_t;

/* Win rates of each response against the group: out[i]. */
void sppo_winrates(const double *P, int k, int include_self, double *out);

/* Loss of one group; writes dL/dlp_theta into dlp[K]. A best/worst group whose win rates are
 * all equal has no pair: its loss and gradient are 0. */
double sppo_loss(const sppo_opts_t *o, const loss_group_t *g, double *dlp);

#endif
