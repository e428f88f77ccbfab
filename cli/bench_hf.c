/* bench_hf — the real-model part of `spar bench model`: the SmolLM2-135M and Qwen2.5-0.5B
 * shapes (random weights: the speed is the shape's), each figure measured in its own process so
 * its peak memory is its own, beside the same figure from the PyTorch peer (bench/torch_peer.py,
 * Debian's python3-torch) run on the same machine in the same bench:
 *   train    forward + backward of the response log-prob + AdamW, B 8 x T 256: tokens/s, MFU
 *   logprob  forward and the response log-probs only: tokens/s, share of the sgemm peak
 *   sample   KV-cache sampling of 16 sequences x 128 new tokens: tokens/s, share of the bound
 *            that the measured sgemm rate at M = 16 sets (2 FLOPs per parameter per token)
 * Figures are printed, never asserted. */
#include "cli/bench_hf.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/adamw.h"
#include "common/gpt.h"
#include "common/llama.h"
#include "common/util.h"

typedef struct {
    const char *name;
    llama_config_t cfg;
} hf_shape_t;

static const hf_shape_t s_shapes[] = {
    {"smollm2-135m",
     {.n_layer = 30, .d_model = 576, .n_head = 9, .n_kv_head = 3, .head_dim = 64, .d_ff = 1536, .vocab = 49152,
      .ctx = 8192, .rms_eps = 1e-5, .rope_theta = 100000, .tied = 1}},
    {"qwen2.5-0.5b",
     {.n_layer = 24, .d_model = 896, .n_head = 14, .n_kv_head = 2, .head_dim = 64, .d_ff = 4864, .vocab = 151936,
      .ctx = 32768, .rms_eps = 1e-6, .rope_theta = 1000000, .qkv_bias = 1, .tied = 1}},
};
#define N_SHAPES (int)(sizeof s_shapes / sizeof *s_shapes)

enum { TRAIN_B = 8, TRAIN_T = 256, SAMPLES = 16, NEW_TOKENS = 128, PROMPT_LEN = 16 }; /* as the peer */

long bench_peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

double bench_sgemm_gflops(int M, int N, int K, int trans_b) {
    float *a = xcalloc((size_t)M * K, sizeof(float)), *b = xcalloc((size_t)K * N, sizeof(float)),
          *c = xcalloc((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    int ldb = trans_b ? K : N, reps = 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, M, N, K, 1, a, K, b, ldb, 0, c, N);
    double t0 = util_now_s(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, M, N, K, 1, a, K, b, ldb, 0, c, N);
        reps++;
    } while ((t = util_now_s() - t0) < 0.4);
    free(a), free(b), free(c);
    return 2.0 * M * N * K * reps / t / 1e9;
}

/* The sgemm peak at the shape's training products (M = B*T rows), NN and NT, best of them. */
static double s_peak(const llama_config_t *c) {
    int M = TRAIN_B * TRAIN_T, d = c->d_model, f = c->d_ff;
    double p = 0, g;
    int shapes[3][2] = {{d, d}, {f, d}, {d, f}};
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 2; t++)
            if ((g = bench_sgemm_gflops(M, shapes[i][0], shapes[i][1], t)) > p) p = g;
    return p;
}

/* The rate at M = 16 on the shape's decode products (NN: the best a decode kernel can use). */
static double s_skinny(const llama_config_t *c) {
    int d = c->d_model, f = c->d_ff;
    return (bench_sgemm_gflops(SAMPLES, f, d, 0) + bench_sgemm_gflops(SAMPLES, d, f, 0) + bench_sgemm_gflops(SAMPLES, d, d, 0)) / 3;
}

/* Training FLOPs per token: 6 per parameter (the head counted once even when tied) plus the
 * attention's 12 L T d_attn. */
static double s_train_flops(const llama_config_t *c, size_t n_params) {
    double head = c->tied ? (double)c->vocab * c->d_model : 0;
    return 6.0 * ((double)n_params + head) + 12.0 * c->n_layer * TRAIN_T * (double)c->n_head * c->head_dim;
}

