/* The Llama-family model as a whole: the gradient of a weighted sum of sequence log-probs
 * against central finite differences for every tensor kind of four architectures (Llama with
 * biases, untied, GQA and llama3 rope scaling; Qwen2 with q/k/v biases, tied; Qwen3 with q/k
 * norm and head_dim != d_model / n_head, packed; Mistral), the tensor table's Hugging Face
 * names and shapes, packed batches against separate rows, chunked against single-chunk heads,
 * and memory that does not grow with the vocabulary. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/llama.h"
#include "common/rng.h"
#include "common/util.h"

static llama_config_t s_base(void) {
    return (llama_config_t){.n_layer = 2, .d_model = 16, .n_head = 4, .n_kv_head = 2, .head_dim = 4, .d_ff = 24,
                            .vocab = 23, .ctx = 64, .rms_eps = 1e-5, .rope_theta = 10000};
}

static llama_config_t s_llama(void) {
    llama_config_t c = s_base();
    c.rope_theta = 500000, c.rope_llama3 = 1, c.rope_factor = 8, c.rope_low_freq_factor = 1;
    c.rope_high_freq_factor = 4, c.rope_original_ctx = 8; /* short enough that all regimes occur */
    c.qkv_bias = c.o_bias = c.mlp_bias = 1;              /* attention_bias, mlp_bias */
    c.head_dim = 8;
    return c;
}

static llama_config_t s_qwen2(void) {
    llama_config_t c = s_base();
    c.qkv_bias = 1, c.tied = 1, c.rope_theta = 1000000, c.rms_eps = 1e-6;
    return c;
}

static llama_config_t s_qwen3(void) {
    llama_config_t c = s_base();
    c.qk_norm = 1, c.tied = 1, c.head_dim = 6, c.n_kv_head = 1, c.rope_theta = 1000000, c.rms_eps = 1e-6;
    return c;
}

static llama_config_t s_mistral(void) {
    llama_config_t c = s_base();
    c.n_kv_head = 1, c.rope_theta = 1000000;
    return c;
}

/* Random parameters of a size that makes every one matter (HF's N(0, 0.02) leaves the model
 * nearly uniform, and a finite difference would test little): weights N(0, 0.3), norms about
 * 1, biases N(0, 0.2). */
