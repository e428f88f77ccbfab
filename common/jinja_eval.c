/* jinja_eval — runs a program: statements write to the render's buffer, expressions evaluate to
 * values in the render's arena, with jinja2's scoping (a for loop's body and a macro's body are
 * scopes of their own; if and set are not), its Undefined (printing it gives "", testing it is
 * false, iterating it gives nothing, but an attribute or item of it, or arithmetic on it, is an
 * error) and Python's operators. Errors stop the render with the first one's message. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jinja_internal.h"
#include "common/util.h"

#define MAX_DEPTH 200 /* nested macro calls: a recursive macro ends with an error, not a crash */

struct jj_scope {
    jj_scope_t *parent;
    const char **names;
    jv_t **vals;
    int n, cap;
};

struct jinja_vars {
    json_t *obj;
};

void *jj_fail(jj_ctx_t *x, const char *fmt, ...) {
    if (x->failed) return NULL;
    x->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, x->whylen, fmt, ap);
    va_end(ap);
    return NULL;
}

static jj_scope_t *s_scope(jj_ctx_t *x, jj_scope_t *parent) {
    jj_scope_t *s = jj_alloc(x->arena, sizeof *s);
    s->parent = parent;
    return s;
}

static void s_assign(jj_ctx_t *x, jj_scope_t *s, const char *name, jv_t *v) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name)) {
            s->vals[i] = v;
            return;
        }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        const char **nn = jj_alloc(x->arena, (size_t)cap * sizeof *nn);
        jv_t **nv = jj_alloc(x->arena, (size_t)cap * sizeof *nv);
        if (s->n) {
            memcpy(nn, s->names, (size_t)s->n * sizeof *nn);
            memcpy(nv, s->vals, (size_t)s->n * sizeof *nv);
        }
        s->names = nn, s->vals = nv, s->cap = cap;
    }
    s->names[s->n] = name;
    s->vals[s->n++] = v;
}

static jv_t *s_lookup(jj_scope_t *s, const char *name) {
    for (; s; s = s->parent)
        for (int i = s->n - 1; i >= 0; i--)
            if (!strcmp(s->names[i], name)) return s->vals[i];
    return NULL;
}

static jv_t *s_eval(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n);
static int s_exec(jj_ctx_t *x, jj_scope_t *sc, jj_node_t *const *body, int nbody, jj_buf_t *out);

static const char *s_undef_name(const jv_t *v) { return v->u.str.s ? v->u.str.s : "value"; }

static jv_t *s_undefined_error(jj_ctx_t *x, const jv_t *v) {
    return jj_fail(x, "'%s' is undefined", s_undef_name(v));
}

/* ---- arithmetic and comparisons, as Python does them ------------------------------------------ */

static int s_numeric(const jv_t *v) { return v->k == JV_INT || v->k == JV_FLOAT || v->k == JV_BOOL; }
static double s_num(const jv_t *v) { return v->k == JV_FLOAT ? v->u.f : v->k == JV_INT ? (double)v->u.i : v->u.b; }
static int64_t s_int(const jv_t *v) { return v->k == JV_INT ? v->u.i : v->u.b; }

static const char *const s_op_names[] = {"+", "-", "*", "/", "//", "%", "**"};

static jv_t *s_repeat(jj_ctx_t *x, const jv_t *seq, int64_t times) {
    if (jv_is_gen(seq)) return jj_fail(x, "unsupported operand type(s) for *: 'generator' and 'int'");
    if (times < 0) times = 0;
    if (seq->k == JV_STR) {
        if (seq->u.str.n && (uint64_t)times > (1u << 30) / seq->u.str.n) return jj_fail(x, "a string repeated beyond 1 GiB");
        size_t n = seq->u.str.n * (size_t)times;
        char *s = jj_alloc(x->arena, n + 1);
        for (int64_t i = 0; i < times; i++) memcpy(s + (size_t)i * seq->u.str.n, seq->u.str.s, seq->u.str.n);
        return jv_str_own(x->arena, s, n);
    }
    if (seq->u.list.n && (uint64_t)times > (1u << 24) / seq->u.list.n) return jj_fail(x, "a list repeated beyond 16M items");
    jv_t *l = jv_list(x->arena, seq->k, seq->u.list.n * (size_t)times);
    for (int64_t i = 0; i < times; i++)
        memcpy(l->u.list.v + (size_t)i * seq->u.list.n, seq->u.list.v, seq->u.list.n * sizeof(jv_t *));
    return l;
}

