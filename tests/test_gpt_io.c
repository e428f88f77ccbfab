/* GPT checkpoints: save -> load gives identical logits; the Hugging Face GPT-2 names, shapes and
 * config.json are written; a checkpoint with a missing tensor, a wrong shape, a wrong dtype or a
 * truncated file is refused with a message naming the problem. */
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/gpt_io.h"
#include "common/safetensors.h"
#include "common/util.h"

static const gpt_config_t CFG = {.n_layer = 2, .n_head = 2, .d_model = 16, .ctx = 16, .vocab = GPT_VOCAB};
static const int TOKENS[2 * 6] = {72, 105, 33, 256, 0, 0, 49, 43, 49, 61, 50, 256};

static void test_gpt_io_save_load_identical_logits(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *ck = xasprintf("%s/ck", dir);
    gpt_t *m = gpt_new(&CFG, 11);
    assert_int_equal(gpt_save(m, ck, 42), 0);
    char why[512];
    uint64_t v = 0;
    gpt_t *back = gpt_load(ck, &v, why, sizeof why);
    if (!back) fail_msg("%s", why);
    assert_int_equal(v, 42);
    assert_int_equal(gpt_n_params(back), gpt_n_params(m));
    assert_memory_equal(gpt_params(back), gpt_params(m), gpt_n_params(m) * sizeof(float));
    double lp1[2], lp2[2];
    int pl[2] = {2, 1}, len[2] = {4, 6};
    gpt_forward(m, TOKENS, 2, 6);
    gpt_seq_logprob(m, TOKENS, pl, len, lp1);
    gpt_forward(back, TOKENS, 2, 6);
    gpt_seq_logprob(back, TOKENS, pl, len, lp2);
    assert_true(lp1[0] == lp2[0] && lp1[1] == lp2[1]);
    /* the Hugging Face layout and config */
    char *cj = xasprintf("%s/config.json", ck);
    assert_true(tu_file_contains(cj, "\"model_type\": \"gpt2\""));
    assert_true(tu_file_contains(cj, "\"n_embd\": 16"));
    assert_true(tu_file_contains(cj, "\"vocab_size\": 257"));
    char *mp = xasprintf("%s/model.safetensors", ck);
    size_t len_b;
    char *blob = util_read_file(mp, &len_b);
    st_file_t f;
    assert_int_equal(st_parse(blob, len_b, &f, why, sizeof why), 0);
    const st_tensor_t *t = st_find(&f, "h.1.attn.c_attn.weight");
    assert_non_null(t);
    assert_true(t->ndim == 2 && t->shape[0] == 16 && t->shape[1] == 48);
    t = st_find(&f, "h.0.mlp.c_proj.weight");
    assert_true(t && t->shape[0] == 64 && t->shape[1] == 16);
    assert_non_null(st_find(&f, "wte.weight"));
    assert_non_null(st_find(&f, "ln_f.bias"));
    assert_string_equal(st_meta(&f, "format"), "pt");
    assert_int_equal(f.n, 2 + 2 + 12 * 2);
    st_free(&f);
    free(blob), free(mp), free(cj), free(ck);
    gpt_destroy(&m);
    gpt_destroy(&back);
    tu_done(dir);
}

/* Re-serialises a model's tensors after `mutate` changed one of them. */
typedef void (*mutate_fn)(st_tensor_t *ts, int *n);
static char *s_broken(mutate_fn mutate, size_t *len) {
    gpt_t *m = gpt_new(&CFG, 3);
    size_t l0;
    void *blob = gpt_serialize(m, 1, &l0);
    st_file_t f;
    char why[256];
    assert_int_equal(st_parse(blob, l0, &f, why, sizeof why), 0);
    st_tensor_t *ts = xcalloc((size_t)f.n, sizeof *ts);
    memcpy(ts, f.tensors, sizeof *ts * (size_t)f.n);
    int n = f.n;
    mutate(ts, &n);
    void *out = st_serialize(ts, n, (const char *const *)f.meta_keys, (const char *const *)f.meta_values, f.n_meta, len);
    free(ts);
    st_free(&f);
    free(blob);
    gpt_destroy(&m);
    return out;
}

static int s_find(st_tensor_t *ts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ts[i].name, name)) return i;
    fail_msg("no tensor %s", name);
    return -1;
}
static void m_missing(st_tensor_t *ts, int *n) {
    int i = s_find(ts, *n, "h.1.ln_2.bias");
    ts[i] = ts[--*n];
}
static void m_shape(st_tensor_t *ts, int *n) {
    int i = s_find(ts, *n, "h.0.mlp.c_fc.weight");
    ts[i].shape[0] = 64, ts[i].shape[1] = 16; /* transposed: the wrong orientation */
}
static void m_dtype(st_tensor_t *ts, int *n) {
    int i = s_find(ts, *n, "wpe.weight");
    snprintf(ts[i].dtype, sizeof ts[i].dtype, "I32");
}

static void s_expect_refusal(char *blob, size_t len, const char *needle) {
    char why[512];
    gpt_t *m = gpt_deserialize(blob, len, NULL, why, sizeof why);
    if (m || !strstr(why, needle)) fail_msg("expected a refusal naming '%s', got '%s'", needle, m ? "(loaded)" : why);
    free(blob);
}

static void test_gpt_io_refuses_bad_checkpoints(void **state) {
    (void)state;
    size_t len;
    char *b = s_broken(m_missing, &len);
    s_expect_refusal(b, len, "tensor h.1.ln_2.bias missing");
    b = s_broken(m_shape, &len);
    s_expect_refusal(b, len, "tensor h.0.mlp.c_fc.weight has shape (64, 16), expected (16, 64)");
    b = s_broken(m_dtype, &len);
    s_expect_refusal(b, len, "tensor wpe.weight has dtype I32, expected F32");
    gpt_t *m = gpt_new(&CFG, 3);
    void *blob = gpt_serialize(m, 1, &len);
    s_expect_refusal(blob, len - 100, "outside the file"); /* truncated */
    gpt_destroy(&m);
    char why[512];
    assert_null(gpt_load("/nonexistent/ck", NULL, why, sizeof why));
    assert_non_null(strstr(why, "/nonexistent/ck/model.safetensors: cannot read"));
}

/* From fuzz_policy_load and fuzz_safetensors: a header whose shape wraps 64 bits to 0 bytes, and
 * a config far larger than the tensors the file holds (refused before it is allocated). */
static void test_gpt_io_refuses_forged_sizes(void **state) {
    (void)state;
    const char *hdr = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}";
    size_t hlen = strlen(hdr);
    uint8_t *buf = xcalloc(8 + hlen, 1);
    buf[0] = (uint8_t)hlen;
    memcpy(buf + 8, hdr, hlen);
    st_file_t f;
    char why[512];
    assert_int_equal(st_parse(buf, 8 + hlen, &f, why, sizeof why), -1);
    assert_non_null(strstr(why, "too large"));
    free(buf);
    const char *keys[] = {"policy", "n_layer", "n_head", "n_embd", "n_positions", "vocab_size"};
    const char *vals[] = {"gpt", "1048576", "1", "1048576", "8", "257"};
    size_t len;
    void *blob = st_serialize(NULL, 0, keys, vals, 6, &len);
    s_expect_refusal(blob, len, "tensor wte.weight missing");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt_io_save_load_identical_logits),
        cmocka_unit_test(test_gpt_io_refuses_bad_checkpoints),
        cmocka_unit_test(test_gpt_io_refuses_forged_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
