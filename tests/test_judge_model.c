/* Learned judges: finite-difference checks of both pair losses through the head and the GPT
 * trunk; the preference model's skew symmetry; and the cyclic fit — on rock-paper-scissors over
 * three answer styles, a Bradley-Terry reward model cannot exceed 2/3 of held-out pairs while
 * the general preference model gets them right. */
#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/records.h"
#include "common/rng.h"
#include "common/util.h"
#include "common/judge_model.h"
#include "judge/judge_train.h"

static const gpt_config_t TINY = {.n_layer = 1, .n_head = 2, .d_model = 16, .ctx = 24, .vocab = GPT_VOCAB};

static double s_loss(judge_model_t *m, const jpairs_t *d) {
    const jpair_t *b[8];
    for (int i = 0; i < d->n; i++) b[i] = &d->p[i];
    return jt_loss_grad(m, b, d->n);
}

/* Central differences on a sample of parameters (head and trunk) against the gradients. */
static void s_gradient_check(jm_kind_t kind, int dim) {
    judge_model_t *m = jm_new(kind, &TINY, dim, 3);
    assert_non_null(m);
    for (size_t i = 0; i < (size_t)TINY.d_model * dim; i++) m->w[i] *= 50; /* a head that matters */
    jpairs_t d = {0};
    jpairs_add(&d, "3+4=", "7", "8", 0);
    jpairs_add(&d, "12+5=", "17!", "17", 0);
    jpairs_add(&d, "1+1=", "2.", "3", 1);
    s_loss(m, &d);
    size_t np = gpt_n_params(m->trunk), C = (size_t)TINY.d_model;
    float *g = xmalloc(sizeof(float) * np), *gw = xmalloc(sizeof(float) * C * dim), *gb = xmalloc(sizeof(float) * dim);
    memcpy(g, gpt_grads(m->trunk), sizeof(float) * np);
    memcpy(gw, m->gw, sizeof(float) * C * dim);
    memcpy(gb, m->gb, sizeof(float) * dim);
    double gmax = 0; /* the gradient's scale: entries far below it are float32 noise in differences */
    for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g[i]));
    for (size_t i = 0; i < C * dim; i++) gmax = fmax(gmax, fabs(gw[i]));
    rng_t r;
    rng_seed(&r, 11);
    double worst = 0;
    int head = 0, trunk = 0;
    for (int tries = 0; tries < 20000 && (head < 10 || trunk < 25); tries++) {
        float *x, analytic;
        int is_head = head < 10;
        if (is_head) {
            size_t i = (size_t)(rng_uniform(&r) * (C * dim + dim));
            x = i < C * dim ? &m->w[i] : &m->b[i - C * dim];
            analytic = i < C * dim ? gw[i] : gb[i - C * dim];
        } else {
            size_t i = (size_t)(rng_uniform(&r) * np);
            x = &gpt_params(m->trunk)[i];
            analytic = g[i];
        }
        if (fabs(analytic) < 1e-2 * gmax) continue; /* below float32's resolution in differences */
        float keep = *x, eps = 2e-3f;
        *x = keep + eps;
        double lp = s_loss(m, &d);
        *x = keep - eps;
        double lm = s_loss(m, &d);
        *x = keep;
        double numeric = (lp - lm) / (2 * eps);
        worst = fmax(worst, fabs(numeric - analytic) / fmax(fabs(numeric), fabs(analytic)));
        if (is_head) head++;
        else trunk++;
    }
    int checked = head + trunk;
    fprintf(stderr, "%s judge: %d parameters checked, worst relative error %.1e\n",
            kind == JM_REWARD ? "reward" : "preference", checked, worst);
    assert_true(head == 10 && trunk == 25 && gmax > 0);
    assert_true(worst < 2e-2);
    free(g), free(gw), free(gb);
    jpairs_free(&d);
    jm_destroy(&m);
}

static void test_judge_model_reward_gradient(void **state) {
    (void)state;
    s_gradient_check(JM_REWARD, 1);
}

static void test_judge_model_preference_gradient(void **state) {
    (void)state;
    s_gradient_check(JM_PREFERENCE, 4);
}