static jv_t *s_arith(jj_ctx_t *x, int op, const jv_t *a, const jv_t *b) {
    if (a->k == JV_UNDEF) return s_undefined_error(x, a);
    if (b->k == JV_UNDEF) return s_undefined_error(x, b);
    if (s_numeric(a) && s_numeric(b)) {
        if (a->k != JV_FLOAT && b->k != JV_FLOAT && op != JO_DIV) {
            int64_t p = s_int(a), q = s_int(b), r = 0;
            int over = 0;
            switch (op) {
            case JO_ADD: over = __builtin_add_overflow(p, q, &r); break;
            case JO_SUB: over = __builtin_sub_overflow(p, q, &r); break;
            case JO_MUL: over = __builtin_mul_overflow(p, q, &r); break;
            case JO_FLOORDIV:
            case JO_MOD:
                if (!q) return jj_fail(x, "integer division or modulo by zero");
                if (p == INT64_MIN && q == -1) return jj_fail(x, "an integer beyond 64 bits is not implemented");
                r = op == JO_FLOORDIV ? p / q : p % q;
                if ((p % q) && ((p < 0) != (q < 0))) r = op == JO_FLOORDIV ? r - 1 : r + q;
                break;
            case JO_POW:
                if (q < 0) return jv_float(x->arena, pow((double)p, (double)q));
                r = 1;
                for (int64_t k = 0; k < q && !over; k++) over = __builtin_mul_overflow(r, p, &r);
                break;
            }
            if (over) return jj_fail(x, "an integer beyond 64 bits is not implemented");
            return jv_int(x->arena, r);
        }
        double p = s_num(a), q = s_num(b), r = 0;
        switch (op) {
        case JO_ADD: r = p + q; break;
        case JO_SUB: r = p - q; break;
        case JO_MUL: r = p * q; break;
        case JO_DIV:
            if (q == 0) return jj_fail(x, "division by zero");
            r = p / q;
            break;
        case JO_FLOORDIV:
            if (q == 0) return jj_fail(x, "float floor division by zero");
            r = floor(p / q);
            break;
        case JO_MOD:
            if (q == 0) return jj_fail(x, "float modulo");
            r = fmod(p, q);
            if (r != 0 && ((r < 0) != (q < 0))) r += q;
            break;
        case JO_POW:
            if (p == 0 && q < 0) return jj_fail(x, "0.0 cannot be raised to a negative power");
            r = pow(p, q);
            break;
        }
        return jv_float(x->arena, r);
    }
    if (op == JO_ADD && a->k == JV_STR && b->k == JV_STR) {
        size_t n = a->u.str.n + b->u.str.n;
        char *s = jj_alloc(x->arena, n + 1);
        memcpy(s, a->u.str.s, a->u.str.n);
        memcpy(s + a->u.str.n, b->u.str.s, b->u.str.n);
        return jv_str_own(x->arena, s, n);
    }
    if (op == JO_ADD && (a->k == JV_LIST || a->k == JV_TUPLE) && a->k == b->k && !jv_is_gen(a) && !jv_is_gen(b)) {
        jv_t *l = jv_list(x->arena, a->k, a->u.list.n + b->u.list.n);
        memcpy(l->u.list.v, a->u.list.v, a->u.list.n * sizeof(jv_t *));
        memcpy(l->u.list.v + a->u.list.n, b->u.list.v, b->u.list.n * sizeof(jv_t *));
        return l;
    }
    if (op == JO_MUL) {
        int seq_a = a->k == JV_STR || a->k == JV_LIST || a->k == JV_TUPLE;
        int seq_b = b->k == JV_STR || b->k == JV_LIST || b->k == JV_TUPLE;
        if (seq_a && (b->k == JV_INT || b->k == JV_BOOL)) return s_repeat(x, a, s_int(b));
        if (seq_b && (a->k == JV_INT || a->k == JV_BOOL)) return s_repeat(x, b, s_int(a));
    }
    if (op == JO_MOD && a->k == JV_STR) return jj_fail(x, "string formatting with '%%' is not implemented");
    return jj_fail(x, "unsupported operand type(s) for %s: '%s' and '%s'", s_op_names[op], jv_type_name(a),
                   jv_type_name(b));
}

static int s_seq_cmp(jj_ctx_t *x, const jv_t *a, const jv_t *b, int *out);

