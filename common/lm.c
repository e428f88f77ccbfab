/* lm — see lm.h. Sections: the model and its tensors, loading, text, compute, files. A Hugging
 * Face model keeps a table of its tensors under their Hugging Face names (views into the
 * family's parameter buffer), so the folder, the blob and the writer are one code path for
 * every family; the tokenizer files travel with the model as bytes, so an actor that receives
 * a blob has the same tokenizer as the learner that sent it. */
#include "common/lm.h"

#include <cblas.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/gpt_io.h"
#include "common/gpt_sample.h"
#include "common/lm_prompt.h"
#include "common/safetensors.h"
#include "common/tokenizer.h"
#include "common/util.h"

/* A blob carries each tokenizer file NAME under the metadata key "file:NAME". */
#define FILE_META_PREFIX "file:"
#define MAX_TOK_FILES 16

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[2];
    float *data;
} lm_tensor_t;

struct lm {
    hf_config_t cfg;
    int byte_level;
    gpt_t *gpt;
    llama_t *llama;
    hf_tokenizer_t *tok; /* NULL: byte-level */
    hf_file_t *files;    /* the tokenizer's files, carried and written as they are */
    int n_files;
    lm_tensor_t *tensors; /* Hugging Face models: views into the parameters */
    int n_tensors;
    char describe[160];
    lm_prompt_t *prompt;   /* how prompts are read (common/lm_prompt.h); NULL: as text */
    char origin[512];      /* the folder it was loaded from, "" when unknown */
    char base_digest[65];  /* lm_base_digest, "" until computed */
};

/* The three pred types are one layout: predictions pass between them as they are. */
_Static_assert(sizeof(lm_pred_t) == sizeof(gpt_pred_t) && sizeof(lm_pred_t) == sizeof(llama_pred_t) &&
                   offsetof(lm_pred_t, at) == offsetof(gpt_pred_t, at) &&
                   offsetof(lm_pred_t, target) == offsetof(gpt_pred_t, target) &&
                   offsetof(lm_pred_t, seq) == offsetof(gpt_pred_t, seq) &&
                   offsetof(lm_pred_t, at) == offsetof(llama_pred_t, at) &&
                   offsetof(lm_pred_t, target) == offsetof(llama_pred_t, target) &&
                   offsetof(lm_pred_t, seq) == offsetof(llama_pred_t, seq),
               "lm_pred_t, gpt_pred_t and llama_pred_t share a layout");

/* ---- the model and its tensors ------------------------------------------------------------ */

static void s_build_tensors(lm_t *m) {
    if (m->llama) {
        m->n_tensors = llama_n_tensors(m->llama);
        m->tensors = xcalloc((size_t)m->n_tensors, sizeof *m->tensors);
        float *base = llama_params(m->llama);
        for (int i = 0; i < m->n_tensors; i++) {
            const llama_tensor_t *t = llama_tensor(m->llama, i);
            lm_tensor_t *o = &m->tensors[i];
            snprintf(o->name, sizeof o->name, "%s", t->name);
            o->ndim = t->ndim;
            o->shape[0] = t->shape[0];
            o->shape[1] = t->ndim == 2 ? t->shape[1] : 0;
            o->data = base + t->offset;
        }
    } else {
        m->n_tensors = gpt_hf_tensor_count(m->gpt);
        m->tensors = xcalloc((size_t)m->n_tensors, sizeof *m->tensors);
        for (int i = 0; i < m->n_tensors; i++) {
            lm_tensor_t *o = &m->tensors[i];
            gpt_hf_tensor(m->gpt, i, o->name, sizeof o->name, &o->ndim, o->shape, &o->data);
        }
    }
}

static void s_describe(lm_t *m) {
    const hf_config_t *c = &m->cfg;
    if (m->gpt) {
        const gpt_config_t *g = gpt_config(m->gpt);
        snprintf(m->describe, sizeof m->describe, "%s, %d layers, d %d, %d heads, ctx %d, V %d, %.2f M parameters",
                 m->byte_level ? "byte-level GPT-2" : "GPT2LMHeadModel", g->n_layer, g->d_model, g->n_head, g->ctx,
                 g->vocab, gpt_n_params(m->gpt) / 1e6);
    } else {
        const llama_config_t *l = &c->llama;
        snprintf(m->describe, sizeof m->describe, "%s, %d layers, d %d, %d/%d heads, MLP %d, V %d%s, %.2f M parameters",
                 hf_arch_name(c->arch), l->n_layer, l->d_model, l->n_head, l->n_kv_head, l->d_ff, l->vocab,
                 l->tied ? " tied" : "", llama_n_params(m->llama) / 1e6);
    }
}

/* A model of configuration c, parameters as the family initialises them. NULL with why. */
static lm_t *s_new(const hf_config_t *c, uint64_t seed, char *why, size_t wl) {
    lm_t *m = xcalloc(1, sizeof *m);
    m->cfg = *c;
    if (c->arch == HF_GPT2) {
        m->gpt = gpt_new(&c->gpt, seed);
    } else {
        const char *bad = llama_config_check(&c->llama);
        if (*bad) {
            snprintf(why, wl, "config.json: %s", bad);
            free(m);
            return NULL;
        }
        m->llama = llama_new(&c->llama, seed);
    }
    if (!m->gpt && !m->llama) {
        snprintf(why, wl, "config.json: not a valid %s configuration", hf_arch_name(c->arch));
        free(m);
        return NULL;
    }
    s_build_tensors(m);
    s_describe(m);
    return m;
}

