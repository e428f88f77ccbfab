/* gpt_io — a GPT policy as files the ecosystem reads: safetensors (F32) with the tensor names and
 * shapes of Hugging Face's GPT-2 checkpoints (wte.weight, wpe.weight, h.{i}.ln_1.weight, ...,
 * h.{i}.attn.c_attn.weight (C, 3C), h.{i}.mlp.c_proj.weight (4C, C), ln_f.bias — Conv1D
 * orientation (in, out)) plus config.json in GPT2Config's form, so transformers'
 * GPT2LMHeadModel loads a spar policy unchanged. The blob alone is also what the learner
 * broadcasts: its __metadata__ carries the model config. Loading checks every name, shape and
 * dtype and names what is wrong. */
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
/* Reads DIR/model.safetensors (or a .safetensors path). NULL with the reason in why. */
gpt_t *gpt_load(const char *path, uint64_t *version_out, char *why, size_t whylen);

#endif
