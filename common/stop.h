/* stop — rollout.stop: the texts at which a response ends besides the model's EOS ids and
 * max_new. The option holds one text, or several as a JSON list ["a", "b"]. A response ends with
 * the first token whose text completes a stop string: that token is kept (the response's text
 * then holds the stop string, as transformers' stop_strings leaves it), the rest are dropped. */
#ifndef SPAR_STOP_H
#define SPAR_STOP_H

#include <stddef.h>

#define STOP_MAX 16        /* stop strings at most */
#define STOP_MAX_BYTES 256 /* bytes of one at most */

/* The stop strings of an option value (malloc'd list of *n malloc'd strings; empty value: none).
 * Returns 0, or -1 with why (not a list of non-empty strings, too many, too long). */
int stop_parse(const char *value, char ***out, int *n, char *why, size_t whylen);
void stop_free(char **stops, int n);
/* Do the n stop strings satisfy the bounds above (a peer's list is checked before it is used)? */
int stop_valid(const char *const *stops, int n);
/* Where text first completes one of the stops: the end offset of the earliest match, or -1. */
long stop_find(const char *text, const char *const *stops, int n);

#endif
