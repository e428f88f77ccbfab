/* jinja_filters — the filters, tests, methods and global functions of spar's Jinja, each as
 * jinja2 (and transformers, for tojson, raise_exception and strftime_now) defines it, with Python's
 * string methods underneath. The name lists here are what the parser accepts; a template that
 * names anything else is refused when it is read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "common/jinja_internal.h"
#include "common/util.h"

static const char *const s_filters[] = {"trim",  "length", "count",   "tojson",     "string",  "upper", "lower",
                                        "capitalize", "title", "first", "last", "join", "default", "d",
                                        "items", "replace", "list", "map", "selectattr", "rejectattr", "select",
                                        "reject", "safe", "int", "float", "abs", "reverse", "indent", NULL};
static const char *const s_tests[] = {"defined", "undefined", "none", "string", "mapping", "iterable", "number",
                                      "integer", "float", "sequence", "boolean", "true", "false", "callable",
                                      "odd", "even", "lower", "upper", NULL};
static const char *const s_str_methods[] = {"strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper",
                                            "lower", "title", "capitalize", "replace", "join", NULL};
static const char *const s_dict_methods[] = {"items", "keys", "values", "get", NULL};
static const char *const s_globals[] = {"raise_exception", "strftime_now", "range", "namespace", "dict", NULL};

static int s_in(const char *const *list, const char *name) {
    for (int k = 0; list[k]; k++)
        if (!strcmp(list[k], name)) return 1;
    return 0;
}

int jj_filter_known(const char *name) { return s_in(s_filters, name); }
int jj_test_known(const char *name) { return s_in(s_tests, name); }
int jj_method_known(const char *name) { return s_in(s_str_methods, name) || s_in(s_dict_methods, name); }
int jj_global_known(const char *name) { return s_in(s_globals, name); }

jv_t *jj_method_of(jj_ctx_t *x, jv_t *v, const char *name) {
    if ((v->k == JV_STR && s_in(s_str_methods, name)) || (v->k == JV_DICT && s_in(s_dict_methods, name))) {
        jv_t *m = jv_func(x->arena, JF_METHOD, name);
        m->u.fn.self = v;
        return m;
    }
    return NULL;
}

jv_t *jj_arg(const jj_args_t *args, int i, const char *name) {
    if (i >= 0 && i < args->npos) return args->pos[i];
    for (int k = 0; name && k < args->nkw; k++)
        if (!strcmp(args->kwnames[k], name)) return args->kw[k];
    return NULL;
}

/* ---- strings ---------------------------------------------------------------------------------- */

static jv_t *s_strv(jj_ctx_t *x, jj_buf_t *b) {
    jv_t *s = jv_str(x->arena, b->s ? b->s : "", b->n);
    free(b->s);
    return s;
}

static int s_in_chars(int32_t c, const jv_t *chars) {
    if (!chars) return jj_is_space(c);
    for (size_t i = 0, k; i < chars->u.str.n; i += k)
        if (jj_utf8_next(chars->u.str.s + i, chars->u.str.n - i, &k) == c) return 1;
    return 0;
}

/* Python's str.strip / lstrip / rstrip (chars: NULL for white space). */
static jv_t *s_strip(jj_ctx_t *x, const jv_t *s, const jv_t *chars, int left, int right) {
    const char *p = s->u.str.s;
    size_t n = s->u.str.n, lo = 0, hi = n, k;
    if (left)
        while (lo < n && s_in_chars(jj_utf8_next(p + lo, n - lo, &k), chars)) lo += k;
    if (right) {
        size_t i = lo, last = lo;
        while (i < n) {
            int32_t c = jj_utf8_next(p + i, n - i, &k);
            i += k;
            if (!s_in_chars(c, chars)) last = i;
        }
        hi = last;
    }
    return jv_str(x->arena, p + lo, hi - lo);
}

