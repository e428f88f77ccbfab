/* hf_tok_decoder — tokenizer.json's decoders, which turn token strings back into text: ByteLevel
 * (GPT-2's unicode stand-ins back to bytes), ByteFallback (<0xNN> tokens back to bytes), Metaspace
 * (▁ back to spaces), Replace, Fuse, Strip, and Sequence of those. Each maps a list of strings to
 * a list of strings, as tokenizers' decode_chain does; the text is their concatenation. Bytes that
 * are not UTF-8 decode as tokenizers decodes them (U+FFFD). */
#include "common/hf_tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef enum { D_BYTE_LEVEL, D_BYTE_FALLBACK, D_METASPACE, D_REPLACE, D_FUSE, D_STRIP } kind_t;

typedef struct {
    kind_t kind;
    hf_pattern_t pat;   /* Replace */
    char *content;      /* Replace's content */
    size_t clen;
    uint32_t ch;        /* Metaspace's replacement, Strip's content */
    int drop_first;     /* Metaspace: prepend_scheme is not "never" */
    long start, stop;   /* Strip */
} step_t;

struct hf_decoder {
    step_t *steps;
    int n;
};

static void s_push(hf_decoder_t *d, const step_t *st) {
    d->steps = xrealloc(d->steps, (size_t)(d->n + 1) * sizeof *d->steps);
    d->steps[d->n++] = *st;
}

/* The one character of member key, or -1. */
static long s_char(const json_t *j, const char *key) {
    const json_t *v = json_object_get(j, key);
    const char *s = json_string_value(v);
    size_t i = 0;
    if (!s || !*s) return -1;
    uint32_t cp = hf_utf8_next(s, &i);
    return i == json_string_length(v) ? (long)cp : -1;
}

static int s_load(const json_t *j, hf_decoder_t *d, char *why, size_t whylen) {
    const char *type = hf_json_type(j);
    if (!type) return util_refuse(why, whylen, "decoder has no \"type\"");
    step_t st = {0};
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(j, "decoders"), *x;
        size_t i;
        if (!json_is_array(list)) return util_refuse(why, whylen, "decoder Sequence has no \"decoders\" list");
        json_array_foreach(list, i, x) if (s_load(x, d, why, whylen)) return -1;
        return 0;
    } else if (!strcmp(type, "ByteLevel")) {
        static const char *const keys[] = {"type", "add_prefix_space", "trim_offsets", "use_regex", NULL};
        if (hf_json_only(j, "decoder ByteLevel", keys, why, whylen)) return -1;
        st.kind = D_BYTE_LEVEL;
    } else if (!strcmp(type, "ByteFallback")) {
        static const char *const keys[] = {"type", NULL};
        if (hf_json_only(j, "decoder ByteFallback", keys, why, whylen)) return -1;
        st.kind = D_BYTE_FALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        static const char *const keys[] = {"type", NULL};
        if (hf_json_only(j, "decoder Fuse", keys, why, whylen)) return -1;
        st.kind = D_FUSE;
    } else if (!strcmp(type, "Metaspace")) {
        static const char *const keys[] = {"type", "replacement", "add_prefix_space", "prepend_scheme", "split", "str_rep", NULL};
        if (hf_json_only(j, "decoder Metaspace", keys, why, whylen)) return -1;
        long c = s_char(j, "replacement");
        if (c < 0) return util_refuse(why, whylen, "decoder Metaspace: \"replacement\" must be one character");
        st.kind = D_METASPACE;
        st.ch = (uint32_t)c;
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        if (scheme) {
            if (strcmp(scheme, "always") && strcmp(scheme, "first") && strcmp(scheme, "never"))
                return util_refuse(why, whylen, "decoder Metaspace: prepend_scheme \"%s\" is not supported", scheme);
            st.drop_first = strcmp(scheme, "never") != 0;
        } else {
            st.drop_first = hf_json_bool(j, "add_prefix_space", 1, "decoder Metaspace", why, whylen);
            if (st.drop_first < 0) return -1;
        }
    } else if (!strcmp(type, "Replace")) {
        static const char *const keys[] = {"type", "pattern", "content", NULL};
        if (hf_json_only(j, "decoder Replace", keys, why, whylen)) return -1;
        const json_t *c = json_object_get(j, "content");
        if (!json_is_string(c)) return util_refuse(why, whylen, "decoder Replace has no \"content\" string");
        if (hf_pattern_from_json(&st.pat, json_object_get(j, "pattern"), "decoder Replace", why, whylen)) return -1;
        st.kind = D_REPLACE;
        st.clen = json_string_length(c);
        st.content = xmalloc(st.clen + 1);
        memcpy(st.content, json_string_value(c), st.clen + 1);
    } else if (!strcmp(type, "Strip")) {
        static const char *const keys[] = {"type", "content", "start", "stop", NULL};
        if (hf_json_only(j, "decoder Strip", keys, why, whylen)) return -1;
        long c = s_char(j, "content");
        const json_t *a = json_object_get(j, "start"), *b = json_object_get(j, "stop");
        if (c < 0 || !json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 || json_integer_value(b) < 0)
            return util_refuse(why, whylen, "decoder Strip needs a one-character \"content\" and counts \"start\", \"stop\"");
        st.kind = D_STRIP;
        st.ch = (uint32_t)c;
        st.start = (long)json_integer_value(a);
        st.stop = (long)json_integer_value(b);
    } else {
        return util_refuse(why, whylen, "decoder type \"%s\" is not supported", type);
    }
    s_push(d, &st);
    return 0;
}

