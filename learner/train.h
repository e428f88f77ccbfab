/* train — one iteration of learning: several epochs of full-batch optimisation of the
 * algorithm's loss over the iteration's judged groups, with pi_t (prev) and pi_ref frozen.
 * Groups are taken in prompt order, so the result never depends on which actor answered
 * first. The batch loss is the mean of the groups' losses. The online mode calls it once per
 * learner step, on that step's groups. A gpt policy reads each group's prompt text (the learner
 * puts its own there at admission) and runs the responses of several groups in one batch. */
#ifndef SPAR_TRAIN_H
#define SPAR_TRAIN_H

#include "common/policy.h"
#include "learner/optim.h"
#include "learner/algorithm.h"
#include "spar.pb-c.h"

typedef struct {
    algorithm_t alg;
    long epochs;
    int chunk_seqs;     /* sequences per forward pass at most (whole groups; 0: no limit) */
    int step_per_chunk; /* 1: an optimiser step after every chunk (mini-batches; the loss a
                           chunk's mean); 0: one step per epoch on the whole batch's mean */
} train_opts_t;

typedef struct {
    double loss_initial; /* batch loss before the first step */
    double loss;         /* batch loss before the last step */
    int groups;
    double frozen_s;     /* seconds computing the frozen log-probs (pi_t's, pi_ref's) */
    double fit_s;        /* seconds of the optimiser's passes */
} train_result_t;

/* prevs[g] is the policy that sampled group g (pi_t: the same for every group of a
 * synchronous iteration; the group's own version in the online mode), or NULL when that is theta
 * as it is at the call: its log-probs then come from theta's own first pass where that pass
 * precedes every step, and are not computed twice. */
void train_iteration(policy_t *theta, policy_t *const *prevs, policy_t *ref,
                     Spar__RolloutGroup *const *groups, int n_groups, const train_opts_t *opts,
                     optim_t *optim, train_result_t *out);

/* The group's K x K preference matrix: the judge's, or Bradley-Terry sigma(r_i - r_j) from its
 * rewards. Writes k*k entries into P. */
void train_group_preference(const Spar__RolloutGroup *g, double *P);

#endif