/* a < b (-1), == (0), > (1) for ordering; -2 on an error. */
static int s_order(jj_ctx_t *x, const jv_t *a, const jv_t *b) {
    if (a->k == JV_UNDEF || b->k == JV_UNDEF) {
        s_undefined_error(x, a->k == JV_UNDEF ? a : b);
        return -2;
    }
    if (s_numeric(a) && s_numeric(b)) {
        if (a->k != JV_FLOAT && b->k != JV_FLOAT) return (s_int(a) > s_int(b)) - (s_int(a) < s_int(b));
        return (s_num(a) > s_num(b)) - (s_num(a) < s_num(b));
    }
    if (a->k == JV_STR && b->k == JV_STR) {
        size_t n = a->u.str.n < b->u.str.n ? a->u.str.n : b->u.str.n;
        int c = memcmp(a->u.str.s, b->u.str.s, n);
        if (c) return c < 0 ? -1 : 1;
        return (a->u.str.n > b->u.str.n) - (a->u.str.n < b->u.str.n);
    }
    if ((a->k == JV_LIST || a->k == JV_TUPLE) && a->k == b->k && !jv_is_gen(a) && !jv_is_gen(b)) {
        int r;
        return s_seq_cmp(x, a, b, &r) ? -2 : r;
    }
    jj_fail(x, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a), jv_type_name(b));
    return -2;
}

static int s_seq_cmp(jj_ctx_t *x, const jv_t *a, const jv_t *b, int *out) {
    for (size_t i = 0; i < a->u.list.n && i < b->u.list.n; i++) {
        if (jv_equal(a->u.list.v[i], b->u.list.v[i])) continue;
        int c = s_order(x, a->u.list.v[i], b->u.list.v[i]);
        if (c == -2) return -1;
        *out = c;
        return 0;
    }
    *out = (a->u.list.n > b->u.list.n) - (a->u.list.n < b->u.list.n);
    return 0;
}

/* `a in b`: 1, 0, or -1 on an error. */
static int s_contains(jj_ctx_t *x, const jv_t *a, jv_t *b) {
    switch (b->k) {
    case JV_UNDEF: return 0;
    case JV_STR:
        if (a->k != JV_STR) {
            jj_fail(x, "'in <string>' requires string as left operand, not %s", jv_type_name(a));
            return -1;
        }
        if (!a->u.str.n) return 1;
        return memmem(b->u.str.s, b->u.str.n, a->u.str.s, a->u.str.n) != NULL;
    case JV_LIST:
    case JV_TUPLE:
        for (size_t i = b->u.list.gen ? b->u.list.pos : 0; i < b->u.list.n; i++)
            if (jv_equal(a, b->u.list.v[i])) {
                if (b->u.list.gen) b->u.list.pos = i + 1; /* a generator is consumed up to the match */
                return 1;
            }
        if (b->u.list.gen) b->u.list.pos = b->u.list.n;
        return 0;
    case JV_DICT: return jv_dict_get(b, a) != NULL;
    default: jj_fail(x, "argument of type '%s' is not iterable", jv_type_name(b)); return -1;
    }
}

static jv_t *s_compare(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n) {
    jv_t *l = s_eval(x, sc, n->kids[0]);
    if (!l) return NULL;
    for (int k = 0; k + 1 < n->nkids; k++) {
        jv_t *r = s_eval(x, sc, n->kids[k + 1]);
        if (!r) return NULL;
        int ok;
        switch (n->ops[k]) {
        case JC_EQ: ok = jv_equal(l, r); break;
        case JC_NE: ok = !jv_equal(l, r); break;
        case JC_IN:
        case JC_NOT_IN:
            ok = s_contains(x, l, r);
            if (ok < 0) return NULL;
            if (n->ops[k] == JC_NOT_IN) ok = !ok;
            break;
        default: {
            int c = s_order(x, l, r);
            if (c == -2) return NULL;
            ok = n->ops[k] == JC_LT ? c < 0 : n->ops[k] == JC_LE ? c <= 0 : n->ops[k] == JC_GT ? c > 0 : c >= 0;
        }
        }
        if (!ok) return &jv_false_v;
        l = r;
    }
    return &jv_true_v;
}

/* ---- attributes, items, slices --------------------------------------------------------------- */

static jv_t *s_char_at(jj_ctx_t *x, const jv_t *s, int64_t idx) {
    size_t count = jj_utf8_count(s->u.str.s, s->u.str.n);
    if (idx < 0) idx += (int64_t)count;
    if (idx < 0 || (size_t)idx >= count) return jv_undef(x->arena, NULL);
    size_t i = 0, k = 0;
    for (int64_t c = 0; c < idx; c++) {
        jj_utf8_next(s->u.str.s + i, s->u.str.n - i, &k);
        i += k;
    }
    jj_utf8_next(s->u.str.s + i, s->u.str.n - i, &k);
    return jv_str(x->arena, s->u.str.s + i, k);
}

