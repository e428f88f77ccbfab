/* jinja_value — a template's values: Python's None, bool, int, float, str, list, tuple and dict,
 * jinja2's Undefined and namespace, and functions (macros, bound methods, globals), all in a render's
 * arena. Here too what Python makes of them: truth, equality, str() and repr(), and json.dumps as
 * transformers' tojson filter calls it (ensure_ascii off by default). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/jinja_internal.h"

jv_t jv_undefined_v = {.k = JV_UNDEF}, jv_none_v = {.k = JV_NONE}, jv_true_v = {.k = JV_BOOL, .u.b = 1},
     jv_false_v = {.k = JV_BOOL, .u.b = 0};

jv_t *jv_undef(jj_arena_t *a, const char *name) {
    if (!name) return &jv_undefined_v;
    jv_t *v = jj_alloc(a, sizeof *v);
    v->k = JV_UNDEF;
    v->u.str.s = name;
    v->u.str.n = strlen(name);
    return v;
}

jv_t *jv_bool(int b) { return b ? &jv_true_v : &jv_false_v; }

jv_t *jv_int(jj_arena_t *a, int64_t i) {
    jv_t *v = jj_alloc(a, sizeof *v);
    v->k = JV_INT;
    v->u.i = i;
    return v;
}

jv_t *jv_float(jj_arena_t *a, double f) {
    jv_t *v = jj_alloc(a, sizeof *v);
    v->k = JV_FLOAT;
    v->u.f = f;
    return v;
}

jv_t *jv_str_own(jj_arena_t *a, const char *s, size_t n) {
    jv_t *v = jj_alloc(a, sizeof *v);
    v->k = JV_STR;
    v->u.str.s = s;
    v->u.str.n = n;
    return v;
}

jv_t *jv_str(jj_arena_t *a, const char *s, size_t n) { return jv_str_own(a, jj_strndup(a, s, n), n); }

jv_t *jv_list(jj_arena_t *a, jv_kind_t kind, size_t n) {
    jv_t *v = jj_alloc(a, sizeof *v);
    v->k = kind;
    v->u.list.n = n;
    v->u.list.v = jj_alloc(a, (n ? n : 1) * sizeof(jv_t *));
    return v;
}

jv_t *jv_dict(jj_arena_t *a, jv_kind_t kind) {
    jv_t *v = jj_alloc(a, sizeof *v);
    v->k = kind;
    return v;
}

jv_t *jv_dict_get(const jv_t *d, const jv_t *key) {
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (jv_equal(d->u.dict.keys[i], key)) return d->u.dict.vals[i];
    return NULL;
}

jv_t *jv_dict_gets(const jv_t *d, const char *key, size_t n) {
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const jv_t *k = d->u.dict.keys[i];
        if (k->k == JV_STR && k->u.str.n == n && !memcmp(k->u.str.s, key, n)) return d->u.dict.vals[i];
    }
    return NULL;
}

void jv_dict_set(jj_arena_t *a, jv_t *d, jv_t *key, jv_t *val) {
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (jv_equal(d->u.dict.keys[i], key)) {
            d->u.dict.vals[i] = val;
            return;
        }
    if (d->u.dict.n == d->u.dict.cap) {
        size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 4;
        jv_t **k = jj_alloc(a, cap * sizeof *k), **v = jj_alloc(a, cap * sizeof *v);
        if (d->u.dict.n) {
            memcpy(k, d->u.dict.keys, d->u.dict.n * sizeof *k);
            memcpy(v, d->u.dict.vals, d->u.dict.n * sizeof *v);
        }
        d->u.dict.keys = k, d->u.dict.vals = v, d->u.dict.cap = cap;
    }
    d->u.dict.keys[d->u.dict.n] = key;
    d->u.dict.vals[d->u.dict.n++] = val;
}

jv_t *jv_func(jj_arena_t *a, jj_func_kind_t kind, const char *name) {
    jv_t *v = jj_alloc(a, sizeof *v);
    v->k = JV_FUNC;
    v->u.fn.kind = kind;
    v->u.fn.name = name;
    return v;
}

int jv_is_gen(const jv_t *v) { return v->k == JV_LIST && v->u.list.gen; }

jv_t *jv_drain(jj_arena_t *a, jv_t *v) {
    if (!jv_is_gen(v)) return v;
    size_t n = v->u.list.n - v->u.list.pos;
    jv_t *l = jv_list(a, JV_LIST, n);
    memcpy(l->u.list.v, v->u.list.v + v->u.list.pos, n * sizeof(jv_t *));
    v->u.list.pos = v->u.list.n;
    return l;
}

jv_t *jv_from_json(jj_arena_t *a, json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv_t *d = jv_dict(a, JV_DICT);
        const char *k;
        json_t *x;
        json_object_foreach(j, k, x) jv_dict_set(a, d, jv_str(a, k, strlen(k)), jv_from_json(a, x));
        return d;
    }
    case JSON_ARRAY: {
        jv_t *l = jv_list(a, JV_LIST, json_array_size(j));
        for (size_t i = 0; i < l->u.list.n; i++) l->u.list.v[i] = jv_from_json(a, json_array_get(j, i));
        return l;
    }
    case JSON_STRING: return jv_str(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return jv_int(a, json_integer_value(j));
    case JSON_REAL: return jv_float(a, json_real_value(j));
    case JSON_TRUE: return &jv_true_v;
    case JSON_FALSE: return &jv_false_v;
    default: return &jv_none_v;
    }
}

int jv_truthy(const jv_t *v) {
    switch (v->k) {
    case JV_UNDEF:
    case JV_NONE: return 0;
    case JV_BOOL: return v->u.b;
    case JV_INT: return v->u.i != 0;
    case JV_FLOAT: return v->u.f != 0;
    case JV_STR: return v->u.str.n > 0;
    case JV_LIST:
    case JV_TUPLE: return v->u.list.gen || v->u.list.n > 0;
    case JV_DICT: return v->u.dict.n > 0;
    default: return 1;
    }
}

static int s_numeric(const jv_t *v) { return v->k == JV_INT || v->k == JV_FLOAT || v->k == JV_BOOL; }
static double s_num(const jv_t *v) { return v->k == JV_FLOAT ? v->u.f : v->k == JV_INT ? (double)v->u.i : v->u.b; }

int jv_equal(const jv_t *a, const jv_t *b) {
    if (a == b) return 1;
    if (s_numeric(a) && s_numeric(b)) {
        if (a->k != JV_FLOAT && b->k != JV_FLOAT) {
            int64_t x = a->k == JV_INT ? a->u.i : a->u.b, y = b->k == JV_INT ? b->u.i : b->u.b;
            return x == y;
        }
        return s_num(a) == s_num(b);
    }
    if (a->k != b->k) return 0;
    switch (a->k) {
    case JV_UNDEF:
    case JV_NONE: return 1;
    case JV_STR: return a->u.str.n == b->u.str.n && !memcmp(a->u.str.s, b->u.str.s, a->u.str.n);
    case JV_LIST:
    case JV_TUPLE:
        if (a->u.list.gen || b->u.list.gen || a->u.list.n != b->u.list.n) return 0;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!jv_equal(a->u.list.v[i], b->u.list.v[i])) return 0;
        return 1;
    case JV_DICT:
        if (a->u.dict.n != b->u.dict.n) return 0;
        for (size_t i = 0; i < a->u.dict.n; i++) {
            const jv_t *o = jv_dict_get(b, a->u.dict.keys[i]);
            if (!o || !jv_equal(a->u.dict.vals[i], o)) return 0;
        }
        return 1;
    default: return 0; /* namespaces and functions: by identity */
    }
}

