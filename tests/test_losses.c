/* The Nash family's losses: docs/algorithms.md, "Test vectors" vectors for DPO, IPO and INPO to 1e-9,
 * finite-difference checks of every pair loss and of every algorithm's group loss (each pair
 * selection and label form), and through the tabular policy to its logits. */
#include "tests/testutil.h"

#include <math.h>
#include <string.h>

#include "common/config.h"
#include "common/policy.h"
#include "learner/algorithm.h"
#include "learner/pairloss.h"

static const double TH[3] = {-10.0, -12.0, -11.0};
static const double PT[3] = {-10.5, -11.5, -11.0};
static const double PR[3] = {-11.0, -11.0, -12.0};
static const double P3[9] = {0.5, 0.9, 0.3, 0.1, 0.5, 0.6, 0.7, 0.4, 0.5};

static double s_sig(double z) { return 1.0 / (1.0 + exp(-z)); }

static algorithm_t s_alg(const char *name, const char *pairs, const char *labels) {
    spar_config_t cfg;
    config_defaults(&cfg);
    char set[128], err[256];
    snprintf(set, sizeof set, "algorithm.name=%s", name);
    assert_int_equal(config_set(&cfg, set, err, sizeof err), 0);
    snprintf(set, sizeof set, "algorithm.pairs=%s", pairs);
    assert_int_equal(config_set(&cfg, set, err, sizeof err), 0);
    snprintf(set, sizeof set, "algorithm.labels=%s", labels);
    assert_int_equal(config_set(&cfg, set, err, sizeof err), 0);
    algorithm_t a;
    algorithm_from_config(&a, &cfg);
    return a;
}

/* Section 13: (w, l) = (0, 1); DPO beta 0.1, IPO tau 0.1, INPO eta 2 tau 1/6. */
static void test_losses_section13_vectors(void **state) {
    (void)state;
    loss_group_t g = {3, TH, PT, PR, P3, NULL};
    double d[3];
    algorithm_t a = s_alg("dpo", "auto", "hard");
    double L = algorithm_group_loss(&a, &g, d);
    /* DPO h=2.000000 L=0.598139 dL/dw=-0.045017 dL/dl=0.045017 */
    assert_true(fabs(L - log1p(exp(-0.2))) < 1e-9 && fabs(L - 0.598139) < 5e-7);
    assert_true(fabs(d[0] + 0.1 * s_sig(-0.2)) < 1e-9 && fabs(d[0] + 0.045017) < 5e-7);
    assert_true(fabs(d[1] - 0.1 * s_sig(-0.2)) < 1e-9 && d[2] == 0.0);

    a = s_alg("ipo", "auto", "hard");
    L = algorithm_group_loss(&a, &g, d);
    /* IPO L=9.000000 dL/dw=-6.000000 dL/dl=6.000000 */
    assert_true(fabs(L - 9.0) < 1e-9 && fabs(d[0] + 6.0) < 1e-9 && fabs(d[1] - 6.0) < 1e-9);

    a = s_alg("inpo", "auto", "hard");
    a.eta = 2.0, a.tau = 1.0 / 6.0;
    L = algorithm_group_loss(&a, &g, d);
    /* INPO h=1.333333 L=0.111111 dL/dw=0.666667 dL/dl=-0.666667 */
    assert_true(fabs(pairloss_inpo_h(TH[0], TH[1], PR[0], PR[1], PT[0], PT[1], 1.0 / 3) - 4.0 / 3) < 1e-12);
    assert_true(fabs(L - 1.0 / 9) < 1e-9 && fabs(d[0] - 2.0 / 3) < 1e-9 && fabs(d[1] + 2.0 / 3) < 1e-9);
}

static void test_losses_pair_finite_differences(void **state) {
    (void)state;
    const double hs[] = {-3.0, -0.4, 0.0, 0.7, 2.0, 9.0};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        double h = hs[i], e = 1e-6, d, dp, dm;
        pairloss_dpo(h, 0.3, 0.1, &d);
        assert_true(fabs((pairloss_dpo(h + e, 0.3, 0.1, &dp) - pairloss_dpo(h - e, 0.3, 0.1, &dm)) / (2 * e) - d) < 1e-8);
        pairloss_ipo(h, 0.2, &d);
        assert_true(fabs((pairloss_ipo(h + e, 0.2, &dp) - pairloss_ipo(h - e, 0.2, &dm)) / (2 * e) - d) < 1e-6);
        pairloss_inpo(h, 1.5, &d);
        assert_true(fabs((pairloss_inpo(h + e, 1.5, &dp) - pairloss_inpo(h - e, 1.5, &dm)) / (2 * e) - d) < 1e-6);
        pairloss_dno_soft(h, 0.3, 2.0, &d);
        assert_true(fabs((pairloss_dno_soft(h + e, 0.3, 2.0, &dp) - pairloss_dno_soft(h - e, 0.3, 2.0, &dm)) / (2 * e) - d) < 1e-8);
    }
    /* DNO soft's minimiser is da = eta dr */
    double d;
    pairloss_dno_soft(2.0 * 0.3, 0.3, 2.0, &d);
    assert_true(fabs(d) < 1e-12);
}

