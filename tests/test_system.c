/* System tests: real spar processes (learner, judge, actors, the launcher) on ipc:// sockets
 * in a private folder. They check what a user of a run would: the run completes, SPPO's
 * average iterate approaches the Nash equilibrium, no prompt is lost when an actor dies,
 * every sample came from the version of its iteration, and the same seed gives the same
 * final policy whatever the number of actors or crashes; and a GPT policy learns through the
 * same processes. */
#include "tests/testutil.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gpt_io.h"
#include "common/policy.h"
#include "common/records.h"
#include "common/util.h"
#include "common/rule_arith.h"

typedef struct {
    char *dir, *cfg, *run, *jsonl;
    pid_t judge, learner, actors[4];
    char *logs[6];
} sys_t;

/* A config for this test's folder: endpoints and run folder inside it, plus `extra` YAML. */
static void s_setup(sys_t *S, const char *extra) {
    memset(S, 0, sizeof *S);
    S->dir = tu_tmpdir();
    S->cfg = xasprintf("%s/cfg.yaml", S->dir);
    S->run = xasprintf("%s/run", S->dir);
    S->jsonl = xasprintf("%s/iterations.jsonl", S->run);
    char *yaml = xasprintf("run:\n  name: system\n  dir: %s\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n%s"
                           "judge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n",
                           S->run, S->dir, S->dir, extra, S->dir, S->dir);
    tu_write(S->cfg, yaml);
    free(yaml);
    const char *names[] = {"judge", "learner", "actor-0", "actor-1", "actor-2", "actor-3"};
    for (int i = 0; i < 6; i++) S->logs[i] = xasprintf("%s/%s.log", S->dir, names[i]);
}

static void s_teardown(sys_t *S) {
    free(S->cfg), free(S->run), free(S->jsonl);
    for (int i = 0; i < 6; i++) free(S->logs[i]);
    tu_done(S->dir);
}

static pid_t s_start(sys_t *S, const char *role, int log_index, const char *id) {
    return tu_spawn(NULL, S->logs[log_index], SPAR_BIN, role, "--config", S->cfg, "--id", id, NULL);
}


static int s_count_records(const char *run) {
    char *path = xasprintf("%s/records/groups.pb", run);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) return 0;
    int n = 0, bad;
    Spar__RolloutGroup *g;
    while ((g = records_next(f, &bad))) {
        n++;
        spar__rollout_group__free_unpacked(g, NULL);
    }
    fclose(f);
    return n;
}

static void s_check_lines(json_t *lines, int expected) {
    assert_non_null(lines);
    assert_int_equal((int)json_array_size(lines), expected);
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        assert_int_equal(json_integer_value(json_object_get(o, "iteration")), (json_int_t)i);
        assert_int_equal(json_integer_value(json_object_get(o, "lost")), 0);
        assert_int_equal(json_integer_value(json_object_get(o, "stale_dropped")), 0);
        assert_int_equal(json_integer_value(json_object_get(o, "bad_messages")), 0);
    }
}

static void s_finish(sys_t *S, int n_actors) {
    for (int a = 0; a < n_actors; a++)
        if (S->actors[a] > 0) assert_int_equal(tu_exit_code(tu_wait(S->actors[a], 10000)), 0);
    kill(S->judge, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(S->judge, 10000)), 0);
}

/* A judge, the learner and two actors; the run must end with status 0. */
static void s_run_with_two_actors(sys_t *S) {
    S->judge = s_start(S, "judge", 0, "judge-0");
    S->learner = s_start(S, "learner", 1, "learner");
    S->actors[0] = s_start(S, "actor", 2, "actor-0");
    S->actors[1] = s_start(S, "actor", 3, "actor-1");
    int st = tu_wait(S->learner, 240000);
    if (tu_exit_code(st) != 0) tu_dump(S->logs[1]);
    assert_int_equal(tu_exit_code(st), 0);
    s_finish(S, 2);
}

