/* hf_tok_added — added tokens: found in the text before the model sees it and never split. A
 * byte trie holds their contents; the text is cut at the leftmost-longest match, one after the
 * other (what tokenizers' AddedVocabulary does with its Aho-Corasick automaton), and a token's
 * single_word, lstrip and rstrip apply as there: single_word skips a match inside a word, lstrip
 * and rstrip take the white space before and after the token into it. */
#include "common/hf_tok_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/util.h"

typedef struct {
    int32_t child, sibling, token; /* token: index in the added list, -1 when no token ends here */
    uint8_t byte;
} node_t;

struct hf_trie {
    node_t *v;
    size_t n, cap;
    uint8_t first[256]; /* does some token start with this byte? (most text bytes do not) */
};

static int32_t s_node(hf_trie_t *t, uint8_t byte) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n] = (node_t){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

hf_trie_t *hf_trie_new(void) {
    hf_trie_t *t = xcalloc(1, sizeof *t);
    s_node(t, 0);
    return t;
}

void hf_trie_free(hf_trie_t *t) {
    if (!t) return;
    free(t->v);
    free(t);
}

int hf_trie_empty(const hf_trie_t *t) { return t->n <= 1; }

static int32_t s_child(const hf_trie_t *t, int32_t at, uint8_t byte) {
    for (int32_t c = t->v[at].child; c >= 0; c = t->v[c].sibling)
        if (t->v[c].byte == byte) return c;
    return -1;
}

void hf_trie_add(hf_trie_t *t, const char *s, size_t n, int token) {
    if (!n) return;
    int32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t c = s_child(t, at, b);
        if (c < 0) {
            c = s_node(t, b);
            t->v[c].sibling = t->v[at].child;
            t->v[at].child = c;
        }
        at = c;
    }
    t->v[at].token = token;
    t->first[(uint8_t)s[0]] = 1;
}

/* A word character as the regex \w of tokenizers' single_word check sees it. */
static int s_word_char(uint32_t cp) {
    if (cp == '_') return 1;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC: return 1;
    default: return 0;
    }
}

/* The start of the character that ends at s[at] (at > 0). */
static size_t s_back(const char *s, size_t at) {
    do at--;
    while (at > 0 && ((unsigned char)s[at] & 0xC0) == 0x80);
    return at;
}

static void s_seg(hf_segs_t *o, size_t a, size_t b, uint32_t m) {
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        o->v = xrealloc(o->v, o->cap * sizeof *o->v);
    }
    o->v[o->n++] = (hf_seg_t){(uint32_t)a, (uint32_t)b, m};
}

void hf_trie_split(const hf_trie_t *t, const hf_added_t *added, const char *s, size_t n, hf_segs_t *out) {
    size_t done = 0, pos = 0;
    while (pos < n) {
        if (!t->first[(uint8_t)s[pos]]) {
            pos++;
            continue;
        }
        int32_t at = 0, tok = -1;
        size_t len = 0;
        for (size_t i = pos; i < n; i++) {
            at = s_child(t, at, (uint8_t)s[i]);
            if (at < 0) break;
            if (t->v[at].token >= 0) tok = t->v[at].token, len = i + 1 - pos;
        }
        if (tok < 0) {
            pos++;
            continue;
        }
        const hf_added_t *a = &added[tok];
        size_t start = pos, stop = pos + len;
        pos = stop; /* the search goes on after this match, kept or not */
        if (a->single_word) {
            size_t b = start > 0 ? s_back(s, start) : 0, e = stop;
            int word_before = start > 0 && s_word_char(hf_utf8_next(s, &b));
            int word_after = stop < n && s_word_char(hf_utf8_next(s, &e));
            if (word_before || word_after) continue;
        }
        if (a->lstrip) {
            while (start > done) {
                size_t b = s_back(s, start), e = b;
                if (!hf_is_white_space(hf_utf8_next(s, &e))) break;
                start = b;
            }
        }
        if (a->rstrip) {
            while (stop < n) {
                size_t e = stop;
                if (!hf_is_white_space(hf_utf8_next(s, &e))) break;
                stop = e;
            }
            pos = stop;
        }
        if (done < start) s_seg(out, done, start, 0);
        s_seg(out, start, stop, (uint32_t)tok + 1);
        done = stop;
    }
    if (done < n) s_seg(out, done, n, 0);
}
