/* rng — see rng.h. */
#include "common/rng.h"

#include <math.h>

static uint64_t s_splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(rng_t *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = s_splitmix(&x);
}

void rng_stream(rng_t *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    /* Hash the key chain through splitmix so neighbouring keys give unrelated streams. */
    uint64_t x = 0x5350415200000000ULL; /* "SPAR" */
    uint64_t h = s_splitmix(&x);
    uint64_t key[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        uint64_t y = h ^ key[i];
        h = s_splitmix(&y);
    }
    rng_seed(r, h);
}

static uint64_t s_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(rng_t *r) {
    uint64_t *s = r->s;
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

double rng_uniform(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_normal(rng_t *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int rng_categorical(rng_t *r, const double *p, int n) {
    double u = rng_uniform(r), c = 0.0;
    for (int i = 0; i < n; i++) {
        c += p[i];
        if (u < c) return i;
    }
    /* Rounding left u above the total: take the last action with mass. */
    for (int i = n - 1; i >= 0; i--)
        if (p[i] > 0) return i;
    return n - 1;
}

void rng_sample_stream(rng_t *r, uint64_t run_seed, uint64_t iteration, uint32_t prompt, uint64_t i) {
    rng_stream(r, run_seed, iteration, prompt, i);
}
