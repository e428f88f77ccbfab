/* digest — BLAKE2b-256 (libsodium) of byte buffers: weight blobs and their chunks. */
#ifndef SPAR_DIGEST_H
#define SPAR_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_BYTES 32

void digest_compute(const void *data, size_t len, uint8_t out[DIGEST_BYTES]);
/* Hex form (65 bytes with NUL). */
void digest_hex(const uint8_t d[DIGEST_BYTES], char out[2 * DIGEST_BYTES + 1]);

#endif
