/* text_metrics — what the learner measures of a gpt policy each iteration, on the task's
 * held-out problems (the same every iteration):
 *   accuracy          share answered correctly with greedy decoding;
 *   accuracy_sampled  share answered correctly by one sample drawn as the actors draw;
 *   kl_to_ref         mean of log pi(y) - log pi_ref(y) over those samples, an estimate of
 *                     KL(pi || pi_ref) (unbiased when rollout.temperature is 1);
 *   styles task:      the distribution of the samples' styles (well-formed answers) and its
 *                     exploitability in the style cycle (0 at the Nash mixture 1/6, 1/3, 1/2);
 *   with a learned judge (judge.kind reward | preference, whose checkpoint the learner reads):
 *     judge_win_rate  the learned judge's mean P(this iteration's sample > the initial policy's
 *                     sample) over the held-out problems, and
 *     rule_win_rate   the task rule's for the same pairs: where the two part, the policy is
 *                     exploiting the judge (over-optimisation). */
#ifndef SPAR_TEXT_METRICS_H
#define SPAR_TEXT_METRICS_H

#include <stdint.h>

#include "common/config.h"
#include "common/policy.h"
#include "common/task_styles.h"

typedef struct text_eval text_eval_t;

/* The evaluation's state across iterations; loads the learned judge when there is one (a judge
 * that cannot be loaded is logged and its win rates left out). */
text_eval_t *text_eval_new(const spar_config_t *c);
void text_eval_free(text_eval_t **e);

typedef struct {
    double accuracy, accuracy_sampled, kl_to_ref;
    double judge_win_rate, rule_win_rate; /* NAN without a learned judge */
    int styles; /* the fields below are set */
    double style[STYLES], style_exploitability;
} text_metrics_t;

void text_metrics(text_eval_t *e, policy_t *theta, policy_t *ref, uint64_t iteration, text_metrics_t *out);

/* The sampling options of the config's rollout section. */
policy_sample_opts_t text_sample_opts(const spar_config_t *c);

#endif
