/* metrics — see metrics.h. */
#include "common/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/regularised.h"
#include "common/util.h"

void avg_iterate_init(avg_iterate_t *a, int prompts, int n) {
    a->prompts = prompts;
    a->n = n;
    a->sum = xcalloc((size_t)prompts * n, sizeof(double));
    a->count = 0;
}

void avg_iterate_add(avg_iterate_t *a, const policy_t *p) {
    double pi[4096];
    for (int q = 0; q < a->prompts; q++) {
        policy_probs(p, q, pi);
        for (int i = 0; i < a->n; i++) a->sum[(size_t)q * a->n + i] += pi[i];
    }
    a->count++;
}

void avg_iterate_free(avg_iterate_t *a) {
    free(a->sum);
    memset(a, 0, sizeof *a);
}

void metrics_tabular(const game_set_t *g, const policy_t *cur, const policy_t *init,
                     const policy_t *ref, const avg_iterate_t *avg, double tau, const double *nash_tau,
                     metrics_t *out) {
    int n = g->n;
    double pi[4096], p0[4096], pr[4096], pa[4096];
    memset(out, 0, sizeof *out);
    int with_winner = 0;
    for (int q = 0; q < g->prompts; q++) {
        const double *P = game_matrix(g, q);
        policy_probs(cur, q, pi);
        policy_probs(init, q, p0);
        policy_probs(ref, q, pr);
        for (int i = 0; i < n; i++) pa[i] = avg->sum[(size_t)q * n + i] / (double)avg->count;
        out->exploitability += game_exploitability(P, n, pi);
        out->exploitability_avg += game_exploitability(P, n, pa);
        out->win_rate_vs_init += game_value(P, n, pi, p0);
        double kl = 0;
        for (int i = 0; i < n; i++)
            if (pi[i] > 0) kl += pi[i] * (log(pi[i]) - log(pr[i]));
        out->kl_to_ref += kl;
        int w = metrics_condorcet_winner(P, n);
        if (w >= 0) {
            int top = 0;
            for (int i = 1; i < n; i++)
                if (pi[i] > pi[top]) top = i;
            with_winner++;
            out->condorcet_top += top == w;
        }
        if (nash_tau) {
            out->exploitability_tau += reg_gap(P, n, pi, pr, tau);
            out->kl_to_nash_tau += reg_kl(nash_tau + (size_t)q * n, pi, n);
        }
    }
    if (!nash_tau) out->exploitability_tau = out->kl_to_nash_tau = NAN;
    out->exploitability_tau /= g->prompts;
    out->kl_to_nash_tau /= g->prompts;
    out->condorcet_top = with_winner ? out->condorcet_top / with_winner : NAN;
    out->exploitability /= g->prompts;
    out->exploitability_avg /= g->prompts;
    out->win_rate_vs_init /= g->prompts;
    out->kl_to_ref /= g->prompts;
}

double *metrics_nash_tau(const game_set_t *g, const policy_t *ref, double tau) {
    double *out = xmalloc(sizeof(double) * (size_t)g->prompts * g->n), pr[4096];
    for (int q = 0; q < g->prompts; q++) {
        policy_probs(ref, q, pr);
        if (reg_nash(game_matrix(g, q), g->n, pr, tau, out + (size_t)q * g->n, 2000000) < 0) {
            free(out);
            return NULL;
        }
    }
    return out;
}

int metrics_condorcet_winner(const double *P, int n) {
    for (int i = 0; i < n; i++) {
        int all = 1;
        for (int j = 0; j < n && all; j++)
            if (j != i && !(P[i * n + j] > 0.5)) all = 0;
        if (all) return i;
    }
    return -1;
}
