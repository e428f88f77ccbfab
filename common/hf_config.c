/* hf_config — config.json and generation_config.json of a Hugging Face model folder, read into
 * hf_config_t and written back as transformers writes them (see hf_folder.h).
 *
 * What is refused, and why (every other key is ignored, as transformers' config classes ignore
 * keys they do not read; a key listed here changes the model's function and spar does not
 * implement it):
 *   - architectures[0] other than the five classes, or a model_type that is not its own; a
 *     sequence classifier (Llama/Mistral/Qwen2/Qwen3ForSequenceClassification) where a causal
 *     LM is read, and a causal LM where a sequence classifier is (hf_config_read_seqcls);
 *   - quantization_config (the weights are not F32/F16/BF16 values of these tensors);
 *   - Llama family: hidden_act other than silu; rope_scaling (or transformers v5's
 *     rope_parameters) of a type other than default / llama3, or llama3 without its four
 *     fields; partial_rotary_factor != 1; an odd head_dim; num_attention_heads not a multiple
 *     of num_key_value_heads; Mistral's sliding_window shorter than max_position_embeddings
 *     (absent means transformers' default 4096; a window as long as the context never hides a
 *     position, so it is the same model); Qwen2/Qwen3's use_sliding_window true, or a
 *     "sliding_attention" entry in layer_types;
 *   - GPT-2: activation_function other than gelu_new (or gelu_pytorch_tanh, the same
 *     function); layer_norm_epsilon other than 1e-5 (spar's LayerNorm); n_inner other than
 *     4 * n_embd; scale_attn_weights false; scale_attn_by_inverse_layer_idx or
 *     add_cross_attention true; tie_word_embeddings false (spar's GPT head is the embedding);
 *     n_embd not a multiple of n_head.
 * Accepted although present: pretraining_tp (it only splits the same matmuls into slices),
 * attention_dropout / *_pdrop (dropout is training regularisation that spar does not apply; the
 * function at inference is the same), reorder_and_upcast_attn (numerics only), torch_dtype
 * (informational: tensors are converted to F32 on load). */
#include "common/hf_folder.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define HF_MAX_DIM (1 << 24) /* bounds every size, so products of two stay in 64 bits */

static const struct {
    const char *cls, *model_type, *seqcls;
} s_arch[] = {
    [HF_GPT2] = {"GPT2LMHeadModel", "gpt2", NULL},
    [HF_LLAMA] = {"LlamaForCausalLM", "llama", "LlamaForSequenceClassification"},
    [HF_MISTRAL] = {"MistralForCausalLM", "mistral", "MistralForSequenceClassification"},
    [HF_QWEN2] = {"Qwen2ForCausalLM", "qwen2", "Qwen2ForSequenceClassification"},
    [HF_QWEN3] = {"Qwen3ForCausalLM", "qwen3", "Qwen3ForSequenceClassification"},
};
#define HF_N_ARCH 5

const char *hf_arch_name(hf_arch_t a) { return (unsigned)a < HF_N_ARCH ? s_arch[a].cls : "unknown"; }
const char *hf_seqcls_name(hf_arch_t a) { return (unsigned)a < HF_N_ARCH ? s_arch[a].seqcls : NULL; }

static int s_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int hf_config_is_seqcls(const char *json, size_t len) {
    json_t *j = json_loadb(json, len, 0, NULL);
    const char *cls = json_string_value(json_array_get(json_object_get(j, "architectures"), 0));
    int yes = cls && s_ends_with(cls, "ForSequenceClassification");
    json_decref(j);
    return yes;
}

/* A parse in progress: the file it names in errors and its reason buffer. */
typedef struct {
    const char *origin;
    char *why;
    size_t wl;
} s_ctx;

static int s_err(const s_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_err(const s_ctx *x, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(x->why, x->wl, "%s: %s", x->origin, msg);
    return -1;
}

/* A positive integer key (absent or null: def; def < 0: required). */
static int s_int(const s_ctx *x, json_t *o, const char *key, int def, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (def < 0) return s_err(x, "%s missing", key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > HF_MAX_DIM)
        return s_err(x, "%s is not an integer in 1..%d", key, HF_MAX_DIM);
    *out = (int)json_integer_value(v);
    return 0;
}

/* A positive number key (absent or null: def). */
static int s_num(const s_ctx *x, json_t *o, const char *prefix, const char *key, double def, double *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (def < 0) return s_err(x, "%s%s missing", prefix, key);
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) > 0))
        return s_err(x, "%s%s is not a positive number", prefix, key);
    *out = json_number_value(v);
    return 0;
}

