/* Exact resume and replay, through real processes: a learner SIGKILLed in the middle of an
 * iteration and resumed with `spar run --resume` ends with the same final checkpoint, bit for
 * bit, as the run that was never interrupted (APO's extrapolation state carried across; a GPT
 * policy's float weights too); the resumed run's records replay to every checkpoint; a corrupted checkpoint is
 * refused on load and its iteration redone; a finished run can be extended. */
#include "tests/testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/records.h"
#include "common/util.h"

#define ITERS 12
#define PROMPTS 16

/* APO over SPPO with Adam: APO's last un-extrapolated solution is state beyond the weights that
 * a resume must carry, or the final policy differs. */
static const char CFG[] = "run:\n  name: resume\n  iterations: 12\nalgorithm:\n  name: apo\n"
                          "rollout:\n  samples_per_prompt: 16\n"
                          "learner:\n  optimizer: adam\n  lease_timeout_ms: 500\n"
                          "actor:\n  count: 2\n  delay_ms: 20\n";

static char *s_read(const char *run, const char *rel, size_t *len) {
    char *p = xasprintf("%s/%s", run, rel);
    char *data = util_read_file(p, len);
    free(p);
    return data;
}

/* Groups of `iteration` in the records so far (the file may be mid-write: a torn tail ends it). */
static int s_groups_of(const char *run, uint64_t iteration) {
    char *path = xasprintf("%s/records/groups.pb", run);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) return 0;
    int n = 0, bad;
    Spar__RolloutGroup *g;
    while ((g = records_next(f, &bad))) {
        n += g->iteration == iteration;
        spar__rollout_group__free_unpacked(g, NULL);
    }
    fclose(f);
    return n;
}

static int s_lines(const char *jsonl) {
    json_t *a = tu_read_jsonl(jsonl);
    int n = a ? (int)json_array_size(a) : 0;
    json_decref(a);
    return n;
}

/* Every line 0..iters once, in order, none lost. */
static void s_check_lines(const char *jsonl, int iters) {
    json_t *a = tu_read_jsonl(jsonl);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), iters + 1);
    for (int i = 0; i <= iters; i++) {
        json_t *o = json_array_get(a, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(o, "iteration")), i);
        assert_int_equal(json_integer_value(json_object_get(o, "lost")), 0);
    }
    json_decref(a);
}

static int s_run(const char *dir, const char *log, const char *a1, const char *a2, const char *a3, const char *a4,
                 const char *a5) {
    int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "run", a1, a2, a3, a4, a5, NULL), 120000);
    if (tu_exit_code(st) != 0) tu_dump(log);
    return tu_exit_code(st);
}

/* Runs `yaml` whole, then again with its learner SIGKILLed while iteration >= kill_after + 1
 * is being collected, resumes that run, and checks both end with the same bytes in `final`
 * (a path under the run folder), every line once, nothing lost, nothing asked twice, and the
 * records replaying to every checkpoint. */