const char *jv_type_name(const jv_t *v) {
    static const char *const names[] = {"Undefined", "NoneType", "bool", "int", "float", "str",
                                        "list", "tuple", "dict", "Namespace", "function"};
    return jv_is_gen(v) ? "generator" : names[v->k];
}

/* ---- UTF-8 and Python's white space ---------------------------------------------------------- */

int32_t jj_utf8_next(const char *s, size_t n, size_t *len) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)(n < 4 ? n : 4), &c);
    if (k <= 0) {
        *len = 1;
        return (unsigned char)s[0];
    }
    *len = (size_t)k;
    return c;
}

size_t jj_utf8_count(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    return count;
}

int jj_is_space(int32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* ---- str(), repr() ----------------------------------------------------------------------------- */

/* Python's repr of a float: the shortest digits that read back to it, in fixed notation for
 * decimal exponents -4..15 and in scientific notation otherwise. */
static void s_write_float(jj_buf_t *b, double f) {
    if (isnan(f)) {
        jj_buf_add(b, "nan", 3);
        return;
    }
    if (isinf(f)) {
        jj_buf_add(b, f < 0 ? "-inf" : "inf", f < 0 ? 4 : 3);
        return;
    }
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    /* e is [-]d[.ddd]e[+-]xx */
    const char *q = e;
    int neg = *q == '-';
    if (neg) q++;
    char digits[24];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int x = atoi(q + 1);
    if (neg) jj_buf_addc(b, '-');
    if (x < -4 || x >= 16) {
        jj_buf_addc(b, digits[0]);
        if (nd > 1) {
            jj_buf_addc(b, '.');
            jj_buf_add(b, digits + 1, (size_t)nd - 1);
        }
        jj_buf_addf(b, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++) jj_buf_addc(b, i < nd ? digits[i] : '0');
        jj_buf_addc(b, '.');
        if (nd > x + 1) jj_buf_add(b, digits + x + 1, (size_t)(nd - x - 1));
        else jj_buf_addc(b, '0');
    } else {
        jj_buf_add(b, "0.", 2);
        for (int i = 0; i < -x - 1; i++) jj_buf_addc(b, '0');
        jj_buf_add(b, digits, (size_t)nd);
    }
}

static int s_printable(int32_t c) {
    if (c == ' ') return 1;
    if (c < 0x20 || c == 0x7f) return 0;
    if (c < 0x7f) return 1;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS: return 0;
    default: return 1;
    }
}

