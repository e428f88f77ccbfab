/* hf_tok_bpe — the BPE model of tokenizer.json (and of GPT-2's vocab.json + merges.txt): the
 * vocabulary as a hash table, the merges as a table from a pair of ids to (rank, merged id), and
 * the merge loop of tokenizers' Word::merge_all — a heap of candidate merges, lowest rank first and
 * leftmost among equals, each checked still to apply when it comes up. A word's characters not in
 * the vocabulary become <0xNN> byte tokens (byte_fallback) or the unknown token (fused when
 * fuse_unk). ignore_merges takes a word that is in the vocabulary whole. Words shorter than 256
 * bytes are cached (word → ids), behind a mutex so that one tokenizer serves many threads.
 *
 * Speed (the merge table and the vocabulary are megabytes, so a look-up is mostly a wait on
 * memory): a word's characters find their ids in a table by code point (every byte-level
 * character, most scripts) rather than by hashing; pairs of two ids below 256 (a byte-level
 * vocabulary's bytes) are merged from a dense 256 x 256 table; a word's first pair look-ups are
 * prefetched together, and the next word's cache slot while this word runs; a candidate merge
 * remembers the two ids it joins, so checking that it still applies when it comes up compares ids
 * instead of looking the pair up again; the word cache grows with the text's vocabulary up to
 * CACHE_MAX_SLOTS before it starts over. */
#include "common/hf_tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* ---- hashing ---------------------------------------------------------------------------------- */

static uint64_t s_hash(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
        s += 8, n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

static uint64_t s_mix(uint64_t x) { /* splitmix64's finaliser */
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---- string → id ------------------------------------------------------------------------------ */

typedef struct {
    uint64_t h;
    uint32_t off, len;
    int32_t id; /* -1: empty slot */
} strslot_t;

struct hf_strtab {
    strslot_t *slots;
    size_t cap, used;
    hf_buf_t keys;
};

hf_strtab_t *hf_strtab_new(size_t expect) {
    hf_strtab_t *t = xcalloc(1, sizeof *t);
    for (t->cap = 64; t->cap < 2 * expect; t->cap <<= 1) {}
    t->slots = xmalloc(t->cap * sizeof *t->slots);
    for (size_t i = 0; i < t->cap; i++) t->slots[i].id = -1;
    return t;
}

void hf_strtab_free(hf_strtab_t *t) {
    if (!t) return;
    free(t->slots);
    hf_buf_free(&t->keys);
    free(t);
}

static strslot_t *s_find(const hf_strtab_t *t, const char *k, size_t n, uint64_t h) {
    size_t i = h & (t->cap - 1);
    for (;;) {
        strslot_t *s = &t->slots[i];
        if (s->id < 0 || (s->h == h && s->len == n && !memcmp(t->keys.p + s->off, k, n))) return s;
        i = (i + 1) & (t->cap - 1);
    }
}

int hf_strtab_put(hf_strtab_t *t, const char *k, size_t n, int32_t id) {
    if (2 * (t->used + 1) > t->cap) { /* grow: rehash every slot */
        strslot_t *old = t->slots;
        size_t oldcap = t->cap;
        t->cap *= 2;
        t->slots = xmalloc(t->cap * sizeof *t->slots);
        for (size_t i = 0; i < t->cap; i++) t->slots[i].id = -1;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].id >= 0) {
                size_t j = old[i].h & (t->cap - 1);
                while (t->slots[j].id >= 0) j = (j + 1) & (t->cap - 1);
                t->slots[j] = old[i];
            }
        free(old);
    }
    uint64_t h = s_hash(k, n);
    strslot_t *s = s_find(t, k, n, h);
    if (s->id >= 0) {
        s->id = id;
        return 1;
    }
    *s = (strslot_t){h, (uint32_t)t->keys.n, (uint32_t)n, id};
    hf_buf_put(&t->keys, k, n);
    t->used++;
    return 0;
}

int32_t hf_strtab_get(const hf_strtab_t *t, const char *k, size_t n) { return s_find(t, k, n, s_hash(k, n))->id; }

