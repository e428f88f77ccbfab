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

/* The file st_serialize's blob would be, written straight from the tensors (no copy in memory)
 * with util_write_atomic_parts. Returns 0 or -errno. */
int st_write_atomic(const char *path, const st_tensor_t *tensors, int n, const char *const *meta_keys,
                    const char *const *meta_values, int n_meta);

/* Element size of a dtype, 0 when unknown. */
size_t st_dtype_size(const char *dtype);
/* Elements of a tensor (the product of its shape). */
size_t st_count(const st_tensor_t *t);

/* ---- 16-bit floats ------------------------------------------------------------------------
 * F16 and BF16 widen to F32 exactly (every value, subnormals, infinities and NaN payloads);
 * F32 narrows to BF16 rounding to nearest, ties to even, as torch's .to(torch.bfloat16) does
 * (NaN stays a quiet NaN of the same sign). */
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);
/* A tensor's elements (F32, F16 or BF16, little-endian, any alignment) as F32 into out, which
 * holds st_count(t) floats. Returns 0, or -1 for another dtype (out untouched). */
int st_to_f32(const st_tensor_t *t, float *out);

/* ---- big files ----------------------------------------------------------------------------
 * A file mapped read-only into memory and parsed (the digest checked as st_parse does): its
 * tensors point into the mapping, so a multi-GB checkpoint costs page cache, not a malloc'd
 * copy. */
typedef struct {
    st_file_t f;
    void *map;
    size_t len;
} st_mapped_t;

/* Returns 0, or -1 with the reason (naming path) in why. */
int st_map(const char *path, st_mapped_t *out, char *why, size_t whylen);
void st_unmap(st_mapped_t *m);

/* Writes the tensors to path as one safetensors file, streamed (no blob of the whole file in
 * memory), with the metadata pairs and the data digest (ST_DIGEST_KEY), then fsyncs it. Not
 * atomic by itself: write into a temporary name or folder and rename. bf16 != 0: every tensor
 * must be F32 and is stored as BF16 (st_f32_to_bf16). Returns 0 or -errno with why. */
int st_write(const char *path, const st_tensor_t *tensors, int n, const char *const *meta_keys,
             const char *const *meta_values, int n_meta, int bf16, char *why, size_t whylen);

#endif
