/* jsonl — a file of one JSON object per line (iterations.jsonl), read whole. */
#ifndef SPAR_JSONL_H
#define SPAR_JSONL_H

#include <jansson.h>

/* The file's lines that parse, as a JSON array (caller decrefs); NULL when it cannot be opened.
 * A line being written (no newline yet, or cut short) is skipped. */
json_t *jsonl_read(const char *path);

#endif
