/* jinja_parse — tokens into a program, by jinja2's grammar (its parser's precedence: conditional
 * expressions, or, and, not, comparisons and `in`, + -, ~, * / // %, **, unary - +, then
 * attributes, subscripts, calls, filters and tests). The statements: if/elif/else, for (with else,
 * a loop filter, tuple targets), set (=, namespace attributes, tuples, blocks), macro, break,
 * continue, generation. Anything else jinja2 has is refused here by name: other tags, filters and
 * tests outside the subset, tests with arguments, methods and functions spar does not implement,
 * * and ** arguments, recursive loops, and macros that use varargs, kwargs or caller. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jinja_internal.h"
#include "common/util.h"

typedef struct {
    jj_arena_t *a;
    jj_tok_t *t;
    int n, i;
    char *why;
    size_t whylen;
    int failed;
    int loops, macros; /* nesting */
    const char **defined_macros, **called;
    int ndefined, ncalled, capdefined, capcalled;
} parser_t;

static void *s_err(parser_t *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *s_err(parser_t *P, const char *fmt, ...) {
    if (P->failed) return NULL;
    P->failed = 1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(P->why, P->whylen, "template syntax error at line %d: %s", P->t[P->i].line, msg);
    return NULL;
}

static void *s_refuse(parser_t *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *s_refuse(parser_t *P, const char *fmt, ...) {
    if (P->failed) return NULL;
    P->failed = 1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(P->why, P->whylen, "%s, not implemented (line %d)", msg, P->t[P->i].line);
    return NULL;
}

static jj_tok_t *s_cur(parser_t *P) { return &P->t[P->i]; }
static jj_tok_t *s_peek(parser_t *P, int k) { return &P->t[P->i + k < P->n ? P->i + k : P->n - 1]; }
static int s_is_op(const jj_tok_t *t, const char *op) { return t->kind == JT_OP && !strcmp(t->s, op); }
static int s_is_name(const jj_tok_t *t, const char *name) { return t->kind == JT_NAME && !strcmp(t->s, name); }

static int s_accept_op(parser_t *P, const char *op) {
    if (!s_is_op(s_cur(P), op)) return 0;
    P->i++;
    return 1;
}

static int s_expect_op(parser_t *P, const char *op) {
    if (s_accept_op(P, op)) return 1;
    s_err(P, "expected '%s'", op);
    return 0;
}

static int s_expect_kind(parser_t *P, jj_tok_kind_t k, const char *what) {
    if (s_cur(P)->kind == k) {
        P->i++;
        return 1;
    }
    s_err(P, "expected %s", what);
    return 0;
}

static jj_node_t *s_node(parser_t *P, jj_node_kind_t kind) {
    jj_node_t *n = jj_alloc(P->a, sizeof *n);
    n->kind = kind;
    n->line = s_cur(P)->line;
    return n;
}

/* A growable array of nodes or names, in the arena. */
typedef struct {
    void **v;
    int n, cap;
} vec_t;
static void s_vec_push(parser_t *P, vec_t *v, void *x) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        void **nv = jj_alloc(P->a, (size_t)cap * sizeof *nv);
        if (v->n) memcpy(nv, v->v, (size_t)v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

static void s_names_push(parser_t *P, const char ***arr, int *n, int *cap, const char *name) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        const char **nv = jj_alloc(P->a, (size_t)*cap * sizeof *nv);
        if (*n) memcpy(nv, *arr, (size_t)*n * sizeof *nv);
        *arr = nv;
    }
    (*arr)[(*n)++] = name;
}

static jj_node_t *s_expression(parser_t *P, int with_condexpr);
static jj_node_t *s_unary(parser_t *P, int with_filter);
static jj_node_t *s_tuple(parser_t *P, int with_condexpr, int explicit_parens);

static jj_node_t *s_const(parser_t *P, jv_t *v) {
    jj_node_t *n = s_node(P, JN_CONST);
    n->value = v;
    return n;
}

/* Comma-separated expressions up to close (consumed); a trailing comma is allowed. */
static int s_list_until(parser_t *P, const char *close, vec_t *out) {
    while (!P->failed && !s_is_op(s_cur(P), close)) {
        if (out->n && !s_expect_op(P, ",")) return -1;
        if (s_is_op(s_cur(P), close)) break;
        jj_node_t *e = s_expression(P, 1);
        if (!e) return -1;
        s_vec_push(P, out, e);
    }
    return s_expect_op(P, close) ? 0 : -1;
}

static jj_node_t *s_primary(parser_t *P) {
    jj_tok_t *t = s_cur(P);
    switch (t->kind) {
    case JT_NAME: {
        P->i++;
        if (!strcmp(t->s, "true") || !strcmp(t->s, "True")) return s_const(P, &jv_true_v);
        if (!strcmp(t->s, "false") || !strcmp(t->s, "False")) return s_const(P, &jv_false_v);
        if (!strcmp(t->s, "none") || !strcmp(t->s, "None")) return s_const(P, &jv_none_v);
        jj_node_t *n = s_node(P, JN_NAME);
        n->name = t->s;
        n->nlen = t->n;
        if (P->macros && (!strcmp(t->s, "varargs") || !strcmp(t->s, "kwargs") || !strcmp(t->s, "caller")))
            return s_refuse(P, "template's macro uses '%s'", t->s);
        return n;
    }
    case JT_STRING: {
        jj_buf_t b = {0};
        while (s_cur(P)->kind == JT_STRING) {
            jj_buf_add(&b, s_cur(P)->s, s_cur(P)->n);
            P->i++;
        }
        jj_node_t *n = s_const(P, jv_str(P->a, b.s ? b.s : "", b.n));
        free(b.s);
        return n;
    }
    case JT_INT: P->i++; return s_const(P, jv_int(P->a, t->i));
    case JT_FLOAT: P->i++; return s_const(P, jv_float(P->a, t->f));
    case JT_OP:
        if (s_accept_op(P, "(")) {
            jj_node_t *e = s_tuple(P, 1, 1);
            if (!e || !s_expect_op(P, ")")) return NULL;
            return e;
        }
        if (s_accept_op(P, "[")) {
            vec_t items = {0};
            jj_node_t *n = s_node(P, JN_LIST);
            if (s_list_until(P, "]", &items)) return NULL;
            n->kids = (jj_node_t **)items.v;
            n->nkids = items.n;
            return n;
        }
        if (s_accept_op(P, "{")) {
            vec_t keys = {0}, vals = {0};
            jj_node_t *n = s_node(P, JN_DICT);
            while (!P->failed && !s_is_op(s_cur(P), "}")) {
                if (keys.n && !s_expect_op(P, ",")) return NULL;
                if (s_is_op(s_cur(P), "}")) break;
                jj_node_t *k = s_expression(P, 1);
                if (!k || !s_expect_op(P, ":")) return NULL;
                jj_node_t *v = s_expression(P, 1);
                if (!v) return NULL;
                s_vec_push(P, &keys, k);
                s_vec_push(P, &vals, v);
            }
            if (!s_expect_op(P, "}")) return NULL;
            n->kids = (jj_node_t **)keys.v, n->nkids = keys.n;
            n->kids2 = (jj_node_t **)vals.v, n->nkids2 = vals.n;
            return n;
        }
        return s_err(P, "unexpected '%s'", t->s);
    default: return s_err(P, "expected an expression");
    }
}

/* Call arguments after '(' (consumed here), into n's kids (positional) and names + kids2. */
static int s_call_args(parser_t *P, jj_node_t *n) {
    vec_t pos = {0}, kw = {0};
    const char **names = NULL;
    int nnames = 0, cap = 0;
    if (!s_expect_op(P, "(")) return -1;
    while (!P->failed && !s_is_op(s_cur(P), ")")) {
        if ((pos.n || kw.n) && !s_expect_op(P, ",")) return -1;
        if (s_is_op(s_cur(P), ")")) break;
        if (s_is_op(s_cur(P), "*") || s_is_op(s_cur(P), "**")) {
            s_refuse(P, "template unpacks arguments with '%s'", s_cur(P)->s);
            return -1;
        }
        if (s_cur(P)->kind == JT_NAME && s_is_op(s_peek(P, 1), "=")) {
            s_names_push(P, &names, &nnames, &cap, s_cur(P)->s);
            P->i += 2;
            jj_node_t *v = s_expression(P, 1);
            if (!v) return -1;
            s_vec_push(P, &kw, v);
        } else {
            if (kw.n) {
                s_err(P, "a positional argument after a keyword argument");
                return -1;
            }
            jj_node_t *v = s_expression(P, 1);
            if (!v) return -1;
            s_vec_push(P, &pos, v);
        }
    }
    if (!s_expect_op(P, ")")) return -1;
    n->kids = (jj_node_t **)pos.v, n->nkids = pos.n;
    n->kids2 = (jj_node_t **)kw.v, n->nkids2 = kw.n;
    n->names = names, n->nnames = nnames;
    return 0;
}

static jj_node_t *s_call(parser_t *P, jj_node_t *callee) {
    jj_node_t *n = s_node(P, JN_CALL);
    n->a = callee;
    if (callee->kind == JN_ATTR && !jj_method_known(callee->name))
        return s_refuse(P, "template calls method '%s'", callee->name);
    if (callee->kind == JN_NAME) s_names_push(P, &P->called, &P->ncalled, &P->capcalled, callee->name);
    if (s_call_args(P, n)) return NULL;
    return n;
}

static jj_node_t *s_subscribed(parser_t *P) {
    jj_node_t *start = NULL, *stop = NULL, *step = NULL;
    if (!s_is_op(s_cur(P), ":")) {
        jj_node_t *e = s_expression(P, 1);
        if (!e || !s_is_op(s_cur(P), ":")) return e;
        start = e;
    }
    P->i++; /* the first ':' */
    if (!s_is_op(s_cur(P), ":") && !s_is_op(s_cur(P), "]") && !s_is_op(s_cur(P), ",")) {
        if (!(stop = s_expression(P, 1))) return NULL;
    }
    if (s_accept_op(P, ":")) {
        if (!s_is_op(s_cur(P), "]") && !s_is_op(s_cur(P), ",")) {
            if (!(step = s_expression(P, 1))) return NULL;
        }
    }
    jj_node_t *n = s_node(P, JN_SLICE);
    n->b = start, n->c = stop, n->d = step;
    return n;
}

static jj_node_t *s_subscript(parser_t *P, jj_node_t *obj) {
    if (s_accept_op(P, ".")) {
        jj_tok_t *t = s_cur(P);
        if (t->kind == JT_NAME) {
            P->i++;
            jj_node_t *n = s_node(P, JN_ATTR);
            n->a = obj, n->name = t->s, n->nlen = t->n;
            return n;
        }
        if (t->kind == JT_INT) {
            P->i++;
            jj_node_t *n = s_node(P, JN_ITEM);
            n->a = obj, n->b = s_const(P, jv_int(P->a, t->i));
            return n;
        }
        return s_err(P, "expected a name after '.'");
    }
    P->i++; /* '[' */
    vec_t args = {0};
    while (!P->failed && !s_is_op(s_cur(P), "]")) { /* jinja2 takes no trailing comma here */
        if (args.n && !s_expect_op(P, ",")) return NULL;
        jj_node_t *e = s_subscribed(P);
        if (!e) return NULL;
        s_vec_push(P, &args, e);
    }
    if (!s_expect_op(P, "]")) return NULL;
    if (!args.n) return s_err(P, "expected a subscript");
    jj_node_t *idx;
    if (args.n == 1) {
        idx = args.v[0];
    } else {
        idx = s_node(P, JN_TUPLE);
        idx->kids = (jj_node_t **)args.v, idx->nkids = args.n;
        for (int k = 0; k < args.n; k++)
            if (idx->kids[k]->kind == JN_SLICE) return s_refuse(P, "template uses a multi-dimensional slice");
    }
    if (idx->kind == JN_SLICE) {
        idx->a = obj;
        return idx;
    }
    jj_node_t *n = s_node(P, JN_ITEM);
    n->a = obj, n->b = idx;
    return n;
}

static jj_node_t *s_postfix(parser_t *P, jj_node_t *n) {
    while (n && !P->failed) {
        if (s_is_op(s_cur(P), ".") || s_is_op(s_cur(P), "[")) n = s_subscript(P, n);
        else if (s_is_op(s_cur(P), "(")) n = s_call(P, n);
        else break;
    }
    return n;
}

static jj_node_t *s_filter_expr(parser_t *P, jj_node_t *n) {
    while (n && !P->failed) {
        if (s_accept_op(P, "|")) {
            jj_tok_t *t = s_cur(P);
            if (t->kind != JT_NAME) return s_err(P, "expected a filter name after '|'");
            if (!jj_filter_known(t->s)) return s_refuse(P, "template uses filter '%s'", t->s);
            P->i++;
            jj_node_t *f = s_node(P, JN_FILTER);
            f->a = n, f->name = t->s, f->nlen = t->n;
            if (s_is_op(s_cur(P), "(") && s_call_args(P, f)) return NULL;
            n = f;
        } else if (s_is_name(s_cur(P), "is")) {
            P->i++;
            int negate = 0;
            if (s_is_name(s_cur(P), "not")) {
                negate = 1;
                P->i++;
            }
            jj_tok_t *t = s_cur(P);
            if (t->kind != JT_NAME) return s_err(P, "expected a test name after 'is'");
            P->i++;
            if (!jj_test_known(t->s)) return s_refuse(P, "template uses test '%s'", t->s);
            jj_tok_t *nx = s_cur(P);
            int arg = s_is_op(nx, "(") || s_is_op(nx, "[") || s_is_op(nx, "{") || nx->kind == JT_STRING ||
                      nx->kind == JT_INT || nx->kind == JT_FLOAT ||
                      (nx->kind == JT_NAME && !s_is_name(nx, "else") && !s_is_name(nx, "or") && !s_is_name(nx, "and"));
            if (arg) return s_refuse(P, "template uses test '%s' with an argument", t->s);
            jj_node_t *f = s_node(P, JN_TEST);
            f->a = n, f->name = t->s, f->nlen = t->n, f->op = negate;
            n = f;
        } else if (s_is_op(s_cur(P), "(")) {
            n = s_call(P, n);
        } else {
            break;
        }
    }
    return n;
}

static jj_node_t *s_unary(parser_t *P, int with_filter) {
    jj_node_t *n;
    if (s_is_op(s_cur(P), "-") || s_is_op(s_cur(P), "+")) {
        int neg = s_cur(P)->s[0] == '-';
        P->i++;
        jj_node_t *arg = s_unary(P, 0);
        if (!arg) return NULL;
        n = s_node(P, neg ? JN_NEG : JN_POS);
        n->a = arg;
    } else {
        n = s_primary(P);
    }
    n = s_postfix(P, n);
    if (with_filter) n = s_filter_expr(P, n);
    return n;
}

static jj_node_t *s_binop(parser_t *P, jj_binop_t op, jj_node_t *l, jj_node_t *r) {
    if (!l || !r) return NULL;
    jj_node_t *n = s_node(P, JN_BINOP);
    n->op = (int)op, n->a = l, n->b = r;
    return n;
}

static jj_node_t *s_pow(parser_t *P) {
    jj_node_t *l = s_unary(P, 1);
    while (l && s_accept_op(P, "**")) l = s_binop(P, JO_POW, l, s_unary(P, 1));
    return l;
}

static jj_node_t *s_math2(parser_t *P) {
    jj_node_t *l = s_pow(P);
    for (;;) {
        if (!l) return NULL;
        if (s_accept_op(P, "*")) l = s_binop(P, JO_MUL, l, s_pow(P));
        else if (s_accept_op(P, "/")) l = s_binop(P, JO_DIV, l, s_pow(P));
        else if (s_accept_op(P, "//")) l = s_binop(P, JO_FLOORDIV, l, s_pow(P));
        else if (s_accept_op(P, "%")) l = s_binop(P, JO_MOD, l, s_pow(P));
        else return l;
    }
}

static jj_node_t *s_concat(parser_t *P) {
    jj_node_t *first = s_math2(P);
    if (!first || !s_is_op(s_cur(P), "~")) return first;
    vec_t args = {0};
    s_vec_push(P, &args, first);
    while (s_accept_op(P, "~")) {
        jj_node_t *e = s_math2(P);
        if (!e) return NULL;
        s_vec_push(P, &args, e);
    }
    jj_node_t *n = s_node(P, JN_CONCAT);
    n->kids = (jj_node_t **)args.v, n->nkids = args.n;
    return n;
}

static jj_node_t *s_math1(parser_t *P) {
    jj_node_t *l = s_concat(P);
    for (;;) {
        if (!l) return NULL;
        if (s_accept_op(P, "+")) l = s_binop(P, JO_ADD, l, s_concat(P));
        else if (s_accept_op(P, "-")) l = s_binop(P, JO_SUB, l, s_concat(P));
        else return l;
    }
}

static jj_node_t *s_compare(parser_t *P) {
    jj_node_t *first = s_math1(P);
    if (!first) return NULL;
    vec_t operands = {0};
    int *ops = NULL, nops = 0;
    s_vec_push(P, &operands, first);
    static const char *const cmp_ops[] = {"==", "!=", "<", "<=", ">", ">="};
    static const int cmp_codes[] = {JC_EQ, JC_NE, JC_LT, JC_LE, JC_GT, JC_GE};
    for (;;) {
        int op = -1;
        for (int k = 0; k < 6; k++)
            if (s_is_op(s_cur(P), cmp_ops[k])) op = cmp_codes[k];
        if (op >= 0) P->i++;
        else if (s_is_name(s_cur(P), "in")) op = JC_IN, P->i++;
        else if (s_is_name(s_cur(P), "not") && s_is_name(s_peek(P, 1), "in")) op = JC_NOT_IN, P->i += 2;
        else break;
        jj_node_t *e = s_math1(P);
        if (!e) return NULL;
        s_vec_push(P, &operands, e);
        int *nv = jj_alloc(P->a, (size_t)(nops + 1) * sizeof *nv);
        if (nops) memcpy(nv, ops, (size_t)nops * sizeof *nv);
        nv[nops++] = op;
        ops = nv;
    }
    if (!nops) return first;
    jj_node_t *n = s_node(P, JN_COMPARE);
    n->kids = (jj_node_t **)operands.v, n->nkids = operands.n, n->ops = ops;
    return n;
}

static jj_node_t *s_not(parser_t *P) {
    if (s_is_name(s_cur(P), "not")) {
        P->i++;
        jj_node_t *arg = s_not(P);
        if (!arg) return NULL;
        jj_node_t *n = s_node(P, JN_NOT);
        n->a = arg;
        return n;
    }
    return s_compare(P);
}

static jj_node_t *s_and(parser_t *P) {
    jj_node_t *l = s_not(P);
    while (l && s_is_name(s_cur(P), "and")) {
        P->i++;
        jj_node_t *r = s_not(P);
        if (!r) return NULL;
        jj_node_t *n = s_node(P, JN_AND);
        n->a = l, n->b = r;
        l = n;
    }
    return l;
}

static jj_node_t *s_or(parser_t *P) {
    jj_node_t *l = s_and(P);
    while (l && s_is_name(s_cur(P), "or")) {
        P->i++;
        jj_node_t *r = s_and(P);
        if (!r) return NULL;
        jj_node_t *n = s_node(P, JN_OR);
        n->a = l, n->b = r;
        l = n;
    }
    return l;
}

static jj_node_t *s_condexpr(parser_t *P) {
    jj_node_t *e = s_or(P);
    while (e && s_is_name(s_cur(P), "if")) {
        P->i++;
        jj_node_t *test = s_or(P), *other = NULL;
        if (!test) return NULL;
        if (s_is_name(s_cur(P), "else")) {
            P->i++;
            if (!(other = s_condexpr(P))) return NULL;
        }
        jj_node_t *n = s_node(P, JN_COND);
        n->a = e, n->b = test, n->c = other;
        e = n;
    }
    return e;
}

static jj_node_t *s_expression(parser_t *P, int with_condexpr) { return with_condexpr ? s_condexpr(P) : s_or(P); }

/* Does the current token end a tuple (jinja2's parse_tuple end rules)? */
static int s_tuple_end(parser_t *P) {
    jj_tok_t *t = s_cur(P);
    return t->kind == JT_STMT_END || t->kind == JT_EXPR_END || t->kind == JT_EOF || s_is_op(t, ")");
}

static jj_node_t *s_tuple(parser_t *P, int with_condexpr, int explicit_parens) {
    vec_t items = {0};
    int is_tuple = 0;
    for (;;) {
        if (items.n) {
            if (!s_accept_op(P, ",")) break;
            is_tuple = 1;
        }
        if (s_tuple_end(P)) break;
        jj_node_t *e = s_expression(P, with_condexpr);
        if (!e) return NULL;
        s_vec_push(P, &items, e);
        if (!s_is_op(s_cur(P), ",")) break;
    }
    if (!is_tuple) {
        if (items.n) return items.v[0];
        if (!explicit_parens) return s_err(P, "expected an expression");
    }
    jj_node_t *n = s_node(P, JN_TUPLE);
    n->kids = (jj_node_t **)items.v, n->nkids = items.n;
    return n;
}

/* An assignment target: a name, a tuple of names (parentheses allowed), or, when with_ns, ns.attr. */
static jj_node_t *s_target(parser_t *P, int with_ns) {
    if (with_ns && s_cur(P)->kind == JT_NAME && s_is_op(s_peek(P, 1), ".") && s_peek(P, 2)->kind == JT_NAME) {
        jj_node_t *obj = s_node(P, JN_NAME);
        obj->name = s_cur(P)->s, obj->nlen = s_cur(P)->n;
        jj_node_t *n = s_node(P, JN_ATTR);
        n->a = obj, n->name = s_peek(P, 2)->s, n->nlen = s_peek(P, 2)->n;
        P->i += 3;
        return n;
    }
    int parens = s_accept_op(P, "(");
    vec_t names = {0};
    int is_tuple = parens;
    for (;;) {
        jj_tok_t *t = s_cur(P);
        if (t->kind != JT_NAME || s_is_name(t, "in")) return s_err(P, "expected a name to assign to");
        jj_node_t *n = s_node(P, JN_NAME);
        n->name = t->s, n->nlen = t->n;
        P->i++;
        s_vec_push(P, &names, n);
        if (!s_accept_op(P, ",")) break;
        is_tuple = 1;
        if (s_is_op(s_cur(P), ")")) break; /* jinja2 takes a trailing comma only inside parentheses */
    }
    if (parens && !s_expect_op(P, ")")) return NULL;
    if (!is_tuple) return names.v[0];
    jj_node_t *n = s_node(P, JN_TUPLE);
    n->kids = (jj_node_t **)names.v, n->nkids = names.n;
    return n;
}

/* ---- statements ---------------------------------------------------------------------------- */

/* Is the current token `{%` followed by one of names (NULL-terminated)? */
static int s_at_tag(parser_t *P, const char *const *names) {
    if (s_cur(P)->kind != JT_STMT_BEGIN) return 0;
    jj_tok_t *t = s_peek(P, 1);
    for (int k = 0; names[k]; k++)
        if (s_is_name(t, names[k])) return 1;
    return 0;
}

static int s_body(parser_t *P, const char *const *ends, jj_node_t ***body, int *nbody);

static int s_end_tag(parser_t *P, const char *name) {
    if (!s_expect_kind(P, JT_STMT_BEGIN, "'{%'")) return 0;
    if (!s_is_name(s_cur(P), name)) {
        s_err(P, "expected '%s'", name);
        return 0;
    }
    P->i++;
    return s_expect_kind(P, JT_STMT_END, "'%}'");
}

/* The end of a tag that opens a body: '%}', after an optional ':' (jinja2 takes one, as Python's). */
static int s_body_start(parser_t *P) {
    s_accept_op(P, ":");
    return s_expect_kind(P, JT_STMT_END, "'%}'");
}

static jj_node_t *s_if(parser_t *P) {
    jj_node_t *n = s_node(P, JN_IF);
    if (!(n->a = s_tuple(P, 0, 0)) || !s_body_start(P)) return NULL;
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    if (s_body(P, ends, &n->body, &n->nbody)) return NULL;
    if (s_is_name(s_peek(P, 1), "elif")) {
        P->i += 2;
        jj_node_t *e = s_if(P);
        if (!e) return NULL;
        n->alt = jj_alloc(P->a, sizeof *n->alt);
        n->alt[0] = e;
        n->nalt = 1;
        return n; /* the innermost if consumed the endif */
    }
    if (s_is_name(s_peek(P, 1), "else")) {
        P->i += 2;
        if (!s_body_start(P)) return NULL;
        static const char *const endif[] = {"endif", NULL};
        if (s_body(P, endif, &n->alt, &n->nalt)) return NULL;
    }
    return s_end_tag(P, "endif") ? n : NULL;
}

static jj_node_t *s_for(parser_t *P) {
    jj_node_t *n = s_node(P, JN_FOR);
    if (!(n->a = s_target(P, 0))) return NULL;
    if (!s_is_name(s_cur(P), "in")) return s_err(P, "expected 'in'");
    P->i++;
    if (!(n->b = s_tuple(P, 0, 0))) return NULL;
    if (s_is_name(s_cur(P), "if")) {
        P->i++;
        if (!(n->c = s_expression(P, 1))) return NULL;
    }
    if (s_is_name(s_cur(P), "recursive")) return s_refuse(P, "template uses a recursive loop");
    if (!s_body_start(P)) return NULL;
    P->loops++;
    static const char *const ends[] = {"endfor", "else", NULL};
    int st = s_body(P, ends, &n->body, &n->nbody);
    P->loops--;
    if (st) return NULL;
    if (s_is_name(s_peek(P, 1), "else")) {
        P->i += 2;
        if (!s_body_start(P)) return NULL;
        static const char *const endfor[] = {"endfor", NULL};
        if (s_body(P, endfor, &n->alt, &n->nalt)) return NULL;
    }
    return s_end_tag(P, "endfor") ? n : NULL;
}

static jj_node_t *s_set(parser_t *P) {
    jj_node_t *target = s_target(P, 1);
    if (!target) return NULL;
    if (s_accept_op(P, "=")) {
        jj_node_t *n = s_node(P, JN_SET);
        n->a = target;
        if (!(n->b = s_tuple(P, 1, 0)) || !s_expect_kind(P, JT_STMT_END, "'%}'")) return NULL;
        return n;
    }
    if (s_is_op(s_cur(P), "|")) return s_refuse(P, "template filters a block set");
    if (target->kind != JN_NAME) return s_err(P, "a block set assigns to one name");
    if (!s_body_start(P)) return NULL;
    jj_node_t *n = s_node(P, JN_SET_BLOCK);
    n->a = target;
    static const char *const ends[] = {"endset", NULL};
    if (s_body(P, ends, &n->body, &n->nbody)) return NULL;
    return s_end_tag(P, "endset") ? n : NULL;
}

static jj_node_t *s_macro(parser_t *P) {
    jj_tok_t *t = s_cur(P);
    if (t->kind != JT_NAME) return s_err(P, "expected the macro's name");
    P->i++;
    jj_node_t *n = s_node(P, JN_MACRO);
    n->name = t->s, n->nlen = t->n;
    s_names_push(P, &P->defined_macros, &P->ndefined, &P->capdefined, t->s);
    if (!s_expect_op(P, "(")) return NULL;
    vec_t defaults = {0};
    int cap = 0, seen_default = 0;
    while (!P->failed && !s_is_op(s_cur(P), ")")) {
        if (n->nnames && !s_expect_op(P, ",")) return NULL;
        if (s_is_op(s_cur(P), ")")) break;
        jj_tok_t *p = s_cur(P);
        if (p->kind != JT_NAME) return s_err(P, "expected a parameter name");
        for (int k = 0; k < n->nnames; k++)
            if (!strcmp(n->names[k], p->s)) return s_err(P, "parameter '%s' twice", p->s);
        P->i++;
        s_names_push(P, &n->names, &n->nnames, &cap, p->s);
        jj_node_t *def = NULL;
        if (s_accept_op(P, "=")) {
            if (!(def = s_expression(P, 1))) return NULL;
            seen_default = 1;
        } else if (seen_default) {
            return s_err(P, "a parameter without a default after one with a default");
        }
        s_vec_push(P, &defaults, def);
    }
    if (!s_expect_op(P, ")") || !s_body_start(P)) return NULL;
    n->kids2 = (jj_node_t **)defaults.v, n->nkids2 = defaults.n;
    int loops = P->loops;
    P->loops = 0;
    P->macros++;
    static const char *const ends[] = {"endmacro", NULL};
    int st = s_body(P, ends, &n->body, &n->nbody);
    P->macros--;
    P->loops = loops;
    if (st) return NULL;
    return s_end_tag(P, "endmacro") ? n : NULL;
}

static jj_node_t *s_statement(parser_t *P) {
    P->i++; /* {% */
    jj_tok_t *t = s_cur(P);
    if (t->kind != JT_NAME) return s_err(P, "expected a tag name after '{%%'");
    P->i++;
    if (!strcmp(t->s, "if")) return s_if(P);
    if (!strcmp(t->s, "for")) return s_for(P);
    if (!strcmp(t->s, "set")) return s_set(P);
    if (!strcmp(t->s, "macro")) return s_macro(P);
    if (!strcmp(t->s, "break") || !strcmp(t->s, "continue")) {
        if (!P->loops) return s_err(P, "'%s' outside a loop", t->s);
        jj_node_t *n = s_node(P, t->s[0] == 'b' ? JN_BREAK : JN_CONTINUE);
        return s_expect_kind(P, JT_STMT_END, "'%}'") ? n : NULL;
    }
    if (!strcmp(t->s, "generation")) {
        jj_node_t *n = s_node(P, JN_BLOCK);
        if (!s_body_start(P)) return NULL;
        static const char *const ends[] = {"endgeneration", NULL};
        if (s_body(P, ends, &n->body, &n->nbody)) return NULL;
        return s_end_tag(P, "endgeneration") ? n : NULL;
    }
    if (!strncmp(t->s, "end", 3) || !strcmp(t->s, "elif") || !strcmp(t->s, "else"))
        return s_err(P, "unexpected '%s'", t->s);
    P->i--;
    return s_refuse(P, "template uses the '{%% %s %%}' tag", t->s);
}

/* Statements until one of ends (not consumed; NULL ends: the end of the template). */
static int s_body(parser_t *P, const char *const *ends, jj_node_t ***body, int *nbody) {
    vec_t out = {0};
    while (!P->failed) {
        jj_tok_t *t = s_cur(P);
        if (t->kind == JT_EOF) {
            if (ends) {
                const char *end = ends[0];
                for (int k = 0; ends[k]; k++)
                    if (!strncmp(ends[k], "end", 3)) end = ends[k];
                s_err(P, "the template ends before '{%% %s %%}'", end);
                return -1;
            }
            break;
        }
        if (ends && s_at_tag(P, ends)) break;
        jj_node_t *n = NULL;
        if (t->kind == JT_TEXT) {
            n = s_node(P, JN_TEXT);
            n->value = jv_str_own(P->a, t->s, t->n);
            P->i++;
        } else if (t->kind == JT_EXPR_BEGIN) {
            P->i++;
            n = s_node(P, JN_OUTPUT);
            if (!(n->a = s_tuple(P, 1, 0)) || !s_expect_kind(P, JT_EXPR_END, "'}}'")) return -1;
        } else if (t->kind == JT_STMT_BEGIN) {
            if (!(n = s_statement(P))) return -1;
        } else {
            s_err(P, "unexpected token");
            return -1;
        }
        s_vec_push(P, &out, n);
    }
    if (P->failed) return -1;
    *body = (jj_node_t **)out.v;
    *nbody = out.n;
    return 0;
}

jinja_program_t *jinja_parse(const char *source, size_t len, char *why, size_t whylen) {
    jinja_program_t *p = xcalloc(1, sizeof *p);
    parser_t P = {.a = &p->arena, .why = why, .whylen = whylen};
    if (jj_lex(&p->arena, source, len, &P.t, &P.n, why, whylen) || s_body(&P, NULL, &p->body, &p->nbody)) {
        jinja_program_free(&p);
        return NULL;
    }
    for (int k = 0; k < P.ncalled; k++) {
        int ok = jj_global_known(P.called[k]);
        for (int m = 0; m < P.ndefined && !ok; m++) ok = !strcmp(P.defined_macros[m], P.called[k]);
        if (!ok) {
            snprintf(why, whylen, "template calls '%s', not implemented", P.called[k]);
            jinja_program_free(&p);
            return NULL;
        }
    }
    return p;
}

void jinja_program_free(jinja_program_t **p) {
    if (!*p) return;
    jj_arena_free(&(*p)->arena);
    free(*p);
    *p = NULL;
}
