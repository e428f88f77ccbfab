/* strmap — see strmap.h. */
#include "common/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef struct {
    char *key;
    void *value;
} slot_t;

struct strmap {
    slot_t *slots;
    uint32_t cap, used;
};

strmap_t *strmap_new(uint32_t capacity) {
    strmap_t *m = xcalloc(1, sizeof *m);
    for (m->cap = 16; m->cap < capacity; m->cap <<= 1) {}
    m->slots = xcalloc(m->cap, sizeof(slot_t));
    return m;
}

void strmap_clear(strmap_t *m) {
    for (uint32_t i = 0; i < m->cap; i++) free(m->slots[i].key), free(m->slots[i].value);
    memset(m->slots, 0, sizeof(slot_t) * m->cap);
    m->used = 0;
}

void strmap_free(strmap_t **mp) {
    if (!mp || !*mp) return;
    strmap_clear(*mp);
    free((*mp)->slots);
    free(*mp);
    *mp = NULL;
}

static uint64_t s_hash(const char *s) { /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static slot_t *s_find(const strmap_t *m, const char *key) {
    uint32_t i = (uint32_t)s_hash(key) & (m->cap - 1);
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0) i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

void *strmap_get(const strmap_t *m, const char *key) { return s_find(m, key)->value; }

int strmap_has_room(const strmap_t *m, uint32_t n) { return 4 * ((uint64_t)m->used + n) <= 3 * (uint64_t)m->cap; }

int strmap_put(strmap_t *m, const char *key, void *value) {
    int rc = 0;
    if (!strmap_has_room(m, 1)) {
        strmap_clear(m);
        rc = -1;
    }
    slot_t *s = s_find(m, key);
    if (s->key) {
        free(s->value);
    } else {
        s->key = xstrdup(key);
        m->used++;
    }
    s->value = value;
    return rc;
}

uint32_t strmap_size(const strmap_t *m) { return m->used; }