lm_t *lm_from_gpt(gpt_t *g) {
    lm_t *m = xcalloc(1, sizeof *m);
    m->byte_level = 1;
    m->gpt = g;
    m->cfg.arch = HF_GPT2;
    snprintf(m->cfg.architecture, sizeof m->cfg.architecture, "%s", hf_arch_name(HF_GPT2));
    m->cfg.gpt = *gpt_config(g);
    m->cfg.bos_id = -1;
    m->cfg.eos[0] = GPT_EOT;
    m->cfg.n_eos = 1;
    s_describe(m);
    return m;
}

void lm_free(lm_t **mp) {
    if (!mp || !*mp) return;
    lm_t *m = *mp;
    gpt_destroy(&m->gpt);
    llama_destroy(&m->llama);
    hf_tokenizer_free(&m->tok);
    hf_files_free(m->files, m->n_files);
    free(m->tensors);
    lm_prompt_free(&m->prompt);
    free(m);
    *mp = NULL;
}

/* The tokenizer from the carried files (tokenizer.json, else vocab.json + merges.txt), checked
 * against the model's vocabulary (a model may have more rows than its tokenizer has ids, never
 * fewer). Returns 0 or -1 with why. */
static int s_tokenizer_from_files(lm_t *m, const char *origin, char *why, size_t wl) {
    const hf_file_t *json = hf_file_find(m->files, m->n_files, "tokenizer.json"),
                    *vocab = hf_file_find(m->files, m->n_files, "vocab.json"),
                    *merges = hf_file_find(m->files, m->n_files, "merges.txt");
    char inner[400];
    if (json) m->tok = hf_tokenizer_from_json(json->data, json->len, origin, inner, sizeof inner);
    else if (vocab && merges)
        m->tok = hf_tokenizer_from_gpt2_text(vocab->data, vocab->len, merges->data, merges->len, inner, sizeof inner);
    else snprintf(inner, sizeof inner, "%s: no tokenizer.json (nor vocab.json and merges.txt)", origin);
    if (!m->tok) {
        snprintf(why, wl, "%s", inner);
        return -1;
    }
    int tv = hf_tokenizer_vocab_size(m->tok);
    if (tv > lm_vocab(m)) {
        snprintf(why, wl, "%s: the tokenizer has %d ids but the model's vocabulary only %d", origin, tv, lm_vocab(m));
        return -1;
    }
    for (int i = 0; i < m->cfg.n_eos; i++)
        if (m->cfg.eos[i] < 0 || m->cfg.eos[i] >= lm_vocab(m)) {
            snprintf(why, wl, "%s: eos_token_id %d is outside the vocabulary (%d)", origin, m->cfg.eos[i], lm_vocab(m));
            return -1;
        }
    return 0; /* no EOS at all (eos_token_id null, as transformers allows): responses end at max_new */
}

/* ---- loading ---------------------------------------------------------------------------- */

static int s_has_tokenizer(const char *dir) {
    char *a = xasprintf("%s/tokenizer.json", dir), *b = xasprintf("%s/vocab.json", dir);
    int there = util_file_exists(a) || util_file_exists(b);
    free(a), free(b);
    return there;
}

/* spar's own byte-level GPT: a .safetensors file, or a folder without a tokenizer whose
 * config is a GPT-2 over the 257 byte tokens. */
static int s_is_byte_level_path(const char *path) {
    size_t n = strlen(path);
    if (n > 12 && !strcmp(path + n - 12, ".safetensors")) return 1;
    if (s_has_tokenizer(path)) return 0;
    hf_config_t c;
    char why[300];
    return hf_config_read(path, &c, why, sizeof why) == 0 && c.arch == HF_GPT2 && c.gpt.vocab == GPT_VOCAB;
}

static int s_read_tok_files(lm_t *m, const char *dir, char *why, size_t wl) {
    return (m->n_files = hf_tokenizer_files_read(dir, &m->files, why, wl)) < 0 ? (m->n_files = 0, -1) : 0;
}

static hf_want_t *s_wants(const lm_t *m) {
    hf_want_t *w = xcalloc((size_t)m->n_tensors, sizeof *w);
    for (int i = 0; i < m->n_tensors; i++)
        w[i] = (hf_want_t){m->tensors[i].name, m->tensors[i].ndim, m->tensors[i].shape, m->tensors[i].data};
    return w;
}

/* The "version" spar wrote into DIR/model.safetensors' metadata (read from its header alone),
 * or 0. */
static uint64_t s_folder_version(const char *dir) {
    char *path = xasprintf("%s/model.safetensors", dir);
    FILE *f = fopen(path, "rb");
    free(path);
    unsigned char n8[8];
    uint64_t v = 0, hlen = 0;
    if (f && fread(n8, 1, 8, f) == 8) {
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | n8[i];
        char *h = hlen > 0 && hlen < (64u << 20) ? xmalloc(hlen + 1) : NULL;
        if (h && fread(h, 1, hlen, f) == hlen) {
            h[hlen] = '\0';
            json_t *j = json_loads(h, 0, NULL);
            const char *s = json_string_value(json_object_get(json_object_get(j, "__metadata__"), "version"));
            if (s) v = strtoull(s, NULL, 10);
            json_decref(j);
        }
        free(h);
    }
    if (f) fclose(f);
    return v;
}

static lm_t *s_load_peft_dir(const char *dir, uint64_t *version_out, char *why, size_t wl);