static llama_pred_t *s_preds(const int *tok, int B, int T, int *n) {
    llama_pred_t *p = xmalloc(sizeof *p * (size_t)B * T);
    *n = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T - 1; t++) p[(*n)++] = (llama_pred_t){b * T + t, tok[b * T + t + 1], b};
    return p;
}

/* One figure of one shape, printed as one line "figure tok/s share act_mb peak_mb". */
static int s_figure(const hf_shape_t *s, const char *figure) {
    llama_t *m = llama_new(&s->cfg, 1);
    if (!m) return 2;
    const llama_config_t *c = &s->cfg;
    int B = TRAIN_B, T = TRAIN_T, n, *tok = xmalloc(sizeof(int) * (size_t)B * T);
    for (int i = 0; i < B * T; i++) tok[i] = (i * 7919 + 13) % c->vocab;
    llama_pred_t *p = s_preds(tok, B, T, &n);
    double lp[TRAIN_B], dlp[TRAIN_B], tps = 0, share = 0;
    for (int b = 0; b < B; b++) dlp[b] = -1.0 / B;
    if (!strcmp(figure, "train") || !strcmp(figure, "logprob")) {
        int train = !strcmp(figure, "train");
        adamw_t *opt = train ? adamw_new(llama_n_params(m), 1e-5, 0.0, 1.0, 1, 100) : NULL;
        uint8_t *mask = train ? llama_decay_mask(m) : NULL;
        double t0 = 0;
        int steps = 0;
        for (int step = 0; step < 4 || (util_now_s() - t0 < 4.0 && steps < 20); step++) {
            if (step == 1) t0 = util_now_s(); /* step 0 warms the buffers up */
            memset(lp, 0, sizeof lp);
            llama_forward(m, tok, NULL, NULL, B, T);
            llama_preds_logprob(m, p, n, lp);
            if (train) {
                llama_zero_grad(m);
                llama_backward(m, p, n, dlp);
                adamw_step(opt, llama_params(m), llama_grads(m), mask);
            }
            if (step >= 1) steps++;
        }
        tps = (double)B * T * steps / (util_now_s() - t0);
        double flops = train ? s_train_flops(c, llama_n_params(m)) : s_train_flops(c, llama_n_params(m)) / 3;
        share = tps * flops / (s_peak(c) * 1e9);
        free(mask);
        adamw_destroy(&opt);
    } else {
        int plen[SAMPLES], outl[SAMPLES], *out = xmalloc(sizeof(int) * SAMPLES * NEW_TOKENS);
        const int *prompts[SAMPLES];
        float *outlp = xmalloc(sizeof(float) * SAMPLES * NEW_TOKENS);
        rng_t r[SAMPLES];
        for (int i = 0; i < SAMPLES; i++) prompts[i] = tok + i * PROMPT_LEN, plen[i] = PROMPT_LEN;
        for (int i = 0; i < SAMPLES; i++) rng_stream(&r[i], 1, 0, 0, (uint64_t)i);
        /* no EOS: every sequence generates all NEW_TOKENS */
        llama_sample_opts_t o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = NEW_TOKENS};
        double t0 = util_now_s();
        llama_generate(m, NULL, 0, prompts, plen, SAMPLES, &o, r, out, outlp, outl);
        double t = util_now_s() - t0;
        long generated = 0;
        for (int i = 0; i < SAMPLES; i++) generated += outl[i];
        tps = generated / t;
        double head = c->tied ? (double)c->vocab * c->d_model : 0;
        share = tps * 2.0 * ((double)llama_n_params(m) + head - (double)c->vocab * c->d_model) / (s_skinny(c) * 1e9);
        free(out), free(outlp);
    }
    printf("%s %.1f %.4f %.1f %ld\n", figure, tps, share, llama_activation_bytes(m) / 1048576.0, bench_peak_rss_mb());
    free(tok), free(p);
    llama_destroy(&m);
    return 0;
}