/* A boolean key (absent or null: def). */
static int s_bool(const s_ctx *x, json_t *o, const char *key, int def, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) *out = def;
    else if (json_is_boolean(v)) *out = json_is_true(v);
    else return s_err(x, "%s is not true or false", key);
    return 0;
}

/* A string key that must be one of two values (absent: accepted). */
static int s_string_is(const s_ctx *x, json_t *o, const char *key, const char *want, const char *also) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    const char *s = json_string_value(v);
    if (!s) return s_err(x, "%s is not a string", key);
    if (strcmp(s, want) != 0 && (!also || strcmp(s, also) != 0))
        return s_err(x, "%s '%s' is not supported (spar implements %s)", key, s, want);
    return 0;
}

/* bos_token_id (an int or null) and eos_token_id (an int, a list of ints, or null); absent keys
 * leave *bos and the eos list as they are. */
static int s_token_ids(const s_ctx *x, json_t *o, hf_config_t *c) {
    json_t *b = json_object_get(o, "bos_token_id"), *e = json_object_get(o, "eos_token_id");
    if (b && json_is_null(b)) c->bos_id = -1;
    else if (b && (!json_is_integer(b) || json_integer_value(b) < 0 || json_integer_value(b) > HF_MAX_DIM))
        return s_err(x, "bos_token_id is not a token id");
    else if (b) c->bos_id = (int)json_integer_value(b);
    if (!e) return 0;
    if (json_is_null(e)) {
        c->n_eos = 0;
        return 0;
    }
    json_t *list = json_is_array(e) ? e : NULL;
    size_t n = list ? json_array_size(list) : 1;
    if (n > HF_MAX_EOS) return s_err(x, "eos_token_id lists %zu ids, spar keeps at most %d", n, HF_MAX_EOS);
    for (size_t i = 0; i < n; i++) {
        json_t *v = list ? json_array_get(list, i) : e;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > HF_MAX_DIM)
            return s_err(x, "eos_token_id is not a token id or a list of them");
        c->eos[i] = (int)json_integer_value(v);
    }
    c->n_eos = (int)n;
    return 0;
}

/* rope_scaling (or rope_parameters, where transformers v5 keeps rope_theta too) into c. */
static int s_rope(const s_ctx *x, json_t *root, llama_config_t *c) {
    const char *key = "rope_scaling";
    json_t *r = json_object_get(root, "rope_parameters");
    if (r && !json_is_null(r)) key = "rope_parameters";
    else r = json_object_get(root, "rope_scaling");
    if (!r || json_is_null(r)) return 0;
    if (!json_is_object(r)) return s_err(x, "%s is not an object or null", key);
    char prefix[40];
    snprintf(prefix, sizeof prefix, "%s.", key);
    if (json_object_get(r, "rope_theta") && s_num(x, r, prefix, "rope_theta", -1, &c->rope_theta)) return -1;
    const char *tkey = json_object_get(r, "rope_type") ? "rope_type" : "type";
    const char *type = json_string_value(json_object_get(r, tkey));
    if (!type) return s_err(x, "%s.rope_type missing or not a string", key);
    if (!strcmp(type, "default")) return 0;
    if (strcmp(type, "llama3") != 0)
        return s_err(x, "%s.%s '%s' is not supported (spar implements llama3)", key, tkey, type);
    c->rope_llama3 = 1;
    if (s_num(x, r, prefix, "factor", -1, &c->rope_factor) ||
        s_num(x, r, prefix, "low_freq_factor", -1, &c->rope_low_freq_factor) ||
        s_num(x, r, prefix, "high_freq_factor", -1, &c->rope_high_freq_factor))
        return -1;
    json_t *o = json_object_get(r, "original_max_position_embeddings");
    if (!json_is_integer(o) || json_integer_value(o) < 1 || json_integer_value(o) > HF_MAX_DIM)
        return s_err(x, "%s.original_max_position_embeddings missing or not a positive integer", key);
    c->rope_original_ctx = (int)json_integer_value(o);
    if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
        return s_err(x, "%s.high_freq_factor must exceed low_freq_factor (llama3 divides by their difference)", key);
    return 0;
}

