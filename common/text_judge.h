/* text_judge — a judge of real text, loaded in-process: the reward model (a Hugging Face
 * *ForSequenceClassification folder) or the generative pairwise judge (a causal model folder) of
 * judge.kind reward | generative, as the judge process runs them. The learner's evaluation uses
 * it to compare this iteration's responses with the initial policy's on held-out prompts. */
#ifndef SPAR_TEXT_JUDGE_H
#define SPAR_TEXT_JUDGE_H

#include <stddef.h>

#include "common/config.h"

typedef struct text_judge text_judge_t;

/* The judge of cfg (judge.kind reward with a Hugging Face folder, or generative), or NULL with
 * why (another kind, or a folder that cannot be loaded). */
text_judge_t *text_judge_load(const spar_config_t *cfg, char *why, size_t whylen);
void text_judge_free(text_judge_t **j);

/* For n pairs (prompts[i] a conversation JSON or text, a[i], b[i] responses): p[i] = P(a > b)
 * (a reward model: sigma(r_a - r_b); generative: both orders averaged) and bias[i] the position
 * bias of the pair (generative: p_first(a, b) + p_first(b, a) - 1; NAN for a reward model).
 * Returns 0 or -1 with why. */
int text_judge_pairs(text_judge_t *j, const char *const *prompts, const char *const *a, const char *const *b, int n,
                     double *p, double *bias, char *why, size_t whylen);

#endif
