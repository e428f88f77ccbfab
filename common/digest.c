/* digest — see digest.h. */
#include "common/digest.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

static void s_init(void) {
    if (sodium_init() < 0) { /* only fails when no entropy source exists: not data-dependent */
        fprintf(stderr, "spar: libsodium failed to initialise\n");
        abort();
    }
}

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(digest_state_t), "digest_state_t too small");

void digest_begin(digest_state_t *s) {
    s_init();
    crypto_generichash_init((crypto_generichash_state *)s->opaque, NULL, 0, DIGEST_BYTES);
}

void digest_update(digest_state_t *s, const void *data, size_t len) {
    crypto_generichash_update((crypto_generichash_state *)s->opaque, data, len);
}

void digest_end(digest_state_t *s, uint8_t out[DIGEST_BYTES]) {
    crypto_generichash_final((crypto_generichash_state *)s->opaque, out, DIGEST_BYTES);
}

void digest_compute(const void *data, size_t len, uint8_t out[DIGEST_BYTES]) {
    s_init();
    crypto_generichash(out, DIGEST_BYTES, data, len, NULL, 0);
}

void digest_hex(const uint8_t d[DIGEST_BYTES], char out[2 * DIGEST_BYTES + 1]) {
    sodium_bin2hex(out, 2 * DIGEST_BYTES + 1, d, DIGEST_BYTES);
}
