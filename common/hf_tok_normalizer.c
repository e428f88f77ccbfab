/* hf_tok_normalizer — tokenizer.json's normalizers: NFC (utf8proc), Prepend, Replace (a literal or
 * a regex) and Sequence of those. A normalizer turns one piece of text (the text between added
 * tokens) into its normalized form; anything else is refused on load. */
#include "common/hf_tok_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/util.h"

typedef enum { N_NFC, N_PREPEND, N_REPLACE } kind_t;

typedef struct {
    kind_t kind;
    char *text; /* Prepend's prefix, Replace's content */
    size_t len;
    hf_pattern_t pat;
} step_t;

/* A Sequence is flattened on load, so a normalizer is a list of steps run in order. */
struct hf_normalizer {
    step_t *steps;
    int n;
};

static int s_load(const json_t *j, hf_normalizer_t *nz, char *why, size_t whylen) {
    const char *type = hf_json_type(j);
    if (!type) return util_refuse(why, whylen, "normalizer has no \"type\"");
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(j, "normalizers"), *x;
        size_t i;
        if (!json_is_array(list)) return util_refuse(why, whylen, "normalizer Sequence has no \"normalizers\" list");
        json_array_foreach(list, i, x) if (s_load(x, nz, why, whylen)) return -1;
        return 0;
    }
    step_t st = {0};
    if (!strcmp(type, "NFC")) {
        st.kind = N_NFC;
    } else if (!strcmp(type, "Prepend")) {
        const json_t *p = json_object_get(j, "prepend");
        if (!json_is_string(p)) return util_refuse(why, whylen, "normalizer Prepend has no \"prepend\" string");
        st.kind = N_PREPEND;
        st.len = json_string_length(p);
        st.text = xmalloc(st.len + 1);
        memcpy(st.text, json_string_value(p), st.len + 1);
    } else if (!strcmp(type, "Replace")) {
        const json_t *c = json_object_get(j, "content");
        if (!json_is_string(c)) return util_refuse(why, whylen, "normalizer Replace has no \"content\" string");
        if (hf_pattern_from_json(&st.pat, json_object_get(j, "pattern"), "normalizer Replace", why, whylen)) return -1;
        st.kind = N_REPLACE;
        st.len = json_string_length(c);
        st.text = xmalloc(st.len + 1);
        memcpy(st.text, json_string_value(c), st.len + 1);
    } else {
        return util_refuse(why, whylen, "normalizer type \"%s\" is not supported", type);
    }
    nz->steps = xrealloc(nz->steps, (size_t)(nz->n + 1) * sizeof *nz->steps);
    nz->steps[nz->n++] = st;
    return 0;
}

int hf_normalizer_load(const json_t *j, hf_normalizer_t **out, char *why, size_t whylen) {
    *out = NULL;
    if (!j || json_is_null(j)) return 0;
    hf_normalizer_t *nz = xcalloc(1, sizeof *nz);
    if (s_load(j, nz, why, whylen)) {
        hf_normalizer_free(nz);
        return -1;
    }
    *out = nz;
    return 0;
}

void hf_normalizer_free(hf_normalizer_t *nz) {
    if (!nz) return;
    for (int i = 0; i < nz->n; i++) {
        free(nz->steps[i].text);
        hf_pattern_free(&nz->steps[i].pat);
    }
    free(nz->steps);
    free(nz);
}

/* Code points that NFC may change or that may change what comes before them: a combining class
 * that is not 0, a canonical decomposition (but Hangul syllables, which NFC keeps), or the second
 * of a pair that composes (the last code point of a canonical decomposition of two or more, and
 * Hangul's vowel and trailing jamo). Text without them is its own NFC; the bitmap covers the
 * planes where such pairs exist (below U+30000), from utf8proc's own data. */
#define NFC_TABLE 0x30000
static uint8_t s_unstable[NFC_TABLE / 8];
static pthread_once_t s_unstable_once = PTHREAD_ONCE_INIT;

static void s_mark(uint32_t cp) {
    if (cp < NFC_TABLE) s_unstable[cp >> 3] |= (uint8_t)(1u << (cp & 7));
}

/* Does NFC change cp itself (a combining class, or a canonical decomposition)? The second
 * composing code point of a decomposition of two or more is marked on the way. */
static int s_changes(uint32_t cp, int mark_second) {
    if (utf8proc_get_property((utf8proc_int32_t)cp)->combining_class) return 1;
    utf8proc_int32_t d[8];
    int last = 0;
    utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)cp, d, 8, UTF8PROC_DECOMPOSE, &last);
    if (k == 1 && (uint32_t)d[0] == cp) return 0;
    if (mark_second && k >= 2 && k <= 8) s_mark((uint32_t)d[k - 1]);
    return !(cp >= 0xAC00 && cp <= 0xD7A3);
}

static void s_unstable_init(void) {
    for (uint32_t cp = 0x300; cp < NFC_TABLE; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        if (s_changes(cp, 1)) s_mark(cp);
    }
    for (uint32_t cp = 0x1161; cp <= 0x1175; cp++) s_mark(cp);
    for (uint32_t cp = 0x11A8; cp <= 0x11C2; cp++) s_mark(cp);
}

static int s_is_nfc(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0xCC) { /* below U+0300: nothing to compose or reorder */
            i++;
            continue;
        }
        uint32_t cp = hf_utf8_next(s, &i);
        if (cp < NFC_TABLE ? (s_unstable[cp >> 3] >> (cp & 7)) & 1 : s_changes(cp, 0)) return 0;
    }
    return 1;
}

/* NFC of s (appended to out): s itself when it has no code point NFC could touch (s_is_nfc),
 * which covers most text without calling utf8proc. */
static void s_nfc(const char *s, size_t n, hf_buf_t *out) {
    pthread_once(&s_unstable_once, s_unstable_init);
    if (s_is_nfc(s, n)) {
        hf_buf_put(out, s, n);
        return;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m < 0) hf_buf_put(out, s, n); /* cannot happen on valid UTF-8 but for memory */
    else hf_buf_put(out, dst, (size_t)m);
    free(dst);
}

static void s_step(const step_t *st, const char *s, size_t n, hf_buf_t *out, hf_scratch_t *sc) {
    out->n = 0;
    switch (st->kind) {
    case N_NFC: s_nfc(s, n, out); break;
    case N_PREPEND: /* tokenizers prepends to non-empty text only */
        if (n) hf_buf_put(out, st->text, st->len);
        hf_buf_put(out, s, n);
        break;
    case N_REPLACE: hf_pattern_replace(&st->pat, s, n, st->text, st->len, out, sc); break;
    }
}

void hf_normalize(const hf_normalizer_t *nz, const char *s, size_t n, hf_buf_t *out, hf_scratch_t *sc) {
    hf_buf_t *a = &sc->b2, *b = &sc->b3;
    a->n = 0;
    hf_buf_put(a, s, n);
    for (int i = 0; i < nz->n; i++) {
        s_step(&nz->steps[i], a->p ? a->p : "", a->n, b, sc);
        hf_buf_t *t = a;
        a = b;
        b = t;
    }
    out->n = 0;
    hf_buf_put(out, a->p ? a->p : "", a->n);
}
