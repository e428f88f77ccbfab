/* The decode products against a double-precision reference: every row count 1..17 (whole tiles
 * of rows and every tail), inner and outer sizes that are not multiples of the vector width or
 * the tile, with and without a bias, on 1 and 2 threads; nothing written outside y; the same from
 * two threads at once (one runs alone) and in a forked child of a process whose pool is running. */
#include "tests/testutil.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/decode_gemm.h"
#include "common/util.h"

static rng_t s_rng;

enum { CANARY = 8 };

/* y = x w^T (nt) or x w (nn) in double; scale[i, o] = sum |x w| + |bias|, the size a float
 * rounding error of the sum is relative to (a sum that cancels to ~0 has no relative precision). */
static void s_reference(double *y, double *scale, const float *x, const float *w, const float *bias, int M, int in,
                        int out, int nn) {
    for (int i = 0; i < M; i++)
        for (int o = 0; o < out; o++) {
            double s = bias ? bias[o] : 0, a = bias ? fabs(bias[o]) : 0;
            for (int k = 0; k < in; k++) {
                double t = (double)x[(size_t)i * in + k] * (nn ? w[(size_t)k * out + o] : w[(size_t)o * in + k]);
                s += t;
                a += fabs(t);
            }
            y[(size_t)i * out + o] = s;
            scale[(size_t)i * out + o] = a;
        }
}

/* One product checked: the worst error relative to the reference's scale, or +inf when a value
 * beyond y was written. */
static double s_check_with(rng_t *r, int M, int in, int out, int with_bias, int nn) {
    float *x = tu_randn(r, (size_t)M * in, 1.0), *w = tu_randn(r, (size_t)in * out, 1.0);
    float *bias = with_bias ? tu_randn(r, (size_t)out, 1.0) : NULL;
    size_t n = (size_t)M * out;
    float *y = xmalloc(sizeof(float) * (n + CANARY));
    for (size_t i = 0; i < n + CANARY; i++) y[i] = 12345.0f;
    double *ref = xmalloc(sizeof(double) * n), *scale = xmalloc(sizeof(double) * n);
    s_reference(ref, scale, x, w, bias, M, in, out, nn);
    if (nn) decode_gemm_nn(y, x, w, bias, M, in, out);
    else decode_gemm(y, x, w, bias, M, in, out);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(y[i] - ref[i]) / (scale[i] > 0 ? scale[i] : 1);
        if (!(e <= worst)) worst = e; /* NaN too */
    }
    for (int i = 0; i < CANARY; i++)
        if (y[n + i] != 12345.0f) worst = INFINITY;
    free(x), free(w), free(bias), free(y), free(ref), free(scale);
    return worst;
}

static double s_check(int M, int in, int out, int with_bias, int nn) {
    return s_check_with(&s_rng, M, in, out, with_bias, nn);
}

/* Odd shapes: inner sizes around the vector widths (4, 8, 16) and the NN kernel's k chunk (64),
 * outer sizes around the tiles (4 rows of w, 16..64 columns); large enough ones that 2 threads
 * split them. */
static const int INS[] = {1, 3, 17, 65, 129, 577};
static const int OUTS[] = {1, 5, 19, 67, 131, 203};

static void s_sweep(int nn, int threads) {
    openblas_set_num_threads(threads);
    assert_int_equal(decode_gemm_threads(), threads);
    double worst = 0;
    for (int M = 1; M <= 17; M++)
        for (size_t a = 0; a < sizeof INS / sizeof *INS; a++)
            for (size_t b = 0; b < sizeof OUTS / sizeof *OUTS; b++)
                for (int bias = 0; bias < 2; bias++) {
                    double e = s_check(M, INS[a], OUTS[b], bias, nn);
                    if (e > 1e-5) fprintf(stderr, "M %d in %d out %d bias %d: error %.2e\n", M, INS[a], OUTS[b], bias, e);
                    assert_true(e <= 1e-5);
                    if (e > worst) worst = e;
                }
    fprintf(stderr, "%s, %d thread%s: worst relative error %.1e\n", nn ? "(in, out) weights" : "(out, in) weights",
            threads, threads > 1 ? "s" : "", worst);
}

