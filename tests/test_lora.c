/* LoRA adapters (common/lora.h) on the Llama-family model and through common/lm.h: the gradient
 * of the adapters against finite differences for every target kind (a plain Llama with every
 * bias, and Qwen3's q/k norm, packed); fresh adapters (B = 0) and adapters switched off give the
 * base's log-probs exactly; KV-cache sampling draws from the adapted model (its log-probs are the
 * training forward's of the drawn tokens); the trainable view is the adapters alone, with no
 * gradient buffer for the base; clones share the base; the blob carries only the adapters and is
 * refused on another base; PEFT's folder reloads bit for bit; and the merged model's log-probs
 * are the adapted model's. */
#include "tests/testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hf_folder.h"
#include "common/llama.h"
#include "common/lm.h"
#include "common/lora.h"
#include "common/policy.h"
#include "common/safetensors.h"
#include "common/tiny_models.h"
#include "common/util.h"

static const llama_config_t LLAMA = {
    .n_layer = 2, .d_model = 16, .n_head = 4, .n_kv_head = 2, .head_dim = 4, .d_ff = 24, .vocab = 37,
    .ctx = 64, .rms_eps = 1e-5, .rope_theta = 10000, .qkv_bias = 1, .o_bias = 1, .mlp_bias = 1, .tied = 0};
static const llama_config_t QWEN3 = {
    .n_layer = 2, .d_model = 16, .n_head = 4, .n_kv_head = 1, .head_dim = 6, .d_ff = 20, .vocab = 31,
    .ctx = 64, .rms_eps = 1e-6, .rope_theta = 1000000, .qk_norm = 1, .tied = 1};

#define ALL_TARGETS ((1u << LORA_N_TARGETS) - 1)

/* A random model whose log-probs vary enough to tell the adapters' effect apart. */
static llama_t *s_model(const llama_config_t *c, uint64_t seed) {
    llama_t *m = llama_new(c, seed);
    assert_non_null(m);
    rng_t r;
    rng_seed(&r, seed ^ 0x5151);
    float *p = llama_params(m);
    for (int i = 0; i < llama_n_tensors(m); i++) {
        const llama_tensor_t *t = llama_tensor(m, i);
        int norm = strstr(t->name, "norm") != NULL;
        for (size_t j = 0; j < t->n; j++)
            p[t->offset + j] = t->ndim == 2 ? (float)(0.3 * rng_normal(&r))
                               : norm        ? (float)(1 + 0.2 * rng_normal(&r))
                                             : (float)(0.2 * rng_normal(&r));
    }
    return m;
}

/* Adapters on every target with B random too (fresh ones have B = 0, which hides dA). */
static lora_t *s_lora(const llama_config_t *c, int rank, double bscale, uint64_t seed) {
    lora_spec_t s = {rank, 2.0 * rank, ALL_TARGETS}; /* scale 2 */
    lora_t *l = lora_new(c, &s, seed);
    assert_non_null(l);
    rng_t r;
    rng_seed(&r, seed + 99);
    for (int layer = 0; layer < c->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            int in, out;
            lora_dims(c, t, &in, &out);
            float *B = lora_B(l, layer, t);
            for (int i = 0; i < out * rank; i++) B[i] = (float)(bscale * rng_normal(&r));
        }
    return l;
}

/* ---- a packed batch -------------------------------------------------------------------------- */

enum { NB = 2, NT = 7 };

typedef struct {
    int tokens[NB * NT], pos[NB * NT], seg[NB * NT];
    llama_pred_t preds[NB * NT];
    int n_preds;
    double dlp[3];
} batch_t;

