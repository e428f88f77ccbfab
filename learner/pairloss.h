/* pairloss — the losses of the Nash family that train on (winner, loser) pairs, each exactly
 * as docs/algorithms.md states it, with its derivative. Every function returns the loss of one
 * pair and writes dL/dh (or dL/dDelta); the chosen response gets +that as dL/dlp_theta and
 * the rejected one -that.
 *   DPO:      z = beta h, L = -(1-eps) log sigma(z) - eps log sigma(-z)
 *   IPO:      L = (h - 1/(2 tau))^2
 *   INPO:     L = (h - eta/2)^2, h with the geometric-mixture reference
 *   DNO soft: L = -[sigma(dr) log sigma(da/eta) + sigma(-dr) log sigma(-da/eta)]
 * where h = [lp(w) - lpref(w)] - [lp(l) - lpref(l)] for the chosen reference. */
#ifndef SPAR_PAIRLOSS_H
#define SPAR_PAIRLOSS_H

double pairloss_dpo(double h, double beta, double eps, double *dh);
double pairloss_ipo(double h, double tau, double *dh);
double pairloss_inpo(double h, double eta, double *dh);
/* DNO's soft-label logistic loss in spar's convention (eta = step size, bigger moves more):
 * its minimiser is da = eta * dr. da = a(y1) - a(y2) with a = lp_theta - lp_t, dr the
 * difference of the two responses' win rates against pi_t. */
double pairloss_dno_soft(double da, double dr, double eta, double *dda);

/* INPO's h: [lp(w) - lp(l)] - eta tau [ref(w) - ref(l)] - (1 - eta tau) [prev(w) - prev(l)]. */
double pairloss_inpo_h(double lw, double ll, double refw, double refl, double prevw, double prevl,
                       double eta_tau);

#endif
