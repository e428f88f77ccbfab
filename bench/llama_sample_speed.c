/* llama_sample_speed — KV-cache sampling speed of llama_generate at real model shapes, beside
 * the bound set by the skinny products in the same run: the decode step's own products (every
 * layer's q, k, v, o, gate, up, down and the head, (out, in) weights times 16 rows) timed over
 * the model's weights, once as cblas_sgemm runs them and once as decode_gemm (what
 * llama_generate's decode steps use), so the bound is 2 * params * tokens at the faster measured
 * rate. Random weights; the machine may be busy, so the figures are rough, but the ratio
 * compares timings of the same run.
 *
 *   llama_sample_speed [smollm2|qwen2.5] [sequences] [new tokens] [prompt tokens]
 *
 * Not part of the build (bench/CMakeLists.txt is the bench's); build beside a build tree:
 *   gcc -O2 -I. bench/llama_sample_speed.c BUILD/libspar_common.a $(pkg-config --libs openblas) -lm
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/decode_gemm.h"
#include "common/llama.h"
#include "common/util.h"

static const llama_config_t SMOLLM2 = {
    .n_layer = 30, .d_model = 576, .n_head = 9, .n_kv_head = 3, .head_dim = 64, .d_ff = 1536, .vocab = 49152,
    .ctx = 8192, .rms_eps = 1e-5, .rope_theta = 100000, .tied = 1};
static const llama_config_t QWEN25 = {
    .n_layer = 24, .d_model = 896, .n_head = 14, .n_kv_head = 2, .head_dim = 64, .d_ff = 4864, .vocab = 151936,
    .ctx = 32768, .rms_eps = 1e-6, .rope_theta = 1000000, .qkv_bias = 1, .tied = 1};

static const float *s_w(llama_t *m, const char *fmt, int l, int64_t *out, int64_t *in) {
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    const llama_tensor_t *t = llama_tensor_by_name(m, name);
    if (!t) {
        fprintf(stderr, "no tensor %s\n", name);
        exit(1);
    }
    *out = t->shape[0], *in = t->shape[1];
    return llama_params(m) + t->offset;
}

static void s_product(int decode, float *y, const float *x, const float *w, int M, int out, int in) {
    if (decode) decode_gemm(y, x, w, NULL, M, in, out);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, out, in, 1, x, in, w, in, 0, y, out);
}

/* One decode step's products at M rows over all the weights (decode_gemm or cblas_sgemm);
 * returns its FLOPs, the time in *sec. */