/* Row 0: a prompt of 2 and two responses (segments 1 and 2); row 1 one sequence. */
static void s_batch(batch_t *b, int vocab) {
    memset(b, 0, sizeof *b);
    static const int seg0[NT] = {0, 0, 1, 1, 1, 2, 2}, pos0[NT] = {0, 1, 2, 3, 4, 2, 3};
    for (int i = 0; i < NB * NT; i++) b->tokens[i] = (i * 7 + 3) % vocab;
    for (int t = 0; t < NT; t++) b->seg[t] = seg0[t], b->pos[t] = pos0[t], b->seg[NT + t] = 1, b->pos[NT + t] = t;
    int n = 0;
    b->preds[n++] = (llama_pred_t){1, b->tokens[2], 0};
    b->preds[n++] = (llama_pred_t){2, b->tokens[3], 0};
    b->preds[n++] = (llama_pred_t){3, b->tokens[4], 0};
    b->preds[n++] = (llama_pred_t){1, b->tokens[5], 2};
    b->preds[n++] = (llama_pred_t){5, b->tokens[6], 2};
    for (int t = 1; t < NT - 1; t++) b->preds[n++] = (llama_pred_t){NT + t, b->tokens[NT + t + 1], 1};
    b->n_preds = n;
    b->dlp[0] = 0.2, b->dlp[1] = -0.3, b->dlp[2] = 0.1; /* small: the float noise of the loss with it */
}

static void s_logprobs(llama_t *m, const batch_t *b, double lp[3]) {
    assert_int_equal(llama_forward(m, b->tokens, b->pos, b->seg, NB, NT), 0);
    lp[0] = lp[1] = lp[2] = 0;
    llama_preds_logprob(m, b->preds, b->n_preds, lp);
}

typedef struct {
    llama_t *m;
    const batch_t *b;
} loss_ctx_t;