static int s_cased(int32_t c) {
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

static void s_put(jj_buf_t *b, int32_t c) {
    utf8proc_uint8_t u[4];
    utf8proc_ssize_t k = utf8proc_encode_char(c, u);
    jj_buf_add(b, (const char *)u, (size_t)k);
}

enum { CASE_UPPER, CASE_LOWER, CASE_TITLE, CASE_CAPITALIZE, CASE_TITLE_FILTER };

/* The full case mappings Python applies where Unicode's simple ones give one code point: the
 * unconditional ones of SpecialCasing.txt for Latin (ß, the ﬀ-ﬆ ligatures, İ). Returns the
 * replacement text or NULL. */
static const char *s_special_case(int32_t c, int mode) {
    static const struct {
        int32_t c;
        const char *upper, *title, *lower;
    } t[] = {{0xDF, "SS", "Ss", NULL},        {0xFB00, "FF", "Ff", NULL},  {0xFB01, "FI", "Fi", NULL},
             {0xFB02, "FL", "Fl", NULL},      {0xFB03, "FFI", "Ffi", NULL}, {0xFB04, "FFL", "Ffl", NULL},
             {0xFB05, "ST", "St", NULL},      {0xFB06, "ST", "St", NULL},   {0x130, NULL, NULL, "i\xcc\x87"}};
    for (size_t k = 0; k < sizeof t / sizeof *t; k++)
        if (t[k].c == c) return mode == CASE_UPPER ? t[k].upper : mode == CASE_LOWER ? t[k].lower : t[k].title;
    return NULL;
}

/* upper(), lower(), title() and capitalize(), code point by code point (Unicode's simple case
 * mappings, and the full ones of s_special_case). */
static jv_t *s_case(jj_ctx_t *x, const jv_t *s, int mode) {
    jj_buf_t b = {0};
    int prev_cased = 0, prev_sep = 0, first = 1;
    for (size_t i = 0, k; i < s->u.str.n; i += k) {
        int32_t c = jj_utf8_next(s->u.str.s + i, s->u.str.n - i, &k);
        int kind = mode;
        if (mode == CASE_TITLE) kind = prev_cased ? CASE_LOWER : CASE_TITLE;
        if (mode == CASE_CAPITALIZE) kind = first ? CASE_TITLE : CASE_LOWER;
        /* jinja2's title filter: words begin after - ( { [ < or white space; their first character
         * is upper-cased (not title-cased), the rest lower-cased */
        if (mode == CASE_TITLE_FILTER) kind = first || prev_sep ? CASE_UPPER : CASE_LOWER;
        prev_sep = jj_is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        prev_cased = s_cased(c);
        first = 0;
        const char *special = s_special_case(c, kind);
        if (special) jj_buf_add(&b, special, strlen(special));
        else s_put(&b, kind == CASE_UPPER ? utf8proc_toupper(c) : kind == CASE_LOWER ? utf8proc_tolower(c) : utf8proc_totitle(c));
    }
    return s_strv(x, &b);
}

/* Python's str.islower() (upper: isupper()). */
static int s_is_case(const jv_t *s, int upper) {
    int any = 0;
    for (size_t i = 0, k; i < s->u.str.n; i += k) {
        int32_t c = jj_utf8_next(s->u.str.s + i, s->u.str.n - i, &k);
        utf8proc_category_t cat = utf8proc_category(c);
        if (cat == UTF8PROC_CATEGORY_LT) return 0;
        if (cat == UTF8PROC_CATEGORY_LU) {
            if (!upper) return 0;
            any = 1;
        } else if (cat == UTF8PROC_CATEGORY_LL) {
            if (upper) return 0;
            any = 1;
        }
    }
    return any;
}

static jv_t *s_replace(jj_ctx_t *x, const jv_t *s, const jv_t *old, const jv_t *new, int64_t count) {
    jj_buf_t b = {0};
    const char *p = s->u.str.s;
    size_t n = s->u.str.n, i = 0;
    if (!old->u.str.n) { /* Python puts new before every character and at the end */
        size_t k;
        while (count != 0 && i <= n) {
            jj_buf_add(&b, new->u.str.s, new->u.str.n);
            if (count > 0) count--;
            if (i == n) {
                i++;
                break;
            }
            jj_utf8_next(p + i, n - i, &k);
            jj_buf_add(&b, p + i, k);
            i += k;
        }
        if (i < n) jj_buf_add(&b, p + i, n - i);
        return s_strv(x, &b);
    }
    while (i < n && count != 0) {
        const char *hit = memmem(p + i, n - i, old->u.str.s, old->u.str.n);
        if (!hit) break;
        jj_buf_add(&b, p + i, (size_t)(hit - (p + i)));
        jj_buf_add(&b, new->u.str.s, new->u.str.n);
        i = (size_t)(hit - p) + old->u.str.n;
        if (count > 0) count--;
    }
    jj_buf_add(&b, p + i, n - i);
    return s_strv(x, &b);
}

static jv_t *s_push_item(jj_ctx_t *x, jv_t *l, size_t *cap, jv_t *item) {
    if (l->u.list.n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        jv_t **nv = jj_alloc(x->arena, *cap * sizeof *nv);
        if (l->u.list.n) memcpy(nv, l->u.list.v, l->u.list.n * sizeof *nv);
        l->u.list.v = nv;
    }
    l->u.list.v[l->u.list.n++] = item;
    return l;
}

/* Python's str.split(sep, maxsplit). */
static jv_t *s_split(jj_ctx_t *x, const jv_t *s, const jv_t *sep, int64_t maxsplit) {
    jv_t *l = jv_list(x->arena, JV_LIST, 0);
    size_t cap = 0, k;
    const char *p = s->u.str.s;
    size_t n = s->u.str.n, i = 0;
    if (!sep) {
        for (;;) {
            while (i < n && jj_is_space(jj_utf8_next(p + i, n - i, &k))) i += k;
            if (i >= n) break;
            if (maxsplit >= 0 && (int64_t)l->u.list.n >= maxsplit) {
                s_push_item(x, l, &cap, jv_str(x->arena, p + i, n - i)); /* the rest, as it is */
                break;
            }
            size_t start = i;
            while (i < n && !jj_is_space(jj_utf8_next(p + i, n - i, &k))) i += k;
            s_push_item(x, l, &cap, jv_str(x->arena, p + start, i - start));
        }
        return l;
    }
    if (!sep->u.str.n) return jj_fail(x, "empty separator");
    for (;;) {
        const char *hit = (maxsplit < 0 || (int64_t)l->u.list.n < maxsplit)
                              ? memmem(p + i, n - i, sep->u.str.s, sep->u.str.n)
                              : NULL;
        if (!hit) {
            s_push_item(x, l, &cap, jv_str(x->arena, p + i, n - i));
            return l;
        }
        s_push_item(x, l, &cap, jv_str(x->arena, p + i, (size_t)(hit - (p + i))));
        i = (size_t)(hit - p) + sep->u.str.n;
    }
}

static int s_affix(jj_ctx_t *x, const jv_t *s, const jv_t *a, int end) {
    if (a->k == JV_TUPLE) {
        for (size_t i = 0; i < a->u.list.n; i++) {
            int r = s_affix(x, s, a->u.list.v[i], end);
            if (r) return r;
        }
        return 0;
    }
    if (a->k != JV_STR) {
        jj_fail(x, "%s arg must be str or a tuple of str, not %s", end ? "endswith" : "startswith", jv_type_name(a));
        return -1;
    }
    if (a->u.str.n > s->u.str.n) return 0;
    return !memcmp(s->u.str.s + (end ? s->u.str.n - a->u.str.n : 0), a->u.str.s, a->u.str.n);
}

/* ---- sequences -------------------------------------------------------------------------------- */

/* What iterating v gives (list(v)): NULL with an error when v is not iterable. */
jv_t *jj_iter_items(jj_ctx_t *x, const jv_t *v) {
    if (jv_is_gen(v)) return jv_drain(x->arena, (jv_t *)v);
    switch (v->k) {
    case JV_LIST:
    case JV_TUPLE: return (jv_t *)v;
    case JV_UNDEF: return jv_list(x->arena, JV_LIST, 0);
    case JV_DICT: {
        jv_t *l = jv_list(x->arena, JV_LIST, v->u.dict.n);
        for (size_t i = 0; i < v->u.dict.n; i++) l->u.list.v[i] = v->u.dict.keys[i];
        return l;
    }
    case JV_STR: {
        jv_t *l = jv_list(x->arena, JV_LIST, jj_utf8_count(v->u.str.s, v->u.str.n));
        size_t c = 0;
        for (size_t i = 0, k; i < v->u.str.n; i += k) {
            jj_utf8_next(v->u.str.s + i, v->u.str.n - i, &k);
            l->u.list.v[c++] = jv_str(x->arena, v->u.str.s + i, k);
        }
        return l;
    }
    default: return jj_fail(x, "'%s' object is not iterable", jv_type_name(v));
    }
}

static jv_t *s_dict_items(jj_ctx_t *x, const jv_t *d) {
    jv_t *l = jv_list(x->arena, JV_LIST, d->u.dict.n);
    for (size_t i = 0; i < d->u.dict.n; i++) {
        jv_t *t = jv_list(x->arena, JV_TUPLE, 2);
        t->u.list.v[0] = d->u.dict.keys[i];
        t->u.list.v[1] = d->u.dict.vals[i];
        l->u.list.v[i] = t;
    }
    return l;
}

/* jinja2's attribute getter for map/selectattr/join: a dotted path, each part an item lookup
 * (an integer part indexes a list). */
static jv_t *s_attr_path(jj_ctx_t *x, jv_t *v, const jv_t *path) {
    if (path->k == JV_INT) {
        if ((v->k == JV_LIST || v->k == JV_TUPLE)) {
            int64_t i = path->u.i < 0 ? path->u.i + (int64_t)v->u.list.n : path->u.i;
            return i >= 0 && (size_t)i < v->u.list.n ? v->u.list.v[i] : jv_undef(x->arena, NULL);
        }
        return jv_undef(x->arena, NULL);
    }
    if (path->k != JV_STR) return jj_fail(x, "attribute must be a string");
    const char *p = path->u.str.s;
    size_t n = path->u.str.n, i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '.') j++;
        if (v->k == JV_UNDEF) return jj_fail(x, "'%s' is undefined", v->u.str.s ? v->u.str.s : "value");
        int digits = j > i;
        for (size_t q = i; q < j; q++) digits = digits && p[q] >= '0' && p[q] <= '9';
        if (digits && (v->k == JV_LIST || v->k == JV_TUPLE)) {
            size_t idx = (size_t)strtoull(p + i, NULL, 10);
            v = idx < v->u.list.n ? v->u.list.v[idx] : jv_undef(x->arena, NULL);
        } else if (v->k == JV_DICT || v->k == JV_NS) {
            jv_t *o = jv_dict_gets(v, p + i, j - i);
            v = o ? o : jv_undef(x->arena, jj_strndup(x->arena, p + i, j - i));
        } else {
            v = jv_undef(x->arena, jj_strndup(x->arena, p + i, j - i));
        }
        i = j + 1;
    }
    return v;
}

