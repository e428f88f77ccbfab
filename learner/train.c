/* train — see train.h. */
#include "learner/train.h"

#include <math.h>
#include <stdlib.h>

#include "common/util.h"

void train_group_preference(const Spar__RolloutGroup *g, double *P) {
    size_t k = g->n_responses;
    if (g->n_preference == k * k) {
        for (size_t i = 0; i < k * k; i++) P[i] = g->preference[i];
        return;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            P[i * k + j] = 1.0 / (1.0 + exp(g->rewards[j] - g->rewards[i]));
}

typedef struct {
    int k, prompt;
    double *lp_prev, *lp_ref, *lp_theta, *dlp, *P, *opp, *w;
} prepared_t;

/* Win rates against an opponent policy from the group's samples of pi_t: leave-one-out and
 * self-normalised by the importance weights w_j = opponent(y_j) / pi_t(y_j). */
static void s_opponent_winrates(prepared_t *p) {
    for (int i = 0; i < p->k; i++) {
        double num = 0, den = 0;
        for (int j = 0; j < p->k; j++) {
            if (j == i) continue;
            num += p->w[j] * p->P[i * p->k + j];
            den += p->w[j];
        }
        p->opp[i] = den > 0 ? num / den : 0.5;
    }
}

/* log weights -> weights, shifted by the max so they never overflow */
static void s_set_weights(prepared_t *p, const double *logw) {
    double m = -INFINITY;
    for (int j = 0; j < p->k; j++) m = fmax(m, logw[j]);
    for (int j = 0; j < p->k; j++) p->w[j] = exp(logw[j] - m);
}

/* `epochs` passes of the optimiser over the prepared groups. */
static void s_fit(policy_t *theta, Spar__RolloutGroup *const *groups, prepared_t *pg, int n, const train_opts_t *opts,
                  optim_t *optim, train_result_t *out) {
    optim_reset(optim);
    for (long epoch = 0; epoch < opts->epochs && n > 0; epoch++) {
        policy_zero_grad(theta);
        double total = 0;
        for (int g = 0; g < n; g++) {
            const Spar__RolloutGroup *G = groups[g];
            prepared_t *p = &pg[g];
            for (int i = 0; i < p->k; i++) {
                const Spar__Response *r = G->responses[i];
                p->lp_theta[i] = policy_logprob(theta, p->prompt, r->tokens, (int)r->n_tokens);
            }
            loss_group_t lg = {p->k, p->lp_theta, p->lp_prev, p->lp_ref, p->P, p->opp};
            total += algorithm_group_loss(&opts->alg, &lg, p->dlp);
            for (int i = 0; i < p->k; i++) {
                const Spar__Response *r = G->responses[i];
                if (p->dlp[i] != 0.0)
                    policy_backward(theta, p->prompt, r->tokens, (int)r->n_tokens, p->dlp[i] / n);
            }
        }
        if (epoch == 0) out->loss_initial = total / n;
        out->loss = total / n;
        optim_step(optim, theta->params, theta->grads);
    }
}

void train_iteration(policy_t *theta, const policy_t *const *prevs, const policy_t *ref,
                     Spar__RolloutGroup *const *groups, int n, const train_opts_t *opts,
                     optim_t *optim, train_result_t *out) {
    prepared_t *pg = xcalloc((size_t)(n ? n : 1), sizeof *pg);
    const algorithm_t *a = &opts->alg;
    for (int g = 0; g < n; g++) { /* frozen quantities, computed once */
        const Spar__RolloutGroup *G = groups[g];
        int all = (int)G->n_responses, k = all - (int)G->n_opponents; /* the samples come first */
        prepared_t *p = &pg[g];
        p->k = k;
        p->prompt = (int)G->prompt_id;
        p->lp_prev = xmalloc(sizeof(double) * k);
        p->lp_ref = xmalloc(sizeof(double) * k);
        p->lp_theta = xmalloc(sizeof(double) * k);
        p->dlp = xmalloc(sizeof(double) * k);
        p->opp = xmalloc(sizeof(double) * k);
        p->w = xmalloc(sizeof(double) * k);
        p->P = xmalloc(sizeof(double) * all * all);
        train_group_preference(G, p->P);
        for (int i = 0; i < k; i++) {
            const Spar__Response *r = G->responses[i];
            p->lp_prev[i] = policy_logprob(prevs[g], p->prompt, r->tokens, (int)r->n_tokens);
            p->lp_ref[i] = policy_logprob(ref, p->prompt, r->tokens, (int)r->n_tokens);
        }
        if (G->n_opponents > 0) {
            /* Nash-MD: the actor sampled opponents from the mixture; win rate = mean over them */
            for (int i = 0; i < k; i++) {
                double s = 0;
                for (int j = k; j < all; j++) s += p->P[i * all + j];
                p->opp[i] = s / (all - k);
            }
            if (all != k) { /* the losses see the samples' K x K block only */
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) p->P[i * k + j] = p->P[i * all + j];
            }
        } else { /* EGPO's first step: against pi_t itself, leave-one-out */
            for (int i = 0; i < k; i++) p->w[i] = 1.0;
            s_opponent_winrates(p);
        }
    }
    out->groups = n;
    out->loss = out->loss_initial = NAN;
    policy_t *start = a->kind == ALG_EGPO ? policy_clone(theta) : NULL;
    s_fit(theta, groups, pg, n, opts, optim, out);
    if (a->kind == ALG_EGPO && n > 0) {
        /* Extragradient: the half step theta_{t+1/2} is done; re-estimate the opponent's win
         * rates against it, then take the full step from theta_t. */
        for (int g = 0; g < n; g++) {
            prepared_t *p = &pg[g];
            double *logw = p->dlp; /* scratch */
            for (int i = 0; i < p->k; i++) {
                const Spar__Response *r = groups[g]->responses[i];
                logw[i] = policy_logprob(theta, p->prompt, r->tokens, (int)r->n_tokens) - p->lp_prev[i];
            }
            s_set_weights(p, logw);
            s_opponent_winrates(p);
        }
        policy_copy(theta, start);
        train_result_t half = *out;
        s_fit(theta, groups, pg, n, opts, optim, out);
        out->loss_initial = half.loss_initial;
    }
    policy_destroy(&start);
    for (int g = 0; g < n; g++) {
        free(pg[g].lp_prev);
        free(pg[g].lp_ref);
        free(pg[g].lp_theta);
        free(pg[g].dlp);
        free(pg[g].opp);
        free(pg[g].w);
        free(pg[g].P);
    }
    free(pg);
}
