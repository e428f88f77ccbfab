/* hf_tokenizer — see hf_tokenizer.h. This file loads tokenizer.json (or GPT-2's two files) into
 * its components and runs them in tokenizers' order: added tokens split out of the raw text, each
 * remaining part normalized (then split at the normalized added tokens), pre-tokenized, and each
 * pre-token through the BPE model; then the post-processor. Decoding maps ids to their token
 * strings and runs the decoder chain. Each call takes a scratch (its work buffers) from a small
 * pool and gives it back, so a call on a short text allocates little more than its result. */
#include "common/hf_tokenizer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hf_tok_internal.h"
#include "common/util.h"

struct hf_tokenizer {
    hf_normalizer_t *normalizer;
    hf_pretok_t *pretok;
    hf_bpe_t *bpe;
    hf_post_t *post;
    hf_decoder_t *decoder;
    hf_added_t *added;
    int n_added;
    hf_trie_t *raw_trie, *norm_trie; /* added tokens matched before / after normalization */
    hf_strtab_t *added_ids;          /* content → id */
    char **tokens;                   /* id → token string (NULL: no such id) */
    uint8_t *special;                /* id → is a special added token */
    int vocab_size;
    /* scratches kept between calls (one per thread that calls at once, up to POOL) */
    pthread_mutex_t pool_mu;
    hf_scratch_t *pool[8];
    int n_pool;
};

#define POOL 8
#define POOL_MAX_BYTES (4u << 20) /* a scratch grown past this by a long text is not kept */

/* A scratch from the pool, or a new one. The pool is the tokenizer's only state that calls
 * change, behind its mutex: the tokenizer is otherwise read-only, as its const says. */
static hf_scratch_t *s_scratch_take(const hf_tokenizer_t *ct) {
    hf_tokenizer_t *t = (hf_tokenizer_t *)ct;
    hf_scratch_t *sc = NULL;
    pthread_mutex_lock(&t->pool_mu);
    if (t->n_pool) sc = t->pool[--t->n_pool];
    pthread_mutex_unlock(&t->pool_mu);
    if (!sc) {
        sc = xmalloc(sizeof *sc);
        hf_scratch_init(sc);
    }
    return sc;
}

static void s_scratch_give(const hf_tokenizer_t *ct, hf_scratch_t *sc) {
    hf_tokenizer_t *t = (hf_tokenizer_t *)ct;
    if (hf_scratch_bytes(sc) <= POOL_MAX_BYTES) {
        pthread_mutex_lock(&t->pool_mu);
        if (t->n_pool < POOL) t->pool[t->n_pool++] = sc, sc = NULL;
        pthread_mutex_unlock(&t->pool_mu);
    }
    if (sc) {
        hf_scratch_free(sc);
        free(sc);
    }
}

static hf_tokenizer_t *s_new(void) {
    hf_tokenizer_t *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->pool_mu, NULL);
    return t;
}

/* Puts "origin: " in front of the reason already in why. */
static void s_prefix(char *why, size_t whylen, const char *origin) {
    if (!why || !whylen) return;
    char *was = xstrdup(why);
    snprintf(why, whylen, "%s: %s", origin, was);
    free(was);
}

void hf_tokenizer_free(hf_tokenizer_t **tp) {
    if (!tp || !*tp) return;
    hf_tokenizer_t *t = *tp;
    hf_normalizer_free(t->normalizer);
    hf_pretok_free(t->pretok);
    hf_bpe_free(t->bpe);
    hf_post_free(t->post);
    hf_decoder_free(t->decoder);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    hf_trie_free(t->raw_trie);
    hf_trie_free(t->norm_trie);
    hf_strtab_free(t->added_ids);
    if (t->tokens)
        for (int i = 0; i < t->vocab_size; i++) free(t->tokens[i]);
    free(t->tokens);
    free(t->special);
    for (int i = 0; i < t->n_pool; i++) {
        hf_scratch_free(t->pool[i]);
        free(t->pool[i]);
    }
    pthread_mutex_destroy(&t->pool_mu);
    free(t);
    *tp = NULL;
}

/* ---- the id → token table ------------------------------------------------------------------------ */

static void s_max_id(void *ctx, const char *tok, size_t n, int32_t id) {
    (void)tok, (void)n;
    int *max = ctx;
    if (id > *max) *max = id;
}

static void s_set_token(void *ctx, const char *tok, size_t n, int32_t id) {
    hf_tokenizer_t *t = ctx;
    if (t->tokens[id]) return; /* two tokens on one id: the first one seen */
    t->tokens[id] = xmalloc(n + 1);
    memcpy(t->tokens[id], tok, n);
    t->tokens[id][n] = 0;
}

