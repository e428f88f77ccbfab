/* fuzz_wire_body — the first byte picks a body type of the Envelope's oneof, the rest are that
 * body's bytes, wrapped in a valid version-1 envelope: every input reaches the body's own checks
 * (rollout group, judge request and reply, work grant, weights chunk, ...) instead of stopping at
 * the envelope's. */
#include <stdlib.h>

#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const ProtobufCFieldDescriptor *f = fuzz_body_field(data[0]);
    size_t len;
    uint8_t *frame = fuzz_wrap_body(f->id, data + 1, size - 1, &len);
    char why[256];
    Spar__Envelope *e = wire_decode(frame, len, 1L << 20, why, sizeof why);
    if (e && (unsigned)e->body_case != f->id) abort(); /* the harness built the wrong frame */
    wire_free(e);
    free(frame);
    return 0;
}
