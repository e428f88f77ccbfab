/* core — see core.h. */
#include "learner/core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/lm.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/util.h"

/* learner.lr 0 means automatic. The batch loss is the mean over prompts, so with the tabular
 * policy each prompt's logits see 1/prompts of their gradient: lr = prompts x c gives every
 * prompt the step c (online: the groups of one step instead of all prompts), with c inside the stable range of plain gradient descent on each loss
 * (the squared pair losses of INPO and IPO curve 4x more than SPPO's regression). With Adam,
 * whose steps do not scale with the gradient, automatic is 0.05. */
double learner_auto_lr(const spar_config_t *cfg) {
    if (cfg->learner.lr > 0) return cfg->learner.lr;
    if (cfg->policy.kind == POLICY_GPT) return 1e-4; /* AdamW on a small transformer */
    if (cfg->learner.optimizer == OPTIMIZER_ADAM) return 0.05;
    alg_name_t alg = config_trained_algorithm(cfg);
    int single_step = alg == ALG_EGPO || alg == ALG_ONLINE_IPO;
    double c = single_step ? 1.0 / 16 : (alg == ALG_INPO || alg == ALG_IPO) ? 0.25 : 1.0;
    if (alg == ALG_DNO && cfg->dno.form == DNO_SOFT) /* its curvature in a is 1/(4 eta^2) */
        c = fmin(1.0, cfg->algorithm.eta * cfg->algorithm.eta);
    long batch = cfg->task.prompts; /* groups per learner step */
    if (cfg->learner.broadcast_every > 0)
        batch = cfg->learner.step_groups > 0 ? cfg->learner.step_groups : cfg->learner.prompts_per_lease;
    return c * (double)batch;
}

/* learner.epochs 0 means automatic: EGPO is defined by one gradient step per half step and
 * online IPO by one step per update (a fitted half step would be a best response, which
 * oscillates); the iterative algorithms fit each iteration's regression with 50 passes. */
long learner_auto_epochs(const spar_config_t *cfg) {
    if (cfg->learner.epochs > 0) return cfg->learner.epochs;
    if (cfg->policy.kind == POLICY_GPT && cfg->algorithm.name != ALG_EGPO && cfg->algorithm.name != ALG_ONLINE_IPO)
        return 2; /* passes over the iteration's groups, an AdamW step per learner.batch_seqs */
    return (cfg->algorithm.name == ALG_EGPO || cfg->algorithm.name == ALG_ONLINE_IPO) ? 1 : 50;
}

int core_init(learner_core_t *c, const spar_config_t *cfg) {
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->gpt = cfg->policy.kind == POLICY_GPT;
    if (c->gpt) gpt_set_threads((int)cfg->gpt.threads);
    char why[512];
    if (!c->gpt && game_set_build(&c->games, cfg, why, sizeof why) != 0) {
        log_error("%s", why);
        return -1;
    }
    if (stop_parse(cfg->rollout.stop, &c->stop, &c->n_stop, why, sizeof why) != 0) {
        log_error("rollout.stop: %s", why);
        return -1;
    }
    if (cfg->task.kind == TASK_PROMPTS) {
        if (!(c->prompts = prompt_set_load(cfg->task.file, cfg->task.heldout, (uint64_t)cfg->run.seed, why, sizeof why))) {
            log_error("task.file %s", why);
            return -1;
        }
        log_info("task.file %s: %d prompts to train on, %d held out", cfg->task.file,
                 prompt_set_train_count(c->prompts), prompt_set_eval_count(c->prompts));
    }
    return 0;
}

/* task.kind prompts: the policy reads conversations, by task.template (the clones of theta read
 * them the same way, and its blobs tell the actors). Returns 0 or -1 (logged). */
static int s_prompt_format(learner_core_t *c) {
    const spar_config_t *cfg = c->cfg;
    if (cfg->task.kind != TASK_PROMPTS) return 0;
    const char *t = cfg->task.template, *format = t;
    char *source = NULL, why[512];
    if (strcmp(t, "auto") != 0 && strcmp(t, "none") != 0) { /* a template file */
        size_t len;
        if (!(source = util_read_file(t, &len))) {
            log_error("task.template %s: cannot read: %s", t, strerror(errno));
            return -1;
        }
        format = "jinja";
    }
    int rc = lm_set_prompt_format(policy_lm(c->theta), format, source, why, sizeof why);
    if (rc != 0) log_error("task.template %s: %s", t, why);
    free(source);
    return rc;
}

void core_tabular_initial(learner_core_t *c) {
    const spar_config_t *cfg = c->cfg;
    c->theta = policy_tabular_new((int)cfg->task.prompts, (int)cfg->game.n);
    policy_init(c->theta, cfg->policy.init, cfg->policy.init_scale, (uint64_t)cfg->run.seed);
}

