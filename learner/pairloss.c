/* pairloss — see pairloss.h. log sigma is computed stably for large |z|. */
#include "learner/pairloss.h"

#include <math.h>

static double s_log_sigmoid(double z) { return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z)); }
static double s_sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

double pairloss_dpo(double h, double beta, double eps, double *dh) {
    double z = beta * h;
    /* d/dz [-(1-eps) log s(z) - eps log s(-z)] = -(1-eps) s(-z) + eps s(z) */
    *dh = beta * (-(1.0 - eps) * s_sigmoid(-z) + eps * s_sigmoid(z));
    return -(1.0 - eps) * s_log_sigmoid(z) - eps * s_log_sigmoid(-z);
}

double pairloss_ipo(double h, double tau, double *dh) {
    double e = h - 1.0 / (2.0 * tau);
    *dh = 2.0 * e;
    return e * e;
}

double pairloss_inpo(double h, double eta, double *dh) {
    double e = h - eta / 2.0;
    *dh = 2.0 * e;
    return e * e;
}

double pairloss_inpo_h(double lw, double ll, double refw, double refl, double prevw, double prevl,
                       double eta_tau) {
    return (lw - ll) - eta_tau * (refw - refl) - (1.0 - eta_tau) * (prevw - prevl);
}

double pairloss_dno_soft(double da, double dr, double eta, double *dda) {
    double z = da / eta, q = s_sigmoid(dr);
    *dda = (s_sigmoid(z) - q) / eta;
    return -(q * s_log_sigmoid(z) + (1.0 - q) * s_log_sigmoid(-z));
}
