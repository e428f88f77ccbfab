/* train — see train.h. */
#include "learner/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int k, off; /* samples, and where they start in the flat arrays */
    double *P, *opp, *w;
} prepared_t;

/* The iteration's sequences, flat: group g's samples are seqs[off .. off + k - 1]. */
typedef struct {
    int n_groups, n_seqs;
    prepared_t *pg;
    policy_seq_t *seqs;
    double *lp_prev, *lp_ref, *lp_theta, *dlp;
} batch_t;

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

/* The next chunk of whole groups from group g0 that share one policy and fit opts->chunk_seqs
 * (at least one group). Returns the end group. */
static int s_chunk_end(const batch_t *b, int g0, policy_t *const *pols, const train_opts_t *opts) {
    int g1 = g0 + 1, seqs = b->pg[g0].k;
    while (g1 < b->n_groups && pols[g1] == pols[g0] &&
           (opts->chunk_seqs <= 0 || seqs + b->pg[g1].k <= opts->chunk_seqs))
        seqs += b->pg[g1++].k;
    return g1;
}

/* lp[seq] under pols[g] for every group's samples, batched by chunks; a group whose policy is
 * NULL is skipped. */
static void s_logprobs(batch_t *b, policy_t *const *pols, const train_opts_t *opts, double *lp) {
    for (int g0 = 0; g0 < b->n_groups;) {
        int g1 = s_chunk_end(b, g0, pols, opts), off = b->pg[g0].off;
        if (pols[g0]) policy_logprobs(pols[g0], b->seqs + off, b->pg[g1 - 1].off + b->pg[g1 - 1].k - off, lp + off);
        g0 = g1;
    }
}

/* `epochs` passes of the optimiser over the prepared groups. Groups whose pi_t log-probs are
 * pending (prev_pending[g]) take them from theta's first pass, made before any step: theta is
 * pi_t then, and the pass is the one pi_t's would be, to the bit. */
static void s_fit(policy_t *theta, batch_t *b, const train_opts_t *opts, optim_t *optim, const char *prev_pending,
                  train_result_t *out) {
    int n = b->n_groups, stepped = 0;
    policy_t **same = xmalloc(sizeof *same * (size_t)(n ? n : 1));
    for (int g = 0; g < n; g++) same[g] = theta;
    optim_reset(optim);
    for (long epoch = 0; epoch < opts->epochs && n > 0; epoch++) {
        policy_zero_grad(theta);
        double total = 0;
        for (int g0 = 0; g0 < n;) {
            int g1 = s_chunk_end(b, g0, same, opts), off = b->pg[g0].off;
            int cnt = b->pg[g1 - 1].off + b->pg[g1 - 1].k - off, scale = opts->step_per_chunk ? g1 - g0 : n;
            policy_logprobs(theta, b->seqs + off, cnt, b->lp_theta + off);
            for (int g = g0; prev_pending && !stepped && g < g1; g++)
                if (prev_pending[g]) memcpy(b->lp_prev + b->pg[g].off, b->lp_theta + b->pg[g].off, sizeof(double) * (size_t)b->pg[g].k);
            for (int g = g0; g < g1; g++) {
                prepared_t *p = &b->pg[g];
                loss_group_t lg = {p->k, b->lp_theta + p->off, b->lp_prev + p->off, b->lp_ref + p->off, p->P, p->opp};
                total += algorithm_group_loss(&opts->alg, &lg, b->dlp + p->off);
                for (int i = 0; i < p->k; i++) b->dlp[p->off + i] /= scale;
            }
            policy_backward_seqs(theta, b->seqs + off, cnt, b->dlp + off);
            if (opts->step_per_chunk) {
                optim_step_policy(optim, theta);
                policy_zero_grad(theta);
                stepped = 1;
            }
            g0 = g1;
        }
        if (epoch == 0) out->loss_initial = total / n;
        out->loss = total / n;
        if (!opts->step_per_chunk) optim_step_policy(optim, theta);
        stepped = 1;
    }
    free(same);
}

/* Which groups' pi_t log-probs theta's first pass gives (prevs[g] NULL: pi_t is theta as it
 * is now): all of them when an epoch takes one step, else those of the first chunk, which is
 * computed before the first step. The others are computed from theta before training. */
static char *s_prev_pending(const batch_t *b, policy_t *const *prevs, const train_opts_t *opts) {
    int n = b->n_groups, first_end = 0;
    char *pending = xcalloc((size_t)(n ? n : 1), 1);
    if (n > 0 && opts->step_per_chunk) {
        policy_t **same = xcalloc((size_t)n, sizeof *same); /* one policy: the chunks theta's passes make */
        for (int g = 0; g < n; g++) same[g] = (policy_t *)b; /* any one non-NULL pointer */
        first_end = s_chunk_end(b, 0, same, opts);
        free(same);
    }
    for (int g = 0; g < n; g++) pending[g] = !prevs[g] && opts->epochs > 0 && (!opts->step_per_chunk || g < first_end);
    return pending;
}

