/* safetensors — see safetensors.h. JSON through jansson. */
#include "common/safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void *st_serialize(const st_tensor_t *tensors, int n, const char *const *meta_keys,
                   const char *const *meta_values, int n_meta, size_t *len_out) {
    json_t *root = json_object(), *meta = json_object();
    for (int i = 0; i < n_meta; i++) json_object_set_new(meta, meta_keys[i], json_string(meta_values[i]));
    uint8_t d[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1];
    digest_state_t ds;
    digest_begin(&ds);
    for (int i = 0; i < n; i++) digest_update(&ds, tensors[i].data, tensors[i].nbytes);
    digest_end(&ds, d);
    digest_hex(d, hex);
    json_object_set_new(meta, ST_DIGEST_KEY, json_string(hex));
    json_object_set_new(root, "__metadata__", meta);
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        const st_tensor_t *t = &tensors[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *entry = json_object();
        json_object_set_new(entry, "dtype", json_string(t->dtype));
        json_object_set_new(entry, "shape", shape);
        json_object_set_new(entry, "data_offsets",
                            json_pack("[II]", (json_int_t)offset, (json_int_t)(offset + t->nbytes)));
        json_object_set_new(root, t->name, entry);
        offset += t->nbytes;
    }
    char *header = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) & ~(size_t)7; /* data starts 8-byte aligned */
    size_t total = 8 + padded + offset;
    uint8_t *blob = xmalloc(total);
    for (int i = 0; i < 8; i++) blob[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(blob + 8, header, hlen);
    memset(blob + 8 + hlen, ' ', padded - hlen);
    free(header);
    uint8_t *p = blob + 8 + padded;
    for (int i = 0; i < n; i++) {
        memcpy(p, tensors[i].data, tensors[i].nbytes);
        p += tensors[i].nbytes;
    }
    *len_out = total;
    return blob;
}
