/* bench_model — `spar bench model [--threads N]`: the GPT policy's speed on this machine, printed
 * (never asserted): OpenBLAS sgemm GFLOP/s at the model's shapes (the peak), training tokens/s
 * and MFU (model FLOP/s / that peak) for the tiny and small configs of PERFORMANCE.md, KV-cache
 * sampling tokens/s and its speed-up over recomputing the prefix, forward-only sequence
 * log-prob tokens/s, and the process's peak memory after each config. */
#include "cli/bench_model.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/gpt.h"
#include "common/gpt_sample.h"
#include "common/util.h"
#include "common/adamw.h"


static double s_sgemm_gflops(int M, int N, int K) {
    float *a = xcalloc((size_t)M * K, sizeof(float)), *b = xcalloc((size_t)K * N, sizeof(float)),
          *c = xcalloc((size_t)M * N, sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N); /* warm */
    int reps = 0;
    double t0 = util_now_s(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
        reps++;
    } while ((t = util_now_s() - t0) < 0.5);
    free(a), free(b), free(c);
    return 2.0 * M * N * K * reps / t / 1e9;
}

static long s_peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

typedef struct {
    const char *name;
    gpt_config_t cfg;
    int B, T;
} bench_cfg_t;

static void s_bench(const bench_cfg_t *bc, double peak) {
    gpt_t *m = gpt_new(&bc->cfg, 1);
    int B = bc->B, T = bc->T, N = B * T;
    int *tokens = xmalloc(sizeof(int) * (size_t)N), *pl = xmalloc(sizeof(int) * B), *len = xmalloc(sizeof(int) * B);
    for (int i = 0; i < N; i++) tokens[i] = (i * 37 + 11) % 256;
    for (int b = 0; b < B; b++) pl[b] = 1, len[b] = T;
    double *lp = xmalloc(sizeof(double) * B), *dlp = xmalloc(sizeof(double) * B);
    for (int b = 0; b < B; b++) dlp[b] = -1.0 / B;
    adamw_t *opt = adamw_new(gpt_n_params(m), 1e-4, 0.0, 1.0, 1, 100);
    /* training: forward + backward + AdamW */
    int steps = 0;
    double t0 = util_now_s(), t;
    do {
        gpt_forward(m, tokens, B, T);
        gpt_zero_grad(m);
        gpt_backward(m, tokens, pl, len, dlp);
        adamw_step(opt, gpt_params(m), gpt_grads(m), NULL);
        steps++;
    } while ((t = util_now_s() - t0) < 3.0 && steps < 50);
    double train_tps = (double)N * steps / t;
    double flops_per_token = 6.0 * (double)gpt_n_params(m) + 12.0 * bc->cfg.n_layer * T * bc->cfg.d_model;
    /* sequence log-probs: forward only */
    steps = 0;
    t0 = util_now_s();
    do {
        gpt_forward(m, tokens, B, T);
        gpt_seq_logprob(m, tokens, pl, len, lp);
        steps++;
    } while ((t = util_now_s() - t0) < 2.0 && steps < 100);
    double lp_tps = (double)N * steps / t;
    /* sampling: 16 sequences x 64 new tokens after an 8-token prompt, with the cache ... */
    enum { S = 16, NEW = 64, PL = 8 };
    int prompt[PL] = {51, 55, 43, 52, 53, 61, 32, 32}, plen[S], outl[S], *out = xmalloc(sizeof(int) * S * NEW);
    const int *prompts[S];
    float *outlp = xmalloc(sizeof(float) * S * NEW);
    rng_t r[S];
    for (int s = 0; s < S; s++) prompts[s] = prompt, plen[s] = PL, rng_stream(&r[s], 1, 0, 0, (uint64_t)s);
    gpt_sample_opts_t o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = NEW};
    t0 = util_now_s();
    gpt_generate(m, prompts, plen, S, &o, r, out, outlp, outl);
    double kv_s = util_now_s() - t0;
    long generated = 0;
    for (int s = 0; s < S; s++) generated += outl[s];
    /* ... and recomputing the whole prefix for every new token (the same 16 x 64 tokens) */
    int *seq = xmalloc(sizeof(int) * S * (PL + NEW));
    for (int s = 0; s < S; s++) memcpy(seq + s * (PL + NEW), prompt, sizeof prompt);
    t0 = util_now_s();
    int recomputed = 0;
    for (int n = PL; n < PL + NEW && util_now_s() - t0 < 10.0; n++, recomputed++) {
        int *batch = xmalloc(sizeof(int) * S * n);
        for (int s = 0; s < S; s++) memcpy(batch + s * n, seq + s * (PL + NEW), sizeof(int) * n);
        gpt_forward(m, batch, S, n);
        for (int s = 0; s < S; s++) seq[s * (PL + NEW) + n] = (s + n) % 256;
        free(batch);
    }
    double re_tps = (double)S * recomputed / (util_now_s() - t0);
    double kv_tps = generated / kv_s;
    printf("%-5s L%d H%d d%d ctx%d (%.2f M params), B %d x T %d:\n", bc->name, bc->cfg.n_layer, bc->cfg.n_head,
           bc->cfg.d_model, bc->cfg.ctx, gpt_n_params(m) / 1e6, B, T);
    printf("  training        %8.0f tokens/s   MFU %4.1f%% of %.0f GFLOP/s\n", train_tps,
           100.0 * train_tps * flops_per_token / (peak * 1e9), peak);
    printf("  sequence logp   %8.0f tokens/s (forward only)\n", lp_tps);
    printf("  sampling (KV)   %8.0f tokens/s (16 sequences x 64 new tokens); recomputing the prefix %.0f tokens/s: "
           "%.1fx\n", kv_tps, re_tps, kv_tps / re_tps);
    printf("  peak memory     %8ld MiB (process so far)\n", s_peak_rss_mb());
    free(tokens), free(pl), free(len), free(lp), free(dlp), free(out), free(outlp), free(seq);
    adamw_destroy(&opt);
    gpt_destroy(&m);
}

int bench_model_main(int argc, char **argv) {
    int threads = 2;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--help")) {
            printf("usage: spar bench model [--threads N]\n\nPrints the GPT policy's speed on this machine: sgemm peak, "
                   "training tokens/s and MFU, KV-cache sampling, sequence log-probs, peak memory.\n");
            return 0;
        } else {
            fprintf(stderr, "spar bench model: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1) threads = 1;
    gpt_set_threads(threads);
    /* the peak: the best sgemm rate at the models' training shapes */
    int shapes[4][3] = {{2048, 384, 128}, {2048, 512, 128}, {4096, 1152, 384}, {4096, 1536, 384}};
    double peak = 0;
    for (int i = 0; i < 4; i++) {
        double g = s_sgemm_gflops(shapes[i][0], shapes[i][1], shapes[i][2]);
        if (g > peak) peak = g;
    }
    printf("spar bench model: %d thread(s); OpenBLAS sgemm peak at the model's shapes %.0f GFLOP/s\n", threads, peak);
    bench_cfg_t cfgs[2] = {{"tiny", {4, 4, 128, 128, GPT_VOCAB}, 16, 128}, {"small", {6, 6, 384, 256, GPT_VOCAB}, 16, 256}};
    for (int i = 0; i < 2; i++) s_bench(&cfgs[i], peak);
    return 0;
}