/* jinja2's getattr: obj.name (Python attributes first: the methods; then items). */
static jv_t *s_getattr(jj_ctx_t *x, jv_t *obj, const char *name) {
    if (obj->k == JV_UNDEF) return jj_fail(x, "'%s' is undefined (it has no attribute '%s')", s_undef_name(obj), name);
    jv_t *m = jj_method_of(x, obj, name);
    if (m) return m;
    if (obj->k == JV_DICT || obj->k == JV_NS) {
        jv_t *v = jv_dict_gets(obj, name, strlen(name));
        if (v) return v;
    }
    return jv_undef(x->arena, name);
}

/* jinja2's getitem: obj[key] (items first, then attributes). */
static jv_t *s_getitem(jj_ctx_t *x, jv_t *obj, jv_t *key) {
    if (obj->k == JV_UNDEF) return jj_fail(x, "'%s' is undefined (it has no item)", s_undef_name(obj));
    if (jv_is_gen(obj)) return jv_undef(x->arena, NULL); /* a generator has no items */
    switch (obj->k) {
    case JV_DICT:
    case JV_NS: {
        jv_t *v = jv_dict_get(obj, key);
        if (v) return v;
        break;
    }
    case JV_LIST:
    case JV_TUPLE:
        if (key->k == JV_INT || key->k == JV_BOOL) {
            int64_t i = s_int(key);
            if (i < 0) i += (int64_t)obj->u.list.n;
            if (i >= 0 && (size_t)i < obj->u.list.n) return obj->u.list.v[i];
            return jv_undef(x->arena, NULL);
        }
        break;
    case JV_STR:
        if (key->k == JV_INT || key->k == JV_BOOL) return s_char_at(x, obj, s_int(key));
        break;
    default: break;
    }
    if (key->k == JV_STR) {
        jv_t *m = jj_method_of(x, obj, key->u.str.s);
        if (m) return m;
        return jv_undef(x->arena, key->u.str.s);
    }
    return jv_undef(x->arena, NULL);
}

/* Python's slice.indices: the count of items, start and step. */
static int64_t s_slice_indices(int64_t len, const jv_t *a, const jv_t *b, int64_t step, int64_t *start) {
    int64_t lo, hi;
    if (step > 0) {
        lo = 0, hi = len;
    } else {
        lo = len - 1, hi = -1;
    }
    if (a) {
        lo = s_int(a);
        if (lo < 0) {
            lo += len;
            if (lo < 0) lo = step < 0 ? -1 : 0;
        } else if (lo >= len) {
            lo = step < 0 ? len - 1 : len;
        }
    }
    if (b) {
        hi = s_int(b);
        if (hi < 0) {
            hi += len;
            if (hi < 0) hi = step < 0 ? -1 : 0;
        } else if (hi >= len) {
            hi = step < 0 ? len - 1 : len;
        }
    }
    *start = lo;
    if (step > 0) return lo < hi ? (hi - lo - 1) / step + 1 : 0;
    return hi < lo ? (lo - hi - 1) / (-step) + 1 : 0;
}

static jv_t *s_slice(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n) {
    jv_t *obj = s_eval(x, sc, n->a);
    if (!obj) return NULL;
    jv_t *parts[3] = {NULL, NULL, NULL};
    const jj_node_t *nodes[3] = {n->b, n->c, n->d};
    for (int k = 0; k < 3; k++) {
        if (!nodes[k]) continue;
        if (!(parts[k] = s_eval(x, sc, nodes[k]))) return NULL;
        if (parts[k]->k == JV_NONE) parts[k] = NULL;
        else if (parts[k]->k != JV_INT && parts[k]->k != JV_BOOL) return jv_undef(x->arena, NULL);
    }
    if (obj->k == JV_UNDEF) return jj_fail(x, "'%s' is undefined (it cannot be sliced)", s_undef_name(obj));
    int64_t step = parts[2] ? s_int(parts[2]) : 1;
    if (!step) return jj_fail(x, "slice step cannot be zero");
    if (jv_is_gen(obj)) return jv_undef(x->arena, NULL);
    if (obj->k == JV_LIST || obj->k == JV_TUPLE) {
        int64_t start, count = s_slice_indices((int64_t)obj->u.list.n, parts[0], parts[1], step, &start);
        jv_t *l = jv_list(x->arena, obj->k, (size_t)count);
        for (int64_t i = 0; i < count; i++) l->u.list.v[i] = obj->u.list.v[start + i * step];
        return l;
    }
    if (obj->k == JV_STR) {
        size_t ncp = jj_utf8_count(obj->u.str.s, obj->u.str.n), k;
        size_t *off = xmalloc((ncp + 1) * sizeof *off);
        size_t i = 0, c = 0;
        while (i < obj->u.str.n) {
            off[c++] = i;
            jj_utf8_next(obj->u.str.s + i, obj->u.str.n - i, &k);
            i += k;
        }
        off[c] = obj->u.str.n;
        int64_t start, count = s_slice_indices((int64_t)ncp, parts[0], parts[1], step, &start);
        jj_buf_t b = {0};
        for (int64_t j = 0; j < count; j++) {
            size_t at = (size_t)(start + j * step);
            jj_buf_add(&b, obj->u.str.s + off[at], off[at + 1] - off[at]);
        }
        free(off);
        jv_t *s = jv_str(x->arena, b.s ? b.s : "", b.n);
        free(b.s);
        return s;
    }
    return jv_undef(x->arena, NULL);
}

