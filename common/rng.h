/* rng — deterministic random numbers. Streams are derived from a tuple of integers
 * (run seed, iteration, prompt, sample, ...) so the same work draws the same numbers on any
 * process. Generator: xoshiro256** seeded through splitmix64. */
#ifndef SPAR_RNG_H
#define SPAR_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_t;

void rng_seed(rng_t *r, uint64_t seed);
/* A stream keyed by (a, b, c, d): independent of any other key. */
void rng_stream(rng_t *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* The stream of response i to a prompt in an iteration: the same in every actor (and in any
 * process that redoes an actor's sampling), whichever lease or batch the prompt comes in. */
void rng_sample_stream(rng_t *r, uint64_t run_seed, uint64_t iteration, uint32_t prompt, uint64_t i);
uint64_t rng_next(rng_t *r);
double rng_uniform(rng_t *r); /* [0, 1) with 53 bits */
double rng_normal(rng_t *r);  /* standard normal (Box-Muller) */

/* Index drawn from probabilities p[0..n) (summing to 1) by inverse CDF with one uniform. */
int rng_categorical(rng_t *r, const double *p, int n);

#endif
