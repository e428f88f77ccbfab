/* pairs — JSONL data files, one JSON object per line:
 *   {"prompt": ..., "response": ...}                          SFT data, sequences to score;
 *   {"prompt": ..., "chosen": ..., "rejected": ..., "tie": b}  preference data for judge models
 *                                                             ("tie" optional, default false).
 * A bad line stops the reading with "PATH:LINE: what is wrong". */
#ifndef SPAR_PAIRS_H
#define SPAR_PAIRS_H

#include <stddef.h>
#include <stdio.h>

/* Called per line; returns 0, or -1 with the reason in why (which stops the reading). */
typedef int (*pairs_fn)(const char *prompt, const char *response, int lineno, void *ctx, char *why, size_t whylen);
typedef int (*prefs_fn)(const char *prompt, const char *chosen, const char *rejected, int tie, int lineno, void *ctx,
                        char *why, size_t whylen);

/* Return the number of lines read, or -1 with "PATH:LINE: ..." in err. */
int pairs_read(const char *path, pairs_fn fn, void *ctx, char *err, size_t errlen);
int prefs_read(const char *path, prefs_fn fn, void *ctx, char *err, size_t errlen);
/* The same from an open stream (left open); `name` stands for the path in messages. */
int pairs_read_stream(FILE *f, const char *name, pairs_fn fn, void *ctx, char *err, size_t errlen);
int prefs_read_stream(FILE *f, const char *name, prefs_fn fn, void *ctx, char *err, size_t errlen);

#endif