/* ---- calls ------------------------------------------------------------------------------------ */

static int s_eval_args(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n, jj_args_t *args) {
    memset(args, 0, sizeof *args);
    args->npos = n->nkids;
    args->pos = jj_alloc(x->arena, (size_t)(n->nkids + 1) * sizeof(jv_t *));
    for (int k = 0; k < n->nkids; k++)
        if (!(args->pos[k] = s_eval(x, sc, n->kids[k]))) return -1;
    args->nkw = n->nkids2;
    args->kwnames = n->names;
    args->kw = jj_alloc(x->arena, (size_t)(n->nkids2 + 1) * sizeof(jv_t *));
    for (int k = 0; k < n->nkids2; k++)
        if (!(args->kw[k] = s_eval(x, sc, n->kids2[k]))) return -1;
    return 0;
}

static jv_t *s_call_macro(jj_ctx_t *x, const jv_t *fn, const jj_args_t *args) {
    const jj_node_t *m = fn->u.fn.macro;
    if (args->npos > m->nnames)
        return jj_fail(x, "macro '%s' takes not more than %d argument(s)", m->name, m->nnames);
    for (int k = 0; k < args->nkw; k++) {
        int found = 0;
        for (int p = 0; p < m->nnames && !found; p++) found = !strcmp(m->names[p], args->kwnames[k]);
        if (!found) return jj_fail(x, "macro '%s' takes no keyword argument '%s'", m->name, args->kwnames[k]);
        for (int p = 0; p < args->npos; p++)
            if (!strcmp(m->names[p], args->kwnames[k]))
                return jj_fail(x, "macro '%s' got multiple values for argument '%s'", m->name, args->kwnames[k]);
    }
    if (x->depth >= MAX_DEPTH) return jj_fail(x, "macro calls nested deeper than %d", MAX_DEPTH);
    jj_scope_t *ms = s_scope(x, fn->u.fn.env);
    for (int p = 0; p < m->nnames; p++) {
        jv_t *v = p < args->npos ? args->pos[p] : NULL;
        for (int k = 0; k < args->nkw && !v; k++)
            if (!strcmp(m->names[p], args->kwnames[k])) v = args->kw[k];
        if (!v && m->kids2[p]) {
            if (!(v = s_eval(x, ms, m->kids2[p]))) return NULL;
        }
        s_assign(x, ms, m->names[p], v ? v : jv_undef(x->arena, m->names[p]));
    }
    jj_buf_t out = {0};
    x->depth++;
    int st = s_exec(x, ms, m->body, m->nbody, &out);
    x->depth--;
    jv_t *r = st < 0 ? NULL : jv_str(x->arena, out.s ? out.s : "", out.n);
    free(out.s);
    return r;
}

static jv_t *s_call(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n) {
    jv_t *fn;
    if (n->a->kind == JN_ATTR) {
        jv_t *obj = s_eval(x, sc, n->a->a);
        if (!obj) return NULL;
        if (obj->k == JV_UNDEF) return jj_fail(x, "'%s' is undefined (it has no method '%s')", s_undef_name(obj), n->a->name);
        if (!(fn = s_getattr(x, obj, n->a->name))) return NULL;
    } else {
        if (!(fn = s_eval(x, sc, n->a))) return NULL;
    }
    if (fn->k == JV_UNDEF) return jj_fail(x, "'%s' is undefined (it cannot be called)", s_undef_name(fn));
    if (fn->k != JV_FUNC) return jj_fail(x, "'%s' object is not callable", jv_type_name(fn));
    jj_args_t args;
    if (s_eval_args(x, sc, n, &args)) return NULL;
    if (fn->u.fn.kind == JF_MACRO) return s_call_macro(x, fn, &args);
    return jj_call_builtin(x, fn, &args);
}

/* ---- expressions ------------------------------------------------------------------------------ */

