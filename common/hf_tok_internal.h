/* hf_tok_internal — the parts of hf_tokenizer shared between its files (private to them): byte
 * buffers and UTF-8, patterns (literal or PCRE2 regex) and the split behaviours of Hugging Face's
 * NormalizedString::split, and the component types (normalizer, pre-tokenizer, BPE model, added
 * tokens, post-processor, decoder) with their loaders and runners. Each component is loaded from
 * its tokenizer.json object and refuses what it does not implement, naming it. */
#ifndef SPAR_HF_TOK_INTERNAL_H
#define SPAR_HF_TOK_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- byte buffers, UTF-8 ------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} hf_buf_t;

void hf_buf_reserve(hf_buf_t *b, size_t more);
void hf_buf_put(hf_buf_t *b, const void *s, size_t n);
void hf_buf_putc(hf_buf_t *b, char c);
void hf_buf_put_cp(hf_buf_t *b, uint32_t cp); /* one code point, UTF-8 encoded */
void hf_buf_free(hf_buf_t *b);

typedef struct {
    int32_t *v;
    size_t n, cap;
} hf_ids_t;

void hf_ids_push(hf_ids_t *a, int32_t id);
void hf_ids_put(hf_ids_t *a, const int32_t *ids, size_t n);

/* Is s[0..n) well-formed UTF-8 (no surrogates, no overlongs, at most U+10FFFF)? */
int hf_utf8_valid(const char *s, size_t n);
/* The code point at s[*i] of valid UTF-8; advances *i past it. */
uint32_t hf_utf8_next(const char *s, size_t *i);
/* Appends s[0..n) to out with every ill-formed part replaced by U+FFFD, one per maximal
 * subpart (what Rust's String::from_utf8_lossy and the WHATWG decoder do). */
void hf_utf8_lossy(hf_buf_t *out, const unsigned char *s, size_t n);
/* Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s test). */
int hf_is_white_space(uint32_t cp);

/* ---- pieces: a list of strings held in one buffer ------------------------------------------- */

typedef struct {
    uint32_t off, len;
    uint8_t first; /* starts at offset 0 of the original text (Metaspace's prepend_scheme first) */
} hf_span_t;

typedef struct {
    hf_buf_t text;
    hf_span_t *v;
    size_t n, cap;
} hf_pieces_t;

void hf_pieces_clear(hf_pieces_t *p);
void hf_pieces_add(hf_pieces_t *p, const char *s, size_t n, int first); /* copies s */
/* The piece whose text was just appended at text offset off (to text.n). */
void hf_pieces_close(hf_pieces_t *p, size_t off, int first);
void hf_pieces_free(hf_pieces_t *p);
static inline const char *hf_piece(const hf_pieces_t *p, size_t i) { return p->text.p + p->v[i].off; }

/* ---- patterns and splits ---------------------------------------------------------------------- */

/* A part of a string: [a, b) and whether a pattern matched it (or, after hf_split, whether the
 * piece is kept). */
typedef struct {
    uint32_t a, b;
    uint32_t m;
} hf_seg_t;

typedef struct {
    hf_seg_t *v;
    size_t n, cap;
} hf_segs_t;

/* What runs with one encode or decode call: reused buffers, so nothing is allocated per byte. */
typedef struct {
    pcre2_match_data *md;
    hf_segs_t segs;
    hf_buf_t b1, b2, b3;
    hf_pieces_t p1, p2, p3, p4;
    /* the BPE merge loop's word, heap, and where its first look-ups start */
    void *sym, *heap;
    size_t *home;
    size_t sym_cap, heap_cap, home_cap;
    /* hf_tokenizer's own: the text's parts, a normalized part, the post-processor's ids */
    hf_segs_t raw, part;
    hf_buf_t norm;
    hf_ids_t tmp;
} hf_scratch_t;

void hf_scratch_init(hf_scratch_t *s);
void hf_scratch_free(hf_scratch_t *s);
/* About the bytes its buffers hold (a scratch kept for the next call is freed instead past a
 * limit). */
