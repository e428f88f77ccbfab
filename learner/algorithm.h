/* algorithm — which loss the learner minimises over a judged group, built from the config
 * (docs/algorithms.md states every loss, gradient and default): SPPO (regression on all K or
 * best/worst), and the pair losses INPO, DPO, IPO and DNO (pairloss.h) on the pairs the config
 * selects:
 *   best_worst: argmax vs argmin of the win rate, ties dropped;
 *   all:        every i < j with P[i][j] != 1/2, the winner by P.
 * With labels soft, a pair's loss is the expectation over the judge's Bernoulli label,
 * P[i][j] L(i > j) + P[j][i] L(j > i), which keeps the exact fixed point without label noise.
 * auto picks what each algorithm's result assumes: soft labels on all pairs for INPO and IPO
 * (random pairs of pi_t labelled by the judge, in expectation), the judge's winner on the best
 * vs the worst response for DPO and DNO-Prct (their iterative recipes).
 * APO trains its base algorithm and extrapolates in the learner (learner.c).
 * Nash-MD and EGPO need win rates against an opponent policy that did
 * not sample the group, which train.c passes in loss_group_t.opp: for Nash-MD the mean over the
 * opponents the actor sampled from the mixture; for EGPO's full step an estimate from the
 * group by self-normalised importance weights towards the half-step policy:
 *   Nash-MD: L = (1/K) sum_i (lp(y_i) - (1-eta tau) lpt(y_i) - eta tau lpref(y_i) - eta (opp_i - 1/2))^2,
 *            the regression form of pi_{t+1} = pi_t^mu exp(eta P(y > pi_t^mu)), mu the mixture;
 *   EGPO:    online IPO v1 on every pair, (Delta_ij - (opp_i - opp_j) / tau)^2 with
 *            Delta_ij = [lp - lpref](i) - [lp - lpref](j), at the half step and the full step;
 *   online IPO: the same loss with single gradient steps against pi_t, no extragradient (the
 *            "OMD" form: one step equals an INPO step with eta tau = 4 lr / N). */
#ifndef SPAR_ALGORITHM_H
#define SPAR_ALGORITHM_H

#include "common/config.h"
#include "learner/loss.h"
#include "learner/sppo.h"

/* the loss trained (never ALG_APO: APO trains its base and extrapolates) */
typedef alg_name_t alg_kind_t;

typedef struct {
    alg_kind_t kind;
    sppo_opts_t sppo;
    double eta, tau, beta, eps;
    int pairs_all, soft_labels;
    int ref_previous; /* DPO: reference pi_t instead of pi_ref */
    int dno_soft;
    double dno_margin;
    int apo;
    double apo_alpha;
    double eta_decay; /* eta_t = eta / (1 + eta_decay (t - 1)) */
} algorithm_t;

void algorithm_from_config(algorithm_t *a, const spar_config_t *cfg);

/* Loss of one group; writes dL/dlp_theta for each of the K responses. */
double algorithm_group_loss(const algorithm_t *a, const loss_group_t *g, double *dlp);

/* Does the loss need loss_group_t.opp, and against which policy? */
int algorithm_needs_opponent(const algorithm_t *a);

/* The KL coefficient of the regularised game this algorithm targets, or 0 when it has none
 * (SPPO, DNO: plain Nash equilibrium). */
double algorithm_tau(const algorithm_t *a);

#endif
