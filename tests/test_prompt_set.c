/* Prompt files (task.kind prompts): both line forms become the same conversation JSON; every bad
 * line is refused naming the file and line; repeated ids are refused, repeated prompts counted;
 * the held-out share never meets the training prompts; iterations take disjoint prompts until
 * the file is exhausted, then a new order covers it again; the same seed gives the same prompts
 * (resume and replay), another seed another order. Also rollout.stop's parsing and matching. */
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/prompt_set.h"
#include "common/stop.h"
#include "common/util.h"

static char *s_file(const char *dir, const char *text) {
    char *p = xasprintf("%s/prompts.jsonl", dir);
    tu_write(p, text);
    return p;
}

static void test_forms_and_ids(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    char *p = s_file(dir, "{\"prompt\": \"Hi \\u00e9\", \"id\": \"a\"}\n"
                          "\n"
                          "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
                          " {\"role\": \"user\", \"content\": \"2+2?\"}], \"id\": 7}\n"
                          "{\"prompt\": \"third\"}\n");
    prompt_set_t *s = prompt_set_load(p, 0, 1, why, sizeof why);
    if (!s) fail_msg("%s", why);
    assert_int_equal(prompt_set_train_count(s), 3);
    assert_int_equal(prompt_set_eval_count(s), 0);
    int seen[3] = {0};
    for (int i = 0; i < 3; i++) {
        const char *id, *json = prompt_set_train(s, 1, 3, i, &id);
        if (!strcmp(id, "a")) {
            assert_string_equal(json, "[{\"role\":\"user\",\"content\":\"Hi \\u00E9\"}]");
            seen[0]++;
        } else if (!strcmp(id, "7")) {
            assert_string_equal(json, "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"2+2?\"}]");
            seen[1]++;
        } else {
            assert_string_equal(id, "line-4"); /* no id: the line number */
            seen[2]++;
        }
    }
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    assert_int_equal(strlen(prompt_set_digest(s)), 64);
    prompt_set_free(&s);
    free(p);
    tu_done(dir);
}

/* Each bad line, alone after a good one, is refused as "FILE:2: ..." with what is wrong. */
static void test_bad_lines(void **state) {
    (void)state;
    static const char *const bad[][2] = {
        {"{\"prompt\": \"x\"", "not JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{\"text\": \"x\"}", "needs \"prompt\""},
        {"{\"prompt\": 3}", "\"prompt\" must be a string"},
        {"{\"prompt\": \"x\", \"messages\": []}", "both"},
        {"{\"messages\": []}", "non-empty list"},
        {"{\"messages\": [{\"role\": \"user\"}]}", "message 1"},
        {"{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", "robot"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}",
         "answers a user turn"},
        {"{\"prompt\": \"y\", \"id\": [1]}", "\"id\""},
        {"{\"prompt\": \"y\", \"id\": \"first\"}", "already line 1"},
        {"{\"prompt\": \"y\", \"prompt\": \"z\"}", "not JSON"},
    };
    char *dir = tu_tmpdir(), why[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = xasprintf("{\"prompt\": \"ok\", \"id\": \"first\"}\n%s\n", bad[i][0]);
        char *p = s_file(dir, text), *where = xasprintf("%s:2: ", p);
        prompt_set_t *s = prompt_set_load(p, 0, 1, why, sizeof why);
        if (s) fail_msg("line %s was taken", bad[i][0]);
        if (strncmp(why, where, strlen(where)) != 0 || !strstr(why, bad[i][1]))
            fail_msg("line %s: '%s' does not name %s and '%s'", bad[i][0], why, where, bad[i][1]);
        free(text), free(p), free(where);
    }
    char *p = s_file(dir, "\n\n");
    assert_null(prompt_set_load(p, 0, 1, why, sizeof why));
    assert_non_null(strstr(why, "no prompts"));
    free(p);
    assert_null(prompt_set_load("/nonexistent/prompts.jsonl", 0, 1, why, sizeof why));
    assert_non_null(strstr(why, "/nonexistent/prompts.jsonl: cannot read"));
    tu_done(dir);
}