/* ---- the model -------------------------------------------------------------------------------- */

typedef struct {
    uint64_t key; /* left id << 32 | right id; 0 with rank UINT32_MAX: empty */
    uint32_t rank;
    int32_t merged;
} mergeslot_t;

/* A cached word: its hash, and where its entry starts in the entries buffer (plus one; 0: an empty
 * slot). An entry is the word's length and id count (two uint32), its bytes, then its ids, so a
 * hit reads two places in memory: the slot and the entry. */
typedef struct {
    uint64_t h;
    uint32_t at1, unused;
} cacheslot_t;

#define CACHE_MIN_SLOTS (1u << 14)
#define CACHE_MAX_SLOTS (1u << 19) /* 8 MB of slots: about 390,000 words */
#define CACHE_MAX_WORD 256          /* tokenizers caches words shorter than this */
#define CP_TABLE_MAX 0x30000        /* code points below this find their one-character token by table */
#define SMALL 256

struct hf_bpe {
    hf_strtab_t *vocab;
    mergeslot_t *merges;
    size_t mcap;
    int32_t unk, byte_id[256];
    int32_t *cp_id; /* code point → id of its one-character token, -1: none; cp_n entries */
    /* the merges of two ids below SMALL, by a * SMALL + b (rank UINT32_MAX: none): a word's first
     * pairs in a byte-level vocabulary, whose 256 byte tokens come first, without a hash miss */
    mergeslot_t *small;
    uint32_t cp_n;
    int byte_fallback, fuse_unk, ignore_merges;
    /* the cache */
    pthread_mutex_t mu;
    cacheslot_t *cache;
    uint32_t cache_used, cache_cap;
    hf_buf_t centries;
};

static uint64_t s_pair(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

/* Where the look-up of a pair starts; prefetched, so that a word's look-ups wait on memory
 * together rather than one after the other. */
static size_t s_merge_home(const hf_bpe_t *m, uint64_t key) {
    size_t i = s_mix(key) & (m->mcap - 1);
    __builtin_prefetch(&m->merges[i]);
    return i;
}

static mergeslot_t *s_merge_slot(const hf_bpe_t *m, uint64_t key) {
    size_t i = s_mix(key) & (m->mcap - 1);
    while (m->merges[i].rank != UINT32_MAX && m->merges[i].key != key) i = (i + 1) & (m->mcap - 1);
    return &m->merges[i];
}

static hf_bpe_t *s_new(size_t nvocab, size_t nmerges) {
    hf_bpe_t *m = xcalloc(1, sizeof *m);
    m->vocab = hf_strtab_new(nvocab);
    /* load 3/8 to 3/4: a smaller table misses the CPU caches less than it probes more */
    for (m->mcap = 64; 3 * m->mcap < 4 * nmerges; m->mcap <<= 1) {}
    m->merges = xmalloc(m->mcap * sizeof *m->merges);
    for (size_t i = 0; i < m->mcap; i++) m->merges[i] = (mergeslot_t){0, UINT32_MAX, 0};
    m->unk = -1;
    pthread_mutex_init(&m->mu, NULL);
    m->small = xmalloc(SMALL * SMALL * sizeof *m->small);
    for (size_t i = 0; i < SMALL * SMALL; i++) m->small[i] = (mergeslot_t){0, UINT32_MAX, 0};
    m->cache_cap = CACHE_MIN_SLOTS;
    m->cache = xcalloc(m->cache_cap, sizeof *m->cache);
    return m;
}

void hf_bpe_free(hf_bpe_t *m) {
    if (!m) return;
    hf_strtab_free(m->vocab);
    free(m->merges);
    pthread_mutex_destroy(&m->mu);
    free(m->cache);
    free(m->cp_id);
    free(m->small);
    hf_buf_free(&m->centries);
    free(m);
}

const hf_strtab_t *hf_bpe_vocab(const hf_bpe_t *m) { return m->vocab; }

void hf_bpe_each(const hf_bpe_t *m, void (*fn)(void *ctx, const char *tok, size_t n, int32_t id), void *ctx) {
    const hf_strtab_t *t = m->vocab;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].id >= 0) fn(ctx, t->keys.p + t->slots[i].off, t->slots[i].len, t->slots[i].id);
}

