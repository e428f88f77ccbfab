/* tiny_models — see tiny_models.h. */
#include "common/tiny_models.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lm.h"
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

int tiny_tokenizer_write(const char *dir, char *why, size_t wl) {
    if (util_mkdirs(dir) != 0) {
        snprintf(why, wl, "%s: cannot create", dir);
        return -1;
    }
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        char c[4];
        s_byte_char(b, c);
        json_object_set_new(vocab, c, json_integer(b));
    }
    json_t *added = json_pack("[o, o, o]", s_added(TINY_ENDOFTEXT, "<|endoftext|>"), s_added(TINY_IM_START, "<|im_start|>"),
                              s_added(TINY_IM_END, "<|im_end|>"));
    json_t *tok = json_pack(
        "{s:s, s:n, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:n, s:{s:s, s:b, s:b, s:b},"
        " s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:[]}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer", "pre_tokenizer", "type",
        "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1, "post_processor", "decoder", "type",
        "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE", "dropout",
        "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
        "ignore_merges", 0, "vocab", vocab, "merges");
    json_t *cfg = json_pack("{s:b, s:n, s:s, s:s, s:s, s:i, s:s}", "add_prefix_space", 0, "bos_token", "eos_token",
                            "<|im_end|>", "pad_token", "<|endoftext|>", "chat_template", s_chatml, "model_max_length",
                            512, "tokenizer_class", "PreTrainedTokenizerFast");
    if (s_dump(tok, dir, "tokenizer.json", why, wl) != 0) {
        json_decref(cfg);
        return -1;
    }
    return s_dump(cfg, dir, "tokenizer_config.json", why, wl);
}

hf_config_t tiny_llama_config(void) {
    hf_config_t c = {.arch = HF_LLAMA, .bos_id = -1, .eos = {TINY_IM_END, TINY_ENDOFTEXT}, .n_eos = 2};
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.llama = (llama_config_t){.n_layer = 2, .d_model = 64, .n_head = 4, .n_kv_head = 2, .head_dim = 16, .d_ff = 128,
                               .vocab = TINY_VOCAB, .ctx = 512, .rms_eps = 1e-5, .rope_theta = 10000, .tied = 1};
    return c;
}

static int s_causal(const char *dir, const char *name, const char *tokdir, uint64_t seed, char *why, size_t wl) {
    hf_config_t c = tiny_llama_config();
    lm_t *m = lm_new_random(&c, tokdir, seed, why, wl);
    if (!m) return -1;
    char *path = xasprintf("%s/%s", dir, name);
    int rc = lm_save_dir(m, path, 0, 0, why, wl);
    free(path);
    lm_free(&m);
    return rc;
}

int tiny_models_write(const char *dir, uint64_t seed, char *why, size_t wl) {
    char *tokdir = xasprintf("%s/tokenizer", dir);
    int rc = tiny_tokenizer_write(tokdir, why, wl);
    if (rc == 0) rc = s_causal(dir, "policy", tokdir, seed, why, wl);
    if (rc == 0) rc = s_causal(dir, "judge", tokdir, seed + 1, why, wl);
    free(tokdir);
    return rc;
}
