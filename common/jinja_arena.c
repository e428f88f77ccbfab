/* jinja_arena — the arena that owns a program's syntax tree or a render's values (a template's
 * values form graphs with shared parts, so they are freed all at once, not one by one), and the
 * growable buffer that rendered text is written to. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jinja_internal.h"
#include "common/util.h"

#define CHUNK 65536

struct jj_chunk {
    jj_chunk_t *next;
    size_t used, cap;
    max_align_t data[];
};

void *jj_alloc(jj_arena_t *a, size_t n) {
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!n) n = sizeof(max_align_t);
    jj_chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK / 4 ? n : CHUNK;
        jj_chunk_t *fresh = xmalloc(sizeof *fresh + cap);
        fresh->used = 0;
        fresh->cap = cap;
        if (n > CHUNK / 4 && c) { /* a big block: keep the current chunk in front for small ones */
            fresh->next = c->next;
            c->next = fresh;
            fresh->used = n;
            memset(fresh->data, 0, n);
            return fresh->data;
        }
        fresh->next = c;
        a->head = c = fresh;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *jj_strndup(jj_arena_t *a, const char *s, size_t n) {
    char *p = jj_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void jj_arena_free(jj_arena_t *a) {
    jj_chunk_t *c = a->head;
    while (c) {
        jj_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

void jj_buf_add(jj_buf_t *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        b->s = xrealloc(b->s, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void jj_buf_addc(jj_buf_t *b, char c) { jj_buf_add(b, &c, 1); }

void jj_buf_addf(jj_buf_t *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof tmp) {
        jj_buf_add(b, tmp, (size_t)k);
        return;
    }
    char *big = xmalloc((size_t)k + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    jj_buf_add(b, big, (size_t)k);
    free(big);
}