size_t hf_scratch_bytes(const hf_scratch_t *s);

/* A literal string or a regex (Oniguruma syntax as tokenizer.json writes it, compiled by PCRE2
 * with UTF and Unicode properties, \s as White_Space and (?i:...) folding ASCII letters only, as
 * the reference tokenizers.js does). */
typedef struct {
    int is_regex;
    char *lit;
    size_t lit_len;
    pcre2_code *re;
} hf_pattern_t;

/* From {"String": s} or {"Regex": r}; what names the owner in errors. */
int hf_pattern_from_json(hf_pattern_t *p, const json_t *j, const char *what, char *why, size_t whylen);
int hf_pattern_literal(hf_pattern_t *p, const char *s, size_t n);
int hf_pattern_regex(hf_pattern_t *p, const char *re, const char *what, char *why, size_t whylen);
void hf_pattern_free(hf_pattern_t *p);
/* Cuts s[0..n) into matches and the text between them, in order (a partition of s; empty
 * matches included, as Hugging Face's find_matches gives them). */
void hf_pattern_find(const hf_pattern_t *p, const char *s, size_t n, hf_segs_t *out, hf_scratch_t *sc);

typedef enum { HF_REMOVED, HF_ISOLATED, HF_MERGED_PREVIOUS, HF_MERGED_NEXT, HF_CONTIGUOUS } hf_behavior_t;

int hf_behavior_from_json(const json_t *j, hf_behavior_t *b, const char *what, char *why, size_t whylen);
/* Turns find's partition into the pieces a split with behavior keeps (m = 1: kept); invert swaps
 * matches and the text between them first. Empty pieces are dropped. */
void hf_split(hf_segs_t *segs, hf_behavior_t behavior, int invert);

/* Replaces every match of p in s[0..n) with content; appends the result to out. */
void hf_pattern_replace(const hf_pattern_t *p, const char *s, size_t n, const char *content, size_t clen,
                        hf_buf_t *out, hf_scratch_t *sc);

/* ---- JSON helpers --------------------------------------------------------------------------- */

/* The object's "type" string, or NULL. */
const char *hf_json_type(const json_t *j);
/* A boolean member (absent or null: def); -1 with why when it is something else. */
int hf_json_bool(const json_t *o, const char *key, int def, const char *what, char *why, size_t whylen);
/* Refuses (naming it) a member of o that is not in keys (NULL-terminated): an option this module
 * does not know may change what the tokenizer does. */
int hf_json_only(const json_t *o, const char *what, const char *const *keys, char *why, size_t whylen);

/* ---- normalizers ---------------------------------------------------------------------------- */

typedef struct hf_normalizer hf_normalizer_t;

/* NULL json (or JSON null): *out = NULL, returns 0. */
int hf_normalizer_load(const json_t *j, hf_normalizer_t **out, char *why, size_t whylen);
void hf_normalizer_free(hf_normalizer_t *n);
/* Normalized s[0..n), replacing out's content. */
void hf_normalize(const hf_normalizer_t *nz, const char *s, size_t n, hf_buf_t *out, hf_scratch_t *sc);

/* ---- pre-tokenizers ------------------------------------------------------------------------- */

typedef struct hf_pretok hf_pretok_t;

int hf_pretok_load(const json_t *j, hf_pretok_t **out, char *why, size_t whylen);
/* The ByteLevel pre-tokenizer of GPT-2's vocab.json + merges.txt. */
hf_pretok_t *hf_pretok_gpt2(char *why, size_t whylen);
void hf_pretok_free(hf_pretok_t *p);
/* Pre-tokenizes every piece of *cur; the result is in *cur again (*spare is a work buffer, the
 * pointers may be swapped). */
void hf_pretokenize(const hf_pretok_t *p, hf_pieces_t **cur, hf_pieces_t **spare, hf_scratch_t *sc);

/* The GPT-2 byte ↔ unicode table: byte b is the code point hf_byte_char[b]; hf_char_byte is its
 * inverse (-1 for code points not in the table, up to 0x143). */
