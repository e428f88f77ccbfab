/* SPPO: the test vectors of docs/algorithms.md, "Test vectors" (both forms, both win-rate estimates)
 * and finite-difference checks of the loss and of its gradient through the tabular policy. */
#include "tests/testutil.h"

#include <math.h>

#include "common/policy.h"
#include "learner/sppo.h"

/* Section 13 setup: K = 3, cyclic P, eta = 2. */
static const double TH[3] = {-10.0, -12.0, -11.0};
static const double PT[3] = {-10.5, -11.5, -11.0};
static const double PR[3] = {-11.0, -11.0, -12.0};
static const double P3[9] = {0.5, 0.9, 0.3, 0.1, 0.5, 0.6, 0.7, 0.4, 0.5};

static void test_sppo_winrates(void **state) {
    (void)state;
    double in[3], ex[3];
    sppo_winrates(P3, 3, 1, in);
    sppo_winrates(P3, 3, 0, ex);
    /* Phat incl [0.566667, 0.400000, 0.533333] excl [0.600000, 0.350000, 0.550000] */
    assert_true(fabs(in[0] - 17.0 / 30) < 1e-12 && fabs(in[1] - 0.4) < 1e-12 && fabs(in[2] - 16.0 / 30) < 1e-12);
    assert_true(fabs(ex[0] - 0.6) < 1e-12 && fabs(ex[1] - 0.35) < 1e-12 && fabs(ex[2] - 0.55) < 1e-12);
}

static void test_sppo_all_k_vector(void **state) {
    (void)state;
    sppo_opts_t o = {.eta = 2.0, .include_self = 1};
    loss_group_t g = {3, TH, PT, PR, P3, NULL};
    double d[3];
    double L = sppo_loss(&o, &g, d);
    /* SPPO-allK L=0.076296 dL/dlogpi [0.244444, -0.200000, -0.044444]; exactly 206/2700 and
     * (2/3)(11/30, -3/10, -1/15). */
    assert_true(fabs(L - 206.0 / 2700) < 1e-9);
    assert_true(fabs(d[0] - 22.0 / 90) < 1e-9);
    assert_true(fabs(d[1] + 0.2) < 1e-9);
    assert_true(fabs(d[2] + 2.0 / 45) < 1e-9);
    assert_true(fabs(L - 0.076296) < 5e-7);
}

static void test_sppo_pair_vector(void **state) {
    (void)state;
    sppo_opts_t o = {.eta = 2.0, .include_self = 1, .best_worst = 1};
    loss_group_t g = {3, TH, PT, PR, P3, NULL};
    double d[3];
    double L = sppo_loss(&o, &g, d);
    /* SPPO-pair L=0.112222 dL/dlogpi_w=0.366667 dL/dlogpi_l=-0.300000, (w, l) = (0, 1) */
    assert_true(fabs(L - 202.0 / 1800) < 1e-9);
    assert_true(fabs(d[0] - 11.0 / 30) < 1e-9);
    assert_true(fabs(d[1] + 0.3) < 1e-9);
    assert_true(d[2] == 0.0);
}

static void test_sppo_leave_one_out_default(void **state) {
    (void)state;
    sppo_opts_t o = {.eta = 2.0};
    loss_group_t g = {3, TH, PT, PR, P3, NULL};
    double d[3];
    double L = sppo_loss(&o, &g, d);
    /* residuals a - eta (Pex - 1/2) = (0.3, -0.2, -0.1) */
    assert_true(fabs(L - 0.14 / 3) < 1e-12);
    assert_true(fabs(d[0] - 0.2) < 1e-12 && fabs(d[1] + 0.4 / 3) < 1e-12 && fabs(d[2] + 0.2 / 3) < 1e-12);
}

/* dL/dlp by central differences, for each form. */
static void test_sppo_loss_finite_difference(void **state) {
    (void)state;
    for (int form = 0; form < 4; form++) {
        sppo_opts_t o = {.eta = 1.7, .include_self = form & 1, .best_worst = form >> 1};
        double th[3] = {TH[0], TH[1], TH[2]}, d[3], dd[3];
        loss_group_t g = {3, th, PT, PR, P3, NULL};
        sppo_loss(&o, &g, d);
        for (int i = 0; i < 3; i++) {
            double h = 1e-6, keep = th[i];
            th[i] = keep + h;
            double lp = sppo_loss(&o, &g, dd);
            th[i] = keep - h;
            double lm = sppo_loss(&o, &g, dd);
            th[i] = keep;
            assert_true(fabs((lp - lm) / (2 * h) - d[i]) < 1e-7);
        }
    }
}

/* L(logits) through the tabular policy: the chain dL/dlp * dlp/dz matches finite differences. */
static double s_policy_loss(policy_t *p, const uint32_t *acts, int k, const double *lp_prev, const double *P,
                            int backward) {
    double lp[8], d[8];
    for (int i = 0; i < k; i++) lp[i] = policy_logprob(p, 1, &acts[i], 1);
    sppo_opts_t o = {.eta = 2.0};
    loss_group_t g = {k, lp, lp_prev, lp_prev, P, NULL};
    double L = sppo_loss(&o, &g, d);
    if (backward)
        for (int i = 0; i < k; i++) policy_backward(p, 1, &acts[i], 1, d[i]);
    return L;
}

static void test_sppo_tabular_gradient_check(void **state) {
    (void)state;
    policy_t *p = policy_tabular_new(2, 4);
    policy_init(p, INIT_RANDOM, 1.0, 42);
    const uint32_t acts[5] = {0, 3, 3, 1, 2};
    double lp_prev[5] = {-1.2, -1.5, -1.5, -0.9, -2.0};
    double P[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) P[i * 5 + j] = acts[i] == acts[j] ? 0.5 : (acts[i] > acts[j] ? 0.7 : 0.3);
    policy_zero_grad(p);
    s_policy_loss(p, acts, 5, lp_prev, P, 1);
    for (size_t j = 0; j < policy_view(p).n; j++) {
        double h = 1e-6, keep = policy_view(p).f64[j];
        policy_view(p).f64[j] = keep + h;
        double lp = s_policy_loss(p, acts, 5, lp_prev, P, 0);
        policy_view(p).f64[j] = keep - h;
        double lm = s_policy_loss(p, acts, 5, lp_prev, P, 0);
        policy_view(p).f64[j] = keep;
        assert_true(fabs((lp - lm) / (2 * h) - policy_view(p).grad_f64[j]) < 1e-7);
    }
    /* prompt 0 was not in the group: its gradient is exactly zero */
    for (int a = 0; a < 4; a++) assert_true(policy_view(p).grad_f64[a] == 0.0);
    policy_destroy(&p);
    assert_null(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sppo_winrates),
        cmocka_unit_test(test_sppo_all_k_vector),
        cmocka_unit_test(test_sppo_pair_vector),
        cmocka_unit_test(test_sppo_leave_one_out_default),
        cmocka_unit_test(test_sppo_loss_finite_difference),
        cmocka_unit_test(test_sppo_tabular_gradient_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
