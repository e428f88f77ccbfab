/* judge_train_cmd — see judge_train_cmd.h. */
#include "cli/judge_train_cmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/pairs.h"
#include "common/task.h"
#include "common/util.h"
#include "judge/judge_train.h"

typedef struct {
    jpairs_t train, held;
    double share;
    int seen;
} split_t;

/* Line i is held out when the running count of held-out lines, floor((i + 1) share), steps up:
 * an even spread, the same for every run of the same file. */
static int s_add(const char *prompt, const char *chosen, const char *rejected, int tie, int lineno, void *ctx,
                 char *why, size_t wl) {
    (void)lineno, (void)why, (void)wl;
    split_t *s = ctx;
    int i = s->seen++;
    int held = floor((i + 1) * s->share) > floor(i * s->share);
    jpairs_add(held ? &s->held : &s->train, prompt, chosen, rejected, tie);
    return 0;
}

/* Generated data: pairs of SFT-style answers to the task's problems, labelled by its rule (the
 * better one chosen; equal: a tie). */
static void s_generate(const spar_config_t *c, split_t *s) {
    for (long i = 0; i < c->judge_train.examples; i++) {
        char prompt[64], a[48], b[48], why[8];
        task_judge_pair(c, (uint64_t)i, prompt, sizeof prompt, a, b, sizeof a);
        const char *r[2] = {a, b};
        double P[4];
        task_rule_judge(task_of(c), prompt, r, 2, P);
        int tie = P[1] == 0.5;
        s_add(prompt, P[1] >= 0.5 ? a : b, P[1] >= 0.5 ? b : a, tie, (int)i + 1, s, why, sizeof why);
    }
}

int judge_train_main(int argc, char **argv) {
    /* --kind K, --out DIR and the DATA argument are config keys judge_train.kind/out/data */
    char **av = xcalloc((size_t)argc * 2 + 1, sizeof(char *));
    char *owned[8];
    int n = 0, n_owned = 0;
    for (int i = 0; i < argc; i++) {
        const char *key = !strcmp(argv[i], "--kind") ? "kind" : !strcmp(argv[i], "--out") ? "out" : NULL;
        if (key && i + 1 < argc && n_owned < 7) {
            av[n++] = "--set";
            av[n++] = owned[n_owned++] = xasprintf("judge_train.%s=%s", key, argv[++i]);
        } else if (argv[i][0] != '-' && (i == 0 || (strcmp(argv[i - 1], "--config") && strcmp(argv[i - 1], "--set"))) &&
                   n_owned < 7) {
            av[n++] = "--set";
            av[n++] = owned[n_owned++] = xasprintf("judge_train.data=%s", argv[i]);
        } else {
            av[n++] = argv[i];
        }
    }
    args_t a;
    args_parse(n, av, "judge-train", "--kind reward|preference DATA.jsonl --out DIR [--config FILE] [--set key=value]...",
               0, &a);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    free(av);
    if (a.check) return 0;
    const spar_config_t *c = &a.cfg;
    int generate = !c->judge_train.data[0];
    if (generate && c->task.kind == TASK_GAME) {
        fprintf(stderr, "spar judge-train: give the data file (JSONL of {\"prompt\", \"chosen\", \"rejected\"}) or "
                        "task.kind arith|styles for rule-labelled pairs\n");
        return 2;
    }
    split_t s = {.share = c->judge_train.heldout};
    char err[600];
    int lines = generate ? (s_generate(c, &s), (int)c->judge_train.examples)
                         : prefs_read(c->judge_train.data, s_add, &s, err, sizeof err);
    if (lines <= 0) {
        fprintf(stderr, "spar judge-train: %s\n", lines < 0 ? err : "no pairs in the data file");
        jpairs_free(&s.train), jpairs_free(&s.held);
        return 2;
    }
    int reward = c->judge_train.kind == JUDGE_TRAIN_REWARD;
    gpt_config_t gc = {(int)c->gpt.n_layer, (int)c->gpt.n_head, (int)c->gpt.d_model, (int)c->gpt.ctx, GPT_VOCAB};
    gpt_set_threads((int)c->gpt.threads);
    judge_model_t *m = jm_new(reward ? JM_REWARD : JM_PREFERENCE, &gc, reward ? 1 : (int)c->judge_train.dim,
                              (unsigned long long)c->run.seed);
    printf("spar judge-train: %s model, %d training and %d held-out pairs from %s; GPT L%d H%d d%d ctx%d\n",
           config_name(CFG_NAMES_JUDGE_TRAIN, c->judge_train.kind), s.train.n, s.held.n, generate ? "the task's rule" : c->judge_train.data, gc.n_layer, gc.n_head, gc.d_model, gc.ctx);
    jtrain_opts_t o = {c->judge_train.steps, c->judge_train.batch, c->judge_train.warmup, c->judge_train.lr,
                       c->judge_train.weight_decay, c->judge_train.clip, (unsigned long long)c->run.seed};
    util_install_stop_signals();
    double loss = jt_train(m, &s.train, &o, stdout);
    int status = 0;
    if (!isfinite(loss)) {
        fprintf(stderr, "spar judge-train: %s\n", util_stop_requested() ? "interrupted" :
                "a pair does not fit the model's context (gpt.ctx) with its prompt");
        status = util_stop_requested() ? 130 : 2;
    } else {
        int rc = jm_save(m, c->judge_train.out);
        if (rc != 0) {
            fprintf(stderr, "spar judge-train: cannot write %s: %s\n", c->judge_train.out, strerror(-rc));
            status = 1;
        } else {
            printf("spar judge-train: wrote %s (trunk/ in the Hugging Face layout, head.safetensors)\n", c->judge_train.out);
        }
        printf("train_accuracy: %.4f\n", jt_accuracy(m, &s.train));
        printf("heldout_accuracy: %.4f\n", s.held.n ? jt_accuracy(m, &s.held) : NAN);
    }
    jm_destroy(&m);
    jpairs_free(&s.train), jpairs_free(&s.held);
    return status;
}