/* Adds merge number rank (a b): both halves and their concatenation must be tokens. */
static int s_add_merge(hf_bpe_t *m, const char *a, size_t an, const char *b, size_t bn, uint32_t rank,
                       const char *origin, char *why, size_t whylen) {
    int32_t ia = hf_strtab_get(m->vocab, a, an), ib = hf_strtab_get(m->vocab, b, bn);
    char *ab = xmalloc(an + bn + 1);
    memcpy(ab, a, an);
    memcpy(ab + an, b, bn);
    ab[an + bn] = 0;
    int32_t iab = hf_strtab_get(m->vocab, ab, an + bn);
    if (ia < 0 || ib < 0 || iab < 0) {
        util_refuse(why, whylen, "%s: merge %u (\"%.*s\" \"%.*s\") names a token that is not in the vocab", origin,
                    rank + 1, (int)an, a, (int)bn, b);
        free(ab);
        return -1;
    }
    free(ab);
    mergeslot_t *s = s_merge_slot(m, (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib);
    /* a pair listed twice keeps its last rank, as tokenizers' HashMap collect does */
    *s = (mergeslot_t){(uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, rank, iab};
    if (ia < SMALL && ib < SMALL) m->small[ia * SMALL + ib] = *s;
    return 0;
}

static int s_load_vocab(hf_bpe_t *m, const json_t *vocab, const char *origin, char *why, size_t whylen) {
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)vocab, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            return util_refuse(why, whylen, "%s: vocab entry \"%s\" is not an id", origin, k);
        hf_strtab_put(m->vocab, k, strlen(k), (int32_t)json_integer_value(v));
    }
    return 0;
}

/* The <0xNN> byte tokens, and the code point table of the one-character tokens (its size: the
 * largest such code point below CP_TABLE_MAX, plus one). */
static void s_byte_tokens(hf_bpe_t *m) {
    for (int b = 0; b < 256; b++) {
        char tok[8];
        snprintf(tok, sizeof tok, "<0x%02X>", b);
        m->byte_id[b] = hf_strtab_get(m->vocab, tok, 6);
    }
    const hf_strtab_t *t = m->vocab;
    uint32_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < t->cap; i++) {
            const strslot_t *sl = &t->slots[i];
            if (sl->id < 0 || !sl->len || sl->len > 4) continue;
            size_t k = 0;
            uint32_t cp = hf_utf8_next(t->keys.p + sl->off, &k);
            if (k != sl->len || cp >= CP_TABLE_MAX) continue;
            if (!pass && cp + 1 > n) n = cp + 1;
            if (pass) m->cp_id[cp] = sl->id;
        }
        if (!pass) {
            m->cp_n = n;
            m->cp_id = xmalloc(((size_t)n + 1) * sizeof *m->cp_id);
            for (uint32_t c = 0; c < n; c++) m->cp_id[c] = -1;
        }
    }
}

/* A member that must be null or an empty string (the affixes this module does not implement). */
static int s_no_affix(const json_t *model, const char *key, const char *origin, char *why, size_t whylen) {
    const json_t *v = json_object_get(model, key);
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) return 0;
    return util_refuse(why, whylen, "%s: model BPE option %s (non-empty) is not supported", origin, key);
}

