/* seqcls — a Hugging Face sequence classifier of the Llama family used as a reward model:
 * LlamaForSequenceClassification, MistralForSequenceClassification,
 * Qwen2ForSequenceClassification or Qwen3ForSequenceClassification with num_labels 1. The
 * trunk is the causal model's (common/llama.h, tensors model.*), without lm_head; the head is
 * score.weight (1, hidden), no bias, on the final norm's output. As transformers reads it, the
 * score of a sequence is the head at its last token that is not pad_token_id (the last token
 * when the config has none). Also the folder's tokenizer and chat template, so that a caller
 * can turn a conversation and a response into the ids the model was trained on. Scoring packs
 * a batch into one forward pass (common/prefix_pack.h), the sequences of a group sharing their
 * common prefix (a conversation scored with K responses is computed once). */
#ifndef SPAR_SEQCLS_H
#define SPAR_SEQCLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/chat.h"
#include "common/hf_folder.h"
#include "common/llama.h"

typedef struct seqcls seqcls_t;

/* A folder: config.json (hf_config_read_seqcls; num_labels other than 1 refused), the weights
 * (the trunk and score.weight; lm_head ignored, anything else refused by name), the tokenizer,
 * and tokenizer_config.json's chat_template when there is one. NULL with why. */
seqcls_t *seqcls_load_dir(const char *dir, char *why, size_t whylen);
/* A random model of c (c->seqcls, num_labels 1) with the tokenizer (and chat template) of
 * tokenizer_dir: trunk as llama_new draws it, score N(0, 0.02). NULL with why. */
seqcls_t *seqcls_new_random(const hf_config_t *c, const char *tokenizer_dir, uint64_t seed, char *why, size_t whylen);
/* Writes a Hugging Face folder (F32) that seqcls_load_dir and transformers read: config.json,
 * model.safetensors (model.* and score.weight) and the tokenizer files. 0 or -errno with why. */
int seqcls_save_dir(const seqcls_t *m, const char *dir, char *why, size_t whylen);
void seqcls_free(seqcls_t **m);

const hf_config_t *seqcls_config(const seqcls_t *m);
/* "Qwen2ForSequenceClassification, 2 layers, d 32, ..." (m's own buffer). */
const char *seqcls_describe(const seqcls_t *m);
llama_t *seqcls_llama(seqcls_t *m);
/* score.weight: d_model floats, writable. */
float *seqcls_score_weight(seqcls_t *m);
/* The folder's chat template, NULL when it has none. */
const chat_template_t *seqcls_template(const seqcls_t *m);

/* Ids of text (malloc'd), with the tokenizer's special tokens (BOS, ...) when add_special.
 * Returns the count or -1 with why. */
int seqcls_encode(const seqcls_t *m, const char *text, int add_special, int32_t **ids, char *why, size_t whylen);
/* The ids the reward of response y to conversation c is read from (*ids malloc'd): the model's
 * chat template rendering of c + [{"role": "assistant", "content": y}] (no generation prompt),
 * encoded with no special tokens added; without a template, the conversation's readable text
 * followed by y, encoded with the special tokens. The count, or -1 with why. */
int seqcls_sequence_ids(const seqcls_t *m, const chat_t *c, const char *y, int32_t **ids, char *why, size_t whylen);
/* The scores of n sequences (ids[i], len[i] >= 1 tokens, at most the context) into out; group
 * as prefix_pack's (NULL: one group). One packed forward pass. Returns 0, or -1 with why (the
 * sequence that is empty or too long named). */
int seqcls_score_ids(seqcls_t *m, const int32_t *const *ids, const int *len, const int *group, int n, double *out,
                     char *why, size_t whylen);

#endif