int hf_decoder_load(const json_t *j, hf_decoder_t **out, char *why, size_t whylen) {
    *out = NULL;
    if (!j || json_is_null(j)) return 0;
    hf_decoder_t *d = xcalloc(1, sizeof *d);
    if (s_load(j, d, why, whylen)) {
        hf_decoder_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

hf_decoder_t *hf_decoder_byte_level(void) {
    hf_decoder_t *d = xcalloc(1, sizeof *d);
    step_t st = {.kind = D_BYTE_LEVEL};
    s_push(d, &st);
    return d;
}

void hf_decoder_free(hf_decoder_t *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        hf_pattern_free(&d->steps[i].pat);
        free(d->steps[i].content);
    }
    free(d->steps);
    free(d);
}

/* ---- the steps -------------------------------------------------------------------------------- */

/* All tokens' bytes, then one lossy UTF-8 string. A token with a character outside the byte map
 * (an added token like "<|im_start|>" maps, one with a space would not) gives its own bytes. */
static void s_byte_level(const hf_pieces_t *in, hf_pieces_t *out, hf_scratch_t *sc) {
    hf_buf_t *bytes = &sc->b1;
    bytes->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        const char *t = hf_piece(in, k);
        size_t n = in->v[k].len, i = 0, mark = bytes->n;
        while (i < n) {
            int b = hf_char_byte(hf_utf8_next(t, &i));
            if (b < 0) break;
            hf_buf_putc(bytes, (char)b);
        }
        if (i < n) { /* not every character mapped: the token as it is */
            bytes->n = mark;
            hf_buf_put(bytes, t, n);
        }
    }
    size_t off = out->text.n;
    hf_utf8_lossy(&out->text, (const unsigned char *)(bytes->p ? bytes->p : ""), bytes->n);
    hf_pieces_close(out, off, 0);
}

static int s_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A run of <0xNN> tokens becomes its bytes when they are UTF-8, else one U+FFFD per byte (as
 * tokenizers' ByteFallback decoder does). */
static void s_flush_bytes(hf_buf_t *bytes, hf_pieces_t *out) {
    if (!bytes->n) return;
    size_t off = out->text.n;
    if (hf_utf8_valid(bytes->p, bytes->n)) hf_buf_put(&out->text, bytes->p, bytes->n);
    else
        for (size_t i = 0; i < bytes->n; i++) hf_buf_put(&out->text, "\xEF\xBF\xBD", 3);
    hf_pieces_close(out, off, 0);
    bytes->n = 0;
}

static void s_byte_fallback(const hf_pieces_t *in, hf_pieces_t *out, hf_scratch_t *sc) {
    hf_buf_t *bytes = &sc->b1;
    bytes->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        const char *t = hf_piece(in, k);
        size_t n = in->v[k].len;
        int hi, lo;
        if (n == 6 && !memcmp(t, "<0x", 3) && t[5] == '>' && (hi = s_hex(t[3])) >= 0 && (lo = s_hex(t[4])) >= 0) {
            hf_buf_putc(bytes, (char)(hi * 16 + lo));
            continue;
        }
        s_flush_bytes(bytes, out);
        hf_pieces_add(out, t, n, 0);
    }
    s_flush_bytes(bytes, out);
}

static void s_per_token(const step_t *st, const hf_pieces_t *in, hf_pieces_t *out, hf_scratch_t *sc) {
    for (size_t k = 0; k < in->n; k++) {
        const char *t = hf_piece(in, k);
        size_t n = in->v[k].len, off = out->text.n;
        if (st->kind == D_REPLACE) {
            hf_pattern_replace(&st->pat, t, n, st->content, st->clen, &out->text, sc);
        } else if (st->kind == D_METASPACE) {
            /* the first token loses its replacement characters (the prepended space), others turn
             * them into spaces */
            for (size_t i = 0; i < n;) {
                size_t at = i;
                uint32_t c = hf_utf8_next(t, &i);
                if (c != st->ch) hf_buf_put(&out->text, t + at, i - at);
                else if (!(k == 0 && st->drop_first)) hf_buf_putc(&out->text, ' ');
            }
        } else { /* D_STRIP: up to start leading and stop trailing content characters */
            size_t a = 0, b = n;
            for (long c = 0; c < st->start && a < n; c++) {
                size_t i = a;
                if (hf_utf8_next(t, &i) != st->ch) break;
                a = i;
            }
            for (long c = 0; c < st->stop && b > a; c++) {
                size_t j = b;
                do j--;
                while (j > a && ((unsigned char)t[j] & 0xC0) == 0x80);
                size_t i = j;
                if (hf_utf8_next(t, &i) != st->ch) break;
                b = j;
            }
            hf_buf_put(&out->text, t + a, b - a);
        }
        hf_pieces_close(out, off, 0);
    }
}

void hf_decode_chain(const hf_decoder_t *d, hf_pieces_t **cur, hf_pieces_t **spare, hf_scratch_t *sc) {
    for (int k = 0; k < d->n; k++) {
        const step_t *st = &d->steps[k];
        hf_pieces_t *in = *cur, *out = *spare;
        hf_pieces_clear(out);
        switch (st->kind) {
        case D_BYTE_LEVEL: s_byte_level(in, out, sc); break;
        case D_BYTE_FALLBACK: s_byte_fallback(in, out, sc); break;
        case D_FUSE: {
            size_t off = out->text.n;
            for (size_t i = 0; i < in->n; i++) hf_buf_put(&out->text, hf_piece(in, i), in->v[i].len);
            hf_pieces_close(out, off, 0);
            break;
        }
        default: s_per_token(st, in, out, sc); break;
        }
        *cur = out;
        *spare = in;
    }
}
