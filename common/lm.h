/* lm — a causal language model of any supported family together with its tokenizer: spar's
 * byte-level GPT-2 (bytes and end-of-text, no tokenizer file), or a Hugging Face folder's
 * GPT-2, Llama, Mistral, Qwen2 or Qwen3 model with the folder's own tokenizer. The policy
 * (common/policy_lm.c), the commands (cli/lm_cmds.c) and SFT run every family through this one
 * interface: text in and out, packed forward passes, predicted-token log-probs and their
 * gradients, KV-cache sampling, the parameters as one float buffer, and the two file forms — a
 * Hugging Face folder on disk and one self-contained safetensors blob (weights, config.json and
 * tokenizer in its metadata) on the wire. */
#ifndef SPAR_LM_H
#define SPAR_LM_H

#include <stddef.h>
#include <stdint.h>

#include "common/gpt.h"
#include "common/hf_folder.h"
#include "common/hf_tokenizer.h"
#include "common/llama.h"
#include "common/lora.h"
#include "common/rng.h"

typedef struct lm lm_t;

/* The byte-level GPT-2 (spar's own, tokens are bytes and GPT_EOT), owning m. */
lm_t *lm_from_gpt(gpt_t *m);
/* A model folder (config.json, weights, tokenizer), a PEFT LoRA folder (adapter_config.json: its
 * base_model_name_or_path loaded, the adapters on it) or spar's byte-level .safetensors file;
 * *version_out (may be NULL) the version spar recorded in it, 0 for a folder from elsewhere.
 * NULL with the reason in why. */
lm_t *lm_load_dir(const char *dir, uint64_t *version_out, char *why, size_t whylen);
/* A random model of a Hugging Face configuration with the tokenizer of tokenizer_dir (a model
 * folder; NULL: byte-level, only for GPT-2 with vocab 257). NULL with why. */
lm_t *lm_new_random(const hf_config_t *c, const char *tokenizer_dir, uint64_t seed, char *why, size_t whylen);
/* A model with the same configuration and tokenizer as m, parameters copied. */
lm_t *lm_clone(const lm_t *m);
void lm_free(lm_t **m);

/* Is this spar's byte-level GPT (blob kind "gpt"), or a Hugging Face model (kind "hf")? */
int lm_is_byte_level(const lm_t *m);
/* The family and its options as a Hugging Face config (byte-level: GPT2LMHeadModel, vocab 257). */
const hf_config_t *lm_config(const lm_t *m);
int lm_vocab(const lm_t *m);
int lm_ctx(const lm_t *m);
/* "LlamaForCausalLM, 30 layers, d 576, 9/3 heads, V 49152, 134.5 M parameters" (static buffer). */
const char *lm_describe(const lm_t *m);
gpt_t *lm_gpt(lm_t *m);     /* NULL unless a GPT-2 */
llama_t *lm_llama(lm_t *m); /* NULL unless of the Llama family */

size_t lm_n_params(const lm_t *m);
float *lm_params(lm_t *m);
float *lm_grads(lm_t *m);
void lm_zero_grad(lm_t *m);
/* llama_set_inference_only / llama_release_acts for the Llama family; nothing for a GPT. */
void lm_set_inference_only(lm_t *m);
void lm_release_acts(lm_t *m);
uint8_t *lm_decay_mask(const lm_t *m);
/* Peak bytes of activations the last forward/backward held. */
size_t lm_activation_bytes(const lm_t *m);

/* ---- text ---------------------------------------------------------------------------------- */

/* How prompts are read (common/lm_prompt.h): format "text" (the default: encoded with the
 * tokenizer's special tokens), "auto" (a conversation, rendered with the model's chat_template),
 * "none" (a conversation of one user turn, its text read as text) or "jinja" (rendered with the
 * template source). Carried in the blob. Returns 0 or -1 with why. */
int lm_set_prompt_format(lm_t *m, const char *format, const char *source, char *why, size_t whylen);
/* "text", "chat", "none" or "jinja". */
const char *lm_prompt_format(const lm_t *m);
/* A prompt's ids, as the model reads it: a text prompt with the tokenizer's special tokens added
 * (e.g. Llama 3's BOS), a conversation as its chat template renders it; *ids malloc'd. Returns
 * the count, or -1 with why. */
int lm_encode_prompt(const lm_t *m, const char *text, int32_t **ids, char *why, size_t whylen);
/* A response's ids (no special tokens added) followed by the model's first EOS id (none when
 * the model has no EOS: generation_config.json's eos_token_id null). */
int lm_encode_response(const lm_t *m, const char *text, int32_t **ids, char *why, size_t whylen);
/* Text of ids (malloc'd): special tokens and EOS left out. */
char *lm_decode(const lm_t *m, const int32_t *ids, int n);
/* Is id one of the model's EOS ids? */
int lm_is_eos(const lm_t *m, int id);
/* The first EOS id, or -1 for a model without one (its responses end at max_new). */
int lm_first_eos(const lm_t *m);

