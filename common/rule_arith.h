/* rule_arith — the arith task's rule judge. Each response gets a score: a correct sum 2; a
 * well-formed wrong number 1 - |error| / (|answer| + |error|), in (0, 1], so nearer beats
 * farther; junk (anything but digits) 0. Then P[i][j] = 1 when score_i > score_j, 1/2 when
 * equal, 0 otherwise: a valid preference matrix (P + P^T = 1, diagonal 1/2). */
#ifndef SPAR_RULE_ARITH_H
#define SPAR_RULE_ARITH_H

#include <stddef.h>

/* The score of one response to prompt ("37+45="), or -1 when the prompt is not an arith prompt. */
double rule_arith_score(const char *prompt, const char *response);

/* Fills the K x K matrix for K responses; returns 0 or -1 (not an arith prompt). */
int rule_arith_judge(const char *prompt, const char *const *responses, int k, double *P);

/* The styles task's rule: the arith score of the number first; between equal scores, the style
 * cycle of common/task_styles.h (junk, with no style, ties with junk). Returns 0 or -1. */
int rule_styles_judge(const char *prompt, const char *const *responses, int k, double *P);

#endif
