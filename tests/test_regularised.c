/* The regularised game of docs/algorithms.md, "Metrics and the regularised game" against the test vectors: the exact
 * equilibrium pi*_tau, Gap_tau of reference points, and the OMD (INPO) and Nash-MD limits. */
#include "tests/testutil.h"

#include <math.h>

#include "common/game.h"
#include "common/regularised.h"

static const double A13[9] = {0.5, 0.75, 0.35, 0.25, 0.5, 0.6, 0.65, 0.4, 0.5};

static void test_regularised_equilibrium_and_gaps(void **state) {
    (void)state;
    double ref[3] = {0.6, 0.3, 0.1}, u[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3}, ps[3];
    /* tau=1 pi*=[0.632529, 0.259915, 0.107556] gap(ref)=0.008169 gap(unif)=0.495750 */
    assert_true(reg_nash(A13, 3, ref, 1.0, ps, 1000000) >= 0);
    assert_true(fabs(ps[0] - 0.632529) < 1e-6 && fabs(ps[1] - 0.259915) < 1e-6 && fabs(ps[2] - 0.107556) < 1e-6);
    assert_true(fabs(reg_gap(A13, 3, ps, ref, 1.0)) < 1e-11);
    assert_true(fabs(reg_gap(A13, 3, ref, ref, 1.0) - 0.008169) < 1e-6);
    assert_true(fabs(reg_gap(A13, 3, u, ref, 1.0) - 0.495750) < 1e-6);
    /* tau=0.1 pi*=[0.619966, 0.102116, 0.277918] gap(ref)=0.059941 gap(unif)=0.073863 */
    assert_true(reg_nash(A13, 3, ref, 0.1, ps, 1000000) >= 0);
    assert_true(fabs(ps[0] - 0.619966) < 1e-6 && fabs(ps[1] - 0.102116) < 1e-6 && fabs(ps[2] - 0.277918) < 1e-6);
    assert_true(fabs(reg_gap(A13, 3, ref, ref, 0.1) - 0.059941) < 1e-6);
    assert_true(fabs(reg_gap(A13, 3, u, ref, 0.1) - 0.073863) < 1e-6);
    /* the gap is positive away from pi* */
    double q[3] = {0.5, 0.2, 0.3};
    assert_true(reg_gap(A13, 3, q, ref, 0.1) > 1e-4);
}

/* OMD (exact INPO) and Nash-MD, tau=0.1 eta=1 T=3000 from [0.6,0.3,0.1], ref uniform:
 * OMD pi_T=[0.322488, 0.238147, 0.439365] gap_tau ~ 0; NashMD [0.327671, 0.231189, 0.441139] 5.43e-05. */
static void test_regularised_omd_and_nash_md_limits(void **state) {
    (void)state;
    double ref[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3}, t = 0.1, et = 1.0;
    for (int nm = 0; nm < 2; nm++) {
        double p[3] = {0.6, 0.3, 0.1};
        for (int k = 0; k < 3000; k++) {
            double base[3], opp[3], u[3], z[3], s = 0, m = -1e300, sb = 0, mb = -1e300;
            for (int i = 0; i < 3; i++) base[i] = (1 - et * t) * log(p[i]) + et * t * log(ref[i]);
            for (int i = 0; i < 3; i++) mb = fmax(mb, base[i]);
            for (int i = 0; i < 3; i++) sb += (opp[i] = exp(base[i] - mb));
            for (int i = 0; i < 3; i++) opp[i] = nm ? opp[i] / sb : p[i];
            game_win_vs(A13, 3, opp, u);
            for (int i = 0; i < 3; i++) m = fmax(m, z[i] = base[i] + et * u[i]);
            for (int i = 0; i < 3; i++) s += (p[i] = exp(z[i] - m));
            for (int i = 0; i < 3; i++) p[i] /= s;
        }
        double g = reg_gap(A13, 3, p, ref, t);
        if (!nm) {
            assert_true(fabs(p[0] - 0.322488) < 1e-6 && fabs(p[1] - 0.238147) < 1e-6 && fabs(p[2] - 0.439365) < 1e-6);
            assert_true(fabs(g) < 1e-12);
        } else {
            assert_true(fabs(p[0] - 0.327671) < 1e-6 && fabs(p[1] - 0.231189) < 1e-6);
            assert_true(fabs(g - 5.43e-05) < 5e-7);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regularised_equilibrium_and_gaps),
        cmocka_unit_test(test_regularised_omd_and_nash_md_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