static double s_loss(void *arg) {
    loss_ctx_t *c = arg;
    double lp[3];
    s_logprobs(c->m, c->b, lp);
    return c->b->dlp[0] * lp[0] + c->b->dlp[1] * lp[1] + c->b->dlp[2] * lp[2];
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void s_gradcheck(const char *what, const llama_config_t *c) {
    llama_t *m = s_model(c, 3);
    llama_set_lora(m, s_lora(c, 2, 0.1, 5)); /* small enough that h = 1e-2 stays in the linear range */
    assert_null(llama_grads(m)); /* the base is frozen: no gradient buffer */
    batch_t b;
    s_batch(&b, c->vocab);
    loss_ctx_t ctx = {m, &b};
    s_loss(&ctx);
    llama_zero_grad(m);
    llama_backward(m, b.preds, b.n_preds, b.dlp);
    lora_t *l = llama_lora(m);
    /* each target kind of each layer, A and B, so a failure names the tensor */
    for (int layer = 0; layer < c->n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            int in, out;
            lora_dims(c, t, &in, &out);
            char name[128];
            lora_tensor_name(name, sizeof name, layer, t, 0);
            fprintf(stderr, "%s %s\n", what, name);
            tu_grad_check(name, lora_A(l, layer, t), lora_dA(l, layer, t), (size_t)2 * in, s_loss, &ctx);
            lora_tensor_name(name, sizeof name, layer, t, 1);
            tu_grad_check(name, lora_B(l, layer, t), lora_dB(l, layer, t), (size_t)out * 2, s_loss, &ctx);
        }
    llama_destroy(&m);
}

static void test_lora_gradcheck_llama(void **state) {
    (void)state;
    s_gradcheck("llama", &LLAMA);
}

static void test_lora_gradcheck_qwen3(void **state) {
    (void)state;
    s_gradcheck("qwen3", &QWEN3);
}

/* B = 0 (PEFT's start) and adapters off: the base's log-probs, exactly; on with B != 0 they move. */
static void test_lora_base_exact(void **state) {
    (void)state;
    const llama_config_t *cs[2] = {&LLAMA, &QWEN3};
    for (int k = 0; k < 2; k++) {
        llama_t *m = s_model(cs[k], 11);
        batch_t b;
        s_batch(&b, cs[k]->vocab);
        double base[3], lp[3];
        s_logprobs(m, &b, base);
        lora_spec_t s = {4, 8, ALL_TARGETS};
        llama_set_lora(m, lora_new(cs[k], &s, 1));
        s_logprobs(m, &b, lp);
        for (int i = 0; i < 3; i++) assert_true(lp[i] == base[i]);
        llama_set_lora(m, s_lora(cs[k], 3, 0.5, 2));
        s_logprobs(m, &b, lp);
        assert_true(fabs(lp[0] - base[0]) > 1e-3);
        lora_set_enabled(llama_lora(m), 0);
        s_logprobs(m, &b, lp);
        for (int i = 0; i < 3; i++) assert_true(lp[i] == base[i]);
        llama_destroy(&m);
    }
}

/* PEFT's initialisation: A within +-1/sqrt(in) and spread over it, B zero, seeded. */
static void test_lora_init(void **state) {
    (void)state;
    lora_spec_t s = {8, 16, (1u << LORA_Q) | (1u << LORA_DOWN)};
    lora_t *l = lora_new(&LLAMA, &s, 42), *same = lora_new(&LLAMA, &s, 42);
    assert_int_equal(lora_n_params(l), (size_t)LLAMA.n_layer * (8 * 16 + 16 * 8 + 8 * 24 + 16 * 8));
    assert_memory_equal(lora_params(l), lora_params(same), sizeof(float) * lora_n_params(l));
    float *A = lora_A(l, 1, LORA_DOWN), mx = 0;
    for (int i = 0; i < 8 * 24; i++) mx = fmaxf(mx, fabsf(A[i]));
    assert_true(mx <= 1 / sqrtf(24.0f) && mx > 0.8f / sqrtf(24.0f));
    for (int i = 0; i < 16 * 8; i++) assert_true(lora_B(l, 1, LORA_DOWN)[i] == 0.0f);
    assert_null(lora_A(l, 0, LORA_K));
    unsigned t;
    char why[200];
    assert_int_equal(lora_parse_targets("q_proj, v_proj,down_proj", &t, why, sizeof why), 0);
    assert_int_equal(t, (1u << LORA_Q) | (1u << LORA_V) | (1u << LORA_DOWN));
    assert_int_equal(lora_parse_targets("q_proj,lm_head", &t, why, sizeof why), -1);
    assert_non_null(strstr(why, "lm_head"));
    lora_free(&l), lora_free(&same);
}

/* llama_generate on the adapted model: each drawn token's log-prob is the training forward's. */
static void test_lora_sampling_agrees(void **state) {
    (void)state;
    const llama_config_t *cs[2] = {&LLAMA, &QWEN3};
    enum { SB = 3, NEW = 8 };
    for (int k = 0; k < 2; k++) {
        const llama_config_t *c = cs[k];
        llama_t *m = s_model(c, 21);
        llama_set_lora(m, s_lora(c, 2, 0.8, 4));
        int p0[] = {1, 2, 3}, p1[] = {5}, p2[] = {7, 8, 9, 10, 11};
        const int *prompts[SB] = {p0, p1, p2};
        int plen[SB] = {3, 1, 5}, toks[SB * NEW], len[SB];
        float lps[SB * NEW];
        rng_t rngs[SB];
        for (int i = 0; i < SB; i++) rng_stream(&rngs[i], 9, 0, 0, (uint64_t)i);
        llama_sample_opts_t o = {1.0, 0, 1.0, NEW, NULL, 0};
        assert_int_equal(llama_generate(m, NULL, 0, prompts, plen, SB, &o, rngs, toks, lps, len), 0);
        /* the same with the adapters off draws from another distribution */
        double worst = 0;
        for (int b = 0; b < SB; b++) {
            int T = plen[b] + len[b], seq[32];
            for (int t = 0; t < plen[b]; t++) seq[t] = prompts[b][t];
            for (int t = 0; t < len[b]; t++) seq[plen[b] + t] = toks[b * NEW + t];
            assert_int_equal(llama_forward(m, seq, NULL, NULL, 1, T), 0);
            for (int t = 0; t < len[b]; t++) {
                llama_pred_t p = {plen[b] - 1 + t, seq[plen[b] + t], 0};
                double lp = 0;
                llama_preds_logprob(m, &p, 1, &lp);
                worst = fmax(worst, fabs(lp - lps[b * NEW + t]));
            }
        }
        fprintf(stderr, "worst |sampler - forward| log-prob: %.3g\n", worst);
        assert_true(worst < 1e-4);
        /* the adapters matter to the sampler: off, the log-probs of the same tokens differ */
        lora_set_enabled(llama_lora(m), 0);
        int seq[32];
        for (int t = 0; t < plen[0]; t++) seq[t] = prompts[0][t];
        seq[plen[0]] = toks[0];
        assert_int_equal(llama_forward(m, seq, NULL, NULL, 1, plen[0] + 1), 0);
        llama_pred_t p = {plen[0] - 1, toks[0], 0};
        double off = 0;
        llama_preds_logprob(m, &p, 1, &off);
        assert_true(fabs(off - lps[0]) > 1e-3);
        llama_destroy(&m);
    }
}

/* ---- through lm: a tiny Hugging Face folder with a tokenizer ---------------------------------- */

/* A byte-level BPE tokenizer.json: the 256 bytes and <|endoftext|> (id 256). */
static void s_write_tokenizer(const char *dir) {
    static const char *const specials[] = {"<|endoftext|>"};
    char why[300];
    if (tiny_byte_tokenizer_write(dir, NULL, 0, specials, 1, why, sizeof why) != 0) fail_msg("%s", why);
}

static lm_t *s_random_lm(const char *dir, uint64_t seed) {
    hf_config_t c = {.arch = HF_LLAMA, .bos_id = -1, .eos = {256}, .n_eos = 1};
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.llama = LLAMA;
    c.llama.vocab = 257;
    char why[400];
    lm_t *m = lm_new_random(&c, dir, seed, why, sizeof why);
    if (!m) fprintf(stderr, "%s\n", why);
    assert_non_null(m);
    return m;
}

static void s_randomise_B(lm_t *m, double scale) {
    lora_t *l = lm_lora(m);
    rng_t r;
    rng_seed(&r, 77);
    for (int layer = 0; layer < LLAMA.n_layer; layer++)
        for (int t = 0; t < LORA_N_TARGETS; t++) {
            float *B = lora_B(l, layer, t);
            int in, out;
            lora_dims(&lm_config(m)->llama, t, &in, &out);
            for (int i = 0; B && i < out * lora_spec(l)->rank; i++) B[i] = (float)(scale * rng_normal(&r));
        }
}

static void s_lm_logprobs(lm_t *m, double *lp) {
    int tok[2 * 9];
    for (int i = 0; i < 18; i++) tok[i] = (i * 37 + 11) % 256;
    lm_pred_t p[16];
    int n = 0;
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 8; t++) p[n++] = (lm_pred_t){b * 9 + t, tok[b * 9 + t + 1], b};
    lp[0] = lp[1] = 0;
    assert_int_equal(lm_forward(m, tok, NULL, NULL, 2, 9), 0);
    lm_preds_logprob(m, p, n, lp);
}

