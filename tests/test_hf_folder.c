/* Hugging Face model folders: each architecture's config.json parses into the fields a user
 * would check, each option spar does not implement is refused naming the file and key; F16 and
 * BF16 widen exactly (all 65536 F16 values against the compiler's own _Float16) and BF16 narrows
 * to nearest even; a folder written reads back bit-exact (F32) and as its rounding (BF16), with
 * transformers' metadata and the tokenizer files, replacing an old folder whole; shards read as
 * the single file does; a missing, misshapen, unknown or integer tensor is refused by name; a
 * GPT-2 folder as transformers saves it (transformer. prefix, mask buffers, BF16) loads through
 * gpt_io. */
#include "tests/testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gpt.h"
#include "common/gpt_io.h"
#include "common/hf_folder.h"
#include "common/safetensors.h"
#include "common/util.h"

static void s_put(const char *dir, const char *name, const char *text) {
    char *p = xasprintf("%s/%s", dir, name);
    tu_write(p, text);
    free(p);
}

static void s_read_ok(const char *dir, hf_config_t *c) {
    char why[512];
    if (hf_config_read(dir, c, why, sizeof why) != 0) fail_msg("%s", why);
}

/* ---- config.json ------------------------------------------------------------------------ */

static const char *LLAMA = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 128256,"
                           " \"hidden_size\": 2048, \"intermediate_size\": 8192, \"num_hidden_layers\": 16,"
                           " \"num_attention_heads\": 32, \"num_key_value_heads\": 8, \"max_position_embeddings\": 131072,"
                           " \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"hidden_act\": \"silu\","
                           " \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0,"
                           " \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},"
                           " \"tie_word_embeddings\": true, \"attention_bias\": false, \"mlp_bias\": false,"
                           " \"pretraining_tp\": 1, \"attention_dropout\": 0.0, \"bos_token_id\": 128000,"
                           " \"eos_token_id\": [128001, 128008, 128009], \"torch_dtype\": \"bfloat16\", \"use_cache\": true}";
static const char *MISTRAL = "{\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"vocab_size\": 32768,"
                             " \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
                             " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 32768,"
                             " \"rms_norm_eps\": 1e-05, \"rope_theta\": 1000000.0, \"sliding_window\": null,"
                             " \"bos_token_id\": 1, \"eos_token_id\": 2}";
static const char *QWEN2 = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"vocab_size\": 151936,"
                           " \"hidden_size\": 896, \"intermediate_size\": 4864, \"num_hidden_layers\": 24,"
                           " \"num_attention_heads\": 14, \"num_key_value_heads\": 2, \"max_position_embeddings\": 32768,"
                           " \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"sliding_window\": 32768,"
                           " \"use_sliding_window\": false, \"max_window_layers\": 21, \"tie_word_embeddings\": true,"
                           " \"hidden_act\": \"silu\", \"bos_token_id\": 151643, \"eos_token_id\": 151643}";
static const char *QWEN3 = "{\"architectures\": [\"Qwen3ForCausalLM\"], \"model_type\": \"qwen3\", \"vocab_size\": 151936,"
                           " \"hidden_size\": 1024, \"intermediate_size\": 3072, \"num_hidden_layers\": 28,"
                           " \"num_attention_heads\": 16, \"num_key_value_heads\": 8, \"head_dim\": 128,"
                           " \"max_position_embeddings\": 40960, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000,"
                           " \"rope_scaling\": null, \"attention_bias\": false, \"use_sliding_window\": false,"
                           " \"tie_word_embeddings\": true, \"eos_token_id\": 151645}";
static const char *GPT2 = "{\"architectures\": [\"GPT2LMHeadModel\"], \"model_type\": \"gpt2\", \"vocab_size\": 50257,"
                          " \"n_positions\": 1024, \"n_ctx\": 1024, \"n_embd\": 768, \"n_layer\": 12, \"n_head\": 12,"
                          " \"activation_function\": \"gelu_new\", \"layer_norm_epsilon\": 1e-05, \"resid_pdrop\": 0.1,"
                          " \"scale_attn_weights\": true, \"bos_token_id\": 50256, \"eos_token_id\": 50256,"
                          " \"task_specific_params\": {\"text-generation\": {\"do_sample\": true}}}";