static void s_write_str_repr(jj_buf_t *b, const char *s, size_t n) {
    int has_single = memchr(s, '\'', n) != NULL, has_double = memchr(s, '"', n) != NULL;
    char q = has_single && !has_double ? '"' : '\'';
    jj_buf_addc(b, q);
    for (size_t i = 0; i < n;) {
        size_t k;
        int32_t c = jj_utf8_next(s + i, n - i, &k);
        if (c == q || c == '\\') {
            jj_buf_addc(b, '\\');
            jj_buf_addc(b, (char)c);
        } else if (c == '\n') jj_buf_add(b, "\\n", 2);
        else if (c == '\r') jj_buf_add(b, "\\r", 2);
        else if (c == '\t') jj_buf_add(b, "\\t", 2);
        else if (s_printable(c)) jj_buf_add(b, s + i, k);
        else if (c < 0x100) jj_buf_addf(b, "\\x%02x", (unsigned)c);
        else if (c < 0x10000) jj_buf_addf(b, "\\u%04x", (unsigned)c);
        else jj_buf_addf(b, "\\U%08x", (unsigned)c);
        i += k;
    }
    jj_buf_addc(b, q);
}

static void s_write_items(jj_buf_t *b, const jv_t *v) {
    for (size_t i = 0; i < v->u.list.n; i++) {
        if (i) jj_buf_add(b, ", ", 2);
        jv_write_repr(b, v->u.list.v[i]);
    }
}

static void s_write_dict(jj_buf_t *b, const jv_t *v) {
    jj_buf_addc(b, '{');
    for (size_t i = 0; i < v->u.dict.n; i++) {
        if (i) jj_buf_add(b, ", ", 2);
        jv_write_repr(b, v->u.dict.keys[i]);
        jj_buf_add(b, ": ", 2);
        jv_write_repr(b, v->u.dict.vals[i]);
    }
    jj_buf_addc(b, '}');
}

void jv_write_repr(jj_buf_t *b, const jv_t *v) {
    switch (v->k) {
    case JV_UNDEF: jj_buf_add(b, "Undefined", 9); return;
    case JV_STR: s_write_str_repr(b, v->u.str.s, v->u.str.n); return;
    default: jv_write_str(b, v); return;
    }
}

