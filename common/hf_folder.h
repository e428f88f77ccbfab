/* hf_folder — a Hugging Face model folder, read and written: config.json (the architecture and
 * its options), generation_config.json (EOS ids, which may be a list), and the weights in
 * model.safetensors or shards named by model.safetensors.index.json, F32, F16 or BF16 on disk,
 * F32 in memory. Every mismatch is refused with its name: an unknown architecture or an option
 * spar does not implement (a sliding window, a rope scaling other than llama3, an activation
 * other than silu / gelu_new), a missing tensor, a tensor of the wrong shape or dtype, a tensor
 * spar does not know. Writing uses the same layout and names, F32 or BF16, atomically (a
 * temporary folder renamed into place), with spar's data digest in each file's metadata, and
 * copies the tokenizer files beside the weights.
 * Implemented in hf_config.c (the JSON files, and the list of what is refused and why),
 * hf_weights.c (reading and matching tensors) and hf_write.c (the atomic folder). */
#ifndef SPAR_HF_FOLDER_H
#define SPAR_HF_FOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "common/gpt.h"
#include "common/llama.h"
#include "common/safetensors.h"

typedef enum { HF_GPT2, HF_LLAMA, HF_MISTRAL, HF_QWEN2, HF_QWEN3 } hf_arch_t;

#define HF_MAX_EOS 8

typedef struct {
    hf_arch_t arch;
    char architecture[64]; /* as config.json names it: "LlamaForCausalLM", ... */
    /* A sequence classifier of the Llama family (LlamaForSequenceClassification, ...; read by
     * hf_config_read_seqcls only): the trunk of arch, then score.weight (num_labels, hidden) on
     * the final norm's output at the last token that is not pad_id, and no lm_head. */
    int seqcls;
    int num_labels; /* id2label's size, else num_labels, else transformers' default 2 */
    int pad_id;     /* pad_token_id, -1: none */
    gpt_config_t gpt;      /* HF_GPT2 */
    llama_config_t llama;  /* the others */
    int bos_id;            /* -1: none */
    int eos[HF_MAX_EOS];   /* generation_config.json's eos_token_id (else config.json's) */
    int n_eos;
} hf_config_t;

/* The architecture's Hugging Face class name. */
const char *hf_arch_name(hf_arch_t a);
/* The sequence-classification class of a family ("LlamaForSequenceClassification"), NULL for
 * GPT-2 (spar implements none). */
const char *hf_seqcls_name(hf_arch_t a);
/* Does config.json text name a *ForSequenceClassification architecture (any family)? */
int hf_config_is_seqcls(const char *json, size_t len);

/* Reads DIR/config.json and DIR/generation_config.json (optional). Returns 0, or -1 with the
 * reason (file and key) in why, e.g. "DIR/config.json: rope_scaling.rope_type 'dynamic' is not
 * supported (spar implements llama3)". Keys spar does not know are ignored, as transformers
 * ignores them; every key of the architecture's config class that changes the model's function
 * is either implemented or refused (the list is in common/hf_config.c). Absent keys take the
 * defaults of transformers' config class (e.g. tie_word_embeddings false for the Llama family,
 * true for GPT-2; Qwen3's head_dim 128; Mistral's sliding_window 4096). */
int hf_config_read(const char *dir, hf_config_t *out, char *why, size_t whylen);
/* The same for a sequence classifier's folder: architectures[0] must be one of
 * hf_seqcls_name's classes (out->seqcls 1, num_labels and pad_id read); a causal LM is refused,
 * as hf_config_read refuses a sequence classifier. num_labels is not checked here. */
int hf_config_read_seqcls(const char *dir, hf_config_t *out, char *why, size_t whylen);
/* The config.json text (malloc'd) of a configuration, as transformers writes it, with
 * torch_dtype set to dtype ("float32" | "bfloat16"); a sequence classifier's with its class,
 * id2label / label2id of num_labels entries and pad_token_id. */
char *hf_config_json(const hf_config_t *c, const char *dtype);
/* The generation_config.json text (malloc'd): bos_token_id and eos_token_id. */
char *hf_generation_config_json(const hf_config_t *c);
/* The same from config.json text (the blob metadata carries it); origin names it in errors.
 * generation_config.json is not read here. */
