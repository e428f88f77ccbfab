/* prompt_set — the prompts of task.kind prompts: a JSONL file, one prompt per line, either
 *     {"prompt": "TEXT"}                                   a single user turn, or
 *     {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
 * (the conversation so far; it ends with a user turn, which the policy answers), each with an
 * optional "id" (a string or an integer; default the line number). Every prompt becomes its
 * conversation's compact JSON, [{"role":"user","content":"TEXT"}], which is what travels to actors
 * and judges: each renders it with its own model's chat template.
 *
 * The file is split once, by the run seed, into held-out prompts (task.heldout of them, for the
 * per-iteration evaluation, never trained on) and training prompts. Iteration t takes the next
 * task.prompts training prompts of a shuffled order — disjoint across iterations, as the SPPO
 * recipe takes them — and when the file is exhausted a new shuffle (of the same seed and the
 * pass number) continues. Everything is a function of (file, seed), so a resumed run and a replay
 * see the same prompts; the file's digest is kept to tell when it changed. */
#ifndef SPAR_PROMPT_SET_H
#define SPAR_PROMPT_SET_H

#include <stddef.h>
#include <stdint.h>

/* The longest conversation JSON spar takes from a prompt file (it travels in every lease). */
#define PROMPT_MAX_BYTES (256 * 1024)

typedef struct prompt_set prompt_set_t;

/* Reads path. A line that is not a prompt is refused with "PATH:LINE: what is wrong" in why;
 * duplicated ids are refused, duplicated conversations are counted (prompt_set_duplicates) and
 * logged once with their lines. heldout: the share held out (at least one prompt when > 0, and
 * at least one left to train on). NULL with why. */
prompt_set_t *prompt_set_load(const char *path, double heldout, uint64_t seed, char *why, size_t whylen);
void prompt_set_free(prompt_set_t **s);

int prompt_set_train_count(const prompt_set_t *s);
int prompt_set_eval_count(const prompt_set_t *s);
/* Prompts whose conversation repeats an earlier line's. */
int prompt_set_duplicates(const prompt_set_t *s);
/* BLAKE2b-256 of the file's bytes, as hex. */
const char *prompt_set_digest(const prompt_set_t *s);

/* The i-th of the per_iteration prompts of iteration (>= 1): its conversation JSON and id. */
const char *prompt_set_train(const prompt_set_t *s, uint64_t iteration, int per_iteration, int i, const char **id);
/* Held-out prompt i (< prompt_set_eval_count). */
const char *prompt_set_eval(const prompt_set_t *s, int i, const char **id);

#endif
