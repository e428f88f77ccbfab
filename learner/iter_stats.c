/* iter_stats — see iter_stats.h. */
#include "learner/iter_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void iter_stats_init(iter_stats_t *s, int max_groups, int n_lag) {
    memset(s, 0, sizeof *s);
    s->max_groups = max_groups;
    s->n_lag = n_lag;
    s->latency = xcalloc((size_t)(max_groups > 0 ? max_groups : 1), sizeof *s->latency);
    s->lag = xcalloc((size_t)(n_lag > 0 ? n_lag : 1), sizeof *s->lag);
    s->delivery_ms = NAN;
}

void iter_stats_free(iter_stats_t *s) {
    free(s->latency);
    free(s->lag);
    memset(s, 0, sizeof *s);
}

void iter_stats_reset(iter_stats_t *s) {
    iter_stats_t keep = *s;
    *s = (iter_stats_t){.delivery_ms = NAN, .latency = keep.latency, .lag = keep.lag,
                        .max_groups = keep.max_groups, .n_lag = keep.n_lag};
    memset(s->lag, 0, sizeof *s->lag * (size_t)s->n_lag);
}

void iter_stats_admit(iter_stats_t *s, const Spar__RolloutGroup *g, uint64_t lag) {
    if (lag < (uint64_t)s->n_lag) s->lag[lag]++;
    s->judge_retries += g->judge_attempts > 1 ? g->judge_attempts - 1 : 0;
    s->judge_failures += g->judge_failures;
    if (s->n_latency < s->max_groups) s->latency[s->n_latency++] = g->judge_latency_ms;
    if (isfinite(g->sample_ms) && g->sample_ms > 0) s->sample_ms += g->sample_ms;
    /* ties: pairs the judge could not tell apart (P = 1/2, or equal rewards) */
    size_t k = g->n_responses - g->n_opponents, all = g->n_responses;
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++) {
            double d = g->n_preference == all * all ? g->preference[i * all + j] - 0.5
                       : g->n_rewards == all        ? g->rewards[i] - g->rewards[j]
                                                    : NAN;
            if (isnan(d)) continue;
            s->pairs++;
            s->ties += fabs(d) < 1e-9;
        }
    if (isfinite(g->judge_latency_ms) && g->judge_latency_ms > 0) s->judge_ms += g->judge_latency_ms;
    s->samples += g->n_responses;
    s->judge_queries += g->judge_attempts ? g->judge_attempts : 1;
}

void iter_stats_step(iter_stats_t *s, double loss, double loss_initial) {
    if (isfinite(loss)) {
        s->step_loss += loss;
        s->step_loss_initial += loss_initial;
    } else {
        s->step_loss = NAN;
    }
    s->n_steps++;
}

static int s_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void iter_stats_latency(const iter_stats_t *s, double *median, double *p99) {
    *median = *p99 = NAN;
    int n = s->n_latency;
    if (n == 0) return;
    double *v = xmalloc(sizeof *v * (size_t)n);
    memcpy(v, s->latency, sizeof *v * (size_t)n);
    qsort(v, (size_t)n, sizeof *v, s_cmp);
    int q = (int)ceil(0.99 * n) - 1;
    *median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    *p99 = v[q < 0 ? 0 : q];
    free(v);
}