/* The Llama family's keys. */
static int s_llama(const s_ctx *x, json_t *j, hf_arch_t arch, llama_config_t *c) {
    memset(c, 0, sizeof *c);
    /* transformers' defaults per config class, where the key is absent */
    static const int def_ctx[] = {[HF_LLAMA] = 2048, [HF_MISTRAL] = 131072, [HF_QWEN2] = 32768, [HF_QWEN3] = 32768};
    if (s_int(x, j, "vocab_size", -1, &c->vocab) || s_int(x, j, "hidden_size", -1, &c->d_model) ||
        s_int(x, j, "intermediate_size", -1, &c->d_ff) || s_int(x, j, "num_hidden_layers", -1, &c->n_layer) ||
        s_int(x, j, "num_attention_heads", -1, &c->n_head) ||
        s_int(x, j, "num_key_value_heads", c->n_head, &c->n_kv_head) ||
        s_int(x, j, "head_dim", arch == HF_QWEN3 ? 128 : c->d_model / c->n_head, &c->head_dim) ||
        s_int(x, j, "max_position_embeddings", def_ctx[arch], &c->ctx) ||
        s_num(x, j, "", "rms_norm_eps", 1e-6, &c->rms_eps) || s_num(x, j, "", "rope_theta", 10000.0, &c->rope_theta) ||
        s_bool(x, j, "tie_word_embeddings", 0, &c->tied) || s_string_is(x, j, "hidden_act", "silu", NULL))
        return -1;
    if (c->head_dim < 1) return s_err(x, "hidden_size %d is smaller than num_attention_heads %d", c->d_model, c->n_head);
    if (c->head_dim % 2) return s_err(x, "head_dim %d is odd (rotary embeddings pair its halves)", c->head_dim);
    if (c->n_head % c->n_kv_head)
        return s_err(x, "num_attention_heads %d is not a multiple of num_key_value_heads %d", c->n_head, c->n_kv_head);
    if (s_rope(x, j, c)) return -1;
    json_t *prf = json_object_get(j, "partial_rotary_factor");
    if (prf && !json_is_null(prf) && (!json_is_number(prf) || json_number_value(prf) != 1.0))
        return s_err(x, "partial_rotary_factor is not 1 (spar rotates the whole head)");
    int attention_bias = 0, mlp_bias = 0, sliding = 0;
    if (s_bool(x, j, "attention_bias", 0, &attention_bias) || s_bool(x, j, "mlp_bias", 0, &mlp_bias)) return -1;
    switch (arch) {
    case HF_LLAMA: /* LlamaAttention: bias=attention_bias on q, k, v and o; LlamaMLP: bias=mlp_bias */
        c->qkv_bias = c->o_bias = attention_bias;
        c->mlp_bias = mlp_bias;
        break;
    case HF_QWEN3: /* Qwen3Attention: attention_bias on all four; q_norm / k_norm always */
        c->qkv_bias = c->o_bias = attention_bias;
        c->qk_norm = 1;
        break;
    case HF_QWEN2: /* Qwen2Attention: q/k/v biases always, o_proj none */
        c->qkv_bias = 1;
        break;
    default: /* Mistral: no biases */
        break;
    }
    if (arch == HF_MISTRAL) {
        json_t *w = json_object_get(j, "sliding_window");
        if (w && !json_is_null(w) && !json_is_integer(w)) return s_err(x, "sliding_window is not an integer or null");
        long long win = !w ? 4096 : json_is_null(w) ? 0 : json_integer_value(w);
        if (win > 0 && win < c->ctx)
            return s_err(x, "sliding_window %lld%s is shorter than max_position_embeddings %d (spar implements full attention; set it to null)",
                         win, w ? "" : " (transformers' default when absent)", c->ctx);
    }
    if (arch == HF_QWEN2 || arch == HF_QWEN3) {
        if (s_bool(x, j, "use_sliding_window", 0, &sliding)) return -1;
        if (sliding) return s_err(x, "use_sliding_window is true (spar implements full attention)");
        json_t *lt = json_object_get(j, "layer_types"), *v;
        size_t i;
        json_array_foreach(lt, i, v) if (!json_is_string(v) || strcmp(json_string_value(v), "full_attention") != 0)
            return s_err(x, "layer_types[%zu] is not \"full_attention\" (spar implements full attention)", i);
    }
    return 0;
}