/* s(a, b) = -s(b, a) and s(a, a) = 0 for the preference model; the pair loss's derivative. */
static void test_judge_model_skew_symmetry_and_loss(void **state) {
    (void)state;
    judge_model_t *m = jm_new(JM_PREFERENCE, &TINY, 6, 4);
    const char *pr[3] = {"1+2=", "1+2=", "1+2="}, *rs[3] = {"3", "3!", "4."};
    float v[18];
    assert_int_equal(jm_forward(m, pr, rs, 3, v), 0);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) assert_true(fabs(jm_score(m, v + 6 * a, v + 6 * b) + jm_score(m, v + 6 * b, v + 6 * a)) < 1e-6);
    assert_true(jm_score(m, v, v) == 0.0);
    for (int tie = 0; tie <= 1; tie++)
        for (double s = -3; s <= 3; s += 1.5) {
            double d, dp, dm, e = 1e-6;
            jm_pair_loss(s, tie, &d);
            double lp = jm_pair_loss(s + e, tie, &dp), lm = jm_pair_loss(s - e, tie, &dm);
            assert_true(fabs((lp - lm) / (2 * e) - d) < 1e-8);
        }
    double d;
    assert_true(fabs(jm_pair_loss(0, 0, &d) - log(2)) < 1e-12 && fabs(d + 0.5) < 1e-12);
    jm_destroy(&m);
}

/* Answers "N", "N." and "N!" beat each other in a cycle; every pair is labelled by the cycle. */
static void s_cycle_data(jpairs_t *d, int n, uint64_t seed) {
    static const char *marks[3] = {"", ".", "!"};
    rng_t r;
    rng_stream(&r, seed, 0, 0, 0);
    for (int i = 0; i < n; i++) {
        int a = (int)(rng_uniform(&r) * 10), b = (int)(rng_uniform(&r) * 10), s = i % 3;
        char prompt[16], win[16], lose[16];
        snprintf(prompt, sizeof prompt, "%d+%d=", a, b);
        snprintf(win, sizeof win, "%d%s", a + b, marks[s]);           /* plain > period > bang > plain */
        snprintf(lose, sizeof lose, "%d%s", a + b, marks[(s + 1) % 3]);
        jpairs_add(d, prompt, win, lose, 0);
    }
}

static void test_judge_model_cyclic_preferences(void **state) {
    (void)state;
    jpairs_t train = {0}, held = {0};
    s_cycle_data(&train, 600, 1);
    s_cycle_data(&held, 150, 2);
    jtrain_opts_t o = {.steps = 600, .batch = 16, .warmup = 20, .lr = 1e-3, .weight_decay = 0, .clip = 1, .seed = 5};
    gpt_config_t c = TINY;
    judge_model_t *bt = jm_new(JM_REWARD, &c, 1, 7), *gp = jm_new(JM_PREFERENCE, &c, 8, 7);
    jt_train(bt, &train, &o, NULL);
    jt_train(gp, &train, &o, NULL);
    double abt = jt_accuracy(bt, &held), agp = jt_accuracy(gp, &held);
    fprintf(stderr, "cyclic styles, held-out accuracy: Bradley-Terry %.3f, general preference %.3f\n", abt, agp);
    assert_true(abt < 0.72); /* a scalar score orders the three styles: one edge of the cycle is always wrong */
    assert_true(agp > 0.95);
    jm_destroy(&bt), jm_destroy(&gp);
    jpairs_free(&train), jpairs_free(&held);
}

/* The `heldout_accuracy: X` that spar judge-train printed into log. */
static double s_heldout_accuracy(const char *log) {
    char *text = util_read_file(log, NULL), *at = text ? strstr(text, "heldout_accuracy: ") : NULL;
    assert_non_null(at);
    double acc = atof(at + strlen("heldout_accuracy: "));
    free(text);
    return acc;
}

/* Writes the cycle data as JSONL; line `bad_line` (1-based; 0: none) is broken. */
static void s_write_jsonl(const char *path, const jpairs_t *d, int bad_line) {
    FILE *f = fopen(path, "w");
    for (int i = 0; i < d->n; i++) {
        if (i + 1 == bad_line) fprintf(f, "{\"prompt\": \"%s\", \"chosen\": 3}\n", d->p[i].prompt);
        else fprintf(f, "{\"prompt\": \"%s\", \"chosen\": \"%s\", \"rejected\": \"%s\"}\n", d->p[i].prompt,
                     d->p[i].chosen, d->p[i].rejected);
    }
    fclose(f);
}

