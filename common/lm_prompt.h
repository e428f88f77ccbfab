/* lm_prompt — how a language model reads a prompt (lm_encode_prompt): as text, encoded with the
 * tokenizer's special tokens added (spar's arith and styles tasks, `spar sample`); or as a
 * conversation (common/chat.h JSON, task.kind prompts), rendered with a chat template and encoded
 * with no special tokens added, which is what transformers' apply_chat_template(tokenize=True,
 * add_generation_prompt=True) gives the model; or, with task.template none, a conversation of one
 * user turn whose text is read as text. The format travels in the model's blob (metadata
 * "prompt_format", and "chat_template" for a template given in a file), so an actor reads every
 * prompt exactly as the learner does. Private to common/lm.c. */
#ifndef SPAR_LM_PROMPT_H
#define SPAR_LM_PROMPT_H

#include <stddef.h>

#include "common/hf_folder.h"

typedef struct lm_prompt lm_prompt_t;

/* format: "text"; "auto" (the chat_template of the tokenizer_config.json among files); "none";
 * or "jinja" with source the template's text (the BOS and EOS strings from tokenizer_config.json
 * when there is one). NULL with why (no chat_template, a template spar refuses). */
lm_prompt_t *lm_prompt_new(const char *format, const char *source, const hf_file_t *files, int n_files, char *why,
                           size_t whylen);
/* A copy for a model with the same files (a clone). */
lm_prompt_t *lm_prompt_copy(const lm_prompt_t *p, const hf_file_t *files, int n_files);
void lm_prompt_free(lm_prompt_t **p);

/* The text to encode for prompt (malloc'd into *text) and whether the tokenizer's special tokens
 * are added (*add_special). Returns 0, or -1 with why (not a conversation, a template error). */
int lm_prompt_text(const lm_prompt_t *p, const char *prompt, char **text, int *add_special, char *why, size_t whylen);

/* The blob metadata of the format: "prompt_format" = "chat" | "none" | "jinja", and for jinja
 * "chat_template" = its source; *n pairs written into keys/values (at most 2). Text writes none. */
void lm_prompt_meta(const lm_prompt_t *p, const char **keys, const char **values, int *n);
/* The format a blob's metadata names (prompt_format absent: text), for the model's files. */
lm_prompt_t *lm_prompt_from_meta(const char *prompt_format, const char *chat_template, const hf_file_t *files,
                                 int n_files, char *why, size_t whylen);
/* "text", "chat", "none" or "jinja". */
const char *lm_prompt_name(const lm_prompt_t *p);

#endif