/* GPT-2's keys. */
static int s_gpt2(const s_ctx *x, json_t *j, gpt_config_t *c) {
    memset(c, 0, sizeof *c);
    int ctx_old = 1024, tied = 1, scale = 1, by_layer = 0, cross = 0;
    if (s_int(x, j, "n_layer", -1, &c->n_layer) || s_int(x, j, "n_head", -1, &c->n_head) ||
        s_int(x, j, "n_embd", -1, &c->d_model) || s_int(x, j, "vocab_size", -1, &c->vocab) ||
        s_int(x, j, "n_ctx", 1024, &ctx_old) || s_int(x, j, "n_positions", ctx_old, &c->ctx) ||
        s_string_is(x, j, "activation_function", "gelu_new", "gelu_pytorch_tanh") ||
        s_bool(x, j, "tie_word_embeddings", 1, &tied) || s_bool(x, j, "scale_attn_weights", 1, &scale) ||
        s_bool(x, j, "scale_attn_by_inverse_layer_idx", 0, &by_layer) || s_bool(x, j, "add_cross_attention", 0, &cross))
        return -1;
    if (c->d_model % c->n_head) return s_err(x, "n_embd %d is not a multiple of n_head %d", c->d_model, c->n_head);
    json_t *inner = json_object_get(j, "n_inner");
    if (inner && !json_is_null(inner) && (!json_is_integer(inner) || json_integer_value(inner) != 4LL * c->d_model))
        return s_err(x, "n_inner is not 4 * n_embd (spar's MLP is 4 * n_embd wide)");
    json_t *eps = json_object_get(j, "layer_norm_epsilon");
    if (eps && !json_is_null(eps) && (!json_is_number(eps) || json_number_value(eps) != 1e-5))
        return s_err(x, "layer_norm_epsilon %g is not supported (spar's LayerNorm uses 1e-5)", json_number_value(eps));
    if (!tied) return s_err(x, "tie_word_embeddings is false (spar's GPT-2 head is the token embedding)");
    if (!scale) return s_err(x, "scale_attn_weights is false (spar scales attention by 1/sqrt(head_dim))");
    if (by_layer) return s_err(x, "scale_attn_by_inverse_layer_idx is true (not supported)");
    if (cross) return s_err(x, "add_cross_attention is true (spar's GPT-2 is a decoder only)");
    return 0;
}

/* A sequence classifier's keys: num_labels as transformers derives it (id2label's size, else
 * num_labels, else 2) and pad_token_id. */
static int s_seqcls(const s_ctx *x, json_t *j, hf_config_t *c) {
    json_t *labels = json_object_get(j, "id2label"), *pad = json_object_get(j, "pad_token_id");
    if (labels && !json_is_null(labels)) {
        if (!json_is_object(labels) || json_object_size(labels) < 1) return s_err(x, "id2label is not an object of labels");
        c->num_labels = (int)json_object_size(labels);
    } else if (s_int(x, j, "num_labels", 2, &c->num_labels)) {
        return -1;
    }
    c->pad_id = -1;
    if (pad && !json_is_null(pad)) {
        if (!json_is_integer(pad) || json_integer_value(pad) < 0 || json_integer_value(pad) > HF_MAX_DIM)
            return s_err(x, "pad_token_id is not a token id or null");
        c->pad_id = (int)json_integer_value(pad);
    }
    return 0;
}