static llama_t *s_model(const llama_config_t *c, uint64_t seed) {
    llama_t *m = llama_new(c, seed);
    assert_non_null(m);
    rng_t r;
    rng_seed(&r, seed + 1);
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

/* ---- a batch and its predictions ---------------------------------------------------------- */

enum { B = 2, T = 7, MAXP = B * T };

typedef struct {
    int tokens[B * T], pos[B * T], seg[B * T];
    const int *pos_p, *seg_p;
    llama_pred_t preds[MAXP];
    int n_preds, n_seq;
    double dlp[4];
} batch_t;

/* Two rows, a prompt of 2 then a response; position t predicts token t + 1 of the response.
 * packed: row 0 instead holds a prompt of 2 and two responses (segments 1 and 2, positions
 * restarting after the prompt), three sequences in all. */
static void s_batch(batch_t *b, int vocab, int packed) {
    memset(b, 0, sizeof *b);
    for (int i = 0; i < B * T; i++) b->tokens[i] = (i * 7 + 3) % vocab;
    for (int t = 0; t < T; t++) b->pos[t] = b->pos[T + t] = t;
    b->n_seq = 2;
    b->dlp[0] = 0.7, b->dlp[1] = -1.3, b->dlp[2] = 0.4;
    if (!packed) {
        for (int r = 0; r < B; r++)
            for (int t = 1; t < T - 1 - r; t++) b->preds[b->n_preds++] = (llama_pred_t){r * T + t, b->tokens[r * T + t + 1], r};
        return;
    }
    /* row 0: [p0 p1 | a0 a1 a2 | c0 c1], positions 0 1 2 3 4 2 3 */
    static const int seg0[T] = {0, 0, 1, 1, 1, 2, 2}, pos0[T] = {0, 1, 2, 3, 4, 2, 3};
    for (int t = 0; t < T; t++) b->seg[t] = seg0[t], b->pos[t] = pos0[t];
    for (int t = 0; t < T; t++) b->seg[T + t] = 1; /* row 1: one sequence */
    b->pos_p = b->pos, b->seg_p = b->seg;
    b->n_seq = 3;
    int n = 0;
    b->preds[n++] = (llama_pred_t){1, b->tokens[2], 0}; /* a0 from the prompt's last position */
    b->preds[n++] = (llama_pred_t){2, b->tokens[3], 0};
    b->preds[n++] = (llama_pred_t){3, b->tokens[4], 0};
    b->preds[n++] = (llama_pred_t){1, b->tokens[5], 2}; /* c0 from the same position */
    b->preds[n++] = (llama_pred_t){5, b->tokens[6], 2};
    for (int t = 1; t < T - 1; t++) b->preds[n++] = (llama_pred_t){T + t, b->tokens[T + t + 1], 1};
    b->n_preds = n;
}

static double s_loss(llama_t *m, const batch_t *b) {
    assert_int_equal(llama_forward(m, b->tokens, b->pos_p, b->seg_p, B, T), 0);
    double lp[4] = {0}, s = 0;
    llama_preds_logprob(m, b->preds, b->n_preds, lp);
    for (int i = 0; i < b->n_seq; i++) s += b->dlp[i] * lp[i];
    return s;
}

/* ---- finite differences of the whole model ------------------------------------------------ */

/* For every tensor, 5 of its entries (always its first and last): the analytic gradient of
 * L = sum_s dlp[s] lp[s] against a central difference (in double, of the float model). */
static void s_gradcheck(const char *arch, const llama_config_t *c, int packed) {
    llama_t *m = s_model(c, 11);
    batch_t b;
    s_batch(&b, c->vocab, packed);
    llama_zero_grad(m);
    s_loss(m, &b);
    llama_backward(m, b.preds, b.n_preds, b.dlp);
    float *p = llama_params(m), *g = llama_grads(m);
    rng_t r;
    rng_seed(&r, 5);
    double h = 1e-2, worst = 0;
    for (int i = 0; i < llama_n_tensors(m); i++) {
        const llama_tensor_t *t = llama_tensor(m, i);
        for (int k = 0; k < 5; k++) {
            size_t j = t->offset + (k == 0 ? 0 : k == 1 ? t->n - 1 : (size_t)(rng_uniform(&r) * (double)t->n));
            float keep = p[j];
            p[j] = keep + (float)h;
            double lp = s_loss(m, &b);
            p[j] = keep - (float)h;
            double lm = s_loss(m, &b);
            p[j] = keep;
            /* relative 3e-2, or 6e-4 absolute: the float model's rounding in L over 2h */
            double num = (lp - lm) / (2 * h), err = fabs(num - g[j]) / (2e-2 + fabs(num));
            if (err > worst) worst = err;
            if (err > 3e-2) fail_msg("%s: %s[%zu]: analytic %g, numeric %g", arch, t->name, j - t->offset, g[j], num);
        }
    }
    fprintf(stderr, "%-8s %2d tensors, %zu parameters: worst relative error %.1e\n", arch, llama_n_tensors(m),
            llama_n_params(m), worst);
    llama_destroy(&m);
}

static void test_llama_gradcheck_llama(void **state) {
    (void)state;
    llama_config_t c = s_llama();
    s_gradcheck("llama", &c, 0);
}

static void test_llama_gradcheck_qwen2(void **state) {
    (void)state;
    llama_config_t c = s_qwen2();
    s_gradcheck("qwen2", &c, 0);
}

static void test_llama_gradcheck_qwen3_packed(void **state) {
    (void)state;
    llama_config_t c = s_qwen3();
    s_gradcheck("qwen3", &c, 1);
}

static void test_llama_gradcheck_mistral(void **state) {
    (void)state;
    llama_config_t c = s_mistral();
    s_gradcheck("mistral", &c, 0);
}

/* llama_backward_hidden: the gradient of sum(R * hidden), for a sequence-classification head */
static void test_llama_backward_hidden(void **state) {
    (void)state;
    llama_config_t c = s_qwen3();
    llama_t *m = s_model(&c, 3);
    batch_t b;
    s_batch(&b, c.vocab, 1);
    size_t nh = (size_t)B * T * c.d_model;
    float *R = xmalloc(sizeof(float) * nh);
    rng_t r;
    rng_seed(&r, 9);
    for (size_t i = 0; i < nh; i++) R[i] = (float)rng_normal(&r);
    llama_zero_grad(m);
    assert_int_equal(llama_forward(m, b.tokens, b.pos_p, b.seg_p, B, T), 0);
    llama_backward_hidden(m, R);
    float *p = llama_params(m), *g = llama_grads(m);
    for (int i = 0; i < llama_n_tensors(m); i++) {
        const llama_tensor_t *t = llama_tensor(m, i);
        size_t j = t->offset + t->n / 2;
        double L[2];
        float keep = p[j];
        for (int s = 0; s < 2; s++) {
            p[j] = keep + (s ? -1e-2f : 1e-2f);
            assert_int_equal(llama_forward(m, b.tokens, b.pos_p, b.seg_p, B, T), 0);
            const float *hid = llama_hidden(m);
            L[s] = 0;
            for (size_t k = 0; k < nh; k++) L[s] += (double)R[k] * hid[k];
        }
        p[j] = keep;
        double num = (L[0] - L[1]) / 2e-2;
        if (fabs(num - g[j]) / (2e-2 + fabs(num)) > 3e-2) fail_msg("%s: analytic %g, numeric %g", t->name, g[j], num);
    }
    free(R);
    llama_destroy(&m);
}

/* ---- the tensor table --------------------------------------------------------------------- */

static void s_expect(const llama_t *m, const char *name, int64_t r, int64_t c) {
    const llama_tensor_t *t = llama_tensor_by_name(m, name);
    if (!t) fail_msg("no tensor %s", name);
    assert_int_equal(t->ndim, c ? 2 : 1);
    assert_int_equal(t->shape[0], r);
    if (c) assert_int_equal(t->shape[1], c);
    assert_int_equal(t->decay, c ? 1 : 0);
}

static void test_llama_tensor_table(void **state) {
    (void)state;
    llama_config_t c = s_qwen3(); /* 4 heads of 6 over d_model 16, one kv head */
    llama_t *m = llama_new(&c, 1);
    s_expect(m, "model.embed_tokens.weight", 23, 16);
    s_expect(m, "model.layers.1.self_attn.q_proj.weight", 24, 16);
    s_expect(m, "model.layers.1.self_attn.k_proj.weight", 6, 16);
    s_expect(m, "model.layers.1.self_attn.v_proj.weight", 6, 16);
    s_expect(m, "model.layers.1.self_attn.o_proj.weight", 16, 24);
    s_expect(m, "model.layers.1.self_attn.q_norm.weight", 6, 0);
    s_expect(m, "model.layers.1.self_attn.k_norm.weight", 6, 0);
    s_expect(m, "model.layers.0.input_layernorm.weight", 16, 0);
    s_expect(m, "model.layers.0.post_attention_layernorm.weight", 16, 0);
    s_expect(m, "model.layers.0.mlp.gate_proj.weight", 24, 16);
    s_expect(m, "model.layers.0.mlp.up_proj.weight", 24, 16);
    s_expect(m, "model.layers.0.mlp.down_proj.weight", 16, 24);
    s_expect(m, "model.norm.weight", 16, 0);
    assert_null(llama_tensor_by_name(m, "lm_head.weight")); /* tied */
    assert_null(llama_tensor_by_name(m, "model.layers.0.self_attn.q_proj.bias"));
    assert_null(llama_tensor_by_name(m, "model.layers.2.input_layernorm.weight"));
    /* the table tiles the buffer in order; HF's initial values */
    size_t at = 0;
    const float *p = llama_params(m);
    for (int i = 0; i < llama_n_tensors(m); i++) {
        const llama_tensor_t *t = llama_tensor(m, i);
        assert_int_equal(t->offset, at);
        at += t->n;
        if (t->ndim == 1)
            for (size_t j = 0; j < t->n; j++) assert_true(p[t->offset + j] == 1.0f); /* norms */
    }
    assert_int_equal(at, llama_n_params(m));
    assert_string_equal(llama_tensor(m, 0)->name, "model.embed_tokens.weight");
    llama_destroy(&m);

    c = s_llama(); /* untied, every bias */
    m = llama_new(&c, 1);
    assert_string_equal(llama_tensor(m, llama_n_tensors(m) - 1)->name, "lm_head.weight");
    s_expect(m, "lm_head.weight", 23, 16);
    s_expect(m, "model.layers.0.self_attn.q_proj.bias", 32, 0);
    s_expect(m, "model.layers.0.self_attn.k_proj.bias", 16, 0);
    s_expect(m, "model.layers.0.self_attn.o_proj.bias", 16, 0);
    s_expect(m, "model.layers.0.mlp.gate_proj.bias", 24, 0);
    s_expect(m, "model.layers.0.mlp.down_proj.bias", 16, 0);
    uint8_t *mask = llama_decay_mask(m);
    const llama_tensor_t *qb = llama_tensor_by_name(m, "model.layers.0.self_attn.q_proj.bias");
    const llama_tensor_t *qw = llama_tensor_by_name(m, "model.layers.0.self_attn.q_proj.weight");
    assert_int_equal(mask[qb->offset], 0);
    assert_int_equal(mask[qw->offset + qw->n - 1], 1);
    for (size_t j = 0; j < qb->n; j++) assert_true(llama_params(m)[qb->offset + j] == 0.0f); /* biases 0 */
    free(mask);
    llama_destroy(&m);
}

static void test_llama_refuses(void **state) {
    (void)state;
    llama_config_t c = s_base();
    c.n_kv_head = 3;
    assert_true(llama_config_check(&c)[0] != 0);
    assert_null(llama_new(&c, 1));
    c = s_base();
    c.head_dim = 5;
    assert_true(llama_config_check(&c)[0] != 0);
    c = s_llama();
    c.rope_high_freq_factor = 0.5;
    assert_true(llama_config_check(&c)[0] != 0);
    c = s_base();
    assert_string_equal(llama_config_check(&c), "");
    llama_t *m = llama_new(&c, 1);
    int tokens[4] = {1, 2, 23, 0}, pos[4] = {0, 1, 2, 64};
    assert_int_equal(llama_forward(m, tokens, NULL, NULL, 1, 4), -1); /* token 23 of 23 */
    tokens[2] = 3;
    assert_int_equal(llama_forward(m, tokens, pos, NULL, 1, 4), -1); /* position 64 of 64 */
    pos[3] = 63;
    assert_int_equal(llama_forward(m, tokens, pos, NULL, 1, 4), 0);
    llama_destroy(&m);
}

/* ---- packing, chunking, memory -------------------------------------------------------------- */

/* K = 2 responses sharing a prompt, packed in one row with segments and restarted positions,
 * score as the two separate rows [prompt + response] do; so do their gradients. */
static void test_llama_packed_equals_rows(void **state) {
    (void)state;
    llama_config_t c = s_llama();
    llama_t *m = s_model(&c, 21);
    /* packed: prompt (3) | a (3) | b (2), padded */
    int packed[10] = {5, 9, 1, 4, 4, 17, 8, 2, 0, 0}, seg[10] = {0, 0, 0, 1, 1, 1, 2, 2, 3, 3};
    int pos[10] = {0, 1, 2, 3, 4, 5, 3, 4, 0, 0};
    llama_pred_t pp[5] = {{2, 4, 0}, {3, 4, 0}, {4, 17, 0}, {2, 8, 1}, {6, 2, 1}};
    /* separate: rows of 6, padded with 0 */
    int rows[12] = {5, 9, 1, 4, 4, 17, 5, 9, 1, 8, 2, 0};
    llama_pred_t pr[5] = {{2, 4, 0}, {3, 4, 0}, {4, 17, 0}, {6 + 2, 8, 1}, {6 + 3, 2, 1}};
    double dlp[2] = {1.5, -0.5}, lp_packed[2] = {0}, lp_rows[2] = {0};
    size_t np = llama_n_params(m);
    float *g_packed = xmalloc(sizeof(float) * np);
    llama_zero_grad(m);
    assert_int_equal(llama_forward(m, packed, pos, seg, 1, 10), 0);
    llama_preds_logprob(m, pp, 5, lp_packed);
    llama_backward(m, pp, 5, dlp);
    memcpy(g_packed, llama_grads(m), sizeof(float) * np);
    llama_zero_grad(m);
    assert_int_equal(llama_forward(m, rows, NULL, NULL, 2, 6), 0);
    llama_preds_logprob(m, pr, 5, lp_rows);
    llama_backward(m, pr, 5, dlp);
    const float *g_rows = llama_grads(m);
    for (int s = 0; s < 2; s++) assert_true(fabs(lp_packed[s] - lp_rows[s]) < 1e-5 * (1 + fabs(lp_rows[s])));
    double gmax = 0;
    for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g_rows[i]));
    for (size_t i = 0; i < np; i++)
        if (fabs(g_packed[i] - g_rows[i]) > 1e-4 * gmax) fail_msg("grad %zu: packed %g, rows %g", i, g_packed[i], g_rows[i]);
    fprintf(stderr, "packed lp %.6f %.6f, rows %.6f %.6f\n", lp_packed[0], lp_packed[1], lp_rows[0], lp_rows[1]);
    free(g_packed);
    llama_destroy(&m);
}

