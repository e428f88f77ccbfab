/* task_arith — see task_arith.h. */
#include "common/task_arith.h"

#include <stdio.h>

#include "common/rng.h"

static long s_pow10(int d) {
    long p = 1;
    while (d-- > 0) p *= 10;
    return p;
}

long arith_problem(uint64_t seed, uint64_t i, int digits, char *prompt, size_t cap) {
    rng_t r;
    rng_stream(&r, seed, 0x61726974, i, 0); /* "arit" */
    long lo = digits > 1 ? s_pow10(digits - 1) : 0, span = s_pow10(digits) - lo;
    long a = lo + (long)(rng_uniform(&r) * span), b = lo + (long)(rng_uniform(&r) * span);
    snprintf(prompt, cap, "%ld+%ld=", a, b);
    return a + b;
}

void arith_noisy_answer(long answer, double wrong_share, rng_t *r, char *response, size_t cap) {
    if (rng_uniform(r) < wrong_share) {
        long off = 1 + (long)(rng_uniform(r) * 9);
        answer = rng_uniform(r) < 0.5 && answer >= off ? answer - off : answer + off;
    }
    snprintf(response, cap, "%ld", answer);
}

void arith_sft_response(uint64_t seed, uint64_t i, int digits, double wrong_share, char *response, size_t cap) {
    char prompt[64];
    long answer = arith_problem(seed, i, digits, prompt, sizeof prompt);
    rng_t r;
    rng_stream(&r, seed, 0x77726f6e, i, 0); /* "wron" */
    arith_noisy_answer(answer, wrong_share, &r, response, cap);
}

int arith_parse(const char *response, long *value) {
    long v = 0;
    int n = 0;
    for (const char *p = response; *p; p++, n++) {
        if (*p < '0' || *p > '9' || n >= 12) return -1;
        v = v * 10 + (*p - '0');
    }
    if (n == 0) return -1;
    *value = v;
    return 0;
}
