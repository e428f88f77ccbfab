/* digest — see digest.h. */
#include "common/digest.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

void digest_compute(const void *data, size_t len, uint8_t out[DIGEST_BYTES]) {
    if (sodium_init() < 0) { /* only fails when no entropy source exists: not data-dependent */
        fprintf(stderr, "spar: libsodium failed to initialise\n");
        abort();
    }
    crypto_generichash(out, DIGEST_BYTES, data, len, NULL, 0);
}

void digest_hex(const uint8_t d[DIGEST_BYTES], char out[2 * DIGEST_BYTES + 1]) {
    sodium_bin2hex(out, 2 * DIGEST_BYTES + 1, d, DIGEST_BYTES);
}