static void test_hf_config_each_architecture(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    hf_config_t c;
    s_put(dir, "config.json", LLAMA);
    s_read_ok(dir, &c);
    const llama_config_t *l = &c.llama;
    assert_int_equal(c.arch, HF_LLAMA);
    assert_string_equal(c.architecture, "LlamaForCausalLM");
    assert_true(l->vocab == 128256 && l->d_model == 2048 && l->d_ff == 8192 && l->n_layer == 16);
    assert_true(l->n_head == 32 && l->n_kv_head == 8 && l->head_dim == 64 && l->ctx == 131072);
    assert_true(l->rms_eps == 1e-5 && l->rope_theta == 500000.0 && l->tied == 1);
    assert_true(l->rope_llama3 && l->rope_factor == 32 && l->rope_low_freq_factor == 1 && l->rope_high_freq_factor == 4 &&
                l->rope_original_ctx == 8192);
    assert_true(!l->qkv_bias && !l->o_bias && !l->mlp_bias && !l->qk_norm);
    assert_true(c.bos_id == 128000 && c.n_eos == 3 && c.eos[0] == 128001 && c.eos[2] == 128009);
    /* generation_config.json's ids win over config.json's */
    s_put(dir, "generation_config.json", "{\"bos_token_id\": 128000, \"eos_token_id\": 128009, \"temperature\": 0.6}");
    s_read_ok(dir, &c);
    assert_true(c.n_eos == 1 && c.eos[0] == 128009);
    /* attention_bias puts biases on q, k, v and o; mlp_bias on the MLP; defaults: untied, theta 1e4 */
    s_put(dir, "generation_config.json", "{}");
    s_put(dir, "config.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 32, \"hidden_size\": 16,"
                              " \"intermediate_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
                              " \"attention_bias\": true, \"mlp_bias\": true}");
    s_read_ok(dir, &c);
    assert_true(l->qkv_bias && l->o_bias && l->mlp_bias && !l->tied && l->n_kv_head == 4 && l->rope_theta == 10000.0);
    assert_true(l->ctx == 2048 && l->rms_eps == 1e-6 && !l->rope_llama3 && c.bos_id == 1 && c.n_eos == 1 && c.eos[0] == 2);
    char *gc = xasprintf("%s/generation_config.json", dir);
    unlink(gc);
    free(gc);

    s_put(dir, "config.json", MISTRAL);
    s_read_ok(dir, &c);
    assert_true(c.arch == HF_MISTRAL && l->n_kv_head == 2 && l->head_dim == 16 && !l->tied && !l->qkv_bias &&
                l->rope_theta == 1e6 && l->ctx == 32768);

    s_put(dir, "config.json", QWEN2);
    s_read_ok(dir, &c);
    assert_true(c.arch == HF_QWEN2 && l->qkv_bias && !l->o_bias && !l->mlp_bias && !l->qk_norm && l->tied);
    assert_true(l->head_dim == 64 && c.bos_id == 151643 && c.eos[0] == 151643);

    s_put(dir, "config.json", QWEN3);
    s_read_ok(dir, &c);
    assert_true(c.arch == HF_QWEN3 && l->qk_norm && !l->qkv_bias && l->head_dim == 128 && l->n_head == 16 &&
                l->d_model == 1024 && l->rope_theta == 1e6 && c.bos_id == -1 && c.eos[0] == 151645);

    s_put(dir, "config.json", GPT2);
    s_read_ok(dir, &c);
    assert_true(c.arch == HF_GPT2 && c.gpt.vocab == 50257 && c.gpt.ctx == 1024 && c.gpt.d_model == 768 &&
                c.gpt.n_layer == 12 && c.gpt.n_head == 12 && c.eos[0] == 50256);
    tu_done(dir);
}

/* base with patch's keys set (a value "DELETE" removes the key) must be refused with needle. */
static void s_refused(const char *base, const char *patch, const char *needle) {
    char *dir = tu_tmpdir();
    json_t *b = json_loads(base, 0, NULL), *p = json_loads(patch, 0, NULL);
    assert_non_null(b);
    assert_non_null(p);
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), "DELETE")) json_object_del(b, k);
        else json_object_set(b, k, v);
    }
    char *text = json_dumps(b, 0);
    s_put(dir, "config.json", text);
    hf_config_t c;
    char why[512] = "";
    int rc = hf_config_read(dir, &c, why, sizeof why);
    if (rc == 0 || !strstr(why, needle)) fail_msg("%s: expected a refusal naming '%s', got '%s'", patch, needle, rc ? why : "(accepted)");
    /* every refusal names the file */
    assert_non_null(strstr(why, "config.json: "));
    free(text);
    json_decref(b);
    json_decref(p);
    tu_done(dir);
}

static void test_hf_config_refusals(void **state) {
    (void)state;
    s_refused(LLAMA, "{\"architectures\": [\"FalconForCausalLM\"]}", "config.json: architectures[0] 'FalconForCausalLM' is not supported");
    s_refused(LLAMA, "{\"model_type\": \"qwen2\"}", "config.json: model_type 'qwen2' does not match architectures[0] 'LlamaForCausalLM'");
    s_refused(LLAMA, "{\"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2.0}}",
              "config.json: rope_scaling.rope_type 'dynamic' is not supported (spar implements llama3)");
    s_refused(LLAMA, "{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}}", "config.json: rope_scaling.type 'yarn' is not supported");
    s_refused(LLAMA, "{\"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}}", "rope_scaling.type 'linear' is not supported");
    s_refused(LLAMA, "{\"rope_scaling\": {\"rope_type\": \"llama3\", \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
                     " \"original_max_position_embeddings\": 8192}}", "config.json: rope_scaling.factor missing");
    s_refused(LLAMA, "{\"rope_parameters\": {\"rope_type\": \"longrope\", \"rope_theta\": 10000.0}}",
              "config.json: rope_parameters.rope_type 'longrope' is not supported");
    s_refused(LLAMA, "{\"hidden_act\": \"gelu\"}", "config.json: hidden_act 'gelu' is not supported (spar implements silu)");
    s_refused(LLAMA, "{\"partial_rotary_factor\": 0.5}", "config.json: partial_rotary_factor is not 1");
    s_refused(LLAMA, "{\"num_key_value_heads\": 5}", "config.json: num_attention_heads 32 is not a multiple of num_key_value_heads 5");
    s_refused(LLAMA, "{\"head_dim\": 33}", "config.json: head_dim 33 is odd");
    s_refused(LLAMA, "{\"hidden_size\": \"DELETE\"}", "config.json: hidden_size missing");
    s_refused(LLAMA, "{\"vocab_size\": -3}", "config.json: vocab_size is not an integer");
    s_refused(LLAMA, "{\"quantization_config\": {\"quant_method\": \"gptq\"}}", "config.json: quantization_config is set");
    s_refused(LLAMA, "{\"eos_token_id\": \"</s>\"}", "config.json: eos_token_id is not a token id");
    s_refused(LLAMA, "{\"tie_word_embeddings\": 1}", "config.json: tie_word_embeddings is not true or false");
    s_refused(MISTRAL, "{\"sliding_window\": 4096}", "config.json: sliding_window 4096 is shorter than max_position_embeddings 32768");
    s_refused(MISTRAL, "{\"sliding_window\": \"DELETE\"}", "config.json: sliding_window 4096 (transformers' default when absent)");
    s_refused(QWEN2, "{\"use_sliding_window\": true}", "config.json: use_sliding_window is true");
    s_refused(QWEN3, "{\"layer_types\": [\"full_attention\", \"sliding_attention\"]}", "config.json: layer_types[1]");
    s_refused(GPT2, "{\"layer_norm_epsilon\": 1e-6}", "config.json: layer_norm_epsilon 1e-06 is not supported");
    s_refused(GPT2, "{\"activation_function\": \"relu\"}", "config.json: activation_function 'relu' is not supported");
    s_refused(GPT2, "{\"n_inner\": 1000}", "config.json: n_inner is not 4 * n_embd");
    s_refused(GPT2, "{\"tie_word_embeddings\": false}", "config.json: tie_word_embeddings is false");
    s_refused(GPT2, "{\"scale_attn_weights\": false}", "config.json: scale_attn_weights is false");
    s_refused(GPT2, "{\"scale_attn_by_inverse_layer_idx\": true}", "config.json: scale_attn_by_inverse_layer_idx is true");
    s_refused(GPT2, "{\"add_cross_attention\": true}", "config.json: add_cross_attention is true");
    s_refused(GPT2, "{\"n_head\": 7}", "config.json: n_embd 768 is not a multiple of n_head 7");
    /* the window as long as the context hides nothing: the same model, accepted */
    char *dir = tu_tmpdir();
    s_put(dir, "config.json", "{\"architectures\": [\"MistralForCausalLM\"], \"vocab_size\": 32, \"hidden_size\": 16,"
                              " \"intermediate_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
                              " \"max_position_embeddings\": 4096, \"sliding_window\": 4096}");
    hf_config_t c;
    s_read_ok(dir, &c);
    /* generation_config.json's errors name it; unreadable JSON names the line */
    s_put(dir, "generation_config.json", "{\"eos_token_id\": [2, \"x\"]}");
    char why[512];
    assert_int_equal(hf_config_read(dir, &c, why, sizeof why), -1);
    assert_non_null(strstr(why, "generation_config.json: eos_token_id is not a token id"));
    s_put(dir, "config.json", "{\"architectures\": [");
    assert_int_equal(hf_config_read(dir, &c, why, sizeof why), -1);
    assert_non_null(strstr(why, "config.json: line 1"));
    tu_done(dir);
}

