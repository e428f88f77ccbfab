/* digest — BLAKE2b-256 (libsodium) of byte buffers: weight blobs and their chunks. */
#ifndef SPAR_DIGEST_H
#define SPAR_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_BYTES 32

/* Incremental form, for data in pieces: begin, update..., end. */
typedef struct {
    _Alignas(64) unsigned char opaque[384]; /* libsodium's crypto_generichash_state */
} digest_state_t;
void digest_begin(digest_state_t *s);
void digest_update(digest_state_t *s, const void *data, size_t len);
void digest_end(digest_state_t *s, uint8_t out[DIGEST_BYTES]);

void digest_compute(const void *data, size_t len, uint8_t out[DIGEST_BYTES]);
/* Hex form (65 bytes with NUL). */
void digest_hex(const uint8_t d[DIGEST_BYTES], char out[2 * DIGEST_BYTES + 1]);

#endif