/* The id → token table and special flags, once the model and the added tokens are known. Added
 * tokens take their id's string first, as tokenizers' decode looks them up first. */
static void s_tables(hf_tokenizer_t *t) {
    int max = -1;
    hf_bpe_each(t->bpe, s_max_id, &max);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id > max) max = t->added[i].id;
    t->vocab_size = max + 1;
    t->tokens = xcalloc((size_t)t->vocab_size + 1, sizeof *t->tokens);
    t->special = xcalloc((size_t)t->vocab_size + 1, 1);
    for (int i = 0; i < t->n_added; i++) {
        free(t->tokens[t->added[i].id]);
        t->tokens[t->added[i].id] = xstrdup(t->added[i].content);
        if (t->added[i].special) t->special[t->added[i].id] = 1;
    }
    hf_bpe_each(t->bpe, s_set_token, t);
}

/* The tries: the contents of non-normalized tokens for the raw text, the normalized forms of the
 * others for the normalized text. */
static void s_tries(hf_tokenizer_t *t) {
    t->raw_trie = hf_trie_new();
    t->norm_trie = hf_trie_new();
    t->added_ids = hf_strtab_new((size_t)t->n_added + 1);
    hf_scratch_t sc;
    hf_scratch_init(&sc);
    hf_buf_t form = {0};
    for (int i = 0; i < t->n_added; i++) {
        const hf_added_t *a = &t->added[i];
        hf_strtab_put(t->added_ids, a->content, a->len, a->id);
        if (!a->normalized) {
            hf_trie_add(t->raw_trie, a->content, a->len, i);
        } else if (t->normalizer) {
            hf_normalize(t->normalizer, a->content, a->len, &form, &sc);
            hf_trie_add(t->norm_trie, form.p ? form.p : "", form.n, i);
        } else {
            hf_trie_add(t->norm_trie, a->content, a->len, i);
        }
    }
    hf_buf_free(&form);
    hf_scratch_free(&sc);
}

static int s_added(hf_tokenizer_t *t, const json_t *list, char *why, size_t whylen) {
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list)) return util_refuse(why, whylen, "added_tokens is not a list");
    t->added = xcalloc(json_array_size(list) + 1, sizeof *t->added);
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x) {
        static const char *const keys[] = {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special", NULL};
        const json_t *id = json_object_get(x, "id"), *content = json_object_get(x, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > INT32_MAX ||
            !json_is_string(content) || !json_string_length(content))
            return util_refuse(why, whylen, "added token %zu has no id or no content", i);
        if (hf_json_only(x, "added token", keys, why, whylen)) return -1;
        hf_added_t *a = &t->added[t->n_added++];
        a->id = (int32_t)json_integer_value(id);
        a->len = json_string_length(content);
        a->content = xmalloc(a->len + 1);
        memcpy(a->content, json_string_value(content), a->len + 1);
        int sw = hf_json_bool(x, "single_word", 0, "added token", why, whylen);
        int ls = hf_json_bool(x, "lstrip", 0, "added token", why, whylen);
        int rs = hf_json_bool(x, "rstrip", 0, "added token", why, whylen);
        int sp = hf_json_bool(x, "special", 0, "added token", why, whylen);
        int nz = hf_json_bool(x, "normalized", !sp, "added token", why, whylen);
        if (sw < 0 || ls < 0 || rs < 0 || sp < 0 || nz < 0) return -1;
        a->single_word = (uint8_t)sw, a->lstrip = (uint8_t)ls, a->rstrip = (uint8_t)rs;
        a->special = (uint8_t)sp, a->normalized = (uint8_t)nz;
    }
    return 0;
}

hf_tokenizer_t *hf_tokenizer_from_json(const char *json, size_t len, const char *origin, char *why, size_t whylen) {
    json_error_t e;
    json_t *j = json_loadb(json, len, 0, &e);
    if (!json_is_object(j)) {
        json_decref(j);
        util_refuse(why, whylen, "%s: not a JSON object (line %d: %s)", origin, e.line, e.text);
        return NULL;
    }
    hf_tokenizer_t *t = s_new();
    static const char *const keys[] = {"version", "truncation", "padding", "added_tokens", "normalizer",
                                       "pre_tokenizer", "model", "post_processor", "decoder", NULL};
    int rc = hf_json_only(j, "tokenizer", keys, why, whylen);
    if (!rc && json_object_get(j, "truncation") && !json_is_null(json_object_get(j, "truncation")))
        rc = util_refuse(why, whylen, "truncation (not null) is not supported");
    if (!rc && json_object_get(j, "padding") && !json_is_null(json_object_get(j, "padding")))
        rc = util_refuse(why, whylen, "padding (not null) is not supported");
    if (!rc) rc = hf_normalizer_load(json_object_get(j, "normalizer"), &t->normalizer, why, whylen);
    if (!rc) rc = hf_pretok_load(json_object_get(j, "pre_tokenizer"), &t->pretok, why, whylen);
    if (!rc) rc = hf_post_load(json_object_get(j, "post_processor"), &t->post, why, whylen);
    if (!rc) rc = hf_decoder_load(json_object_get(j, "decoder"), &t->decoder, why, whylen);
    if (!rc) rc = s_added(t, json_object_get(j, "added_tokens"), why, whylen);
    if (rc) s_prefix(why, whylen, origin);
    /* the model's messages name the origin themselves */
    if (!rc) rc = hf_bpe_load(json_object_get(j, "model"), origin, &t->bpe, why, whylen);
    json_decref(j);
    if (rc) {
        hf_tokenizer_free(&t);
        return NULL;
    }
    s_tables(t);
    s_tries(t);
    return t;
}