/* ---- compute --------------------------------------------------------------------------------- */

/* One predicted token: log p(target) at flat position at (= row * T + t) counts into seq. */
typedef struct {
    int at, target, seq;
} lm_pred_t;

/* Packed forward pass (gpt_forward_packed / llama_forward). Returns 0 or -1. */
int lm_forward(lm_t *m, const int *tokens, const int *pos, const int *seg, int B, int T);
/* After lm_forward: lp[p.seq] += log p(p.target) (the caller zeroes lp). */
void lm_preds_logprob(lm_t *m, const lm_pred_t *p, int n, double *lp);
/* After lm_forward with the same arguments: gradients of sum_s dlp[s] lp[s] added. */
void lm_backward(lm_t *m, const int *tokens, const int *pos, const lm_pred_t *p, int n, const double *dlp);
/* After lm_forward: the full logits at n flat positions into out (n, V). */
void lm_logits_at(lm_t *m, const int *at, int n, float *out);

typedef struct {
    double temperature; /* 0: greedy */
    int top_k;          /* 0: off */
    double top_p;       /* 1: off */
    int max_new;
} lm_sample_opts_t;

/* Generation ending at the model's EOS ids (lm_is_eos), from m or (ref not NULL) the mixture
 * m^(1 - mix) ref^mix; arguments as llama_generate's. Returns 0 or -1. */
int lm_generate(lm_t *m, lm_t *ref, double mix, const int *const *prompts, const int *plen, int B,
                const lm_sample_opts_t *o, rng_t *rngs, int *out_tokens, float *out_logprobs, int *out_len);

/* ---- files ----------------------------------------------------------------------------------- */

/* The blob of m: safetensors with the weights under their Hugging Face names and, in the
 * metadata, the version, the config.json text and the tokenizer (byte-level: gpt_serialize's
 * blob, kind "gpt"). malloc'd. */
void *lm_serialize(const lm_t *m, uint64_t version, size_t *len_out);
/* From a blob of either kind. NULL with why. */
lm_t *lm_deserialize(const void *blob, size_t len, uint64_t *version_out, char *why, size_t whylen);
/* Writes a Hugging Face folder (weights F32, or BF16 when bf16), with the tokenizer files.
 * Returns 0 or -errno with why. */
int lm_save_dir(const lm_t *m, const char *dir, uint64_t version, int bf16, char *why, size_t whylen);

/* ---- LoRA adapters (common/lora.h) ----------------------------------------------------------
 * A Llama-family model with adapters: its own weights frozen and shareable, lm_params /
 * lm_grads / lm_n_params / lm_decay_mask the adapters' alone (what the optimiser and the policy
 * view see), lm_clone sharing the base and copying the adapters. Its blob (lm_serialize, kind
 * "lora") is the adapters with the identity of their base (config and weight digest); its folder
 * (lm_save_dir) is PEFT's: adapter_config.json and adapter_model.safetensors. */

/* Attaches fresh adapters (A from seed as PEFT initialises it, B = 0) to the linears named in
 * targets (comma-separated q_proj ... down_proj). 0, or -1 with why (not of the Llama family, a
 * bad spec, adapters already there). */
int lm_lora_attach(lm_t *m, int rank, double alpha, const char *targets, uint64_t seed, char *why, size_t whylen);
/* The adapters, or NULL. */
lora_t *lm_lora(const lm_t *m);
/* A model reading m's weights in place (llama_share) with m's tokenizer, without adapters. */
lm_t *lm_share_base(const lm_t *m);
/* The base weights' identity: BLAKE2b-256 (hex) of the config.json text and the weights, computed
 * once per model and kept by its clones and shares. */
const char *lm_base_digest(lm_t *m);
/* Where the base came from (the folder lm_load_dir read; "" when unknown): PEFT's
 * base_model_name_or_path. */
const char *lm_origin(const lm_t *m);
/* A model of its own (full weights copied) with the adapters merged: W + (alpha / r) B A. */
lm_t *lm_lora_merge(const lm_t *m);
/* Is this a LoRA blob (metadata policy "lora")? */
int lm_is_lora_blob(const void *blob, size_t len);
/* base's weights (shared; base's own adapters, if any, unused) with the adapters of a LoRA blob,
 * or of a PEFT folder; refused with why when they were made for another base (its config, or
 * its weights' digest, differs). */
lm_t *lm_lora_deserialize(lm_t *base, const void *blob, size_t len, uint64_t *version_out, char *why, size_t whylen);
lm_t *lm_load_adapter_dir(lm_t *base, const char *dir, uint64_t *version_out, char *why, size_t whylen);

#endif
