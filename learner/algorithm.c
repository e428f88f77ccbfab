/* algorithm — see algorithm.h. */
#include "learner/algorithm.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "learner/pairloss.h"

/* algorithm.labels auto: the label form each pair loss's result is stated for. INPO's last-iterate
 * convergence and IPO's fixed point pi*_tau are about random pairs of pi_t labelled by the judge,
 * whose expectation is the soft label; iterative DPO and DNO-Prct train on the judge's winner. */
static int s_soft_labels(alg_kind_t kind, labels_t labels) {
    if (labels == LABELS_AUTO) return kind == ALG_INPO || kind == ALG_IPO;
    return labels == LABELS_SOFT;
}

/* algorithm.pairs auto (SPPO: all K; the losses on opponent win rates use every pair anyway):
 * soft labels go with every pair, since the expectation over a random pair's label is the
 * soft label on all pairs; hard labels with the best vs the worst response, the iterative
 * recipe (all pairs with the winner by P would weigh a 0.51 win like a 0.99 one). */
void algorithm_from_config(algorithm_t *a, const spar_config_t *cfg) {
    memset(a, 0, sizeof *a);
    if (cfg->algorithm.name == ALG_APO) {
        a->apo = 1;
        a->apo_alpha = cfg->apo.alpha;
    }
    a->kind = config_trained_algorithm(cfg);
    a->eta = cfg->algorithm.eta;
    a->tau = cfg->algorithm.tau;
    a->beta = cfg->algorithm.beta;
    a->eps = cfg->algorithm.label_smoothing;
    a->sppo.eta = cfg->algorithm.eta;
    a->sppo.include_self = cfg->algorithm.winrate == WINRATE_INCLUDE_SELF;
    a->sppo.best_worst = cfg->algorithm.pairs == PAIRS_BEST_WORST;
    a->soft_labels = s_soft_labels(a->kind, cfg->algorithm.labels);
    a->pairs_all = cfg->algorithm.pairs == PAIRS_ALL || (cfg->algorithm.pairs == PAIRS_AUTO && a->soft_labels);
    a->ref_previous = cfg->algorithm.reference == REFERENCE_PREVIOUS;
    a->dno_soft = cfg->dno.form == DNO_SOFT;
    a->dno_margin = cfg->dno.margin;
    a->eta_decay = cfg->algorithm.eta_decay;
}

int algorithm_needs_opponent(const algorithm_t *a) {
    return a->kind == ALG_NASH_MD || a->kind == ALG_EGPO || a->kind == ALG_ONLINE_IPO;
}

double algorithm_tau(const algorithm_t *a) {
    switch (a->kind) {
    case ALG_INPO:
    case ALG_IPO:
    case ALG_NASH_MD:
    case ALG_EGPO:
    case ALG_ONLINE_IPO: return a->tau;
    case ALG_DPO: return a->ref_previous ? 0.0 : a->beta; /* DPO's optimum: pi_ref exp(r / beta) */
    default: return 0.0;
    }
}

/* Loss of "w beats l" for the pair losses, with dL/dlp_theta(w) in *dw (= -dL/dlp_theta(l)). */
static double s_pair(const algorithm_t *a, const loss_group_t *g, int w, int l, double *dw) {
    const double *th = g->lp_theta, *pv = g->lp_prev, *rf = g->lp_ref;
    switch (a->kind) {
    case ALG_INPO:
        return pairloss_inpo(pairloss_inpo_h(th[w], th[l], rf[w], rf[l], pv[w], pv[l], a->eta * a->tau), a->eta, dw);
    case ALG_IPO: return pairloss_ipo((th[w] - rf[w]) - (th[l] - rf[l]), a->tau, dw);
    case ALG_DNO: /* DNO-Prct: DPO against pi_t */
        return pairloss_dpo((th[w] - pv[w]) - (th[l] - pv[l]), a->beta, a->eps, dw);
    default: {
        const double *r = a->ref_previous ? pv : rf;
        return pairloss_dpo((th[w] - r[w]) - (th[l] - r[l]), a->beta, a->eps, dw);
    }
    }
}