/* config.json text into out; seqcls: a sequence classifier is wanted, not a causal LM. */
static int s_parse(const char *json, size_t len, const char *origin, int seqcls, hf_config_t *out, char *why, size_t wl) {
    s_ctx x = {origin, why, wl};
    memset(out, 0, sizeof *out);
    json_error_t e;
    json_t *j = json_loadb(json, len, 0, &e);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return j ? s_err(&x, "not a JSON object") : s_err(&x, "line %d: %s", e.line, e.text);
    }
    int rc = -1, a = -1, is_seqcls = 0;
    json_t *archs = json_object_get(j, "architectures"), *mt = json_object_get(j, "model_type");
    const char *cls = json_string_value(json_array_get(archs, 0)), *type = json_string_value(mt);
    for (int i = 0; i < HF_N_ARCH; i++) {
        if (cls ? !strcmp(cls, s_arch[i].cls) : type && !strcmp(type, s_arch[i].model_type)) a = i;
        if (cls && s_arch[i].seqcls && !strcmp(cls, s_arch[i].seqcls)) a = i, is_seqcls = 1;
    }
    if (a >= 0 && is_seqcls && !seqcls) {
        s_err(&x, "architectures[0] '%s' is a sequence classifier (a reward model for judge.kind reward), not a causal language model", cls);
    } else if (seqcls && !is_seqcls) {
        s_err(&x, "architectures[0] '%s' is not a sequence classifier spar implements (LlamaForSequenceClassification, MistralForSequenceClassification, Qwen2ForSequenceClassification, Qwen3ForSequenceClassification)",
              cls ? cls : "(missing)");
    } else if (a < 0 && cls) {
        s_err(&x, "architectures[0] '%s' is not supported (spar implements LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, GPT2LMHeadModel)", cls);
    } else if (a < 0) {
        s_err(&x, "architectures missing and model_type '%s' is not supported", type ? type : "(missing)");
    } else if (mt && (!type || strcmp(type, s_arch[a].model_type) != 0)) {
        s_err(&x, "model_type '%s' does not match architectures[0] '%s' (expected '%s')", type ? type : "?", s_arch[a].cls,
              s_arch[a].model_type);
    } else if (json_object_get(j, "quantization_config") && !json_is_null(json_object_get(j, "quantization_config"))) {
        s_err(&x, "quantization_config is set (spar reads F32, F16 and BF16 weights only)");
    } else {
        out->arch = (hf_arch_t)a;
        out->seqcls = is_seqcls;
        out->pad_id = -1;
        snprintf(out->architecture, sizeof out->architecture, "%s", is_seqcls ? s_arch[a].seqcls : s_arch[a].cls);
        /* transformers' class defaults for the special tokens */
        int bos = a == HF_GPT2 ? 50256 : (a == HF_LLAMA || a == HF_MISTRAL) ? 1 : -1;
        int eos = a == HF_GPT2 ? 50256 : (a == HF_LLAMA || a == HF_MISTRAL) ? 2 : -1;
        out->bos_id = bos;
        out->n_eos = eos >= 0;
        out->eos[0] = eos;
        rc = a == HF_GPT2 ? s_gpt2(&x, j, &out->gpt) : s_llama(&x, j, out->arch, &out->llama);
        if (rc == 0) rc = s_token_ids(&x, j, out);
        if (rc == 0 && is_seqcls) rc = s_seqcls(&x, j, out);
    }
    json_decref(j);
    return rc;
}

int hf_config_parse(const char *json, size_t len, const char *origin, hf_config_t *out, char *why, size_t wl) {
    return s_parse(json, len, origin, 0, out, why, wl);
}

static int s_read(const char *dir, int seqcls, hf_config_t *out, char *why, size_t wl) {
    char *path = xasprintf("%s/config.json", dir);
    size_t len;
    char *text = util_read_file(path, &len);
    int rc = -1;
    if (!text) snprintf(why, wl, "%s: cannot read: %s", path, strerror(errno));
    else rc = s_parse(text, len, path, seqcls, out, why, wl);
    free(text);
    free(path);
    if (rc != 0) return rc;
    /* generation_config.json: its token ids are the ones generation uses */
    path = xasprintf("%s/generation_config.json", dir);
    text = util_read_file(path, &len);
    if (text) {
        s_ctx x = {path, why, wl};
        json_error_t e;
        json_t *j = json_loadb(text, len, 0, &e);
        if (!j || !json_is_object(j)) rc = j ? s_err(&x, "not a JSON object") : s_err(&x, "line %d: %s", e.line, e.text);
        else rc = s_token_ids(&x, j, out);
        json_decref(j);
    } else if (errno != ENOENT) {
        rc = util_refuse(why, wl, "%s: cannot read: %s", path, strerror(errno));
    }
    free(text);
    free(path);
    return rc;
}

int hf_config_read(const char *dir, hf_config_t *out, char *why, size_t wl) { return s_read(dir, 0, out, why, wl); }

