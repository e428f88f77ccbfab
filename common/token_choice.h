/* token_choice — the choice of one next token from a row of logits, shared by the samplers:
 * temperature (0: greedy argmax), top-k and top-p (nucleus) shaping, one uniform draw from the
 * sequence's own stream per sampled token (none when greedy), and the model's own log-prob of
 * the chosen token at temperature 1 without any filtering (the quantity a learner recomputes).
 *
 * The semantics are those of gpt_sample's draw: probabilities softmax(z / T) in double; with
 * top-k or top-p, tokens ranked by probability (ties by lower id), the kept prefix is the first
 * k, cut at the first rank where the running mass reaches top_p; the kept mass is renormalised
 * and one token is drawn by inverse CDF over the ids in order (rng_categorical). The ranking
 * here sorts only the candidates that can be kept, so a 150k vocabulary costs two passes, not a
 * full sort, yet the result is the same as sorting everything. */
#ifndef SPAR_TOKEN_CHOICE_H
#define SPAR_TOKEN_CHOICE_H

#include "common/rng.h"

/* Workspace for a vocabulary of V tokens (reused across calls; one per thread). */
typedef struct token_choice_scratch token_choice_scratch_t;
token_choice_scratch_t *token_choice_scratch_new(int V);
void token_choice_scratch_free(token_choice_scratch_t **s);

/* The next token from logits z[0..V), V no more than the scratch's. temperature <= 0: the first
 * argmax (no random number used); top_k <= 0 or >= V: off; top_p >= 1: off. *logprob (when not
 * NULL) receives log softmax(z)[token], computed as logsoftmax_forward computes it. */
int token_choice(const float *z, int V, double temperature, int top_k, double top_p, rng_t *r,
                 token_choice_scratch_t *s, float *logprob);

/* log softmax(z)[t] in float: max, a double sum of exp(z - max), z[t] - (max + log sum). */
float token_choice_logprob(const float *z, int V, int t);

#endif
