/* embed_cache — see embed_cache.h. A call looks every (prompt, response) up, notes repeats
 * within the call, embeds the rest in one jm_forward and stores them; the map is emptied when a
 * call's keys would not fit. Not the model: common/judge_model.h embeds. */
#include "judge/embed_cache.h"

#include <stdlib.h>
#include <string.h>

#include "common/strmap.h"
#include "common/util.h"

struct embed_cache {
    judge_model_t *m;
    strmap_t *map; /* "prompt \x1f response" -> float[dim]; NULL: no caching */
    uint64_t hits, misses;
};

embed_cache_t *ec_new(judge_model_t *m, uint32_t capacity) {
    embed_cache_t *c = xcalloc(1, sizeof *c);
    c->m = m;
    c->map = capacity ? strmap_new(capacity) : NULL;
    return c;
}

void ec_free(embed_cache_t **cp) {
    if (!cp || !*cp) return;
    strmap_free(&(*cp)->map);
    free(*cp);
    *cp = NULL;
}

int ec_embed(embed_cache_t *c, const char *const *prompts, const char *const *responses, int n, float *v) {
    int D = c->m->dim, n_missing = 0, rc = 0;
    if (c->map && !strmap_has_room(c->map, (uint32_t)n)) strmap_clear(c->map); /* room for this call's keys */
    char **keys = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    int *missing = xmalloc(sizeof(int) * (size_t)(n ? n : 1)), *same = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    strmap_t *first = c->map ? strmap_new(2 * (uint32_t)n) : NULL; /* key -> its first index in this call */
    for (int i = 0; i < n; i++) {
        same[i] = -1;
        const float *hit = NULL;
        if (c->map) {
            keys[i] = xasprintf("%s\x1f%s", prompts[i], responses[i]);
            hit = strmap_get(c->map, keys[i]);
            const int *earlier = hit ? NULL : strmap_get(first, keys[i]);
            if (earlier) same[i] = *earlier; /* the same response earlier in this call */
        }
        if (hit) memcpy(v + (size_t)i * D, hit, sizeof(float) * D);
        if (hit || same[i] >= 0) {
            c->hits++;
            continue;
        }
        if (first) {
            int *at = xmalloc(sizeof(int));
            *at = i;
            strmap_put(first, keys[i], at);
        }
        missing[n_missing++] = i;
    }
    strmap_free(&first);
    if (n_missing > 0) { /* one trunk pass over every response not in the cache */
        const char **mp = xmalloc(sizeof(char *) * (size_t)n_missing), **mr = xmalloc(sizeof(char *) * (size_t)n_missing);
        float *mv = xmalloc(sizeof(float) * (size_t)n_missing * D);
        for (int j = 0; j < n_missing; j++) mp[j] = prompts[missing[j]], mr[j] = responses[missing[j]];
        rc = jm_forward(c->m, mp, mr, n_missing, mv);
        for (int j = 0; j < n_missing && rc == 0; j++) {
            memcpy(v + (size_t)missing[j] * D, mv + (size_t)j * D, sizeof(float) * D);
            c->misses++;
            if (c->map) {
                float *copy = xmalloc(sizeof(float) * D);
                memcpy(copy, mv + (size_t)j * D, sizeof(float) * D);
                strmap_put(c->map, keys[missing[j]], copy);
            }
        }
        free(mp), free(mr), free(mv);
    }
    for (int i = 0; i < n && rc == 0; i++)
        if (same[i] >= 0) memcpy(v + (size_t)i * D, v + (size_t)same[i] * D, sizeof(float) * D);
    for (int i = 0; i < n; i++) free(keys[i]);
    free(keys), free(missing), free(same);
    return rc;
}

void ec_stats(const embed_cache_t *c, uint64_t *hits, uint64_t *misses) {
    *hits = c->hits;
    *misses = c->misses;
}
