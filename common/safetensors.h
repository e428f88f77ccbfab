/* safetensors — the checkpoint format of the Hugging Face ecosystem, read and written.
 * Layout: 8-byte little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the raw data. Parsing checks every offset and size against the
 * buffer and never trusts the header. */
#ifndef SPAR_SAFETENSORS_H
#define SPAR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

typedef struct {
    char name[128];
    char dtype[8]; /* F32 | F64 | I64 ... */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* points into the parsed buffer (borrowed) */
    size_t nbytes;
} st_tensor_t;

typedef struct {
    st_tensor_t *tensors;
    int n;
    char **meta_keys, **meta_values; /* __metadata__ (string to string) */
    int n_meta;
} st_file_t;

/* The metadata key under which spar records the BLAKE2b-256 (hex) of a file's data section:
 * st_serialize always writes it and st_parse checks it when present, so a checkpoint spar wrote
 * that was truncated or altered is refused on load (files from elsewhere carry none). */
#define ST_DIGEST_KEY "spar_data_blake2b"

/* Parses `buf` (borrowed; tensors point into it). Returns 0 or -1 with the reason in why. */
int st_parse(const void *buf, size_t len, st_file_t *out, char *why, size_t whylen);
const st_tensor_t *st_find(const st_file_t *f, const char *name);
const char *st_meta(const st_file_t *f, const char *key);
void st_free(st_file_t *f);

/* Serialises tensors (data copied) and string metadata, plus the data digest (ST_DIGEST_KEY);
 * returns a malloc'd blob. */
void *st_serialize(const st_tensor_t *tensors, int n, const char *const *meta_keys,
                   const char *const *meta_values, int n_meta, size_t *len_out);

/* Element size of a dtype, 0 when unknown. */
size_t st_dtype_size(const char *dtype);

#endif
