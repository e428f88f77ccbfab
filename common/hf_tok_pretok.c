/* hf_tok_pretok — tokenizer.json's pre-tokenizers: ByteLevel (GPT-2's regex and byte → unicode
 * map), Split (a pattern and a split behaviour), Metaspace (spaces → ▁, prepend scheme, split),
 * Digits, and Sequence of those. Each takes a list of pieces to a finer list, as Hugging Face's
 * PreTokenizedString::split does; a piece remembers whether it starts the original text, which
 * Metaspace's prepend_scheme "first" asks. */
#include "common/hf_tok_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/util.h"

#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef enum { P_BYTE_LEVEL, P_SPLIT, P_METASPACE, P_DIGITS } kind_t;
typedef enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } prepend_t;

typedef struct {
    kind_t kind;
    int add_prefix_space, use_regex;    /* ByteLevel */
    hf_pattern_t pat;                   /* Split's pattern, ByteLevel's regex, Metaspace's char */
    hf_behavior_t behavior;             /* Split */
    int invert;                         /* Split */
    char repl[5];                       /* Metaspace's replacement, UTF-8 */
    size_t repl_len;
    prepend_t prepend;                  /* Metaspace */
    int split;                          /* Metaspace */
    int individual_digits;              /* Digits */
} step_t;

/* A Sequence is flattened on load: the steps run in order over the whole list. */
struct hf_pretok {
    step_t *steps;
    int n;
};

/* ---- GPT-2's byte ↔ unicode map ---------------------------------------------------------------- */

/* Printable bytes stand for themselves; the others (controls, space, 0x7F-0xA0, 0xAD) take the code
 * points from U+0100 on, in byte order. */
static int s_self(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

#define R8(b) B(b), B(b + 1), B(b + 2), B(b + 3), B(b + 4), B(b + 5), B(b + 6), B(b + 7)
/* the n-th byte that does not stand for itself maps to 0x100 + n */
#define B(b) (uint16_t)(s_self_c(b) ? (b) : 0x100 + s_rank_c(b))
#define s_self_c(b) (((b) >= 0x21 && (b) <= 0x7E) || ((b) >= 0xA1 && (b) <= 0xAC) || ((b) >= 0xAE && (b) <= 0xFF))
/* how many non-self bytes come before b: 0x00-0x20 are 33, 0x7F-0xA0 are 34 more, then 0xAD */
#define s_rank_c(b) ((b) <= 0x20 ? (b) : (b) <= 0xA0 ? 33 + (b) - 0x7F : 67)
const uint16_t hf_byte_char[256] = {R8(0),   R8(8),   R8(16),  R8(24),  R8(32),  R8(40),  R8(48),  R8(56),
                                    R8(64),  R8(72),  R8(80),  R8(88),  R8(96),  R8(104), R8(112), R8(120),
                                    R8(128), R8(136), R8(144), R8(152), R8(160), R8(168), R8(176), R8(184),
                                    R8(192), R8(200), R8(208), R8(216), R8(224), R8(232), R8(240), R8(248)};
#undef B
#undef R8

int hf_char_byte(uint32_t cp) {
    if (cp < 256) return s_self((int)cp) ? (int)cp : -1;
    if (cp < 0x100 + 33) return (int)(cp - 0x100);
    if (cp < 0x100 + 67) return (int)(cp - 0x100 - 33 + 0x7F);
    if (cp == 0x100 + 67) return 0xAD;
    return -1;
}

/* ---- loading ---------------------------------------------------------------------------------- */

static void s_push(hf_pretok_t *p, const step_t *st) {
    p->steps = xrealloc(p->steps, (size_t)(p->n + 1) * sizeof *p->steps);
    p->steps[p->n++] = *st;
}

static int s_byte_level(step_t *st, int add_prefix_space, int use_regex, char *why, size_t whylen) {
    memset(st, 0, sizeof *st);
    st->kind = P_BYTE_LEVEL;
    st->add_prefix_space = add_prefix_space;
    st->use_regex = use_regex;
    return use_regex ? hf_pattern_regex(&st->pat, GPT2_REGEX, "pre_tokenizer ByteLevel", why, whylen) : 0;
}

static int s_load(const json_t *j, hf_pretok_t *p, char *why, size_t whylen) {
    const char *type = hf_json_type(j);
    if (!type) return util_refuse(why, whylen, "pre_tokenizer has no \"type\"");
    step_t st = {0};
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(j, "pretokenizers"), *x;
        size_t i;
        if (!json_is_array(list)) return util_refuse(why, whylen, "pre_tokenizer Sequence has no \"pretokenizers\" list");
        json_array_foreach(list, i, x) if (s_load(x, p, why, whylen)) return -1;
        return 0;
    } else if (!strcmp(type, "ByteLevel")) {
        int aps = hf_json_bool(j, "add_prefix_space", 0, "pre_tokenizer ByteLevel", why, whylen);
        int ur = hf_json_bool(j, "use_regex", 1, "pre_tokenizer ByteLevel", why, whylen);
        if (aps < 0 || ur < 0 || hf_json_bool(j, "trim_offsets", 0, "pre_tokenizer ByteLevel", why, whylen) < 0) return -1;
        if (s_byte_level(&st, aps, ur, why, whylen)) return -1;
    } else if (!strcmp(type, "Split")) {
        st.kind = P_SPLIT;
        if (hf_behavior_from_json(json_object_get(j, "behavior"), &st.behavior, "pre_tokenizer Split", why, whylen))
            return -1;
        st.invert = hf_json_bool(j, "invert", 0, "pre_tokenizer Split", why, whylen);
        if (st.invert < 0) return -1;
        if (hf_pattern_from_json(&st.pat, json_object_get(j, "pattern"), "pre_tokenizer Split", why, whylen)) return -1;
    } else if (!strcmp(type, "Metaspace")) {
        st.kind = P_METASPACE;
        const json_t *r = json_object_get(j, "replacement");
        const char *rs = json_string_value(r);
        size_t ri = 0;
        if (!rs || !*rs || (hf_utf8_next(rs, &ri), ri != json_string_length(r)))
            return util_refuse(why, whylen, "pre_tokenizer Metaspace: \"replacement\" must be one character");
        memcpy(st.repl, rs, ri);
        st.repl_len = ri;
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        if (scheme) {
            if (!strcmp(scheme, "always")) st.prepend = PREPEND_ALWAYS;
            else if (!strcmp(scheme, "first")) st.prepend = PREPEND_FIRST;
            else if (!strcmp(scheme, "never")) st.prepend = PREPEND_NEVER;
            else return util_refuse(why, whylen, "pre_tokenizer Metaspace: prepend_scheme \"%s\" is not supported", scheme);
        } else { /* before prepend_scheme there was add_prefix_space */
            int aps = hf_json_bool(j, "add_prefix_space", 1, "pre_tokenizer Metaspace", why, whylen);
            if (aps < 0) return -1;
            st.prepend = aps ? PREPEND_ALWAYS : PREPEND_NEVER;
        }
        st.split = hf_json_bool(j, "split", 1, "pre_tokenizer Metaspace", why, whylen);
        if (st.split < 0) return -1;
        hf_pattern_literal(&st.pat, st.repl, st.repl_len);
    } else if (!strcmp(type, "Digits")) {
        st.kind = P_DIGITS;
        st.individual_digits = hf_json_bool(j, "individual_digits", 0, "pre_tokenizer Digits", why, whylen);
        if (st.individual_digits < 0) return -1;
    } else {
        return util_refuse(why, whylen, "pre_tokenizer type \"%s\" is not supported", type);
    }
    s_push(p, &st);
    return 0;
}