/* A test by name with its arguments after the first (select, selectattr). */
static int s_test_with(jj_ctx_t *x, const char *name, const jv_t *v, const jj_args_t *args, int first_arg) {
    jv_t *arg = jj_arg(args, first_arg, NULL);
    if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "==") || !strcmp(name, "ne") ||
        !strcmp(name, "!=")) {
        if (!arg) {
            jj_fail(x, "test '%s' needs an argument", name);
            return -1;
        }
        int eq = jv_equal(v, arg);
        return name[0] == 'n' || name[0] == '!' ? !eq : eq;
    }
    if (arg) {
        jj_fail(x, "test '%s' with an argument, not implemented", name);
        return -1;
    }
    if (!jj_test_known(name)) {
        jj_fail(x, "test '%s', not implemented", name);
        return -1;
    }
    return jj_apply_test(x, name, v);
}

static jv_t *s_select(jj_ctx_t *x, jv_t *v, const jj_args_t *args, int by_attr, int keep) {
    jv_t *items = jj_iter_items(x, v);
    if (!items) return NULL;
    jv_t *attr = by_attr ? jj_arg(args, 0, NULL) : NULL;
    if (by_attr && !attr) return jj_fail(x, "selectattr and rejectattr need an attribute");
    jv_t *test = jj_arg(args, by_attr ? 1 : 0, NULL);
    if (test && test->k != JV_STR) return jj_fail(x, "a test's name must be a string");
    jv_t *out = jv_list(x->arena, JV_LIST, 0);
    out->u.list.gen = 1;
    size_t cap = 0;
    for (size_t i = 0; i < items->u.list.n; i++) {
        jv_t *item = items->u.list.v[i], *subject = item;
        if (by_attr && !(subject = s_attr_path(x, item, attr))) return NULL;
        int r = test ? s_test_with(x, test->u.str.s, subject, args, by_attr ? 2 : 1) : jv_truthy(subject);
        if (r < 0) return NULL;
        if (r == keep) s_push_item(x, out, &cap, item);
    }
    return out;
}

