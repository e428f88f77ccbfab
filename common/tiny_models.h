/* tiny_models — the small random models spar makes itself, so that the chat configs
 * (configs/chat-*.yaml), `make chat-demo` and the tests run with no download: a byte-level BPE
 * tokenizer (the 256 byte symbols, ChatML's <|im_start|> and <|im_end|>, <|endoftext|>) with a
 * ChatML chat template, a LlamaForCausalLM policy, a causal judge (judge.kind generative) and a
 * LlamaForSequenceClassification reward model (judge.kind reward), each a Hugging Face folder.
 * Random weights: they run the whole loop at real speed per parameter, they know nothing. */
#ifndef SPAR_TINY_MODELS_H
#define SPAR_TINY_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "common/hf_folder.h"

/* The tokenizer's ids: bytes 0..255, then these; vocabulary TINY_VOCAB. */
#define TINY_ENDOFTEXT 256
#define TINY_IM_START 257
#define TINY_IM_END 258
#define TINY_VOCAB 259

/* Writes tokenizer.json and tokenizer_config.json (the ChatML template; EOS <|im_end|>) into dir
 * (created). Returns 0 or -1 with why. */
int tiny_tokenizer_write(const char *dir, char *why, size_t whylen);
/* The tiny causal Llama configuration: 2 layers, d_model 64, 4 query and 2 key/value heads,
 * context 512, EOS <|im_end|> and <|endoftext|>. */
hf_config_t tiny_llama_config(void);
/* Writes dir/policy, dir/judge and dir/reward (and dir/tokenizer), from seed. Returns 0 or -1 with
 * why. */
int tiny_models_write(const char *dir, uint64_t seed, char *why, size_t whylen);

#endif