/* `spar judge-train` end to end: a preference model on the cycle data reports its held-out
 * accuracy and writes a checkpoint that `spar judge` serves to learner and actors (a styles run
 * with a tiny GPT policy: the recorded matrices are valid and carry the model's version); a
 * reward model's judge answers with rewards. A bad line is an error naming file and line. */
static void test_judge_model_train_command_and_serving(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *data = xasprintf("%s/cycle.jsonl", dir), *log = xasprintf("%s/train.log", dir);
    jpairs_t d = {0};
    s_cycle_data(&d, 660, 3);
    s_write_jsonl(data, &d, 0);
    const char *tiny[] = {"--set", "gpt.n_layer=1", "--set", "gpt.n_head=2", "--set", "gpt.d_model=16", "--set", "gpt.ctx=24"};
    const char *kinds[] = {"preference", "reward"};
    for (int k = 0; k < 2; k++) {
        char *out = xasprintf("%s/%s", dir, kinds[k]);
        unlink(log); /* the log appends: one run's output each time */
        int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "judge-train", "--kind", kinds[k], data, "--out", out, tiny[0], tiny[1],
                                  tiny[2], tiny[3], tiny[4], tiny[5], tiny[6], tiny[7], NULL),
                         300000);
        if (tu_exit_code(st) != 0) tu_dump(log);
        assert_int_equal(tu_exit_code(st), 0);
        double acc = s_heldout_accuracy(log);
        fprintf(stderr, "spar judge-train --kind %s: heldout_accuracy %.3f\n", kinds[k], acc);
        assert_true(k == 0 ? acc > 0.95 : acc < 0.72);
        char *head = xasprintf("%s/head.safetensors", out), *cj = xasprintf("%s/trunk/config.json", out);
        assert_true(util_file_exists(head) && util_file_exists(cj));
        free(head), free(cj);

        /* serving: a styles run judged by this model */
        char *cfg = xasprintf("%s/run-%s.yaml", dir, kinds[k]), *runlog = xasprintf("%s/run-%s.log", dir, kinds[k]);
        char *yaml = xasprintf("run:\n  name: judged\n  dir: %s/run-%s\n  iterations: 2\n"
                               "task:\n  kind: styles\n  prompts: 6\n  digits: 1\n  eval_prompts: 20\n"
                               "policy:\n  init: sft\ngpt:\n  n_layer: 1\n  n_head: 2\n  d_model: 16\n  ctx: 16\n"
                               "sft:\n  examples: 200\n  steps: 60\n  batch: 16\n  warmup: 5\n"
                               "rollout:\n  samples_per_prompt: 4\n  max_new: 4\n"
                               "judge:\n  kind: %s\n  checkpoint: %s\nactor:\n  count: 1\n",
                               dir, kinds[k], kinds[k], out);
        tu_write(cfg, yaml);
        st = tu_wait(tu_spawn(dir, runlog, SPAR_BIN, "run", cfg, NULL), 300000);
        if (tu_exit_code(st) != 0) tu_dump(runlog);
        assert_int_equal(tu_exit_code(st), 0);
        char *jl = xasprintf("%s/run-%s/iterations.jsonl", dir, kinds[k]);
        json_t *lines = tu_read_jsonl(jl);
        assert_int_equal((int)json_array_size(lines), 3);
        for (int i = 0; i < 3; i++) {
            json_t *o = json_array_get(lines, i);
            assert_int_equal(json_integer_value(json_object_get(o, "lost")), 0);
            double jw = json_number_value(json_object_get(o, "judge_win_rate"));
            double rw = json_number_value(json_object_get(o, "rule_win_rate"));
            assert_true(json_is_number(json_object_get(o, "judge_win_rate")) && jw >= 0 && jw <= 1);
            assert_true(json_is_number(json_object_get(o, "rule_win_rate")) && rw >= 0 && rw <= 1);
            if (i == 0) assert_true(fabs(jw - 0.5) < 1e-4 && rw == 0.5); /* the initial policy against itself */
        }
        json_decref(lines);
        char *rec = xasprintf("%s/run-%s/records/groups.pb", dir, kinds[k]);
        FILE *rf = fopen(rec, "rb");
        assert_non_null(rf);
        int bad = 0, n = 0;
        Spar__RolloutGroup *g;
        while ((g = records_next(rf, &bad))) {
            assert_true(!strncmp(g->judge_version, kinds[k], strlen(kinds[k])));
            if (k == 0) assert_int_equal(g->n_preference, g->n_responses * g->n_responses);
            else assert_int_equal(g->n_rewards, g->n_responses);
            spar__rollout_group__free_unpacked(g, NULL);
            n++;
        }
        fclose(rf);
        assert_int_equal(n, 2 * 6);
        free(out), free(cfg), free(runlog), free(yaml), free(jl), free(rec);
    }
    /* a bad line */
    s_write_jsonl(data, &d, 7);
    unlink(log);
    int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "judge-train", "--kind", "reward", data, "--out", "x", NULL), 60000);
    assert_int_equal(tu_exit_code(st), 2);
    char *want = xasprintf("%s:7:", data);
    assert_true(tu_file_contains(log, want));
    free(want), free(data), free(log);
    jpairs_free(&d);
    tu_done(dir);
}