hf_tokenizer_t *hf_tokenizer_from_gpt2_files(const char *vocab_json, const char *merges_txt, char *why,
                                             size_t whylen) {
    size_t vlen, mlen;
    char *v = util_read_file(vocab_json, &vlen);
    if (!v) {
        util_refuse(why, whylen, "%s: cannot read", vocab_json);
        return NULL;
    }
    char *m = util_read_file(merges_txt, &mlen);
    if (!m) {
        free(v);
        util_refuse(why, whylen, "%s: cannot read", merges_txt);
        return NULL;
    }
    hf_tokenizer_t *t = hf_tokenizer_from_gpt2_text(v, vlen, m, mlen, why, whylen);
    free(v);
    free(m);
    return t;
}

hf_tokenizer_t *hf_tokenizer_from_gpt2_text(const char *v, size_t vlen, const char *m, size_t mlen, char *why,
                                            size_t whylen) {
    hf_tokenizer_t *t = s_new();
    int rc = hf_bpe_load_gpt2(v, vlen, m, mlen, &t->bpe, why, whylen);
    if (!rc && !(t->pretok = hf_pretok_gpt2(why, whylen))) rc = -1;
    if (rc) {
        hf_tokenizer_free(&t);
        return NULL;
    }
    t->decoder = hf_decoder_byte_level();
    /* GPT-2's end of text is an added special token, as in the tokenizer.json Hugging Face makes
     * from these files */
    int32_t eot = hf_strtab_get(hf_bpe_vocab(t->bpe), "<|endoftext|>", 13);
    t->added = xcalloc(1, sizeof *t->added);
    if (eot >= 0) t->added[t->n_added++] = (hf_added_t){xstrdup("<|endoftext|>"), 13, eot, 0, 0, 0, 1, 1};
    s_tables(t);
    s_tries(t);
    return t;
}

hf_tokenizer_t *hf_tokenizer_load(const char *dir, char *why, size_t whylen) {
    char *path = xasprintf("%s/tokenizer.json", dir);
    hf_tokenizer_t *t = NULL;
    if (util_file_exists(path)) {
        size_t len;
        char *text = util_read_file(path, &len);
        if (!text) util_refuse(why, whylen, "%s: cannot read", path);
        else t = hf_tokenizer_from_json(text, len, path, why, whylen);
        free(text);
        free(path);
        return t;
    }
    char *vocab = xasprintf("%s/vocab.json", dir), *merges = xasprintf("%s/merges.txt", dir);
    if (util_file_exists(vocab) && util_file_exists(merges)) t = hf_tokenizer_from_gpt2_files(vocab, merges, why, whylen);
    else util_refuse(why, whylen, "%s: no tokenizer.json, nor vocab.json + merges.txt", dir);
    free(path);
    free(vocab);
    free(merges);
    return t;
}

/* ---- encoding --------------------------------------------------------------------------------- */

/* segs: all of a text of n bytes, no added token in it */
static void s_whole(hf_segs_t *segs, size_t n) {
    if (!segs->cap) segs->v = xmalloc(sizeof *segs->v), segs->cap = 1;
    segs->v[0] = (hf_seg_t){0, (uint32_t)n, 0};
    segs->n = 1;
}

/* One part of the text between added tokens: normalized, split at the normalized added tokens,
 * pre-tokenized, and through the model. first: the part starts the text. */