static void test_system_sppo_cyclic_30_iterations(void **state) {
    (void)state;
    sys_t S;
    s_setup(&S, "");
    s_run_with_two_actors(&S);

    json_t *lines = tu_read_jsonl(S.jsonl);
    s_check_lines(lines, 31);
    json_t *first = json_array_get(lines, 0), *last = json_array_get(lines, 30);
    double e0 = json_real_value(json_object_get(first, "exploitability_avg"));
    double e30 = json_real_value(json_object_get(last, "exploitability_avg"));
    fprintf(stderr, "exploitability_avg %.4f -> %.4f (ratio %.3f), last iterate %.4f\n", e0, e30, e30 / e0,
            json_real_value(json_object_get(last, "exploitability")));
    assert_true(e0 > 0.05);
    assert_true(e30 < 0.25 * e0);
    for (int i = 1; i <= 30; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, i), "samples")), 16 * 128);
    assert_int_equal(tu_check_records(S.run, 30, 16, 1), 30 * 16);
    for (int v = 0; v <= 30; v++) {
        char *ck = xasprintf("%s/checkpoints/iter-%04d.safetensors", S.run, v);
        assert_true(util_file_exists(ck));
        free(ck);
    }
    json_decref(lines);
    s_teardown(&S);
}

/* One actor holds a lease when it is killed (its records count stops mid-lease); a second
 * actor joins and the learner re-issues the lease to it. */
static void test_system_actor_killed_mid_iteration(void **state) {
    (void)state;
    sys_t S;
    s_setup(&S, "  prompts_per_lease: 4\n  lease_timeout_ms: 500\n"
                "rollout:\n  samples_per_prompt: 16\nactor:\n  delay_ms: 60\n"
                "run:\n  iterations: 4\n");
    S.judge = s_start(&S, "judge", 0, "judge-0");
    S.learner = s_start(&S, "learner", 1, "learner");
    S.actors[0] = s_start(&S, "actor", 2, "actor-0");
    assert_int_equal(tu_wait_lines(S.jsonl, 2, 60000), 0); /* iteration 1 done */
    int64_t end = util_now_ms() + 60000;
    int n = 0;
    while (util_now_ms() < end) { /* mid-lease: a lease's first groups are in, not its last */
        n = s_count_records(S.run);
        if (n % 16 != 0 && n % 4 != 0) break;
        util_sleep_ms(2);
    }
    kill(S.actors[0], SIGKILL);
    assert_true(tu_wait(S.actors[0], 5000) != -1);
    S.actors[0] = 0;
    S.actors[1] = s_start(&S, "actor", 3, "actor-1");
    int st = tu_wait(S.learner, 120000);
    if (tu_exit_code(st) != 0) tu_dump(S.logs[1]);
    assert_int_equal(tu_exit_code(st), 0);
    s_finish(&S, 2);
    json_t *lines = tu_read_jsonl(S.jsonl);
    s_check_lines(lines, 5);
    json_int_t reissued = 0;
    for (int i = 0; i < 5; i++) reissued += json_integer_value(json_object_get(json_array_get(lines, i), "leases_reissued"));
    fprintf(stderr, "killed after %d groups; %lld prompts re-issued\n", n, (long long)reissued);
    assert_true(reissued >= 1);
    assert_int_equal(tu_check_records(S.run, 4, 16, 1), 4 * 16);
    json_decref(lines);
    s_teardown(&S);
}

/* Final checkpoint of a launcher run, as bytes. */
static char *s_final_checkpoint(const char *run, int iterations, size_t *len) {
    char *p = xasprintf("%s/checkpoints/iter-%04d.safetensors", run, iterations);
    char *data = util_read_file(p, len);
    free(p);
    assert_non_null(data);
    return data;
}

/* spar run restarts a killed actor; the final policy is the same, bit for bit, as with 1 or 4
 * actors and no crash. */