int hf_config_read_seqcls(const char *dir, hf_config_t *out, char *why, size_t wl) {
    return s_read(dir, 1, out, why, wl);
}

int hf_config_check(const hf_config_t *c, char *why, size_t wl) {
    const llama_config_t *l = &c->llama;
    const char *name = hf_arch_name(c->arch), *bad = NULL;
    if ((unsigned)c->arch >= HF_N_ARCH) bad = "is not an architecture spar implements";
    else if (c->seqcls && (!s_arch[c->arch].seqcls || c->num_labels < 1 || c->pad_id < -1))
        bad = "is not a sequence classifier spar implements (a Llama-family trunk, num_labels >= 1)";
    else if (c->n_eos < 0 || c->n_eos > HF_MAX_EOS) bad = "has an invalid number of EOS ids";
    else if (c->arch == HF_GPT2) {
        const gpt_config_t *g = &c->gpt;
        if (g->n_layer < 1 || g->n_head < 1 || g->d_model < 1 || g->ctx < 1 || g->vocab < 1 || g->d_model % g->n_head)
            bad = "has invalid sizes";
    } else if (l->n_layer < 1 || l->d_model < 1 || l->n_head < 1 || l->n_kv_head < 1 || l->head_dim < 2 ||
               l->d_ff < 1 || l->vocab < 1 || l->ctx < 1 || l->n_head % l->n_kv_head || l->head_dim % 2 ||
               !(l->rms_eps > 0) || !(l->rope_theta > 0)) {
        bad = "has invalid sizes";
    } else if (c->arch == HF_QWEN2 && (!l->qkv_bias || l->o_bias || l->mlp_bias || l->qk_norm)) {
        bad = "has q/k/v biases and nothing else (no o_proj or MLP bias, no q/k norm)";
    } else if (c->arch == HF_MISTRAL && (l->qkv_bias || l->o_bias || l->mlp_bias || l->qk_norm)) {
        bad = "has no biases and no q/k norm";
    } else if ((c->arch == HF_LLAMA || c->arch == HF_QWEN3) && l->qkv_bias != l->o_bias) {
        bad = "has attention biases on q, k, v and o together (attention_bias) or on none";
    } else if (c->arch == HF_LLAMA && l->qk_norm) {
        bad = "has no q/k norm";
    } else if (c->arch == HF_QWEN3 && (!l->qk_norm || l->mlp_bias)) {
        bad = "has q/k norm and no MLP bias";
    } else if (l->rope_llama3 && !(l->rope_factor > 0 && l->rope_high_freq_factor > l->rope_low_freq_factor &&
                                   l->rope_low_freq_factor > 0 && l->rope_original_ctx > 0)) {
        bad = "has an invalid llama3 rope_scaling";
    }
    if (bad) return util_refuse(why, wl, "config.json cannot express this model: %s %s", name, bad);
    return 0;
}

/* The eos ids as transformers writes them: one int, or a list when several. */
static json_t *s_eos(const hf_config_t *c) {
    if (c->n_eos == 0) return json_null();
    if (c->n_eos == 1) return json_integer(c->eos[0]);
    json_t *a = json_array();
    for (int i = 0; i < c->n_eos; i++) json_array_append_new(a, json_integer(c->eos[i]));
    return a;
}

/* j as indented text with each number as short as reads back exactly: 1e-05, not
 * 1.0000000000000001e-05 (15 significant digits when every number survives them, else 17). */
static char *s_dumps(json_t *j) {
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_t *back = json_loads(text, 0, NULL);
    if (!json_equal(back, j)) {
        free(text);
        text = json_dumps(j, JSON_INDENT(2));
    }
    json_decref(back);
    return text;
}

static json_t *s_id(int id) { return id >= 0 ? json_integer(id) : json_null(); }

