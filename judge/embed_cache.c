/* embed_cache — see embed_cache.h. */
#include "judge/embed_cache.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef struct {
    char *key; /* prompt, 0x1f, response; NULL: empty */
    float *v;  /* NULL while being computed in this call */
    int first; /* while being computed: the index of its first occurrence */
} slot_t;

struct embed_cache {
    judge_model_t *m;
    slot_t *slots;
    uint32_t cap, used;
    uint64_t hits, misses;
};

embed_cache_t *ec_new(judge_model_t *m, uint32_t capacity) {
    embed_cache_t *c = xcalloc(1, sizeof *c);
    c->m = m;
    uint32_t cap = 0;
    if (capacity) for (cap = 16; cap < capacity; cap <<= 1) {}
    c->cap = cap;
    c->slots = cap ? xcalloc(cap, sizeof(slot_t)) : NULL;
    return c;
}

static void s_clear(embed_cache_t *c) {
    for (uint32_t i = 0; i < c->cap; i++) free(c->slots[i].key), free(c->slots[i].v);
    if (c->cap) memset(c->slots, 0, sizeof(slot_t) * c->cap);
    c->used = 0;
}

void ec_free(embed_cache_t **cp) {
    if (!cp || !*cp) return;
    s_clear(*cp);
    free((*cp)->slots);
    free(*cp);
    *cp = NULL;
}

static uint64_t s_hash(const char *s) { /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot holding key, or the empty slot where it would go. */
static slot_t *s_find(embed_cache_t *c, const char *key) {
    uint32_t i = (uint32_t)s_hash(key) & (c->cap - 1);
    while (c->slots[i].key && strcmp(c->slots[i].key, key) != 0) i = (i + 1) & (c->cap - 1);
    return &c->slots[i];
}

int ec_embed(embed_cache_t *c, const char *const *prompts, const char *const *responses, int n, float *v) {
    int D = c->m->dim, miss = 0, rc = 0;
    if (c->cap && 4 * (c->used + (uint32_t)n) > 3 * c->cap) s_clear(c); /* room for every key of this call */
    int *todo = xmalloc(sizeof(int) * (size_t)(n ? n : 1)), *same = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    slot_t **slot = xcalloc((size_t)(n ? n : 1), sizeof(slot_t *));
    for (int i = 0; i < n; i++) {
        same[i] = -1;
        if (!c->cap) {
            todo[miss++] = i;
            continue;
        }
        char *key = xasprintf("%s\x1f%s", prompts[i], responses[i]);
        slot_t *s = s_find(c, key);
        if (s->key && s->v) { /* cached */
            memcpy(v + (size_t)i * D, s->v, sizeof(float) * D);
            c->hits++;
            free(key);
        } else if (s->key) { /* the same response earlier in this call */
            same[i] = s->first;
            c->hits++;
            free(key);
        } else { /* new: claim the slot, compute below */
            s->key = key;
            s->first = i;
            c->used++;
            slot[i] = s;
            todo[miss++] = i;
        }
    }
    if (miss > 0) { /* one trunk pass over every response not in the cache */
        const char **mp = xmalloc(sizeof(char *) * (size_t)miss), **mr = xmalloc(sizeof(char *) * (size_t)miss);
        float *mv = xmalloc(sizeof(float) * (size_t)miss * D);
        for (int j = 0; j < miss; j++) mp[j] = prompts[todo[j]], mr[j] = responses[todo[j]];
        rc = jm_forward(c->m, mp, mr, miss, mv);
        for (int j = 0; j < miss && rc == 0; j++) {
            int i = todo[j];
            memcpy(v + (size_t)i * D, mv + (size_t)j * D, sizeof(float) * D);
            c->misses++;
            if (slot[i]) {
                slot[i]->v = xmalloc(sizeof(float) * D);
                memcpy(slot[i]->v, mv + (size_t)j * D, sizeof(float) * D);
            }
        }
        if (rc != 0) s_clear(c); /* drop the claimed slots with the rest */
        free(mp), free(mr), free(mv);
    }
    for (int i = 0; i < n && rc == 0; i++)
        if (same[i] >= 0) memcpy(v + (size_t)i * D, v + (size_t)same[i] * D, sizeof(float) * D);
    free(todo), free(same), free(slot);
    return rc;
}

void ec_stats(const embed_cache_t *c, uint64_t *hits, uint64_t *misses) {
    *hits = c->hits;
    *misses = c->misses;
}