lm_t *lm_load_dir(const char *dir, uint64_t *version_out, char *why, size_t wl) {
    if (version_out) *version_out = 0;
    char *cfg = xasprintf("%s/config.json", dir), *adapter = xasprintf("%s/adapter_config.json", dir);
    int peft = !util_file_exists(cfg) && util_file_exists(adapter);
    free(cfg), free(adapter);
    if (peft) return s_load_peft_dir(dir, version_out, why, wl);
    if (s_is_byte_level_path(dir)) {
        gpt_t *g = gpt_load(dir, version_out, why, wl);
        return g ? lm_from_gpt(g) : NULL;
    }
    hf_config_t c;
    if (hf_config_read(dir, &c, why, wl) != 0) return NULL;
    lm_t *m = s_new(&c, 0, why, wl);
    if (!m) return NULL;
    char *origin = xasprintf("%s", dir);
    int rc = s_read_tok_files(m, dir, why, wl);
    if (rc == 0) rc = s_tokenizer_from_files(m, origin, why, wl);
    if (rc == 0) {
        hf_want_t *w = s_wants(m);
        rc = hf_read_weights(dir, c.arch, w, m->n_tensors, why, wl);
        free(w);
    }
    free(origin);
    if (rc != 0) lm_free(&m);
    else if (version_out) *version_out = s_folder_version(dir);
    if (m) snprintf(m->origin, sizeof m->origin, "%s", dir);
    return m;
}

lm_t *lm_new_random(const hf_config_t *c, const char *tokenizer_dir, uint64_t seed, char *why, size_t wl) {
    if (!tokenizer_dir) {
        if (c->arch != HF_GPT2 || c->gpt.vocab != GPT_VOCAB) {
            snprintf(why, wl, "a model without a tokenizer must be the byte-level GPT-2 (vocab %d)", GPT_VOCAB);
            return NULL;
        }
        gpt_t *g = gpt_new(&c->gpt, seed);
        return g ? lm_from_gpt(g) : NULL;
    }
    lm_t *m = s_new(c, seed, why, wl);
    if (m && (s_read_tok_files(m, tokenizer_dir, why, wl) != 0 || s_tokenizer_from_files(m, tokenizer_dir, why, wl) != 0))
        lm_free(&m);
    return m;
}

static void s_copy_tokenizer(lm_t *m, const lm_t *src);
static void s_describe_lora(lm_t *m);

lm_t *lm_clone(const lm_t *src) {
    lm_t *m;
    if (lm_lora(src)) { /* the base shared, the adapters copied */
        m = lm_share_base(src);
        llama_set_lora(m->llama, lora_clone(lm_lora(src)));
        s_describe_lora(m);
        return m;
    }
    if (src->byte_level) {
        m = lm_from_gpt(gpt_new(gpt_config(src->gpt), 0));
    } else {
        char why[300];
        m = s_new(&src->cfg, 0, why, sizeof why); /* src's config is valid */
        s_copy_tokenizer(m, src);
    }
    memcpy(lm_params(m), lm_params((lm_t *)src), lm_n_params(src) * sizeof(float));
    if (src->prompt) m->prompt = lm_prompt_copy(src->prompt, m->files, m->n_files);
    return m;
}

/* ---- accessors ------------------------------------------------------------------------------ */

int lm_is_byte_level(const lm_t *m) { return m->byte_level; }
const hf_config_t *lm_config(const lm_t *m) { return &m->cfg; }
int lm_vocab(const lm_t *m) { return m->gpt ? gpt_config(m->gpt)->vocab : llama_config(m->llama)->vocab; }
int lm_ctx(const lm_t *m) { return m->gpt ? gpt_config(m->gpt)->ctx : llama_config(m->llama)->ctx; }
const char *lm_describe(const lm_t *m) { return m->describe; }
gpt_t *lm_gpt(lm_t *m) { return m->gpt; }
llama_t *lm_llama(lm_t *m) { return m->llama; }
/* With adapters, the trainable parameters are theirs alone. */
size_t lm_n_params(const lm_t *m) {
    return m->gpt ? gpt_n_params(m->gpt) : lm_lora(m) ? lora_n_params(lm_lora(m)) : llama_n_params(m->llama);
}
float *lm_params(lm_t *m) {
    return m->gpt ? gpt_params(m->gpt) : lm_lora(m) ? lora_params(lm_lora(m)) : llama_params(m->llama);
}
float *lm_grads(lm_t *m) {
    return m->gpt ? gpt_grads(m->gpt) : lm_lora(m) ? lora_grads(lm_lora(m)) : llama_grads(m->llama);
}
void lm_zero_grad(lm_t *m) { m->gpt ? gpt_zero_grad(m->gpt) : llama_zero_grad(m->llama); }
void lm_set_inference_only(lm_t *m) {
    if (m->llama) llama_set_inference_only(m->llama);
}
void lm_release_acts(lm_t *m) {
    if (m->llama) llama_release_acts(m->llama);
}
uint8_t *lm_decay_mask(const lm_t *m) {
    return m->gpt ? gpt_decay_mask(m->gpt) : lm_lora(m) ? lora_decay_mask(lm_lora(m)) : llama_decay_mask(m->llama);
}
size_t lm_activation_bytes(const lm_t *m) {
    return m->gpt ? gpt_activation_bytes(m->gpt) : llama_activation_bytes(m->llama);
}

/* ---- text ----------------------------------------------------------------------------------- */

static int s_bytes(const char *text, int32_t **ids) {
    size_t n = strlen(text);
    *ids = xmalloc(sizeof(int32_t) * (n + 1));
    for (size_t i = 0; i < n; i++) (*ids)[i] = (unsigned char)text[i];
    return (int)n;
}

int lm_set_prompt_format(lm_t *m, const char *format, const char *source, char *why, size_t wl) {
    if (m->byte_level && strcmp(format, "text") != 0) {
        snprintf(why, wl, "the byte-level model reads prompts as text only (a conversation needs a Hugging Face model)");
        return -1;
    }
    lm_prompt_t *p = lm_prompt_new(format, source, m->files, m->n_files, why, wl);
    if (!p) return -1;
    lm_prompt_free(&m->prompt);
    m->prompt = p;
    return 0;
}

const char *lm_prompt_format(const lm_t *m) { return m->prompt ? lm_prompt_name(m->prompt) : "text"; }