/* Every algorithm and pair form: dL/dlp by central differences on a K = 5 group. */
static void test_losses_group_finite_differences(void **state) {
    (void)state;
    const char *names[] = {"sppo", "inpo", "dno", "dpo", "ipo", "nash-md", "egpo"};
    const char *pairs[] = {"auto", "all", "best_worst"};
    const double opp[5] = {0.3, 0.55, 0.7, 0.45, 0.5};
    const char *labels[] = {"hard", "soft"};
    double P[25], th[5] = {-1.0, -2.0, -0.5, -1.5, -2.5}, pv[5] = {-1.2, -1.8, -0.9, -1.1, -2.0},
                  rf[5] = {-1.6, -1.6, -1.6, -1.6, -1.6};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) P[i * 5 + j] = i == j ? 0.5 : (i < j ? 0.2 + 0.15 * ((i + 2 * j) % 5) : 0);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < i; j++) P[i * 5 + j] = 1 - P[j * 5 + i];
    for (int n = 0; n < 7; n++)
        for (int p = 0; p < 3; p++)
            for (int l = 0; l < 2; l++)
                for (int form = 0; form < 2; form++) {
                    algorithm_t a = s_alg(names[n], pairs[p], labels[l]);
                    a.dno_soft = form;
                    a.dno_margin = 0.05;
                    loss_group_t g = {5, th, pv, rf, P, opp};
                    double d[5], dd[5];
                    algorithm_group_loss(&a, &g, d);
                    for (int i = 0; i < 5; i++) {
                        double e = 1e-6, keep = th[i];
                        th[i] = keep + e;
                        double lp = algorithm_group_loss(&a, &g, dd);
                        th[i] = keep - e;
                        double lm = algorithm_group_loss(&a, &g, dd);
                        th[i] = keep;
                        if (fabs((lp - lm) / (2 * e) - d[i]) > 1e-6)
                            fail_msg("%s pairs=%s labels=%s form=%d: dL/dlp[%d] %g vs %g", names[n], pairs[p], labels[l],
                                     form, i, d[i], (lp - lm) / (2 * e));
                    }
                }
}

/* Through the tabular policy: d(group loss)/d(logits) by finite differences, for each algorithm. */
static void test_losses_tabular_gradient_check(void **state) {
    (void)state;
    const char *names[] = {"inpo", "dno", "dpo", "ipo"};
    const uint32_t acts[4] = {0, 2, 1, 2};
    double P[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            P[i * 4 + j] = acts[i] == acts[j] ? 0.5 : ((acts[i] + 1) % 3 == acts[j] ? 0.8 : 0.2);
    for (int n = 0; n < 4; n++) {
        algorithm_t a = s_alg(names[n], "all", "soft");
        policy_t *pol = policy_tabular_new(1, 3);
        policy_init(pol, INIT_RANDOM, 1.0, 3);
        double pv[4], rf[4], lp[4], d[4];
        for (int i = 0; i < 4; i++) pv[i] = policy_logprob(pol, 0, &acts[i], 1) - 0.1 * i, rf[i] = -1.1;
        policy_init(pol, INIT_RANDOM, 1.0, 4);
        for (int round = 0; round < 2; round++) { /* 0: analytic gradient; 1: finite differences */
            policy_zero_grad(pol);
            for (int i = 0; i < 4; i++) lp[i] = policy_logprob(pol, 0, &acts[i], 1);
            loss_group_t g = {4, lp, pv, rf, P, NULL};
            algorithm_group_loss(&a, &g, d);
            for (int i = 0; i < 4; i++) policy_backward(pol, 0, &acts[i], 1, d[i]);
            if (round == 1) break;
            for (int k = 0; k < 3; k++) {
                double e = 1e-6, keep = policy_view(pol).f64[k], L[2];
                for (int s = 0; s < 2; s++) {
                    policy_view(pol).f64[k] = keep + (s ? -e : e);
                    for (int i = 0; i < 4; i++) lp[i] = policy_logprob(pol, 0, &acts[i], 1);
                    L[s] = algorithm_group_loss(&a, &g, d);
                }
                policy_view(pol).f64[k] = keep;
                policy_zero_grad(pol);
                for (int i = 0; i < 4; i++) lp[i] = policy_logprob(pol, 0, &acts[i], 1);
                algorithm_group_loss(&a, &g, d);
                for (int i = 0; i < 4; i++) policy_backward(pol, 0, &acts[i], 1, d[i]);
                assert_true(fabs((L[0] - L[1]) / (2 * e) - policy_view(pol).grad_f64[k]) < 1e-6);
            }
        }
        policy_destroy(&pol);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_losses_section13_vectors),
        cmocka_unit_test(test_losses_pair_finite_differences),
        cmocka_unit_test(test_losses_group_finite_differences),
        cmocka_unit_test(test_losses_tabular_gradient_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