/* ---- 16-bit floats ---------------------------------------------------------------------- */

static uint32_t s_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_hf_f16_bf16_exact(void **state) {
    (void)state;
    /* hand-computed F16 values */
    assert_true(st_f16_to_f32(0x3c00) == 1.0f);
    assert_true(st_f16_to_f32(0xc000) == -2.0f);
    assert_true(st_f16_to_f32(0x3555) == 0.333251953125f); /* 1365/4096 */
    assert_true(st_f16_to_f32(0x7bff) == 65504.0f);         /* largest finite */
    assert_true(st_f16_to_f32(0x0400) == ldexpf(1, -14));   /* smallest normal */
    assert_true(st_f16_to_f32(0x0001) == ldexpf(1, -24));   /* smallest subnormal */
    assert_true(st_f16_to_f32(0x03ff) == ldexpf(1023, -24)); /* largest subnormal */
    assert_true(s_bits(st_f16_to_f32(0x8000)) == 0x80000000u); /* -0 */
    assert_true(st_f16_to_f32(0x7c00) == INFINITY && st_f16_to_f32(0xfc00) == -INFINITY);
    assert_true(isnan(st_f16_to_f32(0x7e00)) && isnan(st_f16_to_f32(0xfd01)));
    /* every F16 value against the compiler's conversion (an independent implementation) */
    for (uint32_t h = 0; h < 65536; h++) {
        _Float16 x;
        uint16_t u = (uint16_t)h;
        memcpy(&x, &u, 2);
        float want = (float)x, got = st_f16_to_f32(u);
        if (isnan(want) ? !isnan(got) : s_bits(want) != s_bits(got)) fail_msg("F16 0x%04x: %a, expected %a", h, got, want);
    }
    /* BF16 is F32's top half */
    assert_true(st_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(st_bf16_to_f32(0xc040) == -3.0f);
    assert_true(st_bf16_to_f32(0x4049) == 3.140625f);
    assert_true(st_bf16_to_f32(0x0001) == ldexpf(1, -133)); /* smallest subnormal */
    assert_true(st_bf16_to_f32(0x7f80) == INFINITY && isnan(st_bf16_to_f32(0x7fc1)));
    /* st_to_f32 on unaligned little-endian bytes */
    uint8_t raw[1 + 6] = {0, 0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00};
    st_tensor_t t = {.name = "x", .dtype = "F16", .ndim = 1, .shape = {3}, .data = raw + 1, .nbytes = 6};
    float out[3];
    assert_int_equal(st_to_f32(&t, out), 0);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1, -24));
    snprintf(t.dtype, sizeof t.dtype, "I16");
    assert_int_equal(st_to_f32(&t, out), -1);
}

static void test_hf_bf16_rounding(void **state) {
    (void)state;
    assert_int_equal(st_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(st_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3f80);     /* halfway: to the even 0x3f80 */
    assert_int_equal(st_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3f82); /* halfway: to the even 0x3f82 */
    assert_int_equal(st_f32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -23)), 0x3f81); /* above half: up */
    assert_int_equal(st_f32_to_bf16(1.0f + ldexpf(1, -8) - ldexpf(1, -23)), 0x3f80); /* below half: down */
    assert_int_equal(st_f32_to_bf16(-3.14159265f), 0xc049);
    assert_int_equal(st_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(st_f32_to_bf16(3.4028235e38f), 0x7f80); /* FLT_MAX rounds up to inf */
    assert_int_equal(st_f32_to_bf16(INFINITY), 0x7f80);
    uint32_t nan_low = 0x7f800001u; /* a NaN whose payload is only in the low half stays NaN */
    float f;
    memcpy(&f, &nan_low, 4);
    assert_true(isnan(st_bf16_to_f32(st_f32_to_bf16(f))));
    memcpy(&f, &(uint32_t){0x00008000u}, 4); /* subnormal halfway: ties to even 0 */
    assert_int_equal(st_f32_to_bf16(f), 0x0000);
    memcpy(&f, &(uint32_t){0x00018000u}, 4);
    assert_int_equal(st_f32_to_bf16(f), 0x0002);
}

/* ---- weights ---------------------------------------------------------------------------- */

