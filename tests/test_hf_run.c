/* A Hugging Face model folder through everything a user runs it with: a tiny random Llama with
 * a byte-level BPE tokenizer.json (written here, so the test needs no download) is loaded,
 * written and reloaded bit for bit, carried in a blob with its tokenizer, scored and trained
 * through the policy interface, and then used as policy.checkpoint of real learner, judge and
 * actor processes (two SPPO iterations on styles, whose judge tells random answers apart), whose checkpoints are Hugging Face folders
 * with the tokenizer beside them and which `spar replay` reproduces bit for bit; `spar sample`,
 * `spar score` and `spar sft` work on the folder. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hf_folder.h"
#include "common/lm.h"
#include "common/policy.h"
#include "common/tiny_models.h"
#include "common/util.h"
#include "testutil.h"

/* A byte-level BPE tokenizer.json: the 256 byte symbols, merges "1 2" and "a b", and
 * <|endoftext|> (id 258) as a special added token. Vocabulary 259. */
static void s_write_tokenizer(const char *dir) {
    static const char *const merges[] = {"1 2", "a b"}, *const specials[] = {"<|endoftext|>"};
    char why[300];
    if (tiny_byte_tokenizer_write(dir, merges, 2, specials, 1, why, sizeof why) != 0) fail_msg("%s", why);
}

static hf_config_t s_tiny_llama(void) {
    hf_config_t c = {.arch = HF_LLAMA, .bos_id = -1, .eos = {258}, .n_eos = 1};
    snprintf(c.architecture, sizeof c.architecture, "LlamaForCausalLM");
    c.llama = (llama_config_t){.n_layer = 2, .d_model = 32, .n_head = 4, .n_kv_head = 2, .head_dim = 8, .d_ff = 48,
                               .vocab = 259, .ctx = 48, .rms_eps = 1e-5, .rope_theta = 10000, .rope_llama3 = 1,
                               .rope_factor = 8, .rope_low_freq_factor = 1, .rope_high_freq_factor = 4,
                               .rope_original_ctx = 16};
    return c;
}

/* The families, each tiny, each with what sets it apart: Qwen2's q/k/v biases, Qwen3's q/k
 * norm with a head_dim that is not d_model / n_head, Mistral untied, GPT-2 with the real
 * family's layout (a tokenizer of its own, so not the byte-level model). */
static const char *const s_families[] = {"llama", "mistral", "qwen2", "qwen3", "gpt2"};

static hf_config_t s_tiny(const char *family) {
    hf_config_t c = s_tiny_llama();
    llama_config_t *l = &c.llama;
    if (!strcmp(family, "mistral")) {
        c.arch = HF_MISTRAL, l->rope_llama3 = 0, l->tied = 0;
    } else if (!strcmp(family, "qwen2")) {
        c.arch = HF_QWEN2, l->qkv_bias = 1, l->tied = 1, l->rope_llama3 = 0;
    } else if (!strcmp(family, "qwen3")) {
        c.arch = HF_QWEN3, l->qk_norm = 1, l->head_dim = 16, l->tied = 1, l->rope_llama3 = 0;
    } else if (!strcmp(family, "gpt2")) {
        c.arch = HF_GPT2, c.gpt = (gpt_config_t){.n_layer = 2, .n_head = 4, .d_model = 32, .ctx = 48, .vocab = 259};
    }
    snprintf(c.architecture, sizeof c.architecture, "%s", hf_arch_name(c.arch));
    return c;
}

/* A tiny random folder of the family with the tokenizer, at dir/model; returns that path. */
static char *s_make_family(const char *dir, const char *family) {
    char *tokdir = xasprintf("%s/tok", dir), *model = xasprintf("%s/model", dir), why[400];
    assert_int_equal(util_mkdirs(tokdir), 0);
    s_write_tokenizer(tokdir);
    hf_config_t c = s_tiny(family);
    lm_t *m = lm_new_random(&c, tokdir, 7, why, sizeof why);
    if (!m) fprintf(stderr, "lm_new_random %s: %s\n", family, why);
    assert_non_null(m);
    if (lm_save_dir(m, model, 0, 0, why, sizeof why) != 0) fprintf(stderr, "lm_save_dir %s: %s\n", family, why);
    assert_int_equal(lm_save_dir(m, model, 0, 0, why, sizeof why), 0);
    lm_free(&m);
    free(tokdir);
    return model;
}

