/* gpt_io — see gpt_io.h. spar keeps each kind of tensor for all layers in one block
 * ((L, C, 3C) for c_attn); the Hugging Face layout has one tensor per layer, so layer i's slice
 * is written as h.{i}.<name>. */
#include "common/gpt_io.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safetensors.h"
#include "common/util.h"

/* spar's tensor index -> the Hugging Face name (with %d for the layer), or a global name. */
static const struct {
    const char *hf;
    int per_layer;
} s_hf[GPT_N_TENSORS] = {
    {"wte.weight", 0},           {"wpe.weight", 0},         {"h.%d.ln_1.weight", 1},       {"h.%d.ln_1.bias", 1},
    {"h.%d.attn.c_attn.weight", 1}, {"h.%d.attn.c_attn.bias", 1}, {"h.%d.attn.c_proj.weight", 1},
    {"h.%d.attn.c_proj.bias", 1}, {"h.%d.ln_2.weight", 1},   {"h.%d.ln_2.bias", 1},         {"h.%d.mlp.c_fc.weight", 1},
    {"h.%d.mlp.c_fc.bias", 1},   {"h.%d.mlp.c_proj.weight", 1}, {"h.%d.mlp.c_proj.bias", 1}, {"ln_f.weight", 0},
    {"ln_f.bias", 0},
};

/* Shape of one (per-layer) tensor in the Hugging Face layout. */
static int s_shape(const gpt_config_t *c, int i, int64_t *shape) {
    int64_t C = c->d_model, V = c->vocab, T = c->ctx;
    switch (i) {
    case 0: shape[0] = V, shape[1] = C; return 2;
    case 1: shape[0] = T, shape[1] = C; return 2;
    case 4: shape[0] = C, shape[1] = 3 * C; return 2;
    case 5: shape[0] = 3 * C; return 1;
    case 6: shape[0] = C, shape[1] = C; return 2;
    case 10: shape[0] = C, shape[1] = 4 * C; return 2;
    case 11: shape[0] = 4 * C; return 1;
    case 12: shape[0] = 4 * C, shape[1] = C; return 2;
    default: shape[0] = C; return 1; /* layer norms and C-sized biases */
    }
}

void *gpt_serialize(gpt_t *m, uint64_t version, size_t *len_out) {
    const gpt_config_t *c = gpt_config(m);
    int n = 0, L = c->n_layer;
    st_tensor_t *ts = xcalloc((size_t)GPT_N_TENSORS * L, sizeof *ts);
    float *base = gpt_params(m);
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        int layers = s_hf[i].per_layer ? L : 1;
        size_t each = gpt_tensor_size(m, i) / (size_t)layers;
        for (int l = 0; l < layers; l++) {
            st_tensor_t *t = &ts[n++];
            snprintf(t->name, sizeof t->name, s_hf[i].hf, l);
            snprintf(t->dtype, sizeof t->dtype, "F32");
            t->ndim = s_shape(c, i, t->shape);
            t->data = base + (size_t)l * each;
            t->nbytes = each * sizeof(float);
        }
        base += gpt_tensor_size(m, i);
    }
    char cfgs[5][32];
    snprintf(cfgs[0], 32, "%d", c->n_layer);
    snprintf(cfgs[1], 32, "%d", c->n_head);
    snprintf(cfgs[2], 32, "%d", c->d_model);
    snprintf(cfgs[3], 32, "%d", c->ctx);
    snprintf(cfgs[4], 32, "%d", c->vocab);
    char ver[32];
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    const char *keys[] = {"format", "policy", "version", "n_layer", "n_head", "n_embd", "n_positions", "vocab_size"};
    const char *vals[] = {"pt", "gpt", ver, cfgs[0], cfgs[1], cfgs[2], cfgs[3], cfgs[4]};
    void *blob = st_serialize(ts, n, keys, vals, 8, len_out);
    free(ts);
    return blob;
}

static int s_meta_int(const st_file_t *f, const char *key, int *out, char *why, size_t wl) {
    const char *v = st_meta(f, key);
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x < 1 || x > 1 << 20) {
        snprintf(why, wl, "metadata %s missing or invalid", key);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* Does f hold every tensor of a model of config c, by name, dtype and shape? Checked before the
 * model is allocated, since c comes from the file too: a config that f's tensors do not fill is
 * refused without allocating what it claims. Returns 0 or -1 (why). */
static int s_check_tensors(const st_file_t *f, const gpt_config_t *c, char *why, size_t wl) {
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        int64_t shape[2] = {0, 0};
        int nd = s_shape(c, i, shape);
        for (int l = 0; l < (s_hf[i].per_layer ? c->n_layer : 1); l++) {
            char name[128];
            snprintf(name, sizeof name, s_hf[i].hf, l);
            const st_tensor_t *t = st_find(f, name);
            if (!t) {
                snprintf(why, wl, "tensor %s missing", name);
                return -1;
            }
            if (strcmp(t->dtype, "F32") != 0) {
                snprintf(why, wl, "tensor %s has dtype %s, expected F32", name, t->dtype);
                return -1;
            }
            if (t->ndim != nd || t->shape[0] != shape[0] || (nd == 2 && t->shape[1] != shape[1])) {
                snprintf(why, wl, "tensor %s has shape (%lld%s%lld), expected (%lld%s%lld)", name, (long long)t->shape[0],
                         t->ndim == 2 ? ", " : "", t->ndim == 2 ? (long long)t->shape[1] : 0LL, (long long)shape[0],
                         nd == 2 ? ", " : "", nd == 2 ? (long long)shape[1] : 0LL);
                return -1;
            }
        }
    }
    return 0;
}

