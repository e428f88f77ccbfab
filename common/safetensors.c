/* safetensors — see safetensors.h. JSON through jansson; big files through mmap. */
#include "common/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/util.h"

#define ST_MAX_HEADER (100u << 20)

size_t st_dtype_size(const char *d) {
    if (!strcmp(d, "F64") || !strcmp(d, "I64") || !strcmp(d, "U64")) return 8;
    if (!strcmp(d, "F32") || !strcmp(d, "I32") || !strcmp(d, "U32")) return 4;
    if (!strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "I16") || !strcmp(d, "U16")) return 2;
    if (!strcmp(d, "I8") || !strcmp(d, "U8") || !strcmp(d, "BOOL")) return 1;
    return 0;
}

void st_free(st_file_t *f) {
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    memset(f, 0, sizeof *f);
}

static int s_fail(st_file_t *f, json_t *root, char *why, size_t wl, const char *msg, const char *name) {
    snprintf(why, wl, "%s%s%s", name ? name : "", name ? ": " : "", msg);
    json_decref(root);
    st_free(f);
    return -1;
}

/* The readers below return NULL, or what is wrong; *name: the key it is about (or NULL). */

static const char *s_read_metadata(st_file_t *out, json_t *meta, const char **name) {
    if (!json_is_object(meta)) return "metadata is not an object";
    size_t m = json_object_size(meta);
    out->meta_keys = xcalloc(m, sizeof(char *));
    out->meta_values = xcalloc(m, sizeof(char *));
    const char *mk;
    json_t *mv;
    json_object_foreach(meta, mk, mv) {
        if (!json_is_string(mv)) {
            *name = mk;
            return "metadata value is not a string";
        }
        out->meta_keys[out->n_meta] = xstrdup(mk);
        out->meta_values[out->n_meta++] = xstrdup(json_string_value(mv));
    }
    return NULL;
}

/* The dimensions into t, their product into *count. */
static const char *s_read_shape(st_tensor_t *t, json_t *sh, uint64_t *count) {
    if (json_array_size(sh) > ST_MAX_DIMS) return "too many dimensions";
    t->ndim = (int)json_array_size(sh);
    *count = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *v = json_array_get(sh, (size_t)d);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1LL << 40)) return "bad shape";
        t->shape[d] = json_integer_value(v);
        /* checked before multiplying: (2^32, 2^32) would wrap to 0 elements in 0 bytes */
        if (t->shape[d] && *count > (1ULL << 40) / (uint64_t)t->shape[d]) return "tensor too large";
        *count *= (uint64_t)t->shape[d];
    }
    return NULL;
}

/* One tensor's entry: its bytes must lie in the data and match its dtype and shape. */
static const char *s_read_tensor(st_tensor_t *t, const char *key, json_t *val, const uint8_t *data, size_t data_len,
                                 const char **name) {
    if (strlen(key) >= sizeof t->name) return "tensor name too long";
    *name = key;
    snprintf(t->name, sizeof t->name, "%s", key);
    json_t *dt = json_object_get(val, "dtype"), *sh = json_object_get(val, "shape"),
           *off = json_object_get(val, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off) || json_array_size(off) != 2)
        return "needs dtype, shape and data_offsets";
    size_t esz = st_dtype_size(json_string_value(dt));
    if (!esz) return "unknown dtype";
    snprintf(t->dtype, sizeof t->dtype, "%s", json_string_value(dt));
    uint64_t count;
    const char *bad = s_read_shape(t, sh, &count);
    if (bad) return bad;
    json_t *o0 = json_array_get(off, 0), *o1 = json_array_get(off, 1);
    if (!json_is_integer(o0) || !json_is_integer(o1)) return "bad data_offsets";
    json_int_t begin = json_integer_value(o0), end = json_integer_value(o1);
    if (begin < 0 || end < begin || (uint64_t)end > data_len) return "data_offsets outside the file";
    if ((uint64_t)(end - begin) != count * esz) return "byte size does not match dtype and shape";
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return NULL;
}

/* A file spar wrote records its data's digest: the data must be what it wrote. */
static int s_check_digest(const st_file_t *f, const uint8_t *data, size_t data_len, char *why, size_t wl) {
    const char *want = st_meta(f, ST_DIGEST_KEY);
    if (!want) return 0;
    uint8_t d[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1];
    digest_compute(data, data_len, d);
    digest_hex(d, hex);
    if (strcmp(hex, want) != 0) {
        snprintf(why, wl, "data digest %.16s... does not match the recorded %.16s...: the file is corrupt", hex, want);
        return -1;
    }
    return 0;
}