static void test_system_launcher_restarts_actor_and_is_reproducible(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir), *log = xasprintf("%s/run.log", dir);
    tu_write(cfg, "run:\n  name: launch\n  iterations: 10\nrollout:\n  samples_per_prompt: 16\n"
                  "learner:\n  lease_timeout_ms: 500\nactor:\n  count: 2\n  delay_ms: 15\n");
    pid_t run = tu_spawn(dir, log, SPAR_BIN, "run", cfg, NULL);
    char *jsonl = xasprintf("%s/runs/launch/iterations.jsonl", dir);
    assert_int_equal(tu_wait_lines(jsonl, 3, 60000), 0);
    char *out = util_read_file(log, NULL);
    const char *at = strstr(out, "started actor-0 (pid ");
    assert_non_null(at);
    pid_t victim = (pid_t)atoi(at + strlen("started actor-0 (pid "));
    free(out);
    assert_int_equal(kill(victim, SIGKILL), 0);
    int st = tu_wait(run, 120000);
    if (tu_exit_code(st) != 0) tu_dump(log);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(log, "actor-0 ended with signal 9"));
    assert_true(tu_file_contains(log, "restarting"));
    assert_true(tu_file_contains(log, "expl_avg")); /* the table was shown */
    assert_true(tu_file_contains(log, "spar run: complete"));
    json_t *lines = tu_read_jsonl(jsonl);
    s_check_lines(lines, 11);
    json_decref(lines);
    char *ld = xasprintf("%s/runs/launch/logs/actor-0.log", dir);
    assert_true(util_file_exists(ld));
    free(ld);

    /* The same config with one actor and no crash, and with four, ends with the same policy, bit
     * for bit. */
    const char *counts[2] = {"actor.count=1", "actor.count=4"}, *dirs[2] = {"run.dir=runs/one", "run.dir=runs/four"};
    size_t la;
    char *ra = xasprintf("%s/runs/launch", dir);
    char *a = s_final_checkpoint(ra, 10, &la);
    for (int v = 0; v < 2; v++) {
        unlink(log);
        st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "run", cfg, "--set", counts[v], "--set", dirs[v], NULL), 120000);
        assert_int_equal(tu_exit_code(st), 0);
        size_t lb;
        char *rb = xasprintf("%s/runs/%s", dir, v ? "four" : "one");
        char *b = s_final_checkpoint(rb, 10, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(b), free(rb);
    }
    free(ra), free(a), free(jsonl), free(cfg), free(log);
    tu_done(dir);
}

/* A tiny GPT on one-digit arith, SFT'd briefly by the learner, 2 iterations of 8 prompts x 4. */
static const char GPT_TINY_ARITH[] =
    "run:\n  iterations: 2\ntask:\n  kind: arith\n  prompts: 8\n  digits: 1\n  eval_prompts: 40\n"
    "policy:\n  kind: gpt\n  init: sft\ngpt:\n  n_layer: 2\n  n_head: 2\n  d_model: 32\n  ctx: 16\n"
    "sft:\n  examples: 400\n  steps: 150\n  batch: 16\n  warmup: 10\n"
    "rollout:\n  samples_per_prompt: 4\n  max_new: 4\n";

/* Checks every recorded group's matrix against the C rule on its recorded responses and its
 * judge version; returns how many responses were numbers. */
static int s_check_rule_matrices(const char *run, const char *judge_version) {
    char *path = xasprintf("%s/records/groups.pb", run);
    FILE *rf = fopen(path, "rb");
    free(path);
    assert_non_null(rf);
    int bad = 0, numeric = 0;
    Spar__RolloutGroup *g;
    while ((g = records_next(rf, &bad))) {
        assert_string_equal(g->judge_version, judge_version);
        int k = (int)g->n_responses;
        assert_int_equal(k, 4);
        char *texts[4];
        for (int i = 0; i < k; i++) {
            texts[i] = xstrdup(g->responses[i]->text);
            numeric += texts[i][0] >= '0' && texts[i][0] <= '9';
        }
        double P[16];
        assert_int_equal(rule_arith_judge(g->prompt, (const char *const *)texts, k, P), 0);
        for (int i = 0; i < k * k; i++) assert_true(P[i] == g->preference[i]);
        for (int i = 0; i < k; i++) free(texts[i]);
        spar__rollout_group__free_unpacked(g, NULL);
    }
    assert_int_equal(bad, 0);
    fclose(rf);
    return numeric;
}

/* A tiny GPT, SFT'd by the learner, then 2 SPPO iterations on arith through real learner, rule
 * judge and actor processes: every group is answered once by its iteration's version, the
 * judge's matrices are the rule's, the checkpoints are Hugging Face folders, and the policy moved. */
