/* jinja_lex — a template's source into tokens, the way jinja2's lexer reads it with transformers'
 * settings: newlines normalised to \n and one trailing newline dropped (keep_trailing_newline
 * off), "{%- / -%}" strip all white space on their side, trim_blocks drops the first newline after
 * a block or comment tag, lstrip_blocks drops the spaces and tabs between a line's start and a
 * block or comment tag. Comments are dropped here. The '+' whitespace modifier is refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jinja_internal.h"
#include "common/util.h"

typedef struct {
    jj_arena_t *a;
    const char *s;
    size_t n, pos;
    int line;
    jj_tok_t *toks;
    int ntoks, cap;
    char *why;
    size_t whylen;
} lexer_t;

static int s_fail(lexer_t *L, const char *msg) {
    snprintf(L->why, L->whylen, "template syntax error at line %d: %s", L->line, msg);
    return -1;
}

static jj_tok_t *s_push(lexer_t *L, jj_tok_kind_t kind, const char *s, size_t n) {
    if (L->ntoks == L->cap) {
        int cap = L->cap ? L->cap * 2 : 256;
        jj_tok_t *t = jj_alloc(L->a, (size_t)cap * sizeof *t);
        if (L->ntoks) memcpy(t, L->toks, (size_t)L->ntoks * sizeof *t);
        L->toks = t;
        L->cap = cap;
    }
    jj_tok_t *t = &L->toks[L->ntoks++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->s = s ? jj_strndup(L->a, s, n) : NULL;
    t->n = n;
    t->line = L->line;
    return t;
}

static void s_advance(lexer_t *L, size_t to) {
    for (size_t i = L->pos; i < to && i < L->n; i++)
        if (L->s[i] == '\n') L->line++;
    L->pos = to;
}

/* Python's \s at i: its byte length, or 0. */
static size_t s_space_at(const char *s, size_t n, size_t i) {
    size_t k;
    int32_t c = jj_utf8_next(s + i, n - i, &k);
    return jj_is_space(c) ? k : 0;
}

static size_t s_skip_space(const char *s, size_t n, size_t i) {
    size_t k;
    while (i < n && (k = s_space_at(s, n, i))) i += k;
    return i;
}

/* The length of text[0..n) without its trailing white space (Python's rstrip()). */
static size_t s_rstrip_len(const char *t, size_t n) {
    size_t end = 0, i = 0, k;
    while (i < n) {
        int32_t c = jj_utf8_next(t + i, n - i, &k);
        if (!jj_is_space(c)) end = i + k;
        i += k;
    }
    return end;
}

static void s_put_utf8(jj_buf_t *b, uint32_t c) {
    char u[4];
    if (c < 0x80) {
        jj_buf_addc(b, (char)c);
    } else if (c < 0x800) {
        u[0] = (char)(0xC0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3F));
        jj_buf_add(b, u, 2);
    } else if (c < 0x10000) {
        u[0] = (char)(0xE0 | (c >> 12)), u[1] = (char)(0x80 | ((c >> 6) & 0x3F)), u[2] = (char)(0x80 | (c & 0x3F));
        jj_buf_add(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (c >> 18)), u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F));
        jj_buf_add(b, u, 4);
    }
}

