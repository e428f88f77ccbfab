/* tokenizer — spar's byte-level tokenizer: a token per byte (0..255) and GPT_EOT (256), which
 * ends every response. Nothing to train, nothing to ship. */
#ifndef SPAR_TOKENIZER_H
#define SPAR_TOKENIZER_H

#include <stddef.h>

/* Writes the bytes of text as tokens (at most cap); returns how many. */
int tok_encode(const char *text, int *tokens, int cap);
/* A scored or trained sequence: prompt bytes, response bytes, end-of-text, in at most ctx
 * tokens. Returns its length and sets *prompt_len, or -1 when the prompt is empty or the whole
 * does not fit. */
int tok_encode_pair(const char *prompt, const char *response, int *tokens, int ctx, int *prompt_len);

/* The text of tokens (malloc'd), stopping at end-of-text. */
char *tok_decode(const int *tokens, int n);

#endif