static void s_kill_and_resume(const char *yaml, int iters, int kill_after, const char *final) {
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir), *log = xasprintf("%s/run.log", dir);
    tu_write(cfg, yaml);
    /* the uninterrupted run */
    assert_int_equal(s_run(dir, log, cfg, "--set", "run.dir=runs/whole", NULL, NULL), 0);
    size_t la, lb;
    char *rel = xasprintf("runs/whole/%s", final);
    char *want = s_read(dir, rel, &la);
    assert_non_null(want);

    /* the same run, its learner killed while an iteration's groups come in */
    char *run = xasprintf("%s/runs/cut", dir), *jsonl = xasprintf("%s/iterations.jsonl", run);
    char *log2 = xasprintf("%s/cut.log", dir);
    pid_t launcher = tu_spawn(dir, log2, SPAR_BIN, "run", cfg, "--set", "run.dir=runs/cut", NULL);
    int killed_in = 0;
    for (int spin = 0; spin < 120000 && !killed_in; spin++) {
        int lines = s_lines(jsonl);
        if (lines >= kill_after + 1 && s_groups_of(run, (uint64_t)lines) > 0) {
            pid_t learner = tu_find_child(launcher, "learner");
            assert_true(learner > 0);
            assert_int_equal(kill(learner, SIGKILL), 0);
            killed_in = lines;
        } else {
            usleep(1000);
        }
    }
    assert_true(killed_in > 0);
    assert_int_not_equal(tu_exit_code(tu_wait(launcher, 60000)), 0); /* a run without its learner fails */
    int before = s_lines(jsonl);
    assert_true(before < iters + 1);
    fprintf(stderr, "learner killed during iteration %d (%d iterations logged)\n", killed_in, before - 1);

    assert_int_equal(s_run(dir, log2, "--resume", "runs/cut", NULL, NULL, NULL), 0);
    char *got = s_read(run, final, &lb);
    assert_non_null(got);
    assert_int_equal(la, lb);
    assert_memory_equal(want, got, la);
    s_check_lines(jsonl, iters);
    char *llog = xasprintf("%s/logs/learner.log", run);
    assert_true(tu_file_contains(llog, "resumed run"));
    assert_true(tu_file_contains(llog, "taken back from the records")); /* no accepted work asked again */

    /* the records alone reproduce every checkpoint: each group was kept exactly once */
    char *log3 = xasprintf("%s/replay.log", dir), *done = xasprintf("%d of %d checkpoints reproduced bit for bit", iters, iters);
    int st = tu_wait(tu_spawn(dir, log3, SPAR_BIN, "replay", run, NULL), 60000);
    if (tu_exit_code(st) != 0) tu_dump(log3);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(log3, done));
    free(done), free(rel), free(want), free(got), free(run), free(jsonl), free(log2), free(log3), free(llog), free(cfg), free(log);
    tu_done(dir);
}

static void test_resume_killed_learner_is_bit_identical(void **state) {
    (void)state;
    s_kill_and_resume(CFG, ITERS, 4, "checkpoints/iter-0012.safetensors");
}

/* The same for a tiny GPT on one-digit sums (SFT'd by the learner first): AdamW's moments and
 * the float weights come back exactly. */
static void test_resume_gpt_killed_learner_is_bit_identical(void **state) {
    (void)state;
    s_kill_and_resume("run:\n  name: g\n  iterations: 4\ntask:\n  kind: arith\n  prompts: 8\n  digits: 1\n"
                      "  eval_prompts: 40\npolicy:\n  kind: gpt\n  init: sft\n"
                      "gpt:\n  n_layer: 2\n  n_head: 2\n  d_model: 32\n  ctx: 16\n"
                      "sft:\n  examples: 400\n  steps: 150\n  batch: 16\n  warmup: 10\n"
                      "rollout:\n  samples_per_prompt: 4\n  max_new: 4\nactor:\n  delay_ms: 100\n",
                      4, 2, "checkpoints/iter-0004/model.safetensors");
}

/* As on a cluster (docker's restart: on-failure): learner, judge and actor run alone, the
 * learner always started with --resume (the first time it starts the run); killed with SIGKILL,
 * it is started again while the actor and judge keep running, and the run ends as the
 * uninterrupted one, bit for bit. */