/* One prediction per chunk, and all in one chunk, give the same log-probs and gradients; and
 * the log-probs are the log-softmax of llama_logits_at. */
static void test_llama_chunking(void **state) {
    (void)state;
    llama_config_t c = s_qwen2();
    llama_t *m = s_model(&c, 8);
    batch_t b;
    s_batch(&b, c.vocab, 0);
    size_t np = llama_n_params(m);
    double lp1[2] = {0}, lpn[2] = {0};
    float *g1 = xmalloc(sizeof(float) * np);
    llama_set_head_chunk(m, 1);
    llama_zero_grad(m);
    assert_int_equal(llama_forward(m, b.tokens, NULL, NULL, B, T), 0);
    llama_preds_logprob(m, b.preds, b.n_preds, lp1);
    llama_backward(m, b.preds, b.n_preds, b.dlp);
    memcpy(g1, llama_grads(m), sizeof(float) * np);
    llama_set_head_chunk(m, MAXP);
    llama_zero_grad(m);
    llama_preds_logprob(m, b.preds, b.n_preds, lpn); /* the same forward pass */
    llama_backward(m, b.preds, b.n_preds, b.dlp);
    for (int s = 0; s < 2; s++) assert_true(fabs(lp1[s] - lpn[s]) < 1e-6 * (1 + fabs(lpn[s])));
    for (size_t i = 0; i < np; i++) assert_true(fabs(g1[i] - llama_grads(m)[i]) < 1e-5);
    /* the same from full logits */
    double lpf[2] = {0};
    float *logits = xmalloc(sizeof(float) * c.vocab);
    for (int i = 0; i < b.n_preds; i++) {
        llama_logits_at(m, &b.preds[i].at, 1, logits);
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < c.vocab; v++) mx = fmax(mx, logits[v]);
        for (int v = 0; v < c.vocab; v++) s += exp(logits[v] - mx);
        lpf[b.preds[i].seq] += logits[b.preds[i].target] - mx - log(s);
    }
    for (int s = 0; s < 2; s++) assert_true(fabs(lpf[s] - lpn[s]) < 1e-5 * (1 + fabs(lpn[s])));
    free(logits);
    free(g1);
    llama_destroy(&m);
}

