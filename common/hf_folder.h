/* hf_folder — a Hugging Face model folder, read and written: config.json (the architecture and
 * its options), generation_config.json (EOS ids, which may be a list), and the weights in
 * model.safetensors or shards named by model.safetensors.index.json, F32, F16 or BF16 on disk,
 * F32 in memory. Every mismatch is refused with its name: an unknown architecture or an option
 * spar does not implement (a sliding window, a rope scaling other than llama3, an activation
 * other than silu / gelu_new), a missing tensor, a tensor of the wrong shape or dtype, a tensor
 * spar does not know. Writing uses the same layout and names, F32 or BF16, atomically (a
 * temporary folder renamed into place), with spar's data digest in each file's metadata, and
 * copies the tokenizer files beside the weights. */
#ifndef SPAR_HF_FOLDER_H
#define SPAR_HF_FOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "common/gpt.h"
#include "common/llama.h"

typedef enum { HF_GPT2, HF_LLAMA, HF_MISTRAL, HF_QWEN2, HF_QWEN3 } hf_arch_t;

#define HF_MAX_EOS 8

typedef struct {
    hf_arch_t arch;
    char architecture[64]; /* as config.json names it: "LlamaForCausalLM", ... */
    gpt_config_t gpt;      /* HF_GPT2 */
    llama_config_t llama;  /* the others */
    int bos_id;            /* -1: none */
    int eos[HF_MAX_EOS];   /* generation_config.json's eos_token_id (else config.json's) */
    int n_eos;
} hf_config_t;

/* The architecture's Hugging Face class name. */
const char *hf_arch_name(hf_arch_t a);

/* Reads DIR/config.json and DIR/generation_config.json (optional). Returns 0, or -1 with the
 * reason (file and key) in why. */
int hf_config_read(const char *dir, hf_config_t *out, char *why, size_t whylen);
/* The config.json text (malloc'd) of a configuration, as transformers writes it, with
 * torch_dtype set to dtype ("float32" | "bfloat16"). */
char *hf_config_json(const hf_config_t *c, const char *dtype);
/* The same from config.json text (the blob metadata carries it). */
int hf_config_parse(const char *json, size_t len, const char *origin, hf_config_t *out, char *why, size_t whylen);

/* One tensor the model wants: its name and shape, and where its F32 values go. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    float *data;
} hf_want_t;

/* Fills every wanted tensor from the folder's weights (single file or shards), converting
 * F16 / BF16 to F32. Refuses (-1 with why) a missing tensor, a shape or dtype mismatch, or a
 * tensor in the files that is neither wanted nor in the ignored list (ignored: names matched
 * by the architecture's known buffers, e.g. GPT-2's attn.bias, rotary_emb.inv_freq, and
 * lm_head.weight of a tied model). */
int hf_read_weights(const char *dir, hf_arch_t arch, const hf_want_t *want, int n, char *why, size_t whylen);

/* Writes DIR (atomically) with config.json, generation_config.json, model.safetensors (F32 or,
 * bf16 != 0, BF16), tensors named as given, metadata pairs added to the file's, and the
 * tokenizer files of tokenizer_dir (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, vocab.json, merges.txt: those that exist; NULL: none). Returns 0 or
 * -errno with why. */
int hf_write_folder(const char *dir, const hf_config_t *c, const hf_want_t *tensors, int n, int bf16,
                    const char *const *meta_keys, const char *const *meta_values, int n_meta,
                    const char *tokenizer_dir, char *why, size_t whylen);

#endif