/* A figure of spar in a child process (this binary again): 0 and the figures, or -1. */
static int s_spar_child(const char *shape, const char *figure, int threads, double *tps, double *share, double *act,
                        long *peak) {
    char *cmd = xasprintf("'/proc/%d/exe' bench model --hf-figure %s %s --threads %d", (int)getpid(), shape, figure,
                          threads);
    FILE *f = popen(cmd, "r");
    free(cmd);
    char name[32];
    int ok = f && fscanf(f, "%31s %lf %lf %lf %ld", name, tps, share, act, peak) == 5;
    if (f) pclose(f);
    return ok ? 0 : -1;
}

/* The peer's figure (bench/torch_peer.py): 0 and the figures, or -1 when it cannot run here. */
static int s_peer(const char *src, const char *shape, const char *figure, int threads, double *tps, long *peak) {
    char *cmd = xasprintf("/usr/bin/python3 '%s/bench/torch_peer.py' --shape %s --figure %s --threads %d 2>/dev/null",
                          src, shape, figure, threads);
    FILE *f = popen(cmd, "r");
    free(cmd);
    char line[1024];
    int ok = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *a = strstr(line, "\"tok_s\":"), *b = strstr(line, "\"peak_mb\":");
        if (a && b) {
            *tps = atof(a + 8);
            *peak = atol(b + 10);
            ok = 1;
        }
    }
    if (f) pclose(f);
    return ok ? 0 : -1;
}

int bench_hf_has_shape(const char *name) {
    for (int i = 0; i < N_SHAPES; i++)
        if (!strcmp(s_shapes[i].name, name)) return 1;
    return 0;
}

int bench_hf_figure_main(const char *shape, const char *figure) {
    for (int i = 0; i < N_SHAPES; i++)
        if (!strcmp(s_shapes[i].name, shape)) return s_figure(&s_shapes[i], figure);
    fprintf(stderr, "spar bench model: unknown shape %s\n", shape);
    return 2;
}

void bench_hf_run(const char *only, int threads, const char *source_dir, int peer) {
    static const char *figures[] = {"train", "logprob", "sample"};
    static const char *what[] = {"training (B 8 x T 256)", "sequence logp", "sampling (16 x 128, KV)"};
    static const char *share_of[] = {"MFU of the sgemm peak", "of the sgemm peak", "of the M=16 sgemm bound"};
    for (int i = 0; i < N_SHAPES; i++) {
        const hf_shape_t *s = &s_shapes[i];
        if (only && strcmp(only, s->name) != 0) continue;
        const llama_config_t *c = &s->cfg;
        printf("%s: Llama-family, %d layers, d %d, %d/%d heads, MLP %d, V %d%s%s\n", s->name, c->n_layer, c->d_model,
               c->n_head, c->n_kv_head, c->d_ff, c->vocab, c->qkv_bias ? ", q/k/v biases" : "", c->tied ? ", tied" : "");
        printf("  %-24s %10s %24s %9s %9s | %10s %9s %7s\n", "figure", "spar tok/s", "share", "act MiB", "peak MiB",
               "torch tok/s", "peak MiB", "ratio");
        for (int f = 0; f < 3; f++) {
            double tps = 0, share = 0, act = 0, ptps = 0;
            long peak = 0, ppeak = 0;
            int ok = s_spar_child(s->name, figures[f], threads, &tps, &share, &act, &peak) == 0;
            int pok = peer && s_peer(source_dir, s->name, figures[f], threads, &ptps, &ppeak) == 0;
            char sh[40];
            snprintf(sh, sizeof sh, "%.0f%% %s", 100 * share, share_of[f]);
            if (ok) printf("  %-24s %10.0f %24s %9.0f %9ld |", what[f], tps, sh, act, peak);
            else printf("  %-24s %10s %24s %9s %9s |", what[f], "failed", "", "", "");
            if (pok) printf(" %10.0f %9ld %6.2fx\n", ptps, ppeak, ok ? tps / ptps : 0.0);
            else printf(" %10s\n", peer ? "n/a" : "(off)");
            fflush(stdout);
        }
    }
}