static char *s_make_model(const char *dir) { return s_make_family(dir, "llama"); }

static int s_same_params(lm_t *a, lm_t *b) {
    return lm_n_params(a) == lm_n_params(b) && !memcmp(lm_params(a), lm_params(b), lm_n_params(a) * sizeof(float));
}

/* The folder reloads bit for bit, as a blob too, with its tokenizer; BF16 rounds each weight. */
static void test_hf_run_folder_round_trip(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *model = s_make_model(dir), why[400];
    lm_t *m = lm_load_dir(model, NULL, why, sizeof why);
    if (!m) fprintf(stderr, "%s\n", why);
    assert_non_null(m);
    assert_false(lm_is_byte_level(m));
    assert_int_equal(lm_vocab(m), 259);
    char *tj = xasprintf("%s/tokenizer.json", model), *cj = xasprintf("%s/config.json", model);
    assert_true(util_file_exists(tj));
    assert_true(tu_file_contains(cj, "LlamaForCausalLM"));
    /* the tokenizer came along: "12+ab" is the two merges around '+' */
    int32_t *ids;
    assert_int_equal(lm_encode_prompt(m, "12+ab", &ids, why, sizeof why), 3);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], '+');
    assert_int_equal(ids[2], 257);
    free(ids);
    size_t len;
    void *blob = lm_serialize(m, 5, &len);
    uint64_t v = 0;
    lm_t *b = lm_deserialize(blob, len, &v, why, sizeof why);
    assert_non_null(b);
    assert_int_equal(v, 5);
    assert_true(s_same_params(m, b));
    assert_int_equal(lm_encode_prompt(b, "12+ab", &ids, why, sizeof why), 3);
    free(ids);
    lm_free(&b);
    /* generation_config.json's eos_token_id null means no EOS, as in transformers: the model
     * loads, a response is its text alone, and sampling runs to max_new */
    char *gc = xasprintf("%s/generation_config.json", model);
    tu_write(gc, "{\"bos_token_id\": null, \"eos_token_id\": null}\n");
    lm_t *no_eos = lm_load_dir(model, NULL, why, sizeof why);
    if (!no_eos) fprintf(stderr, "%s\n", why);
    assert_non_null(no_eos);
    assert_int_equal(lm_first_eos(no_eos), -1);
    assert_int_equal(lm_encode_response(no_eos, "ab", &ids, why, sizeof why), 1);
    free(ids);
    policy_t *np = policy_lm_new(no_eos);
    rng_t nr;
    rng_stream(&nr, 1, 0, 0, 0);
    policy_seq_t np_prompt = {0, "12+", NULL, 0};
    policy_sample_opts_t no = {.temperature = 1.0, .top_p = 1.0, .max_new = 7};
    policy_sample_t ns;
    assert_int_equal(policy_generate(np, &np_prompt, 1, &nr, &no, &ns), 0);
    assert_int_equal(ns.n_tokens, 7);
    policy_sample_free(&ns);
    policy_destroy(&np);
    unlink(gc);
    free(gc);
    /* a peer's blob whose config claims a model its bytes cannot hold is refused before any
     * allocation of that size (80 layers x d 65536 would be terabytes) */
    hf_config_t huge = s_tiny_llama();
    huge.llama.n_layer = 80, huge.llama.d_model = 65536, huge.llama.d_ff = 262144, huge.llama.head_dim = 16384;
    char *hc = hf_config_json(&huge, "float32");
    const char *keys[] = {"policy", "hf_config"}, *vals[] = {"hf", hc};
    size_t hl;
    void *hb = st_serialize(NULL, 0, keys, vals, 2, &hl);
    assert_null(lm_deserialize(hb, hl, &v, why, sizeof why));
    assert_non_null(strstr(why, "more than its"));
    free(hb), free(hc);
    /* BF16: every weight is its round-to-nearest-even bf16 value */
    char *bf = xasprintf("%s/bf16", dir);
    assert_int_equal(lm_save_dir(m, bf, 0, 1, why, sizeof why), 0);
    lm_t *h = lm_load_dir(bf, NULL, why, sizeof why);
    assert_non_null(h);
    size_t bad = 0;
    for (size_t i = 0; i < lm_n_params(m); i++) {
        float x = lm_params(m)[i], y = lm_params(h)[i];
        bad += fabsf(x - y) > fabsf(x) * (1.0f / 256) || !(fabsf(x - y) > 0 || x == y);
    }
    assert_int_equal(bad, 0);
    free(blob), free(tj), free(cj), free(bf), free(model);
    lm_free(&m), lm_free(&b), lm_free(&h);
    tu_done(dir);
}