static void test_lora_lm_view_clone_blob(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[400];
    s_write_tokenizer(dir);
    lm_t *m = s_random_lm(dir, 1);
    size_t full = lm_n_params(m);
    assert_int_equal(lm_lora_attach(m, 4, 8, "q_proj,k_proj,v_proj,o_proj", 3, why, sizeof why), 0);
    /* the trainable view: the adapters alone; the base keeps no gradients */
    size_t expect = (size_t)LLAMA.n_layer * 4 * ((16 + 16) + (16 + 8) + (16 + 8) + (16 + 16));
    assert_int_equal(lm_n_params(m), expect);
    assert_true(lm_params(m) == lora_params(lm_lora(m)) && lm_grads(m) == lora_grads(lm_lora(m)));
    assert_null(llama_grads(lm_llama(m)));
    assert_true(lm_n_params(m) < full / 10);
    s_randomise_B(m, 0.5);
    /* a clone shares the base weights (one copy) and has adapters of its own */
    lm_t *c = lm_clone(m);
    assert_true(llama_params(lm_llama(c)) == llama_params(lm_llama(m)));
    assert_true(lm_params(c) != lm_params(m));
    assert_memory_equal(lm_params(c), lm_params(m), sizeof(float) * lm_n_params(m));
    double a[2], b[2];
    s_lm_logprobs(m, a);
    s_lm_logprobs(c, b);
    assert_true(a[0] == b[0] && a[1] == b[1]);
    lm_free(&m); /* the clone keeps the base alive */
    s_lm_logprobs(c, b);
    assert_true(a[0] == b[0]);
    /* the blob: the adapters and their base's identity, no base weights */
    size_t len;
    void *blob = lm_serialize(c, 7, &len);
    assert_true(lm_is_lora_blob(blob, len));
    assert_true(len < sizeof(float) * expect + 8192);
    assert_null(lm_deserialize(blob, len, NULL, why, sizeof why));
    assert_non_null(strstr(why, "LoRA"));
    lm_t *base = lm_share_base(c);
    uint64_t v = 0;
    lm_t *d = lm_lora_deserialize(base, blob, len, &v, why, sizeof why);
    assert_non_null(d);
    assert_int_equal(v, 7);
    assert_memory_equal(lm_params(d), lm_params(c), sizeof(float) * lm_n_params(c));
    s_lm_logprobs(d, b);
    assert_true(a[0] == b[0] && a[1] == b[1]);
    /* another base (same shape, other weights) refuses it, saying why */
    lm_t *other = s_random_lm(dir, 2);
    assert_null(lm_lora_deserialize(other, blob, len, NULL, why, sizeof why));
    fprintf(stderr, "refused: %s\n", why);
    assert_non_null(strstr(why, "another base"));
    /* the policy module: a LoRA blob loads only onto a base (policy_load_onto), as the actors do */
    policy_t *pbase = policy_lm_new(lm_share_base(c)), *pother = policy_lm_new(other);
    assert_null(policy_load(blob, len, NULL, why, sizeof why));
    policy_t *p = policy_load_onto(pbase, blob, len, &v, why, sizeof why);
    assert_non_null(p);
    assert_int_equal(v, 7);
    policy_view_t pv = policy_view(p);
    assert_int_equal(pv.n, expect);
    assert_memory_equal(pv.f32, lm_params(c), sizeof(float) * expect);
    policy_t *ref = policy_clone(p); /* pi_ref: the same base, its own adapters */
    assert_true(llama_params(lm_llama(policy_lm(ref))) == llama_params(lm_llama(policy_lm(pbase))));
    assert_null(policy_load_onto(pother, blob, len, NULL, why, sizeof why));
    assert_non_null(strstr(why, "another base"));
    /* adapters off: the base's log-probs exactly */
    policy_lora_enable(ref, 0);
    double off[2], plain[2];
    s_lm_logprobs(policy_lm(ref), off);
    s_lm_logprobs(policy_lm(pbase), plain);
    assert_true(off[0] == plain[0] && off[1] == plain[1] && off[0] != a[0]);
    policy_destroy(&ref), policy_destroy(&p), policy_destroy(&pbase), policy_destroy(&pother);
    free(blob);
    lm_free(&d), lm_free(&base), lm_free(&c);
    tu_done(dir);
}