static void test_system_gpt_sppo_2_iterations(void **state) {
    (void)state;
    sys_t S;
    s_setup(&S, GPT_TINY_ARITH);
    s_run_with_two_actors(&S);

    json_t *lines = tu_read_jsonl(S.jsonl);
    s_check_lines(lines, 3);
    for (int i = 0; i <= 2; i++) {
        json_t *o = json_array_get(lines, i);
        double acc = json_number_value(json_object_get(o, "accuracy"));
        double accs = json_number_value(json_object_get(o, "accuracy_sampled"));
        assert_true(json_is_number(json_object_get(o, "accuracy")) && acc >= 0 && acc <= 1);
        assert_true(json_is_number(json_object_get(o, "accuracy_sampled")) && accs >= 0 && accs <= 1);
        if (i > 0) {
            assert_int_equal(json_integer_value(json_object_get(o, "samples")), 8 * 4);
            assert_true(json_is_number(json_object_get(o, "loss")));
        }
    }
    json_decref(lines);
    assert_int_equal(tu_check_records(S.run, 2, 8, 1), 2 * 8);

    /* the recorded matrices are the rule's on the recorded responses */
    assert_true(s_check_rule_matrices(S.run, "rule-arith-1") > 0); /* the SFT'd policy answers with numbers */

    /* checkpoints: Hugging Face folders; the last is version 2 and differs from the first */
    char why[256];
    uint64_t v0 = 9, v2 = 9;
    char *d0 = xasprintf("%s/checkpoints/iter-0000", S.run), *d2 = xasprintf("%s/checkpoints/iter-0002", S.run);
    char *cj = xasprintf("%s/config.json", d2), *sft = xasprintf("%s/sft/model.safetensors", S.run);
    assert_true(util_file_exists(cj));
    assert_true(util_file_exists(sft));
    gpt_t *m0 = gpt_load(d0, &v0, why, sizeof why), *m2 = gpt_load(d2, &v2, why, sizeof why);
    assert_non_null(m0);
    assert_non_null(m2);
    assert_int_equal(v0, 0);
    assert_int_equal(v2, 2);
    double diff = 0;
    for (size_t i = 0; i < gpt_n_params(m0); i++) diff = fmax(diff, fabs(gpt_params(m0)[i] - gpt_params(m2)[i]));
    assert_true(diff > 0);
    gpt_destroy(&m0), gpt_destroy(&m2);
    free(d0), free(d2), free(cj), free(sft);
    s_teardown(&S);
}

/* Two judges serve a run; one is killed with SIGKILL mid-run. Requests sent to it time out and
 * go to the other judge after a backoff: the run completes with every prompt answered once,
 * and the failures and retries are counted in iterations.jsonl. */
static void test_system_judge_killed_mid_run(void **state) {
    (void)state;
    sys_t S;
    s_setup(&S, "run:\n  iterations: 8\nactor:\n  delay_ms: 20\n");
    /* a second judge endpoint for the actors */
    char *yaml = util_read_file(S.cfg, NULL), *one = xasprintf("endpoints: ipc://%s/judge\n", S.dir);
    char *two = xasprintf("endpoints: ipc://%s/judge,ipc://%s/judge2\n  timeout_ms: 300\n", S.dir, S.dir);
    char *at = strstr(yaml, one);
    assert_non_null(at);
    *at = '\0';
    char *fixed = xasprintf("%s%s%s", yaml, two, at + strlen(one));
    tu_write(S.cfg, fixed);
    free(yaml), free(one), free(two), free(fixed);
    char *bind2 = xasprintf("judge.bind=ipc://%s/judge2", S.dir), *log2 = xasprintf("%s/judge-1.log", S.dir);
    pid_t judge2 = tu_spawn(NULL, log2, SPAR_BIN, "judge", "--config", S.cfg, "--id", "judge-1", "--set", bind2, NULL);
    S.judge = s_start(&S, "judge", 0, "judge-0");
    S.learner = s_start(&S, "learner", 1, "learner");
    S.actors[0] = s_start(&S, "actor", 2, "actor-0");
    S.actors[1] = s_start(&S, "actor", 3, "actor-1");
    assert_int_equal(tu_wait_lines(S.jsonl, 3, 60000), 0); /* two iterations done */
    assert_int_equal(kill(judge2, SIGKILL), 0);
    tu_wait(judge2, 5000);
    int st = tu_wait(S.learner, 120000);
    if (tu_exit_code(st) != 0) tu_dump(S.logs[1]);
    assert_int_equal(tu_exit_code(st), 0);
    s_finish(&S, 2);

    json_t *lines = tu_read_jsonl(S.jsonl);
    s_check_lines(lines, 9);
    long failures = 0, retries = 0;
    for (int i = 1; i <= 8; i++) {
        json_t *o = json_array_get(lines, i), *lat = json_object_get(o, "judge_latency_ms");
        failures += (long)json_integer_value(json_object_get(o, "judge_failures"));
        retries += (long)json_integer_value(json_object_get(o, "judge_retries"));
        assert_true(json_is_number(json_object_get(lat, "median")) && json_is_number(json_object_get(lat, "p99")));
        assert_true(json_number_value(json_object_get(lat, "p99")) >= json_number_value(json_object_get(lat, "median")));
    }
    fprintf(stderr, "judge failures %ld, retries %ld after one of two judges was killed\n", failures, retries);
    assert_true(failures > 0);
    assert_true(retries >= failures);
    json_decref(lines);
    assert_int_equal(tu_check_records(S.run, 8, 16, 1), 8 * 16);
    free(bind2), free(log2);
    s_teardown(&S);
}