extern const uint16_t hf_byte_char[256];
int hf_char_byte(uint32_t cp);

/* ---- the BPE model -------------------------------------------------------------------------- */

typedef struct hf_bpe hf_bpe_t;

/* A string → id table (open addressing; keys copied). */
typedef struct hf_strtab hf_strtab_t;
hf_strtab_t *hf_strtab_new(size_t expect);
void hf_strtab_free(hf_strtab_t *t);
/* Returns 0, or 1 when the key was there already (its id replaced). */
int hf_strtab_put(hf_strtab_t *t, const char *k, size_t n, int32_t id);
int32_t hf_strtab_get(const hf_strtab_t *t, const char *k, size_t n); /* -1 when absent */

int hf_bpe_load(const json_t *model, const char *origin, hf_bpe_t **out, char *why, size_t whylen);
/* GPT-2's files: vocab.json's text and merges.txt's text. */
int hf_bpe_load_gpt2(const char *vocab_json, size_t vlen, const char *merges_txt, size_t mlen, hf_bpe_t **out,
                     char *why, size_t whylen);
void hf_bpe_free(hf_bpe_t *m);
/* The hash of a pre-token, as hf_bpe_word takes it. */
uint64_t hf_bpe_hash(const char *w, size_t n);
/* Appends the ids of one pre-token (the model's input string) w[0..n), whose hash is h;
 * next_h: the hash of the pre-token that comes next (0: none), whose look-ups start early. */
void hf_bpe_word(hf_bpe_t *m, const char *w, size_t n, uint64_t h, uint64_t next_h, hf_ids_t *out, hf_scratch_t *sc);
const hf_strtab_t *hf_bpe_vocab(const hf_bpe_t *m);
/* Every (token, id) of the vocabulary, for the id → token table. */
void hf_bpe_each(const hf_bpe_t *m, void (*fn)(void *ctx, const char *tok, size_t n, int32_t id), void *ctx);

/* ---- added tokens --------------------------------------------------------------------------- */

typedef struct {
    char *content;
    size_t len;
    int32_t id;
    uint8_t single_word, lstrip, rstrip, normalized, special;
} hf_added_t;

typedef struct hf_trie hf_trie_t;

/* A trie of the added tokens' contents (or their normalized forms, given in forms). */
hf_trie_t *hf_trie_new(void);
void hf_trie_add(hf_trie_t *t, const char *s, size_t n, int token);
void hf_trie_free(hf_trie_t *t);
int hf_trie_empty(const hf_trie_t *t);
/* Splits s[0..n) at the added tokens found in it, leftmost-longest (with single_word, lstrip and
 * rstrip as Hugging Face's AddedVocabulary applies them): appends to out segments with m = 1 + the
 * index of the token in added[], or m = 0 for the text between. */
void hf_trie_split(const hf_trie_t *t, const hf_added_t *added, const char *s, size_t n, hf_segs_t *out);

/* ---- post-processor ------------------------------------------------------------------------- */

typedef struct hf_post hf_post_t;

int hf_post_load(const json_t *j, hf_post_t **out, char *why, size_t whylen);
void hf_post_free(hf_post_t *p);
/* Applies the post-processor to ids (of the single sequence). */
void hf_post_apply(const hf_post_t *p, hf_ids_t *ids, int add_special, hf_ids_t *tmp);

/* ---- decoders ------------------------------------------------------------------------------- */

typedef struct hf_decoder hf_decoder_t;

int hf_decoder_load(const json_t *j, hf_decoder_t **out, char *why, size_t whylen);
hf_decoder_t *hf_decoder_byte_level(void);
void hf_decoder_free(hf_decoder_t *d);
/* Runs the decoder chain over the token strings in *cur (result in *cur; *spare for work). */
void hf_decode_chain(const hf_decoder_t *d, hf_pieces_t **cur, hf_pieces_t **spare, hf_scratch_t *sc);

#endif