static int s_hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string literal at L->pos (its quote): Python's unicode-escape rules, which jinja2 applies. */
static int s_string(lexer_t *L) {
    const char *s = L->s;
    char q = s[L->pos];
    size_t i = L->pos + 1;
    jj_buf_t b = {0};
    while (i < L->n && s[i] != q) {
        if (s[i] != '\\') {
            jj_buf_addc(&b, s[i++]);
            continue;
        }
        if (i + 1 >= L->n) break;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '\n': break; /* a line continuation */
        case '\\': jj_buf_addc(&b, '\\'); break;
        case '\'': jj_buf_addc(&b, '\''); break;
        case '"': jj_buf_addc(&b, '"'); break;
        case 'a': jj_buf_addc(&b, '\a'); break;
        case 'b': jj_buf_addc(&b, '\b'); break;
        case 'f': jj_buf_addc(&b, '\f'); break;
        case 'n': jj_buf_addc(&b, '\n'); break;
        case 'r': jj_buf_addc(&b, '\r'); break;
        case 't': jj_buf_addc(&b, '\t'); break;
        case 'v': jj_buf_addc(&b, '\v'); break;
        case 'x': case 'u': case 'U': {
            int want = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t c = 0;
            for (int k = 0; k < want; k++) {
                int h = i + (size_t)k < L->n ? s_hex((unsigned char)s[i + (size_t)k]) : -1;
                if (h < 0) {
                    free(b.s);
                    return s_fail(L, "a truncated \\x, \\u or \\U escape in a string");
                }
                c = c * 16 + (uint32_t)h;
            }
            if (c > 0x10FFFF) {
                free(b.s);
                return s_fail(L, "a \\U escape beyond U+10FFFF in a string");
            }
            i += (size_t)want;
            s_put_utf8(&b, c);
            break;
        }
        case 'N':
            free(b.s);
            return s_fail(L, "the \\N{...} escape in a string is not implemented");
        default:
            if (e >= '0' && e <= '7') {
                uint32_t c = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i < L->n && s[i] >= '0' && s[i] <= '7'; k++) c = c * 8 + (uint32_t)(s[i++] - '0');
                s_put_utf8(&b, c);
            } else { /* Python keeps an unknown escape as it is */
                jj_buf_addc(&b, '\\');
                jj_buf_addc(&b, e);
            }
        }
    }
    if (i >= L->n) {
        free(b.s);
        return s_fail(L, "a string that does not end");
    }
    s_push(L, JT_STRING, b.s ? b.s : "", b.n);
    free(b.s);
    s_advance(L, i + 1);
    return 0;
}

static int s_is_digit(char c) { return c >= '0' && c <= '9'; }
static int s_is_name(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || s_is_digit(c); }

static int s_number(lexer_t *L) {
    const char *s = L->s;
    size_t i = L->pos, start = i;
    while (i < L->n && s_is_digit(s[i])) i++;
    int is_float = 0;
    int after_dot = L->ntoks && L->toks[L->ntoks - 1].kind == JT_OP && !strcmp(L->toks[L->ntoks - 1].s, ".");
    if (!after_dot && i + 1 < L->n && s[i] == '.' && s_is_digit(s[i + 1])) {
        is_float = 1;
        i++;
        while (i < L->n && s_is_digit(s[i])) i++;
    }
    if (!after_dot && i < L->n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (s[j] == '+' || s[j] == '-')) j++;
        if (j < L->n && s_is_digit(s[j])) {
            while (j < L->n && s_is_digit(s[j])) j++;
            is_float = 1;
            i = j;
        }
    }
    if (i < L->n && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
        return s_fail(L, "a number written with '_', a base prefix or letters is not implemented");
    char tmp[64];
    if (i - start >= sizeof tmp) return s_fail(L, "a number too long");
    memcpy(tmp, s + start, i - start);
    tmp[i - start] = 0;
    jj_tok_t *t = s_push(L, is_float ? JT_FLOAT : JT_INT, tmp, i - start);
    if (is_float) {
        t->f = strtod(tmp, NULL);
    } else {
        errno = 0;
        unsigned long long u = strtoull(tmp, NULL, 10);
        if (errno || u > INT64_MAX) return s_fail(L, "an integer beyond 64 bits is not implemented");
        t->i = (int64_t)u;
    }
    s_advance(L, i);
    return 0;
}

static const char *const s_ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                    "(",  ")",  "[",  "]",  "{",  "}",  ",", ".", ":", "|", "="};

/* The inside of a {% %} or {{ }} tag, from L->pos to its end (consumed, with its whitespace rule).
 * Returns 0, or -1. Sets *line_starting. */
