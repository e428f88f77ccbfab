/* wire_scan — see wire_scan.h. The protobuf wire format: each field is a varint key
 * (number << 3 | wire type) followed by a varint (type 0), 8 bytes (1), a varint length and that
 * many bytes (2), or 4 bytes (5); groups (3, 4) are not used by proto3 and are refused. */
#include "common/wire_scan.h"

#include <stdint.h>
#include <stdio.h>

typedef struct {
    const uint8_t *p, *end;
} cursor_t;

/* Reads a varint of at most 10 bytes. Returns 0 or -1 (truncated or too long). */
static int s_varint(cursor_t *c, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->p >= c->end) return -1;
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* In-memory size of one element of a scalar field. */
static size_t s_elem_size(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 8;
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    default: return 4;
    }
}

/* Elements in a packed run of a scalar type (-1: not a whole number of them). */
static long s_packed_count(ProtobufCType t, const uint8_t *p, size_t len) {
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return len % 8 ? -1 : (long)(len / 8);
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return len % 4 ? -1 : (long)(len / 4);
    default: { /* varints: one per byte without the continuation bit */
        long n = 0;
        for (size_t i = 0; i < len; i++) n += !(p[i] & 0x80);
        return len && (p[len - 1] & 0x80) ? -1 : n;
    }
    }
}

int wire_utf8_valid(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || i + n > len) return 0;
        uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; k < n; k++) {
            if ((u[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (u[i + k] & 0x3f);
        }
        static const uint32_t min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_of[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += n;
    }
    return 1;
}

int wire_text_printable(const char *s) {
    size_t len = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++, len++) {
        if (*u < 0x20 || *u == 0x7f) return 0;
        if (*u == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) return 0; /* C1 controls, U+0080..U+009F */
    }
    return wire_utf8_valid(s, len);
}

/* One field's key and extent, as the wire states them. */
typedef struct {
    uint64_t number;
    unsigned wt; /* wire type */
    const uint8_t *body;
    size_t blen;
} field_t;

/* Reads the next field's key and steps over its value. Returns 0, or -1 with why. */
static int s_next_field(const ProtobufCMessageDescriptor *desc, cursor_t *c, field_t *fl, char *why, size_t wl) {
    uint64_t key, v;
    if (s_varint(c, &key) != 0) {
        snprintf(why, wl, "%s: truncated field key", desc->short_name);
        return -1;
    }
    fl->wt = (unsigned)(key & 7);
    fl->number = key >> 3;
    fl->body = c->p;
    fl->blen = 0;
    int whole = 1;
    switch (fl->wt) {
    case 0: whole = s_varint(c, &v) == 0; break;
    case 1:
    case 5:
        fl->blen = fl->wt == 1 ? 8 : 4;
        whole = (size_t)(c->end - c->p) >= fl->blen;
        if (whole) c->p += fl->blen;
        break;
    case 2:
        whole = s_varint(c, &v) == 0 && v <= (uint64_t)(c->end - c->p);
        if (whole) fl->body = c->p, fl->blen = (size_t)v, c->p += fl->blen;
        break;
    default: snprintf(why, wl, "%s: wire type %u is not used by spar", desc->short_name, fl->wt); return -1;
    }
    if (!whole) {
        snprintf(why, wl, "%s: truncated field %llu", desc->short_name, (unsigned long long)fl->number);
        return -1;
    }
    return 0;
}

static int s_scan(const ProtobufCMessageDescriptor *desc, cursor_t c, int depth, wire_scan_t *out, char *why,
                  size_t wl);

/* What a known field costs to unpack (a message field: its scan). Returns 0, or -1 with why. */
static int s_known_field(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *f, const field_t *fl,
                         int depth, wire_scan_t *out, char *why, size_t wl) {
    int repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (fl->wt != 2) goto mismatch;
        out->decoded_bytes += repeated ? sizeof(void *) : 0;
        cursor_t sub = {fl->body, fl->body + fl->blen};
        return s_scan(f->descriptor, sub, depth + 1, out, why, wl);
    }
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_BYTES) {
        if (fl->wt != 2) goto mismatch;
        if (f->type == PROTOBUF_C_TYPE_STRING && !wire_utf8_valid((const char *)fl->body, fl->blen)) {
            snprintf(why, wl, "%s.%s is not UTF-8", desc->short_name, f->name);
            return -1;
        }
        out->decoded_bytes += fl->blen + 1 + (repeated ? s_elem_size(f->type) : 0);
    } else if (fl->wt == 2) { /* a packed run of scalars */
        long n = repeated ? s_packed_count(f->type, fl->body, fl->blen) : -1;
        if (n < 0) goto mismatch;
        out->decoded_bytes += (size_t)n * s_elem_size(f->type);
    } else {
        out->decoded_bytes += repeated ? s_elem_size(f->type) : 0;
    }
    return 0;
mismatch:
    snprintf(why, wl, "%s.%s with wire type %u", desc->short_name, f->name, fl->wt);
    return -1;
}

static int s_scan(const ProtobufCMessageDescriptor *desc, cursor_t c, int depth, wire_scan_t *out, char *why,
                  size_t wl) {
    if (depth > WIRE_SCAN_MAX_DEPTH) {
        snprintf(why, wl, "messages nested more than %d deep", WIRE_SCAN_MAX_DEPTH);
        return -1;
    }
    out->decoded_bytes += desc->sizeof_message;
    while (c.p < c.end) {
        field_t fl;
        if (s_next_field(desc, &c, &fl, why, wl) != 0) return -1;
        const ProtobufCFieldDescriptor *f = fl.number > 0 && fl.number <= UINT32_MAX
                                                ? protobuf_c_message_descriptor_get_field(desc, (unsigned)fl.number)
                                                : NULL;
        if (!f) {
            if (++out->unknown > WIRE_SCAN_MAX_UNKNOWN) {
                snprintf(why, wl, "more than %d unknown fields", WIRE_SCAN_MAX_UNKNOWN);
                return -1;
            }
            out->decoded_bytes += sizeof(ProtobufCMessageUnknownField) + fl.blen;
            continue;
        }
        if (s_known_field(desc, f, &fl, depth, out, why, wl) != 0) return -1;
    }
    return 0;
}

int wire_scan(const ProtobufCMessageDescriptor *desc, const void *data, size_t len, size_t max_decoded,
              wire_scan_t *out, char *why, size_t whylen) {
    wire_scan_t s = {0, 0};
    cursor_t c = {(const uint8_t *)data, (const uint8_t *)data + len};
    if (s_scan(desc, c, 0, &s, why, whylen) != 0) return -1;
    if (s.decoded_bytes > max_decoded) {
        snprintf(why, whylen, "a %zu-byte frame would decode into %zu bytes (limit %zu)", len, s.decoded_bytes,
                 max_decoded);
        return -1;
    }
    if (out) *out = s;
    return 0;
}