int hf_config_parse(const char *json, size_t len, const char *origin, hf_config_t *out, char *why, size_t whylen);
/* 0 when config.json can express c (hf_write_folder checks it), else -1 with why: e.g. Qwen2
 * without q/k/v biases, Mistral with biases, Llama with q/k/v but not o biases, GPT-2 untied. */
int hf_config_check(const hf_config_t *c, char *why, size_t whylen);

/* One tensor the model wants: its name and shape, and where its F32 values go (NULL: only
 * checked, e.g. before allocating a model whose sizes came from the files). */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    float *data;
} hf_want_t;

/* Fills every wanted tensor from the folder's weights (DIR/model.safetensors, or the shards
 * that DIR/model.safetensors.index.json's weight_map names; files are mapped, not copied),
 * converting F16 / BF16 to F32 exactly. Refuses (-1 with why, naming the file and tensor) a
 * missing tensor, a shape mismatch, a dtype other than F32/F16/BF16, a tensor held twice, or a
 * tensor in the files that is neither wanted nor ignored. Nothing is written into want[].data
 * unless everything matches.
 * Names: GPT-2 file names may carry the "transformer." prefix (GPT2LMHeadModel's state dict),
 * matched with it removed: want "h.0.ln_1.weight", not "transformer.h.0.ln_1.weight".
 * Ignored when not wanted: any "*.rotary_emb.inv_freq" (a buffer older Llama checkpoints
 * saved), GPT-2's "*.attn.bias" and "*.attn.masked_bias" (its causal-mask buffers), and
 * "lm_head.weight" — the caller of a tied model does not want it, and then transformers ties
 * the head to the embedding too, whatever the file holds; the caller of an untied model wants
 * it, so a file without one is refused. */
int hf_read_weights(const char *dir, hf_arch_t arch, const hf_want_t *want, int n, char *why, size_t whylen);
/* The same matching over safetensors already parsed (e.g. one blob from the wire): n_files
 * files, names[i] naming file i in messages (names NULL: none). */
int hf_match_weights(const st_file_t *const *files, const char *const *names, int n_files, hf_arch_t arch,
                     const hf_want_t *want, int n, char *why, size_t whylen);

/* One file of a model folder held in memory: a tokenizer file carried with the model. */
typedef struct {
    char *name; /* "tokenizer.json" */
    char *data; /* len bytes, NUL-terminated */
    size_t len;
} hf_file_t;

/* The tokenizer files of DIR that exist (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, added_tokens.json, tokenizer.model, vocab.json, merges.txt), read
 * into *files (malloc'd; hf_files_free). Returns how many, or -1 with why (a file that exists
 * but cannot be read). */
int hf_tokenizer_files_read(const char *dir, hf_file_t **files, char *why, size_t whylen);
/* The file of that name among n, or NULL. */
const hf_file_t *hf_file_find(const hf_file_t *files, int n, const char *name);
void hf_files_free(hf_file_t *files, int n);

/* Writes DIR (atomically) with config.json (hf_config_json), generation_config.json
 * (bos_token_id, eos_token_id: an int, or a list when several), model.safetensors (F32 or,
 * bf16 != 0, BF16 rounded to nearest even), tensors named and shaped as given (data F32),
 * metadata {"format": "pt"} (transformers requires it), the pairs given and spar's data digest,
 * and the n_files files given (the tokenizer's). Everything is written and fsynced in a
 * temporary folder beside DIR, which then replaces DIR in one rename (an existing DIR is
 * exchanged and removed afterwards, so a reader sees the old folder or the new, never a mix). An
 * existing DIR that is neither empty nor a model folder (no config.json) is refused, not
 * replaced. Returns 0 or -errno with why. */
int hf_write_folder(const char *dir, const hf_config_t *c, const hf_want_t *tensors, int n, int bf16,
                    const char *const *meta_keys, const char *const *meta_values, int n_meta,
                    const hf_file_t *files, int n_files, char *why, size_t whylen);

#endif
