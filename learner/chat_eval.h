/* chat_eval — what the learner measures each iteration on the held-out prompts of task.kind
 * prompts, the signs of a policy that over-optimises a real judge:
 *   win_rate_vs_init   the judge's mean P(this iteration's response > the initial policy's) over
 *                      the held-out prompts (a generative judge asks both orders), and the
 *   position_bias      judge's preference for the first position on those pairs (generative);
 *   length_mean/p50/p90  the responses' lengths in tokens (SPPO and DPO are known to inflate it),
 *   truncated          the share cut at rollout.max_new (no EOS, no stop string);
 *   kl_to_ref          mean log pi(y) - log pi_ref(y) over the responses, an estimate of
 *                      KL(pi || pi_ref).
 * One response per prompt, drawn as actors draw (rollout.temperature, top_k, top_p, stop), from
 * streams of the run seed; the initial policy's responses are drawn once, at iteration 0. */
#ifndef SPAR_CHAT_EVAL_H
#define SPAR_CHAT_EVAL_H

#include <stdint.h>

#include "common/config.h"
#include "common/policy.h"
#include "common/prompt_set.h"

typedef struct chat_eval chat_eval_t;

/* Loads the judge in-process when it can (judge.kind reward or generative; else the win rate is
 * not reported, logged once). stop: the parsed rollout.stop (kept by the caller). */
chat_eval_t *chat_eval_new(const spar_config_t *c, const prompt_set_t *prompts, const char *const *stop, int n_stop);
void chat_eval_free(chat_eval_t **e);

typedef struct {
    int n; /* held-out prompts evaluated (0: nothing below is set) */
    double win_rate_vs_init, position_bias; /* NAN without an in-process judge */
    double length_mean, length_p50, length_p90, truncated, kl_to_ref;
} chat_metrics_t;

void chat_metrics(chat_eval_t *e, policy_t *theta, policy_t *ref, uint64_t iteration, chat_metrics_t *out);

#endif
