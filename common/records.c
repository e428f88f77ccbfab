/* records — see records.h. */
#include "common/records.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/util.h"
#include "common/wire.h"

#define RECORD_MAX (1u << 30)
#define RECORD_FIRST_READ (64u << 10)

int records_append(FILE *f, const Spar__RolloutGroup *g) {
    size_t len = spar__rollout_group__get_packed_size(g);
    uint8_t hdr[10];
    int h = 0;
    uint64_t v = len;
    do {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    uint8_t *buf = xmalloc(len);
    spar__rollout_group__pack(g, buf);
    int rc = (fwrite(hdr, 1, (size_t)h, f) == (size_t)h && fwrite(buf, 1, len, f) == len) ? 0 : -1;
    free(buf);
    return rc;
}

/* len bytes from f in a buffer that grows as they arrive, so a corrupt length costs what the file
 * holds rather than what it claims; NULL when the file ends first. */
static uint8_t *s_read_exact(FILE *f, size_t len) {
    size_t cap = len < RECORD_FIRST_READ ? len : RECORD_FIRST_READ, got = 0;
    uint8_t *buf = xmalloc(cap ? cap : 1);
    while (got < len) {
        if (got == cap) {
            cap = len - cap < cap ? len : 2 * cap; /* doubles, up to len */
            buf = xrealloc(buf, cap);
        }
        size_t n = fread(buf + got, 1, cap - got, f);
        if (n == 0) {
            free(buf);
            return NULL;
        }
        got += n;
    }
    return buf;
}

Spar__RolloutGroup *records_next(FILE *f, int *bad) {
    *bad = 0;
    uint64_t len = 0;
    int shift = 0, c;
    for (;;) {
        c = fgetc(f);
        if (c == EOF) {
            if (shift) *bad = 1;
            return NULL;
        }
        len |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80)) break;
        if (shift > 35) {
            *bad = 1;
            return NULL;
        }
    }
    if (len > RECORD_MAX) {
        *bad = 1;
        return NULL;
    }
    uint8_t *buf = s_read_exact(f, (size_t)len);
    if (!buf) {
        *bad = 1;
        return NULL;
    }
    Spar__RolloutGroup *g = spar__rollout_group__unpack(NULL, len, buf);
    free(buf);
    char why[256];
    /* The learner appends only groups wire accepted, and replay and resume train on what comes
     * back: a record that would not pass the same checks is corrupt. */
    if (g && wire_check_rollout_group(g, why, sizeof why) != 0) {
        spar__rollout_group__free_unpacked(g, NULL);
        g = NULL;
    }
    if (!g) *bad = 1;
    return g;
}
