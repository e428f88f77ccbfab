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

void metrics_tabular(const game_set_t *g, const policy_t *cur, const policy_t *init,
                     const policy_t *ref, const avg_iterate_t *avg, metrics_t *out);

#endif
