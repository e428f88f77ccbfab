/* tiny_models — see tiny_models.h. */
#include "common/tiny_models.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lm.h"
#include "common/seqcls.h"
#include "common/util.h"

/* ChatML, as SmolLM2 and Qwen write it. */
static const char s_chatml[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the rest for
 * U+0100 onwards in byte order. Writes byte b's character as UTF-8 into out. */
static void s_byte_char(int b, char *out) {
#define PRINTABLE(x) (((x) >= '!' && (x) <= '~') || ((x) >= 0xA1 && (x) <= 0xAC) || ((x) >= 0xAE && (x) <= 0xFF))
    int cp = b;
    if (!PRINTABLE(b)) {
        int n = 0;
        for (int x = 0; x < b; x++) n += !PRINTABLE(x);
        cp = 256 + n;
    }
#undef PRINTABLE
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

static json_t *s_added(int id, const char *content) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content, "single_word", 0, "lstrip", 0,
                     "rstrip", 0, "normalized", 0, "special", 1);
}

static int s_dump(json_t *o, const char *dir, const char *name, char *why, size_t wl) {
    char *path = xasprintf("%s/%s", dir, name);
    int rc = json_dump_file(o, path, JSON_INDENT(1));
    if (rc != 0) snprintf(why, wl, "%s: cannot write", path);
    free(path);
    json_decref(o);
    return rc ? -1 : 0;
}

/* tokenizer.json of the byte symbols, the merges and the specials, as tiny_byte_tokenizer_write
 * describes it; the merges are a JSON list taken over. */
static int s_tokenizer_json(const char *dir, json_t *merges, const char *const *specials, int n_specials, char *why,
                            size_t wl) {
    if (util_mkdirs(dir) != 0) {
        json_decref(merges);
        snprintf(why, wl, "%s: cannot create", dir);
        return -1;
    }
    json_t *vocab = json_object(), *added = json_array();
    for (int b = 0; b < 256; b++) {
        char c[4];
        s_byte_char(b, c);
        json_object_set_new(vocab, c, json_integer(b));
    }
    size_t i;
    json_t *m;
    json_array_foreach(merges, i, m) { /* "x y" -> the symbol "xy" */
        char sym[64];
        const char *t = json_string_value(m), *sp = strchr(t, ' ');
        snprintf(sym, sizeof sym, "%.*s%s", (int)(sp - t), t, sp + 1);
        json_object_set_new(vocab, sym, json_integer(256 + (json_int_t)i));
    }
    int first = 256 + (int)json_array_size(merges);
    for (int k = 0; k < n_specials; k++) json_array_append_new(added, s_added(first + k, specials[k]));
    json_t *tok = json_pack(
        "{s:s, s:n, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:n, s:{s:s, s:b, s:b, s:b},"
        " s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer", "pre_tokenizer", "type",
        "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1, "post_processor", "decoder", "type",
        "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE", "dropout",
        "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
        "ignore_merges", 0, "vocab", vocab, "merges", merges);
    return s_dump(tok, dir, "tokenizer.json", why, wl);
}

int tiny_byte_tokenizer_write(const char *dir, const char *const *merges, int n_merges, const char *const *specials,
                              int n_specials, char *why, size_t wl) {
    json_t *list = json_array();
    for (int i = 0; i < n_merges; i++) json_array_append_new(list, json_string(merges[i]));
    return s_tokenizer_json(dir, list, specials, n_specials, why, wl);
}

/* Merges of printable characters until the vocabulary, with the byte symbols before them and the
 * three specials after, has vocab_size ids: "x y" for printable x, y, then "xy z". */
static json_t *s_merges(int vocab_size) {
    json_t *merges = json_array();
    int n = vocab_size - 256 - 3;
    char m[32];
    for (int x = '!'; x <= '~'; x++)
        for (int y = '!'; y <= '~'; y++)
            if ((int)json_array_size(merges) < n) {
                snprintf(m, sizeof m, "%c %c", x, y);
                json_array_append_new(merges, json_string(m));
            }
    for (int x = '!'; x <= '~'; x++)
        for (int y = '!'; y <= '~'; y++)
            for (int z = '!'; z <= '~' && (int)json_array_size(merges) < n; z++) {
                snprintf(m, sizeof m, "%c%c %c", x, y, z);
                json_array_append_new(merges, json_string(m));
            }
    return merges;
}

int tiny_tokenizer_write(const char *dir, int vocab_size, char *why, size_t wl) {
    static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    if (s_tokenizer_json(dir, s_merges(vocab_size), specials, 3, why, wl) != 0) return -1;
    json_t *cfg = json_pack("{s:b, s:n, s:s, s:s, s:s, s:i, s:s}", "add_prefix_space", 0, "bos_token", "eos_token",
                            "<|im_end|>", "pad_token", "<|endoftext|>", "chat_template", s_chatml, "model_max_length",
                            512, "tokenizer_class", "PreTrainedTokenizerFast");
    return s_dump(cfg, dir, "tokenizer_config.json", why, wl);
}

