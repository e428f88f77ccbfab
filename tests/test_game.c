/* Matrix games: the exact maths of docs/algorithms.md, "Metrics and the regularised game" and the game families. */
#include "tests/testutil.h"

#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/game.h"
#include "common/rng.h"

/* Section 13's game: NE = (0.2, 0.3, 0.5). */
static const double A13[9] = {0.5, 0.75, 0.35, 0.25, 0.5, 0.6, 0.65, 0.4, 0.5};

static void test_game_nash_of_3cycle(void **state) {
    (void)state;
    double ne[3];
    assert_int_equal(game_nash_3cycle(A13, ne), 0);
    /* a = 0.5, b = 0.3, c = 0.2: NE proportional to (c, b, a) */
    assert_true(fabs(ne[0] - 0.2) < 1e-12 && fabs(ne[1] - 0.3) < 1e-12 && fabs(ne[2] - 0.5) < 1e-12);
    assert_true(fabs(game_exploitability(A13, 3, ne)) < 1e-12);
    /* unregularised gap (= 2 x exploitability) of the uniform policy: 0.066667 */
    double u[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    assert_true(fabs(2 * game_exploitability(A13, 3, u) - 0.2 / 3) < 1e-12);
    /* positive everywhere else on the simplex */
    rng_t r;
    rng_seed(&r, 5);
    for (int t = 0; t < 1000; t++) {
        double p[3], s = 0;
        for (int i = 0; i < 3; i++) s += (p[i] = rng_uniform(&r) + 1e-3);
        for (int i = 0; i < 3; i++) p[i] /= s;
        double dist = fabs(p[0] - 0.2) + fabs(p[1] - 0.3) + fabs(p[2] - 0.5);
        if (dist > 1e-6) assert_true(game_exploitability(A13, 3, p) > 0);
    }
    /* not a cycle: no closed form */
    double bt[9] = {0.5, 0.8, 0.9, 0.2, 0.5, 0.6, 0.1, 0.4, 0.5};
    assert_int_equal(game_nash_3cycle(bt, ne), -1);
}

/* Exact MWU self-play on the section 13 game: the vector
 * "MWU eta=0.5 T=3000: gap(last)=0.1974 gap(avg)=0.0046 KL(NE||last)=1.7415". */
static void test_game_mwu_last_diverges_average_converges(void **state) {
    (void)state;
    double p[3] = {0.6, 0.3, 0.1}, avg[3] = {0, 0, 0}, u[3];
    int T = 3000;
    for (int k = 0; k < T; k++) {
        for (int i = 0; i < 3; i++) avg[i] += p[i] / T;
        game_win_vs(A13, 3, p, u);
        double z[3], m = -1e300, s = 0;
        for (int i = 0; i < 3; i++) m = fmax(m, z[i] = log(p[i]) + 0.5 * (u[i] - 0.5));
        for (int i = 0; i < 3; i++) s += (p[i] = exp(z[i] - m));
        for (int i = 0; i < 3; i++) p[i] /= s;
    }
    double ne[3] = {0.2, 0.3, 0.5}, kl = 0;
    for (int i = 0; i < 3; i++) kl += ne[i] * log(ne[i] / p[i]);
    assert_true(fabs(2 * game_exploitability(A13, 3, p) - 0.1974) < 5e-5);
    assert_true(fabs(2 * game_exploitability(A13, 3, avg) - 0.0046) < 5e-5);
    assert_true(fabs(kl - 1.7415) < 5e-5);
}

static void s_check_preference(const game_set_t *g) {
    for (int q = 0; q < g->prompts; q++) {
        const double *P = game_matrix(g, q);
        for (int i = 0; i < g->n; i++)
            for (int j = 0; j < g->n; j++) {
                assert_true(P[i * g->n + j] >= 0 && P[i * g->n + j] <= 1);
                assert_true(fabs(P[i * g->n + j] + P[j * g->n + i] - 1) < 1e-12);
            }
    }
}

/* Does action i beat every other action? */
static int s_condorcet_winner(const double *P, int n) {
    for (int i = 0; i < n; i++) {
        int all = 1;
        for (int j = 0; j < n; j++)
            if (j != i && !(P[i * n + j] > 0.5)) all = 0;
        if (all) return i;
    }
    return -1;
}

static void test_game_families(void **state) {
    (void)state;
    spar_config_t cfg;
    config_defaults(&cfg);
    cfg.task.prompts = 20;
    char why[256];
    const char *fams[] = {"bt", "cyclic", "random"};
    for (int f = 0; f < 3; f++) {
        for (int n = 3; n <= 7; n += 2) {
            char set[64], err[256];
            snprintf(set, sizeof set, "game.family=%s", fams[f]);
            assert_int_equal(config_set(&cfg, set, err, sizeof err), 0);
            cfg.game.n = n;
            game_set_t g;
            assert_int_equal(game_set_build(&g, &cfg, why, sizeof why), 0);
            s_check_preference(&g);
            for (int q = 0; q < g.prompts; q++) {
                int w = s_condorcet_winner(game_matrix(&g, q), n);
                if (f == 0) assert_true(w >= 0); /* transitive: a Condorcet winner exists */
                if (f == 1) {                    /* cyclic: none, and uniform play is unexploitable when margins are equal */
                    assert_int_equal(w, -1);
                }
            }
            game_set_free(&g);
        }
    }
    /* equal margins: the cycle's equilibrium is uniform */
    cfg.game.family = FAMILY_CYCLIC;
    cfg.game.n = 5;
    cfg.game.jitter = 0;
    game_set_t g;
    assert_int_equal(game_set_build(&g, &cfg, why, sizeof why), 0);
    double u[5] = {0.2, 0.2, 0.2, 0.2, 0.2};
    assert_true(fabs(game_exploitability(game_matrix(&g, 0), 5, u)) < 1e-12);
    game_set_free(&g);
    /* the same seed gives the same games; another seed others */
    game_set_t g1, g2;
    cfg.game.jitter = 0.5;
    game_set_build(&g1, &cfg, why, sizeof why);
    game_set_build(&g2, &cfg, why, sizeof why);
    assert_memory_equal(g1.P, g2.P, sizeof(double) * 20 * 25);
    game_set_free(&g2);
    cfg.game.seed++;
    game_set_build(&g2, &cfg, why, sizeof why);
    assert_true(memcmp(g1.P, g2.P, sizeof(double) * 20 * 25) != 0);
    game_set_free(&g1);
    game_set_free(&g2);
}

static void test_game_file(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *good = xasprintf("%s/good.txt", dir), *bad = xasprintf("%s/bad.txt", dir),
         *asym = xasprintf("%s/asym.txt", dir);
    tu_write(good, "# two games\n0.5 0.9 0.3\n0.1 0.5 0.6\n0.7 0.4 0.5\n\n0.5 1 1\n0 0.5 1\n0 0 0.5\n");
    tu_write(bad, "0.5 0.9 0.3\n0.1 0.5\n0.7 0.4 0.5\n");
    tu_write(asym, "0.5 0.9\n0.2 0.5\n");
    game_set_t g;
    char why[512];
    assert_int_equal(game_load_file(&g, good, 5, why, sizeof why), 0);
    assert_int_equal(g.n, 3);
    assert_true(game_matrix(&g, 0)[1] == 0.9 && game_matrix(&g, 1)[1] == 1.0 && game_matrix(&g, 2)[1] == 0.9);
    game_set_free(&g);
    assert_int_equal(game_load_file(&g, bad, 5, why, sizeof why), -1);
    assert_non_null(strstr(why, ":2:")); /* names the line */
    assert_int_equal(game_load_file(&g, asym, 5, why, sizeof why), -1);
    assert_non_null(strstr(why, "not 1"));
    free(good);
    free(bad);
    free(asym);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_game_nash_of_3cycle),
        cmocka_unit_test(test_game_mwu_last_diverges_average_converges),
        cmocka_unit_test(test_game_families),
        cmocka_unit_test(test_game_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