/* A small Llama's tensor list (names and shapes as transformers saves them) with data. */
#define NT 6
static const char *NAMES[NT] = {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                                "model.layers.0.self_attn.q_proj.bias", "model.layers.0.input_layernorm.weight",
                                "model.norm.weight", "lm_head.weight"};
static const int64_t SHAPES[NT][2] = {{10, 4}, {4, 4}, {4, 0}, {4, 0}, {4, 0}, {10, 4}};
static const int NDIM[NT] = {2, 2, 1, 1, 1, 2};

typedef struct {
    hf_want_t w[NT];
    float *data[NT];
} s_model;

static void s_model_init(s_model *m, unsigned seed, int fill) {
    srand(seed);
    for (int i = 0; i < NT; i++) {
        size_t n = (size_t)SHAPES[i][0] * (size_t)(NDIM[i] == 2 ? SHAPES[i][1] : 1);
        m->data[i] = xcalloc(n, sizeof(float));
        for (size_t k = 0; fill && k < n; k++) m->data[i][k] = (float)rand() / RAND_MAX * 2 - 1 + (float)k * 1e-7f;
        m->w[i] = (hf_want_t){NAMES[i], NDIM[i], SHAPES[i], m->data[i]};
    }
    if (fill) { /* values a careless conversion would change */
        memcpy(&m->data[0][0], &(uint32_t){0x80000000u}, 4); /* -0 */
        memcpy(&m->data[0][1], &(uint32_t){0x00000001u}, 4); /* smallest subnormal */
        m->data[0][2] = 3.4028235e38f;
    }
}

static void s_model_free(s_model *m) {
    for (int i = 0; i < NT; i++) free(m->data[i]);
}

static hf_config_t s_llama_config(void) {
    hf_config_t c = {.arch = HF_LLAMA, .bos_id = 1, .n_eos = 2, .eos = {2, 7}};
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.llama = (llama_config_t){.n_layer = 1, .d_model = 4, .n_head = 2, .n_kv_head = 1, .head_dim = 2, .d_ff = 8,
                               .vocab = 10, .ctx = 64, .rms_eps = 1e-5, .rope_theta = 500000.0, .rope_llama3 = 1,
                               .rope_factor = 8, .rope_low_freq_factor = 1, .rope_high_freq_factor = 4,
                               .rope_original_ctx = 32, .qkv_bias = 1, .o_bias = 1};
    return c;
}

/* Field by field: the structs' padding is not part of the configuration. */
static void s_same_llama(const llama_config_t *a, const llama_config_t *b) {
    assert_true(a->n_layer == b->n_layer && a->d_model == b->d_model && a->n_head == b->n_head && a->n_kv_head == b->n_kv_head);
    assert_true(a->head_dim == b->head_dim && a->d_ff == b->d_ff && a->vocab == b->vocab && a->ctx == b->ctx);
    assert_true(a->rms_eps == b->rms_eps && a->rope_theta == b->rope_theta && a->rope_llama3 == b->rope_llama3);
    assert_true(a->rope_factor == b->rope_factor && a->rope_low_freq_factor == b->rope_low_freq_factor &&
                a->rope_high_freq_factor == b->rope_high_freq_factor && a->rope_original_ctx == b->rope_original_ctx);
    assert_true(a->qkv_bias == b->qkv_bias && a->o_bias == b->o_bias && a->mlp_bias == b->mlp_bias &&
                a->qk_norm == b->qk_norm && a->tied == b->tied);
}

static void s_expect_weights_refused(const char *dir, const hf_want_t *w, int n, const char *needle) {
    char why[512] = "";
    int rc = hf_read_weights(dir, HF_LLAMA, w, n, why, sizeof why);
    if (rc == 0 || !strstr(why, needle)) fail_msg("expected a refusal naming '%s', got '%s'", needle, rc ? why : "(loaded)");
}