int hf_bpe_load(const json_t *model, const char *origin, hf_bpe_t **out, char *why, size_t whylen) {
    *out = NULL;
    const char *type = hf_json_type(model);
    if (!json_is_object(model)) return util_refuse(why, whylen, "%s: no \"model\"", origin);
    if (!type) return util_refuse(why, whylen, "%s: model has no \"type\"", origin);
    if (strcmp(type, "BPE") != 0) return util_refuse(why, whylen, "%s: model type \"%s\" is not supported", origin, type);
    static const char *const keys[] = {"type", "dropout", "unk_token", "continuing_subword_prefix",
                                       "end_of_word_suffix", "fuse_unk", "byte_fallback", "ignore_merges",
                                       "vocab", "merges", NULL};
    if (hf_json_only(model, "model BPE", keys, why, whylen)) return -1;
    const json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return util_refuse(why, whylen, "%s: model BPE option dropout (not null) is not supported", origin);
    if (s_no_affix(model, "continuing_subword_prefix", origin, why, whylen) ||
        s_no_affix(model, "end_of_word_suffix", origin, why, whylen))
        return -1;
    const json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab)) return util_refuse(why, whylen, "%s: model BPE has no \"vocab\" object", origin);
    if (merges && !json_is_array(merges)) return util_refuse(why, whylen, "%s: model BPE \"merges\" is not a list", origin);
    hf_bpe_t *m = s_new(json_object_size(vocab), merges ? json_array_size(merges) : 0);
    m->byte_fallback = hf_json_bool(model, "byte_fallback", 0, "model BPE", why, whylen);
    m->fuse_unk = hf_json_bool(model, "fuse_unk", 0, "model BPE", why, whylen);
    m->ignore_merges = hf_json_bool(model, "ignore_merges", 0, "model BPE", why, whylen);
    if (m->byte_fallback < 0 || m->fuse_unk < 0 || m->ignore_merges < 0 || s_load_vocab(m, vocab, origin, why, whylen))
        goto fail;
    const json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) {
        m->unk = hf_strtab_get(m->vocab, json_string_value(unk), json_string_length(unk));
        if (m->unk < 0) {
            util_refuse(why, whylen, "%s: unk_token \"%s\" is not in the vocab", origin, json_string_value(unk));
            goto fail;
        }
    } else if (unk && !json_is_null(unk)) {
        util_refuse(why, whylen, "%s: unk_token is not a string", origin);
        goto fail;
    }
    s_byte_tokens(m);
    size_t i;
    const json_t *x;
    json_array_foreach(merges, i, x) {
        const char *a, *b;
        size_t an, bn;
        if (json_is_string(x)) { /* "a b" */
            a = json_string_value(x);
            const char *sp = strchr(a, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                util_refuse(why, whylen, "%s: merge %zu \"%s\" is not two tokens", origin, i + 1, a);
                goto fail;
            }
            an = (size_t)(sp - a);
            b = sp + 1;
            bn = json_string_length(x) - an - 1;
        } else if (json_is_array(x) && json_array_size(x) == 2 && json_is_string(json_array_get(x, 0)) &&
                   json_is_string(json_array_get(x, 1))) { /* ["a", "b"] */
            a = json_string_value(json_array_get(x, 0));
            an = json_string_length(json_array_get(x, 0));
            b = json_string_value(json_array_get(x, 1));
            bn = json_string_length(json_array_get(x, 1));
        } else {
            util_refuse(why, whylen, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", origin, i + 1);
            goto fail;
        }
        if (s_add_merge(m, a, an, b, bn, (uint32_t)i, origin, why, whylen)) goto fail;
    }
    *out = m;
    return 0;
fail:
    hf_bpe_free(m);
    return -1;
}

