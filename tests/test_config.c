/* Config: defaults, the built-in quickstart, overrides, the resolved YAML round trip, and one
 * test per class of bad config (each names file, line and key; the commands exit 2 and start
 * nothing). */
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/util.h"

static int s_load(spar_config_t *cfg, const char *yaml, char *err, size_t errlen) {
    config_defaults(cfg);
    return config_load_string(cfg, "test.yaml", yaml, err, errlen);
}

static void test_config_quickstart_and_set(void **state) {
    (void)state;
    spar_config_t cfg;
    char err[512];
    assert_int_equal(s_load(&cfg, spar_quickstart_yaml, err, sizeof err), 0);
    assert_string_equal(config_name(CFG_NAMES_ALG, cfg.algorithm.name), "sppo");
    assert_string_equal(config_name(CFG_NAMES_FAMILY, cfg.game.family), "cyclic");
    assert_int_equal(cfg.run.iterations, 30);
    assert_int_equal(config_set(&cfg, "run.iterations=7", err, sizeof err), 0);
    assert_int_equal(cfg.run.iterations, 7);
    assert_int_equal(config_set(&cfg, "algorithm.eta=0.25", err, sizeof err), 0);
    assert_true(cfg.algorithm.eta == 0.25);
    assert_int_equal(config_validate(&cfg, err, sizeof err), 0);
}

