/* core — the learner's update core: the policies (theta, pi_t, pi_ref, APO's last solution, the
 * tabular average iterate), the optimiser, the algorithm and its training options, the current
 * version, the automatic learning rate and epochs, one iteration's training and APO's
 * extrapolation. No sockets and no files: the learner service, `spar replay` and bench_tax run
 * the same updates through it. Leases, peers, records and weights for actors are not here. */
#ifndef SPAR_CORE_H
#define SPAR_CORE_H

#include <stdint.h>

#include "common/config.h"
#include "common/game.h"
#include "common/metrics.h"
#include "common/policy.h"
#include "common/prompt_set.h"
#include "learner/optim.h"
#include "learner/chat_eval.h"
#include "learner/text_metrics.h"
#include "learner/train.h"

typedef struct {
    const spar_config_t *cfg;
    int gpt;                      /* policy.kind gpt: text prompts, sampled metrics */
    game_set_t games;             /* tabular: the task's games, for the exact metrics */
    text_eval_t *eval;            /* gpt: held-out evaluation state (the service's) */
    chat_eval_t *chat_eval;       /* task.kind prompts: the held-out prompts' (instead of eval) */
    prompt_set_t *prompts;        /* task.kind prompts: the prompt file */
    char **stop;                  /* rollout.stop, parsed (n_stop of them) */
    int n_stop;
    policy_t *theta, *ref; /* current, reference pi_0 (pi_t is theta as the iteration starts) */
    policy_t *apo_hat;            /* APO: the last un-extrapolated solution */
    double tau;                   /* the regularised game's tau, 0 when none */
    double *nash_tau;             /* its equilibrium per prompt */
    avg_iterate_t avg;
    optim_t *optim;
    train_opts_t train;
    uint64_t version; /* of theta: the current policy version */
} learner_core_t;

/* learner.lr 0: the automatic learning rate for cfg's policy, optimiser and algorithm. */
double learner_auto_lr(const spar_config_t *cfg);
/* learner.epochs 0: the automatic passes over an iteration's groups. */
long learner_auto_epochs(const spar_config_t *cfg);

/* The kind of policy, (tabular) the task's games and (task.kind prompts) the prompt file.
 * Returns 0 or -1 (logged). */
int core_init(learner_core_t *c, const spar_config_t *cfg);
/* A fresh tabular policy in c->theta, by policy.init. */
void core_tabular_initial(learner_core_t *c);
/* Everything the updates need around the initial policy in c->theta: how it reads prompts
 * (task.template), pi_t, pi_ref, the average, the optimiser, the algorithm, APO's solution, the
 * regularised equilibrium. Returns 0, or -1 (logged) for a template the policy cannot use. */
int core_setup(learner_core_t *c);
void core_teardown(learner_core_t *c);
/* Iteration t's step size eta_t = eta / (1 + eta_decay (t - 1)). */
void core_begin_iteration(learner_core_t *c, uint64_t iteration);
/* The synchronous update: pi_t = theta, theta trained on the n groups (one per prompt). */
void core_train_synchronous(learner_core_t *c, Spar__RolloutGroup *const *groups, int n, train_result_t *tr);
/* One online step: each group's pi_t is prevs[i], the version that sampled it. */
void core_train_step(learner_core_t *c, policy_t *const *prevs, Spar__RolloutGroup *const *groups, int n,
                     train_result_t *tr);
/* After an iteration's training: refuses a diverged one (logged; -1), else extrapolates APO. */
int core_finish_iteration(learner_core_t *c, uint64_t iteration, const train_result_t *tr);
/* Tabular: theta joins the average iterate. */
void core_average(learner_core_t *c);

#endif