int lm_encode_prompt(const lm_t *m, const char *text, int32_t **ids, char *why, size_t wl) {
    if (m->byte_level) return s_bytes(text, ids);
    if (!m->prompt) return hf_tokenizer_encode(m->tok, text, strlen(text), 1, ids, why, wl);
    char *rendered;
    int add_special;
    if (lm_prompt_text(m->prompt, text, &rendered, &add_special, why, wl) != 0) return -1;
    int n = hf_tokenizer_encode(m->tok, rendered, strlen(rendered), add_special, ids, why, wl);
    free(rendered);
    return n;
}

int lm_encode_response(const lm_t *m, const char *text, int32_t **ids, char *why, size_t wl) {
    int n = m->byte_level ? s_bytes(text, ids) : hf_tokenizer_encode(m->tok, text, strlen(text), 0, ids, why, wl);
    if (n < 0) return -1;
    if (m->cfg.n_eos == 0) return n; /* a model without EOS: the response is its text alone */
    *ids = xrealloc(*ids, sizeof(int32_t) * (size_t)(n + 1));
    (*ids)[n] = lm_first_eos(m);
    return n + 1;
}

char *lm_decode(const lm_t *m, const int32_t *ids, int n) {
    int k = 0;
    while (k < n && !lm_is_eos(m, ids[k])) k++; /* a response ends at its first EOS */
    if (m->byte_level) {
        char *s = xmalloc((size_t)k + 1);
        for (int i = 0; i < k; i++) s[i] = (char)ids[i];
        s[k] = '\0';
        return s;
    }
    return hf_tokenizer_decode(m->tok, ids, k, 1, NULL);
}

int lm_is_eos(const lm_t *m, int id) {
    for (int i = 0; i < m->cfg.n_eos; i++)
        if (m->cfg.eos[i] == id) return 1;
    return 0;
}

int lm_first_eos(const lm_t *m) { return m->cfg.n_eos > 0 ? m->cfg.eos[0] : -1; }

/* ---- compute -------------------------------------------------------------------------------- */

int lm_forward(lm_t *m, const int *tokens, const int *pos, const int *seg, int B, int T) {
    return m->gpt ? gpt_forward_packed(m->gpt, tokens, pos, seg, B, T) : llama_forward(m->llama, tokens, pos, seg, B, T);
}

void lm_preds_logprob(lm_t *m, const lm_pred_t *p, int n, double *lp) {
    if (m->gpt) gpt_preds_logprob(m->gpt, (const gpt_pred_t *)p, n, lp);
    else llama_preds_logprob(m->llama, (const llama_pred_t *)p, n, lp);
}

void lm_backward(lm_t *m, const int *tokens, const int *pos, const lm_pred_t *p, int n, const double *dlp) {
    if (m->gpt) gpt_backward_preds(m->gpt, tokens, pos, (const gpt_pred_t *)p, n, dlp);
    else llama_backward(m->llama, (const llama_pred_t *)p, n, dlp);
}

void lm_logits_at(lm_t *m, const int *at, int n, float *out) {
    if (m->gpt) gpt_logits_at(m->gpt, at, n, out);
    else llama_logits_at(m->llama, at, n, out);
}

int lm_generate(lm_t *m, lm_t *ref, double mix, const int *const *prompts, const int *plen, int B,
                const lm_sample_opts_t *o, rng_t *rngs, int *out_tokens, float *out_logprobs, int *out_len) {
    if (ref && (!ref->gpt) != (!m->gpt)) return -1;
    if (m->gpt) {
        gpt_sample_opts_t go = {o->temperature, o->top_k, o->top_p, o->max_new, m->cfg.eos, m->cfg.n_eos};
        return gpt_generate_mixture(m->gpt, ref ? ref->gpt : NULL, mix, prompts, plen, B, &go, rngs, out_tokens,
                                    out_logprobs, out_len);
    }
    llama_sample_opts_t lo = {o->temperature, o->top_k, o->top_p, o->max_new, m->cfg.eos, m->cfg.n_eos};
    return llama_generate(m->llama, ref ? ref->llama : NULL, mix, prompts, plen, B, &lo, rngs, out_tokens,
                          out_logprobs, out_len);
}

/* ---- files ---------------------------------------------------------------------------------- */

static void *s_lora_serialize(const lm_t *m, uint64_t version, size_t *len_out);
static int s_save_adapter_dir(const lm_t *m, const char *dir, uint64_t version, char *why, size_t wl);

