/* hf_tokenizer — a model folder's own tokenizer, exactly as Hugging Face's tokenizers library
 * runs it: tokenizer.json (a BPE model with its normalizer, pre-tokenizer, added tokens,
 * post-processor and decoder) or GPT-2's older vocab.json + merges.txt. Encoding matches
 * tokenizers' encode(text, add_special_tokens) id for id; decoding matches its
 * decode(ids, skip_special_tokens). A component or option this module does not implement is
 * refused on load with its name, never run approximately. */
#ifndef SPAR_HF_TOKENIZER_H
#define SPAR_HF_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_tokenizer hf_tokenizer_t;

/* From a model folder: DIR/tokenizer.json, else DIR/vocab.json + DIR/merges.txt. NULL with the
 * reason (file and component) in why. */
hf_tokenizer_t *hf_tokenizer_load(const char *dir, char *why, size_t whylen);
/* From the text of a tokenizer.json (len bytes); origin names it in errors. */
hf_tokenizer_t *hf_tokenizer_from_json(const char *json, size_t len, const char *origin, char *why, size_t whylen);
/* From GPT-2's vocab.json (encoder.json) and merges.txt (vocab.bpe) files. */
hf_tokenizer_t *hf_tokenizer_from_gpt2_files(const char *vocab_json, const char *merges_txt, char *why,
                                             size_t whylen);
/* The same from those two files' text (vlen and mlen bytes). */
hf_tokenizer_t *hf_tokenizer_from_gpt2_text(const char *vocab_json, size_t vlen, const char *merges_txt, size_t mlen,
                                            char *why, size_t whylen);
void hf_tokenizer_free(hf_tokenizer_t **t);

/* Ids of text (len bytes, UTF-8), with the post-processor's special tokens (BOS, ...) when
 * add_special. *ids is malloc'd (free it); returns the count, or -1 (with why) for text that is
 * not valid UTF-8 where the tokenizer needs it to be. */
int hf_tokenizer_encode(const hf_tokenizer_t *t, const char *text, size_t len, int add_special, int32_t **ids,
                        char *why, size_t whylen);
/* Text of ids (malloc'd, NUL-terminated; *len_out its length when not NULL), special tokens
 * left out when skip_special. Ids outside the vocabulary are left out. */
char *hf_tokenizer_decode(const hf_tokenizer_t *t, const int32_t *ids, int n, int skip_special, size_t *len_out);

/* Vocabulary size: one more than the largest id (model vocabulary and added tokens). */
int hf_tokenizer_vocab_size(const hf_tokenizer_t *t);
/* The id of a token's string (a vocabulary entry or an added token), or -1. */
int hf_tokenizer_token_id(const hf_tokenizer_t *t, const char *token);
/* The string of an id (the vocabulary's form, e.g. "Ġthe"), or NULL. */
const char *hf_tokenizer_token(const hf_tokenizer_t *t, int id);
/* Is id an added token marked special (BOS, EOS, <|im_start|>, ...)? */
int hf_tokenizer_is_special(const hf_tokenizer_t *t, int id);

#endif