int st_parse(const void *buf, size_t len, st_file_t *out, char *why, size_t wl) {
    memset(out, 0, sizeof *out);
    const uint8_t *b = buf;
    if (len < 8) return s_fail(out, NULL, why, wl, "shorter than the 8-byte header length", NULL);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];
    if (hlen > ST_MAX_HEADER || hlen > len - 8)
        return s_fail(out, NULL, why, wl, "header length exceeds the file", NULL);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)b + 8, (size_t)hlen, 0, &jerr);
    if (!root || !json_is_object(root))
        return s_fail(out, root, why, wl, "header is not a JSON object", NULL);
    const uint8_t *data = b + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;
    out->tensors = xcalloc(json_object_size(root), sizeof *out->tensors);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        const char *name = NULL, *bad;
        if (!strcmp(key, "__metadata__")) bad = s_read_metadata(out, val, &name);
        else if (!(bad = s_read_tensor(&out->tensors[out->n], key, val, data, data_len, &name))) out->n++;
        if (bad) return s_fail(out, root, why, wl, bad, name);
    }
    json_decref(root);
    if (s_check_digest(out, data, data_len, why, wl) != 0) {
        st_free(out);
        return -1;
    }
    return 0;
}

const st_tensor_t *st_find(const st_file_t *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file_t *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

/* The header (8-byte length, JSON, spaces to an 8-byte boundary) of tensors stored as dtype
 * (NULL: each its own) at element size esz (0: each its own), with the metadata and the data
 * digest hex. Returns it malloc'd, its length in *len and the data length in *data_len. */
static uint8_t *s_header(const st_tensor_t *tensors, int n, const char *const *meta_keys,
                         const char *const *meta_values, int n_meta, const char *hex, const char *dtype,
                         size_t *len, size_t *data_len) {
    json_t *root = json_object(), *meta = json_object();
    for (int i = 0; i < n_meta; i++) json_object_set_new(meta, meta_keys[i], json_string(meta_values[i]));
    json_object_set_new(meta, ST_DIGEST_KEY, json_string(hex));
    json_object_set_new(root, "__metadata__", meta);
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        const st_tensor_t *t = &tensors[i];
        size_t nbytes = dtype ? st_count(t) * st_dtype_size(dtype) : t->nbytes;
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *entry = json_object();
        json_object_set_new(entry, "dtype", json_string(dtype ? dtype : t->dtype));
        json_object_set_new(entry, "shape", shape);
        json_object_set_new(entry, "data_offsets", json_pack("[II]", (json_int_t)offset, (json_int_t)(offset + nbytes)));
        json_object_set_new(root, t->name, entry);
        offset += nbytes;
    }
    char *header = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) & ~(size_t)7; /* data starts 8-byte aligned */
    uint8_t *out = xmalloc(8 + padded);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(out + 8, header, hlen);
    memset(out + 8 + hlen, ' ', padded - hlen);
    free(header);
    *len = 8 + padded;
    *data_len = offset;
    return out;
}

/* The header, with the digest of the tensors' data. */
static uint8_t *s_digested_header(const st_tensor_t *tensors, int n, const char *const *meta_keys,
                                  const char *const *meta_values, int n_meta, size_t *hlen, size_t *dlen) {
    uint8_t d[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1];
    digest_state_t ds;
    digest_begin(&ds);
    for (int i = 0; i < n; i++) digest_update(&ds, tensors[i].data, tensors[i].nbytes);
    digest_end(&ds, d);
    digest_hex(d, hex);
    return s_header(tensors, n, meta_keys, meta_values, n_meta, hex, NULL, hlen, dlen);
}

int st_write_atomic(const char *path, const st_tensor_t *tensors, int n, const char *const *meta_keys,
                    const char *const *meta_values, int n_meta) {
    size_t hlen, dlen;
    uint8_t *header = s_digested_header(tensors, n, meta_keys, meta_values, n_meta, &hlen, &dlen);
    const void **parts = xmalloc(sizeof *parts * (size_t)(n + 1));
    size_t *lens = xmalloc(sizeof *lens * (size_t)(n + 1));
    parts[0] = header;
    lens[0] = hlen;
    for (int i = 0; i < n; i++) parts[i + 1] = tensors[i].data, lens[i + 1] = tensors[i].nbytes;
    int rc = util_write_atomic_parts(path, parts, lens, n + 1);
    free(parts), free(lens), free(header);
    return rc;
}

void *st_serialize(const st_tensor_t *tensors, int n, const char *const *meta_keys,
                   const char *const *meta_values, int n_meta, size_t *len_out) {
    size_t hlen, dlen;
    uint8_t *header = s_digested_header(tensors, n, meta_keys, meta_values, n_meta, &hlen, &dlen);
    uint8_t *blob = xmalloc(hlen + dlen);
    memcpy(blob, header, hlen);
    free(header);
    uint8_t *p = blob + hlen;
    for (int i = 0; i < n; i++) {
        memcpy(p, tensors[i].data, tensors[i].nbytes);
        p += tensors[i].nbytes;
    }
    *len_out = hlen + dlen;
    return blob;
}

size_t st_count(const st_tensor_t *t) {
    size_t c = 1;
    for (int d = 0; d < t->ndim; d++) c *= (size_t)t->shape[d];
    return c;
}

