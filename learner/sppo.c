/* sppo — see sppo.h. */
#include "learner/sppo.h"

#include <stdlib.h>

#include "common/util.h"

void sppo_winrates(const double *P, int k, int include_self, double *out) {
    for (int i = 0; i < k; i++) {
        double s = 0;
        for (int j = 0; j < k; j++)
            if (include_self || j != i) s += P[i * k + j];
        out[i] = s / (include_self ? k : k - 1);
    }
}

double sppo_loss(const sppo_opts_t *o, const loss_group_t *g, double *dlp) {
    int k = g->k;
    double *ph = xmalloc(sizeof(double) * (size_t)k);
    sppo_winrates(g->P, k, o->include_self, ph);
    for (int i = 0; i < k; i++) dlp[i] = 0;
    double loss = 0;
    if (o->best_worst) {
        int w = 0, l = 0;
        for (int i = 1; i < k; i++) {
            if (ph[i] > ph[w]) w = i;
            if (ph[i] < ph[l]) l = i;
        }
        if (ph[w] != ph[l]) {
            double rw = (g->lp_theta[w] - g->lp_prev[w]) - o->eta * (ph[w] - 0.5);
            double rl = (g->lp_theta[l] - g->lp_prev[l]) - o->eta * (ph[l] - 0.5);
            dlp[w] = rw;
            dlp[l] = rl;
            loss = 0.5 * (rw * rw + rl * rl);
        }
    } else {
        for (int i = 0; i < k; i++) {
            double r = (g->lp_theta[i] - g->lp_prev[i]) - o->eta * (ph[i] - 0.5);
            loss += r * r / k;
            dlp[i] = 2.0 * r / k;
        }
    }
    free(ph);
    return loss;
}
