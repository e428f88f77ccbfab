/* embed_cache — how a learned judge serves: the embedding v(prompt, response) of each response of
 * a batch of requests comes from a cache of earlier ones (keyed by prompt and response; a judge
 * process serves one model version, so the version is part of every key implicitly) or from one
 * pass of the trunk over all the missing ones together. The cache is an open-addressing table;
 * when it is 3/4 full it starts over. */
#ifndef SPAR_EMBED_CACHE_H
#define SPAR_EMBED_CACHE_H

#include <stdint.h>

#include "common/judge_model.h"

typedef struct embed_cache embed_cache_t;

/* capacity: entries (rounded up to a power of two); 0: no caching. */
embed_cache_t *ec_new(judge_model_t *m, uint32_t capacity);
void ec_free(embed_cache_t **c);
/* v (n, dim) of n (prompt, response) pairs. Returns 0, or -1 when a pair does not fit the
 * model's context (nothing is cached then). */
int ec_embed(embed_cache_t *c, const char *const *prompts, const char *const *responses, int n, float *v);
void ec_stats(const embed_cache_t *c, uint64_t *hits, uint64_t *misses);

#endif
