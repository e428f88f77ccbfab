/* game — matrix games: one preference matrix P per prompt (P[i][j] = P(y_i > y_j),
 * P + P^T = 1), the families bt, cyclic, random and games read from a file, and the exact
 * quantities of docs/algorithms.md, "Metrics and the regularised game" (exploitability, values, the 3-cycle equilibrium).
 * The judge serves these games; the learner uses them only to report exact metrics. */
#ifndef SPAR_GAME_H
#define SPAR_GAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

typedef struct {
    int prompts; /* number of games */
    int n;       /* actions per game */
    double *P;   /* prompts * n * n, row-major per game */
} game_set_t;

/* Builds the games the config describes. Returns 0 or -1 with "FILE:LINE: what" in why. */
int game_set_build(game_set_t *g, const spar_config_t *cfg, char *why, size_t whylen);
void game_set_free(game_set_t *g);
const double *game_matrix(const game_set_t *g, int prompt);
/* The matrix judge's verdict on k sampled actions of a prompt (each < g->n): P[i][j] is the
 * game's P(a_i > a_j), k x k row-major. */
void game_judge_actions(const game_set_t *g, int prompt, const uint32_t *actions, size_t k, double *P);

/* Game file format: n x n matrices, one per prompt (prompt p uses matrix p mod count),
 * rows of n numbers, matrices separated by blank lines, '#' starts a comment. */
int game_load_file(game_set_t *g, const char *path, int prompts, char *why, size_t whylen);

/* (P pi)_y: the probability that y beats a draw from pi. */
void game_win_vs(const double *P, int n, const double *pi, double *out);
/* pi^T P sigma: the probability that a draw from pi beats a draw from sigma. */
double game_value(const double *P, int n, const double *pi, const double *sigma);
/* max_y P(y > pi) - 1/2, which is >= 0 and 0 exactly at a Nash equilibrium. */
double game_exploitability(const double *P, int n, const double *pi);
/* Nash equilibrium of a 3-action cycle A = 2P - 1 = [[0,a,-b],[-a,0,c],[b,-c,0]] with
 * a, b, c > 0: proportional to (c, b, a). Returns -1 when P is not such a cycle. */
int game_nash_3cycle(const double *P, double out[3]);

#endif