static jv_t *s_map(jj_ctx_t *x, jv_t *v, const jj_args_t *args) {
    jv_t *items = jj_iter_items(x, v);
    if (!items) return NULL;
    jv_t *attr = jj_arg(args, -1, "attribute"), *def = jj_arg(args, -1, "default");
    jv_t *out = jv_list(x->arena, JV_LIST, items->u.list.n);
    out->u.list.gen = 1;
    if (attr) {
        for (size_t i = 0; i < items->u.list.n; i++) {
            jv_t *r = s_attr_path(x, items->u.list.v[i], attr);
            if (!r) return NULL;
            out->u.list.v[i] = r->k == JV_UNDEF && def ? def : r;
        }
        return out;
    }
    jv_t *name = jj_arg(args, 0, NULL);
    if (!name || name->k != JV_STR) return jj_fail(x, "map needs a filter name or attribute=");
    if (!jj_filter_known(name->u.str.s)) return jj_fail(x, "template uses filter '%s', not implemented", name->u.str.s);
    jj_args_t rest = *args;
    rest.pos = args->pos + 1;
    rest.npos = args->npos - 1;
    for (size_t i = 0; i < items->u.list.n; i++)
        if (!(out->u.list.v[i] = jj_apply_filter(x, name->u.str.s, items->u.list.v[i], &rest))) return NULL;
    return out;
}

static jv_t *s_join(jj_ctx_t *x, jv_t *v, const jv_t *sep, const jv_t *attr) {
    jv_t *items = jj_iter_items(x, v);
    if (!items) return NULL;
    jj_buf_t b = {0};
    for (size_t i = 0; i < items->u.list.n; i++) {
        jv_t *item = items->u.list.v[i];
        if (attr && !(item = s_attr_path(x, item, attr))) {
            free(b.s);
            return NULL;
        }
        if (i && sep) jv_write_str(&b, sep);
        jv_write_str(&b, item);
    }
    return s_strv(x, &b);
}

static jv_t *s_length(jj_ctx_t *x, const jv_t *v) {
    if (jv_is_gen(v)) return jj_fail(x, "object of type 'generator' has no len()");
    switch (v->k) {
    case JV_STR: return jv_int(x->arena, (int64_t)jj_utf8_count(v->u.str.s, v->u.str.n));
    case JV_LIST:
    case JV_TUPLE: return jv_int(x->arena, (int64_t)v->u.list.n);
    case JV_DICT: return jv_int(x->arena, (int64_t)v->u.dict.n);
    case JV_UNDEF: return jv_int(x->arena, 0);
    default: return jj_fail(x, "object of type '%s' has no len()", jv_type_name(v));
    }
}

static jv_t *s_tojson(jj_ctx_t *x, jv_t *v, const jj_args_t *args) {
    jv_t *ensure = jj_arg(args, 0, "ensure_ascii"), *indent = jj_arg(args, 1, "indent");
    jv_t *seps = jj_arg(args, 2, "separators"), *sort = jj_arg(args, 3, "sort_keys");
    int ind = -1;
    if (indent && indent->k != JV_NONE) {
        if (indent->k != JV_INT) return jj_fail(x, "tojson: an indent that is not an integer is not implemented");
        ind = indent->u.i < 0 ? 0 : (int)indent->u.i;
    }
    const char *item_sep = NULL, *key_sep = NULL;
    if (seps && seps->k != JV_NONE) {
        if ((seps->k != JV_LIST && seps->k != JV_TUPLE) || seps->u.list.n != 2 || seps->u.list.v[0]->k != JV_STR ||
            seps->u.list.v[1]->k != JV_STR)
            return jj_fail(x, "tojson: separators must be two strings");
        item_sep = seps->u.list.v[0]->u.str.s;
        key_sep = seps->u.list.v[1]->u.str.s;
    }
    jj_buf_t b = {0};
    char why[256] = "";
    if (jv_write_json(&b, v, ensure && jv_truthy(ensure), ind, item_sep, key_sep, sort && jv_truthy(sort), why,
                      sizeof why)) {
        free(b.s);
        return jj_fail(x, "%s", why);
    }
    return s_strv(x, &b);
}

/* Python's int(str) for the int filter: an optional sign, digits, surrounding white space. */
static int s_parse_int(const jv_t *s, int64_t *out) {
    char tmp[64];
    if (s->u.str.n >= sizeof tmp) return -1;
    memcpy(tmp, s->u.str.s, s->u.str.n);
    tmp[s->u.str.n] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (end == tmp || errno) return -1;
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    if (*end) return -1;
    *out = v;
    return 0;
}