/* Adds weight * loss(w > l) to the group's loss and gradient. */
static double s_add_pair(const algorithm_t *a, const loss_group_t *g, int w, int l, double weight, double *dlp) {
    double d;
    double L = s_pair(a, g, w, l, &d);
    dlp[w] += weight * d;
    dlp[l] -= weight * d;
    return weight * L;
}

/* DNO's soft form on every pair: minimiser a_i - a_j = eta (Phat_i - Phat_j). */
static double s_dno_soft(const algorithm_t *a, const loss_group_t *g, const double *ph, double *dlp) {
    int k = g->k, n = 0;
    double total = 0;
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) {
            double da = (g->lp_theta[i] - g->lp_prev[i]) - (g->lp_theta[j] - g->lp_prev[j]), d;
            total += pairloss_dno_soft(da, ph[i] - ph[j], a->eta, &d);
            dlp[i] += d;
            dlp[j] -= d;
            n++;
        }
    for (int i = 0; i < k; i++) dlp[i] /= n;
    return total / n;
}

static double s_nash_md(const algorithm_t *a, const loss_group_t *g, double *dlp) {
    double et = a->eta * a->tau, loss = 0;
    for (int i = 0; i < g->k; i++) {
        double r = g->lp_theta[i] - (1 - et) * g->lp_prev[i] - et * g->lp_ref[i] - a->eta * (g->opp[i] - 0.5);
        loss += r * r / g->k;
        dlp[i] = 2.0 * r / g->k;
    }
    return loss;
}

static double s_egpo(const algorithm_t *a, const loss_group_t *g, double *dlp) {
    int k = g->k, n = 0;
    double loss = 0;
    for (int i = 0; i < k; i++) dlp[i] = 0;
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) {
            double d = (g->lp_theta[i] - g->lp_ref[i]) - (g->lp_theta[j] - g->lp_ref[j]);
            double r = d - (g->opp[i] - g->opp[j]) / a->tau;
            loss += r * r;
            dlp[i] += 2 * r;
            dlp[j] -= 2 * r;
            n++;
        }
    for (int i = 0; i < k; i++) dlp[i] /= n;
    return loss / n;
}

double algorithm_group_loss(const algorithm_t *a, const loss_group_t *g, double *dlp) {
    if (a->kind == ALG_SPPO) return sppo_loss(&a->sppo, g, dlp);
    if (a->kind == ALG_NASH_MD) return s_nash_md(a, g, dlp);
    if (a->kind == ALG_EGPO || a->kind == ALG_ONLINE_IPO) return s_egpo(a, g, dlp);
    int k = g->k;
    for (int i = 0; i < k; i++) dlp[i] = 0;
    double *ph = xmalloc(sizeof(double) * (size_t)k);
    sppo_winrates(g->P, k, 0, ph);
    double total = 0;
    if (a->kind == ALG_DNO && a->dno_soft) {
        total = s_dno_soft(a, g, ph, dlp);
        free(ph);
        return total;
    }
    int n = 0;
    if (a->pairs_all) {
        for (int i = 0; i < k; i++)
            for (int j = i + 1; j < k; j++) {
                double p = g->P[i * k + j];
                if (a->soft_labels) {
                    total += s_add_pair(a, g, i, j, p, dlp) + s_add_pair(a, g, j, i, 1.0 - p, dlp);
                } else if (p != 0.5) {
                    total += p > 0.5 ? s_add_pair(a, g, i, j, 1.0, dlp) : s_add_pair(a, g, j, i, 1.0, dlp);
                } else {
                    continue;
                }
                n++;
            }
    } else {
        int w = 0, l = 0;
        for (int i = 1; i < k; i++) {
            if (ph[i] > ph[w]) w = i;
            if (ph[i] < ph[l]) l = i;
        }
        int keep = ph[w] > ph[l] && (a->kind != ALG_DNO || ph[w] - ph[l] >= a->dno_margin);
        if (keep) {
            double p = g->P[w * k + l];
            total = a->soft_labels ? s_add_pair(a, g, w, l, p, dlp) + s_add_pair(a, g, l, w, 1.0 - p, dlp)
                                   : s_add_pair(a, g, w, l, 1.0, dlp);
            n = 1;
        }
    }
    if (n > 1) {
        for (int i = 0; i < k; i++) dlp[i] /= n;
        total /= n;
    }
    free(ph);
    return total;
}