static double s_gemm_pass(llama_t *m, int M, float *x, float *y, double *sec, int decode) {
    static const char *const W[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    const llama_config_t *c = llama_config(m);
    double flops = 0, t0 = util_now_s();
    int64_t out, in;
    char fmt[96];
    for (int l = 0; l < c->n_layer; l++)
        for (int i = 0; i < 7; i++) {
            snprintf(fmt, sizeof fmt, "model.layers.%%d.%s.weight", W[i]);
            const float *w = s_w(m, fmt, l, &out, &in);
            s_product(decode, y, x, w, M, (int)out, (int)in);
            flops += 2.0 * M * out * in;
        }
    const float *h = s_w(m, c->tied ? "model.embed_tokens.weight" : "lm_head.weight", 0, &out, &in);
    s_product(decode, y, x, h, M, (int)out, (int)in);
    flops += 2.0 * M * out * in;
    *sec = util_now_s() - t0;
    return flops;
}

static double s_generate(llama_t *m, int B, int P, int NEW, const llama_sample_opts_t *o0) {
    const llama_config_t *c = llama_config(m);
    int **pr = xmalloc(sizeof(int *) * B), *plen = xmalloc(sizeof(int) * B), *tok = xmalloc(sizeof(int) * B * NEW);
    int *len = xmalloc(sizeof(int) * B);
    float *lp = xmalloc(sizeof(float) * B * NEW);
    rng_t *r = xmalloc(sizeof(rng_t) * B);
    for (int b = 0; b < B; b++) {
        pr[b] = xmalloc(sizeof(int) * P);
        plen[b] = P;
        for (int t = 0; t < P; t++) pr[b][t] = (int)((1000003u * (unsigned)(b * P + t + 1)) % (unsigned)c->vocab);
        rng_stream(&r[b], 1, 2, (uint64_t)b, 0);
    }
    llama_sample_opts_t o = *o0;
    o.max_new = NEW;
    double t0 = util_now_s();
    if (llama_generate(m, NULL, 0, (const int *const *)pr, plen, B, &o, r, tok, lp, len) != 0) {
        fprintf(stderr, "llama_generate failed\n");
        exit(1);
    }
    double sec = util_now_s() - t0;
    for (int b = 0; b < B; b++)
        if (len[b] != NEW) fprintf(stderr, "sequence %d: %d tokens\n", b, len[b]);
    for (int b = 0; b < B; b++) free(pr[b]);
    free(pr), free(plen), free(tok), free(len), free(lp), free(r);
    return sec;
}

int main(int argc, char **argv) {
    const llama_config_t *c = argc > 1 && !strcmp(argv[1], "qwen2.5") ? &QWEN25 : &SMOLLM2;
    int B = argc > 2 ? atoi(argv[2]) : 16, NEW = argc > 3 ? atoi(argv[3]) : 128, P = argc > 4 ? atoi(argv[4]) : 16;
    double t0 = util_now_s();
    llama_t *m = llama_new(c, 1);
    printf("%s shape: %zu parameters (%.0f MB float32), built in %.1f s\n", c == &QWEN25 ? "Qwen2.5-0.5B" : "SmolLM2-135M",
           llama_n_params(m), llama_n_params(m) * 4.0 / 1e6, util_now_s() - t0);
    int F = c->d_ff > c->vocab ? c->d_ff : c->vocab;
    float *x = xmalloc(sizeof(float) * B * (size_t)(c->d_ff > c->d_model ? c->d_ff : c->d_model)), *y = xmalloc(sizeof(float) * B * (size_t)F);
    for (size_t i = 0; i < (size_t)B * c->d_ff; i++) x[i] = 0.01f * (float)(i % 97);
    double best[2] = {1e30, 1e30}, flops = 0, sec;
    for (int rep = 0; rep < 3; rep++)
        for (int d = 0; d < 2; d++) {
            flops = s_gemm_pass(m, B, x, y, &sec, d);
            if (sec < best[d]) best[d] = sec;
        }
    double rate = flops / (best[1] < best[0] ? best[1] : best[0]), flops_per_token = flops / B;
    double bound = rate / flops_per_token;
    printf("skinny products (M=%d, the decode step's, on (out, in) weights): cblas_sgemm %.1f GFLOP/s, "
           "decode_gemm %.1f GFLOP/s; %.2f GFLOP per token -> bound %.1f tokens/s\n",
           B, flops / best[0] / 1e9, flops / best[1] / 1e9, flops_per_token / 1e9, bound);
    llama_sample_opts_t plain = {.temperature = 1.0, .top_k = 0, .top_p = 1.0};
    llama_sample_opts_t nucleus = {.temperature = 0.8, .top_k = 50, .top_p = 0.9};
    double pre = s_generate(m, B, P, 1, &plain);
    double full = s_generate(m, B, P, NEW, &plain);
    double fullp = s_generate(m, B, P, NEW, &nucleus);
    double tps = B * NEW / full, dec = B * (NEW - 1) / (full - pre);
    printf("generate %d x %d new (prompts %d): %.2f s, %.1f tokens/s = %.0f%% of the bound "
           "(decode alone %.1f tokens/s = %.0f%%; prefill + first draw %.2f s)\n",
           B, NEW, P, full, tps, 100 * tps / bound, dec, 100 * dec / bound, pre);
    printf("  with temperature 0.8, top-k 50, top-p 0.9: %.2f s, %.1f tokens/s = %.0f%% of the bound\n", fullp,
           B * NEW / fullp, 100 * B * NEW / fullp / bound);
    llama_destroy(&m);
    free(x), free(y);
    return 0;
}
