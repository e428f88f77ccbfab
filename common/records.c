/* records — see records.h. */
#include "common/records.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/util.h"

#define RECORD_MAX (1u << 30)

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
    uint8_t *buf = xmalloc(len ? len : 1);
    if (fread(buf, 1, len, f) != len) {
        free(buf);
        *bad = 1;
        return NULL;
    }
    Spar__RolloutGroup *g = spar__rollout_group__unpack(NULL, len, buf);
    free(buf);
    if (!g) *bad = 1;
    return g;
}
