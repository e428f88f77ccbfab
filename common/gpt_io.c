/* gpt_io — see gpt_io.h. spar keeps each kind of tensor for all layers in one block
 * ((L, C, 3C) for c_attn); the Hugging Face layout has one tensor per layer, so layer i's slice
 * is written as h.{i}.<name>. */
#include "common/gpt_io.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hf_folder.h"
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

/* The tensors a model of config c wants, in the Hugging Face layout: layer i's slice of each
 * block as h.{i}.<name>. m NULL: names and shapes only (checked before the model is allocated,
 * since c comes from the files too: a config that the files do not fill is refused without
 * allocating what it claims). names and shapes are storage for the list (n entries). */
typedef struct {
    hf_want_t *want;
    char (*names)[128];
    int64_t (*shapes)[2];
    int n;
} s_wants_t;

static void s_wants(const gpt_config_t *c, gpt_t *m, s_wants_t *w) {
    int L = c->n_layer, n = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) n += s_hf[i].per_layer ? L : 1;
    w->want = xcalloc((size_t)n, sizeof *w->want);
    w->names = xcalloc((size_t)n, sizeof *w->names);
    w->shapes = xcalloc((size_t)n, sizeof *w->shapes);
    w->n = n;
    float *base = m ? gpt_params(m) : NULL;
    n = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        int layers = s_hf[i].per_layer ? L : 1;
        size_t each = m ? gpt_tensor_size(m, i) / (size_t)layers : 0;
        for (int l = 0; l < layers; l++, n++) {
            snprintf(w->names[n], sizeof w->names[n], s_hf[i].hf, l);
            w->want[n] = (hf_want_t){w->names[n], s_shape(c, i, w->shapes[n]), w->shapes[n],
                                     base ? base + (size_t)l * each : NULL};
        }
        if (base) base += gpt_tensor_size(m, i);
    }
}

static void s_wants_free(s_wants_t *w) {
    free(w->want);
    free(w->names);
    free(w->shapes);
}

int gpt_hf_tensor_count(const gpt_t *m) {
    int n = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) n += s_hf[i].per_layer ? gpt_config(m)->n_layer : 1;
    return n;
}

void gpt_hf_tensor(gpt_t *m, int k, char *name, size_t namelen, int *ndim, int64_t *shape, float **data) {
    const gpt_config_t *c = gpt_config(m);
    float *base = gpt_params(m);
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        int layers = s_hf[i].per_layer ? c->n_layer : 1;
        size_t each = gpt_tensor_size(m, i) / (size_t)layers;
        if (k < layers) {
            snprintf(name, namelen, s_hf[i].hf, k);
            *ndim = s_shape(c, i, shape);
            *data = base + (size_t)k * each;
            return;
        }
        k -= layers;
        base += gpt_tensor_size(m, i);
    }
}

/* Matches the wanted tensors in files (nf parsed files, names naming them or NULL), or, files
 * NULL, in the folder dir's weights (single or sharded). want: NULL checks only. */
static int s_match(const gpt_config_t *c, gpt_t *m, const st_file_t *const *files, const char *const *names, int nf,
                   const char *dir, char *why, size_t wl) {
    s_wants_t w;
    s_wants(c, m, &w);
    int rc = files ? hf_match_weights(files, names, nf, HF_GPT2, w.want, w.n, why, wl)
                   : hf_read_weights(dir, HF_GPT2, w.want, w.n, why, wl);
    s_wants_free(&w);
    return rc;
}

/* A model of config c from the files (or folder, as s_match): checked, allocated, filled. */
static gpt_t *s_load(const gpt_config_t *c, const st_file_t *const *files, const char *const *names, int nf,
                     const char *dir, char *why, size_t wl) {
    if (s_match(c, NULL, files, names, nf, dir, why, wl) != 0) return NULL;
    gpt_t *m = gpt_new(c, 0);
    if (!m) {
        snprintf(why, wl, "invalid model config");
        return NULL;
    }
    if (s_match(c, m, files, names, nf, dir, why, wl) != 0) gpt_destroy(&m);
    return m;
}

