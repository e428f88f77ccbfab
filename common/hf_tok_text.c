/* hf_tok_text — the tokenizer's text plumbing: growable byte and id buffers, UTF-8 checks and
 * lossy decoding, lists of pieces in one buffer, the per-call scratch, small JSON helpers. */
#include "common/hf_tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* ---- buffers ---------------------------------------------------------------------------------- */

void hf_buf_reserve(hf_buf_t *b, size_t more) {
    if (b->n + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + more) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void hf_buf_put(hf_buf_t *b, const void *s, size_t n) {
    if (!n) return;
    hf_buf_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void hf_buf_putc(hf_buf_t *b, char c) {
    hf_buf_reserve(b, 1);
    b->p[b->n++] = c;
}

void hf_buf_put_cp(hf_buf_t *b, uint32_t cp) {
    hf_buf_reserve(b, 4);
    unsigned char *o = (unsigned char *)b->p + b->n;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        b->n += 1;
    } else if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        b->n += 2;
    } else if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        b->n += 3;
    } else {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        b->n += 4;
    }
}

void hf_buf_free(hf_buf_t *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void hf_ids_push(hf_ids_t *a, int32_t id) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = id;
}

void hf_ids_put(hf_ids_t *a, const int32_t *ids, size_t n) {
    if (!n) return;
    if (a->n + n > a->cap) {
        while (a->n + n > a->cap) a->cap = a->cap ? 2 * a->cap : 64;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    memcpy(a->v + a->n, ids, n * sizeof *ids);
    a->n += n;
}

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

/* The sequence a lead byte c starts: its length (0: c starts none) and the range of the second
 * byte, which depends on the first (no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t s_lead(unsigned c, unsigned *lo, unsigned *hi) {
    *lo = 0x80, *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* The length of the well-formed sequence at s[0..n), or 0 when it is not one. */
static size_t s_seq_len(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    unsigned lo, hi;
    size_t len = s_lead(s[0], &lo, &hi);
    if (len == 0 || n < 2 || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (k >= n || (s[k] & 0xC0) != 0x80) return 0;
    return len;
}

/* How many bytes of s[0..n) are the start of a well-formed sequence that is cut short or broken
 * (at least 1): the "maximal subpart" that one U+FFFD replaces. */
static size_t s_bad_len(const unsigned char *s, size_t n) {
    unsigned lo, hi;
    size_t len = s_lead(s[0], &lo, &hi);
    if (len == 0 || n < 2 || s[1] < lo || s[1] > hi) return 1;
    size_t k = 2;
    while (k < len && k < n && (s[k] & 0xC0) == 0x80) k++;
    return k;
}

int hf_utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = s_seq_len(u + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

uint32_t hf_utf8_next(const char *s, size_t *i) {
    const unsigned char *u = (const unsigned char *)s + *i;
    uint32_t c = u[0];
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    if (c < 0xE0) {
        *i += 2;
        return ((c & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (c < 0xF0) {
        *i += 3;
        return ((c & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *i += 4;
    return ((c & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}

void hf_utf8_lossy(hf_buf_t *out, const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t l = s[i] < 0x80 ? 1 : s_seq_len(s + i, n - i);
        if (l) {
            hf_buf_put(out, s + i, l);
            i += l;
        } else {
            hf_buf_put(out, "\xEF\xBF\xBD", 3);
            i += s_bad_len(s + i, n - i);
        }
    }
}

int hf_is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- pieces ----------------------------------------------------------------------------------- */

void hf_pieces_clear(hf_pieces_t *p) {
    p->text.n = 0;
    p->n = 0;
}

void hf_pieces_close(hf_pieces_t *p, size_t off, int first) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 32;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = (hf_span_t){(uint32_t)off, (uint32_t)(p->text.n - off), (uint8_t)first};
}

void hf_pieces_add(hf_pieces_t *p, const char *s, size_t n, int first) {
    size_t off = p->text.n;
    hf_buf_put(&p->text, s, n);
    hf_pieces_close(p, off, first);
}

void hf_pieces_free(hf_pieces_t *p) {
    hf_buf_free(&p->text);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* ---- scratch ---------------------------------------------------------------------------------- */

void hf_scratch_init(hf_scratch_t *s) {
    memset(s, 0, sizeof *s);
    s->md = pcre2_match_data_create(1, NULL);
    if (!s->md) abort();
}

void hf_scratch_free(hf_scratch_t *s) {
    pcre2_match_data_free(s->md);
    free(s->segs.v);
    hf_buf_free(&s->b1);
    hf_buf_free(&s->b2);
    hf_buf_free(&s->b3);
    hf_pieces_free(&s->p1);
    hf_pieces_free(&s->p2);
    hf_pieces_free(&s->p3);
    hf_pieces_free(&s->p4);
    free(s->sym);
    free(s->heap);
    free(s->home);
    free(s->raw.v);
    free(s->part.v);
    hf_buf_free(&s->norm);
    free(s->tmp.v);
    memset(s, 0, sizeof *s);
}

size_t hf_scratch_bytes(const hf_scratch_t *s) {
    return s->segs.cap * sizeof(hf_seg_t) + s->b1.cap + s->b2.cap + s->b3.cap + s->p1.text.cap + s->p2.text.cap +
           s->p3.text.cap + s->p4.text.cap + (s->p1.cap + s->p2.cap + s->p3.cap + s->p4.cap) * sizeof(hf_span_t) +
           s->sym_cap * 16 + s->heap_cap * 20 + s->home_cap * sizeof(size_t) +
           (s->raw.cap + s->part.cap) * sizeof(hf_seg_t) + s->norm.cap + s->tmp.cap * sizeof(int32_t);
}

/* ---- JSON ------------------------------------------------------------------------------------- */

const char *hf_json_type(const json_t *j) { return json_string_value(json_object_get(j, "type")); }

int hf_json_bool(const json_t *o, const char *key, int def, const char *what, char *why, size_t whylen) {
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return def;
    if (!json_is_boolean(v)) return util_refuse(why, whylen, "%s: \"%s\" is not a boolean", what, key);
    return json_is_true(v);
}

int hf_json_only(const json_t *o, const char *what, const char *const *keys, char *why, size_t whylen) {
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        int known = 0;
        for (const char *const *q = keys; *q && !known; q++) known = !strcmp(*q, k);
        if (!known) return util_refuse(why, whylen, "%s: option \"%s\" is not supported", what, k);
    }
    return 0;
}
