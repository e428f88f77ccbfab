/* gpt_ops — the kernels of the GPT-2 policy, each as x_forward / x_backward with the same
 * argument order (outputs, inputs, weights, dims); backward accumulates into the gradients
 * with +=, so a caller zeroes them once per step (the _set and _inplace variants, and
 * attention_backward, overwrite the input gradient instead: a caller reuses one scratch buffer
 * per layer without zeroing it). Tensors are row-major float32:
 *   B sequences, T positions, C channels, NH heads (C % NH == 0), V vocabulary, OC out channels.
 * Matrix products go through OpenBLAS (cblas_sgemm). Weights are stored (in, out) — GPT-2's
 * Conv1D orientation — so the forward product is a plain NN GEMM. */
#ifndef SPAR_GPT_OPS_H
#define SPAR_GPT_OPS_H

/* out[b,t,:] = wte[tokens[b,t],:] + wpe[pos[b,t],:]   (pos NULL: position t) */
void encoder_forward(float *out, const int *tokens, const int *pos, const float *wte, const float *wpe, int B, int T,
                     int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens, const int *pos, int B, int T,
                      int C);

/* out = (inp - mean) / sqrt(var + 1e-5) * w + b over C; mean and rstd (B*T) are kept */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

/* out (N, OC) = inp (N, C) @ w (C, OC) + bias (OC, may be NULL) */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int C, int OC);
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                     int N, int C, int OC);
/* matmul_backward with dinp overwritten (dw and dbias still accumulate) */
void matmul_backward_set(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                         int N, int C, int OC);
/* out (N, OC) = res (N, OC) + inp (N, C) @ w (C, OC) + bias (OC): a residual block's output
 * projection and its skip connection in one pass (the backward pass is matmul_backward's, with
 * dout flowing to res unchanged). out may be res. */
void matmul_forward_residual(float *out, const float *res, const float *inp, const float *w, const float *bias, int N,
                             int C, int OC);

/* Causal multi-head self-attention. qkv (B, T, 3C) holds q, k, v; out (B, T, C);
 * att (B, NH, T, T) keeps the softmaxed scores for the backward pass (which needs no mask: a
 * hidden key's weight is 0). seg (B, T), when not NULL, splits each row into segments: position
 * t sees the earlier positions u of segment 0 (a shared prefix) and of its own segment only.
 * The backward pass writes dqkv (not +=); datt is its scratch, T x T floats. */
void attention_forward(float *out, float *att, const float *qkv, const int *seg, int B, int T, int C, int NH);
void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att, int B,
                        int T, int C, int NH);

/* GELU, tanh approximation (GPT-2's) */
void gelu_forward(float *out, const float *inp, int N);
void gelu_backward(float *dinp, const float *inp, const float *dout, int N);
/* d = d * gelu'(inp): dL/dout in, dL/dinp out */
void gelu_backward_inplace(float *d, const float *inp, int N);

/* out = a + b */
void residual_forward(float *out, const float *a, const float *b, int N);
void residual_backward(float *da, float *db, const float *dout, int N);

/* Log-softmax of each of N rows of V logits, into logp (which may be logits). */
void logsoftmax_forward(float *logp, const float *logits, int N, int V);
/* lse[n] = log sum_v exp(logits[n, v]): row n's log-softmax is logits[n] - lse[n]. */
void logsoftmax_lse(float *lse, const float *logits, int N, int V);
/* One row's gradient of g * log softmax(z)[target], written over the row's logits z (whose
 * log-sum-exp is lse): z[v] = g (1[v = target] - softmax(z)[v]). */
void logsoftmax_grad_inplace(float *z, float lse, int target, float g, int V);
/* Given dL/dlogp at n chosen entries (row[i], target[i]) with weights g[i] (target -1 = none;
 * a row may be chosen more than once): dlogits[row[i], v] += g[i] * (1[v = target[i]] -
 * softmax[row[i], v]). This is the gradient of a weighted sum of token log-probs, the only loss
 * the policy needs. */
void logsoftmax_backward(float *dlogits, const float *logp, const int *row, const int *target, const float *g, int n,
                         int V);

#endif
