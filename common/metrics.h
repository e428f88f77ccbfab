/* metrics — exact figures of a tabular policy on its matrix games, averaged over prompts:
 * exploitability (max_y P(y > pi) - 1/2), that of the average iterate, KL to the reference
 * and the win rate against the initial policy. */
#ifndef SPAR_METRICS_H
#define SPAR_METRICS_H

#include "common/game.h"
#include "common/policy.h"

typedef struct {
    double exploitability;
    double exploitability_avg;
    double kl_to_ref;
    double win_rate_vs_init;
    double exploitability_tau; /* Gap_tau against the regularised game (NAN when tau = 0) */
    double kl_to_nash_tau;     /* KL(pi*_tau || pi) (NAN when tau = 0) */
    double condorcet_top;      /* share of prompts with a Condorcet winner where it is pi's most
                                  probable response (NAN when no prompt has one) */
} metrics_t;

/* Running mean of the iterates' probabilities: (1/count) sum_s pi_s. */
typedef struct {
    int prompts, n;
    double *sum;
    long count;
} avg_iterate_t;

void avg_iterate_init(avg_iterate_t *a, int prompts, int n);
void avg_iterate_add(avg_iterate_t *a, const policy_t *p);
void avg_iterate_free(avg_iterate_t *a);

/* nash_tau: per prompt the regularised equilibrium (prompts * n), or NULL when tau = 0. */
void metrics_tabular(const game_set_t *g, const policy_t *cur, const policy_t *init,
                     const policy_t *ref, const avg_iterate_t *avg, double tau, const double *nash_tau,
                     metrics_t *out);

/* The action that beats every other with probability > 1/2, or -1. */
int metrics_condorcet_winner(const double *P, int n);

/* The regularised equilibrium of every prompt's game against ref's policy (malloc'd,
 * prompts * n). Returns NULL when the solver does not converge. */
double *metrics_nash_tau(const game_set_t *g, const policy_t *ref, double tau);

#endif
