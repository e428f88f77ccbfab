/* gen_judge — a pairwise LLM judge: any causal model common/lm.h loads is shown the user's
 * message and two responses in a comparison prompt and asked which is better; P(first better)
 * is the softmax over the two answer labels' next-token logits at the prompt's end,
 *     p_first = exp(z_A) / (exp(z_A) + exp(z_B)).
 * The comparison prompt is a template with {prompt} (the conversation as readable text,
 * common/chat_text.h), {a}, {b} (the responses) and optionally {label_a}, {label_b}; filled, it
 * is one user message rendered by the judge's chat template with the generation prompt (encoded
 * without special tokens: the template writes them), or, for a model without a template, the
 * text itself encoded with the tokenizer's special tokens. A request's comparisons differ only
 * where the responses go in, so they are one packed forward pass sharing their longest common
 * token prefix (common/prefix_pack.h), and only the logits at each comparison's last position
 * are computed. */
#ifndef SPAR_GEN_JUDGE_H
#define SPAR_GEN_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/chat.h"
#include "common/lm.h"

typedef struct gen_judge gen_judge_t;

/* The built-in comparison template. */
extern const char gen_judge_builtin_template[];

/* A judge of the model folder DIR (lm_load_dir, and tokenizer_config.json's chat_template when
 * there is one), the comparison template of the file template_path (NULL or "": the built-in
 * one) and labels "FIRST,SECOND". NULL with why: the model, a template without {prompt}, {a} or
 * {b} (named), labels that are not two, or whose first tokens are the same. */
gen_judge_t *gen_judge_load(const char *dir, const char *template_path, const char *labels, char *why, size_t whylen);
/* The same from parts: takes m and chat (NULL: raw text) whatever it returns; template_text
 * NULL: the built-in one; origin names the template in messages. */
gen_judge_t *gen_judge_new(lm_t *m, chat_template_t *chat, const char *template_text, const char *origin,
                           const char *labels, char *why, size_t whylen);
void gen_judge_free(gen_judge_t **g);

lm_t *gen_judge_lm(gen_judge_t *g);
/* The token ids whose logits are compared (each label's first token). */
void gen_judge_label_ids(const gen_judge_t *g, int *first, int *second);
/* A digest of what decides the answers: the parameters, the comparison template, the labels,
 * whether a chat template is used (hex, 64 characters and NUL). */
void gen_judge_digest_hex(const gen_judge_t *g, char out[65]);

/* The comparison template filled with the conversation c, a and b (malloc'd). */
char *gen_judge_fill(const gen_judge_t *g, const chat_t *c, const char *a, const char *b);
/* The comparison's ids as the model reads them (*ids malloc'd). Returns the count or -1 with why. */
int gen_judge_comparison_ids(const gen_judge_t *g, const chat_t *c, const char *a, const char *b, int32_t **ids,
                             char *why, size_t whylen);
/* p_first of n comparisons given as ids (len[i] >= 1, at most the context) into p: packed rows
 * sharing their longest common prefix, as few forward passes as the activation budget allows
 * (prefix_pack_pass_tokens; usually one). Returns 0 or -1 with why. */
int gen_judge_p_first(gen_judge_t *g, const int32_t *const *ids, const int *len, int n, double *p, char *why,
                      size_t whylen);
/* The K x K preference matrix of the k responses to c: P[i][j] = P(i better than j), diagonal
 * 1/2, P + P^T = 1. both_orders: each pair i < j is asked with i first and with j first and
 *     P[i][j] = (p_first(i, j) + 1 - p_first(j, i)) / 2,
 * and *bias_sum gets p_first(i, j) + p_first(j, i) - 1 added per pair (> 0: the judge favours
 * the first position; *bias_pairs counts them); else P[i][j] = p_first(i, j) alone. Returns 0
 * or -1 with why. */
int gen_judge_matrix(gen_judge_t *g, const chat_t *c, const char *const *responses, int k, int both_orders, double *P,
                     double *bias_sum, uint64_t *bias_pairs, char *why, size_t whylen);

#endif