static void test_config_yaml_round_trip(void **state) {
    (void)state;
    spar_config_t a, b;
    char err[512];
    assert_int_equal(s_load(&a, spar_quickstart_yaml, err, sizeof err), 0);
    config_set(&a, "run.name=with \"quotes\" and \\", err, sizeof err);
    config_set(&a, "learner.lr=0.1", err, sizeof err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_write_yaml(&a, f);
    fclose(f);
    config_defaults(&b);
    assert_int_equal(config_load_string(&b, "resolved", buf, err, sizeof err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    free(buf);
}

/* Line breaks, controls and U+2028 in a string: written as escapes, so the value reads back (fuzz_config
 * found them folded into spaces or refused). */
static void test_config_yaml_round_trip_escapes(void **state) {
    (void)state;
    spar_config_t a, b;
    char err[512];
    assert_int_equal(s_load(&a, "run:\n  name: \"a\\nb\\tc\\x01d\\u2028e\\u0085f\\ufeffg caf\\u00e9\"\n", err, sizeof err), 0);
    assert_string_equal(a.run.name, "a\nb\tc\001d\342\200\250e\302\205f\357\273\277g caf\303\251");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_write_yaml(&a, f);
    fclose(f);
    config_defaults(&b);
    if (config_load_string(&b, "resolved", buf, err, sizeof err) != 0) fail_msg("%s", err);
    assert_string_equal(a.run.name, b.run.name);
    assert_memory_equal(&a, &b, sizeof a);
    free(buf);
}

/* Each bad config: the error names the file, the line and the key. */
static void s_expect_error(const char *yaml, const char *needle1, const char *needle2) {
    spar_config_t cfg;
    char err[512] = "";
    assert_int_equal(s_load(&cfg, yaml, err, sizeof err), -1);
    if (!strstr(err, needle1) || !strstr(err, needle2)) fail_msg("error '%s' lacks '%s' or '%s'", err, needle1, needle2);
}

static void test_config_unknown_key(void **state) {
    (void)state;
    s_expect_error("run:\n  name: x\n  iteratons: 5\n", "test.yaml:3:", "run.iteratons: unknown key");
}

static void test_config_unknown_section(void **state) {
    (void)state;
    s_expect_error("run:\n  name: x\nlerner:\n  lr: 1\n", "test.yaml:3:", "lerner: unknown section");
}

static void test_config_wrong_type(void **state) {
    (void)state;
    s_expect_error("run:\n  iterations: many\n", "test.yaml:2:", "run.iterations: expected an integer");
    s_expect_error("algorithm:\n  eta: fast\n", "test.yaml:2:", "algorithm.eta: expected a number");
    s_expect_error("run:\n  iterations: 3.5\n", "test.yaml:2:", "expected an integer");
}

static void test_config_out_of_range(void **state) {
    (void)state;
    s_expect_error("game:\n  n: 1\n", "test.yaml:2:", "game.n: 1 is out of range");
    s_expect_error("algorithm:\n  eta: -1\n", "test.yaml:2:", "algorithm.eta: -1 is out of range");
    s_expect_error("game:\n  margin: 1.5\n", "test.yaml:2:", "game.margin");
}

static void test_config_bad_choice(void **state) {
    (void)state;
    s_expect_error("algorithm:\n  name: ppo\n", "test.yaml:2:", "'ppo' is not one of");
    s_expect_error("game:\n  family: chess\n", "test.yaml:2:", "game.family");
}

static void test_config_bad_structure(void **state) {
    (void)state;
    s_expect_error("run:\n  name: [a, b]\n", "test.yaml:2:", "run.name: expected a single value");
    s_expect_error("run: [1, 2]\n", "test.yaml:1:", "run: expected a single value");
    s_expect_error("- a\n- b\n", "test.yaml:1:", "must be a mapping");
    s_expect_error("run:\n  name: x\n   bad: indent\n", "test.yaml:", "invalid YAML");
}

static void test_config_bad_set(void **state) {
    (void)state;
    spar_config_t cfg;
    char err[512];
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "run.nope=1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown key 'run.nope'"));
    assert_int_equal(config_set(&cfg, "noequals", err, sizeof err), -1);
    assert_non_null(strstr(err, "expected key=value"));
    assert_int_equal(config_set(&cfg, "rollout.samples_per_prompt=1", err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
}

static void test_config_inconsistent(void **state) {
    (void)state;
    spar_config_t cfg;
    char err[512];
    assert_int_equal(s_load(&cfg, "game:\n  family: file\n", err, sizeof err), 0);
    assert_int_equal(config_validate(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "game.file"));
}

/* Through the real binary: exit 2, a message naming file:line: key, and nothing started. */
static void test_config_commands_exit_2_and_start_nothing(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *bad = xasprintf("%s/bad.yaml", dir), *log = xasprintf("%s/out.log", dir),
         *gf = xasprintf("%s/game.txt", dir), *badgame = xasprintf("%s/badgame.yaml", dir);
    tu_write(bad, "run:\n  name: bad\n  iterations: 0\n");
    tu_write(gf, "0.5 0.7\n0.2 0.5\n");
    char *yaml = xasprintf("game:\n  family: file\n  n: 2\n  file: %s\n", gf);
    tu_write(badgame, yaml);
    const char *roles[] = {"run", "learner", "actor", "judge"};
    for (int i = 0; i < 4; i++) {
        unlink(log);
        int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, roles[i], "--config", bad, NULL), 20000);
        assert_int_equal(tu_exit_code(st), 2);
        assert_true(tu_file_contains(log, "bad.yaml:3: run.iterations: 0 is out of range"));
    }
    unlink(log);
    int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "run", "--set", "game.n=99999", NULL), 20000);
    assert_int_equal(tu_exit_code(st), 2);
    assert_true(tu_file_contains(log, "--set game.n=99999"));
    unlink(log);
    st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "run", badgame, NULL), 20000);
    assert_int_equal(tu_exit_code(st), 2);
    assert_true(tu_file_contains(log, "game.txt:1: P[0][1] + P[1][0]"));
    unlink(log);
    st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "run", "/nonexistent/spar.yaml", NULL), 20000);
    assert_int_equal(tu_exit_code(st), 2);
    assert_true(tu_file_contains(log, "/nonexistent/spar.yaml: cannot read"));
    char *runs = xasprintf("%s/runs", dir);
    assert_false(util_file_exists(runs)); /* nothing was started */
    /* --check accepts a good config */
    st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "learner", "--check", NULL), 20000);
    assert_int_equal(tu_exit_code(st), 0);
    free(runs);
    free(yaml);
    free(bad);
    free(log);
    free(gf);
    free(badgame);
    tu_done(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_quickstart_and_set),
        cmocka_unit_test(test_config_yaml_round_trip),
        cmocka_unit_test(test_config_yaml_round_trip_escapes),
        cmocka_unit_test(test_config_unknown_key),
        cmocka_unit_test(test_config_unknown_section),
        cmocka_unit_test(test_config_wrong_type),
        cmocka_unit_test(test_config_out_of_range),
        cmocka_unit_test(test_config_bad_choice),
        cmocka_unit_test(test_config_bad_structure),
        cmocka_unit_test(test_config_bad_set),
        cmocka_unit_test(test_config_inconsistent),
        cmocka_unit_test(test_config_commands_exit_2_and_start_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