static jv_t *s_eval(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n) {
    if (x->failed) return NULL;
    switch (n->kind) {
    case JN_CONST: return n->value;
    case JN_NAME: {
        jv_t *v = s_lookup(sc, n->name);
        return v ? v : jv_undef(x->arena, n->name);
    }
    case JN_LIST:
    case JN_TUPLE: {
        jv_t *l = jv_list(x->arena, n->kind == JN_LIST ? JV_LIST : JV_TUPLE, (size_t)n->nkids);
        for (int k = 0; k < n->nkids; k++)
            if (!(l->u.list.v[k] = s_eval(x, sc, n->kids[k]))) return NULL;
        return l;
    }
    case JN_DICT: {
        jv_t *d = jv_dict(x->arena, JV_DICT);
        for (int k = 0; k < n->nkids; k++) {
            jv_t *key = s_eval(x, sc, n->kids[k]), *val = key ? s_eval(x, sc, n->kids2[k]) : NULL;
            if (!val) return NULL;
            if (key->k != JV_STR && key->k != JV_INT && key->k != JV_BOOL && key->k != JV_NONE && key->k != JV_FLOAT &&
                key->k != JV_TUPLE)
                return jj_fail(x, "unhashable type: '%s'", jv_type_name(key));
            jv_dict_set(x->arena, d, key, val);
        }
        return d;
    }
    case JN_ATTR: {
        jv_t *obj = s_eval(x, sc, n->a);
        return obj ? s_getattr(x, obj, n->name) : NULL;
    }
    case JN_ITEM: {
        jv_t *obj = s_eval(x, sc, n->a), *key = obj ? s_eval(x, sc, n->b) : NULL;
        return key ? s_getitem(x, obj, key) : NULL;
    }
    case JN_SLICE: return s_slice(x, sc, n);
    case JN_CALL: return s_call(x, sc, n);
    case JN_FILTER: {
        jv_t *v = s_eval(x, sc, n->a);
        jj_args_t args;
        if (!v || s_eval_args(x, sc, n, &args)) return NULL;
        return jj_apply_filter(x, n->name, v, &args);
    }
    case JN_TEST: {
        jv_t *v = s_eval(x, sc, n->a);
        if (!v) return NULL;
        int r = jj_apply_test(x, n->name, v);
        if (r < 0) return NULL;
        return jv_bool(n->op ? !r : r);
    }
    case JN_NOT: {
        jv_t *v = s_eval(x, sc, n->a);
        return v ? jv_bool(!jv_truthy(v)) : NULL;
    }
    case JN_NEG:
    case JN_POS: {
        jv_t *v = s_eval(x, sc, n->a);
        if (!v) return NULL;
        if (v->k == JV_UNDEF) return s_undefined_error(x, v);
        if (v->k == JV_FLOAT) return jv_float(x->arena, n->kind == JN_NEG ? -v->u.f : v->u.f);
        if (v->k == JV_INT || v->k == JV_BOOL) {
            int64_t i = s_int(v);
            if (n->kind == JN_NEG && i == INT64_MIN) return jj_fail(x, "an integer beyond 64 bits is not implemented");
            return jv_int(x->arena, n->kind == JN_NEG ? -i : i);
        }
        return jj_fail(x, "bad operand type for unary %c: '%s'", n->kind == JN_NEG ? '-' : '+', jv_type_name(v));
    }
    case JN_BINOP: {
        jv_t *a = s_eval(x, sc, n->a), *b = a ? s_eval(x, sc, n->b) : NULL;
        return b ? s_arith(x, n->op, a, b) : NULL;
    }
    case JN_AND:
    case JN_OR: {
        jv_t *a = s_eval(x, sc, n->a);
        if (!a) return NULL;
        if (jv_truthy(a) == (n->kind == JN_OR)) return a;
        return s_eval(x, sc, n->b);
    }
    case JN_COMPARE: return s_compare(x, sc, n);
    case JN_CONCAT: {
        jj_buf_t b = {0};
        for (int k = 0; k < n->nkids; k++) {
            jv_t *v = s_eval(x, sc, n->kids[k]);
            if (!v || jv_is_gen(v)) {
                free(b.s);
                return v ? jj_fail(x, "printing a generator (what map, select and the like give) is not implemented: add | list") : NULL;
            }
            jv_write_str(&b, v);
        }
        jv_t *s = jv_str(x->arena, b.s ? b.s : "", b.n);
        free(b.s);
        return s;
    }
    case JN_COND: {
        jv_t *t = s_eval(x, sc, n->b);
        if (!t) return NULL;
        if (jv_truthy(t)) return s_eval(x, sc, n->a);
        return n->c ? s_eval(x, sc, n->c) : jv_undef(x->arena, NULL);
    }
    default: return jj_fail(x, "internal: a statement evaluated as an expression");
    }
}

/* ---- statements ------------------------------------------------------------------------------- */