int hf_bpe_load_gpt2(const char *vocab_json, size_t vlen, const char *merges_txt, size_t mlen, hf_bpe_t **out,
                     char *why, size_t whylen) {
    *out = NULL;
    json_error_t e;
    json_t *vocab = json_loadb(vocab_json, vlen, 0, &e);
    if (!json_is_object(vocab)) {
        json_decref(vocab);
        return util_refuse(why, whylen, "vocab.json: not a JSON object (line %d: %s)", e.line, e.text);
    }
    size_t lines = 1;
    for (size_t i = 0; i < mlen; i++) lines += merges_txt[i] == '\n';
    hf_bpe_t *m = s_new(json_object_size(vocab), lines);
    int rc = s_load_vocab(m, vocab, "vocab.json", why, whylen);
    json_decref(vocab);
    if (rc) goto fail;
    s_byte_tokens(m);
    uint32_t rank = 0;
    size_t at = 0, line = 0;
    while (at < mlen) {
        const char *s = merges_txt + at, *nl = memchr(s, '\n', mlen - at);
        size_t n = nl ? (size_t)(nl - s) : mlen - at;
        at += n + 1;
        line++;
        if (n && s[n - 1] == '\r') n--;
        if (!n || (line == 1 && n >= 8 && !memcmp(s, "#version", 8))) continue;
        const char *sp = memchr(s, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) {
            util_refuse(why, whylen, "merges.txt: line %zu is not two tokens", line);
            goto fail;
        }
        if (s_add_merge(m, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp + 1 - s), rank++, "merges.txt", why, whylen))
            goto fail;
    }
    *out = m;
    return 0;
fail:
    hf_bpe_free(m);
    return -1;
}

/* ---- the merge loop --------------------------------------------------------------------------- */

typedef struct {
    int32_t id, prev, next;
    uint32_t len; /* bytes of the word; 0: merged away */
} sym_t;

typedef struct {
    uint32_t rank, pos;
    int32_t left, right, merged; /* the ids it joins, and the one it makes */
} cand_t;

static int s_before(const cand_t *a, const cand_t *b) { return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos); }