static void s_encode_part(const hf_tokenizer_t *t, const char *s, size_t n, int first, hf_ids_t *ids,
                          hf_buf_t *norm, hf_segs_t *segs, hf_scratch_t *sc) {
    if (t->normalizer) {
        hf_normalize(t->normalizer, s, n, norm, sc);
        s = norm->p ? norm->p : "";
        n = norm->n;
    }
    segs->n = 0;
    if (!hf_trie_empty(t->norm_trie)) hf_trie_split(t->norm_trie, t->added, s, n, segs);
    else if (n) s_whole(segs, n);
    for (size_t k = 0; k < segs->n; k++) {
        const hf_seg_t *g = &segs->v[k];
        if (g->m) {
            hf_ids_push(ids, t->added[g->m - 1].id);
            continue;
        }
        hf_pieces_t *cur = &sc->p1, *spare = &sc->p2;
        hf_pieces_clear(cur);
        hf_pieces_add(cur, s + g->a, g->b - g->a, first && g->a == 0);
        if (t->pretok) hf_pretokenize(t->pretok, &cur, &spare, sc);
        /* each word's hash a word ahead, so that its look-ups start while the one before runs */
        uint64_t h = cur->n ? hf_bpe_hash(hf_piece(cur, 0), cur->v[0].len) : 0;
        for (size_t i = 0; i < cur->n; i++) {
            uint64_t next = i + 1 < cur->n ? hf_bpe_hash(hf_piece(cur, i + 1), cur->v[i + 1].len) : 0;
            hf_bpe_word(t->bpe, hf_piece(cur, i), cur->v[i].len, h, next, ids, sc);
            h = next;
        }
    }
}

int hf_tokenizer_encode(const hf_tokenizer_t *t, const char *text, size_t len, int add_special, int32_t **out,
                        char *why, size_t whylen) {
    *out = NULL;
    if (!hf_utf8_valid(text, len)) return util_refuse(why, whylen, "text is not valid UTF-8");
    hf_scratch_t *sc = s_scratch_take(t);
    /* about one id per 4 bytes of text: the result rarely grows */
    hf_ids_t ids = {xmalloc((len / 4 + 8) * sizeof(int32_t)), 0, len / 4 + 8};
    hf_segs_t *raw = &sc->raw;
    raw->n = 0;
    if (!hf_trie_empty(t->raw_trie)) hf_trie_split(t->raw_trie, t->added, text, len, raw);
    else if (len) s_whole(raw, len);
    for (size_t k = 0; k < raw->n; k++) {
        const hf_seg_t *g = &raw->v[k];
        if (g->m) hf_ids_push(&ids, t->added[g->m - 1].id);
        else s_encode_part(t, text + g->a, g->b - g->a, g->a == 0, &ids, &sc->norm, &sc->part, sc);
    }
    sc->tmp.n = 0;
    hf_post_apply(t->post, &ids, add_special, &sc->tmp);
    s_scratch_give(t, sc);
    *out = ids.v;
    return (int)ids.n;
}

/* ---- decoding --------------------------------------------------------------------------------- */

char *hf_tokenizer_decode(const hf_tokenizer_t *t, const int32_t *ids, int n, int skip_special, size_t *len_out) {
    hf_scratch_t *sc = s_scratch_take(t);
    hf_pieces_t *cur = &sc->p3, *spare = &sc->p4;
    hf_pieces_clear(cur);
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->vocab_size || !t->tokens[id] || (skip_special && t->special[id])) continue;
        hf_pieces_add(cur, t->tokens[id], strlen(t->tokens[id]), 0);
    }
    hf_buf_t text = {0};
    if (t->decoder) {
        hf_decode_chain(t->decoder, &cur, &spare, sc);
        for (size_t i = 0; i < cur->n; i++) hf_buf_put(&text, hf_piece(cur, i), cur->v[i].len);
    } else { /* tokenizers without a decoder joins the tokens with spaces */
        for (size_t i = 0; i < cur->n; i++) {
            if (i) hf_buf_putc(&text, ' ');
            hf_buf_put(&text, hf_piece(cur, i), cur->v[i].len);
        }
    }
    hf_buf_putc(&text, 0);
    if (len_out) *len_out = text.n - 1;
    s_scratch_give(t, sc);
    return text.p;
}

/* ---- the vocabulary --------------------------------------------------------------------------- */

int hf_tokenizer_vocab_size(const hf_tokenizer_t *t) { return t->vocab_size; }

int hf_tokenizer_token_id(const hf_tokenizer_t *t, const char *token) {
    size_t n = strlen(token);
    int32_t id = hf_strtab_get(t->added_ids, token, n);
    return id >= 0 ? id : hf_strtab_get(hf_bpe_vocab(t->bpe), token, n);
}

const char *hf_tokenizer_token(const hf_tokenizer_t *t, int id) {
    return id >= 0 && id < t->vocab_size ? t->tokens[id] : NULL;
}

int hf_tokenizer_is_special(const hf_tokenizer_t *t, int id) {
    return id >= 0 && id < t->vocab_size && t->special[id];
}