static int s_count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_hf_write_read_round_trip(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *dir = xasprintf("%s/model", root), *tok = xasprintf("%s/tok", root), why[512];
    util_mkdirs(tok);
    s_put(tok, "tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}");
    s_put(tok, "tokenizer_config.json", "{}");
    hf_config_t c = s_llama_config();
    s_model a, b;
    s_model_init(&a, 1, 1);
    s_model_init(&b, 0, 0);
    const char *mk[] = {"spar_version", "format"}, *mv[] = {"42", "np"};
    hf_file_t *files;
    int n_files = hf_tokenizer_files_read(tok, &files, why, sizeof why);
    assert_int_equal(n_files, 2);
    if (hf_write_folder(dir, &c, a.w, NT, 0, mk, mv, 2, files, n_files, why, sizeof why) != 0) fail_msg("%s", why);
    hf_files_free(files, n_files);
    if (hf_read_weights(dir, HF_LLAMA, b.w, NT, why, sizeof why) != 0) fail_msg("%s", why);
    for (int i = 0; i < NT; i++)
        assert_memory_equal(a.data[i], b.data[i], (size_t)SHAPES[i][0] * (NDIM[i] == 2 ? SHAPES[i][1] : 1) * 4);
    /* the config reads back as written */
    hf_config_t back;
    s_read_ok(dir, &back);
    assert_int_equal(back.arch, HF_LLAMA);
    s_same_llama(&back.llama, &c.llama);
    assert_true(back.bos_id == 1 && back.n_eos == 2 && back.eos[0] == 2 && back.eos[1] == 7);
    char *cj = xasprintf("%s/config.json", dir), *gj = xasprintf("%s/generation_config.json", dir);
    assert_true(tu_file_contains(cj, "\"architectures\": [\n    \"LlamaForCausalLM\"\n  ]"));
    assert_true(tu_file_contains(cj, "\"torch_dtype\": \"float32\""));
    assert_true(tu_file_contains(cj, "\"rope_type\": \"llama3\""));
    assert_true(tu_file_contains(cj, "\"rms_norm_eps\": 1e-5,")); /* as short as reads back exactly */
    assert_true(tu_file_contains(gj, "\"eos_token_id\": [\n    2,\n    7\n  ]"));
    /* transformers' metadata, spar's digest and the caller's pairs; tokenizer files copied */
    char *mp = xasprintf("%s/model.safetensors", dir), *tj = xasprintf("%s/tokenizer.json", dir);
    st_mapped_t m;
    assert_int_equal(st_map(mp, &m, why, sizeof why), 0);
    assert_string_equal(st_meta(&m.f, "format"), "pt");
    assert_string_equal(st_meta(&m.f, "spar_version"), "42");
    assert_non_null(st_meta(&m.f, ST_DIGEST_KEY));
    assert_string_equal(st_find(&m.f, "lm_head.weight")->dtype, "F32");
    st_unmap(&m);
    assert_true(tu_file_contains(tj, "\"BPE\""));
    char *tc = xasprintf("%s/tokenizer_config.json", dir), *vj = xasprintf("%s/vocab.json", dir);
    assert_true(util_file_exists(tc) && !util_file_exists(vj));

    /* BF16: the file holds the rounded values, which read back as their F32 widening; the
     * folder is replaced whole (the old tokenizer files go with it) and no temporary is left */
    if (hf_write_folder(dir, &c, a.w, NT, 1, NULL, NULL, 0, NULL, 0, why, sizeof why) != 0) fail_msg("%s", why);
    assert_int_equal(s_count_entries(root), 2); /* model, tok */
    assert_false(util_file_exists(tj));
    assert_true(tu_file_contains(cj, "\"torch_dtype\": \"bfloat16\""));
    assert_int_equal(st_map(mp, &m, why, sizeof why), 0);
    assert_string_equal(st_find(&m.f, "model.norm.weight")->dtype, "BF16");
    assert_int_equal(st_find(&m.f, "model.norm.weight")->nbytes, 8);
    st_unmap(&m);
    if (hf_read_weights(dir, HF_LLAMA, b.w, NT, why, sizeof why) != 0) fail_msg("%s", why);
    for (int i = 0; i < NT; i++)
        for (int k = 0; k < SHAPES[i][0] * (NDIM[i] == 2 ? SHAPES[i][1] : 1); k++)
            assert_true(s_bits(b.data[i][k]) == s_bits(st_bf16_to_f32(st_f32_to_bf16(a.data[i][k]))));
    assert_true(s_bits(b.data[0][0]) == 0x80000000u && isinf(b.data[0][2]));

    /* a folder that is not a model is never replaced; a config that config.json cannot say is refused */
    char *other = xasprintf("%s/tok", root);
    assert_true(hf_write_folder(other, &c, a.w, NT, 0, NULL, NULL, 0, NULL, 0, why, sizeof why) < 0);
    assert_non_null(strstr(why, "holds no config.json; not replacing it"));
    char *kept = xasprintf("%s/tokenizer.json", tok);
    assert_true(util_file_exists(kept)); /* untouched */
    free(kept);
    c.llama.o_bias = 0;
    assert_true(hf_write_folder(dir, &c, a.w, NT, 0, NULL, NULL, 0, NULL, 0, why, sizeof why) < 0);
    assert_non_null(strstr(why, "attention biases on q, k, v and o together"));
    c = s_llama_config();
    c.arch = HF_QWEN2;
    assert_true(hf_write_folder(dir, &c, a.w, NT, 0, NULL, NULL, 0, NULL, 0, why, sizeof why) < 0);
    assert_non_null(strstr(why, "Qwen2ForCausalLM has q/k/v biases and nothing else"));
    /* each architecture's config.json reads back as the configuration written */
    hf_config_t q2 = s_llama_config(), q3 = s_llama_config(), mi = s_llama_config(), g = {.arch = HF_GPT2, .bos_id = -1};
    q2.arch = HF_QWEN2, q2.llama.o_bias = 0, q2.llama.tied = 1, q2.n_eos = 1;
    q3.arch = HF_QWEN3, q3.llama.qkv_bias = q3.llama.o_bias = 0, q3.llama.qk_norm = 1, q3.llama.rope_llama3 = 0;
    q3.llama.rope_factor = q3.llama.rope_low_freq_factor = q3.llama.rope_high_freq_factor = 0, q3.llama.rope_original_ctx = 0;
    mi.arch = HF_MISTRAL, mi.llama = q3.llama, mi.llama.qk_norm = 0, mi.n_eos = 0;
    g.gpt = (gpt_config_t){.n_layer = 2, .n_head = 2, .d_model = 8, .ctx = 16, .vocab = 300};
    g.n_eos = 1, g.eos[0] = 299;
    hf_config_t *all[] = {&q2, &q3, &mi, &g};
    for (int i = 0; i < 4; i++) {
        if (hf_write_folder(dir, all[i], a.w, NT, 0, NULL, NULL, 0, NULL, 0, why, sizeof why) != 0) fail_msg("%s", why);
        s_read_ok(dir, &back);
        assert_int_equal(back.arch, all[i]->arch);
        if (back.arch == HF_GPT2) assert_memory_equal(&back.gpt, &all[i]->gpt, sizeof back.gpt);
        else s_same_llama(&back.llama, &all[i]->llama);
        assert_true(back.bos_id == all[i]->bos_id && back.n_eos == all[i]->n_eos);
        assert_memory_equal(back.eos, all[i]->eos, sizeof(int) * (size_t)back.n_eos);
    }
    s_model_free(&a);
    s_model_free(&b);
    free(cj), free(gj), free(mp), free(tj), free(tc), free(vj), free(other), free(dir), free(tok);
    tu_done(root);
}

/* Writes tensors [from, to) of a as dir/name, stored as dtype (F32 or BF16). */
static void s_shard(const char *dir, const char *name, const s_model *a, int from, int to, int bf16) {
    st_tensor_t ts[NT];
    for (int i = from; i < to; i++) {
        st_tensor_t *t = &ts[i - from];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", NAMES[i]);
        snprintf(t->dtype, sizeof t->dtype, "F32");
        t->ndim = NDIM[i];
        t->shape[0] = SHAPES[i][0], t->shape[1] = SHAPES[i][1];
        t->data = a->data[i];
        t->nbytes = (size_t)SHAPES[i][0] * (NDIM[i] == 2 ? SHAPES[i][1] : 1) * 4;
    }
    char *p = xasprintf("%s/%s", dir, name), why[256];
    const char *k[] = {"format"}, *v[] = {"pt"};
    assert_int_equal(st_write(p, ts, to - from, k, v, 1, bf16, why, sizeof why), 0);
    free(p);
}