static jv_t *s_indent(jj_ctx_t *x, jv_t *v, const jj_args_t *args) {
    jv_t *width = jj_arg(args, 0, "width"), *first = jj_arg(args, 1, "first"), *blank = jj_arg(args, 2, "blank");
    jj_buf_t ind = {0};
    if (width && width->k == JV_STR) jj_buf_add(&ind, width->u.str.s, width->u.str.n);
    else
        for (int64_t k = 0; k < (width ? width->u.i : 4); k++) jj_buf_addc(&ind, ' ');
    jv_t *s = jv_to_str(x->arena, v);
    /* jinja2 appends a newline, then splits into lines (\n, \r\n, \r) */
    jv_t *lines = jv_list(x->arena, JV_LIST, 0);
    size_t cap = 0, i = 0, n = s->u.str.n;
    const char *p = s->u.str.s;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r') j++;
        s_push_item(x, lines, &cap, jv_str(x->arena, p + i, j - i));
        if (j >= n) break;
        i = j + (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n' ? 2 : 1);
    }
    jj_buf_t b = {0};
    if (first && jv_truthy(first)) jj_buf_add(&b, ind.s ? ind.s : "", ind.n);
    for (size_t k = 0; k < lines->u.list.n; k++) {
        jv_t *l = lines->u.list.v[k];
        if (k) {
            jj_buf_addc(&b, '\n');
            if (l->u.str.n || (blank && jv_truthy(blank))) jj_buf_add(&b, ind.s ? ind.s : "", ind.n);
        }
        jj_buf_add(&b, l->u.str.s, l->u.str.n);
    }
    free(ind.s);
    return s_strv(x, &b);
}

/* The arguments a function takes: at most npos positional ones, keywords among kw (NULL-ended; a
 * keyword may name a positional parameter that was not given); -1 for any. */
typedef struct {
    const char *name;
    int npos;
    const char *kw[5];
} signature_t;

static const signature_t s_filter_sigs[] = {
    {"trim", 1, {"chars"}},
    {"length", 0, {NULL}},
    {"count", 0, {NULL}},
    {"tojson", 4, {"ensure_ascii", "indent", "separators", "sort_keys"}},
    {"string", 0, {NULL}},
    {"upper", 0, {NULL}},
    {"lower", 0, {NULL}},
    {"capitalize", 0, {NULL}},
    {"title", 0, {NULL}},
    {"first", 0, {NULL}},
    {"last", 0, {NULL}},
    {"join", 2, {"d", "attribute"}},
    {"default", 2, {"default_value", "boolean"}},
    {"d", 2, {"default_value", "boolean"}},
    {"items", 0, {NULL}},
    {"replace", 3, {"old", "new", "count"}},
    {"list", 0, {NULL}},
    {"safe", 0, {NULL}},
    {"int", 2, {"default", "base"}},
    {"float", 1, {"default"}},
    {"abs", 0, {NULL}},
    {"reverse", 0, {NULL}},
    {"indent", 3, {"width", "first", "blank"}},
    {"strip", 1, {NULL}},
    {"lstrip", 1, {NULL}},
    {"rstrip", 1, {NULL}},
    {"split", 2, {"sep", "maxsplit"}},
    {"startswith", 3, {NULL}},
    {"endswith", 3, {NULL}},
    {"replace()", 3, {NULL}},
    {"join()", 1, {NULL}},
    {"upper()", 0, {NULL}},
    {"lower()", 0, {NULL}},
    {"title()", 0, {NULL}},
    {"capitalize()", 0, {NULL}},
    {"items()", 0, {NULL}},
    {"keys()", 0, {NULL}},
    {"values()", 0, {NULL}},
    {"get()", 2, {NULL}},
};

/* 0 when args fit the signature of name (a filter, or a method with "()" after its name where it
 * has the name of a filter); -1 with Python's TypeError. Names without a signature take anything. */
static int s_check_args(jj_ctx_t *x, const char *name, const jj_args_t *args) {
    for (size_t k = 0; k < sizeof s_filter_sigs / sizeof *s_filter_sigs; k++) {
        const signature_t *sg = &s_filter_sigs[k];
        if (strcmp(sg->name, name)) continue;
        if (args->npos > sg->npos) {
            jj_fail(x, "%s() takes at most %d argument(s) (%d given)", name, sg->npos, args->npos);
            return -1;
        }
        for (int i = 0; i < args->nkw; i++) {
            int at = -1;
            for (int j = 0; j < 5 && sg->kw[j]; j++)
                if (!strcmp(sg->kw[j], args->kwnames[i])) at = j;
            if (at < 0) {
                jj_fail(x, "%s() got an unexpected keyword argument '%s'", name, args->kwnames[i]);
                return -1;
            }
            if (at < args->npos) {
                jj_fail(x, "%s() got multiple values for argument '%s'", name, args->kwnames[i]);
                return -1;
            }
        }
        return 0;
    }
    return 0;
}

