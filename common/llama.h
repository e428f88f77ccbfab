/* llama — the decoder of the Llama family, one model for the Hugging Face architectures that
 * share it: LlamaForCausalLM (Llama 2/3.x, TinyLlama, SmolLM/SmolLM2), MistralForCausalLM
 * (without a sliding window), Qwen2ForCausalLM (q/k/v biases) and Qwen3ForCausalLM (per-head
 * q/k RMSNorm, explicit head_dim). A layer is
 *     h = x + o_proj(attn(rope(q_norm(q_proj(rms(x)))), rope(k_norm(k_proj(rms(x)))), v_proj(rms(x))))
 *     y = h + down_proj(silu(gate_proj(rms(h))) * up_proj(rms(h)))
 * with causal grouped-query attention (n_head query heads share n_kv_head key/value heads, head
 * h reading kv head h / (n_head / n_kv_head)), rotary embeddings in Hugging Face's half-split
 * convention (dimension i pairs with i + head_dim/2), and a final RMSNorm before the output head
 * (lm_head, or the token embedding when tied).
 *
 * Parameters live in one float buffer, each tensor under its Hugging Face name and in its
 * Hugging Face shape (nn.Linear weights (out, in)), so a checkpoint folder maps onto the model
 * tensor by tensor (common/hf_folder.h) and an optimiser is one loop over the buffer; gradients
 * share the layout.
 *
 * LoRA adapters (common/lora.h, llama_set_lora) add low-rank terms to the linears and freeze the
 * weights, which several models may then share (llama_share).
 *
 * The vocabulary never sets the memory: no (B, T, V) logits exist. A forward pass keeps the
 * trunk's activations; log-probs, their backward pass and sampling compute the output head and
 * its log-softmax over a bounded chunk of positions at a time, so beyond the weights the memory
 * grows with B*T*d_model, not with V. */
#ifndef SPAR_LLAMA_H
#define SPAR_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

typedef struct {
    int n_layer;   /* num_hidden_layers */
    int d_model;   /* hidden_size */
    int n_head;    /* num_attention_heads */
    int n_kv_head; /* num_key_value_heads (divides n_head) */
    int head_dim;  /* head_dim (default hidden_size / num_attention_heads) */
    int d_ff;      /* intermediate_size */
    int vocab;     /* vocab_size */
    int ctx;       /* max_position_embeddings: positions are < ctx */
    double rms_eps;    /* rms_norm_eps */
    double rope_theta; /* rope_theta */
    /* rope_scaling {"rope_type": "llama3", factor, low_freq_factor, high_freq_factor,
     * original_max_position_embeddings}; rope_llama3 0: plain RoPE */
    int rope_llama3;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_ctx;
    int qkv_bias; /* q_proj, k_proj, v_proj have biases (Qwen2; Llama's attention_bias) */
    int o_bias;   /* o_proj has a bias (Llama's attention_bias) */
    int mlp_bias; /* gate/up/down_proj have biases (Llama's mlp_bias) */
    int qk_norm;  /* Qwen3: self_attn.q_norm / k_norm, RMSNorm over head_dim per head, before RoPE */
    int tied;     /* tie_word_embeddings: the head is model.embed_tokens.weight */
} llama_config_t;

/* One parameter tensor: its Hugging Face name, shape and place in the parameter buffer. */
typedef struct {
    char name[96];  /* "model.layers.3.self_attn.q_proj.weight" */
    int ndim;       /* 1 or 2 */
    int64_t shape[2];
    size_t offset;  /* floats from the start of llama_params() */
    size_t n;       /* elements */
    int decay;      /* 1 for weight matrices (weight decay applies), 0 for norms and biases */
} llama_tensor_t;

typedef struct llama llama_t;

/* "" when cfg is a valid configuration, else what is wrong (a static string). */
const char *llama_config_check(const llama_config_t *cfg);

/* A model with parameters drawn as Hugging Face initialises them (weights N(0, 0.02), biases 0,
 * norms 1), seeded; NULL for an invalid config (llama_config_check says why). */
llama_t *llama_new(const llama_config_t *cfg, uint64_t seed);
void llama_destroy(llama_t **m);

const llama_config_t *llama_config(const llama_t *m);
size_t llama_n_params(const llama_t *m);
float *llama_params(llama_t *m);
float *llama_grads(llama_t *m);
void llama_zero_grad(llama_t *m);
/* The tensor table: n tensors in buffer order (embed_tokens first; lm_head last when untied). */
int llama_n_tensors(const llama_t *m);
const llama_tensor_t *llama_tensor(const llama_t *m, int i);
/* The tensor of a Hugging Face name, or NULL. */
const llama_tensor_t *llama_tensor_by_name(const llama_t *m, const char *name);
/* Per parameter, 1 when weight decay applies (malloc'd). */
uint8_t *llama_decay_mask(const llama_t *m);