/* The tensors of a parsed file into a new model of config c (from the metadata or config.json). */
static gpt_t *s_from_file(const st_file_t *f, const gpt_config_t *given, uint64_t *version_out, char *why, size_t wl) {
    gpt_config_t c;
    const char *kind = st_meta(f, "policy");
    if (given) {
        c = *given;
    } else if (!kind || strcmp(kind, "gpt") != 0) {
        snprintf(why, wl, "not a gpt policy (metadata policy = %s) and no config.json", kind ? kind : "missing");
        return NULL;
    } else if (s_meta_int(f, "n_layer", &c.n_layer, why, wl) || s_meta_int(f, "n_head", &c.n_head, why, wl) ||
               s_meta_int(f, "n_embd", &c.d_model, why, wl) || s_meta_int(f, "n_positions", &c.ctx, why, wl) ||
               s_meta_int(f, "vocab_size", &c.vocab, why, wl)) {
        return NULL;
    }
    if (s_check_tensors(f, &c, why, wl) != 0) return NULL;
    gpt_t *m = gpt_new(&c, 0);
    if (!m) {
        snprintf(why, wl, "invalid model config");
        return NULL;
    }
    float *base = gpt_params(m);
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        int layers = s_hf[i].per_layer ? c.n_layer : 1;
        size_t each = gpt_tensor_size(m, i) / (size_t)layers;
        for (int l = 0; l < layers; l++) {
            char name[128];
            snprintf(name, sizeof name, s_hf[i].hf, l);
            const st_tensor_t *t = st_find(f, name); /* there, of this shape: s_check_tensors */
            memcpy(base + (size_t)l * each, t->data, each * sizeof(float)); /* memcpy: blob may be unaligned */
        }
        base += gpt_tensor_size(m, i);
    }
    if (version_out) {
        const char *v = st_meta(f, "version");
        *version_out = v ? strtoull(v, NULL, 10) : 0;
    }
    return m;
}

gpt_t *gpt_deserialize(const void *blob, size_t len, uint64_t *version_out, char *why, size_t wl) {
    st_file_t f;
    if (st_parse(blob, len, &f, why, wl) != 0) return NULL;
    gpt_t *m = s_from_file(&f, NULL, version_out, why, wl);
    st_free(&f);
    return m;
}

/* GPT2Config's fields from config.json, when the checkpoint carries no spar metadata (one
 * written by transformers). Returns 0, 1 when there is no config.json, or -1 (why). */
static int s_read_config_json(const char *dir, gpt_config_t *c, char *why, size_t wl) {
    char *path = xasprintf("%s/config.json", dir);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) {
        int missing = !util_file_exists(path);
        if (!missing) snprintf(why, wl, "%s:%d: %s", path, e.line, e.text);
        free(path);
        return missing ? 1 : -1;
    }
    const char *keys[] = {"n_layer", "n_head", "n_embd", "n_positions", "vocab_size"};
    int *dst[] = {&c->n_layer, &c->n_head, &c->d_model, &c->ctx, &c->vocab};
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++) {
        json_t *v = json_object_get(j, keys[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            snprintf(why, wl, "%s: %s missing or not a positive integer", path, keys[i]);
            rc = -1;
        } else {
            *dst[i] = (int)json_integer_value(v);
        }
    }
    json_decref(j);
    free(path);
    return rc;
}

int gpt_save(gpt_t *m, const char *dir, uint64_t version) {
    int rc = util_mkdirs(dir);
    if (rc != 0) return rc;
    size_t len;
    void *blob = gpt_serialize(m, version, &len);
    char *path = xasprintf("%s/model.safetensors", dir);
    rc = util_write_atomic(path, blob, len);
    free(path);
    free(blob);
    if (rc != 0) return rc;
    const gpt_config_t *c = gpt_config(m);
    json_t *j = json_pack("{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:b, s:i, s:i, s:f, s:f, s:f}",
                          "architectures", "GPT2LMHeadModel", "model_type", "gpt2", "vocab_size", c->vocab,
                          "n_positions", c->ctx, "n_embd", c->d_model, "n_layer", c->n_layer, "n_head", c->n_head,
                          "activation_function", "gelu_new", "layer_norm_epsilon", 1e-5, "tie_word_embeddings", 1,
                          "bos_token_id", GPT_EOT, "eos_token_id", GPT_EOT, "resid_pdrop", 0.0, "embd_pdrop", 0.0,
                          "attn_pdrop", 0.0);
    char *text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    path = xasprintf("%s/config.json", dir);
    rc = util_write_atomic(path, text, strlen(text));
    free(path);
    free(text);
    return rc;
}

gpt_t *gpt_load(const char *path, uint64_t *version_out, char *why, size_t wl) {
    size_t n = strlen(path);
    char *file = n > 12 && !strcmp(path + n - 12, ".safetensors") ? xstrdup(path) : xasprintf("%s/model.safetensors", path);
    size_t len;
    char *data = util_read_file(file, &len);
    if (!data) {
        snprintf(why, wl, "%s: cannot read: %s", file, strerror(errno));
        free(file);
        return NULL;
    }
    char inner[400];
    gpt_t *m = NULL;
    st_file_t f;
    if (st_parse(data, len, &f, inner, sizeof inner) == 0) {
        gpt_config_t c;
        char *dir = xstrdup(file), *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, strlen(dir) + 1, ".");
        int has_json = st_meta(&f, "policy") ? 1 : s_read_config_json(dir, &c, inner, sizeof inner);
        if (has_json >= 0) m = s_from_file(&f, has_json == 0 ? &c : NULL, version_out, inner, sizeof inner);
        free(dir);
        st_free(&f);
    }
    if (!m) snprintf(why, wl, "%s: %s", file, inner);
    free(data);
    free(file);
    return m;
}