/* The judge written in Python (examples/python_judge) serves learner and actors, directly or
 * behind a C judge of kind remote: every request reaches it and every reply comes back (the
 * recorded matrices equal the C rule's, with the Python judge's version); with every 3rd reply
 * malformed, the actors count and refuse those, ask again, and the run still completes with no
 * prompt lost. */
static void s_python_judge_run(int malformed_every, int via_remote, const char *position_bias) {
    sys_t S;
    s_setup(&S, GPT_TINY_ARITH);
    char *bind = via_remote ? xasprintf("ipc://%s/py", S.dir) : xasprintf("ipc://%s/judge", S.dir);
    char *script = xasprintf("%s/examples/python_judge/judge.py", SPAR_SOURCE_DIR);
    char *pylog = xasprintf("%s/python-judge.log", S.dir), *remote = xasprintf("judge.remote=%s", bind);
    char every[16];
    snprintf(every, sizeof every, "%d", malformed_every);
    pid_t py = tu_spawn(NULL, pylog, "/usr/bin/python3", script, "--bind", bind, "--malformed-every", every,
                        "--position-bias", position_bias, NULL);
    S.judge = via_remote ? tu_spawn(NULL, S.logs[0], SPAR_BIN, "judge", "--config", S.cfg, "--id", "judge-0", "--set",
                                    "judge.kind=remote", "--set", remote, NULL)
                         : py;
    S.learner = s_start(&S, "learner", 1, "learner");
    S.actors[0] = s_start(&S, "actor", 2, "actor-0");
    S.actors[1] = s_start(&S, "actor", 3, "actor-1");
    int st = tu_wait(S.learner, 240000);
    if (tu_exit_code(st) != 0) tu_dump(S.logs[1]), tu_dump(S.logs[0]);
    assert_int_equal(tu_exit_code(st), 0);
    for (int a = 0; a < 2; a++) assert_int_equal(tu_exit_code(tu_wait(S.actors[a], 10000)), 0);
    if (via_remote) { /* both orders averaged: the bias is measured, and gone from the matrices */
        kill(S.judge, SIGTERM);
        assert_int_equal(tu_exit_code(tu_wait(S.judge, 10000)), 0);
        char *want = xasprintf("position bias (mean |P - P'| between the two orders) %s", atof(position_bias) > 0 ? "0.0" : "0.0000");
        assert_true(tu_file_contains(S.logs[0], want));
        assert_true(tu_file_contains(S.logs[0], "verdict cache"));
        if (atof(position_bias) > 0) assert_false(tu_file_contains(S.logs[0], "two orders) 0.0000"));
        free(want);
    }
    kill(py, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(py, 10000)), 0);
    assert_true(tu_file_contains(pylog, "python judge stopping"));

    json_t *lines = tu_read_jsonl(S.jsonl);
    assert_int_equal((int)json_array_size(lines), 3);
    long bad = 0;
    for (int i = 0; i <= 2; i++) {
        json_t *o = json_array_get(lines, i);
        assert_int_equal(json_integer_value(json_object_get(o, "lost")), 0);
        bad = (long)json_integer_value(json_object_get(o, "bad_messages"));
    }
    if (malformed_every) {
        long failures = 0;
        for (int i = 1; i <= 2; i++)
            failures += (long)json_integer_value(json_object_get(json_array_get(lines, i), "judge_failures"));
        fprintf(stderr, "malformed replies: bad_messages %ld, judge_failures %ld\n", bad, failures);
        assert_true(bad > 0 || failures > 0);
        /* refused by whoever reads the remote's frames: the actors, or the C judge in front of it */
        if (via_remote) assert_true(tu_file_contains(S.logs[0], "dropped bad message"));
        else assert_true(tu_file_contains(S.logs[2], "dropped bad message") || tu_file_contains(S.logs[3], "dropped bad message"));
    } else {
        assert_int_equal(bad, 0);
    }
    json_decref(lines);
    assert_int_equal(tu_check_records(S.run, 2, 8, 1), 2 * 8);
    s_check_rule_matrices(S.run, "python-arith-1");
    free(bind), free(script), free(pylog), free(remote);
    s_teardown(&S);
}

