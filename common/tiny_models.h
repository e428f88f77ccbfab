/* tiny_models — the small random models spar makes itself, so that the chat configs
 * (configs/chat-*.yaml), `make chat-demo` and the tests run with no download: a byte-level BPE
 * tokenizer (the 256 byte symbols, ChatML's <|im_start|> and <|im_end|>, <|endoftext|>) with a
 * ChatML chat template, a LlamaForCausalLM policy, a causal judge (judge.kind generative) and a
 * LlamaForSequenceClassification reward model (judge.kind reward), each a Hugging Face folder.
 * Random weights (the judges' drawn wider, so their verdicts depend on the text): they run the
 * whole loop at real speed per parameter, and know nothing. */
#ifndef SPAR_TINY_MODELS_H
#define SPAR_TINY_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "common/hf_folder.h"

/* The tokenizer's ids: bytes 0..255, the merges, then <|endoftext|>, <|im_start|>, <|im_end|> as
 * the last three; without merges the vocabulary is TINY_VOCAB. */
#define TINY_VOCAB 259

/* A byte-level BPE tokenizer.json in dir (created): the 256 byte symbols (GPT-2's byte-to-character
 * table), then the merges ("x y", ids from 256 in order; the merged symbol is x's text then y's),
 * then the specials as special added tokens. Returns 0 or -1 with why. */
int tiny_byte_tokenizer_write(const char *dir, const char *const *merges, int n_merges, const char *const *specials,
                              int n_specials, char *why, size_t whylen);
/* Writes tokenizer.json and tokenizer_config.json (the ChatML template; EOS <|im_end|>) into dir
 * (created), with vocab ids: past TINY_VOCAB, merges of printable characters (pairs, then a pair
 * and a character), so a random model of a real vocabulary size decodes every id it draws.
 * Returns 0 or -1 with why. */
int tiny_tokenizer_write(const char *dir, int vocab, char *why, size_t whylen);
/* The causal configurations by name: "tiny" (2 layers, d_model 64, 4 query and 2 key/value
 * heads, vocabulary TINY_VOCAB, context 512), and the shapes of "smollm2-135m"
 * (HuggingFaceTB/SmolLM2-135M) and "qwen2.5-0.5b" (Qwen/Qwen2.5-0.5B) with context 2048; EOS
 * <|im_end|> and <|endoftext|>. 0, or -1 for an unknown name. */
int tiny_shape(const char *name, hf_config_t *out);
/* The names tiny_shape knows, for messages: "tiny, smollm2-135m, qwen2.5-0.5b". */
extern const char tiny_shape_names[];
/* A random reward model (the *ForSequenceClassification of c's architecture, num_labels 1, pad
 * <|endoftext|> when c's second EOS is one) with tokenizer_dir's tokenizer, written to dir.
 * Returns 0 or -1 with why. */
int tiny_reward_write(const hf_config_t *c, const char *tokenizer_dir, const char *dir, uint64_t seed, char *why,
                      size_t whylen);
/* Writes dir/tokenizer, dir/policy, dir/judge and dir/reward of the shape, from seed. Returns 0 or
 * -1 with why. */
int tiny_models_write(const char *dir, const char *shape, uint64_t seed, char *why, size_t whylen);

#endif
