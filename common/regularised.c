/* regularised — see regularised.h. */
#include "common/regularised.h"

#include <math.h>
#include <stdlib.h>

#include "common/game.h"
#include "common/util.h"

double reg_kl(const double *p, const double *q, int n) {
    double kl = 0;
    for (int i = 0; i < n; i++)
        if (p[i] > 0) kl += p[i] * (log(p[i]) - log(q[i]));
    return kl;
}

double reg_gap(const double *P, int n, const double *pi, const double *ref, double tau) {
    double *u = xmalloc(sizeof(double) * (size_t)n);
    game_win_vs(P, n, pi, u);
    double m = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) m = fmax(m, u[i] / tau);
    for (int i = 0; i < n; i++) s += ref[i] * exp(u[i] / tau - m);
    double g = 2.0 * (tau * (m + log(s)) + tau * reg_kl(pi, ref, n) - 0.5);
    free(u);
    return g;
}

static void s_softmax(const double *z, int n, double *out) {
    double m = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) m = fmax(m, z[i]);
    for (int i = 0; i < n; i++) s += (out[i] = exp(z[i] - m));
    for (int i = 0; i < n; i++) out[i] /= s;
}

/* z_out = (1 - a) z + a (log ref + P softmax(z_at) / tau) */
static void s_step(const double *P, int n, const double *ref, double tau, double a, const double *z,
                   const double *z_at, double *z_out, double *pi, double *u) {
    s_softmax(z_at, n, pi);
    game_win_vs(P, n, pi, u);
    for (int i = 0; i < n; i++) z_out[i] = (1 - a) * z[i] + a * (log(ref[i]) + u[i] / tau);
}

int reg_nash(const double *P, int n, const double *ref, double tau, double *out, int max_iter) {
    double *z = xmalloc(sizeof(double) * 5 * (size_t)n), *mid = z + n, *nz = z + 2 * n, *pi = z + 3 * n,
           *u = z + 4 * n;
    for (int i = 0; i < n; i++) z[i] = log(ref[i]);
    /* The map is a contraction in the averaged sense for a small enough step: a = tau / 2 caps
     * the payoff's pull (|P| <= 1) at 1/2 per step. */
    double a = fmin(0.5, tau / 2.0);
    int it;
    for (it = 0; it < max_iter; it++) {
        s_step(P, n, ref, tau, a, z, z, mid, pi, u);
        s_step(P, n, ref, tau, a, z, mid, nz, pi, u);
        double change = 0;
        for (int i = 0; i < n; i++) {
            change = fmax(change, fabs(nz[i] - z[i]));
            z[i] = nz[i];
        }
        if (change < 1e-14) break; /* a fixed point to machine precision, far below Gap 1e-12 */
    }
    s_softmax(z, n, out);
    free(z);
    return it < max_iter ? it : -1;
}
