/* fuzz_pairs — any text as a JSONL data file, read by both readers: pairs_read_stream (SFT
 * data) and prefs_read_stream (judge preference data). The callbacks get NUL-terminated strings
 * or the reading stops with a message. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/pairs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t s_sink; /* keeps the strlen calls, which touch every byte handed over */

static int s_pair(const char *prompt, const char *response, int lineno, void *ctx, char *why, size_t wl) {
    (void)lineno, (void)ctx, (void)why, (void)wl;
    s_sink += strlen(prompt) + strlen(response);
    return 0;
}

static int s_pref(const char *prompt, const char *chosen, const char *rejected, int tie, int lineno, void *ctx,
                  char *why, size_t wl) {
    (void)lineno, (void)ctx, (void)why, (void)wl;
    s_sink += strlen(prompt) + strlen(chosen) + strlen(rejected) + (size_t)tie;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char err[512];
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f) return 0;
    (void)pairs_read_stream(f, "fuzz.jsonl", s_pair, NULL, err, sizeof err);
    rewind(f);
    (void)prefs_read_stream(f, "fuzz.jsonl", s_pref, NULL, err, sizeof err);
    fclose(f);
    return 0;
}
