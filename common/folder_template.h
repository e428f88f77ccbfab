/* folder_template — the chat template a model folder carries: tokenizer_config.json's
 * "chat_template" (with its bos_token and eos_token), read through common/chat.h. A folder
 * without one is not an error (its users fall back to raw text); a template spar cannot run is. */
#ifndef SPAR_FOLDER_TEMPLATE_H
#define SPAR_FOLDER_TEMPLATE_H

#include <stddef.h>

#include "common/chat.h"

/* DIR's template into *out: 1 when there is one, 0 when the folder has none (no
 * tokenizer_config.json, or no chat_template in it; *out NULL), -1 with why when it has one that
 * cannot be read or run. */
int folder_chat_template(const char *dir, chat_template_t **out, char *why, size_t whylen);

#endif