/* ---- adapters and a shared base (common/lora.h) ------------------------------------------- */

typedef struct lora lora_t;

/* Attaches adapters of m's configuration (taken over; the previous ones freed; NULL detaches).
 * With adapters the model's own weights are frozen: their gradient buffer is freed (llama_grads
 * NULL), the backward pass adds into the adapters' gradients only, and llama_forward and
 * llama_generate compute W x + (alpha / r) B A x on every adapted linear. */
void llama_set_lora(llama_t *m, lora_t *lora);
lora_t *llama_lora(const llama_t *m);
/* A model reading m's weights in place (refcounted: each of them frees only its reference),
 * without gradients or adapters: the LoRA policies of a run share one base this way. The
 * weights are read-only from then on. */
llama_t *llama_share(const llama_t *m);

/* Forward pass over a packed batch: B rows of T tokens, with explicit positions pos (< ctx;
 * NULL: position t) and segments seg (NULL: one segment per row). A position sees the earlier
 * positions of segment 0 (a shared prefix) and of its own segment; rows are padded freely past
 * their ends. Keeps what the backward pass needs. Returns 0, or -1 for a token outside the
 * vocabulary or a position outside the context. */
int llama_forward(llama_t *m, const int *tokens, const int *pos, const int *seg, int B, int T);

/* One predicted token: log p(target) at flat position at (= row * T + t) counts into sequence seq. */
typedef struct {
    int at, target, seq;
} llama_pred_t;

/* After llama_forward: lp[p.seq] += log p(p.target | position p.at) for each prediction (the
 * caller zeroes lp). The head and its log-softmax run over chunks of the predicted positions. */
void llama_preds_logprob(llama_t *m, const llama_pred_t *p, int n, double *lp);
/* After llama_forward (same tokens, pos and seg): adds d(sum_s dlp[s] * lp[s]) / d(params) into
 * the gradients, lp as llama_preds_logprob sums it. */
void llama_backward(llama_t *m, const llama_pred_t *p, int n, const double *dlp);

/* After llama_forward: the final RMSNorm's output (B, T, d_model), the features the head reads
 * (a sequence-classification judge puts its own head on them). */
const float *llama_hidden(const llama_t *m);
/* After llama_forward: adds the gradient of sum(dh * hidden) into the parameters. */
void llama_backward_hidden(llama_t *m, const float *dh);

/* Bytes held for activations and scratch at the shapes of the last llama_forward (0 before
 * one): the trunk's activations (B*T times d_model, d_ff and n_head*T for the attention) and
 * one head chunk (chunk * (V + 2 d_model)); never B*T*V. */
size_t llama_activation_bytes(const llama_t *m);
/* A model that only runs forward (a judge, pi_ref): its passes keep two layers' activations,
 * reused in turn, instead of every layer's for a backward pass (at a real shape the difference
 * is gigabytes), and it holds no gradients. llama_backward on it is a programming error. */
void llama_set_inference_only(llama_t *m);
/* Frees the last pass's activations (they are regrown by the next pass): for a model whose
 * next pass is far off, e.g. the learner's policy between iterations. */
void llama_release_acts(llama_t *m);
/* Predicted positions per output-head chunk (rows <= 0: the default, about 64 MB of logits,
 * at most 256 rows). Results do not depend on it beyond float rounding. */
void llama_set_head_chunk(llama_t *m, int rows);

/* Full logits of n positions (flat, as llama_pred_t.at) into out (n, V): for tests and tools that
 * need them; the caller bounds n. */
void llama_logits_at(llama_t *m, const int *at, int n, float *out);

/* ---- sampling with a KV cache (common/llama_sample.c) ---------------------------------- */

typedef struct {
    double temperature; /* 0: greedy */
    int top_k;          /* 0: off */
    double top_p;       /* 1: off */
    int max_new;        /* tokens to generate at most */
    const int *eos;     /* generation of a sequence ends after drawing any of these */
    int n_eos;
} llama_sample_opts_t;

/* Generates for B sequences, each with its own prompt, position and stream rngs[b] (the same
 * tokens for the same stream in any batch). prompts[b] has plen[b] >= 1 tokens. out_tokens and
 * out_logprobs are (B, max_new); out_len[b] is how many were generated (an EOS token, when drawn,
 * is included). out_logprobs are the model's own log-probs (temperature 1, no filtering), or,
 * with ref, those of the token-level geometric mixture softmax((1 - mix) z_m + mix z_ref) that
 * the tokens are then drawn from (ref NULL: m alone). Returns 0, or -1 for invalid input (a
 * prompt that does not fit the context, a token outside the vocabulary, ref of another shape). */
int llama_generate(llama_t *m, llama_t *ref, double mix, const int *const *prompts, const int *plen, int B,
                   const llama_sample_opts_t *o, rng_t *rngs, int *out_tokens, float *out_logprobs, int *out_len);

#endif