static void test_resume_learner_restarted_under_running_actors(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir);
    char *yaml = xasprintf("run:\n  iterations: 12\nrollout:\n  samples_per_prompt: 16\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n  lease_timeout_ms: 1000\n"
                           "actor:\n  delay_ms: 20\njudge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n",
                           dir, dir, dir, dir);
    tu_write(cfg, yaml);
    char *want = NULL;
    size_t la = 0;
    for (int cut = 0; cut < 2; cut++) {
        char *run = xasprintf("%s/run%d", dir, cut), *set = xasprintf("run.dir=%s", run);
        char *jl = xasprintf("%s/judge%d.log", dir, cut), *al = xasprintf("%s/actor%d.log", dir, cut);
        char *ll = xasprintf("%s/learner%d.log", dir, cut), *jsonl = xasprintf("%s/iterations.jsonl", run);
        pid_t judge = tu_spawn(NULL, jl, SPAR_BIN, "judge", "--config", cfg, "--set", set, NULL);
        pid_t actor = tu_spawn(NULL, al, SPAR_BIN, "actor", "--config", cfg, "--set", set, "--id", "actor", NULL);
        pid_t learner = tu_spawn(NULL, ll, SPAR_BIN, "learner", "--config", cfg, "--set", set, "--resume", NULL);
        if (cut) {
            for (int spin = 0; spin < 60000; spin++) {
                int lines = s_lines(jsonl);
                if (lines >= 5 && s_groups_of(run, (uint64_t)lines) > 0) break;
                usleep(1000);
            }
            assert_int_equal(kill(learner, SIGKILL), 0);
            tu_wait(learner, 10000);
            learner = tu_spawn(NULL, ll, SPAR_BIN, "learner", "--config", cfg, "--set", set, "--resume", NULL);
        }
        int st = tu_wait(learner, 120000);
        if (tu_exit_code(st) != 0) tu_dump(ll);
        assert_int_equal(tu_exit_code(st), 0);
        assert_int_equal(tu_exit_code(tu_wait(actor, 30000)), 0); /* the same actor saw the run through */
        kill(judge, SIGTERM);
        tu_wait(judge, 10000);
        s_check_lines(jsonl, 12);
        size_t len;
        char *got = s_read(run, "checkpoints/iter-0012.safetensors", &len);
        assert_non_null(got);
        if (!cut) {
            assert_true(tu_file_contains(ll, "holds no run yet; starting it"));
            want = got, la = len;
        } else {
            assert_true(tu_file_contains(ll, "resumed run"));
            assert_int_equal(la, len);
            assert_memory_equal(want, got, la);
            free(got);
        }
        free(run), free(set), free(jl), free(al), free(ll), free(jsonl);
    }
    free(want), free(yaml), free(cfg);
    tu_done(dir);
}

static void test_resume_refuses_corrupt_checkpoint_and_extends(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir), *log = xasprintf("%s/run.log", dir);
    tu_write(cfg, CFG);
    assert_int_equal(s_run(dir, log, cfg, "--set", "run.dir=runs/r", NULL, NULL), 0);
    char *run = xasprintf("%s/runs/r", dir), *jsonl = xasprintf("%s/iterations.jsonl", run);
    size_t la, lb;
    char *want = s_read(run, "checkpoints/iter-0012.safetensors", &la);

    /* one flipped bit in the last checkpoint's data */
    char *path = xasprintf("%s/checkpoints/iter-0012.safetensors", run);
    char *bad = util_read_file(path, &lb);
    bad[lb - 3] ^= 0x10;
    assert_int_equal(util_write_atomic(path, bad, lb), 0);
    free(bad);

    char *rlog = xasprintf("%s/replay.log", dir);
    int st = tu_wait(tu_spawn(dir, rlog, SPAR_BIN, "replay", run, NULL), 60000);
    assert_int_equal(tu_exit_code(st), 1); /* replay sees the difference */
    assert_true(tu_file_contains(rlog, "DIFFERS"));

    /* resume refuses it (its digest), redoes iteration 12 and writes the same bytes again */
    assert_int_equal(s_run(dir, log, "--resume", run, NULL, NULL, NULL), 0);
    char *llog = xasprintf("%s/logs/learner.log", run);
    assert_true(tu_file_contains(llog, "corrupt"));
    char *got = s_read(run, "checkpoints/iter-0012.safetensors", &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(want, got, la);
    s_check_lines(jsonl, ITERS);

    /* a finished run continues to a larger run.iterations */
    assert_int_equal(s_run(dir, log, "--resume", run, "--set", "run.iterations=14", NULL), 0);
    s_check_lines(jsonl, 14);

    /* nothing to resume: a clear error; a run folder in use is not overwritten without --resume */
    st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "run", "--resume", "runs/none", NULL), 30000);
    assert_int_not_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(log, "no run to resume"));
    char *set = xasprintf("run.dir=%s", run);
    st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "learner", "--config", cfg, "--set", set, NULL), 30000);
    assert_int_not_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(log, "--resume"));
    free(set), free(want), free(got), free(path), free(rlog), free(llog), free(run), free(jsonl), free(cfg), free(log);
    tu_done(dir);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_killed_learner_is_bit_identical),
        cmocka_unit_test(test_resume_gpt_killed_learner_is_bit_identical),
        cmocka_unit_test(test_resume_learner_restarted_under_running_actors),
        cmocka_unit_test(test_resume_refuses_corrupt_checkpoint_and_extends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
