/* iter_stats — what one iteration counts: accepted groups, their samples, judge queries,
 * retries and failures, each group's judge latency, the groups by version lag, the stale groups
 * dropped, the online steps' losses and the version's delivery time. Reset as one at each
 * iteration's start; its report (iterlog.h) takes a copy. Run totals (samples_total,
 * stale_total) and the peers' counters are not here. */
#ifndef SPAR_ITER_STATS_H
#define SPAR_ITER_STATS_H

#include <stdint.h>

#include "spar.pb-c.h"

typedef struct {
    uint64_t samples, judge_queries, stale_dropped;
    uint64_t judge_retries, judge_failures; /* the accepted groups': attempts - 1, failed requests */
    double step_loss, step_loss_initial;    /* online: sums over the iteration's steps */
    int n_steps;
    double delivery_ms; /* of the version that sampled the iteration (NAN: not delivered) */
    double sample_ms, judge_ms; /* the accepted groups' sampling (actors' shares) and judging time */
    uint64_t pairs, ties;       /* the accepted groups' sample pairs i < j, and those judged even */
    int n_latency;
    double *latency;   /* per accepted group, ms: max_groups at most */
    uint64_t *lag;     /* accepted groups by version lag 0..n_lag-1 */
    int max_groups, n_lag;
} iter_stats_t;

void iter_stats_init(iter_stats_t *s, int max_groups, int n_lag);
void iter_stats_free(iter_stats_t *s);
/* Every count back to zero; the arrays are kept. */
void iter_stats_reset(iter_stats_t *s);
/* An accepted group, sampled lag versions behind the current one (lag < n_lag). */
void iter_stats_admit(iter_stats_t *s, const Spar__RolloutGroup *g, uint64_t lag);
/* An online step's loss and loss before it (a non-finite loss makes the sum NAN). */
void iter_stats_step(iter_stats_t *s, double loss, double loss_initial);
/* The judge latency of the accepted groups: median and p99 (NAN without groups). */
void iter_stats_latency(const iter_stats_t *s, double *median, double *p99);

#endif
