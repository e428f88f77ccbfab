/* bench_model — `spar bench model [--threads N]`: the GPT policy's speed on this machine, printed
 * (never asserted): OpenBLAS sgemm GFLOP/s at the model's shapes (the peak), training tokens/s
 * and MFU (model FLOP/s / that peak) for the tiny and small configs of PERFORMANCE.md, KV-cache
 * sampling tokens/s and its speed-up over recomputing the prefix, forward-only sequence
 * log-prob tokens/s, and the process's peak memory after each config. */
#include "cli/bench_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/bench_hf.h"
#include "common/gpt.h"
#include "common/gpt_sample.h"
#include "common/util.h"
#include "common/adamw.h"

#define HELP \
    "usage: spar bench model [--threads N] [--shape NAME] [--no-peer]\n\nPrints the policies' speed on this " \
    "machine: sgemm peak, training tokens/s and MFU, sequence\nlog-probs, KV-cache sampling, peak memory. Shapes: " \
    "the byte-level GPTs tiny and small, and\nthe real models' smollm2-135m and qwen2.5-0.5b (random weights), " \
    "each beside the same figure\nfrom PyTorch (bench/torch_peer.py on Debian's python3-torch; --no-peer: " \
    "without it). --shape NAME:\nthat shape only.\n"


typedef struct {
    const char *name;
    gpt_config_t cfg;
    int B, T;
} bench_cfg_t;

/* B sequences of T tokens, each scored from its second token on, with dL/dlp = -1/B. */
typedef struct {
    int B, T, N;
    int *tokens, *pl, *len;
    double *lp, *dlp;
} batch_t;

static void s_batch_init(batch_t *b, int B, int T) {
    b->B = B, b->T = T, b->N = B * T;
    b->tokens = xmalloc(sizeof(int) * (size_t)b->N), b->pl = xmalloc(sizeof(int) * B), b->len = xmalloc(sizeof(int) * B);
    for (int i = 0; i < b->N; i++) b->tokens[i] = (i * 37 + 11) % 256;
    for (int i = 0; i < B; i++) b->pl[i] = 1, b->len[i] = T;
    b->lp = xmalloc(sizeof(double) * B), b->dlp = xmalloc(sizeof(double) * B);
    for (int i = 0; i < B; i++) b->dlp[i] = -1.0 / B;
}

static void s_batch_free(batch_t *b) { free(b->tokens), free(b->pl), free(b->len), free(b->lp), free(b->dlp); }

/* Training tokens/s: forward + backward + AdamW, for 3 s or 50 steps. */
static double s_train_tps(gpt_t *m, adamw_t *opt, const batch_t *b) {
    int steps = 0;
    /* one step first, untimed: the first touches every buffer (page faults, not compute) */
    gpt_forward(m, b->tokens, b->B, b->T);
    gpt_zero_grad(m);
    gpt_backward(m, b->tokens, b->pl, b->len, b->dlp);
    adamw_step(opt, gpt_params(m), gpt_grads(m), NULL);
    double t0 = util_now_s(), t;
    do {
        gpt_forward(m, b->tokens, b->B, b->T);
        gpt_zero_grad(m);
        gpt_backward(m, b->tokens, b->pl, b->len, b->dlp);
        adamw_step(opt, gpt_params(m), gpt_grads(m), NULL);
        steps++;
    } while ((t = util_now_s() - t0) < 3.0 && steps < 50);
    return (double)b->N * steps / t;
}

/* Sequence log-prob tokens/s: forward only, for 2 s or 100 steps. */
static double s_logprob_tps(gpt_t *m, const batch_t *b) {
    int steps = 0;
    double t0 = util_now_s(), t;
    do {
        gpt_forward(m, b->tokens, b->B, b->T);
        gpt_seq_logprob(m, b->tokens, b->pl, b->len, b->lp);
        steps++;
    } while ((t = util_now_s() - t0) < 2.0 && steps < 100);
    return (double)b->N * steps / t;
}

/* Sampling: SAMPLES sequences x NEW_TOKENS new tokens after an 8-token prompt. */
enum { SAMPLES = 16, NEW_TOKENS = 64, PROMPT_LEN = 8 };
static const int s_prompt[PROMPT_LEN] = {51, 55, 43, 52, 53, 61, 32, 32};