/* Activations at B x T do not grow with V beyond one head chunk (chunk x V logits), where
 * (B, T, V) logits would. */
static void test_llama_memory_bounded_in_vocab(void **state) {
    (void)state;
    enum { MB = 4, MT = 64, CHUNK = 16 };
    int *tokens = xcalloc(MB * MT, sizeof(int));
    size_t bytes[2];
    int vocab[2] = {100, 20000};
    for (int k = 0; k < 2; k++) {
        llama_config_t c = s_base();
        c.vocab = vocab[k];
        llama_t *m = llama_new(&c, 1);
        llama_set_head_chunk(m, CHUNK);
        assert_int_equal(llama_activation_bytes(m), 0);
        assert_int_equal(llama_forward(m, tokens, NULL, NULL, MB, MT), 0);
        llama_pred_t p[MB * MT];
        for (int i = 0; i < MB * MT; i++) p[i] = (llama_pred_t){i, 1, 0};
        double lp = 0, dlp = 1;
        llama_preds_logprob(m, p, MB * MT, &lp);
        llama_backward(m, p, MB * MT, &dlp);
        bytes[k] = llama_activation_bytes(m);
        llama_destroy(&m);
    }
    size_t grown = bytes[1] - bytes[0], chunk_logits = (size_t)CHUNK * (vocab[1] - vocab[0]) * sizeof(float);
    fprintf(stderr, "activations: %zu bytes at V %d, %zu at V %d (one chunk of logits: %zu)\n", bytes[0], vocab[0],
            bytes[1], vocab[1], chunk_logits);
    assert_true(bytes[1] >= bytes[0]);
    assert_true(grown <= chunk_logits);
    assert_true(grown < (size_t)MB * MT * (vocab[1] - vocab[0]) * sizeof(float) / 8);
    free(tokens);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_gradcheck_llama),       cmocka_unit_test(test_llama_gradcheck_qwen2),
        cmocka_unit_test(test_llama_gradcheck_qwen3_packed), cmocka_unit_test(test_llama_gradcheck_mistral),
        cmocka_unit_test(test_llama_backward_hidden),       cmocka_unit_test(test_llama_tensor_table),
        cmocka_unit_test(test_llama_refuses),               cmocka_unit_test(test_llama_packed_equals_rows),
        cmocka_unit_test(test_llama_chunking),              cmocka_unit_test(test_llama_memory_bounded_in_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