static void test_duplicates_counted(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    char *p = s_file(dir, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n{\"prompt\": \"a\"}\n"
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n");
    prompt_set_t *s = prompt_set_load(p, 0, 1, why, sizeof why);
    if (!s) fail_msg("%s", why);
    assert_int_equal(prompt_set_duplicates(s), 2); /* lines 3 and 4 repeat line 1 */
    assert_int_equal(prompt_set_train_count(s), 4);
    prompt_set_free(&s);
    free(p);
    tu_done(dir);
}

/* 50 prompts, 10% held out: 5 never trained on; iterations of 9 take disjoint prompts through
 * the first pass of 45, and the second pass covers all 45 again. */
static void test_split_and_passes(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512], *text = xstrdup("");
    for (int i = 0; i < 50; i++) {
        char *t = xasprintf("%s{\"prompt\": \"question %d\", \"id\": \"q%d\"}\n", text, i, i);
        free(text);
        text = t;
    }
    char *p = s_file(dir, text);
    prompt_set_t *s = prompt_set_load(p, 0.1, 42, why, sizeof why), *same = prompt_set_load(p, 0.1, 42, why, sizeof why),
                 *other = prompt_set_load(p, 0.1, 43, why, sizeof why);
    if (!s || !same || !other) fail_msg("%s", why);
    assert_int_equal(prompt_set_eval_count(s), 5);
    assert_int_equal(prompt_set_train_count(s), 45);
    char held[5][16];
    for (int i = 0; i < 5; i++) {
        const char *id;
        prompt_set_eval(s, i, &id);
        snprintf(held[i], sizeof held[i], "%s", id);
    }
    for (int pass = 0; pass < 2; pass++) {
        int seen[50] = {0};
        for (int it = 1; it <= 5; it++)
            for (int i = 0; i < 9; i++) {
                const char *id;
                prompt_set_train(s, (uint64_t)(pass * 5 + it), 9, i, &id);
                int q = atoi(id + 1);
                seen[q]++;
                for (int h = 0; h < 5; h++) assert_string_not_equal(id, held[h]);
            }
        int covered = 0;
        for (int q = 0; q < 50; q++) {
            assert_true(seen[q] <= 1);
            covered += seen[q];
        }
        assert_int_equal(covered, 45);
    }
    int differ = 0;
    for (int it = 1; it <= 3; it++)
        for (int i = 0; i < 9; i++) {
            const char *a, *b, *c;
            prompt_set_train(s, (uint64_t)it, 9, i, &a);
            prompt_set_train(same, (uint64_t)it, 9, i, &b);
            prompt_set_train(other, (uint64_t)it, 9, i, &c);
            assert_string_equal(a, b);
            differ += strcmp(a, c) != 0;
        }
    assert_true(differ > 0);
    prompt_set_free(&s), prompt_set_free(&same), prompt_set_free(&other);
    free(p), free(text);
    tu_done(dir);
}

static void test_stop_strings(void **state) {
    (void)state;
    char **st, why[200];
    int n;
    assert_int_equal(stop_parse("", &st, &n, why, sizeof why), 0);
    assert_int_equal(n, 0);
    assert_int_equal(stop_parse("###", &st, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_string_equal(st[0], "###");
    stop_free(st, n);
    assert_int_equal(stop_parse("[\"\\n\\nUser:\", \"END\"]", &st, &n, why, sizeof why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(stop_find("abc END x\n\nUser: y", (const char *const *)st, n), 7);
    assert_int_equal(stop_find("a\n\nUser: END", (const char *const *)st, n), 8);
    assert_int_equal(stop_find("nothing", (const char *const *)st, n), -1);
    stop_free(st, n);
    assert_int_equal(stop_parse("[\"a\", 3]", &st, &n, why, sizeof why), -1);
    assert_non_null(strstr(why, "item 2"));
    assert_int_equal(stop_parse("[\"a\"", &st, &n, why, sizeof why), -1);
    assert_int_equal(stop_parse("[\"\"]", &st, &n, why, sizeof why), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms_and_ids),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_duplicates_counted),
        cmocka_unit_test(test_split_and_passes),
        cmocka_unit_test(test_stop_strings),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