/* The packed batch's gradient along itself against a central difference of the packed
 * log-probs: the whole backward pass of the family, through the policy the learner uses. */
static void s_check_policy_gradient(policy_t *p, const policy_seq_t *seqs, int n) {
    const double dlp[3] = {1.0, -0.5, 0.25};
    double lp0[3];
    policy_logprobs(p, seqs, n, lp0); /* the batch the backward pass differentiates */
    policy_zero_grad(p);
    policy_backward_seqs(p, seqs, n, dlp);
    policy_view_t v = policy_view(p);
    double gg = 0, eps = 1e-3;
    for (size_t i = 0; i < v.n; i++) gg += (double)v.grad_f32[i] * v.grad_f32[i];
    float *saved = xmalloc(sizeof(float) * v.n), *dir = xmalloc(sizeof(float) * v.n);
    memcpy(saved, v.f32, sizeof(float) * v.n);
    double scale = 1 / sqrt(gg); /* a unit step along the gradient */
    for (size_t i = 0; i < v.n; i++) dir[i] = (float)(v.grad_f32[i] * scale);
    double f[2];
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < v.n; i++) v.f32[i] = saved[i] + (side ? -1.0f : 1.0f) * (float)eps * dir[i];
        double lp[3];
        policy_logprobs(p, seqs, n, lp);
        f[side] = dlp[0] * lp[0] + dlp[1] * lp[1] + dlp[2] * lp[2];
    }
    memcpy(v.f32, saved, sizeof(float) * v.n);
    double numeric = (f[0] - f[1]) / (2 * eps), analytic = sqrt(gg);
    fprintf(stderr, "  directional derivative: analytic %.6g, central difference %.6g\n", analytic, numeric);
    assert_true(gg > 0 && fabs(numeric - analytic) < 2e-3 * analytic);
    free(saved), free(dir);
}

/* Packed log-probs through the policy equal each sequence's own forward pass, the gradient
 * matches a finite difference; samples end at EOS or max_new and decode to text. */
