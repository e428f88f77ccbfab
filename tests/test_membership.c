/* Elastic membership through real processes: actors join a run in progress (fetching the
 * current version first), leave on SIGTERM (saying so: the learner re-queues their lease at
 * once) or die (the learner logs them silent; their lease is re-issued at its deadline); the
 * learner logs every change, knows each actor's version and when a version has reached every
 * live actor, and the run completes with nothing lost. Judges join and leave the same way,
 * through the learner's judge pool. */
#include "tests/testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

static int s_lines(const char *jsonl) {
    json_t *a = tu_read_jsonl(jsonl);
    int n = a ? (int)json_array_size(a) : 0;
    json_decref(a);
    return n;
}

static void test_membership_join_leave_die(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir), *run = xasprintf("%s/run", dir);
    char *yaml = xasprintf("run:\n  dir: %s\n  iterations: 24\ntask:\n  prompts: 8\nrollout:\n  samples_per_prompt: 16\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n  lease_timeout_ms: 1500\n"
                           "  prompts_per_lease: 2\nactor:\n  delay_ms: 40\n  heartbeat_ms: 100\n"
                           "judge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n",
                           run, dir, dir, dir, dir);
    tu_write(cfg, yaml);
    const char *names[5] = {"learner", "judge", "actor-a", "actor-b", "actor-c"};
    char *logs[5];
    for (int i = 0; i < 5; i++) logs[i] = xasprintf("%s/%s.log", dir, names[i]);
    char *jsonl = xasprintf("%s/iterations.jsonl", run);
    pid_t learner = tu_spawn(NULL, logs[0], SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL);
    pid_t judge = tu_spawn(NULL, logs[1], SPAR_BIN, "judge", "--config", cfg, "--id", "judge", NULL);
    pid_t a = tu_spawn(NULL, logs[2], SPAR_BIN, "actor", "--config", cfg, "--id", "actor-a", NULL);
    assert_int_equal(tu_wait_lines(jsonl, 4, 60000), 0);

    /* b joins mid-run: it fetches the version then current, not version 0 */
    pid_t b = tu_spawn(NULL, logs[3], SPAR_BIN, "actor", "--config", cfg, "--id", "actor-b", NULL);
    int at = s_lines(jsonl);
    assert_int_equal(tu_wait_lines(jsonl, at + 3, 60000), 0);
    assert_false(tu_file_contains(logs[3], "fetching weights v0 "));
    assert_true(tu_file_contains(logs[3], "running weights v"));

    /* a leaves politely; b dies; c joins and finishes the run with nobody else */
    kill(a, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(a, 20000)), 0);
    kill(b, SIGKILL);
    tu_wait(b, 20000);
    pid_t c = tu_spawn(NULL, logs[4], SPAR_BIN, "actor", "--config", cfg, "--id", "actor-c", NULL);
    int st = tu_wait(learner, 120000);
    if (tu_exit_code(st) != 0)
        for (int i = 0; i < 5; i++) tu_dump(logs[i]);
    assert_int_equal(tu_exit_code(st), 0);
    assert_int_equal(tu_exit_code(tu_wait(c, 20000)), 0);
    kill(judge, SIGTERM);
    tu_wait(judge, 20000);

    /* (an actor's wire id is its --id and its pid) */
    const char *want[] = {"peer actor-a.", "peer actor-b.", "peer actor-c.", "(actor); 2 actor(s) live",
                          "(actor) left (actor stopping)", /* a's goodbye */
                          "(actor) silent for",            /* b's death, noticed */
                          "live actor(s) after"};          /* weight delivery */
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!tu_file_contains(logs[0], want[i])) {
            tu_dump(logs[0]);
            fail_msg("the learner's log lacks '%s'", want[i]);
        }
    json_t *lines = tu_read_jsonl(jsonl);
    assert_int_equal(json_array_size(lines), 25);
    int delivered = 0, two = 0;
    for (size_t i = 0; i < 25; i++) {
        json_t *o = json_array_get(lines, i);
        assert_int_equal(json_integer_value(json_object_get(o, "lost")), 0);
        delivered += json_is_number(json_object_get(o, "delivery_ms"));
        two += json_integer_value(json_object_get(o, "actors")) == 2;
    }
    assert_true(delivered >= 20); /* nearly every version reached every live actor, and was seen to */
    assert_true(two >= 1);        /* the iterations a and b shared */
    json_decref(lines);
    for (int i = 0; i < 5; i++) free(logs[i]);
    free(jsonl), free(yaml), free(run), free(cfg);
    tu_done(dir);
}