static int s_tag(lexer_t *L, int block, int *line_starting) {
    const char *s = L->s;
    int depth = 0;
    for (;;) {
        s_advance(L, s_skip_space(s, L->n, L->pos));
        size_t i = L->pos;
        if (i >= L->n) return s_fail(L, block ? "a '{%' tag that does not end" : "a '{{' that does not end");
        char c = s[i];
        char close = block ? '%' : '}';
        if (depth == 0) {
            size_t end = 0;
            int strip = 0;
            if (c == '-' && i + 2 < L->n && s[i + 1] == close && s[i + 2] == '}') end = i + 3, strip = 1;
            else if (c == '+' && i + 2 < L->n && s[i + 1] == close && s[i + 2] == '}')
                return s_fail(L, "the '+' whitespace modifier is not implemented");
            else if (c == close && i + 1 < L->n && s[i + 1] == '}') end = i + 2;
            if (end) {
                s_push(L, block ? JT_STMT_END : JT_EXPR_END, NULL, 0);
                if (strip) end = s_skip_space(s, L->n, end);
                else if (block && end < L->n && s[end] == '\n') end++; /* trim_blocks */
                *line_starting = end > 0 && s[end - 1] == '\n';
                s_advance(L, end);
                return 0;
            }
        }
        if (c == '\'' || c == '"') {
            if (s_string(L)) return -1;
            continue;
        }
        if (s_is_digit(c)) {
            if (s_number(L)) return -1;
            continue;
        }
        if (s_is_name(c)) {
            size_t j = i;
            while (j < L->n && s_is_name(s[j])) j++;
            s_push(L, JT_NAME, s + i, j - i);
            s_advance(L, j);
            continue;
        }
        const char *op = NULL;
        for (size_t k = 0; k < sizeof s_ops / sizeof *s_ops; k++) {
            size_t m = strlen(s_ops[k]);
            if (i + m <= L->n && !memcmp(s + i, s_ops[k], m)) {
                op = s_ops[k];
                break;
            }
        }
        if (!op) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected character '%c'", c);
            return s_fail(L, msg);
        }
        if (op[0] == '(' || op[0] == '[' || op[0] == '{') depth++;
        if ((op[0] == ')' || op[0] == ']' || op[0] == '}') && depth > 0) depth--;
        s_push(L, JT_OP, op, strlen(op));
        s_advance(L, i + strlen(op));
    }
}

/* The source with \r\n and \r made \n and one trailing newline dropped, as jinja2 does. */
static char *s_normalise(jj_arena_t *a, const char *src, size_t len, size_t *out_len) {
    char *t = jj_alloc(a, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            t[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            t[n++] = src[i];
        }
    }
    if (n && t[n - 1] == '\n') n--;
    t[n] = 0;
    *out_len = n;
    return t;
}

int jj_lex(jj_arena_t *a, const char *src, size_t len, jj_tok_t **toks, int *ntoks, char *why, size_t whylen) {
    lexer_t L = {.a = a, .line = 1, .why = why, .whylen = whylen};
    L.s = s_normalise(a, src, len, &L.n);
    int line_starting = 1;
    while (L.pos < L.n) {
        const char *s = L.s;
        size_t t = L.pos;
        while (t + 1 < L.n && !(s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#'))) t++;
        if (t + 1 >= L.n) t = L.n;
        size_t text_len = t - L.pos;
        const char *text = s + L.pos;
        if (t < L.n) {
            char kind = s[t + 1];
            char sign = t + 2 < L.n ? s[t + 2] : 0;
            if (sign == '-') {
                text_len = s_rstrip_len(text, text_len);
            } else if (sign == '+' && kind != '{') {
                return s_fail(&L, "the '+' whitespace modifier is not implemented");
            } else if (kind != '{') { /* lstrip_blocks */
                size_t l = text_len;
                while (l > 0 && text[l - 1] != '\n') l--;
                if (l > 0 || line_starting) {
                    size_t k = l;
                    while (k < text_len && (text[k] == ' ' || text[k] == '\t')) k++;
                    if (k == text_len) text_len = l;
                }
            }
        }
        if (text_len) s_push(&L, JT_TEXT, text, text_len);
        s_advance(&L, t);
        if (t >= L.n) break;
        char kind = s[t + 1];
        size_t p = t + 2;
        if (p < L.n && s[p] == '-') p++;
        if (kind == '#') {
            const char *end = NULL;
            for (size_t i = p; i + 1 < L.n; i++)
                if (s[i] == '#' && s[i + 1] == '}') {
                    end = s + i;
                    break;
                }
            if (!end) return s_fail(&L, "a comment that does not end");
            size_t e = (size_t)(end - s), after = e + 2;
            if (e > p && s[e - 1] == '-') after = s_skip_space(s, L.n, after);
            else if (after < L.n && s[after] == '\n') after++;
            line_starting = after > 0 && s[after - 1] == '\n';
            s_advance(&L, after);
            continue;
        }
        s_push(&L, kind == '%' ? JT_STMT_BEGIN : JT_EXPR_BEGIN, NULL, 0);
        s_advance(&L, p);
        if (s_tag(&L, kind == '%', &line_starting)) return -1;
    }
    s_push(&L, JT_EOF, NULL, 0);
    *toks = L.toks;
    *ntoks = L.ntoks;
    return 0;
}
