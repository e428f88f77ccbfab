/* spar sft, as a user runs it: on generated arith data the printed loss falls and the
 * checkpoint it writes loads; on a JSONL file a bad line is an error naming file and line. */
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/gpt_io.h"
#include "common/util.h"

/* The loss of the first and of the last progress line. */
static void s_losses(const char *log, double *first, double *last) {
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, " loss ");
        if (!p) continue;
        double v = atof(p + 6);
        if (n++ == 0) *first = v;
        *last = v;
    }
    fclose(f);
    assert_true(n >= 2);
}

static void test_sft_arith_loss_falls(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/sft.log", dir), *out = xasprintf("sft.out=%s/ck", dir);
    int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "sft", "--set", out, "--set", "task.kind=arith", "--set", "sft.steps=80", "--set", "sft.batch=16",
                              "--set", "gpt.n_layer=2", "--set", "gpt.d_model=64", "--set", "sft.examples=500", NULL),
                     300000);
    if (tu_exit_code(st) != 0) tu_dump(log);
    assert_int_equal(tu_exit_code(st), 0);
    double first = 0, last = 0;
    s_losses(log, &first, &last);
    fprintf(stderr, "sft loss %.3f -> %.3f\n", first, last);
    assert_true(last < 0.6 * first);
    assert_true(tu_file_contains(log, "greedy accuracy on 200 held-out arith problems"));
    char *ck = xasprintf("%s/ck", dir), why[256];
    gpt_t *m = gpt_load(ck, NULL, why, sizeof why);
    if (!m) fail_msg("%s", why);
    assert_int_equal(gpt_config(m)->n_layer, 2);
    gpt_destroy(&m);
    free(ck), free(log), free(out);
    tu_done(dir);
}

static void test_sft_bad_line(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/sft.log", dir), *data = xasprintf("%s/d.jsonl", dir),
         *set = xasprintf("sft.data=%s", data);
    tu_write(data, "{\"prompt\": \"1+1=\", \"response\": \"2\"}\nnot json\n");
    int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "sft", "--set", set, NULL), 30000);
    assert_int_equal(tu_exit_code(st), 2);
    assert_true(tu_file_contains(log, "d.jsonl:2:"));
    free(log), free(data), free(set);
    tu_done(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sft_arith_loss_falls),
        cmocka_unit_test(test_sft_bad_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
