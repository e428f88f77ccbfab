/* wire_scan — a walk over a protobuf frame, checked against the message's descriptor, before
 * protobuf-c's unpack allocates anything. A peer controls the frame, and unpack's memory is not
 * proportional to it: a 2-byte empty sub-message costs a whole struct, an unknown field a
 * record and a copy. The scan bounds what unpack would allocate (the estimate below), the
 * number of unknown fields, the nesting depth, and requires every string to be valid UTF-8 (as
 * proto3 does), so a frame that passes unpacks in memory proportional to its size.
 * It needs no socket: wire_decode calls it, and the fuzzers reach it through wire_decode. */
#ifndef SPAR_WIRE_SCAN_H
#define SPAR_WIRE_SCAN_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define WIRE_SCAN_MAX_UNKNOWN 64 /* unknown fields per frame (room for newer peers' additions) */
#define WIRE_SCAN_MAX_DEPTH 8    /* spar's messages nest three deep */

typedef struct {
    size_t decoded_bytes; /* what unpack would allocate, roughly (structs, arrays, strings) */
    size_t unknown;       /* unknown fields seen */
} wire_scan_t;

/* Scans data as a message of type desc. Returns 0 with the figures in out, or -1 with the
 * reason in why (truncated field, bad wire type, too many unknown fields, too deep, a string
 * that is not UTF-8, or a decoded size above max_decoded). */
int wire_scan(const ProtobufCMessageDescriptor *desc, const void *data, size_t len, size_t max_decoded,
              wire_scan_t *out, char *why, size_t whylen);

/* 1 when s[0..len) is valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
int wire_utf8_valid(const char *s, size_t len);

/* 1 when s is valid UTF-8 without control characters (C0, DEL, C1): safe for one log line,
 * a label in /metrics, a JSON string. */
int wire_text_printable(const char *s);

#endif
