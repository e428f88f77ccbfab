/* task_arith — the `arith` task: prompts "a+b=" with operands of `digits` digits, the answer the
 * decimal sum. Prompt i of a seed is always the same problem. SFT data is generated with a share
 * of wrong answers (off by a small amount), so a policy trained on it knows the format but is
 * often wrong: room for self-play to improve. */
#ifndef SPAR_TASK_ARITH_H
#define SPAR_TASK_ARITH_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

/* Problem i: writes the prompt ("37+45=") and returns the true answer. */
long arith_problem(uint64_t seed, uint64_t i, int digits, char *prompt, size_t cap);

/* The SFT response for problem i: the right answer, or with probability wrong_share a wrong one
 * (the answer plus an offset in +-1..9, never negative). */
void arith_sft_response(uint64_t seed, uint64_t i, int digits, double wrong_share, char *response, size_t cap);

/* The answer, or with probability wrong_share a wrong one (off by +-1..9, never negative),
 * drawn with r. */
void arith_noisy_answer(long answer, double wrong_share, rng_t *r, char *response, size_t cap);

/* Parses a response as the answer it gives: 0 and the number, or -1 when it is not digits. */
int arith_parse(const char *response, long *value);

#endif