/* PEFT's folder: adapter_config.json and adapter_model.safetensors under PEFT's names; it reloads
 * bit for bit; the merged full model scores as the adapted one. */
static void test_lora_peft_folder_and_merge(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[400];
    s_write_tokenizer(dir);
    lm_t *m = s_random_lm(dir, 1);
    assert_int_equal(lm_lora_attach(m, 3, 6, "q_proj,v_proj,gate_proj,up_proj,down_proj", 3, why, sizeof why), 0);
    s_randomise_B(m, 0.5);
    char *ad = xasprintf("%s/adapter", dir), *cj = xasprintf("%s/adapter_config.json", ad);
    char *st = xasprintf("%s/adapter_model.safetensors", ad);
    assert_int_equal(lm_save_dir(m, ad, 5, 0, why, sizeof why), 0);
    json_error_t e;
    json_t *j = json_load_file(cj, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "peft_type")), "LORA");
    assert_string_equal(json_string_value(json_object_get(j, "task_type")), "CAUSAL_LM");
    assert_int_equal(json_integer_value(json_object_get(j, "r")), 3);
    assert_true(json_number_value(json_object_get(j, "lora_alpha")) == 6.0);
    assert_int_equal(json_array_size(json_object_get(j, "target_modules")), 5);
    assert_string_equal(json_string_value(json_object_get(j, "bias")), "none");
    json_decref(j);
    size_t len;
    char *data = util_read_file(st, &len);
    st_file_t f;
    assert_int_equal(st_parse(data, len, &f, why, sizeof why), 0);
    const st_tensor_t *t = st_find(&f, "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight");
    assert_non_null(t);
    assert_true(t->shape[0] == 3 && t->shape[1] == LLAMA.d_ff);
    t = st_find(&f, "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight");
    assert_non_null(t);
    assert_true(t->shape[0] == LLAMA.n_kv_head * LLAMA.head_dim && t->shape[1] == 3);
    assert_int_equal(f.n, 2 * 2 * 5);
    st_free(&f);
    free(data);
    lm_t *base = lm_share_base(m);
    uint64_t v = 0;
    lm_t *back = lm_load_adapter_dir(base, ad, &v, why, sizeof why);
    if (!back) fprintf(stderr, "%s\n", why);
    assert_non_null(back);
    assert_int_equal(v, 5);
    assert_memory_equal(lm_params(back), lm_params(m), sizeof(float) * lm_n_params(m));
    /* merged: W + (alpha / r) B A as a full folder, scoring as the adapters do */
    lm_t *merged = lm_lora_merge(m);
    char *md = xasprintf("%s/merged", dir);
    assert_int_equal(lm_save_dir(merged, md, 0, 0, why, sizeof why), 0);
    lm_t *loaded = lm_load_dir(md, NULL, why, sizeof why);
    assert_non_null(loaded);
    assert_null(lm_lora(loaded));
    double a[2], b[2], z[2];
    s_lm_logprobs(m, a);
    s_lm_logprobs(loaded, b);
    s_lm_logprobs(base, z);
    for (int i = 0; i < 2; i++) {
        fprintf(stderr, "adapted %.9g merged %.9g base %.9g\n", a[i], b[i], z[i]);
        assert_true(fabs(a[i] - b[i]) <= 1e-5 * fabs(a[i]));
        assert_true(fabs(a[i] - z[i]) > 1e-3);
    }
    lm_free(&m), lm_free(&base), lm_free(&back), lm_free(&merged), lm_free(&loaded);
    free(ad), free(cj), free(st), free(md);
    tu_done(dir);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_gradcheck_llama),       cmocka_unit_test(test_lora_gradcheck_qwen3),
        cmocka_unit_test(test_lora_base_exact),            cmocka_unit_test(test_lora_init),
        cmocka_unit_test(test_lora_sampling_agrees),       cmocka_unit_test(test_lora_lm_view_clone_blob),
        cmocka_unit_test(test_lora_peft_folder_and_merge),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