int hf_pretok_load(const json_t *j, hf_pretok_t **out, char *why, size_t whylen) {
    *out = NULL;
    if (!j || json_is_null(j)) return 0;
    hf_pretok_t *p = xcalloc(1, sizeof *p);
    if (s_load(j, p, why, whylen)) {
        hf_pretok_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

hf_pretok_t *hf_pretok_gpt2(char *why, size_t whylen) {
    hf_pretok_t *p = xcalloc(1, sizeof *p);
    step_t st;
    if (s_byte_level(&st, 0, 1, why, whylen)) {
        free(p);
        return NULL;
    }
    s_push(p, &st);
    return p;
}

void hf_pretok_free(hf_pretok_t *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) hf_pattern_free(&p->steps[i].pat);
    free(p->steps);
    free(p);
}

/* ---- running ---------------------------------------------------------------------------------- */

/* The UTF-8 of each byte's stand-in character, so mapping a piece is a table copy per byte. */
typedef struct {
    char s[2];
    uint8_t n;
} mapped_t;
static mapped_t s_mapped[256];
static pthread_once_t s_mapped_once = PTHREAD_ONCE_INIT;

static void s_mapped_init(void) {
    for (int b = 0; b < 256; b++) {
        uint32_t c = hf_byte_char[b];
        if (c < 0x80) s_mapped[b] = (mapped_t){{(char)c, 0}, 1};
        else s_mapped[b] = (mapped_t){{(char)(0xC0 | (c >> 6)), (char)(0x80 | (c & 0x3F))}, 2};
    }
}

static void s_map_bytes(hf_pieces_t *out, const char *s, size_t n, int first) {
    size_t off = out->text.n;
    hf_buf_reserve(&out->text, 2 * n);
    char *o = out->text.p + off;
    for (size_t i = 0; i < n; i++) {
        const mapped_t *m = &s_mapped[(unsigned char)s[i]];
        o[0] = m->s[0];
        if (m->n == 2) o[1] = m->s[1];
        o += m->n;
    }
    out->text.n = (size_t)(o - out->text.p);
    hf_pieces_close(out, off, first);
}

/* The pieces of s that split keeps, appended to out. */
static void s_emit(hf_pieces_t *out, const char *s, const hf_segs_t *segs, int first) {
    for (size_t k = 0; k < segs->n; k++)
        hf_pieces_add(out, s + segs->v[k].a, segs->v[k].b - segs->v[k].a, first && segs->v[k].a == 0);
}

static void s_byte_level_run(const step_t *st, const char *s, size_t n, int first, hf_pieces_t *out,
                             hf_scratch_t *sc) {
    if (st->add_prefix_space && (n == 0 || s[0] != ' ')) {
        sc->b1.n = 0;
        hf_buf_putc(&sc->b1, ' ');
        hf_buf_put(&sc->b1, s, n);
        s = sc->b1.p;
        n = sc->b1.n;
    }
    if (!st->use_regex) {
        s_map_bytes(out, s, n, first);
        return;
    }
    hf_pattern_find(&st->pat, s, n, &sc->segs, sc);
    hf_split(&sc->segs, HF_ISOLATED, 0);
    for (size_t k = 0; k < sc->segs.n; k++)
        s_map_bytes(out, s + sc->segs.v[k].a, sc->segs.v[k].b - sc->segs.v[k].a, first && sc->segs.v[k].a == 0);
}

static void s_metaspace_run(const step_t *st, const char *s, size_t n, int first, hf_pieces_t *out,
                            hf_scratch_t *sc) {
    hf_buf_t *b = &sc->b1;
    b->n = 0;
    int prepend = st->prepend == PREPEND_ALWAYS || (st->prepend == PREPEND_FIRST && first);
    /* spaces become the replacement first, then it is prepended unless the text starts with it */
    size_t i0 = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ') {
            hf_buf_put(b, s + i0, i - i0);
            hf_buf_put(b, st->repl, st->repl_len);
            i0 = i + 1;
        }
    hf_buf_put(b, s + i0, n - i0);
    if (prepend && !(b->n >= st->repl_len && !memcmp(b->p, st->repl, st->repl_len))) {
        hf_buf_reserve(b, st->repl_len);
        memmove(b->p + st->repl_len, b->p, b->n);
        memcpy(b->p, st->repl, st->repl_len);
        b->n += st->repl_len;
    }
    if (!st->split) {
        hf_pieces_add(out, b->p ? b->p : "", b->n, first);
        return;
    }
    hf_pattern_find(&st->pat, b->p ? b->p : "", b->n, &sc->segs, sc);
    hf_split(&sc->segs, HF_MERGED_NEXT, 0);
    s_emit(out, b->p, &sc->segs, first);
}

