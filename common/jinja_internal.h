/* jinja_internal — what the Jinja modules share: the arena that owns a program's syntax tree and a
 * render's values, the tokens (jinja_lex.c), the syntax tree (jinja_parse.c), the values
 * (jinja_value.c), the filters, tests and methods (jinja_filters.c) and the evaluator
 * (jinja_eval.c). Strings are UTF-8 bytes with a length; "characters" are code points, as in Python. */
#ifndef SPAR_JINJA_INTERNAL_H
#define SPAR_JINJA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/jinja.h"

/* ---- arena: everything a program or a render allocates, freed at once ---------------------- */
typedef struct jj_chunk jj_chunk_t;
typedef struct {
    jj_chunk_t *head;
} jj_arena_t;
void *jj_alloc(jj_arena_t *a, size_t n); /* zeroed */
char *jj_strndup(jj_arena_t *a, const char *s, size_t n);
void jj_arena_free(jj_arena_t *a);

/* ---- a growable byte buffer (malloc'd) ------------------------------------------------------ */
typedef struct {
    char *s;
    size_t n, cap;
} jj_buf_t;
void jj_buf_add(jj_buf_t *b, const char *s, size_t n);
void jj_buf_addc(jj_buf_t *b, char c);
void jj_buf_addf(jj_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- tokens --------------------------------------------------------------------------------- */
typedef enum {
    JT_TEXT,       /* template text between tags, whitespace control applied */
    JT_STMT_BEGIN, /* {% */
    JT_STMT_END,   /* %} */
    JT_EXPR_BEGIN, /* {{ */
    JT_EXPR_END,   /* }} */
    JT_NAME,
    JT_STRING, /* escapes resolved */
    JT_INT,
    JT_FLOAT,
    JT_OP, /* s holds the operator: + - * / // % ** ~ == != < > <= >= ( ) [ ] { } , . : | = */
    JT_EOF,
} jj_tok_kind_t;

typedef struct {
    jj_tok_kind_t kind;
    const char *s; /* text, name, string or operator (arena) */
    size_t n;
    int64_t i;
    double f;
    int line;
} jj_tok_t;

/* The tokens of a template (arena), ending with JT_EOF. -1 with why. */
int jj_lex(jj_arena_t *a, const char *src, size_t len, jj_tok_t **toks, int *ntoks, char *why, size_t whylen);

/* ---- values --------------------------------------------------------------------------------- */
typedef enum { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_TUPLE, JV_DICT, JV_NS, JV_FUNC } jv_kind_t;

typedef struct jv jv_t;
typedef struct jj_node jj_node_t;
typedef struct jj_scope jj_scope_t;

typedef enum {
    JF_MACRO,
    JF_METHOD, /* a bound method: self + name */
    JF_RAISE_EXCEPTION,
    JF_STRFTIME_NOW,
    JF_RANGE,
    JF_NAMESPACE,
    JF_DICT,
} jj_func_kind_t;

struct jv {
    jv_kind_t k;
    union {
        int b;
        int64_t i;
        double f;
        struct {
            const char *s;
            size_t n;
        } str; /* JV_STR; JV_UNDEF: the name that was undefined (may be NULL) */
        struct {
            jv_t **v;
            size_t n;
            int gen;    /* a generator (what map, select, ... give): iterated once, no len() */
            size_t pos; /* a generator's items taken so far */
        } list; /* JV_LIST, JV_TUPLE */
        struct {
            jv_t **keys, **vals;
            size_t n, cap;
        } dict; /* JV_DICT, JV_NS (string keys) */
        struct {
            jj_func_kind_t kind;
            const char *name;
            jv_t *self;             /* JF_METHOD */
            const jj_node_t *macro; /* JF_MACRO */
            jj_scope_t *env;        /* JF_MACRO: where it was defined */
        } fn;
    } u;
};

extern jv_t jv_undefined_v, jv_none_v, jv_true_v, jv_false_v;
jv_t *jv_undef(jj_arena_t *a, const char *name);
jv_t *jv_bool(int b);
jv_t *jv_int(jj_arena_t *a, int64_t i);
jv_t *jv_float(jj_arena_t *a, double f);
jv_t *jv_str(jj_arena_t *a, const char *s, size_t n); /* copies */
jv_t *jv_str_own(jj_arena_t *a, const char *s, size_t n); /* s already in the arena */
jv_t *jv_list(jj_arena_t *a, jv_kind_t kind, size_t n); /* n slots, filled by the caller */
jv_t *jv_dict(jj_arena_t *a, jv_kind_t kind);
void jv_dict_set(jj_arena_t *a, jv_t *d, jv_t *key, jv_t *val);
jv_t *jv_dict_get(const jv_t *d, const jv_t *key); /* NULL when absent */
jv_t *jv_dict_gets(const jv_t *d, const char *key, size_t n);
jv_t *jv_func(jj_arena_t *a, jj_func_kind_t kind, const char *name);
/* What iterating v takes: a generator's remaining items (as a list; the generator is then
 * exhausted), or v itself. */
jv_t *jv_drain(jj_arena_t *a, jv_t *v);
int jv_is_gen(const jv_t *v);

/* A JSON value as a value (jansson's json_t). */
struct json_t;
jv_t *jv_from_json(jj_arena_t *a, struct json_t *j);

int jv_truthy(const jv_t *v);
int jv_equal(const jv_t *a, const jv_t *b);
const char *jv_type_name(const jv_t *v); /* Python's: 'str', 'int', 'list', 'dict', ... */
/* str(v) and repr(v), as Python writes them, onto b. */
void jv_write_str(jj_buf_t *b, const jv_t *v);
void jv_write_repr(jj_buf_t *b, const jv_t *v);
/* json.dumps(v, ensure_ascii, indent (<0: none), separators (NULL: default), sort_keys); -1 with
 * why for what JSON cannot hold (undefined, a function). */
int jv_write_json(jj_buf_t *b, const jv_t *v, int ensure_ascii, int indent, const char *item_sep,
                  const char *key_sep, int sort_keys, char *why, size_t whylen);
/* str(v) as a value (v itself when it is a string). */
jv_t *jv_to_str(jj_arena_t *a, const jv_t *v);

/* UTF-8: the code point at s (its length in *len; an invalid byte counts as one code point). */
int32_t jj_utf8_next(const char *s, size_t n, size_t *len);
size_t jj_utf8_count(const char *s, size_t n);
int jj_is_space(int32_t c); /* Python's str.isspace() */

/* ---- syntax tree ---------------------------------------------------------------------------- */
typedef enum {
    /* statements */
    JN_TEXT,
    JN_OUTPUT, /* a: expression */
    JN_IF,     /* a: test, body, alt */
    JN_FOR,    /* a: target, b: iterable, c: filter condition or NULL, body, alt */
    JN_SET,    /* a: target, b: value */
    JN_SET_BLOCK, /* a: target, body */
    JN_MACRO,  /* name, names (params), kids2 (defaults, NULL entries), body */
    JN_BREAK,
    JN_CONTINUE,
    JN_BLOCK, /* body: {% generation %} ... */
    /* expressions */
    JN_CONST,  /* value */
    JN_NAME,   /* name */
    JN_LIST,   /* kids */
    JN_TUPLE,  /* kids */
    JN_DICT,   /* kids: keys, kids2: values */
    JN_ATTR,   /* a, name */
    JN_ITEM,   /* a, b */
    JN_SLICE,  /* a: object, b, c, d: start, stop, step (NULL: absent) */
    JN_CALL,   /* a: callee, kids: positional, names + kids2: keywords */
    JN_FILTER, /* a: operand, name, kids / names + kids2: arguments */
    JN_TEST,   /* a: operand, name, op: negated */
    JN_NOT,
    JN_NEG,
    JN_POS,
    JN_BINOP, /* op: one of JO_*, a, b */
    JN_AND,
    JN_OR,
    JN_COMPARE, /* kids: operands (n), ops: n-1 comparison operators */
    JN_CONCAT,  /* kids */
    JN_COND,    /* a: value, b: test, c: else (NULL: undefined) */
} jj_node_kind_t;

typedef enum { JO_ADD, JO_SUB, JO_MUL, JO_DIV, JO_FLOORDIV, JO_MOD, JO_POW } jj_binop_t;
typedef enum { JC_EQ, JC_NE, JC_LT, JC_LE, JC_GT, JC_GE, JC_IN, JC_NOT_IN } jj_cmp_t;

struct jj_node {
    jj_node_kind_t kind;
    int op;
    int line;
    const char *name;
    size_t nlen;
    jv_t *value;
    jj_node_t *a, *b, *c, *d;
    jj_node_t **kids, **kids2, **body, **alt;
    int nkids, nkids2, nbody, nalt;
    const char **names;
    int nnames;
    int *ops;
};

struct jinja_program {
    jj_arena_t arena;
    jj_node_t **body;
    int nbody;
};

/* ---- filters, tests, methods, globals (jinja_filters.c) ------------------------------------ */
int jj_filter_known(const char *name);
int jj_test_known(const char *name);
int jj_method_known(const char *name);
int jj_global_known(const char *name);

/* A render's state: its arena and the first error. */
typedef struct {
    jj_arena_t *arena;
    char *why;
    size_t whylen;
    int failed;
    int depth;
} jj_ctx_t;
/* Sets the error (the first one wins); returns NULL for the callers' convenience. */
void *jj_fail(jj_ctx_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What iterating v gives, as Python's list(v) (a loop, tuple unpacking, a filter): NULL with an
 * error when v is not iterable (jinja_filters.c). */
jv_t *jj_iter_items(jj_ctx_t *x, const jv_t *v);

/* Arguments of a call, filter or method, evaluated. */
typedef struct {
    jv_t **pos;
    int npos;
    const char **kwnames;
    jv_t **kw;
    int nkw;
} jj_args_t;
/* The argument at position i or with keyword name, else NULL. */
jv_t *jj_arg(const jj_args_t *args, int i, const char *name);

jv_t *jj_apply_filter(jj_ctx_t *x, const char *name, jv_t *v, const jj_args_t *args);
int jj_apply_test(jj_ctx_t *x, const char *name, const jv_t *v); /* 1, 0, or -1 (error) */
/* A bound method's or a global function's call (not macros: jinja_eval.c runs those). */
jv_t *jj_call_builtin(jj_ctx_t *x, const jv_t *fn, const jj_args_t *args);
/* The method `name` of v when v has one (str and dict methods), else NULL. */
jv_t *jj_method_of(jj_ctx_t *x, jv_t *v, const char *name);

#endif
