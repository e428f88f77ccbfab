/* sft — supervised training of an initial GPT policy on {prompt, response} pairs (sft.data, a
 * JSONL file; or the task's generated data, task.kind arith or styles), with AdamW. The loss is
 * the mean negative log-prob per response token (response + end-of-text, prompt masked). Used by
 * `spar sft` and by a learner whose policy.init is sft. Prints progress and loss to stdout. */
#ifndef SPAR_SFT_H
#define SPAR_SFT_H

#include "common/config.h"
#include "common/gpt.h"

/* The trained model, or NULL with *status 2 (bad data) or 130 (interrupted). */
gpt_t *sft_train(const spar_config_t *c, int *status);
/* Greedy accuracy on the task's first n held-out problems. */
double sft_accuracy(gpt_t *m, const spar_config_t *c, int n);

#endif