static void test_hf_sharded_equals_single(void **state) {
    (void)state;
    char *root = tu_tmpdir(), *one = xasprintf("%s/one", root), *two = xasprintf("%s/two", root), why[512];
    util_mkdirs(one), util_mkdirs(two);
    s_model a, b, c;
    s_model_init(&a, 5, 1);
    s_model_init(&b, 0, 0);
    s_model_init(&c, 0, 0);
    s_shard(one, "model.safetensors", &a, 0, NT, 0);
    s_shard(two, "model-00001-of-00002.safetensors", &a, 0, 3, 0);
    s_shard(two, "model-00002-of-00002.safetensors", &a, 3, NT, 0);
    json_t *map = json_object();
    for (int i = 0; i < NT; i++)
        json_object_set_new(map, NAMES[i], json_string(i < 3 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"));
    json_t *index = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map", map);
    char *ip = xasprintf("%s/model.safetensors.index.json", two);
    json_dump_file(index, ip, 0);
    if (hf_read_weights(one, HF_LLAMA, b.w, NT, why, sizeof why) != 0) fail_msg("%s", why);
    if (hf_read_weights(two, HF_LLAMA, c.w, NT, why, sizeof why) != 0) fail_msg("%s", why);
    for (int i = 0; i < NT; i++) {
        size_t n = (size_t)SHAPES[i][0] * (NDIM[i] == 2 ? SHAPES[i][1] : 1) * 4;
        assert_memory_equal(b.data[i], a.data[i], n);
        assert_memory_equal(c.data[i], a.data[i], n);
    }
    /* an index that puts a tensor in a shard without it, or points outside the folder */
    json_object_set_new(map, "model.norm.weight", json_string("model-00001-of-00002.safetensors"));
    json_dump_file(index, ip, 0);
    s_expect_weights_refused(two, c.w, NT, "weight_map puts tensor model.norm.weight in model-00001-of-00002.safetensors, which does not hold it");
    json_object_set_new(map, "model.norm.weight", json_string("../one/model.safetensors"));
    json_dump_file(index, ip, 0);
    s_expect_weights_refused(two, c.w, NT, "weight_map[\"model.norm.weight\"] is not a file name in the folder");
    /* the same tensor in two shards */
    json_object_set_new(map, "model.norm.weight", json_string("model-00002-of-00002.safetensors"));
    json_dump_file(index, ip, 0);
    s_shard(two, "model-00001-of-00002.safetensors", &a, 0, 5, 0);
    s_expect_weights_refused(two, c.w, NT, "tensor model.layers.0.input_layernorm.weight is held twice");
    json_decref(index);
    s_model_free(&a), s_model_free(&b), s_model_free(&c);
    free(ip), free(one), free(two);
    tu_done(root);
}

/* Writes dir/model.safetensors holding the tensors ts. */
static void s_file(const char *dir, const st_tensor_t *ts, int n) {
    char *p = xasprintf("%s/model.safetensors", dir), why[256];
    assert_int_equal(st_write(p, ts, n, NULL, NULL, 0, 0, why, sizeof why), 0);
    free(p);
}

static void test_hf_weights_refusals(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    s_model a;
    s_model_init(&a, 2, 1);
    st_tensor_t ts[NT + 2];
    memset(ts, 0, sizeof ts);
    for (int i = 0; i < NT; i++) {
        snprintf(ts[i].name, sizeof ts[i].name, "%s", NAMES[i]);
        snprintf(ts[i].dtype, sizeof ts[i].dtype, "F32");
        ts[i].ndim = NDIM[i], ts[i].shape[0] = SHAPES[i][0], ts[i].shape[1] = SHAPES[i][1];
        ts[i].data = a.data[i], ts[i].nbytes = (size_t)SHAPES[i][0] * (NDIM[i] == 2 ? SHAPES[i][1] : 1) * 4;
    }
    /* a buffer older checkpoints saved is ignored, and an unwanted (tied) lm_head */
    float inv[1] = {1};
    ts[NT] = (st_tensor_t){.name = "model.layers.0.self_attn.rotary_emb.inv_freq", .dtype = "F32", .ndim = 1, .shape = {1},
                           .data = inv, .nbytes = 4};
    s_file(dir, ts, NT + 1);
    if (hf_read_weights(dir, HF_LLAMA, a.w, NT - 1, why, sizeof why) != 0) fail_msg("%s", why);
    /* missing (named with the file), wrong shape, unexpected, integer */
    s_file(dir, ts, NT - 1);
    s_expect_weights_refused(dir, a.w, NT, "model.safetensors: tensor lm_head.weight missing");
    int64_t wrong[2] = {4, 10};
    hf_want_t w2[NT];
    memcpy(w2, a.w, sizeof w2);
    w2[0].shape = wrong;
    s_file(dir, ts, NT);
    s_expect_weights_refused(dir, w2, NT, "tensor model.embed_tokens.weight has shape (10, 4), expected (4, 10)");
    ts[NT + 1] = (st_tensor_t){.name = "model.layers.0.mlp.experts.0.w1", .dtype = "F32", .ndim = 1, .shape = {1},
                               .data = inv, .nbytes = 4};
    st_tensor_t extra[NT + 1];
    memcpy(extra, ts, sizeof(st_tensor_t) * NT);
    extra[NT] = ts[NT + 1];
    s_file(dir, extra, NT + 1);
    s_expect_weights_refused(dir, a.w, NT, "tensor model.layers.0.mlp.experts.0.w1 is not a parameter of LlamaForCausalLM");
    int64_t ids[4] = {1, 2, 3, 4};
    ts[4] = (st_tensor_t){.name = "model.norm.weight", .dtype = "I64", .ndim = 1, .shape = {4}, .data = ids, .nbytes = 32};
    s_file(dir, ts, NT);
    s_expect_weights_refused(dir, a.w, NT, "model.safetensors: tensor model.norm.weight has dtype I64, expected F32, F16 or BF16");
    char *mp = xasprintf("%s/model.safetensors", dir);
    unlink(mp);
    free(mp);
    s_expect_weights_refused(dir, a.w, NT, "neither model.safetensors nor model.safetensors.index.json");
    s_model_free(&a);
    tu_done(dir);
}

/* A refused read leaves the wanted buffers as they were. */
static void test_hf_refused_read_writes_nothing(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    s_model a, b;
    s_model_init(&a, 3, 1);
    s_model_init(&b, 0, 0);
    s_shard(dir, "model.safetensors", &a, 0, NT - 1, 0); /* lm_head missing */
    assert_int_equal(hf_read_weights(dir, HF_LLAMA, b.w, NT, why, sizeof why), -1);
    for (int i = 0; i < NT; i++)
        for (int k = 0; k < SHAPES[i][0] * (NDIM[i] == 2 ? SHAPES[i][1] : 1); k++) assert_true(b.data[i][k] == 0.0f);
    s_model_free(&a), s_model_free(&b);
    tu_done(dir);
}

/* ---- GPT-2 through gpt_io --------------------------------------------------------------- */

static void test_hf_gpt2_folder_loads(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    const gpt_config_t cfg = {.n_layer = 2, .n_head = 2, .d_model = 8, .ctx = 16, .vocab = 300};
    gpt_t *m = gpt_new(&cfg, 9);
    size_t len;
    void *blob = gpt_serialize(m, 1, &len);
    st_file_t f;
    assert_int_equal(st_parse(blob, len, &f, why, sizeof why), 0);
    /* as GPT2LMHeadModel.save_pretrained writes it: the prefix, the mask buffers, a tied head; BF16 */
    int n = f.n;
    st_tensor_t *ts = xcalloc((size_t)n + 5, sizeof *ts);
    for (int i = 0; i < n; i++) {
        ts[i] = f.tensors[i];
        snprintf(ts[i].name, sizeof ts[i].name, "transformer.%s", f.tensors[i].name);
    }
    float *mask = xcalloc(16 * 16, sizeof(float)), neg = -1e4f;
    for (int l = 0; l < 2; l++) {
        ts[n] = (st_tensor_t){.dtype = "F32", .ndim = 4, .shape = {1, 1, 16, 16}, .data = mask, .nbytes = 16 * 16 * 4};
        snprintf(ts[n++].name, sizeof ts[0].name, "transformer.h.%d.attn.bias", l);
        ts[n] = (st_tensor_t){.dtype = "F32", .ndim = 0, .data = &neg, .nbytes = 4};
        snprintf(ts[n++].name, sizeof ts[0].name, "transformer.h.%d.attn.masked_bias", l);
    }
    ts[n] = *st_find(&f, "wte.weight");
    snprintf(ts[n++].name, sizeof ts[0].name, "lm_head.weight");
    char *p = xasprintf("%s/model.safetensors", dir);
    const char *k[] = {"format"}, *v[] = {"pt"};
    assert_int_equal(st_write(p, ts, n, k, v, 1, 1, why, sizeof why), 0);
    s_put(dir, "config.json", "{\"architectures\": [\"GPT2LMHeadModel\"], \"model_type\": \"gpt2\", \"vocab_size\": 300,"
                              " \"n_positions\": 16, \"n_embd\": 8, \"n_layer\": 2, \"n_head\": 2,"
                              " \"activation_function\": \"gelu_new\", \"layer_norm_epsilon\": 1e-05}");
    uint64_t ver = 7;
    gpt_t *back = gpt_load(dir, &ver, why, sizeof why);
    if (!back) fail_msg("%s", why);
    assert_true(ver == 0);
    assert_memory_equal(gpt_config(back), &cfg, sizeof cfg);
    const float *pa = gpt_params(m), *pb = gpt_params(back);
    for (size_t i = 0; i < gpt_n_params(m); i++) assert_true(s_bits(pb[i]) == s_bits(st_bf16_to_f32(st_f32_to_bf16(pa[i]))));
    gpt_destroy(&back);
    /* the same in two shards, with an index */
    char *s1 = xasprintf("%s/model-00001-of-00002.safetensors", dir), *s2 = xasprintf("%s/model-00002-of-00002.safetensors", dir);
    assert_int_equal(st_write(s1, ts, 10, k, v, 1, 1, why, sizeof why), 0);
    assert_int_equal(st_write(s2, ts + 10, n - 10, k, v, 1, 1, why, sizeof why), 0);
    json_t *map = json_object();
    for (int i = 0; i < n; i++) json_object_set_new(map, ts[i].name, json_string(i < 10 ? s1 + strlen(dir) + 1 : s2 + strlen(dir) + 1));
    json_t *index = json_pack("{s:o}", "weight_map", map);
    char *ip = xasprintf("%s/model.safetensors.index.json", dir);
    json_dump_file(index, ip, 0);
    json_decref(index);
    unlink(p);
    back = gpt_load(dir, NULL, why, sizeof why);
    if (!back) fail_msg("%s", why);
    pb = gpt_params(back);
    for (size_t i = 0; i < gpt_n_params(m); i++) assert_true(s_bits(pb[i]) == s_bits(st_bf16_to_f32(st_f32_to_bf16(pa[i]))));
    gpt_destroy(&back);
    unlink(ip), unlink(s1), unlink(s2);
    free(ip), free(s1), free(s2);
    /* the same tensors without the prefix, as a .safetensors path */
    for (int i = 0; i < f.n; i++) snprintf(ts[i].name, sizeof ts[i].name, "%s", f.tensors[i].name);
    assert_int_equal(st_write(p, ts, f.n, k, v, 1, 0, why, sizeof why), 0);
    back = gpt_load(p, NULL, why, sizeof why);
    if (!back) fail_msg("%s", why);
    assert_memory_equal(gpt_params(back), gpt_params(m), gpt_n_params(m) * sizeof(float));
    gpt_destroy(&back);
    /* an unknown tensor, and a config.json of another architecture, are refused by name */
    ts[f.n] = (st_tensor_t){.name = "score.weight", .dtype = "F32", .ndim = 0, .data = &neg, .nbytes = 4};
    assert_int_equal(st_write(p, ts, f.n + 1, k, v, 1, 0, why, sizeof why), 0);
    assert_null(gpt_load(dir, NULL, why, sizeof why));
    assert_non_null(strstr(why, "model.safetensors: tensor score.weight is not a parameter of GPT2LMHeadModel"));
    s_put(dir, "config.json", QWEN2);
    assert_null(gpt_load(dir, NULL, why, sizeof why));
    assert_non_null(strstr(why, "a GPT checkpoint is GPT2LMHeadModel"));
    free(p);
    free(mask);
    free(ts);
    st_free(&f);
    free(blob);
    gpt_destroy(&m);
    tu_done(dir);
}

/* ---- against torch ---------------------------------------------------------------------- */

/* torch (Debian's python3-torch) reads the folder spar wrote, independently of spar's reader:
 * the header, the F32 tensor bit-exact, and every BF16 value equal to torch's own rounding
 * of the F32 value (.to(torch.bfloat16)), over random values of every magnitude and the edges. */
static const char *TORCH_CHECK =
    "import json, struct, sys, torch\n"
    "def tensors(path):\n"
    "    b = open(path, 'rb').read()\n"
    "    n = struct.unpack('<Q', b[:8])[0]\n"
    "    h = json.loads(b[8:8 + n])\n"
    "    assert h['__metadata__']['format'] == 'pt'\n"
    "    data, out, end = b[8 + n:], {}, 0\n"
    "    for k, v in sorted(((k, v) for k, v in h.items() if k != '__metadata__'), key=lambda kv: kv[1]['data_offsets']):\n"
    "        s, e = v['data_offsets']\n"
    "        assert s == end, 'offsets not contiguous'\n"
    "        end = e\n"
    "        dt = {'F32': torch.float32, 'BF16': torch.bfloat16}[v['dtype']]\n"
    "        out[k] = torch.frombuffer(bytearray(data[s:e]), dtype=dt).reshape(v['shape'])\n"
    "    assert end == len(data), 'trailing bytes'\n"
    "    return out\n"
    "f32, bf = tensors(sys.argv[1] + '/model.safetensors')['x'], tensors(sys.argv[2] + '/model.safetensors')['x']\n"
    "raw = torch.frombuffer(bytearray(open(sys.argv[3], 'rb').read()), dtype=torch.float32).reshape(f32.shape)\n"
    "assert torch.equal(f32.view(torch.int32), raw.view(torch.int32)), 'F32 not bit-exact'\n"
    "ref = raw.to(torch.bfloat16)\n"
    "nan = torch.isnan(ref)\n"
    "assert torch.equal(torch.isnan(bf), nan)\n"
    "same = (bf.view(torch.int16) == ref.view(torch.int16)) | nan\n"
    "assert bool(same.all()), 'BF16 differs from torch at %d values' % int((~same).sum())\n"
    "cfg = json.load(open(sys.argv[2] + '/config.json'))\n"
    "assert cfg['architectures'] == ['Qwen2ForCausalLM'] and cfg['torch_dtype'] == 'bfloat16'\n";

static void test_hf_bf16_matches_torch(void **state) {
    (void)state;
    if (system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
        fprintf(stderr, "python3-torch is not installed: skipping the comparison with torch\n");
        tu_skip();
    }
    char *root = tu_tmpdir(), *a = xasprintf("%s/f32", root), *b = xasprintf("%s/bf16", root), why[512];
    char *raw = xasprintf("%s/raw.f32", root), *script = xasprintf("%s/check.py", root);
    enum { N = 1 << 17 };
    float *x = xmalloc(N * sizeof(float));
    uint32_t r = 12345;
    for (int i = 0; i < N; i++) { /* random bit patterns: every exponent, subnormals, inf, NaN */
        r = r * 1664525u + 1013904223u;
        uint32_t u = r ^ (r >> 13) * 2654435761u;
        if (i < 64) u = (uint32_t)i << 15 | (i & 1 ? 0x3f800000u : 0); /* ties and near-ties */
        memcpy(&x[i], &u, 4);
    }
    int64_t shape[2] = {N / 256, 256};
    hf_want_t w = {"x", 2, shape, x};
    hf_config_t c = s_llama_config();
    c.arch = HF_QWEN2, c.llama.o_bias = 0;
    if (hf_write_folder(a, &c, &w, 1, 0, NULL, NULL, 0, NULL, 0, why, sizeof why) != 0) fail_msg("%s", why);
    if (hf_write_folder(b, &c, &w, 1, 1, NULL, NULL, 0, NULL, 0, why, sizeof why) != 0) fail_msg("%s", why);
    FILE *f = fopen(raw, "wb");
    assert_int_equal(fwrite(x, sizeof(float), N, f), N);
    fclose(f);
    tu_write(script, TORCH_CHECK);
    char *cmd = xasprintf("/usr/bin/python3 %s %s %s %s", script, a, b, raw);
    assert_int_equal(system(cmd), 0);
    free(cmd), free(x), free(a), free(b), free(raw), free(script);
    tu_done(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_config_each_architecture),
        cmocka_unit_test(test_hf_config_refusals),
        cmocka_unit_test(test_hf_f16_bf16_exact),
        cmocka_unit_test(test_hf_bf16_rounding),
        cmocka_unit_test(test_hf_write_read_round_trip),
        cmocka_unit_test(test_hf_sharded_equals_single),
        cmocka_unit_test(test_hf_weights_refusals),
        cmocka_unit_test(test_hf_refused_read_writes_nothing),
        cmocka_unit_test(test_hf_gpt2_folder_loads),
        cmocka_unit_test(test_hf_bf16_matches_torch),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
