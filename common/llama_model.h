/* llama_model — the inside of llama_t, shared by llama.c (parameters), llama_forward.c and
 * llama_backward.c; not for other modules (they use common/llama.h). */
#ifndef SPAR_LLAMA_MODEL_H
#define SPAR_LLAMA_MODEL_H

#include <stddef.h>

#include "common/llama.h"
#include "common/lora.h"

#define LLAMA_NONE ((size_t)-1) /* offset of a tensor the configuration does not have */

/* Offsets (floats into the parameter buffer) of one layer's tensors. q, k and v weights are
 * consecutive, so they are one ((NH + 2 NKV) HD, C) matrix and one GEMM; so are their biases,
 * and gate and up (one (2F, C) matrix). */
typedef struct {
    size_t ln1, wqkv, bqkv, qnorm, knorm, wo, bo, ln2, wgu, bgu, wdown, bdown;
} llama_layer_off_t;

/* What one layer keeps for the backward pass; N = B*T, D = (NH + 2 NKV) HD. */
typedef struct {
    float *x;       /* (N, C) the layer's input, the residual stream */
    float *rstd1;   /* (N) */
    float *xn1;     /* (N, C) input_layernorm's output */
    float *qkv;     /* (N, D) the fused projection (with biases); qkr itself without qk_norm */
    float *qk_rstd; /* (N, NH + NKV) q/k norm's, q heads then k heads (qk_norm only) */
    float *qkr;     /* (N, D) q and k normed and rotated, v as projected: attention's input */
    float *att;     /* (B, NH, T, T) attention probabilities */
    float *ao;      /* (N, NH HD) attention output, o_proj's input */
    float *h;       /* (N, C) residual after attention */
    float *rstd2;   /* (N) */
    float *xn2;     /* (N, C) post_attention_layernorm's output */
    float *gu;      /* (N, 2F) gate and up projections */
} llama_layer_acts_t;

struct llama {
    llama_config_t cfg;
    int n_tensors;
    llama_tensor_t *tensors;
    size_t n_params;
    float *params, *grads; /* grads NULL: the weights are frozen (adapters attached, or shared) */
    _Atomic int *params_refs; /* the models reading params (llama_share); the last frees it */
    lora_t *lora;             /* adapters on the linears, or NULL */
    llama_layer_off_t *off; /* per layer */
    size_t embed, norm, head; /* head: lm_head, or embed when tied */
    float *inv_freq;          /* (HD/2) */
    int head_chunk;           /* predicted positions per head chunk */

    /* activations of the last forward pass, laid out for B x T (regrown only when too small) */
    int B, T, have_forward;
    int inference_only;       /* llama_set_inference_only: two layers' activations, no backward */
    size_t act_floats, act_cap;
    float *act_mem;
    llama_layer_acts_t *acts; /* per layer */
    float *x_last;            /* (N, C) the last layer's output */
    float *rstd_f;            /* (N) */
    float *hidden;            /* (N, C) model.norm's output */
    float *rope_cos, *rope_sin; /* (N, HD/2) */
    int *tokens;              /* (N) of the last forward */
    size_t tokens_cap;

    /* scratch for one layer's backward pass and the head, laid out with the activations */
    float *d_res;   /* (N, C) gradient of the residual stream */
    float *d_xn;    /* (N, C) */
    float *d_hidden; /* (N, C) */
    float *d_ao;    /* (N, NH HD) */
    float *d_qkr;   /* (N, D) */
    float *d_qkv;   /* (N, D) (qk_norm only: else d_qkr serves) */
    float *d_gu;    /* (N, 2F) */
    float *ff;      /* (N, F) SwiGLU's output (forward), then its gradient (backward) */
    float *att_scratch; /* (T, T) */
    float *head_scratch; /* llama_head_scratch_floats(head_chunk, C, V), its own buffer */
    size_t head_scratch_cap;
};

/* Grows the activation buffers for B x T (llama_forward.c). */
void llama_ensure_acts(llama_t *m, int B, int T);
/* The head chunk's scratch, grown to the current chunk (llama.c). */
float *llama_head_scratch(llama_t *m);

#endif