char *hf_config_json(const hf_config_t *c, const char *dtype) {
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", c->seqcls ? s_arch[c->arch].seqcls : hf_arch_name(c->arch)));
    json_object_set_new(j, "model_type", json_string(s_arch[c->arch].model_type));
    if (c->arch == HF_GPT2) {
        const gpt_config_t *g = &c->gpt;
        json_object_set_new(j, "vocab_size", json_integer(g->vocab));
        json_object_set_new(j, "n_positions", json_integer(g->ctx));
        json_object_set_new(j, "n_ctx", json_integer(g->ctx));
        json_object_set_new(j, "n_embd", json_integer(g->d_model));
        json_object_set_new(j, "n_layer", json_integer(g->n_layer));
        json_object_set_new(j, "n_head", json_integer(g->n_head));
        json_object_set_new(j, "n_inner", json_null());
        json_object_set_new(j, "activation_function", json_string("gelu_new"));
        json_object_set_new(j, "layer_norm_epsilon", json_real(1e-5));
        json_object_set_new(j, "scale_attn_weights", json_true());
        json_object_set_new(j, "scale_attn_by_inverse_layer_idx", json_false());
        json_object_set_new(j, "reorder_and_upcast_attn", json_false());
        json_object_set_new(j, "resid_pdrop", json_real(0.0));
        json_object_set_new(j, "embd_pdrop", json_real(0.0));
        json_object_set_new(j, "attn_pdrop", json_real(0.0));
        json_object_set_new(j, "initializer_range", json_real(0.02));
        json_object_set_new(j, "tie_word_embeddings", json_true());
    } else {
        const llama_config_t *l = &c->llama;
        json_object_set_new(j, "vocab_size", json_integer(l->vocab));
        json_object_set_new(j, "hidden_size", json_integer(l->d_model));
        json_object_set_new(j, "intermediate_size", json_integer(l->d_ff));
        json_object_set_new(j, "num_hidden_layers", json_integer(l->n_layer));
        json_object_set_new(j, "num_attention_heads", json_integer(l->n_head));
        json_object_set_new(j, "num_key_value_heads", json_integer(l->n_kv_head));
        json_object_set_new(j, "head_dim", json_integer(l->head_dim));
        json_object_set_new(j, "max_position_embeddings", json_integer(l->ctx));
        json_object_set_new(j, "rms_norm_eps", json_real(l->rms_eps));
        json_object_set_new(j, "rope_theta", json_real(l->rope_theta));
        json_object_set_new(j, "rope_scaling",
                            l->rope_llama3 ? json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor",
                                                       l->rope_factor, "low_freq_factor", l->rope_low_freq_factor,
                                                       "high_freq_factor", l->rope_high_freq_factor,
                                                       "original_max_position_embeddings", l->rope_original_ctx)
                                           : json_null());
        json_object_set_new(j, "hidden_act", json_string("silu"));
        json_object_set_new(j, "tie_word_embeddings", json_boolean(l->tied));
        if (c->arch == HF_LLAMA || c->arch == HF_QWEN3) json_object_set_new(j, "attention_bias", json_boolean(l->qkv_bias));
        if (c->arch == HF_LLAMA) json_object_set_new(j, "mlp_bias", json_boolean(l->mlp_bias));
        if (c->arch == HF_MISTRAL) json_object_set_new(j, "sliding_window", json_null());
        if (c->arch == HF_QWEN2 || c->arch == HF_QWEN3) json_object_set_new(j, "use_sliding_window", json_false());
        json_object_set_new(j, "attention_dropout", json_real(0.0));
        json_object_set_new(j, "initializer_range", json_real(0.02));
    }
    json_object_set_new(j, "bos_token_id", s_id(c->bos_id));
    json_object_set_new(j, "eos_token_id", s_eos(c));
    if (c->seqcls) { /* as transformers writes num_labels: the label maps */
        json_t *id2label = json_object(), *label2id = json_object();
        for (int i = 0; i < c->num_labels; i++) {
            char id[16], label[32];
            snprintf(id, sizeof id, "%d", i);
            snprintf(label, sizeof label, "LABEL_%d", i);
            json_object_set_new(id2label, id, json_string(label));
            json_object_set_new(label2id, label, json_integer(i));
        }
        json_object_set_new(j, "id2label", id2label);
        json_object_set_new(j, "label2id", label2id);
        json_object_set_new(j, "pad_token_id", s_id(c->pad_id));
    }
    json_object_set_new(j, "torch_dtype", json_string(dtype));
    char *text = s_dumps(j);
    json_decref(j);
    return text;
}

char *hf_generation_config_json(const hf_config_t *c) {
    json_t *j = json_object();
    json_object_set_new(j, "bos_token_id", s_id(c->bos_id));
    json_object_set_new(j, "eos_token_id", s_eos(c));
    char *text = s_dumps(j);
    json_decref(j);
    return text;
}
