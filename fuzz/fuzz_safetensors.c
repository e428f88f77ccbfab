/* fuzz_safetensors — st_parse on any bytes. An accepted file must keep st_parse's promises, which
 * every loader relies on: each tensor's bytes lie inside the buffer and equal its shape times
 * its dtype's size (no overflow); and what st_serialize writes of it parses back the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check(const uint8_t *buf, size_t len, const st_tensor_t *t) {
    uint64_t count = 1;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || __builtin_mul_overflow(count, (uint64_t)t->shape[d], &count)) {
            fprintf(stderr, "fuzz_safetensors: %s: shape overflows\n", t->name);
            abort();
        }
    uint64_t bytes;
    if (__builtin_mul_overflow(count, (uint64_t)st_dtype_size(t->dtype), &bytes) || bytes != t->nbytes) {
        fprintf(stderr, "fuzz_safetensors: %s: %zu bytes do not match its shape\n", t->name, t->nbytes);
        abort();
    }
    const uint8_t *p = t->data;
    if (p < buf || p > buf + len || t->nbytes > (size_t)(buf + len - p)) {
        fprintf(stderr, "fuzz_safetensors: %s: data outside the buffer\n", t->name);
        abort();
    }
}

static void s_round_trip(const st_file_t *f) {
    size_t len;
    void *blob = st_serialize(f->tensors, f->n, (const char *const *)f->meta_keys,
                              (const char *const *)f->meta_values, f->n_meta, &len);
    st_file_t g;
    char why[256];
    if (st_parse(blob, len, &g, why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_safetensors: st_serialize wrote a file st_parse refuses: %s\n", why);
        abort();
    }
    if (g.n != f->n) abort();
    for (int i = 0; i < f->n; i++) {
        const st_tensor_t *a = &f->tensors[i], *b = st_find(&g, a->name);
        if (!b || strcmp(a->dtype, b->dtype) || a->ndim != b->ndim || a->nbytes != b->nbytes ||
            memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) ||
            (a->nbytes && memcmp(a->data, b->data, a->nbytes))) {
            fprintf(stderr, "fuzz_safetensors: tensor %s changed in a round trip\n", a->name);
            abort();
        }
    }
    st_free(&g);
    free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file_t f;
    char why[256];
    if (st_parse(data, size, &f, why, sizeof why) != 0) return 0;
    for (int i = 0; i < f.n; i++) s_check(data, size, &f.tensors[i]);
    for (int i = 0; i < f.n_meta; i++)
        if (st_meta(&f, f.meta_keys[i]) == NULL) abort();
    s_round_trip(&f);
    st_free(&f);
    return 0;
}