static void s_policy_family(const char *family) {
    fprintf(stderr, "%s\n", family);
    char *dir = tu_tmpdir(), *model = s_make_family(dir, family), why[400];
    lm_t *m = lm_load_dir(model, NULL, why, sizeof why);
    if (!m) fprintf(stderr, "%s: %s\n", family, why);
    assert_non_null(m);
    policy_t *p = policy_lm_new(m);
    assert_string_equal(policy_kind(p), "hf");
    uint32_t r1[] = {'3', '0', 258}, r2[] = {256, 258}, r3[] = {'7'};
    policy_seq_t seqs[3] = {{0, "12+", r1, 3}, {0, "12+", r2, 2}, {1, "4+5=", r3, 1}};
    double lp[3];
    policy_logprobs(p, seqs, 3, lp);
    for (int i = 0; i < 3; i++) {
        int32_t *pt;
        int pl = lm_encode_prompt(m, seqs[i].prompt_text, &pt, why, sizeof why), T = pl + seqs[i].n_tokens;
        int *tok = xmalloc(sizeof(int) * (size_t)T);
        for (int t = 0; t < pl; t++) tok[t] = pt[t];
        for (int t = 0; t < seqs[i].n_tokens; t++) tok[pl + t] = (int)seqs[i].tokens[t];
        lm_pred_t pr[8];
        int n = 0;
        for (int t = pl - 1; t < T - 1; t++) pr[n] = (lm_pred_t){t, tok[t + 1], 0}, n++;
        double one = 0;
        assert_int_equal(lm_forward(m, tok, NULL, NULL, 1, T), 0);
        lm_preds_logprob(m, pr, n, &one);
        assert_true(isfinite(one) && fabs(one - lp[i]) < 1e-4 * fmax(1, fabs(one)));
        free(pt), free(tok);
    }
    s_check_policy_gradient(p, seqs, 3);
    rng_t rngs[2];
    rng_stream(&rngs[0], 1, 0, 0, 0), rng_stream(&rngs[1], 1, 0, 0, 1);
    policy_seq_t prompts[2] = {{0, "12+", NULL, 0}, {1, "4+5=", NULL, 0}};
    policy_sample_opts_t o = {.temperature = 1.0, .top_p = 1.0, .max_new = 6};
    policy_sample_t out[2];
    assert_int_equal(policy_generate(p, prompts, 2, rngs, &o, out), 0);
    for (int i = 0; i < 2; i++) {
        assert_true(out[i].n_tokens >= 1 && out[i].n_tokens <= 6);
        for (int t = 0; t < out[i].n_tokens; t++) assert_true(out[i].tokens[t] < 259);
        for (int t = 0; t + 1 < out[i].n_tokens; t++) assert_true(out[i].tokens[t] != 258); /* EOS ends it */
        char *text = policy_response_text(p, out[i].tokens, out[i].n_tokens);
        assert_non_null(text);
        free(text);
        policy_sample_free(&out[i]);
    }
    policy_destroy(&p);
    free(model);
    tu_done(dir);
}

static void test_hf_run_policy(void **state) {
    (void)state;
    for (size_t f = 0; f < sizeof s_families / sizeof *s_families; f++) s_policy_family(s_families[f]);
}

/* The folder as policy.checkpoint of real processes; the run's checkpoints are folders with the
 * tokenizer, replay reproduces them; sample, score and sft run on the folder. */