static uint64_t s_version(const st_file_t *f) {
    const char *v = st_meta(f, "version");
    return v ? strtoull(v, NULL, 10) : 0;
}

/* A model from a file spar wrote: the config is in its metadata. */
static gpt_t *s_from_spar_file(const st_file_t *f, uint64_t *version_out, char *why, size_t wl) {
    gpt_config_t c;
    const char *kind = st_meta(f, "policy");
    if (!kind || strcmp(kind, "gpt") != 0) {
        snprintf(why, wl, "not a gpt policy (metadata policy = %s) and no config.json", kind ? kind : "missing");
        return NULL;
    }
    if (s_meta_int(f, "n_layer", &c.n_layer, why, wl) || s_meta_int(f, "n_head", &c.n_head, why, wl) ||
        s_meta_int(f, "n_embd", &c.d_model, why, wl) || s_meta_int(f, "n_positions", &c.ctx, why, wl) ||
        s_meta_int(f, "vocab_size", &c.vocab, why, wl))
        return NULL;
    gpt_t *m = s_load(&c, &f, NULL, 1, NULL, why, wl);
    if (m && version_out) *version_out = s_version(f);
    return m;
}

gpt_t *gpt_deserialize(const void *blob, size_t len, uint64_t *version_out, char *why, size_t wl) {
    st_file_t f;
    if (st_parse(blob, len, &f, why, wl) != 0) return NULL;
    gpt_t *m = s_from_spar_file(&f, version_out, why, wl);
    st_free(&f);
    return m;
}

/* GPT2Config from dir/config.json (and generation_config.json), through hf_config_read: any
 * vocabulary and context, every option spar does not implement refused. */
static int s_read_config_json(const char *dir, gpt_config_t *c, char *why, size_t wl) {
    hf_config_t h;
    if (hf_config_read(dir, &h, why, wl) != 0) return -1;
    if (h.arch != HF_GPT2)
        return util_refuse(why, wl, "%s/config.json: architectures[0] is %s; a GPT checkpoint is GPT2LMHeadModel", dir,
                           h.architecture);
    *c = h.gpt;
    return 0;
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
    int is_file = n > 12 && !strcmp(path + n - 12, ".safetensors");
    char *dir = xstrdup(path);
    if (is_file) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, strlen(dir) + 1, ".");
    }
    char *index = xasprintf("%s/model.safetensors.index.json", dir), *cfg = xasprintf("%s/config.json", dir);
    gpt_t *m = NULL;
    gpt_config_t c;
    if (!is_file && util_file_exists(index)) { /* sharded: only transformers writes these */
        if (s_read_config_json(dir, &c, why, wl) == 0) m = s_load(&c, NULL, NULL, 0, dir, why, wl);
        if (m && version_out) *version_out = 0;
    } else {
        char *file = is_file ? xstrdup(path) : xasprintf("%s/model.safetensors", dir);
        st_mapped_t f;
        if (st_map(file, &f, why, wl) == 0) {
            const st_file_t *files[1] = {&f.f};
            const char *names[1] = {file};
            char inner[400];
            if (st_meta(&f.f, "policy") || !util_file_exists(cfg)) { /* spar's own: the config is in the metadata */
                m = s_from_spar_file(&f.f, version_out, inner, sizeof inner);
                if (!m) snprintf(why, wl, "%s: %s", file, inner);
            } else if (s_read_config_json(dir, &c, why, wl) == 0) { /* from transformers */
                m = s_load(&c, files, names, 1, NULL, inner, sizeof inner);
                if (!m) snprintf(why, wl, "%s%s%s", strstr(inner, file) ? "" : file, strstr(inner, file) ? "" : ": ", inner);
                if (m && version_out) *version_out = s_version(&f.f);
            }
            st_unmap(&f);
        }
        free(file);
    }
    free(index);
    free(cfg);
    free(dir);
    return m;
}
