/* itertable: spar run's and spar monitor's iteration table from one column catalogue: the
 * headers keep their widths and order, a row shows each key in its column's format, a missing
 * or non-numeric value as "-", and a peer's string without its control characters. */
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/itertable.h"

static char *s_render(const itertable_col_t *const *cols, int n, const char *line) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (line) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        itertable_row(f, cols, n, o);
        json_decref(o);
    } else {
        itertable_header(f, cols, n);
    }
    fclose(f);
    return buf;
}

static void test_itertable_run_headers_keep_their_columns(void **state) {
    (void)state;
    char *h = s_render(itertable_run_game, ITERTABLE_RUN_COLUMNS, NULL);
    assert_string_equal(h, " iter  ver       loss   kl_ref   win_v0   exploit  expl_avg  lost stale  bad  samples/s  wall_s\n");
    free(h);
    h = s_render(itertable_run_judged, ITERTABLE_RUN_COLUMNS, NULL);
    assert_string_equal(h, " iter  ver       loss   kl_ref      acc  acc_smp judge_win  rule_win  lost  bad  samples/s  wall_s\n");
    free(h);
    h = s_render(itertable_run_text, ITERTABLE_RUN_COLUMNS, NULL);
    assert_non_null(strstr(h, "style_ex"));
    free(h);
}

static void test_itertable_row_formats_each_cell(void **state) {
    (void)state;
    char *r = s_render(itertable_run_game, ITERTABLE_RUN_COLUMNS,
                       "{\"iteration\":3,\"policy_version\":4,\"loss\":0.00125,\"kl_to_ref\":0.5,\"win_rate_vs_init\":0.75,"
                       "\"exploitability\":0.1,\"exploitability_avg\":null,\"lost\":0,\"stale_dropped\":2,"
                       "\"bad_messages\":1,\"samples_per_s\":1234.4,\"wall_s\":1.5}");
    assert_string_equal(r, "    3    4  1.250e-03   0.5000   0.7500   0.10000         -     0     2    1       1234   1.500\n");
    free(r);
}

static void test_itertable_has_a_number_in_some_line(void **state) {
    (void)state;
    json_t *lines = json_loads("[{\"loss\":null,\"kl\":\"0.5\"},{\"iteration\":2},{\"loss\":0.25}]", 0, NULL);
    assert_non_null(lines);
    assert_int_equal(itertable_has(lines, "loss"), 1);
    assert_int_equal(itertable_has(lines, "iteration"), 1);
    assert_int_equal(itertable_has(lines, "kl"), 0); /* a string is no number */
    assert_int_equal(itertable_has(lines, "wall_s"), 0);
    json_decref(lines);
}

static void test_itertable_monitor_sets_and_values(void **state) {
    (void)state;
    const itertable_col_t *cols[] = {itertable_lead[0], itertable_metrics[0], itertable_trail[ITERTABLE_TRAIL - 1]};
    char *r = s_render(cols, 3, "{\"iteration\":\"a\\u0007b\",\"exploitability\":true}");
    assert_string_equal(r, "  a?b         -       -\n");
    free(r);
    for (int i = 0; i < ITERTABLE_METRICS; i++) assert_non_null(itertable_metrics[i]->key);
    char buf[16];
    json_t *v = json_real(2.6);
    assert_string_equal(itertable_value(buf, sizeof buf, v, NULL), "3"); /* a real in an integer column */
    json_decref(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_itertable_run_headers_keep_their_columns),
        cmocka_unit_test(test_itertable_row_formats_each_cell),
        cmocka_unit_test(test_itertable_monitor_sets_and_values),
        cmocka_unit_test(test_itertable_has_a_number_in_some_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