static void s_heap_push(cand_t *h, size_t *n, cand_t c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!s_before(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cand_t s_heap_pop(cand_t *h, size_t *n) {
    cand_t top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const cand_t *best = &last;
        if (l < *n && s_before(&h[l], best)) m = l, best = &h[l];
        if (r < *n && s_before(&h[r], best)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static void s_sym(hf_scratch_t *sc, size_t *n, int32_t id, uint32_t len) {
    if (*n == sc->sym_cap) {
        sc->sym_cap = sc->sym_cap ? 2 * sc->sym_cap : 256;
        sc->sym = xrealloc(sc->sym, sc->sym_cap * sizeof(sym_t));
    }
    sym_t *s = (sym_t *)sc->sym;
    s[*n] = (sym_t){id, (int32_t)*n - 1, (int32_t)*n + 1, len};
    (*n)++;
}

/* Pushes the pair at pos if it merges; home: where its look-up starts (s_merge_home). */
static void s_push_pair(const hf_bpe_t *m, hf_scratch_t *sc, size_t *nh, const sym_t *s, int32_t pos, size_t home) {
    if (s[pos].next < 0) return;
    int32_t a = s[pos].id, b = s[s[pos].next].id;
    const mergeslot_t *sl;
    if (a < SMALL && b < SMALL) {
        sl = &m->small[a * SMALL + b];
        if (sl->rank == UINT32_MAX) return;
    } else {
        uint64_t key = s_pair(a, b);
        for (size_t i = home;; i = (i + 1) & (m->mcap - 1)) {
            sl = &m->merges[i];
            if (sl->rank == UINT32_MAX) return;
            if (sl->key == key) break;
        }
    }
    s_heap_push((cand_t *)sc->heap, nh, (cand_t){sl->rank, (uint32_t)pos, s[pos].id, s[s[pos].next].id, sl->merged});
}

/* The look-up start of the pair at pos (its next must exist); none for a pair of small ids. */
static size_t s_home_at(const hf_bpe_t *m, const sym_t *s, int32_t pos) {
    int32_t a = s[pos].id, b = s[s[pos].next].id;
    return a < SMALL && b < SMALL ? 0 : s_merge_home(m, s_pair(a, b));
}

static void s_merge_word(const hf_bpe_t *m, const char *w, size_t n, hf_ids_t *out, hf_scratch_t *sc) {
    size_t ns = 0;
    int32_t unk = -1;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        size_t at = i;
        uint32_t cp = hf_utf8_next(w, &i);
        uint32_t len = (uint32_t)(i - at);
        int32_t id = cp < m->cp_n ? m->cp_id[cp] : hf_strtab_get(m->vocab, w + at, len);
        if (id >= 0) {
            if (unk >= 0) s_sym(sc, &ns, unk, unk_len), unk = -1;
            s_sym(sc, &ns, id, len);
            continue;
        }
        if (m->byte_fallback) {
            int all = 1;
            for (size_t k = at; k < i; k++) all &= m->byte_id[(unsigned char)w[k]] >= 0;
            if (all) { /* tokenizers adds the bytes without flushing a pending unknown token */
                for (size_t k = at; k < i; k++) s_sym(sc, &ns, m->byte_id[(unsigned char)w[k]], 1);
                continue;
            }
        }
        if (m->unk >= 0) {
            if (unk >= 0 && m->fuse_unk) unk_len += len;
            else {
                if (unk >= 0) s_sym(sc, &ns, unk, unk_len);
                unk = m->unk, unk_len = len;
            }
        }
    }
    if (unk >= 0) s_sym(sc, &ns, unk, unk_len);
    if (!ns) return;
    sym_t *s = (sym_t *)sc->sym;
    s[ns - 1].next = -1;
    /* ns - 1 candidates to start, at most two more per merge, at most ns - 1 merges */
    if (sc->heap_cap < 3 * ns + 16) {
        sc->heap_cap = 3 * ns + 16;
        free(sc->heap);
        sc->heap = xmalloc(sc->heap_cap * sizeof(cand_t));
    }
    size_t nh = 0;
    /* the first pairs' look-ups: all their homes first (prefetching them), then the look-ups */
    if (sc->home_cap < ns) {
        sc->home_cap = ns + 16;
        free(sc->home);
        sc->home = xmalloc(sc->home_cap * sizeof(size_t));
    }
    size_t *home = sc->home;
    for (size_t p = 0; p + 1 < ns; p++) home[p] = s_home_at(m, s, (int32_t)p);
    for (size_t p = 0; p + 1 < ns; p++) s_push_pair(m, sc, &nh, s, (int32_t)p, home[p]);
    while (nh) {
        cand_t c = s_heap_pop((cand_t *)sc->heap, &nh);
        sym_t *a = &s[c.pos];
        /* still the pair it was pushed for? (a symbol's id changes only as it grows, so the same
         * ids at the same place are the same pair; tokenizers looks the pair up again instead) */
        if (!a->len || a->next < 0 || a->id != c.left || s[a->next].id != c.right) continue;
        sym_t *b = &s[a->next];
        a->id = c.merged;
        a->len += b->len;
        a->next = b->next;
        b->len = 0;
        if (a->next >= 0) s[a->next].prev = (int32_t)c.pos;
        size_t hp = a->prev >= 0 ? s_home_at(m, s, a->prev) : 0, ha = a->next >= 0 ? s_home_at(m, s, (int32_t)c.pos) : 0;
        if (a->prev >= 0) s_push_pair(m, sc, &nh, s, a->prev, hp);
        if (a->next >= 0) s_push_pair(m, sc, &nh, s, (int32_t)c.pos, ha);
    }
    for (int32_t p = 0; p >= 0; p = s[p].next) hf_ids_push(out, s[p].id);
}

/* ---- the cache -------------------------------------------------------------------------------- */

#define CACHE_MAX_BYTES (64u << 20) /* of entries: past this the cache starts over */

static const char *s_entry(const hf_bpe_t *m, const cacheslot_t *c, uint32_t *klen, uint32_t *nids) {
    const char *e = m->centries.p + c->at1 - 1;
    memcpy(klen, e, 4);
    memcpy(nids, e + 4, 4);
    return e + 8;
}

static cacheslot_t *s_cache_find(hf_bpe_t *m, const char *w, size_t n, uint64_t h) {
    uint32_t mask = m->cache_cap - 1, i = (uint32_t)h & mask;
    for (;;) {
        cacheslot_t *c = &m->cache[i];
        if (!c->at1) return c;
        if (c->h == h) {
            uint32_t klen, nids;
            const char *k = s_entry(m, c, &klen, &nids);
            if (klen == n && !memcmp(k, w, n)) return c;
        }
        i = (i + 1) & mask;
    }
}

/* Room for one more word: the slots double up to CACHE_MAX_SLOTS (3/4 full at most), then the
 * cache starts over, as it does past CACHE_MAX_BYTES of entries. */
static void s_cache_room(hf_bpe_t *m) {
    if (4 * (m->cache_used + 1) <= 3 * m->cache_cap && m->centries.n <= CACHE_MAX_BYTES) return;
    if (m->cache_cap < CACHE_MAX_SLOTS && m->centries.n <= CACHE_MAX_BYTES) {
        cacheslot_t *old = m->cache;
        uint32_t oldcap = m->cache_cap;
        m->cache_cap *= 2;
        m->cache = xcalloc(m->cache_cap, sizeof *m->cache);
        for (uint32_t i = 0; i < oldcap; i++) {
            if (!old[i].at1) continue;
            uint32_t j = (uint32_t)old[i].h & (m->cache_cap - 1);
            while (m->cache[j].at1) j = (j + 1) & (m->cache_cap - 1);
            m->cache[j] = old[i];
        }
        free(old);
        return;
    }
    memset(m->cache, 0, m->cache_cap * sizeof *m->cache);
    m->cache_used = 0;
    m->centries.n = 0;
}

uint64_t hf_bpe_hash(const char *w, size_t n) { return s_hash(w, n); }

/* Starts the look-up of the word whose hash is h in the cache. Under the cache's mutex: the
 * cache moves as it grows. */
static void s_prefetch_locked(const hf_bpe_t *m, uint64_t h) { __builtin_prefetch(&m->cache[(uint32_t)h & (m->cache_cap - 1)]); }

void hf_bpe_word(hf_bpe_t *m, const char *w, size_t n, uint64_t h, uint64_t next_h, hf_ids_t *out, hf_scratch_t *sc) {
    if (!n) return;
    /* h: the vocabulary's hash and the cache's; the vocabulary does not change, so the next
     * word's slot there needs no lock to be prefetched */
    if (m->ignore_merges && next_h) __builtin_prefetch(&m->vocab->slots[next_h & (m->vocab->cap - 1)]);
    if (m->ignore_merges) {
        int32_t id = s_find(m->vocab, w, n, h)->id;
        if (id >= 0) {
            hf_ids_push(out, id);
            return;
        }
    }
    if (n >= CACHE_MAX_WORD) {
        s_merge_word(m, w, n, out, sc);
        return;
    }
    pthread_mutex_lock(&m->mu);
    if (next_h) s_prefetch_locked(m, next_h);
    cacheslot_t *c = s_cache_find(m, w, n, h);
    if (c->at1) {
        uint32_t klen, nids;
        const char *k = s_entry(m, c, &klen, &nids);
        hf_ids_put(out, (const int32_t *)(const void *)(k + ((klen + 3) & ~3u)), nids);
        pthread_mutex_unlock(&m->mu);
        return;
    }
    pthread_mutex_unlock(&m->mu);
    size_t start = out->n;
    s_merge_word(m, w, n, out, sc);
    pthread_mutex_lock(&m->mu);
    s_cache_room(m);
    c = s_cache_find(m, w, n, h);
    if (!c->at1) {
        uint32_t head[2] = {(uint32_t)n, (uint32_t)(out->n - start)};
        hf_buf_t *e = &m->centries;
        hf_buf_reserve(e, 8 + n + 3 + 4 * (size_t)head[1] + 3);
        e->n = (e->n + 3) & ~(size_t)3; /* entries start 4-aligned, so their ids are aligned too */
        *c = (cacheslot_t){h, (uint32_t)e->n + 1, 0};
        hf_buf_put(e, head, 8);
        hf_buf_put(e, w, n);
        e->n = (e->n + 3) & ~(size_t)3;
        hf_buf_put(e, out->v + start, 4 * (size_t)head[1]);
        m->cache_used++;
    }
    pthread_mutex_unlock(&m->mu);
}
