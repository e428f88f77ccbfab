/* task — what a run asks, by task.kind:
 *   game:   prompt i is matrix game i, text "game-<i>" (the tabular policy answers with an action);
 *   arith:  prompt i of iteration t is a fresh problem "37+45=" (common/task_arith.h): problem
 *           number 2^40 + (t - 1) * prompts + i, never one spar sft trains on (numbers below 2^40);
 *   styles: the same problems, answered with a style mark (common/task_styles.h).
 * A task_t is the kind's rule judge (task_of picks it once, so no caller chooses between the
 * rules). The learner measures accuracy on held-out problems (numbers from 2^62), the same
 * every iteration. */
#ifndef SPAR_TASK_H
#define SPAR_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

typedef struct task task_t;
extern const task_t task_game, task_arith, task_styles;

/* The task task.kind names: the one place task.kind is read. */
const task_t *task_of(const spar_config_t *c);
/* The task's rule judge: the K x K preference matrix P of K responses to prompt (a valid one:
 * P + P^T = 1, diagonal 1/2). Returns 0, or -1 when prompt is not one of its problems. The game
 * task has no rule of its own: it judges with arith's, which refuses every game prompt. */
int task_rule_judge(const task_t *t, const char *prompt, const char *const *responses, int k, double *P);
/* What the rule judges ("arith", "styles") and its version ("rule-arith-1"). */
const char *task_rule_name(const task_t *t);
const char *task_rule_version(const task_t *t);

/* The text of prompt `id` in `iteration`. */
void task_prompt(const spar_config_t *c, uint64_t iteration, int id, char *out, size_t cap);
/* Held-out problem i: writes its prompt, returns the true answer. */
long task_eval_problem(const spar_config_t *c, int i, char *prompt, size_t cap);
/* SFT example i of the task's generated data. */
void task_sft_example(const spar_config_t *c, uint64_t i, char *prompt, size_t pcap, char *response, size_t rcap);
/* Judged pair i of the task's generated judge data: two answers to one problem drawn as SFT
 * answers are (problem numbers from 2^50, apart from SFT's and the runs'). The caller labels
 * them with the task's rule. */
void task_judge_pair(const spar_config_t *c, uint64_t i, char *prompt, size_t pcap, char *a, char *b, size_t rcap);
/* Is response a correct answer (in any style, for styles) to the problem with this answer? */
int task_correct(const spar_config_t *c, const char *response, long answer);

#endif
