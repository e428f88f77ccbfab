/* gpt_io — a GPT policy as files the ecosystem reads: safetensors (F32) with the tensor names and
 * shapes of Hugging Face's GPT-2 checkpoints (wte.weight, wpe.weight, h.{i}.ln_1.weight, ...,
 * h.{i}.attn.c_attn.weight (C, 3C), h.{i}.mlp.c_proj.weight (4C, C), ln_f.bias — Conv1D
 * orientation (in, out)) plus config.json in GPT2Config's form, so transformers'
 * GPT2LMHeadModel loads a spar policy unchanged. The blob alone is also what the learner
 * broadcasts: its __metadata__ carries the model config. Loading checks every name, shape and
 * dtype and names what is wrong.
 * A folder from transformers loads too (common/hf_folder.h does the matching): its config.json
 * sets the sizes (any vocabulary, e.g. GPT-2's 50257, and any n_positions) and is refused when it
 * asks for what spar does not implement; names with or without GPT2LMHeadModel's "transformer."
 * prefix; the attn.bias / attn.masked_bias mask buffers and a tied lm_head.weight ignored;
 * F16 and BF16 converted to F32; model.safetensors or shards (model.safetensors.index.json). */
#ifndef SPAR_GPT_IO_H
#define SPAR_GPT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "common/gpt.h"

/* The safetensors bytes (malloc'd) of the model, tagged with a version. */
void *gpt_serialize(gpt_t *m, uint64_t version, size_t *len_out);
/* A model from safetensors bytes; NULL with the reason in why. */
gpt_t *gpt_deserialize(const void *blob, size_t len, uint64_t *version_out, char *why, size_t whylen);

/* Writes DIR/model.safetensors and DIR/config.json atomically. Returns 0 or -errno. */
int gpt_save(gpt_t *m, const char *dir, uint64_t version);
/* Reads DIR/model.safetensors (or a .safetensors path, its config.json beside it; or DIR's
 * shards). The config comes from spar's metadata when the file has it, else from config.json.
 * The file is mapped, not copied. NULL with the reason in why. */
gpt_t *gpt_load(const char *path, uint64_t *version_out, char *why, size_t whylen);

/* The model's tensors as the Hugging Face layout names them, one per layer ("h.3.ln_1.weight";
 * views into gpt_params): how many, and tensor i's name, shape and data. */
int gpt_hf_tensor_count(const gpt_t *m);
void gpt_hf_tensor(gpt_t *m, int i, char *name, size_t namelen, int *ndim, int64_t *shape, float **data);

#endif
