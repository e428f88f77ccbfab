/* The vocabulary never sets the memory, measured rather than accounted: a child process runs a
 * training step (forward, response log-probs, backward) of a one-layer model with a real
 * vocabulary — GPT-2's 50257 and Qwen2.5's 151936 — over 16 x 256 predicted positions, and its
 * peak resident memory must stay far below one (B, T, V) float buffer (0.82 GB and 2.5 GB).
 * Also: GPT-2's chunked head gives the same log-probs and gradients at every chunk size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/gpt.h"
#include "common/llama.h"
#include "common/util.h"
#include "testutil.h"

enum { B = 16, T = 256 };

static long s_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A training step of a model of vocabulary V in a child process; returns the growth of the
 * child's peak resident memory over the step, in bytes. The model's parameters and gradients
 * are allocated (and touched) before the first reading, so the growth is the step's own. */
static long s_step_growth(int V, int llama) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        int *tok = xmalloc(sizeof(int) * B * T);
        for (int i = 0; i < B * T; i++) tok[i] = (i * 7919 + 3) % V;
        long before = 0, after = 0;
        if (llama) {
            llama_config_t c = {.n_layer = 1, .d_model = 32, .n_head = 4, .n_kv_head = 2, .head_dim = 8, .d_ff = 48,
                                .vocab = V, .ctx = T, .rms_eps = 1e-6, .rope_theta = 1e6, .qkv_bias = 1, .tied = 1};
            llama_t *m = llama_new(&c, 1);
            llama_zero_grad(m);
            llama_pred_t *p = xmalloc(sizeof *p * B * T);
            for (int i = 0; i < B * T; i++) p[i] = (llama_pred_t){i, tok[(i + 1) % (B * T)], i / T};
            double lp[B] = {0}, dlp[B];
            for (int b = 0; b < B; b++) dlp[b] = -1.0 / B;
            before = s_rss_kb();
            llama_forward(m, tok, NULL, NULL, B, T);
            llama_preds_logprob(m, p, B * T, lp);
            llama_backward(m, p, B * T, dlp);
            after = s_rss_kb();
        } else {
            gpt_config_t c = {.n_layer = 1, .n_head = 4, .d_model = 32, .ctx = T, .vocab = V};
            gpt_t *m = gpt_new(&c, 1);
            gpt_zero_grad(m);
            gpt_pred_t *p = xmalloc(sizeof *p * B * T);
            for (int i = 0; i < B * T; i++) p[i] = (gpt_pred_t){i, tok[(i + 1) % (B * T)], i / T};
            double lp[B] = {0}, dlp[B];
            for (int b = 0; b < B; b++) dlp[b] = -1.0 / B;
            before = s_rss_kb();
            gpt_forward(m, tok, B, T);
            gpt_preds_logprob(m, p, B * T, lp);
            gpt_backward_preds(m, tok, NULL, p, B * T, dlp);
            after = s_rss_kb();
        }
        long growth = (after - before) * 1024;
        ssize_t w = write(fds[1], &growth, sizeof growth);
        _exit(w == (ssize_t)sizeof growth ? 0 : 1);
    }
    close(fds[1]);
    long growth = -1;
    assert_int_equal(read(fds[0], &growth, sizeof growth), (ssize_t)sizeof growth);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return growth;
}

static void s_bounded(int V, int llama) {
    long growth = s_step_growth(V, llama);
    double full = (double)B * T * V * sizeof(float);
    fprintf(stderr, "%s V %d: a training step over %d x %d positions grew the peak by %.1f MiB; one (B, T, V) "
            "buffer is %.0f MiB\n", llama ? "Qwen2-like" : "GPT-2", V, B, T, growth / 1048576.0, full / 1048576.0);
    assert_true(growth >= 0);
    assert_true((double)growth < full / 8);
}

static void test_gpt2_vocabulary_does_not_set_memory(void **state) {
    (void)state;
    s_bounded(50257, 0);
}

static void test_qwen_vocabulary_does_not_set_memory(void **state) {
    (void)state;
    s_bounded(151936, 1);
}

/* log-probs and every gradient agree across head chunk sizes (1 row, 7 rows, the default) */
static void test_gpt_head_chunks_agree(void **state) {
    (void)state;
    enum { CB = 3, CT = 20, V = 3001 };
    gpt_config_t c = {.n_layer = 2, .n_head = 2, .d_model = 16, .ctx = CT, .vocab = V};
    int tok[CB * CT], pl[CB] = {1, 5, 19}, len[CB] = {CT, 12, CT};
    for (int i = 0; i < CB * CT; i++) tok[i] = (i * 131 + 7) % V;
    double dlp[CB] = {1.0, -0.5, 0.25}, lp_ref[CB];
    int chunks[3] = {0, 1, 7};
    float *g_ref = NULL;
    for (int k = 0; k < 3; k++) {
        gpt_t *m = gpt_new(&c, 3);
        gpt_set_head_chunk(m, chunks[k]);
        double lp[CB];
        assert_int_equal(gpt_forward(m, tok, CB, CT), 0);
        gpt_seq_logprob(m, tok, pl, len, lp);
        gpt_zero_grad(m);
        gpt_backward(m, tok, pl, len, dlp);
        size_t n = gpt_n_params(m);
        if (k == 0) {
            memcpy(lp_ref, lp, sizeof lp);
            g_ref = xmalloc(sizeof(float) * n);
            memcpy(g_ref, gpt_grads(m), sizeof(float) * n);
        } else {
            double worst = 0, scale = 0;
            for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(g_ref[i]));
            for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(gpt_grads(m)[i] - g_ref[i]));
            fprintf(stderr, "chunk %d: gradient max difference %.2e of max %.2e\n", chunks[k], worst, scale);
            assert_true(worst <= 1e-5 * scale);
            for (int b = 0; b < CB; b++) assert_true(fabs(lp[b] - lp_ref[b]) <= 1e-5 * fabs(lp_ref[b]));
        }
        gpt_destroy(&m);
    }
    free(g_ref);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt_head_chunks_agree),
        cmocka_unit_test(test_gpt2_vocabulary_does_not_set_memory),
        cmocka_unit_test(test_qwen_vocabulary_does_not_set_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
