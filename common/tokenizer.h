/* tokenizer — spar's byte-level tokenizer: a token per byte (0..255) and GPT_EOT (256), which
 * ends every response. Nothing to train, nothing to ship. */
#ifndef SPAR_TOKENIZER_H
#define SPAR_TOKENIZER_H

#include <stddef.h>

/* Writes the bytes of text as tokens (at most cap); returns how many. */
int tok_encode(const char *text, int *tokens, int cap);
/* The text of tokens (malloc'd), stopping at end-of-text. */
char *tok_decode(const int *tokens, int n);

#endif
