/* fuzz_wire — whole frames into wire_decode, as wire_recv hands them over. Besides not crashing,
 * an accepted envelope must still be accepted after a re-pack: its checks depend only on the
 * message, not on how its bytes were laid out. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz/fuzz.h"

#define FRAME_MAX (1L << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field number 0 is not protobuf, yet protobuf-c 1.4 keeps it as an unknown field when its tag
 * is written in more bytes than needed, and re-packs it in one byte, which it then refuses. */
static int s_has_field_zero(const ProtobufCMessage *m) {
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0) return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned f = 0; f < d->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        const char *member = (const char *)m + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + fd->quantifier_offset);
            ProtobufCMessage *const *sub = *(ProtobufCMessage *const *const *)member;
            for (size_t k = 0; k < n; k++)
                if (s_has_field_zero(sub[k])) return 1;
        } else {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
            if (sub && (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
                        *(const uint32_t *)((const char *)m + fd->quantifier_offset) == fd->id) &&
                s_has_field_zero(sub))
                return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[256];
    Spar__Envelope *e = wire_decode(data, size, FRAME_MAX, why, sizeof why);
    if (!e) return 0;
    (void)wire_body_name(e);
    if (s_has_field_zero(&e->base)) {
        wire_free(e);
        return 0;
    }
    size_t len = spar__envelope__get_packed_size(e);
    uint8_t *buf = xmalloc(len);
    spar__envelope__pack(e, buf);
    /* A re-pack may be longer (packed repeated fields are not); allow for it. */
    Spar__Envelope *again = wire_decode(buf, len, (long)len, why, sizeof why);
    if (!again || again->body_case != e->body_case) {
        fprintf(stderr, "fuzz_wire: an accepted %s envelope is refused after a re-pack: %s\n", wire_body_name(e),
                again ? "body type changed" : why);
        abort();
    }
    Spar__RolloutGroup *g = wire_take_rollout_group(again);
    if (g) spar__rollout_group__free_unpacked(g, NULL);
    wire_free(again);
    wire_free(e);
    free(buf);
    return 0;
}