static void test_decode_gemm_nt_1_thread(void **state) {
    (void)state;
    s_sweep(0, 1);
}

static void test_decode_gemm_nt_2_threads(void **state) {
    (void)state;
    s_sweep(0, 2);
}

static void test_decode_gemm_nn_1_thread(void **state) {
    (void)state;
    s_sweep(1, 1);
}

static void test_decode_gemm_nn_2_threads(void **state) {
    (void)state;
    s_sweep(1, 2);
}

/* A model-sized product (SmolLM2's MLP) split into many chunks over 2 threads. */
static void test_decode_gemm_large(void **state) {
    (void)state;
    openblas_set_num_threads(2);
    assert_true(s_check(16, 576, 1536, 1, 0) <= 1e-5);
    assert_true(s_check(16, 1536, 576, 0, 0) <= 1e-5);
    assert_true(s_check(16, 768, 3072, 1, 1) <= 1e-5);
    assert_true(s_check(13, 3072, 768, 1, 1) <= 1e-5);
}

/* Empty products write nothing; an empty inner dimension gives the bias. */
static void test_decode_gemm_empty(void **state) {
    (void)state;
    float y[6] = {7, 7, 7, 7, 7, 7}, x[1] = {1}, w[1] = {1}, bias[3] = {1, 2, 3};
    decode_gemm(y, x, w, NULL, 0, 1, 3);
    decode_gemm_nn(y, x, w, NULL, 2, 1, 0);
    for (int i = 0; i < 6; i++) assert_true(y[i] == 7);
    decode_gemm(y, x, w, bias, 2, 0, 3);
    for (int i = 0; i < 6; i++) assert_true(y[i] == bias[i % 3]);
    decode_gemm_nn(y, x, w, NULL, 2, 0, 3);
    for (int i = 0; i < 6; i++) assert_true(y[i] == 0);
}

typedef struct {
    rng_t rng;
    double worst;
} s_caller_t;

static void *s_concurrent(void *arg) {
    s_caller_t *c = arg;
    for (int r = 0; r < 20; r++) {
        double e = s_check_with(&c->rng, 16, 577, 203, 1, r % 2);
        if (!(e <= c->worst)) c->worst = e;
    }
    return NULL;
}

/* Two callers at once: one uses the pool, the other (finding it busy) runs alone; both right. */
static void test_decode_gemm_two_callers(void **state) {
    (void)state;
    openblas_set_num_threads(2);
    s_caller_t a = {.worst = 0}, b = {.worst = 0};
    rng_stream(&a.rng, 13, 1, 0, 0);
    rng_stream(&b.rng, 13, 2, 0, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_concurrent, &a), 0);
    s_concurrent(&b);
    pthread_join(t, NULL);
    assert_true(a.worst <= 1e-5 && b.worst <= 1e-5);
}

/* A child forked while the parent's workers exist makes its own and finishes (no hang). */
static void test_decode_gemm_after_fork(void **state) {
    (void)state;
    openblas_set_num_threads(2);
    assert_true(s_check(16, 577, 203, 1, 0) <= 1e-5); /* the parent's pool is running */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60);
        _exit(s_check(16, 577, 203, 1, 0) <= 1e-5 && s_check(16, 577, 203, 0, 1) <= 1e-5 ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void) {
    rng_stream(&s_rng, 13, 0, 0, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_gemm_nt_1_thread), cmocka_unit_test(test_decode_gemm_nt_2_threads),
        cmocka_unit_test(test_decode_gemm_nn_1_thread), cmocka_unit_test(test_decode_gemm_nn_2_threads),
        cmocka_unit_test(test_decode_gemm_large),       cmocka_unit_test(test_decode_gemm_empty),
        cmocka_unit_test(test_decode_gemm_two_callers), cmocka_unit_test(test_decode_gemm_after_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