static void s_processes(const char *family) {
    char *dir = tu_tmpdir(), *model = s_make_family(dir, family), why[400];
    char *cfg = xasprintf("%s/cfg.yaml", dir), *run = xasprintf("%s/run", dir);
    char *yaml = xasprintf("run:\n  name: hf\n  dir: %s\n  iterations: 2\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n"
                           "judge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n"
                           "task:\n  kind: styles\n  prompts: 4\n  digits: 1\n  eval_prompts: 8\n"
                           "policy:\n  checkpoint: %s\n  init: sft\n"
                           "sft:\n  steps: 80\n  batch: 16\n  examples: 800\n  warmup: 5\n"
                           "rollout:\n  samples_per_prompt: 4\n  max_new: 4\n",
                           run, dir, dir, dir, dir, model);
    tu_write(cfg, yaml);
    char *logs[3] = {xasprintf("%s/judge.log", dir), xasprintf("%s/learner.log", dir), xasprintf("%s/actor.log", dir)};
    pid_t judge = tu_spawn(NULL, logs[0], SPAR_BIN, "judge", "--config", cfg, "--id", "judge-0", NULL);
    pid_t learner = tu_spawn(NULL, logs[1], SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL);
    pid_t actor = tu_spawn(NULL, logs[2], SPAR_BIN, "actor", "--config", cfg, "--id", "actor-0", NULL);
    int st = tu_wait(learner, 240000);
    if (tu_exit_code(st) != 0) tu_dump(logs[1]), tu_dump(logs[2]);
    assert_int_equal(tu_exit_code(st), 0);
    assert_int_equal(tu_exit_code(tu_wait(actor, 30000)), 0); /* an actor ends with the run */
    kill(judge, SIGTERM);                                        /* a judge serves until told */
    assert_int_equal(tu_exit_code(tu_wait(judge, 10000)), 0);
    char *jsonl = xasprintf("%s/iterations.jsonl", run);
    json_t *lines = tu_read_jsonl(jsonl);
    assert_int_equal((int)json_array_size(lines), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, 2), "samples")), 4 * 4);
    json_decref(lines);
    char *d0 = xasprintf("%s/checkpoints/iter-0000", run), *d2 = xasprintf("%s/checkpoints/iter-0002", run);
    char *tj = xasprintf("%s/tokenizer.json", d2), *cj = xasprintf("%s/config.json", d2);
    assert_true(util_file_exists(tj));
    hf_config_t fc = s_tiny(family);
    assert_true(tu_file_contains(cj, hf_arch_name(fc.arch)));
    uint64_t v0 = 9, v2 = 9;
    lm_t *m0 = lm_load_dir(d0, &v0, why, sizeof why), *m2 = lm_load_dir(d2, &v2, why, sizeof why);
    assert_non_null(m0);
    assert_non_null(m2);
    assert_int_equal(v0, 0);
    assert_int_equal(v2, 2);
    if (s_same_params(m0, m2)) tu_dump(jsonl), tu_dump(logs[1]);
    assert_false(s_same_params(m0, m2));
    lm_free(&m0), lm_free(&m2);
    /* every update again from the records: the same checkpoints, bit for bit */
    char *rlog = xasprintf("%s/replay.log", dir);
    st = tu_wait(tu_spawn(NULL, rlog, SPAR_BIN, "replay", run, NULL), 120000);
    if (tu_exit_code(st) != 0) tu_dump(rlog);
    assert_int_equal(tu_exit_code(st), 0);
    /* the commands on the folder */
    char *slog = xasprintf("%s/sample.log", dir), *in = xasprintf("%s/in.jsonl", dir);
    st = tu_wait(tu_spawn(NULL, slog, SPAR_BIN, "sample", model, "--prompt", "12+", "-n", "2", "--max-new", "5", NULL),
                 30000);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(slog, "\"completion\""));
    tu_write(in, "{\"prompt\": \"12+\", \"response\": \"3\"}\n{\"prompt_ids\": [256], \"response_ids\": [257, 258]}\n");
    unlink(slog);
    st = tu_wait(tu_spawn(NULL, slog, SPAR_BIN, "score", model, in, NULL), 30000);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(tu_file_contains(slog, "\"line\":2"));
    char *out = xasprintf("sft.out=%s/sft", dir), *ck = xasprintf("policy.checkpoint=%s", model);
    char *sft_tj = xasprintf("%s/sft/tokenizer.json", dir);
    unlink(slog);
    st = tu_wait(tu_spawn(NULL, slog, SPAR_BIN, "sft", "--set", "task.kind=arith", "--set", "task.digits=1", "--set",
                          ck, "--set", "sft.steps=5", "--set", "sft.batch=4", "--set", "sft.examples=16", "--set", out,
                          NULL),
                 60000);
    if (tu_exit_code(st) != 0) tu_dump(slog);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(util_file_exists(sft_tj));
    for (int i = 0; i < 3; i++) free(logs[i]);
    free(cfg), free(run), free(yaml), free(jsonl), free(d0), free(d2), free(tj), free(cj), free(rlog), free(slog);
    free(in), free(out), free(ck), free(sft_tj), free(model);
    tu_done(dir);
}

static void test_hf_run_processes_llama(void **state) { (void)state, s_processes("llama"); }
static void test_hf_run_processes_mistral(void **state) { (void)state, s_processes("mistral"); }
static void test_hf_run_processes_qwen2(void **state) { (void)state, s_processes("qwen2"); }
static void test_hf_run_processes_qwen3(void **state) { (void)state, s_processes("qwen3"); }
static void test_hf_run_processes_gpt2(void **state) { (void)state, s_processes("gpt2"); }

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_run_folder_round_trip),
        cmocka_unit_test(test_hf_run_policy),
        cmocka_unit_test(test_hf_run_processes_llama),
        cmocka_unit_test(test_hf_run_processes_mistral),
        cmocka_unit_test(test_hf_run_processes_qwen2),
        cmocka_unit_test(test_hf_run_processes_qwen3),
        cmocka_unit_test(test_hf_run_processes_gpt2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