void jv_write_str(jj_buf_t *b, const jv_t *v) {
    switch (v->k) {
    case JV_UNDEF: return;
    case JV_NONE: jj_buf_add(b, "None", 4); return;
    case JV_BOOL: jj_buf_add(b, v->u.b ? "True" : "False", v->u.b ? 4 : 5); return;
    case JV_INT: jj_buf_addf(b, "%lld", (long long)v->u.i); return;
    case JV_FLOAT: s_write_float(b, v->u.f); return;
    case JV_STR: jj_buf_add(b, v->u.str.s, v->u.str.n); return;
    case JV_LIST:
        if (v->u.list.gen) { /* Python prints its address; the callers that print refuse it first */
            jj_buf_add(b, "<generator object>", 18);
            return;
        }
        jj_buf_addc(b, '[');
        s_write_items(b, v);
        jj_buf_addc(b, ']');
        return;
    case JV_TUPLE:
        jj_buf_addc(b, '(');
        s_write_items(b, v);
        if (v->u.list.n == 1) jj_buf_addc(b, ',');
        jj_buf_addc(b, ')');
        return;
    case JV_DICT: s_write_dict(b, v); return;
    case JV_NS:
        jj_buf_add(b, "<Namespace ", 11);
        s_write_dict(b, v);
        jj_buf_addc(b, '>');
        return;
    case JV_FUNC:
        if (v->u.fn.kind == JF_MACRO) jj_buf_addf(b, "<Macro '%s'>", v->u.fn.name);
        else jj_buf_addf(b, "<built-in function %s>", v->u.fn.name);
        return;
    }
}

jv_t *jv_to_str(jj_arena_t *a, const jv_t *v) {
    if (v->k == JV_STR) return (jv_t *)v;
    jj_buf_t b = {0};
    jv_write_str(&b, v);
    jv_t *s = jv_str(a, b.s ? b.s : "", b.n);
    free(b.s);
    return s;
}

/* ---- json.dumps ------------------------------------------------------------------------------- */

static void s_json_string(jj_buf_t *b, const char *s, size_t n, int ensure_ascii) {
    jj_buf_addc(b, '"');
    for (size_t i = 0; i < n;) {
        size_t k;
        int32_t c = jj_utf8_next(s + i, n - i, &k);
        switch (c) {
        case '"': jj_buf_add(b, "\\\"", 2); break;
        case '\\': jj_buf_add(b, "\\\\", 2); break;
        case '\n': jj_buf_add(b, "\\n", 2); break;
        case '\r': jj_buf_add(b, "\\r", 2); break;
        case '\t': jj_buf_add(b, "\\t", 2); break;
        case '\b': jj_buf_add(b, "\\b", 2); break;
        case '\f': jj_buf_add(b, "\\f", 2); break;
        default:
            if (c < 0x20) jj_buf_addf(b, "\\u%04x", (unsigned)c);
            else if (c < 0x7f || !ensure_ascii) jj_buf_add(b, s + i, k);
            else if (c < 0x10000) jj_buf_addf(b, "\\u%04x", (unsigned)c);
            else {
                unsigned u = (unsigned)c - 0x10000;
                jj_buf_addf(b, "\\u%04x\\u%04x", 0xD800 + (u >> 10), 0xDC00 + (u & 0x3FF));
            }
        }
        i += k;
    }
    jj_buf_addc(b, '"');
}

typedef struct {
    int ensure_ascii, indent, sort_keys;
    const char *item_sep, *key_sep;
    char *why;
    size_t whylen;
} json_opts_t;

static void s_newline(jj_buf_t *b, const json_opts_t *o, int depth) {
    jj_buf_addc(b, '\n');
    for (int i = 0; i < depth * o->indent; i++) jj_buf_addc(b, ' ');
}

static int s_json(jj_buf_t *b, const jv_t *v, const json_opts_t *o, int depth);

/* A dict key as json.dumps writes it: strings as they are; numbers, booleans and None as text. */
static int s_json_key(jj_buf_t *b, const jv_t *k, const json_opts_t *o) {
    switch (k->k) {
    case JV_STR: s_json_string(b, k->u.str.s, k->u.str.n, o->ensure_ascii); return 0;
    case JV_INT:
    case JV_FLOAT:
        jj_buf_addc(b, '"');
        jv_write_str(b, k);
        jj_buf_addc(b, '"');
        return 0;
    case JV_BOOL: jj_buf_add(b, k->u.b ? "\"true\"" : "\"false\"", k->u.b ? 6 : 7); return 0;
    case JV_NONE: jj_buf_add(b, "\"null\"", 6); return 0;
    default:
        snprintf(o->why, o->whylen, "tojson: keys must be str, int, float, bool or None, not %s", jv_type_name(k));
        return -1;
    }
}