/* Sampling tokens/s with the KV cache. */
static double s_kv_tps(gpt_t *m) {
    int plen[SAMPLES], outl[SAMPLES], *out = xmalloc(sizeof(int) * SAMPLES * NEW_TOKENS);
    const int *prompts[SAMPLES];
    float *outlp = xmalloc(sizeof(float) * SAMPLES * NEW_TOKENS);
    rng_t r[SAMPLES];
    for (int s = 0; s < SAMPLES; s++) prompts[s] = s_prompt, plen[s] = PROMPT_LEN, rng_stream(&r[s], 1, 0, 0, (uint64_t)s);
    gpt_sample_opts_t o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = NEW_TOKENS};
    double t0 = util_now_s();
    gpt_generate(m, prompts, plen, SAMPLES, &o, r, out, outlp, outl);
    double kv_s = util_now_s() - t0;
    long generated = 0;
    for (int s = 0; s < SAMPLES; s++) generated += outl[s];
    free(out), free(outlp);
    return generated / kv_s;
}

/* Tokens/s when recomputing the whole prefix for every new token (the same sequences and
 * lengths as s_kv_tps, for 10 s at most). */
static double s_recompute_tps(gpt_t *m) {
    enum { ROW = PROMPT_LEN + NEW_TOKENS };
    int *seq = xmalloc(sizeof(int) * SAMPLES * ROW);
    for (int s = 0; s < SAMPLES; s++) memcpy(seq + s * ROW, s_prompt, sizeof s_prompt);
    double t0 = util_now_s();
    int recomputed = 0;
    for (int n = PROMPT_LEN; n < ROW && util_now_s() - t0 < 10.0; n++, recomputed++) {
        int *batch = xmalloc(sizeof(int) * SAMPLES * n);
        for (int s = 0; s < SAMPLES; s++) memcpy(batch + s * n, seq + s * ROW, sizeof(int) * n);
        gpt_forward(m, batch, SAMPLES, n);
        for (int s = 0; s < SAMPLES; s++) seq[s * ROW + n] = (s + n) % 256;
        free(batch);
    }
    double tps = (double)SAMPLES * recomputed / (util_now_s() - t0);
    free(seq);
    return tps;
}

typedef struct {
    double train_tps, lp_tps, kv_tps, re_tps;
} figures_t;

/* The PyTorch peer's figures for the config (bench/torch_gpt_peer.py, run now on this machine):
 * 0, or -1 when it cannot run here (no python3-torch). */
static int s_peer(const char *config, int threads, figures_t *p) {
    char *cmd = xasprintf("/usr/bin/python3 '%s/bench/torch_gpt_peer.py' --config %s --threads %d 2>/dev/null",
                          SPAR_SOURCE_DIR, config, threads);
    FILE *f = popen(cmd, "r");
    free(cmd);
    char line[512];
    int got = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *t = strstr(line, "\"tok_s\": ");
        double v = t ? atof(t + 9) : 0;
        if (strstr(line, "\"train\"")) p->train_tps = v, got |= 1;
        else if (strstr(line, "\"logprob\"")) p->lp_tps = v, got |= 2;
        else if (strstr(line, "\"sample\"")) p->kv_tps = v, got |= 4;
    }
    if (f) pclose(f);
    return got == 7 ? 0 : -1;
}

/* "   torch N tok/s: R x" when the peer ran, else nothing. */
static void s_vs(const figures_t *p, double ours, double theirs) {
    if (p) printf("   | torch %8.0f tokens/s: spar %.2fx", theirs, ours / theirs);
    printf("\n");
}

static void s_print(const bench_cfg_t *bc, const gpt_t *m, double peak, const figures_t *f, const figures_t *p) {
    double flops_per_token = 6.0 * (double)gpt_n_params(m) + 12.0 * bc->cfg.n_layer * bc->T * bc->cfg.d_model;
    printf("%-5s L%d H%d d%d ctx%d (%.2f M params), B %d x T %d:\n", bc->name, bc->cfg.n_layer, bc->cfg.n_head,
           bc->cfg.d_model, bc->cfg.ctx, gpt_n_params(m) / 1e6, bc->B, bc->T);
    printf("  training        %8.0f tokens/s   MFU %4.1f%% of %.0f GFLOP/s", f->train_tps,
           100.0 * f->train_tps * flops_per_token / (peak * 1e9), peak);
    s_vs(p, f->train_tps, p ? p->train_tps : 0);
    printf("  sequence logp   %8.0f tokens/s (forward only)", f->lp_tps);
    s_vs(p, f->lp_tps, p ? p->lp_tps : 0);
    printf("  sampling (KV)   %8.0f tokens/s (16 sequences x 64 new tokens); recomputing the prefix %.0f tokens/s: "
           "%.1fx", f->kv_tps, f->re_tps, f->kv_tps / f->re_tps);
    s_vs(p, f->kv_tps, p ? p->kv_tps : 0);
    printf("  peak memory     %8ld MiB (process so far)\n", bench_peak_rss_mb());
}

