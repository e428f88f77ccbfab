/* A LoRA run through real learner, judge and actor processes (`spar run`): a tiny random Llama
 * folder is policy.checkpoint, SFT trains rank-4 adapters on it, then INPO iterations train only
 * the adapters. The versions on the wire are adapter blobs (kilobytes where the model is
 * megabytes); the checkpoints are PEFT folders (adapter_config.json, adapter_model.safetensors
 * under PEFT's names) that load onto the base; a learner SIGKILLed mid-run and resumed ends with
 * the same adapters, bit for bit, as the uninterrupted run; `spar replay` reproduces every
 * checkpoint; `spar merge` writes a full folder that scores as the adapters do; an actor whose
 * base differs from the learner's refuses the versions, saying why. */
#include "tests/testutil.h"

#include <jansson.h>
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

enum { ITERS = 3 };

/* A byte-level BPE tokenizer.json: the 256 bytes and <|endoftext|> (id 256). */
static void s_write_tokenizer(const char *dir) {
    static const char *const specials[] = {"<|endoftext|>"};
    char why[300];
    if (tiny_byte_tokenizer_write(dir, NULL, 0, specials, 1, why, sizeof why) != 0) fail_msg("%s", why);
}

/* A tiny random Llama folder at dir/name (weights from seed); returns its path. */
static char *s_make_model(const char *dir, const char *name, uint64_t seed) {
    char *tokdir = xasprintf("%s/tok", dir), *model = xasprintf("%s/%s", dir, name), why[400];
    util_mkdirs(tokdir);
    s_write_tokenizer(tokdir);
    hf_config_t c = {.arch = HF_LLAMA, .bos_id = -1, .eos = {256}, .n_eos = 1};
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.llama = (llama_config_t){.n_layer = 2, .d_model = 48, .n_head = 4, .n_kv_head = 2, .head_dim = 12, .d_ff = 96,
                               .vocab = 257, .ctx = 48, .rms_eps = 1e-5, .rope_theta = 10000};
    lm_t *m = lm_new_random(&c, tokdir, seed, why, sizeof why);
    assert_non_null(m);
    assert_int_equal(lm_save_dir(m, model, 0, 0, why, sizeof why), 0);
    lm_free(&m);
    free(tokdir);
    return model;
}

static char *s_yaml(const char *dir, const char *model) {
    return xasprintf("run:\n  name: lora\n  iterations: %d\n"
                     "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n  lease_timeout_ms: 1000\n"
                     "judge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n"
                     "task:\n  kind: styles\n  prompts: 4\n  digits: 1\n  eval_prompts: 8\n"
                     "algorithm:\n  name: inpo\n"
                     "policy:\n  checkpoint: %s\n  init: sft\n  lora:\n    rank: 4\n    alpha: 8\n"
                     "    targets: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj\n"
                     "sft:\n  steps: 20\n  batch: 16\n  examples: 400\n  warmup: 5\n"
                     "rollout:\n  samples_per_prompt: 4\n  max_new: 4\nactor:\n  delay_ms: 30\n",
                     ITERS, dir, dir, dir, dir, model);
}

static int s_run(const char *dir, const char *log, const char *a1, const char *a2, const char *a3) {
    int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "run", a1, a2, a3, NULL), 120000);
    if (tu_exit_code(st) != 0) tu_dump(log);
    return tu_exit_code(st);
}

static char *s_read(const char *run, const char *rel, size_t *len) {
    char *p = xasprintf("%s/%s", run, rel);
    char *data = util_read_file(p, len);
    free(p);
    return data;
}

static int s_lines(const char *jsonl) {
    json_t *a = tu_read_jsonl(jsonl);
    int n = a ? (int)json_array_size(a) : 0;
    json_decref(a);
    return n;
}

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

/* The sum of log-probs of a few fixed sequences under m. */
static double s_score(lm_t *m) {
    int tok[12];
    for (int i = 0; i < 12; i++) tok[i] = (i * 41 + 7) % 256;
    lm_pred_t p[11];
    for (int t = 0; t < 11; t++) p[t] = (lm_pred_t){t, tok[t + 1], 0};
    double lp = 0;
    assert_int_equal(lm_forward(m, tok, NULL, NULL, 1, 12), 0);
    lm_preds_logprob(m, p, 11, &lp);
    return lp;
}