int core_setup(learner_core_t *c) {
    const spar_config_t *cfg = c->cfg;
    if (s_prompt_format(c) != 0) return -1;
    c->ref = policy_clone(c->theta);
    if (c->gpt) lm_set_inference_only(policy_lm(c->ref)); /* pi_ref is only ever read */
    if (!c->gpt) {
        int prompts, actions;
        policy_tabular_shape(c->theta, &prompts, &actions);
        avg_iterate_init(&c->avg, prompts, actions);
        avg_iterate_add(&c->avg, c->theta);
    }
    c->optim = optim_new(cfg->learner.optimizer, learner_auto_lr(cfg), c->theta, cfg->learner.weight_decay,
                         cfg->learner.clip, cfg->learner.warmup);
    c->train.epochs = learner_auto_epochs(cfg);
    c->train.chunk_seqs = c->gpt ? (int)cfg->learner.batch_seqs : 0;
    c->train.step_per_chunk = c->gpt;
    algorithm_from_config(&c->train.alg, cfg);
    if (c->train.alg.apo) c->apo_hat = policy_clone(c->theta);
    c->tau = c->gpt ? 0 : algorithm_tau(&c->train.alg);
    if (c->tau > 0 && !(c->nash_tau = metrics_nash_tau(&c->games, c->ref, c->tau))) {
        log_warn("the regularised equilibrium (tau %g) did not converge: exploitability_tau is not reported", c->tau);
        c->tau = 0;
    }
    return 0;
}

void core_teardown(learner_core_t *c) {
    optim_destroy(&c->optim);
    avg_iterate_free(&c->avg);
    policy_destroy(&c->theta);
    policy_destroy(&c->ref);
    policy_destroy(&c->apo_hat);
    free(c->nash_tau);
    c->nash_tau = NULL;
    text_eval_free(&c->eval);
    chat_eval_free(&c->chat_eval);
    game_set_free(&c->games);
    prompt_set_free(&c->prompts);
    stop_free(c->stop, c->n_stop);
    c->stop = NULL;
    c->n_stop = 0;
}

void core_begin_iteration(learner_core_t *c, uint64_t iteration) {
    double eta_t = c->cfg->algorithm.eta / (1.0 + c->cfg->algorithm.eta_decay * (double)(iteration - 1));
    c->train.alg.eta = c->train.alg.sppo.eta = eta_t;
}

void core_train_synchronous(learner_core_t *c, Spar__RolloutGroup *const *groups, int n, train_result_t *tr) {
    policy_t **prevs = xmalloc(sizeof *prevs * (size_t)(n ? n : 1));
    for (int p = 0; p < n; p++) prevs[p] = NULL; /* pi_t is theta before training: train reads it once */
    train_iteration(c->theta, prevs, c->ref, groups, n, &c->train, c->optim, tr);
    free(prevs);
    if (c->gpt) lm_release_acts(policy_lm(c->theta)); /* the evaluation's passes are of another shape */
}

void core_train_step(learner_core_t *c, policy_t *const *prevs, Spar__RolloutGroup *const *groups, int n,
                     train_result_t *tr) {
    train_iteration(c->theta, prevs, c->ref, groups, n, &c->train, c->optim, tr);
}

/* APO (docs/algorithms.md, "APO"): logits_{t+1} = (1 + alpha) zhat_{t+1} - alpha zhat_t, where
 * zhat are the base algorithm's solutions before extrapolation; for a gpt policy the same
 * extrapolation of its parameters. */
static void s_apo_extrapolate(learner_core_t *c) {
    double a = c->train.alg.apo_alpha;
    policy_axpby(c->apo_hat, 1 + a, c->theta, -a); /* apo_hat := the extrapolated iterate */
    policy_swap(c->theta, c->apo_hat);              /* theta := it, apo_hat := zhat_{t+1} */
}

int core_finish_iteration(learner_core_t *c, uint64_t iteration, const train_result_t *tr) {
    /* diverged: not finite, or a million times the first epoch's loss (at least 1e-4: a judge that
     * barely tells the responses apart starts the loss near 0, and AdamW's first steps then move
     * it to the scale of the learning rate, which is not divergence) */
    if (!isfinite(tr->loss) || tr->loss > 1e6 * fmax(tr->loss_initial, 1e-4)) {
        log_error("iteration %llu: training diverged (loss %g after %g at the first epoch); lower learner.lr",
                  (unsigned long long)iteration, tr->loss, tr->loss_initial);
        return -1;
    }
    if (c->apo_hat) s_apo_extrapolate(c);
    return 0;
}

void core_average(learner_core_t *c) {
    if (!c->gpt) avg_iterate_add(&c->avg, c->theta);
}