/* Group g's frozen quantities: its preference matrix and, for the losses that need one, the
 * opponent's win rates. */
static void s_prepare_group(prepared_t *p, const Spar__RolloutGroup *G) {
    int all = (int)G->n_responses, k = p->k;
    p->opp = xmalloc(sizeof(double) * k);
    p->w = xmalloc(sizeof(double) * k);
    p->P = xmalloc(sizeof(double) * all * all);
    train_group_preference(G, p->P);
    if (G->n_opponents > 0) {
        /* Nash-MD: the actor sampled opponents from the mixture; win rate = mean over them */
        for (int i = 0; i < k; i++) {
            double s = 0;
            for (int j = k; j < all; j++) s += p->P[i * all + j];
            p->opp[i] = s / (all - k);
        }
        for (int i = 0; i < k; i++) /* the losses see the samples' K x K block only */
            for (int j = 0; j < k; j++) p->P[i * k + j] = p->P[i * all + j];
    } else { /* online IPO, and EGPO's half step: against pi_t itself, leave-one-out */
        for (int i = 0; i < k; i++) p->w[i] = 1.0;
        s_opponent_winrates(p);
    }
}

void train_iteration(policy_t *theta, policy_t *const *prevs, policy_t *ref, Spar__RolloutGroup *const *groups,
                     int n, const train_opts_t *opts, optim_t *optim, train_result_t *out) {
    batch_t b = {.n_groups = n};
    b.pg = xcalloc((size_t)(n ? n : 1), sizeof *b.pg);
    for (int g = 0; g < n; g++) { /* the samples come first, the opponents after them */
        b.pg[g].k = (int)groups[g]->n_responses - (int)groups[g]->n_opponents;
        b.pg[g].off = b.n_seqs;
        b.n_seqs += b.pg[g].k;
    }
    size_t ns = (size_t)(b.n_seqs ? b.n_seqs : 1);
    b.seqs = xcalloc(ns, sizeof *b.seqs);
    b.lp_prev = xcalloc(ns, sizeof(double));
    b.lp_ref = xcalloc(ns, sizeof(double));
    b.lp_theta = xcalloc(ns, sizeof(double));
    b.dlp = xcalloc(ns, sizeof(double));
    policy_t **refs = xmalloc(sizeof *refs * (size_t)(n ? n : 1));
    for (int g = 0; g < n; g++) {
        const Spar__RolloutGroup *G = groups[g];
        for (int i = 0; i < b.pg[g].k; i++)
            b.seqs[b.pg[g].off + i] = (policy_seq_t){(int)G->prompt_id, G->prompt, G->responses[i]->tokens,
                                                      (int)G->responses[i]->n_tokens};
        s_prepare_group(&b.pg[g], G);
        refs[g] = ref;
    }
    /* frozen: pi_t and pi_ref, computed once (pi_t of the pending groups by the first pass) */
    double t0 = util_now_s();
    char *pending = s_prev_pending(&b, prevs, opts);
    policy_t **before = xmalloc(sizeof *before * (size_t)(n ? n : 1));
    for (int g = 0; g < n; g++) before[g] = pending[g] ? NULL : prevs[g] ? prevs[g] : theta;
    s_logprobs(&b, before, opts, b.lp_prev);
    free(before);
    s_logprobs(&b, refs, opts, b.lp_ref);
    out->groups = n;
    out->loss = out->loss_initial = NAN;
    out->frozen_s = util_now_s() - t0;
    const algorithm_t *a = &opts->alg;
    policy_t *start = a->kind == ALG_EGPO ? policy_clone(theta) : NULL;
    t0 = util_now_s();
    s_fit(theta, &b, opts, optim, pending, out);
    free(pending);
    if (a->kind == ALG_EGPO && n > 0) {
        /* Extragradient: the half step theta_{t+1/2} is done; re-estimate the opponent's win
         * rates against it, then take the full step from theta_t. */
        for (int g = 0; g < n; g++) refs[g] = theta;
        s_logprobs(&b, refs, opts, b.lp_theta);
        for (int g = 0; g < n; g++) {
            prepared_t *p = &b.pg[g];
            double *logw = b.dlp + p->off; /* scratch */
            for (int i = 0; i < p->k; i++) logw[i] = b.lp_theta[p->off + i] - b.lp_prev[p->off + i];
            s_set_weights(p, logw);
            s_opponent_winrates(p);
        }
        policy_copy(theta, start);
        train_result_t half = *out;
        s_fit(theta, &b, opts, optim, NULL, out);
        out->loss_initial = half.loss_initial;
    }
    out->fit_s = util_now_s() - t0;
    policy_destroy(&start);
    for (int g = 0; g < n; g++) {
        free(b.pg[g].opp);
        free(b.pg[g].w);
        free(b.pg[g].P);
    }
    free(b.pg), free(b.seqs), free(b.lp_prev), free(b.lp_ref), free(b.lp_theta), free(b.dlp), free(refs);
}