static int s_numeric(uint32_t cp) {
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

static void s_digits_run(const step_t *st, const char *s, size_t n, int first, hf_pieces_t *out, hf_scratch_t *sc) {
    hf_segs_t *g = &sc->segs;
    g->n = 0;
    size_t prev = 0, i = 0;
    /* every numeric character is a match of its own (tokenizers' char::is_numeric predicate) */
    while (i < n) {
        size_t at = i;
        uint32_t cp = hf_utf8_next(s, &i);
        if (!s_numeric(cp)) continue;
        if (g->n + 2 > g->cap) {
            g->cap = g->cap ? 2 * g->cap : 64;
            g->v = xrealloc(g->v, g->cap * sizeof *g->v);
        }
        if (prev < at) g->v[g->n++] = (hf_seg_t){(uint32_t)prev, (uint32_t)at, 0};
        g->v[g->n++] = (hf_seg_t){(uint32_t)at, (uint32_t)i, 1};
        prev = i;
    }
    if (prev < n) {
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 64;
            g->v = xrealloc(g->v, g->cap * sizeof *g->v);
        }
        g->v[g->n++] = (hf_seg_t){(uint32_t)prev, (uint32_t)n, 0};
    }
    hf_split(g, st->individual_digits ? HF_ISOLATED : HF_CONTIGUOUS, 0);
    s_emit(out, s, g, first);
}

void hf_pretokenize(const hf_pretok_t *p, hf_pieces_t **cur, hf_pieces_t **spare, hf_scratch_t *sc) {
    pthread_once(&s_mapped_once, s_mapped_init);
    for (int k = 0; k < p->n; k++) {
        const step_t *st = &p->steps[k];
        hf_pieces_t *in = *cur, *out = *spare;
        hf_pieces_clear(out);
        for (size_t i = 0; i < in->n; i++) {
            const char *s = hf_piece(in, i);
            size_t n = in->v[i].len;
            int first = in->v[i].first;
            switch (st->kind) {
            case P_BYTE_LEVEL: s_byte_level_run(st, s, n, first, out, sc); break;
            case P_METASPACE: s_metaspace_run(st, s, n, first, out, sc); break;
            case P_DIGITS: s_digits_run(st, s, n, first, out, sc); break;
            case P_SPLIT:
                hf_pattern_find(&st->pat, s, n, &sc->segs, sc);
                hf_split(&sc->segs, st->behavior, st->invert);
                s_emit(out, s, &sc->segs, first);
                break;
            }
        }
        *cur = out;
        *spare = in;
    }
}
