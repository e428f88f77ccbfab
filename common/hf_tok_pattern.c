/* hf_tok_pattern — the patterns of tokenizer.json (a literal string or an Oniguruma-syntax regex)
 * and the split behaviours Hugging Face applies to their matches.
 *
 * Regexes run on PCRE2 (UTF, Unicode properties, JIT when available). The syntax tokenizer.json
 * uses is Oniguruma's; two of its constructs mean something else in PCRE2 and are rewritten
 * before compiling, as the reference tokenizers.js rewrites them for JavaScript:
 *  - \s and \S: Unicode White_Space (PCRE2's \s with UCP also takes U+180E);
 *  - (?i:...): ASCII letters match both cases, nothing else folds (PCRE2 would fold ſ to s).
 * Empty matches are stepped over as the Rust onig crate's find_iter does. */
#include "common/hf_tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define WS_INNER "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

static int s_is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static char s_other_case(char c) { return (char)(c >= 'a' && c <= 'z' ? c - 32 : c + 32); }

/* The PCRE2 form of an Oniguruma pattern (malloc'd), or NULL with why. */
static char *s_rewrite(const char *re, const char *what, char *why, size_t whylen) {
    hf_buf_t o = {0};
    int fold[256], depth = 0, cur_fold = 0, in_class = 0;
    size_t n = strlen(re);
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char e = re[++i];
            if (e == 's' || e == 'S') {
                if (!in_class) hf_buf_put(&o, e == 's' ? "[" WS_INNER "]" : "[^" WS_INNER "]", e == 's' ? 2 + sizeof WS_INNER - 1 : 3 + sizeof WS_INNER - 1);
                else if (e == 's') hf_buf_put(&o, WS_INNER, sizeof WS_INNER - 1);
                else hf_buf_put(&o, "\\S", 2);
            } else {
                hf_buf_putc(&o, '\\');
                hf_buf_putc(&o, e);
            }
            continue;
        }
        if (in_class) {
            if (c == '[') {
                if (i + 1 < n && re[i + 1] == ':') { /* a POSIX class [:alpha:] */
                    const char *end = strstr(re + i, ":]");
                    if (!end) break;
                    hf_buf_put(&o, re + i, (size_t)(end + 2 - (re + i)));
                    i = (size_t)(end + 1 - re);
                    continue;
                }
                hf_buf_free(&o);
                util_refuse(why, whylen, "%s: regex \"%s\": nested character classes are not supported", what, re);
                return NULL;
            }
            if (c == ']') in_class = 0;
            if (cur_fold && s_is_alpha(c)) {
                if (i + 2 < n && re[i + 1] == '-' && s_is_alpha(re[i + 2]) && ((c >= 'a') == (re[i + 2] >= 'a'))) {
                    char r[8] = {c, '-', re[i + 2], s_other_case(c), '-', s_other_case(re[i + 2])};
                    hf_buf_put(&o, r, 6);
                    i += 2;
                } else {
                    hf_buf_putc(&o, c);
                    hf_buf_putc(&o, s_other_case(c));
                }
                continue;
            }
            hf_buf_putc(&o, c);
            continue;
        }
        if (c == '[') {
            in_class = 1;
            hf_buf_putc(&o, c);
            if (i + 1 < n && re[i + 1] == '^') hf_buf_putc(&o, re[++i]);
            if (i + 1 < n && re[i + 1] == ']') hf_buf_putc(&o, re[++i]); /* a leading ] is literal */
            continue;
        }
        if (c == '(') {
            if (depth == (int)(sizeof fold / sizeof fold[0])) break;
            fold[depth++] = cur_fold;
            if (!strncmp(re + i, "(?i:", 4)) {
                cur_fold = 1;
                hf_buf_put(&o, "(?:", 3);
                i += 3;
                continue;
            }
            if (!strncmp(re + i, "(?i)", 4) || !strncmp(re + i, "(?-i", 4) || !strncmp(re + i, "(?m", 3) ||
                !strncmp(re + i, "(?x", 3)) {
                hf_buf_free(&o);
                util_refuse(why, whylen, "%s: regex \"%s\": inline option groups other than (?i:...) are not supported",
                            what, re);
                return NULL;
            }
            hf_buf_putc(&o, c);
            continue;
        }
        if (c == ')') {
            if (depth > 0) cur_fold = fold[--depth];
            hf_buf_putc(&o, c);
            continue;
        }
        if (cur_fold && s_is_alpha(c)) {
            char r[4] = {'[', c, s_other_case(c), ']'};
            hf_buf_put(&o, r, 4);
            continue;
        }
        hf_buf_putc(&o, c);
    }
    hf_buf_putc(&o, 0);
    return o.p;
}

int hf_pattern_regex(hf_pattern_t *p, const char *re, const char *what, char *why, size_t whylen) {
    memset(p, 0, sizeof *p);
    char *pcre = s_rewrite(re, what, why, whylen);
    if (!pcre) return -1;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int err;
    PCRE2_SIZE at;
    p->re = pcre2_compile((PCRE2_SPTR)pcre, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &at, cc);
    pcre2_compile_context_free(cc);
    free(pcre);
    if (!p->re) {
        char msg[160];
        pcre2_get_error_message(err, (PCRE2_UCHAR *)msg, sizeof msg);
        return util_refuse(why, whylen, "%s: regex \"%s\" does not compile: %s", what, re, msg);
    }
    pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* without JIT (unsupported CPU), PCRE2 interprets */
    p->is_regex = 1;
    return 0;
}

int hf_pattern_literal(hf_pattern_t *p, const char *s, size_t n) {
    memset(p, 0, sizeof *p);
    p->lit = xmalloc(n + 1);
    memcpy(p->lit, s, n);
    p->lit[n] = 0;
    p->lit_len = n;
    return 0;
}

