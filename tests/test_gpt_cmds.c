/* `spar score` and `spar sample` on the golden checkpoint, as a user runs them: the scores are
 * the model's sequence log-probs of response + end-of-text, a bad line is an error naming file
 * and line, the same seed prints the same samples. And the byte tokenizer. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gpt.h"
#include "common/gpt_io.h"
#include "common/tokenizer.h"
#include "common/util.h"

#define GOLDEN SPAR_SOURCE_DIR "/tests/golden/gpt2-tiny"

static void test_gpt_cmds_tokenizer(void **state) {
    (void)state;
    int t[16];
    assert_int_equal(tok_encode("Az\xc3\xa9", t, 16), 4);
    assert_true(t[0] == 'A' && t[1] == 'z' && t[2] == 0xc3 && t[3] == 0xa9);
    t[4] = GPT_EOT, t[5] = 'x';
    char *s = tok_decode(t, 6);
    assert_string_equal(s, "Az\xc3\xa9");
    free(s);
    assert_int_equal(tok_encode("abcdef", t, 3), 3);
}

static void test_gpt_cmds_score(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *in = xasprintf("%s/in.jsonl", dir), *out = xasprintf("%s/out.jsonl", dir);
    tu_write(in, "{\"prompt\": \"12+\", \"response\": \"30\"}\n{\"prompt\": \"a\", \"response\": \"\"}\n");
    int st = tu_wait(tu_spawn(NULL, out, SPAR_BIN, "score", GOLDEN, in, NULL), 30000);
    assert_int_equal(tu_exit_code(st), 0);
    json_t *lines = tu_read_jsonl(out);
    assert_int_equal((int)json_array_size(lines), 2);
    char why[256];
    gpt_t *m = gpt_load(GOLDEN, NULL, why, sizeof why);
    int tok[8] = {'1', '2', '+', '3', '0', GPT_EOT}, pl = 3, T = 6;
    double lp;
    gpt_forward(m, tok, 1, T);
    gpt_seq_logprob(m, tok, &pl, &T, &lp);
    assert_true(fabs(json_number_value(json_object_get(json_array_get(lines, 0), "logprob")) - lp) < 1e-6);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, 0), "tokens")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, 1), "tokens")), 1); /* just EOT */
    json_decref(lines);
    gpt_destroy(&m);
    /* a bad line names the file and the line */
    tu_write(in, "{\"prompt\": \"1\", \"response\": \"2\"}\n{\"prompt\": 3}\n");
    unlink(out);
    st = tu_wait(tu_spawn(NULL, out, SPAR_BIN, "score", GOLDEN, in, NULL), 30000);
    assert_int_equal(tu_exit_code(st), 2);
    char *where = xasprintf("in.jsonl:2: needs string fields");
    assert_true(tu_file_contains(out, where));
    free(where), free(in), free(out);
    tu_done(dir);
}

static void test_gpt_cmds_sample(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *a = xasprintf("%s/a.txt", dir), *b = xasprintf("%s/b.txt", dir);
    for (int i = 0; i < 2; i++) {
        int st = tu_wait(tu_spawn(NULL, i ? b : a, SPAR_BIN, "sample", GOLDEN, "--prompt", "12+30=", "-n", "4",
                                  "--max-new", "6", "--seed", "9", NULL),
                         30000);
        assert_int_equal(tu_exit_code(st), 0);
    }
    char *ta = util_read_file(a, NULL), *tb = util_read_file(b, NULL);
    assert_string_equal(ta, tb);
    json_t *lines = tu_read_jsonl(a);
    assert_int_equal((int)json_array_size(lines), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 3), "prompt")), "12+30=");
    json_decref(lines);
    /* the golden model's context is 16 tokens: a 20-byte prompt is refused */
    unlink(a);
    int st = tu_wait(tu_spawn(NULL, a, SPAR_BIN, "sample", GOLDEN, "--prompt", "01234567890123456789", NULL), 30000);
    assert_int_equal(tu_exit_code(st), 2);
    assert_true(tu_file_contains(a, "the model's context is 16"));
    free(ta), free(tb), free(a), free(b);
    tu_done(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt_cmds_tokenizer),
        cmocka_unit_test(test_gpt_cmds_score),
        cmocka_unit_test(test_gpt_cmds_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