const char tiny_shape_names[] = "tiny, smollm2-135m, qwen2.5-0.5b";

int tiny_shape(const char *name, hf_config_t *c) {
    *c = (hf_config_t){.arch = HF_LLAMA, .bos_id = -1};
    llama_config_t *l = &c->llama;
    if (!strcmp(name, "tiny")) {
        *l = (llama_config_t){.n_layer = 2, .d_model = 64, .n_head = 4, .n_kv_head = 2, .head_dim = 16, .d_ff = 128,
                              .vocab = TINY_VOCAB, .ctx = 512, .rms_eps = 1e-5, .rope_theta = 10000, .tied = 1};
    } else if (!strcmp(name, "smollm2-135m")) {
        *l = (llama_config_t){.n_layer = 30, .d_model = 576, .n_head = 9, .n_kv_head = 3, .head_dim = 64, .d_ff = 1536,
                              .vocab = 49152, .ctx = 2048, .rms_eps = 1e-5, .rope_theta = 100000, .tied = 1};
    } else if (!strcmp(name, "qwen2.5-0.5b")) {
        c->arch = HF_QWEN2;
        *l = (llama_config_t){.n_layer = 24, .d_model = 896, .n_head = 14, .n_kv_head = 2, .head_dim = 64, .d_ff = 4864,
                              .vocab = 151936, .ctx = 2048, .rms_eps = 1e-6, .rope_theta = 1000000, .qkv_bias = 1,
                              .tied = 1};
    } else {
        return -1;
    }
    /* EOS: <|im_end|> and <|endoftext|>, the last and the third-last ids (tiny_tokenizer_write) */
    c->eos[0] = l->vocab - 1, c->eos[1] = l->vocab - 3, c->n_eos = 2;
    snprintf(c->architecture, sizeof c->architecture, "%s", hf_arch_name(c->arch));
    return 0;
}

/* The tiny judges' weights drawn JUDGE_SPREAD times wider than the training initialisation (std
 * 0.02): at that width a random 2-layer model's outputs depend on the text it reads, so its
 * verdicts differ between responses instead of being a near-constant preference for a position.
 * Not the deep shapes (their residual stream would overflow): those are for measuring speed. */
#define JUDGE_SPREAD 8.0f
#define JUDGE_SPREAD_MAX_LAYERS 4

static void s_spread(const hf_config_t *c, float *w, size_t n) {
    if (c->llama.n_layer > JUDGE_SPREAD_MAX_LAYERS) return;
    for (size_t i = 0; i < n; i++) w[i] *= JUDGE_SPREAD;
}

static int s_causal(const hf_config_t *c, const char *dir, const char *name, const char *tokdir, uint64_t seed,
                    char *why, size_t wl) {
    lm_t *m = lm_new_random(c, tokdir, seed, why, wl);
    if (!m) return -1;
    if (strcmp(name, "policy") != 0) s_spread(c, lm_params(m), lm_n_params(m));
    char *path = xasprintf("%s/%s", dir, name);
    int rc = lm_save_dir(m, path, 0, 0, why, wl);
    free(path);
    lm_free(&m);
    return rc;
}

int tiny_reward_write(const hf_config_t *causal, const char *tokdir, const char *dir, uint64_t seed, char *why,
                      size_t wl) {
    hf_config_t c = *causal;
    c.seqcls = 1, c.num_labels = 1, c.pad_id = c.n_eos > 1 ? c.eos[1] : -1;
    snprintf(c.architecture, sizeof c.architecture, "%s", hf_seqcls_name(c.arch));
    seqcls_t *m = seqcls_new_random(&c, tokdir, seed, why, wl);
    if (!m) return -1;
    s_spread(&c, llama_params(seqcls_llama(m)), llama_n_params(seqcls_llama(m)));
    s_spread(&c, seqcls_score_weight(m), (size_t)c.llama.d_model);
    int rc = seqcls_save_dir(m, dir, why, wl);
    seqcls_free(&m);
    return rc;
}

int tiny_models_write(const char *dir, const char *shape, uint64_t seed, char *why, size_t wl) {
    hf_config_t c;
    if (tiny_shape(shape, &c) != 0) {
        snprintf(why, wl, "unknown shape '%s' (%s)", shape, tiny_shape_names);
        return -1;
    }
    char *tokdir = xasprintf("%s/tokenizer", dir);
    int rc = tiny_tokenizer_write(tokdir, c.llama.vocab, why, wl);
    if (rc == 0) rc = s_causal(&c, dir, "policy", tokdir, seed, why, wl);
    if (rc == 0) rc = s_causal(&c, dir, "judge", tokdir, seed + 1, why, wl);
    char *reward = xasprintf("%s/reward", dir);
    if (rc == 0) rc = tiny_reward_write(&c, tokdir, reward, seed + 2, why, wl);
    free(reward);
    free(tokdir);
    return rc;
}