int hf_pattern_from_json(hf_pattern_t *p, const json_t *j, const char *what, char *why, size_t whylen) {
    memset(p, 0, sizeof *p);
    const json_t *s = json_object_get(j, "String"), *r = json_object_get(j, "Regex");
    if (json_is_string(s)) return hf_pattern_literal(p, json_string_value(s), json_string_length(s));
    if (json_is_string(r)) return hf_pattern_regex(p, json_string_value(r), what, why, whylen);
    return util_refuse(why, whylen, "%s: pattern must be {\"String\": ...} or {\"Regex\": ...}", what);
}

void hf_pattern_free(hf_pattern_t *p) {
    if (p->re) pcre2_code_free(p->re);
    free(p->lit);
    memset(p, 0, sizeof *p);
}

static void s_seg(hf_segs_t *o, size_t a, size_t b, int m) {
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 64;
        o->v = xrealloc(o->v, o->cap * sizeof *o->v);
    }
    o->v[o->n++] = (hf_seg_t){(uint32_t)a, (uint32_t)b, (uint32_t)m};
}

/* One regex match at or after from: 1 with [*s, *e), 0 when none. A match that overflows the
 * JIT stack is run again by the interpreter (which keeps its backtracking on the heap). */
static int s_match(const pcre2_code *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me,
                   pcre2_match_data *md) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
    if (rc < 0) return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

void hf_pattern_find(const hf_pattern_t *p, const char *s, size_t n, hf_segs_t *out, hf_scratch_t *sc) {
    out->n = 0;
    size_t prev = 0;
    if (p->is_regex) {
        size_t last_end = 0, last_match_end = 0, ms, me;
        int have_last = 0;
        while (last_end <= n && s_match(p->re, s, n, last_end, &ms, &me, sc->md)) {
            if (ms == me && have_last && last_match_end == me) {
                /* an empty match where the last one ended: step one character */
                if (last_end >= n) break;
                size_t i = last_end;
                hf_utf8_next(s, &i);
                last_end = i;
                continue;
            }
            last_end = last_match_end = me;
            have_last = 1;
            if (prev != ms) s_seg(out, prev, ms, 0);
            s_seg(out, ms, me, 1);
            prev = me;
        }
    } else if (p->lit_len) {
        const char *at = s, *end = s + n;
        while ((at = memmem(at, (size_t)(end - at), p->lit, p->lit_len))) {
            size_t ms = (size_t)(at - s);
            if (prev != ms) s_seg(out, prev, ms, 0);
            s_seg(out, ms, ms + p->lit_len, 1);
            prev = ms + p->lit_len;
            at += p->lit_len;
        }
    }
    if (prev != n || n == 0) s_seg(out, prev, n, 0);
}

int hf_behavior_from_json(const json_t *j, hf_behavior_t *b, const char *what, char *why, size_t whylen) {
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    const char *s = json_string_value(j);
    for (int i = 0; s && i < 5; i++)
        if (!strcmp(s, names[i])) {
            *b = (hf_behavior_t)i;
            return 0;
        }
    return util_refuse(why, whylen, "%s: behavior \"%s\" is not supported", what, s ? s : "(missing)");
}

void hf_split(hf_segs_t *segs, hf_behavior_t behavior, int invert) {
    hf_seg_t *v = segs->v;
    size_t n = segs->n, k = 0;
    if (invert)
        for (size_t i = 0; i < n; i++) v[i].m = !v[i].m;
    switch (behavior) {
    case HF_ISOLATED:
        for (size_t i = 0; i < n; i++) v[k++] = (hf_seg_t){v[i].a, v[i].b, 1};
        break;
    case HF_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!v[i].m) v[k++] = (hf_seg_t){v[i].a, v[i].b, 1};
        break;
    case HF_CONTIGUOUS: {
        int prev = 0;
        for (size_t i = 0; i < n; i++) {
            int m = v[i].m;
            if (k && m == prev) v[k - 1].b = v[i].b;
            else v[k++] = (hf_seg_t){v[i].a, v[i].b, 1};
            prev = m;
        }
        break;
    }
    case HF_MERGED_PREVIOUS: {
        int prev = 0;
        for (size_t i = 0; i < n; i++) {
            int m = v[i].m;
            if (k && m && !prev) v[k - 1].b = v[i].b;
            else v[k++] = (hf_seg_t){v[i].a, v[i].b, 1};
            prev = m;
        }
        break;
    }
    case HF_MERGED_NEXT: {
        /* from the end: a match joins the piece after it; the kept pieces fill v from the top */
        int prev = 0;
        size_t top = n; /* v[top..n) holds the kept pieces, last one first at v[top] */
        for (size_t i = n; i-- > 0;) {
            int m = v[i].m;
            hf_seg_t cur = v[i];
            if (top < n && m && !prev) v[top].a = cur.a;
            else v[--top] = (hf_seg_t){cur.a, cur.b, 1};
            prev = m;
        }
        for (size_t i = top; i < n; i++) v[k++] = v[i];
        break;
    }
    }
    /* drop the empty pieces */
    size_t w = 0;
    for (size_t i = 0; i < k; i++)
        if (v[i].b > v[i].a) v[w++] = v[i];
    segs->n = w;
}

void hf_pattern_replace(const hf_pattern_t *p, const char *s, size_t n, const char *content, size_t clen,
                        hf_buf_t *out, hf_scratch_t *sc) {
    hf_pattern_find(p, s, n, &sc->segs, sc);
    for (size_t i = 0; i < sc->segs.n; i++) {
        const hf_seg_t *g = &sc->segs.v[i];
        if (g->m) hf_buf_put(out, content, clen);
        else hf_buf_put(out, s + g->a, g->b - g->a);
    }
}