jv_t *jj_apply_filter(jj_ctx_t *x, const char *f, jv_t *v, const jj_args_t *args) {
    jj_arena_t *a = x->arena;
    if (s_check_args(x, f, args)) return NULL;
    if (jv_is_gen(v) && (!strcmp(f, "string") || !strcmp(f, "trim") || !strcmp(f, "upper") || !strcmp(f, "lower") ||
                         !strcmp(f, "title") || !strcmp(f, "capitalize") || !strcmp(f, "replace") ||
                         !strcmp(f, "indent")))
        return jj_fail(x, "the text of a generator (what map, select and the like give) is not implemented: add | list");
    if (jv_is_gen(v) && !strcmp(f, "last")) return jj_fail(x, "'generator' object is not reversible");
    if (jv_is_gen(v) && !strcmp(f, "first")) {
        if (v->u.list.pos >= v->u.list.n) return jv_undef(a, NULL);
        return v->u.list.v[v->u.list.pos++];
    }
    if (!strcmp(f, "safe")) return v;
    if (!strcmp(f, "default") || !strcmp(f, "d")) {
        jv_t *def = jj_arg(args, 0, "default_value"), *boolean = jj_arg(args, 1, "boolean");
        if (v->k == JV_UNDEF || (boolean && jv_truthy(boolean) && !jv_truthy(v))) return def ? def : jv_str(a, "", 0);
        return v;
    }
    if (!strcmp(f, "tojson")) return s_tojson(x, v, args);
    if (!strcmp(f, "length") || !strcmp(f, "count")) return s_length(x, v);
    if (!strcmp(f, "string")) return jv_to_str(a, v);
    if (!strcmp(f, "trim")) {
        jv_t *chars = jj_arg(args, 0, "chars");
        if (chars && chars->k == JV_NONE) chars = NULL;
        if (chars && chars->k != JV_STR) return jj_fail(x, "trim: chars must be a string");
        return s_strip(x, jv_to_str(a, v), chars, 1, 1);
    }
    if (!strcmp(f, "upper")) return s_case(x, jv_to_str(a, v), CASE_UPPER);
    if (!strcmp(f, "lower")) return s_case(x, jv_to_str(a, v), CASE_LOWER);
    if (!strcmp(f, "title")) return s_case(x, jv_to_str(a, v), CASE_TITLE_FILTER);
    if (!strcmp(f, "capitalize")) return s_case(x, jv_to_str(a, v), CASE_CAPITALIZE);
    if (!strcmp(f, "first") || !strcmp(f, "last")) {
        jv_t *items = jj_iter_items(x, v);
        if (!items) return NULL;
        if (!items->u.list.n) return jv_undef(a, NULL);
        return items->u.list.v[f[0] == 'f' ? 0 : items->u.list.n - 1];
    }
    if (!strcmp(f, "join")) return s_join(x, v, jj_arg(args, 0, "d"), jj_arg(args, 1, "attribute"));
    if (!strcmp(f, "items")) {
        if (v->k == JV_UNDEF) return jv_list(a, JV_LIST, 0);
        if (v->k != JV_DICT) return jj_fail(x, "Can only get item pairs from a mapping.");
        return s_dict_items(x, v);
    }
    if (!strcmp(f, "replace")) {
        jv_t *old = jj_arg(args, 0, "old"), *new = jj_arg(args, 1, "new"), *count = jj_arg(args, 2, "count");
        if (!old || !new) return jj_fail(x, "replace needs old and new");
        int64_t c = count && count->k == JV_INT ? count->u.i : -1;
        return s_replace(x, jv_to_str(a, v), jv_to_str(a, old), jv_to_str(a, new), c);
    }
    if (!strcmp(f, "list")) {
        jv_t *items = jj_iter_items(x, v);
        if (!items) return NULL;
        jv_t *l = jv_list(a, JV_LIST, items->u.list.n);
        memcpy(l->u.list.v, items->u.list.v, items->u.list.n * sizeof(jv_t *));
        return l;
    }
    if (!strcmp(f, "map")) return s_map(x, v, args);
    if (!strcmp(f, "selectattr")) return s_select(x, v, args, 1, 1);
    if (!strcmp(f, "rejectattr")) return s_select(x, v, args, 1, 0);
    if (!strcmp(f, "select")) return s_select(x, v, args, 0, 1);
    if (!strcmp(f, "reject")) return s_select(x, v, args, 0, 0);
    if (!strcmp(f, "int")) {
        jv_t *def = jj_arg(args, 0, "default");
        if (jj_arg(args, 1, "base")) return jj_fail(x, "int: base, not implemented");
        int64_t i;
        if (v->k == JV_INT) return v;
        if (v->k == JV_BOOL) return jv_int(a, v->u.b);
        if (v->k == JV_FLOAT && v->u.f > -9.2e18 && v->u.f < 9.2e18) return jv_int(a, (int64_t)v->u.f);
        if (v->k == JV_STR && !s_parse_int(v, &i)) return jv_int(a, i);
        if (v->k == JV_STR) {
            char *end, *tmp = jj_strndup(a, v->u.str.s, v->u.str.n);
            double d = strtod(tmp, &end);
            if (end != tmp && !*end && d > -9.2e18 && d < 9.2e18) return jv_int(a, (int64_t)d);
        }
        return def ? def : jv_int(a, 0);
    }
    if (!strcmp(f, "float")) {
        jv_t *def = jj_arg(args, 0, "default");
        if (v->k == JV_FLOAT) return v;
        if (v->k == JV_INT || v->k == JV_BOOL) return jv_float(a, v->k == JV_INT ? (double)v->u.i : v->u.b);
        if (v->k == JV_STR) {
            char *end, *tmp = jj_strndup(a, v->u.str.s, v->u.str.n);
            double d = strtod(tmp, &end);
            if (end != tmp && !*end) return jv_float(a, d);
        }
        return def ? def : jv_float(a, 0);
    }
    if (!strcmp(f, "abs")) {
        if (v->k == JV_INT && v->u.i != INT64_MIN) return jv_int(a, v->u.i < 0 ? -v->u.i : v->u.i);
        if (v->k == JV_BOOL) return jv_int(a, v->u.b);
        if (v->k == JV_FLOAT) return jv_float(a, v->u.f < 0 ? -v->u.f : v->u.f);
        return jj_fail(x, "bad operand type for abs(): '%s'", jv_type_name(v));
    }
    if (!strcmp(f, "reverse")) {
        jv_t *items = jj_iter_items(x, v);
        if (!items) return NULL;
        size_t n = items->u.list.n;
        if (v->k == JV_STR) {
            jj_buf_t b = {0};
            for (size_t i = n; i-- > 0;) jv_write_str(&b, items->u.list.v[i]);
            return s_strv(x, &b);
        }
        jv_t *l = jv_list(a, JV_LIST, n);
        for (size_t i = 0; i < n; i++) l->u.list.v[i] = items->u.list.v[n - 1 - i];
        return l;
    }
    if (!strcmp(f, "indent")) return s_indent(x, v, args);
    return jj_fail(x, "template uses filter '%s', not implemented", f);
}