/* ---- 16-bit floats ---------------------------------------------------------------------- */

static float s_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float st_bf16_to_f32(uint16_t h) { return s_bits_f32((uint32_t)h << 16); /* BF16 is F32's top half */ }

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in F32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31) return s_bits_f32(sign | 0x7f800000u | (mant << 13)); /* inf, or NaN keeping its payload */
    return s_bits_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

uint16_t st_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040); /* NaN: quiet, never rounded to inf */
    u += 0x7fffu + ((u >> 16) & 1); /* round to nearest, ties to the even half */
    return (uint16_t)(u >> 16);
}

int st_to_f32(const st_tensor_t *t, float *out) {
    size_t n = st_count(t);
    const uint8_t *p = t->data;
    if (!strcmp(t->dtype, "F32")) {
        memcpy(out, p, n * 4); /* the file's data may be unaligned for floats */
    } else if (!strcmp(t->dtype, "BF16") || !strcmp(t->dtype, "F16")) {
        int bf = t->dtype[0] == 'B';
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            out[i] = bf ? st_bf16_to_f32(h) : st_f16_to_f32(h);
        }
    } else {
        return -1;
    }
    return 0;
}

/* ---- big files -------------------------------------------------------------------------- */

int st_map(const char *path, st_mapped_t *out, char *why, size_t wl) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, wl, "%s: cannot read: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (st.st_size < 8) {
        close(fd);
        snprintf(why, wl, "%s: shorter than the 8-byte header length", path);
        return -1;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd); /* the mapping keeps the file */
    if (map == MAP_FAILED) {
        snprintf(why, wl, "%s: cannot map: %s", path, strerror(errno));
        return -1;
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL); /* read front to back: digest, then tensors */
    char inner[400];
    if (st_parse(map, (size_t)st.st_size, &out->f, inner, sizeof inner) != 0) {
        munmap(map, (size_t)st.st_size);
        snprintf(why, wl, "%s: %s", path, inner);
        return -1;
    }
    out->map = map;
    out->len = (size_t)st.st_size;
    return 0;
}

void st_unmap(st_mapped_t *m) {
    st_free(&m->f);
    if (m->map) munmap(m->map, m->len);
    memset(m, 0, sizeof *m);
}

/* A tensor's bytes as stored: itself, or (bf16) chunks of it narrowed, fed to `each`. */
#define ST_CHUNK 16384
typedef int (*s_sink)(void *ctx, const void *p, size_t n);
static int s_emit(const st_tensor_t *t, int bf16, s_sink each, void *ctx) {
    if (!bf16) return each(ctx, t->data, t->nbytes);
    size_t n = st_count(t);
    uint8_t buf[2 * ST_CHUNK];
    for (size_t i = 0; i < n; i += ST_CHUNK) {
        size_t k = n - i < ST_CHUNK ? n - i : ST_CHUNK;
        for (size_t j = 0; j < k; j++) {
            float f;
            memcpy(&f, (const uint8_t *)t->data + 4 * (i + j), 4);
            uint16_t h = st_f32_to_bf16(f);
            buf[2 * j] = (uint8_t)h, buf[2 * j + 1] = (uint8_t)(h >> 8);
        }
        int rc = each(ctx, buf, 2 * k);
        if (rc) return rc;
    }
    return 0;
}

static int s_digest_sink(void *ctx, const void *p, size_t n) {
    digest_update(ctx, p, n);
    return 0;
}

static int s_write_all(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int s_fd_sink(void *ctx, const void *p, size_t n) { return s_write_all(*(int *)ctx, p, n); }

int st_write(const char *path, const st_tensor_t *tensors, int n, const char *const *meta_keys,
             const char *const *meta_values, int n_meta, int bf16, char *why, size_t wl) {
    for (int i = 0; bf16 && i < n; i++)
        if (strcmp(tensors[i].dtype, "F32") != 0) {
            snprintf(why, wl, "%s: tensor %s is %s; only F32 tensors are stored as BF16", path, tensors[i].name, tensors[i].dtype);
            return -EINVAL;
        }
    /* two passes over the data: the digest goes in the header, which comes first */
    uint8_t d[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1];
    digest_state_t ds;
    digest_begin(&ds);
    for (int i = 0; i < n; i++) s_emit(&tensors[i], bf16, s_digest_sink, &ds);
    digest_end(&ds, d);
    digest_hex(d, hex);
    size_t hlen, dlen;
    uint8_t *header = s_header(tensors, n, meta_keys, meta_values, n_meta, hex, bf16 ? "BF16" : NULL, &hlen, &dlen);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = fd < 0 ? -errno : 0;
    if (rc == 0) rc = s_write_all(fd, header, hlen);
    for (int i = 0; rc == 0 && i < n; i++) rc = s_emit(&tensors[i], bf16, s_fd_sink, &fd);
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = -errno;
    free(header);
    if (rc != 0) snprintf(why, wl, "%s: cannot write: %s", path, strerror(-rc));
    return rc;
}
