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
    double *lp_prev, *lp_ref, *lp_theta, *dlp, *P;
} prepared_t;

void train_iteration(policy_t *theta, const policy_t *prev, const policy_t *ref,
                     Spar__RolloutGroup *const *groups, int n, const train_opts_t *opts,
                     optim_t *optim, train_result_t *out) {
    prepared_t *pg = xcalloc((size_t)(n ? n : 1), sizeof *pg);
    for (int g = 0; g < n; g++) { /* frozen quantities, computed once */
        const Spar__RolloutGroup *G = groups[g];
        int k = (int)G->n_responses;
        pg[g].k = k;
        pg[g].prompt = (int)G->prompt_id;
        pg[g].lp_prev = xmalloc(sizeof(double) * k);
        pg[g].lp_ref = xmalloc(sizeof(double) * k);
        pg[g].lp_theta = xmalloc(sizeof(double) * k);
        pg[g].dlp = xmalloc(sizeof(double) * k);
        pg[g].P = xmalloc(sizeof(double) * k * k);
        train_group_preference(G, pg[g].P);
        for (int i = 0; i < k; i++) {
            const Spar__Response *r = G->responses[i];
            pg[g].lp_prev[i] = policy_logprob(prev, pg[g].prompt, r->tokens, (int)r->n_tokens);
            pg[g].lp_ref[i] = policy_logprob(ref, pg[g].prompt, r->tokens, (int)r->n_tokens);
        }
    }
    optim_reset(optim);
    out->groups = n;
    out->loss = out->loss_initial = NAN;
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
            loss_group_t lg = {p->k, p->lp_theta, p->lp_prev, p->lp_ref, p->P};
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
    for (int g = 0; g < n; g++) {
        free(pg[g].lp_prev);
        free(pg[g].lp_ref);
        free(pg[g].lp_theta);
        free(pg[g].dlp);
        free(pg[g].P);
    }
    free(pg);
}