static int s_bind(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *target, jv_t *v) {
    if (target->kind == JN_NAME) {
        s_assign(x, sc, target->name, v);
        return 0;
    }
    jv_t *items = jj_iter_items(x, v);
    if (!items) return -1;
    if (items->u.list.n != (size_t)target->nkids) {
        jj_fail(x, items->u.list.n > (size_t)target->nkids ? "too many values to unpack (expected %d)"
                                                           : "not enough values to unpack (expected %d)",
                target->nkids);
        return -1;
    }
    for (int k = 0; k < target->nkids; k++) s_assign(x, sc, target->kids[k]->name, items->u.list.v[k]);
    return 0;
}

static void s_loop_set(jj_ctx_t *x, jv_t *loop, const char *key, jv_t *v) {
    jv_dict_set(x->arena, loop, jv_str_own(x->arena, key, strlen(key)), v);
}

static int s_for(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n, jj_buf_t *out) {
    jv_t *it = s_eval(x, sc, n->b);
    if (!it) return -1;
    jv_t *all = jj_iter_items(x, it);
    if (!all) return -1;
    jj_scope_t *ls = s_scope(x, sc);
    jv_t **items = all->u.list.v;
    size_t count = all->u.list.n;
    if (n->c) { /* the loop filter: the items it keeps */
        items = jj_alloc(x->arena, (count + 1) * sizeof *items);
        size_t kept = 0;
        for (size_t i = 0; i < all->u.list.n; i++) {
            if (s_bind(x, ls, n->a, all->u.list.v[i])) return -1;
            jv_t *t = s_eval(x, ls, n->c);
            if (!t) return -1;
            if (jv_truthy(t)) items[kept++] = all->u.list.v[i];
        }
        count = kept;
    }
    for (size_t i = 0; i < count; i++) {
        jv_t *loop = jv_dict(x->arena, JV_DICT);
        int64_t len = (int64_t)count, ii = (int64_t)i;
        s_loop_set(x, loop, "index", jv_int(x->arena, ii + 1));
        s_loop_set(x, loop, "index0", jv_int(x->arena, ii));
        s_loop_set(x, loop, "revindex", jv_int(x->arena, len - ii));
        s_loop_set(x, loop, "revindex0", jv_int(x->arena, len - ii - 1));
        s_loop_set(x, loop, "first", jv_bool(i == 0));
        s_loop_set(x, loop, "last", jv_bool(i + 1 == count));
        s_loop_set(x, loop, "length", jv_int(x->arena, len));
        s_loop_set(x, loop, "depth", jv_int(x->arena, 1));
        s_loop_set(x, loop, "depth0", jv_int(x->arena, 0));
        s_loop_set(x, loop, "previtem", i ? items[i - 1] : jv_undef(x->arena, "previtem"));
        s_loop_set(x, loop, "nextitem", i + 1 < count ? items[i + 1] : jv_undef(x->arena, "nextitem"));
        jj_scope_t *is = s_scope(x, sc); /* jinja2: what the body sets lasts one iteration */
        s_assign(x, is, "loop", loop);
        if (s_bind(x, is, n->a, items[i])) return -1;
        int st = s_exec(x, is, n->body, n->nbody, out);
        if (st < 0) return -1;
        if (st == 1) break;
    }
    if (!count && n->nalt) return s_exec(x, ls, n->alt, n->nalt, out) < 0 ? -1 : 0;
    return 0;
}

static int s_set(jj_ctx_t *x, jj_scope_t *sc, const jj_node_t *n) {
    jv_t *v = s_eval(x, sc, n->b);
    if (!v) return -1;
    if (n->a->kind == JN_ATTR) {
        jv_t *ns = s_lookup(sc, n->a->a->name);
        if (!ns || ns->k != JV_NS) {
            jj_fail(x, "cannot assign attribute on non-namespace object");
            return -1;
        }
        jv_dict_set(x->arena, ns, jv_str_own(x->arena, n->a->name, n->a->nlen), v);
        return 0;
    }
    return s_bind(x, sc, n->a, v);
}