void *lm_serialize(const lm_t *m, uint64_t version, size_t *len_out) {
    if (m->byte_level) return gpt_serialize(m->gpt, version, len_out);
    if (lm_lora(m)) return s_lora_serialize(m, version, len_out);
    st_tensor_t *ts = xcalloc((size_t)m->n_tensors, sizeof *ts);
    for (int i = 0; i < m->n_tensors; i++) {
        const lm_tensor_t *t = &m->tensors[i];
        snprintf(ts[i].name, sizeof ts[i].name, "%s", t->name);
        snprintf(ts[i].dtype, sizeof ts[i].dtype, "F32");
        ts[i].ndim = t->ndim;
        ts[i].shape[0] = t->shape[0];
        ts[i].shape[1] = t->shape[1];
        ts[i].data = t->data;
        ts[i].nbytes = sizeof(float) * (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
    }
    char ver[32], *config = hf_config_json(&m->cfg, "float32");
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    const char *keys[6 + MAX_TOK_FILES], *vals[6 + MAX_TOK_FILES];
    char *names[MAX_TOK_FILES] = {0};
    int n = 0;
    keys[n] = "format", vals[n++] = "pt";
    keys[n] = "policy", vals[n++] = "hf";
    keys[n] = "version", vals[n++] = ver;
    keys[n] = "hf_config", vals[n++] = config;
    if (m->prompt) {
        int k;
        lm_prompt_meta(m->prompt, keys + n, vals + n, &k);
        n += k;
    }
    for (int i = 0; i < m->n_files && i < MAX_TOK_FILES; i++) {
        names[i] = xasprintf(FILE_META_PREFIX "%s", m->files[i].name);
        keys[n] = names[i], vals[n++] = m->files[i].data;
    }
    void *blob = st_serialize(ts, m->n_tensors, keys, vals, n, len_out);
    for (int i = 0; i < MAX_TOK_FILES; i++) free(names[i]);
    free(config);
    free(ts);
    return blob;
}

/* The floats of c's weight matrices (the bulk of its parameters; norms and biases left out),
 * in double so that no config overflows it: a lower bound on what its weights occupy. */
static double s_matrix_floats(const hf_config_t *c) {
    if (c->arch == HF_GPT2) {
        const gpt_config_t *g = &c->gpt;
        return (double)g->vocab * g->d_model + (double)g->ctx * g->d_model + 12.0 * g->n_layer * g->d_model * g->d_model;
    }
    const llama_config_t *l = &c->llama;
    double attn = (double)l->d_model * l->head_dim * (2.0 * l->n_head + 2.0 * l->n_kv_head);
    return (double)l->vocab * l->d_model * (l->tied ? 1 : 2) + l->n_layer * (attn + 3.0 * l->d_model * l->d_ff);
}

lm_t *lm_deserialize(const void *blob, size_t len, uint64_t *version_out, char *why, size_t wl) {
    st_file_t f;
    if (st_parse(blob, len, &f, why, wl) != 0) return NULL;
    const char *kind = st_meta(&f, "policy"), *config = st_meta(&f, "hf_config");
    lm_t *m = NULL;
    if (kind && !strcmp(kind, "gpt")) {
        st_free(&f);
        gpt_t *g = gpt_deserialize(blob, len, version_out, why, wl);
        return g ? lm_from_gpt(g) : NULL;
    }
    hf_config_t c;
    if (kind && !strcmp(kind, "lora")) {
        snprintf(why, wl, "a LoRA adapter blob: it loads only onto its base model (policy.checkpoint)");
    } else if (!kind || strcmp(kind, "hf") != 0 || !config) {
        snprintf(why, wl, "not a language-model blob (metadata policy = %s)", kind ? kind : "missing");
    } else if (hf_config_parse(config, strlen(config), "blob hf_config", &c, why, wl) != 0) {
        /* why says it */
    } else if (s_matrix_floats(&c) * 2 > (double)len) { /* a peer's sizes, bounded before allocating */
        snprintf(why, wl, "blob hf_config describes %.3g weights, more than its %zu bytes can hold", s_matrix_floats(&c), len);
    } else if ((m = s_new(&c, 0, why, wl))) {
        m->files = xcalloc(MAX_TOK_FILES, sizeof *m->files);
        size_t pl = strlen(FILE_META_PREFIX);
        for (int i = 0; i < f.n_meta && m->n_files < MAX_TOK_FILES; i++)
            if (!strncmp(f.meta_keys[i], FILE_META_PREFIX, pl) && f.meta_keys[i][pl] && !strchr(f.meta_keys[i] + pl, '/'))
                m->files[m->n_files++] = (hf_file_t){xstrdup(f.meta_keys[i] + pl), xstrdup(f.meta_values[i]),
                                                     strlen(f.meta_values[i])};
        hf_want_t *w = s_wants(m);
        const st_file_t *files[1] = {&f};
        const char *fnames[1] = {"blob"};
        int rc = s_tokenizer_from_files(m, "blob", why, wl);
        if (rc == 0) rc = hf_match_weights(files, fnames, 1, c.arch, w, m->n_tensors, why, wl);
        const char *format = st_meta(&f, "prompt_format");
        if (rc == 0 && format &&
            !(m->prompt = lm_prompt_from_meta(format, st_meta(&f, "chat_template"), m->files, m->n_files, why, wl)))
            rc = -1;
        free(w);
        if (rc != 0) lm_free(&m);
        if (m && version_out) {
            const char *v = st_meta(&f, "version");
            *version_out = v ? strtoull(v, NULL, 10) : 0;
        }
    }
    st_free(&f);
    return m;
}

int lm_save_dir(const lm_t *m, const char *dir, uint64_t version, int bf16, char *why, size_t wl) {
    if (m->byte_level) {
        int rc = gpt_save(m->gpt, dir, version);
        if (rc != 0) snprintf(why, wl, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    if (lm_lora(m)) return s_save_adapter_dir(m, dir, version, why, wl);
    hf_want_t *w = s_wants(m);
    char ver[32];
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    const char *keys[] = {"version"}, *vals[] = {ver};
    int rc = hf_write_folder(dir, &m->cfg, w, m->n_tensors, bf16, keys, vals, 1, m->files, m->n_files, why, wl);
    free(w);
    return rc;
}

/* ---- LoRA ------------------------------------------------------------------------------------ */

static void s_copy_tokenizer(lm_t *m, const lm_t *src) {
    char why[300];
    m->files = xcalloc((size_t)(src->n_files ? src->n_files : 1), sizeof *m->files);
    for (int i = 0; i < src->n_files; i++) {
        const hf_file_t *f = &src->files[i];
        m->files[i] = (hf_file_t){xstrdup(f->name), xmalloc(f->len + 1), f->len};
        memcpy(m->files[i].data, f->data, f->len + 1);
    }
    m->n_files = src->n_files;
    s_tokenizer_from_files(m, "clone", why, sizeof why);
    snprintf(m->origin, sizeof m->origin, "%s", src->origin);
}

lora_t *lm_lora(const lm_t *m) { return m->llama ? llama_lora(m->llama) : NULL; }

static void s_describe_lora(lm_t *m) {
    const lora_t *l = lm_lora(m);
    s_describe(m);
    snprintf(m->describe + strlen(m->describe), sizeof m->describe - strlen(m->describe),
             ", LoRA r %d on %s: %.3f M trainable", lora_spec(l)->rank, lora_targets_csv(lora_spec(l)->targets),
             lora_n_params(l) / 1e6);
}
const char *lm_origin(const lm_t *m) { return m->origin; }

int lm_lora_attach(lm_t *m, int rank, double alpha, const char *targets, uint64_t seed, char *why, size_t wl) {
    if (!m->llama) {
        snprintf(why, wl, "LoRA adapts a Llama-family model (Llama, Mistral, Qwen2, Qwen3), not %s",
                 hf_arch_name(m->cfg.arch));
        return -1;
    }
    if (lm_lora(m)) {
        snprintf(why, wl, "the model has adapters already");
        return -1;
    }
    lora_spec_t s = {rank, alpha, 0};
    if (lora_parse_targets(targets, &s.targets, why, wl) != 0) return -1;
    lora_t *l = lora_new(llama_config(m->llama), &s, seed);
    if (!l) {
        snprintf(why, wl, "LoRA rank %d and alpha %g: the rank must be >= 1 and alpha > 0", rank, alpha);
        return -1;
    }
    lm_base_digest(m); /* while the weights are known to be the base's */
    llama_set_lora(m->llama, l);
    s_describe_lora(m);
    return 0;
}

lm_t *lm_share_base(const lm_t *src) {
    lm_t *m = xcalloc(1, sizeof *m);
    m->cfg = src->cfg;
    m->llama = llama_share(src->llama);
    s_build_tensors(m);
    s_copy_tokenizer(m, src);
    lm_base_digest((lm_t *)src);
    memcpy(m->base_digest, src->base_digest, sizeof m->base_digest);
    if (src->prompt) m->prompt = lm_prompt_copy(src->prompt, m->files, m->n_files);
    s_describe(m);
    return m;
}

const char *lm_base_digest(lm_t *m) {
    if (!m->base_digest[0] && m->llama) {
        char *config = hf_config_json(&m->cfg, "float32");
        digest_state_t s;
        uint8_t d[DIGEST_BYTES];
        digest_begin(&s);
        digest_update(&s, config, strlen(config));
        digest_update(&s, llama_params(m->llama), sizeof(float) * llama_n_params(m->llama));
        digest_end(&s, d);
        digest_hex(d, m->base_digest);
        free(config);
    }
    return m->base_digest;
}

/* W of layer l's target t (out, in) in m's weights. */
static float *s_target_weight(lm_t *m, int l, int t) {
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", l, lora_target_module(t), lora_target_name(t));
    return llama_params(m->llama) + llama_tensor_by_name(m->llama, name)->offset;
}

lm_t *lm_lora_merge(const lm_t *src) {
    char why[300];
    lm_t *m = s_new(&src->cfg, 0, why, sizeof why);
    s_copy_tokenizer(m, src);
    memcpy(llama_params(m->llama), llama_params(src->llama), sizeof(float) * llama_n_params(m->llama));
    const lora_t *L = lm_lora(src);
    if (!L) return m;
    int r = lora_spec(L)->rank;
    for (int l = 0; l < src->cfg.llama.n_layer; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            const float *A = lora_A_const(L, l, t), *B = lora_B_const(L, l, t);
            if (!A) continue;
            int in, out;
            lora_dims(&src->cfg.llama, t, &in, &out);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in, r, lora_scale(L), B, r, A, in, 1.0f,
                        s_target_weight(m, l, t), in);
        }
    return m;
}

/* The adapters' tensors under PEFT's names (views into the buffer; caller frees the array). */
static st_tensor_t *s_lora_tensors(const lm_t *m, int *n_out) {
    const lora_t *L = lm_lora(m);
    const llama_config_t *c = &m->cfg.llama;
    int r = lora_spec(L)->rank, n = 0;
    st_tensor_t *ts = xcalloc((size_t)c->n_layer * LORA_N_TARGETS * 2, sizeof *ts);
    for (int l = 0; l < c->n_layer; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            if (!lora_A_const(L, l, t)) continue;
            int in, out;
            lora_dims(c, t, &in, &out);
            for (int which = 0; which < 2; which++) {
                st_tensor_t *x = &ts[n++];
                lora_tensor_name(x->name, sizeof x->name, l, t, which);
                snprintf(x->dtype, sizeof x->dtype, "F32");
                x->ndim = 2;
                x->shape[0] = which ? out : r;
                x->shape[1] = which ? r : in;
                x->data = which ? lora_B_const(L, l, t) : lora_A_const(L, l, t);
                x->nbytes = sizeof(float) * (size_t)x->shape[0] * (size_t)x->shape[1];
            }
        }
    *n_out = n;
    return ts;
}

/* The metadata of an adapter file: spar's keys beside PEFT's "format". */
static void *s_lora_file(const lm_t *m, uint64_t version, const char *kind, size_t *len_out) {
    const lora_t *L = lm_lora(m);
    int n;
    st_tensor_t *ts = s_lora_tensors(m, &n);
    char ver[32], rank[16], alpha[40], *config = hf_config_json(&m->cfg, "float32");
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    snprintf(rank, sizeof rank, "%d", lora_spec(L)->rank);
    snprintf(alpha, sizeof alpha, "%.17g", lora_spec(L)->alpha);
    /* a PEFT file (kind NULL) has the first four: PEFT's "format", the version, the base's identity */
    const char *keys[10] = {"format", "version", "base_config", "base_digest", "policy", "lora_rank", "lora_alpha",
                            "lora_targets"};
    const char *vals[10] = {"pt", ver, config, lm_base_digest((lm_t *)m), kind, rank, alpha,
                            lora_targets_csv(lora_spec(L)->targets)};
    int n_meta = kind ? 8 : 4, k = 0;
    if (kind && m->prompt) lm_prompt_meta(m->prompt, keys + n_meta, vals + n_meta, &k); /* how it reads prompts */
    void *blob = st_serialize(ts, n, keys, vals, n_meta + k, len_out);
    free(config);
    free(ts);
    return blob;
}

static void *s_lora_serialize(const lm_t *m, uint64_t version, size_t *len_out) {
    return s_lora_file(m, version, "lora", len_out);
}

int lm_is_lora_blob(const void *blob, size_t len) {
    st_file_t f;
    char why[200];
    if (st_parse(blob, len, &f, why, sizeof why) != 0) return 0;
    const char *k = st_meta(&f, "policy");
    int is = k && !strcmp(k, "lora");
    st_free(&f);
    return is;
}

/* A model on base's weights with adapters of spec s whose tensors come from f (PEFT's names,
 * F32); the base identity in f's metadata, when there, must be base's. NULL with why. */
static lm_t *s_attach_from(lm_t *base, const lora_spec_t *s, const st_file_t *f, const char *origin, char *why,
                           size_t wl) {
    if (!base->llama) { /* base's own adapters, if any, are not used: only its weights */
        snprintf(why, wl, "%s: adapters load onto a Llama-family base model", origin);
        return NULL;
    }
    const char *bc = st_meta(f, "base_config"), *bd = st_meta(f, "base_digest");
    char *config = hf_config_json(&base->cfg, "float32");
    int same_config = !bc || !strcmp(bc, config);
    free(config);
    if (!same_config) {
        snprintf(why, wl, "%s: the adapters were made for a base of another configuration than this one (%s)", origin,
                 base->describe);
        return NULL;
    }
    if (bd && strcmp(bd, lm_base_digest(base)) != 0) {
        snprintf(why, wl,
                 "%s: the adapters were made for another base (weights digest %.16s..., the loaded base %s has "
                 "%.16s...)",
                 origin, bd, base->origin[0] ? base->origin : "model", lm_base_digest(base));
        return NULL;
    }
    lora_t *L = lora_new(&base->cfg.llama, s, 0);
    if (!L) {
        snprintf(why, wl, "%s: invalid LoRA rank %d / alpha %g / targets", origin, s->rank, s->alpha);
        return NULL;
    }
    const llama_config_t *c = &base->cfg.llama;
    int expected = 0;
    for (int l = 0; l < c->n_layer; l++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            if (!lora_A(L, l, t)) continue;
            int in, out;
            lora_dims(c, t, &in, &out);
            for (int which = 0; which < 2; which++) {
                char name[128];
                lora_tensor_name(name, sizeof name, l, t, which);
                const st_tensor_t *x = st_find(f, name);
                int64_t d0 = which ? out : s->rank, d1 = which ? s->rank : in;
                if (!x || x->ndim != 2 || x->shape[0] != d0 || x->shape[1] != d1 || strcmp(x->dtype, "F32") != 0) {
                    snprintf(why, wl, "%s: tensor %s missing, not F32 or not of shape (%lld, %lld)", origin, name,
                             (long long)d0, (long long)d1);
                    lora_free(&L);
                    return NULL;
                }
                memcpy(which ? lora_B(L, l, t) : lora_A(L, l, t), x->data, x->nbytes);
                expected++;
            }
        }
    if (f->n != expected) {
        snprintf(why, wl, "%s: %d tensors where the adapters of r %d on %s have %d", origin, f->n, s->rank,
                 lora_targets_csv(s->targets), expected);
        lora_free(&L);
        return NULL;
    }
    lm_t *m = lm_share_base(base);
    llama_set_lora(m->llama, L);
    s_describe_lora(m);
    return m;
}

lm_t *lm_lora_deserialize(lm_t *base, const void *blob, size_t len, uint64_t *version_out, char *why, size_t wl) {
    st_file_t f;
    if (st_parse(blob, len, &f, why, wl) != 0) return NULL;
    const char *kind = st_meta(&f, "policy"), *r = st_meta(&f, "lora_rank"), *a = st_meta(&f, "lora_alpha"),
               *t = st_meta(&f, "lora_targets"), *v = st_meta(&f, "version");
    lm_t *m = NULL;
    lora_spec_t s = {0};
    if (!kind || strcmp(kind, "lora") != 0 || !r || !a || !t) {
        snprintf(why, wl, "not a LoRA blob (metadata policy = %s, or its rank, alpha or targets missing)",
                 kind ? kind : "missing");
    } else if (s.rank = atoi(r), s.alpha = strtod(a, NULL), lora_parse_targets(t, &s.targets, why, wl) == 0) {
        m = s_attach_from(base, &s, &f, "blob", why, wl);
    }
    const char *format = st_meta(&f, "prompt_format");
    if (m && format) {
        lm_prompt_free(&m->prompt);
        if (!(m->prompt = lm_prompt_from_meta(format, st_meta(&f, "chat_template"), m->files, m->n_files, why, wl)))
            lm_free(&m);
    }
    if (m && version_out) *version_out = v ? strtoull(v, NULL, 10) : 0;
    st_free(&f);
    return m;
}

/* ---- PEFT's folder ---------------------------------------------------------------------------- */

static int s_save_adapter_dir(const lm_t *m, const char *dir, uint64_t version, char *why, size_t wl) {
    const lora_spec_t *s = lora_spec(lm_lora(m));
    int rc = util_mkdirs(dir);
    if (rc != 0) {
        snprintf(why, wl, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    json_t *j = json_object(), *targets = json_array();
    for (int t = 0; t < LORA_N_TARGETS; t++)
        if (s->targets & (1u << t)) json_array_append_new(targets, json_string(lora_target_name(t)));
    json_object_set_new(j, "peft_type", json_string("LORA"));
    json_object_set_new(j, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(j, "base_model_name_or_path", json_string(m->origin));
    json_object_set_new(j, "r", json_integer(s->rank));
    json_object_set_new(j, "lora_alpha", json_real(s->alpha));
    json_object_set_new(j, "lora_dropout", json_real(0.0));
    json_object_set_new(j, "target_modules", targets);
    json_object_set_new(j, "bias", json_string("none"));
    json_object_set_new(j, "fan_in_fan_out", json_false());
    json_object_set_new(j, "inference_mode", json_true());
    json_object_set_new(j, "use_rslora", json_false());
    json_object_set_new(j, "use_dora", json_false());
    json_object_set_new(j, "init_lora_weights", json_true());
    json_object_set_new(j, "modules_to_save", json_null());
    json_object_set_new(j, "layers_to_transform", json_null());
    json_object_set_new(j, "rank_pattern", json_object());
    json_object_set_new(j, "alpha_pattern", json_object());
    json_object_set_new(j, "revision", json_null());
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    char *cpath = xasprintf("%s/adapter_config.json", dir), *wpath = xasprintf("%s/adapter_model.safetensors", dir);
    size_t len;
    void *blob = s_lora_file(m, version, NULL, &len);
    /* the weights first: a folder whose config is there has its weights */
    if ((rc = util_write_atomic(wpath, blob, len)) != 0 || (rc = util_write_atomic(cpath, text, strlen(text))) != 0)
        snprintf(why, wl, "%s: %s", dir, strerror(-rc));
    free(blob);
    free(text);
    free(cpath);
    free(wpath);
    return rc;
}

/* A PEFT folder alone: its base_model_name_or_path (a folder) loaded, the adapters on it. */
static lm_t *s_load_peft_dir(const char *dir, uint64_t *version_out, char *why, size_t wl) {
    char *cpath = xasprintf("%s/adapter_config.json", dir);
    json_error_t e;
    json_t *j = json_load_file(cpath, 0, &e);
    const char *b = j ? json_string_value(json_object_get(j, "base_model_name_or_path")) : NULL;
    lm_t *m = NULL, *base = NULL;
    char inner[600];
    if (!b || !b[0]) snprintf(why, wl, "%s: no base_model_name_or_path to load the adapters onto", cpath);
    else if (!(base = lm_load_dir(b, NULL, inner, sizeof inner)))
        snprintf(why, wl, "%s: base_model_name_or_path %s: %s", cpath, b, inner);
    else m = lm_load_adapter_dir(base, dir, version_out, why, wl);
    lm_free(&base); /* the adapted model holds the weights */
    json_decref(j);
    free(cpath);
    return m;
}

lm_t *lm_load_adapter_dir(lm_t *base, const char *dir, uint64_t *version_out, char *why, size_t wl) {
    char *cpath = xasprintf("%s/adapter_config.json", dir), *wpath = xasprintf("%s/adapter_model.safetensors", dir);
    json_error_t e;
    json_t *j = json_load_file(cpath, 0, &e);
    lm_t *m = NULL;
    size_t len = 0;
    char *data = NULL;
    lora_spec_t s = {0};
    json_t *tm = j ? json_object_get(j, "target_modules") : NULL;
    const char *type = j ? json_string_value(json_object_get(j, "peft_type")) : NULL;
    if (!j) {
        snprintf(why, wl, "%s: %s", cpath, e.text);
    } else if (!type || strcmp(type, "LORA") != 0) {
        snprintf(why, wl, "%s: peft_type is not LORA", cpath);
    } else if (json_is_true(json_object_get(j, "use_rslora")) || json_is_true(json_object_get(j, "use_dora")) ||
               json_is_true(json_object_get(j, "fan_in_fan_out"))) {
        snprintf(why, wl, "%s: rsLoRA, DoRA and fan_in_fan_out adapters are not supported", cpath);
    } else if (!json_is_integer(json_object_get(j, "r")) || !json_is_number(json_object_get(j, "lora_alpha"))) {
        snprintf(why, wl, "%s: r or lora_alpha missing", cpath);
    } else {
        s.rank = (int)json_integer_value(json_object_get(j, "r"));
        s.alpha = json_number_value(json_object_get(j, "lora_alpha"));
        char csv[256] = "";
        int ok = 1;
        if (json_is_string(tm)) snprintf(csv, sizeof csv, "%s", json_string_value(tm));
        else if (json_is_array(tm))
            for (size_t i = 0; i < json_array_size(tm); i++) {
                const char *t = json_string_value(json_array_get(tm, i));
                if (!t) ok = 0;
                else snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%s%s", i ? "," : "", t);
            }
        else ok = 0;
        st_file_t f;
        if (!ok || lora_parse_targets(csv, &s.targets, why, wl) != 0) {
            if (ok) snprintf(why + strlen(why), wl - strlen(why), " (%s)", cpath);
            else snprintf(why, wl, "%s: target_modules must be a list of names", cpath);
        } else if (!(data = util_read_file(wpath, &len))) {
            snprintf(why, wl, "%s: %s", wpath, strerror(errno));
        } else if (st_parse(data, len, &f, why, wl) == 0) {
            m = s_attach_from(base, &s, &f, dir, why, wl);
            const char *v = st_meta(&f, "version");
            if (m && version_out) *version_out = v ? strtoull(v, NULL, 10) : 0;
            st_free(&f);
        }
    }
    json_decref(j);
    free(data);
    free(cpath);
    free(wpath);
    return m;
}