static void test_lora_run_resume_replay_merge(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *random = s_make_model(dir, "random", 7), why[400];
    /* the base: the random folder fully fine-tuned on the task's format (`spar sft`), so that
     * adapters on it have something to steer, as on a pretrained model */
    char *model = xasprintf("%s/model", dir), *blog = xasprintf("%s/base.log", dir);
    char *bck = xasprintf("policy.checkpoint=%s", random), *bout = xasprintf("sft.out=%s", model);
    int bst = tu_wait(tu_spawn(dir, blog, SPAR_BIN, "sft", "--set", "task.kind=styles", "--set", "task.digits=1",
                               "--set", bck, "--set", "sft.steps=80", "--set", "sft.batch=16", "--set",
                               "sft.examples=800", "--set", "sft.warmup=5", "--set", bout, NULL),
                      60000);
    if (tu_exit_code(bst) != 0) tu_dump(blog);
    assert_int_equal(tu_exit_code(bst), 0);
    free(blog), free(bck), free(bout), free(random);
    char *cfg = xasprintf("%s/cfg.yaml", dir), *log = xasprintf("%s/run.log", dir), *yaml = s_yaml(dir, model);
    tu_write(cfg, yaml);
    /* the uninterrupted run */
    assert_int_equal(s_run(dir, log, cfg, "--set", "run.dir=runs/whole"), 0);
    char *whole = xasprintf("%s/runs/whole", dir);
    char *final_rel = xasprintf("checkpoints/iter-%04d/adapter_model.safetensors", ITERS);
    size_t la, lb;
    char *want = s_read(whole, final_rel, &la);
    assert_non_null(want);
    /* the checkpoints are PEFT folders: adapters only, under PEFT's names */
    char *ac = xasprintf("%s/checkpoints/iter-%04d/adapter_config.json", whole, ITERS);
    json_error_t e;
    json_t *j = json_load_file(ac, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "peft_type")), "LORA");
    assert_int_equal(json_integer_value(json_object_get(j, "r")), 4);
    assert_string_equal(json_string_value(json_object_get(j, "base_model_name_or_path")), model);
    json_decref(j);
    char *mst = xasprintf("%s/model.safetensors", model);
    size_t full = 0;
    free(util_read_file(mst, &full));
    fprintf(stderr, "adapter checkpoint %zu bytes, the model %zu bytes\n", la, full);
    assert_true(la * 4 < full); /* a tiny model: the adapters of a real one are a far smaller share */
    /* they load onto the base; training moved the adapters away from SFT's */
    lm_t *base = lm_load_dir(model, NULL, why, sizeof why);
    assert_non_null(base);
    char *d0 = xasprintf("%s/checkpoints/iter-0000", whole), *dn = xasprintf("%s/checkpoints/iter-%04d", whole, ITERS);
    uint64_t v0 = 9, vn = 9;
    lm_t *m0 = lm_load_adapter_dir(base, d0, &v0, why, sizeof why);
    lm_t *mn = lm_load_adapter_dir(base, dn, &vn, why, sizeof why);
    assert_non_null(m0);
    assert_non_null(mn);
    assert_int_equal(v0, 0);
    assert_int_equal(vn, ITERS);
    if (!memcmp(lm_params(m0), lm_params(mn), sizeof(float) * lm_n_params(mn))) {
        char *jl = xasprintf("%s/iterations.jsonl", whole), *ll = xasprintf("%s/logs/learner.log", whole);
        tu_dump(jl), tu_dump(ll);
        free(jl), free(ll);
    }
    assert_true(memcmp(lm_params(m0), lm_params(mn), sizeof(float) * lm_n_params(mn)) != 0);
    char *llog = xasprintf("%s/logs/learner.log", whole);
    assert_true(tu_file_contains(llog, "LoRA r 4"));

    /* the same run, its learner killed while an iteration's groups come in, then resumed */
    char *run = xasprintf("%s/runs/cut", dir), *jsonl = xasprintf("%s/iterations.jsonl", run);
    char *log2 = xasprintf("%s/cut.log", dir);
    pid_t launcher = tu_spawn(dir, log2, SPAR_BIN, "run", cfg, "--set", "run.dir=runs/cut", NULL);
    int killed_in = 0;
    for (int spin = 0; spin < 120000 && !killed_in; spin++) {
        int lines = s_lines(jsonl);
        if (lines >= 2 && s_groups_of(run, (uint64_t)lines) > 0) {
            pid_t learner = tu_find_child(launcher, "learner");
            assert_true(learner > 0);
            assert_int_equal(kill(learner, SIGKILL), 0);
            killed_in = lines;
        } else {
            usleep(1000);
        }
    }
    assert_true(killed_in > 0);
    assert_int_not_equal(tu_exit_code(tu_wait(launcher, 60000)), 0);
    fprintf(stderr, "learner killed during iteration %d\n", killed_in);
    assert_true(s_lines(jsonl) < ITERS + 1);
    assert_int_equal(s_run(dir, log2, "--resume", "runs/cut", NULL), 0);
    char *got = s_read(run, final_rel, &lb);
    assert_non_null(got);
    assert_int_equal(la, lb);
    assert_memory_equal(want, got, la);
    char *clog = xasprintf("%s/logs/learner.log", run);
    assert_true(tu_file_contains(clog, "resumed run"));

    /* the records reproduce every checkpoint */
    char *rlog = xasprintf("%s/replay.log", dir);
    char *done = xasprintf("%d of %d checkpoints reproduced bit for bit", ITERS, ITERS);
    int st = tu_wait(tu_spawn(dir, rlog, SPAR_BIN, "replay", run, NULL), 60000);
    if (tu_exit_code(st) != 0) tu_dump(rlog);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(rlog, done));

    /* spar merge: a full folder that scores as base + adapters */
    char *merged = xasprintf("%s/merged", dir), *mlog = xasprintf("%s/merge.log", dir);
    st = tu_wait(tu_spawn(dir, mlog, SPAR_BIN, "merge", "--base", model, "--adapter", dn, "--out", merged, NULL),
                 30000);
    if (tu_exit_code(st) != 0) tu_dump(mlog);
    assert_int_equal(tu_exit_code(st), 0);
    lm_t *mm = lm_load_dir(merged, NULL, why, sizeof why);
    assert_non_null(mm);
    double a = s_score(mn), b = s_score(mm), z = s_score(base);
    fprintf(stderr, "adapted %.9g merged %.9g base %.9g\n", a, b, z);
    assert_true(fabs(a - b) <= 1e-5 * fabs(a));
    assert_true(fabs(a - z) > 1e-4);

    /* a PEFT folder alone names its base: spar sample runs it */
    char *slog = xasprintf("%s/sample.log", dir);
    st = tu_wait(tu_spawn(dir, slog, SPAR_BIN, "sample", dn, "--prompt", "1+2=", "-n", "2", "--max-new", "4", NULL),
                 30000);
    if (tu_exit_code(st) != 0) tu_dump(slog);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(slog, "\"completion\""));
    free(slog);

    /* another base on the actor's machine: the versions are refused with the reason */
    char *other = s_make_model(dir, "other", 8);
    lm_t *ob = lm_load_dir(other, NULL, why, sizeof why);
    size_t bl;
    void *blob = lm_serialize(mn, 3, &bl);
    assert_true(bl * 4 < full);
    assert_null(lm_lora_deserialize(ob, blob, bl, NULL, why, sizeof why));
    assert_non_null(strstr(why, "another base"));
    free(blob);
    lm_free(&ob), lm_free(&mm), lm_free(&m0), lm_free(&mn), lm_free(&base);
    free(other), free(merged), free(mlog), free(rlog), free(done), free(clog), free(got), free(run), free(jsonl);
    free(log2), free(llog), free(d0), free(dn), free(mst), free(ac), free(want), free(whole), free(final_rel);
    free(cfg), free(log), free(yaml), free(model);
    tu_done(dir);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_run_resume_replay_merge),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