int jj_apply_test(jj_ctx_t *x, const char *t, const jv_t *v) {
    jv_kind_t k = v->k;
    if (!strcmp(t, "defined")) return k != JV_UNDEF;
    if (!strcmp(t, "undefined")) return k == JV_UNDEF;
    if (!strcmp(t, "none")) return k == JV_NONE;
    if (!strcmp(t, "string")) return k == JV_STR;
    if (!strcmp(t, "mapping")) return k == JV_DICT;
    if (!strcmp(t, "iterable"))
        return k == JV_STR || k == JV_LIST || k == JV_TUPLE || k == JV_DICT || k == JV_UNDEF;
    if (!strcmp(t, "sequence"))
        return !jv_is_gen(v) && (k == JV_STR || k == JV_LIST || k == JV_TUPLE || k == JV_DICT || k == JV_UNDEF);
    if (!strcmp(t, "number")) return k == JV_INT || k == JV_FLOAT || k == JV_BOOL;
    if (!strcmp(t, "integer")) return k == JV_INT;
    if (!strcmp(t, "float")) return k == JV_FLOAT;
    if (!strcmp(t, "boolean")) return k == JV_BOOL;
    if (!strcmp(t, "true")) return k == JV_BOOL && v->u.b;
    if (!strcmp(t, "false")) return k == JV_BOOL && !v->u.b;
    if (!strcmp(t, "callable")) return k == JV_FUNC;
    if (!strcmp(t, "odd") || !strcmp(t, "even")) {
        int64_t i;
        if (k == JV_INT) i = v->u.i;
        else if (k == JV_BOOL) i = v->u.b;
        else {
            jj_fail(x, "test '%s' of a %s is not implemented", t, jv_type_name(v));
            return -1;
        }
        return (t[0] == 'o') == (i % 2 != 0);
    }
    if (!strcmp(t, "lower") || !strcmp(t, "upper")) return s_is_case(jv_to_str(x->arena, v), t[0] == 'u');
    jj_fail(x, "template uses test '%s', not implemented", t);
    return -1;
}

/* ---- methods and global functions -------------------------------------------------------------- */

static jv_t *s_str_method(jj_ctx_t *x, const char *m, const jv_t *s, const jj_args_t *args) {
    jj_arena_t *a = x->arena;
    char sig[32];
    snprintf(sig, sizeof sig, "%s%s", m, jj_filter_known(m) ? "()" : "");
    if (s_check_args(x, sig, args)) return NULL;
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip")) {
        jv_t *chars = jj_arg(args, 0, NULL);
        if (chars && chars->k == JV_NONE) chars = NULL;
        if (chars && chars->k != JV_STR) return jj_fail(x, "%s arg must be None or str", m);
        return s_strip(x, s, chars, m[0] != 'r', m[0] != 'l');
    }
    if (!strcmp(m, "split")) {
        jv_t *sep = jj_arg(args, 0, "sep"), *max = jj_arg(args, 1, "maxsplit");
        if (sep && sep->k == JV_NONE) sep = NULL;
        if (sep && sep->k != JV_STR) return jj_fail(x, "must be str or None, not %s", jv_type_name(sep));
        if (max && max->k != JV_INT) return jj_fail(x, "maxsplit must be an integer");
        return s_split(x, s, sep, max ? max->u.i : -1);
    }
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
        jv_t *affix = jj_arg(args, 0, NULL);
        if (!affix) return jj_fail(x, "%s() takes at least 1 argument (0 given)", m);
        if (args->npos > 1) return jj_fail(x, "%s() with start or end, not implemented", m);
        int r = s_affix(x, s, affix, m[0] == 'e');
        return r < 0 ? NULL : jv_bool(r);
    }
    if (!strcmp(m, "upper")) return s_case(x, s, CASE_UPPER);
    if (!strcmp(m, "lower")) return s_case(x, s, CASE_LOWER);
    if (!strcmp(m, "title")) return s_case(x, s, CASE_TITLE);
    if (!strcmp(m, "capitalize")) return s_case(x, s, CASE_CAPITALIZE);
    if (!strcmp(m, "replace")) {
        jv_t *old = jj_arg(args, 0, NULL), *new = jj_arg(args, 1, NULL), *count = jj_arg(args, 2, "count");
        if (!old || !new || old->k != JV_STR || new->k != JV_STR) return jj_fail(x, "replace() takes two strings");
        if (count && count->k != JV_INT) return jj_fail(x, "replace() count must be an integer");
        return s_replace(x, s, old, new, count ? count->u.i : -1);
    }
    if (!strcmp(m, "join")) {
        jv_t *it = jj_arg(args, 0, NULL);
        if (!it) return jj_fail(x, "join() takes exactly one argument (0 given)");
        jv_t *items = jj_iter_items(x, it);
        if (!items) return NULL;
        for (size_t i = 0; i < items->u.list.n; i++)
            if (items->u.list.v[i]->k != JV_STR)
                return jj_fail(x, "sequence item %zu: expected str instance, %s found", i,
                               jv_type_name(items->u.list.v[i]));
        return s_join(x, items, s, NULL);
    }
    (void)a;
    return jj_fail(x, "template calls method '%s', not implemented", m);
}