/* Judges join and leave like actors: the actor's config names judge A only; judge B, started
 * mid-run, registers with the learner, which publishes it in the judge pool; the actor sends it
 * requests; B stopped with SIGTERM says goodbye, leaves the pool, and the actor sends it nothing
 * more; the run completes on A with nothing lost. */
static void test_membership_judges_join_and_leave(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir), *run = xasprintf("%s/run", dir);
    char *yaml = xasprintf("run:\n  dir: %s\n  iterations: 30\ntask:\n  prompts: 8\nrollout:\n  samples_per_prompt: 16\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n  lease_timeout_ms: 1500\n"
                           "actor:\n  delay_ms: 30\n  heartbeat_ms: 100\n"
                           "judge:\n  bind: ipc://%s/judge-a\n  endpoints: ipc://%s/judge-a\n  timeout_ms: 500\n",
                           run, dir, dir, dir, dir);
    tu_write(cfg, yaml);
    const char *names[4] = {"learner", "judge-a", "judge-b", "actor"};
    char *logs[4];
    for (int i = 0; i < 4; i++) logs[i] = xasprintf("%s/%s.log", dir, names[i]);
    char *jsonl = xasprintf("%s/iterations.jsonl", run), *bind_b = xasprintf("judge.bind=ipc://%s/judge-b", dir);
    char *joined = xasprintf("judge pool: ipc://%s/judge-b joined", dir), *left = xasprintf("judge pool: ipc://%s/judge-b left", dir);
    pid_t learner = tu_spawn(NULL, logs[0], SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL);
    pid_t a = tu_spawn(NULL, logs[1], SPAR_BIN, "judge", "--config", cfg, "--id", "judge-a", NULL);
    pid_t actor = tu_spawn(NULL, logs[3], SPAR_BIN, "actor", "--config", cfg, "--id", "actor", NULL);
    assert_int_equal(tu_wait_lines(jsonl, 3, 60000), 0);
    pid_t b = tu_spawn(NULL, logs[2], SPAR_BIN, "judge", "--config", cfg, "--id", "judge-b", "--set", bind_b, NULL);
    int at = 0;
    for (int i = 0; i < 200 && !tu_file_contains(logs[3], joined); i++) usleep(50000);
    assert_true(tu_file_contains(logs[3], joined));
    json_t *now = tu_read_jsonl(jsonl);
    at = (int)json_array_size(now);
    json_decref(now);
    assert_int_equal(tu_wait_lines(jsonl, at + 4, 60000), 0);
    kill(b, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(b, 20000)), 0);
    int st = tu_wait(learner, 120000);
    if (tu_exit_code(st) != 0)
        for (int i = 0; i < 4; i++) tu_dump(logs[i]);
    assert_int_equal(tu_exit_code(st), 0);
    tu_wait(actor, 20000);
    kill(a, SIGTERM);
    tu_wait(a, 20000);
    assert_true(tu_file_contains(logs[0], "joins the judge pool at"));
    assert_true(tu_file_contains(logs[0], "(judge) left (judge stopping)"));
    assert_true(tu_file_contains(logs[3], left));
    assert_false(tu_file_contains(logs[2], "judge stopping: 0 requests served")); /* B did serve */
    assert_true(tu_file_contains(logs[2], "judge stopping: "));
    json_t *lines = tu_read_jsonl(jsonl);
    assert_int_equal(json_array_size(lines), 31);
    for (size_t i = 0; i < 31; i++) assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, i), "lost")), 0);
    json_decref(lines);
    for (int i = 0; i < 4; i++) free(logs[i]);
    free(joined), free(left), free(bind_b), free(jsonl), free(yaml), free(run), free(cfg);
    tu_done(dir);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership_join_leave_die),
        cmocka_unit_test(test_membership_judges_join_and_leave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