/* 0, -1 (error), 1 (break), 2 (continue). */
static int s_exec(jj_ctx_t *x, jj_scope_t *sc, jj_node_t *const *body, int nbody, jj_buf_t *out) {
    for (int k = 0; k < nbody; k++) {
        const jj_node_t *n = body[k];
        if (x->failed) return -1;
        switch (n->kind) {
        case JN_TEXT: jj_buf_add(out, n->value->u.str.s, n->value->u.str.n); break;
        case JN_OUTPUT: {
            jv_t *v = s_eval(x, sc, n->a);
            if (!v) return -1;
            if (jv_is_gen(v)) {
                jj_fail(x, "printing a generator (what map, select and the like give) is not implemented: add | list");
                return -1;
            }
            jv_write_str(out, v);
            break;
        }
        case JN_IF: {
            jv_t *t = s_eval(x, sc, n->a);
            if (!t) return -1;
            int st = jv_truthy(t) ? s_exec(x, sc, n->body, n->nbody, out) : s_exec(x, sc, n->alt, n->nalt, out);
            if (st) return st;
            break;
        }
        case JN_FOR:
            if (s_for(x, sc, n, out)) return -1;
            break;
        case JN_SET:
            if (s_set(x, sc, n)) return -1;
            break;
        case JN_SET_BLOCK: {
            jj_buf_t b = {0};
            int st = s_exec(x, sc, n->body, n->nbody, &b);
            if (st == 0) s_assign(x, sc, n->a->name, jv_str(x->arena, b.s ? b.s : "", b.n));
            free(b.s);
            if (st) return st;
            break;
        }
        case JN_MACRO: {
            jv_t *fn = jv_func(x->arena, JF_MACRO, n->name);
            fn->u.fn.macro = n;
            fn->u.fn.env = sc;
            s_assign(x, sc, n->name, fn);
            break;
        }
        case JN_BREAK: return 1;
        case JN_CONTINUE: return 2;
        case JN_BLOCK: {
            int st = s_exec(x, sc, n->body, n->nbody, out);
            if (st) return st;
            break;
        }
        default: jj_fail(x, "internal: an expression run as a statement"); return -1;
        }
    }
    return x->failed ? -1 : 0;
}

/* ---- variables and the render ----------------------------------------------------------------- */

jinja_vars_t *jinja_vars_new(void) {
    jinja_vars_t *v = xcalloc(1, sizeof *v);
    v->obj = json_object();
    return v;
}

void jinja_vars_free(jinja_vars_t **v) {
    if (!*v) return;
    json_decref((*v)->obj);
    free(*v);
    *v = NULL;
}

void jinja_vars_set_string(jinja_vars_t *v, const char *name, const char *value) {
    json_object_set_new(v->obj, name, json_stringn(value, strlen(value)));
}
void jinja_vars_set_bool(jinja_vars_t *v, const char *name, int value) {
    json_object_set_new(v->obj, name, json_boolean(value));
}
void jinja_vars_set_none(jinja_vars_t *v, const char *name) { json_object_set_new(v->obj, name, json_null()); }

int jinja_vars_set_json(jinja_vars_t *v, const char *name, const char *json, size_t len, char *why, size_t whylen) {
    json_error_t e;
    json_t *j = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) {
        snprintf(why, whylen, "variable %s: not JSON: %s (line %d)", name, e.text, e.line);
        return -1;
    }
    json_object_set_new(v->obj, name, j);
    return 0;
}

int jinja_vars_merge_json_object(jinja_vars_t *v, const char *json, size_t len, char *why, size_t whylen) {
    json_error_t e;
    json_t *j = json_loadb(json, len, JSON_ALLOW_NUL, &e);
    if (!j || !json_is_object(j)) {
        snprintf(why, whylen, "variables: %s", j ? "not a JSON object" : e.text);
        json_decref(j);
        return -1;
    }
    json_object_update(v->obj, j);
    json_decref(j);
    return 0;
}

char *jinja_render(const jinja_program_t *p, const jinja_vars_t *v, size_t *len_out, char *why, size_t whylen) {
    jj_arena_t arena = {0};
    jj_ctx_t x = {.arena = &arena, .why = why, .whylen = whylen};
    jj_scope_t *globals = s_scope(&x, NULL);
    static const struct {
        const char *name;
        jj_func_kind_t kind;
    } builtins[] = {{"raise_exception", JF_RAISE_EXCEPTION}, {"strftime_now", JF_STRFTIME_NOW},
                    {"range", JF_RANGE},                     {"namespace", JF_NAMESPACE},
                    {"dict", JF_DICT}};
    for (size_t k = 0; k < sizeof builtins / sizeof *builtins; k++)
        s_assign(&x, globals, builtins[k].name, jv_func(&arena, builtins[k].kind, builtins[k].name));
    jj_scope_t *top = s_scope(&x, globals);
    const char *key;
    json_t *val;
    json_object_foreach(v->obj, key, val) s_assign(&x, top, jj_strndup(&arena, key, strlen(key)), jv_from_json(&arena, val));
    jj_buf_t out = {0};
    int st = s_exec(&x, top, p->body, p->nbody, &out);
    jj_arena_free(&arena);
    if (st < 0) {
        free(out.s);
        return NULL;
    }
    if (!out.s) out.s = xstrdup("");
    if (len_out) *len_out = out.n;
    return out.s;
}