static jv_t *s_dict_method(jj_ctx_t *x, const char *m, const jv_t *d, const jj_args_t *args) {
    jj_arena_t *a = x->arena;
    char sig[32];
    snprintf(sig, sizeof sig, "%s()", m);
    if (s_check_args(x, sig, args)) return NULL;
    if (!strcmp(m, "items")) return s_dict_items(x, d);
    if (!strcmp(m, "keys") || !strcmp(m, "values")) {
        jv_t *l = jv_list(a, JV_LIST, d->u.dict.n);
        for (size_t i = 0; i < d->u.dict.n; i++) l->u.list.v[i] = m[0] == 'k' ? d->u.dict.keys[i] : d->u.dict.vals[i];
        return l;
    }
    if (!strcmp(m, "get")) {
        jv_t *key = jj_arg(args, 0, NULL), *def = jj_arg(args, 1, NULL);
        if (!key) return jj_fail(x, "get expected at least 1 argument, got 0");
        jv_t *v = jv_dict_get(d, key);
        return v ? v : def ? def : &jv_none_v;
    }
    return jj_fail(x, "template calls method '%s', not implemented", m);
}

/* namespace(...) and dict(...): a mapping, optionally from a dict or a list of pairs, plus keywords. */
static jv_t *s_mapping(jj_ctx_t *x, jv_kind_t kind, const jj_args_t *args) {
    jv_t *d = jv_dict(x->arena, kind);
    if (args->npos > 1) return jj_fail(x, "expected at most 1 argument, got %d", args->npos);
    if (args->npos == 1) {
        jv_t *src = args->pos[0];
        if (src->k == JV_DICT || src->k == JV_NS) {
            for (size_t i = 0; i < src->u.dict.n; i++) jv_dict_set(x->arena, d, src->u.dict.keys[i], src->u.dict.vals[i]);
        } else if (src->k == JV_LIST || src->k == JV_TUPLE) {
            for (size_t i = 0; i < src->u.list.n; i++) {
                jv_t *p = src->u.list.v[i];
                if ((p->k != JV_LIST && p->k != JV_TUPLE) || p->u.list.n != 2)
                    return jj_fail(x, "dictionary update sequence element #%zu is not a pair", i);
                jv_dict_set(x->arena, d, p->u.list.v[0], p->u.list.v[1]);
            }
        } else {
            return jj_fail(x, "'%s' object is not iterable", jv_type_name(src));
        }
    }
    for (int k = 0; k < args->nkw; k++)
        jv_dict_set(x->arena, d, jv_str(x->arena, args->kwnames[k], strlen(args->kwnames[k])), args->kw[k]);
    return d;
}

jv_t *jj_call_builtin(jj_ctx_t *x, const jv_t *fn, const jj_args_t *args) {
    jj_arena_t *a = x->arena;
    switch (fn->u.fn.kind) {
    case JF_METHOD:
        if (fn->u.fn.self->k == JV_STR) return s_str_method(x, fn->u.fn.name, fn->u.fn.self, args);
        return s_dict_method(x, fn->u.fn.name, fn->u.fn.self, args);
    case JF_RAISE_EXCEPTION: {
        jv_t *msg = jj_arg(args, 0, NULL);
        jv_t *s = msg ? jv_to_str(a, msg) : jv_str(a, "", 0);
        return jj_fail(x, "%s", s->u.str.s);
    }
    case JF_STRFTIME_NOW: {
        jv_t *f = jj_arg(args, 0, NULL);
        if (!f || f->k != JV_STR) return jj_fail(x, "strftime_now() needs a format string");
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char out[512];
        size_t n = f->u.str.n ? strftime(out, sizeof out, f->u.str.s, &tm) : 0;
        if (!n && f->u.str.n) return jj_fail(x, "strftime_now: a format that gives nothing or too much");
        return jv_str(a, out, n);
    }
    case JF_RANGE: {
        int64_t v[3] = {0, 0, 1};
        if (args->nkw || args->npos < 1 || args->npos > 3) return jj_fail(x, "range expected 1 to 3 arguments");
        for (int k = 0; k < args->npos; k++) {
            const jv_t *p = args->pos[k];
            if (p->k != JV_INT && p->k != JV_BOOL) return jj_fail(x, "'%s' object cannot be interpreted as an integer", jv_type_name(p));
        }
        if (args->npos == 1) v[1] = args->pos[0]->k == JV_INT ? args->pos[0]->u.i : args->pos[0]->u.b;
        else
            for (int k = 0; k < args->npos; k++) v[k] = args->pos[k]->k == JV_INT ? args->pos[k]->u.i : args->pos[k]->u.b;
        if (!v[2]) return jj_fail(x, "range() arg 3 must not be zero");
        int64_t count = v[2] > 0 ? (v[1] > v[0] ? (v[1] - v[0] - 1) / v[2] + 1 : 0)
                                 : (v[0] > v[1] ? (v[0] - v[1] - 1) / (-v[2]) + 1 : 0);
        if (count > 100000) return jj_fail(x, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        jv_t *l = jv_list(a, JV_LIST, (size_t)count);
        for (int64_t i = 0; i < count; i++) l->u.list.v[i] = jv_int(a, v[0] + i * v[2]);
        return l;
    }
    case JF_NAMESPACE: return s_mapping(x, JV_NS, args);
    case JF_DICT: return s_mapping(x, JV_DICT, args);
    default: return jj_fail(x, "internal: not a built-in function");
    }
}