static int s_key_cmp(const void *x, const void *y) {
    const jv_t *a = *(jv_t *const *)x, *b = *(jv_t *const *)y;
    size_t n = a->u.str.n < b->u.str.n ? a->u.str.n : b->u.str.n;
    int c = memcmp(a->u.str.s, b->u.str.s, n);
    return c ? c : (a->u.str.n > b->u.str.n) - (a->u.str.n < b->u.str.n);
}

static int s_json(jj_buf_t *b, const jv_t *v, const json_opts_t *o, int depth) {
    switch (v->k) {
    case JV_NONE: jj_buf_add(b, "null", 4); return 0;
    case JV_BOOL: jj_buf_add(b, v->u.b ? "true" : "false", v->u.b ? 4 : 5); return 0;
    case JV_INT: jj_buf_addf(b, "%lld", (long long)v->u.i); return 0;
    case JV_FLOAT:
        if (isnan(v->u.f)) jj_buf_add(b, "NaN", 3);
        else if (isinf(v->u.f)) jj_buf_add(b, v->u.f < 0 ? "-Infinity" : "Infinity", v->u.f < 0 ? 9 : 8);
        else s_write_float(b, v->u.f);
        return 0;
    case JV_STR: s_json_string(b, v->u.str.s, v->u.str.n, o->ensure_ascii); return 0;
    case JV_LIST:
    case JV_TUPLE:
        if (v->u.list.gen) {
            snprintf(o->why, o->whylen, "tojson: Object of type generator is not JSON serializable");
            return -1;
        }
        if (!v->u.list.n) {
            jj_buf_add(b, "[]", 2);
            return 0;
        }
        jj_buf_addc(b, '[');
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i) jj_buf_add(b, o->item_sep, strlen(o->item_sep));
            if (o->indent >= 0) s_newline(b, o, depth + 1);
            if (s_json(b, v->u.list.v[i], o, depth + 1)) return -1;
        }
        if (o->indent >= 0) s_newline(b, o, depth);
        jj_buf_addc(b, ']');
        return 0;
    case JV_DICT: {
        if (!v->u.dict.n) {
            jj_buf_add(b, "{}", 2);
            return 0;
        }
        size_t n = v->u.dict.n;
        size_t *order = malloc(n * sizeof *order);
        for (size_t i = 0; i < n; i++) order[i] = i;
        if (o->sort_keys) {
            for (size_t i = 0; i < n; i++)
                if (v->u.dict.keys[i]->k != JV_STR) {
                    free(order);
                    snprintf(o->why, o->whylen, "tojson: sort_keys with keys that are not all strings is not implemented");
                    return -1;
                }
            /* insertion sort of the indices by key (dicts in templates are small) */
            for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && s_key_cmp(&v->u.dict.keys[order[j - 1]], &v->u.dict.keys[order[j]]) > 0; j--) {
                    size_t t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
        }
        jj_buf_addc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i) jj_buf_add(b, o->item_sep, strlen(o->item_sep));
            if (o->indent >= 0) s_newline(b, o, depth + 1);
            if (s_json_key(b, v->u.dict.keys[order[i]], o)) {
                free(order);
                return -1;
            }
            jj_buf_add(b, o->key_sep, strlen(o->key_sep));
            if (s_json(b, v->u.dict.vals[order[i]], o, depth + 1)) {
                free(order);
                return -1;
            }
        }
        free(order);
        if (o->indent >= 0) s_newline(b, o, depth);
        jj_buf_addc(b, '}');
        return 0;
    }
    default:
        snprintf(o->why, o->whylen, "tojson: Object of type %s is not JSON serializable", jv_type_name(v));
        return -1;
    }
}

int jv_write_json(jj_buf_t *b, const jv_t *v, int ensure_ascii, int indent, const char *item_sep,
                  const char *key_sep, int sort_keys, char *why, size_t whylen) {
    json_opts_t o = {ensure_ascii, indent, sort_keys, item_sep, key_sep, why, whylen};
    if (!o.item_sep) o.item_sep = indent >= 0 ? "," : ", ";
    if (!o.key_sep) o.key_sep = ": ";
    return s_json(b, v, &o, 0);
}
