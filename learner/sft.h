/* sft — supervised training of an initial language-model policy on {prompt, response} pairs
 * (sft.data, a JSONL file; or the task's generated data, task.kind arith or styles), with AdamW:
 * from policy.checkpoint when set (any model folder spar loads, with its own tokenizer), else
 * from a random byte-level GPT of the gpt.* shape. The loss is the mean negative log-prob per
 * response token (response + EOS, prompt masked). Used by
 * `spar sft` and by a learner whose policy.init is sft. Prints progress and loss to stdout. */
#ifndef SPAR_SFT_H
#define SPAR_SFT_H

#include "common/config.h"
#include "common/lm.h"

/* The trained model, or NULL with *status 2 (bad data) or 130 (interrupted). */
lm_t *sft_train(const spar_config_t *c, int *status);
/* Greedy accuracy on the task's first n held-out problems. */
double sft_accuracy(lm_t *m, const spar_config_t *c, int n);

#endif
