/* fuzz — helpers the libFuzzer targets and the corpus generator share: which Envelope fields are
 * bodies (fuzz_wire_body's first byte picks one by index), and wrapping body bytes in a valid
 * version-1 envelope. Header-only: each target is one translation unit. */
#ifndef SPAR_FUZZ_H
#define SPAR_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"
#include "common/wire.h"

/* The i-th field of the Envelope's body oneof (i taken modulo their count), read from the
 * descriptor so a body type added to proto/spar.proto is fuzzed without a change here. */
static inline const ProtobufCFieldDescriptor *fuzz_body_field(unsigned i) {
    const ProtobufCMessageDescriptor *d = &spar__envelope__descriptor;
    unsigned n = 0;
    for (unsigned f = 0; f < d->n_fields; f++)
        if (d->fields[f].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) n++;
    i %= n;
    for (unsigned f = 0; f < d->n_fields; f++)
        if ((d->fields[f].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && i-- == 0) return &d->fields[f];
    return NULL;
}

static inline size_t fuzz_varint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* A malloc'd envelope: protocol_version = 1 and `body` (len bytes) as field `id`. */
static inline uint8_t *fuzz_wrap_body(unsigned id, const uint8_t *body, size_t len, size_t *len_out) {
    uint8_t *e = xmalloc(len + 32), *p = e;
    *p++ = 0x08; /* field 1 (protocol_version), varint */
    p += fuzz_varint(p, WIRE_PROTOCOL_VERSION);
    p += fuzz_varint(p, (uint64_t)id << 3 | 2); /* length-delimited */
    p += fuzz_varint(p, len);
    if (len) memcpy(p, body, len);
    *len_out = (size_t)(p - e) + len;
    return e;
}

#endif