/* Without a data file, judge-train labels generated arith answers by the rule; the reward model
 * learns to prefer the right sum on held-out pairs.
 *
 * The bar is set from measurements, since floating-point rounding (OpenBLAS's kernel for the
 * CPU, -march=native or not) moves the training trajectory. With the earlier 1000 examples,
 * 800 steps and 10% (~100 pairs) held out, rounding alone moved the accuracy over 0.69-0.84
 * (Cooperlake kernels 0.735, SPAR_NATIVE=OFF 0.694): a bar of 0.75 failed on some CPUs. With
 * 2000 examples, 1200 steps and 25% held out (500 pairs, sampling error ~0.01), measured on an
 * AMD EPYC (AVX-512) with OPENBLAS_CORETYPE=...:
 *
 *                        default  Haswell  Zen    SkylakeX  Cooperlake  Sandybridge
 *   SPAR_NATIVE=ON       0.968    0.952    0.952  0.972     0.968       0.968
 *   SPAR_NATIVE=OFF      0.972    0.976    0.976  0.976     0.972       0.972
 *   run.seed 2..7 (native, default kernels): 0.979 0.966 0.985 0.956 0.937 0.992
 *
 * The bar, 0.85, is 0.10 below the worst kernel (0.952) and 0.09 below the worst seed (0.937);
 * a model that learned nothing scores about 0.5. */
static void test_judge_model_train_on_rule_labels(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/train.log", dir), *out = xasprintf("judge_train.out=%s/rm", dir);
    int st = tu_wait(tu_spawn(dir, log, SPAR_BIN, "judge-train", "--set", "task.kind=arith", "--set", "task.digits=1",
                              "--set", "judge_train.examples=2000", "--set", "judge_train.steps=1200", "--set", "judge_train.batch=32",
                              "--set", "judge_train.heldout=0.25", "--set", "gpt.n_layer=1", "--set", "gpt.n_head=2", "--set",
                              "gpt.d_model=32", "--set", "gpt.ctx=16", "--set", out, NULL),
                     300000);
    if (tu_exit_code(st) != 0) tu_dump(log);
    assert_int_equal(tu_exit_code(st), 0);
    double acc = s_heldout_accuracy(log);
    fprintf(stderr, "reward model on rule-labelled arith pairs: heldout_accuracy %.3f\n", acc);
    assert_true(tu_file_contains(log, "1500 training and 500 held-out pairs from the task's rule"));
    assert_true(acc > 0.85);
    free(log), free(out);
    tu_done(dir);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judge_model_reward_gradient),
        cmocka_unit_test(test_judge_model_preference_gradient),
        cmocka_unit_test(test_judge_model_skew_symmetry_and_loss),
        cmocka_unit_test(test_judge_model_cyclic_preferences),
        cmocka_unit_test(test_judge_model_train_command_and_serving),
        cmocka_unit_test(test_judge_model_train_on_rule_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