static void test_system_python_judge_direct(void **state) {
    (void)state;
    s_python_judge_run(0, 0, "0");
}

static void test_system_python_judge_malformed_replies(void **state) {
    (void)state;
    s_python_judge_run(3, 0, "0");
}

/* A judge that answers with K rewards (a reward model's reply): actors pass them on, and the
 * recorded rewards are the C rule's scores of the recorded responses. */
static void test_system_python_judge_rewards(void **state) {
    (void)state;
    sys_t S;
    s_setup(&S, GPT_TINY_ARITH);
    char *bind = xasprintf("ipc://%s/judge", S.dir), *script = xasprintf("%s/examples/python_judge/judge.py", SPAR_SOURCE_DIR);
    S.judge = tu_spawn(NULL, S.logs[0], "/usr/bin/python3", script, "--bind", bind, "--rewards", NULL);
    S.learner = s_start(&S, "learner", 1, "learner");
    S.actors[0] = s_start(&S, "actor", 2, "actor-0");
    S.actors[1] = s_start(&S, "actor", 3, "actor-1");
    int st = tu_wait(S.learner, 240000);
    if (tu_exit_code(st) != 0) tu_dump(S.logs[1]);
    assert_int_equal(tu_exit_code(st), 0);
    s_finish(&S, 2);
    char *path = xasprintf("%s/records/groups.pb", S.run);
    FILE *rf = fopen(path, "rb");
    assert_non_null(rf);
    int bad = 0, n = 0;
    Spar__RolloutGroup *g;
    while ((g = records_next(rf, &bad))) {
        assert_int_equal(g->n_preference, 0);
        assert_int_equal(g->n_rewards, g->n_responses);
        for (size_t i = 0; i < g->n_responses; i++)
            assert_true(fabs(g->rewards[i] - rule_arith_score(g->prompt, g->responses[i]->text)) < 1e-12);
        spar__rollout_group__free_unpacked(g, NULL);
        n++;
    }
    fclose(rf);
    assert_int_equal(n, 2 * 8);
    json_t *lines = tu_read_jsonl(S.jsonl);
    s_check_lines(lines, 3);
    json_decref(lines);
    free(path), free(bind), free(script);
    s_teardown(&S);
}

static void test_system_python_judge_behind_remote(void **state) {
    (void)state;
    s_python_judge_run(0, 1, "0");
    s_python_judge_run(3, 1, "0");
    s_python_judge_run(0, 1, "0.2"); /* a judge biased to the first-listed answer */
}

/* argv[1], when given, selects the tests to run (a cmocka filter), so ctest runs them in parallel. */
int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_system_sppo_cyclic_30_iterations),
        cmocka_unit_test(test_system_actor_killed_mid_iteration),
        cmocka_unit_test(test_system_launcher_restarts_actor_and_is_reproducible),
        cmocka_unit_test(test_system_gpt_sppo_2_iterations),
        cmocka_unit_test(test_system_judge_killed_mid_run),
        cmocka_unit_test(test_system_python_judge_direct),
        cmocka_unit_test(test_system_python_judge_malformed_replies),
        cmocka_unit_test(test_system_python_judge_behind_remote),
        cmocka_unit_test(test_system_python_judge_rewards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
