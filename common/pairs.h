/* pairs — JSONL files of {"prompt": ..., "response": ...} lines (SFT data, sequences to score).
 * A bad line stops the reading with "PATH:LINE: what is wrong". */
#ifndef SPAR_PAIRS_H
#define SPAR_PAIRS_H

#include <stddef.h>

/* Called per line; returns 0, or -1 with the reason in why (which stops the reading). */
typedef int (*pairs_fn)(const char *prompt, const char *response, int lineno, void *ctx, char *why, size_t whylen);

/* Returns the number of lines read, or -1 with "PATH:LINE: ..." in err. */
int pairs_read(const char *path, pairs_fn fn, void *ctx, char *err, size_t errlen);

#endif