/* One config's figures; the optimiser lives throughout, as in training, so the peak memory
 * counts it. The peer runs after spar's figures, never beside them. */
static void s_bench(const bench_cfg_t *bc, double peak, int threads, int peer) {
    gpt_t *m = gpt_new(&bc->cfg, 1);
    batch_t b;
    s_batch_init(&b, bc->B, bc->T);
    adamw_t *opt = adamw_new(gpt_n_params(m), 1e-4, 0.0, 1.0, 1, 100);
    figures_t f, p;
    f.train_tps = s_train_tps(m, opt, &b);
    f.lp_tps = s_logprob_tps(m, &b);
    f.kv_tps = s_kv_tps(m);
    f.re_tps = s_recompute_tps(m);
    int have_peer = peer && s_peer(bc->name, threads, &p) == 0;
    s_print(bc, m, peak, &f, have_peer ? &p : NULL);
    s_batch_free(&b);
    adamw_destroy(&opt);
    gpt_destroy(&m);
}

/* The peak: the best sgemm rate at the models' training shapes. */
static double s_peak_gflops(void) {
    int shapes[4][3] = {{2048, 384, 128}, {2048, 512, 128}, {4096, 1152, 384}, {4096, 1536, 384}};
    double peak = 0;
    for (int i = 0; i < 4; i++) {
        double g = bench_sgemm_gflops(shapes[i][0], shapes[i][1], shapes[i][2], 0);
        if (g > peak) peak = g;
    }
    return peak;
}

int bench_model_main(int argc, char **argv) {
    int threads = 2, peer = 1;
    const char *only = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        if (!strcmp(a, "--help")) return fputs(HELP, stdout), 0;
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--shape") && v) only = argv[++i];
        else if (!strcmp(a, "--no-peer")) peer = 0;
        else if (!strcmp(a, "--hf-figure") && i + 2 < argc) { /* the child of bench_hf_run */
            const char *shape = argv[i + 1], *figure = argv[i + 2];
            for (int j = i + 3; j + 1 < argc; j++)
                if (!strcmp(argv[j], "--threads")) threads = atoi(argv[j + 1]);
            gpt_set_threads(threads < 1 ? 1 : threads);
            return bench_hf_figure_main(shape, figure);
        } else {
            fprintf(stderr, "spar bench model: unexpected argument '%s' (spar bench model --help)\n", a);
            return 2;
        }
    }
    if (threads < 1) threads = 1;
    gpt_set_threads(threads);
    bench_cfg_t cfgs[2] = {{"tiny", {4, 4, 128, 128, GPT_VOCAB}, 16, 128}, {"small", {6, 6, 384, 256, GPT_VOCAB}, 16, 256}};
    int gpt_shapes = 0;
    for (int i = 0; i < 2; i++) gpt_shapes += !only || !strcmp(only, cfgs[i].name);
    if (gpt_shapes) {
        double peak = s_peak_gflops();
        printf("spar bench model: %d thread(s); OpenBLAS sgemm peak at the model's shapes %.0f GFLOP/s\n", threads, peak);
        for (int i = 0; i < 2; i++)
            if (!only || !strcmp(only, cfgs[i].name)) s_bench(&cfgs[i], peak, threads, peer);
    }
    if (!only || bench_hf_has_shape(only)) bench_hf_run(only, threads, SPAR_SOURCE_DIR, peer);
    else if (!gpt_shapes) {
        fprintf(stderr, "spar bench model: unknown shape '%s' (tiny, small, smollm2-135m, qwen2.5-0.5b)\n", only);
        return 2;
    }
    return 0;
}
