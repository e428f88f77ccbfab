/* strmap — a string-keyed table of owned values (open addressing, FNV-1a), for caches: when it
 * is 3/4 full it starts over, so it never grows past its capacity. */
#ifndef SPAR_STRMAP_H
#define SPAR_STRMAP_H

#include <stdint.h>

typedef struct strmap strmap_t;

/* capacity rounded up to a power of two (>= 16); values are freed with free(). */
strmap_t *strmap_new(uint32_t capacity);
void strmap_free(strmap_t **m);
/* The value under key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key);
/* Stores value (owned by the map from now on) under key, replacing any earlier one; returns 0,
 * or -1 when the table had to start over first (every earlier entry gone). */
int strmap_put(strmap_t *m, const char *key, void *value);
/* Entries held. */
uint32_t strmap_size(const strmap_t *m);
/* Room for n more entries without starting over? */
int strmap_has_room(const strmap_t *m, uint32_t n);
void strmap_clear(strmap_t *m);

#endif
