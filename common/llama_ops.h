/* llama_ops — the kernels of the Llama-family decoder (common/llama.h), each a forward and a
 * backward pass. Tensors are row-major float32. Letters: N rows (B*T positions), C channels,
 * H heads of HD (even) dimensions, F the MLP width, V the vocabulary.
 *
 * Conventions, so a caller never guesses: a backward pass ADDS into parameter gradients (dw,
 * db) and into the input gradient of an op whose input also feeds the residual stream (RMSNorm,
 * attention's q/k/v, which the heads of a group share); the linear layer and SwiGLU OVERWRITE
 * their input gradients (each such input feeds only that op). Matrix products go through
 * OpenBLAS (cblas_sgemm); no kernel allocates. */
#ifndef SPAR_LLAMA_OPS_H
#define SPAR_LLAMA_OPS_H

#include "common/llama.h"

/* RMSNorm of N*H vectors of C floats, vector (n, h) at x + n*stride + h*C (out the same layout):
 * out = x / sqrt(mean(x^2) + eps) * w, w (C); rstd (N*H) keeps 1/sqrt(mean(x^2) + eps). The
 * block RMSNorm is H = 1, stride = C; Qwen3's q/k norm is H heads of HD inside a row. */
void llama_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int H, int C, int stride,
                           float eps);
/* dx += d/dx, dw += d/dw of sum(dout * out) (dw NULL: a frozen weight, none) */
void llama_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                            const float *rstd, int N, int H, int C, int stride);

/* The rotary inverse frequencies (HD/2) of a configuration: theta^(-2i/HD) in float as Hugging
 * Face computes them, then, with rope_llama3, scaled by the llama3 rule (long wavelengths /
 * factor, short kept, a smooth blend between). */
void llama_rope_inv_freq(float *inv_freq, const llama_config_t *c);
/* cos, sin (N, HD/2) of the angles pos[n] * inv_freq[i] (pos NULL: n). */
void llama_rope_table(float *cos_t, float *sin_t, const float *inv_freq, const int *pos, int N, int HD);
/* In place over H heads of HD per row (head h at x + n*stride + h*HD), Hugging Face's half-split
 * rotation: x' = x cos + rotate_half(x) sin, rotate_half(x) = (-x[HD/2:], x[:HD/2]). */
void llama_rope_forward(float *x, const float *cos_t, const float *sin_t, int N, int H, int HD, int stride);
/* In place: the gradient of the rotation's input from its output's (the inverse rotation). */
void llama_rope_backward(float *dx, const float *cos_t, const float *sin_t, int N, int H, int HD, int stride);

/* out (N, F) = silu(gate) * up, with gate and up side by side in gu (N, 2F): gate the first F. */
void llama_swiglu_forward(float *out, const float *gu, int N, int F);
/* dgu (N, 2F) = the gradient of sum(dout * out) (overwritten); dout may alias nothing in gu. */
void llama_swiglu_backward(float *dgu, const float *dout, const float *gu, int N, int F);

/* out (N, OC) = x (N, IC) w^T + bias, w (OC, IC) as nn.Linear stores it; bias NULL: none;
 * accumulate: add into out instead of overwriting it (a residual connection for free). */
void llama_linear_forward(float *out, const float *x, const float *w, const float *bias, int N, int IC, int OC,
                          int accumulate);
/* dw += dout^T x (dw NULL: frozen, none), db += colsum(dout) (db NULL: no bias), then dx =
 * dout w (overwritten; dx NULL: skipped). dx may be x itself: the weight gradient is taken before dx is written. */
void llama_linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w, int N,
                           int IC, int OC);

/* Causal grouped-query attention over B rows of T positions. qkv (B, T, (NH + 2 NKV) HD) holds
 * q heads, then k heads, then v heads (q and k already rotated); query head h reads kv head
 * h / (NH / NKV). Scores are scaled by 1/sqrt(HD) and softmaxed in float. seg (B, T), when not
 * NULL: position t sees the earlier positions u of segment 0 (a shared prefix) and of its own
 * segment only. out (B, T, NH HD); att (B, NH, T, T) keeps the probabilities (0 where hidden). */
void llama_attention_forward(float *out, float *att, const float *qkv, const int *seg, int B, int T, int NH, int NKV,
                             int HD);
/* dqkv += the gradient of sum(dout * out) w.r.t. qkv; scratch holds T*T floats. */
void llama_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B,
                              int T, int NH, int NKV, int HD);

/* The output head over chosen rows of hidden (N, C): logits = hidden[rows[i]] w^T with w (V, C),
 * then log-softmax, a chunk of at most `chunk` rows at a time, so no more than chunk*V logits
 * ever exist. scratch: llama_head_scratch_floats(chunk, C, V) floats.
 * forward: lp[i] = log softmax(logits_i)[target[i]] (double, for sums over long sequences). */
size_t llama_head_scratch_floats(int chunk, int C, int V);
void llama_head_logprob(double *lp, const float *hidden, const int *rows, const int *target, int n, const float *w,
                        int C, int V, int chunk, float *scratch);
/* backward of sum_i g[i] lp[i]: dhidden[rows[i]] += ..., dw += ... (dw NULL: frozen; rows with
 * g = 0 are skipped). */
void llama_head_backward(float *dhidden, float *dw, const float *hidden, const int *rows, const int *target,
                         const float *g, int n, const float *w, int C, int V, int chunk, float *scratch);

#endif
