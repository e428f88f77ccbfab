/* spar — the one binary: `spar COMMAND`, dispatched from one table of contents (s_commands),
 * which is also what `spar help` prints. Each handler parses its command's arguments and config
 * (exit 2 on a bad one) and hands over to its role's or tool's main; none of them does the work
 * here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#include "actor/actor.h"
#include "cli/args.h"
#include "cli/bench_judge.h"
#include "cli/bench_model.h"
#include "cli/chat_cmd.h"
#include "cli/lm_cmds.h"
#include "cli/judge_train_cmd.h"
#include "cli/launcher.h"
#include "cli/monitor.h"
#include "cli/ping.h"
#include "cli/keygen.h"
#include "cli/plot.h"
#include "cli/sft.h"
#include "cli/study.h"
#include "cli/tiny_models_cmd.h"
#include "cli/tokenize_cmd.h"
#include "common/log.h"
#include "judge/judge.h"
#include "learner/learner.h"
#include "learner/replay.h"

/* ---- the commands' handlers: argv[0] is the command's name, the rest its arguments --------- */

static int s_run(int argc, char **argv) {
    args_t a;
    args_parse(argc - 1, argv + 1, argv[0], "[CONFIG | --resume RUN_DIR] [--set key=value]... [--verbose]", 1, &a);
    if (a.check) return 0;
    if (a.resume && !a.resume_dir) {
        fprintf(stderr, "spar run: --resume needs the run folder: spar run --resume RUN_DIR\n");
        return 2;
    }
    return launcher_run(&a);
}

static int s_role(int argc, char **argv) {
    const char *cmd = argv[0];
    args_t a;
    args_parse(argc - 1, argv + 1, cmd, "[--config FILE] [--set key=value]... [--id NAME] [--check] [--resume [RUN_DIR]]", 0, &a);
    if (a.resume && strcmp(cmd, "learner") != 0) {
        fprintf(stderr, "spar %s: --resume is for the learner (and spar run)\n", cmd);
        return 2;
    }
    if (a.check) {
        printf("spar %s: config valid\n", cmd);
        return 0;
    }
    log_set_name(a.id ? a.id : cmd);
    if (!strcmp(cmd, "learner")) return learner_main(&a.cfg, a.resume);
    if (!strcmp(cmd, "actor")) return actor_main(&a.cfg, a.id);
    return judge_main(&a.cfg, a.id);
}

static int s_study(int argc, char **argv) {
    args_t a;
    args_parse(argc - 1, argv + 1, argv[0], "[CONFIG] [--set key=value]...", 1, &a);
    return a.check ? 0 : study_run(&a);
}

static int s_sft(int argc, char **argv) {
    args_t a;
    args_parse(argc - 1, argv + 1, argv[0], "[CONFIG] [--set key=value]...", 1, &a);
    return a.check ? 0 : sft_run(&a);
}

static int s_config(int argc, char **argv) {
    args_t a;
    args_parse(argc - 1, argv + 1, argv[0], "[--config FILE] [--set key=value]...", 1, &a);
    config_write_yaml(&a.cfg, stdout);
    return 0;
}

/* replay reads the run's own config.yaml; --set still applies over it. */
static int s_replay(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            printf("usage: spar replay RUN_DIR [--set key=value]...\n\n"
                   "Re-runs every learner update of the run from RUN_DIR/records/groups.pb alone, from its\n"
                   "iteration-0 checkpoint, and checks each new policy's digest against the run's checkpoint.\n"
                   "Exit 0: every checkpoint reproduced bit for bit; 1: one differs; 2: cannot replay.\n");
            return 0;
        }
        fprintf(stderr, "usage: spar replay RUN_DIR [--set key=value]...\n");
        return 2;
    }
    char *cfgpath = xasprintf("%s/config.yaml", argv[1]);
    char *rest[300];
    int n = 0;
    rest[n++] = "--config";
    rest[n++] = cfgpath;
    for (int i = 2; i < argc && n < 299; i++) rest[n++] = argv[i];
    args_t a;
    args_parse(n, rest, argv[0], "RUN_DIR [--set key=value]...", 0, &a);
    log_set_name("replay");
    int st = replay_main(&a.cfg, argv[1]);
    free(cfgpath);
    return st;
}

static int s_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "model")) return bench_model_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "judge")) return bench_judge_main(argc - 2, argv + 2);
    fprintf(stderr, "usage: spar bench model|judge [--threads N]\n");
    return 2;
}

/* The tools that parse their own arguments. */
static int s_sample(int argc, char **argv) { return lm_sample_main(argc - 1, argv + 1); }
static int s_score(int argc, char **argv) { return lm_score_main(argc - 1, argv + 1); }
static int s_logits(int argc, char **argv) { return lm_logits_main(argc - 1, argv + 1); }
static int s_convert(int argc, char **argv) { return lm_convert_main(argc - 1, argv + 1); }
static int s_merge(int argc, char **argv) { return lm_merge_main(argc - 1, argv + 1); }
static int s_judge_train(int argc, char **argv) { return judge_train_main(argc - 1, argv + 1); }
static int s_ping(int argc, char **argv) { return ping_main(argc - 1, argv + 1); }
static int s_keygen(int argc, char **argv) { return keygen_main(argc - 1, argv + 1); }
static int s_plot(int argc, char **argv) { return plot_main(argc - 1, argv + 1); }
static int s_monitor(int argc, char **argv) { return monitor_main(argc - 1, argv + 1); }
static int s_tokenize(int argc, char **argv) { return tokenize_main(argc - 1, argv + 1); }
static int s_tiny_models(int argc, char **argv) { return tiny_models_main(argc - 1, argv + 1); }
static int s_chat(int argc, char **argv) { return chat_main(argc - 1, argv + 1); }
static int s_help_cmd(int argc, char **argv);

/* ---- the table of contents ------------------------------------------------------------------- */

/* One row per line of `spar help`; a command may have several rows (the first one's handler
 * runs), and a row without a synopsis is an alias that help does not list. A '\n' in help
 * continues it on the next line, under the first. */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis, *help;
} command_t;

static const command_t s_commands[] = {
    {"run", s_run, "run [CONFIG]",
     "run a whole job here: learner, judges and actors as child processes\n"
     "(without CONFIG: the built-in quickstart, configs/quickstart.yaml)"},
    {"run", s_run, "run --resume RUN_DIR", "continue an interrupted run from its last complete checkpoint"},
    {"learner", s_role, "learner", "the learner role alone (cluster use)"},
    {"actor", s_role, "actor", "an actor alone; start any number"},
    {"judge", s_role, "judge", "a judge alone; start any number"},
    {"study", s_study, "study [CONFIG]",
     "every algorithm on the bt, cyclic and random game families through\n"
     "the real processes: study.md and exploitability plots in study.dir"},
    {"config", s_config, "config", "print the resolved config (--config, --set apply)"},
    {"bench", s_bench, "bench model", "the GPT policy's speed here: sgemm peak, training MFU, sampling, log-probs"},
    {"bench", s_bench, "bench judge", "judge throughput (pairs/s): rule, reward and preference judges, K = 4 and 8"},
    {"sft", s_sft, "sft [CONFIG]", "supervised training of a GPT policy (sft.data JSONL, or arith data)"},
    {"sample", s_sample, "sample MODEL", "completions of --prompt TEXT from a model folder (Hugging Face or spar's)"},
    {"score", s_score, "score MODEL F", "the log-prob of each {\"prompt\", \"response\"} line of F under a model"},
    {"logits", s_logits, "logits MODEL", "the logits of each {\"ids\": [...]} stdin line (checking a model)"},
    {"convert", s_convert, "convert MODEL OUT", "load a model folder and write it again (--dtype f32|bf16)"},
    {"merge", s_merge, "merge --base MODEL --adapter DIR --out OUT", "a full folder with LoRA adapters merged in"},
    {"judge-train", s_judge_train, "judge-train --kind reward|preference DATA.jsonl --out DIR",
     "train a learned judge on {\"prompt\", \"chosen\", \"rejected\"} lines"},
    {"tokenize", s_tokenize, "tokenize MODEL_DIR",
     "a model folder's tokenizer on stdin lines: text → ids (--decode: ids → text)"},
    {"tiny-models", s_tiny_models, "tiny-models DIR",
     "write small random model folders (policy, generative judge, reward model) for the chat configs"},
    {"chat", s_chat, "chat --model DIR", "a conversation (JSON, stdin) rendered with the folder's chat template (--ids)"},
    {"ping", s_ping, "ping ENDPOINT", "ask a learner or judge for its heartbeat (health checks)"},
    {"keygen", s_keygen, "keygen NAME...", "CURVE key pairs NAME.key and NAME.pub for security.curve (--out DIR)"},
    {"replay", s_replay, "replay RUN_DIR", "re-run every learner update from the run's records; check each checkpoint"},
    {"plot", s_plot, "plot RUN_DIR", "draw the run's curves from iterations.jsonl (gnuplot; --out FILE.png|.svg)"},
    {"monitor", s_monitor, "monitor RUN_DIR|ENDPOINT",
     "a live view: iteration table, learner status, peers, version lag, judge latency"},
    {"help", s_help_cmd, "help", "this text"},
    {"--help", s_help_cmd, NULL, NULL},
    {"-h", s_help_cmd, NULL, NULL},
};
#define N_COMMANDS (sizeof s_commands / sizeof s_commands[0])
#define HELP_COLUMN 14 /* synopses this long or shorter have their help beside them */
#define HELP_WIDTH 100 /* a longer synopsis too, when the line stays this narrow */

static void s_help_row(FILE *out, const command_t *c) {
    size_t n = strlen(c->synopsis), first = strcspn(c->help, "\n");
    if (n <= HELP_COLUMN) fprintf(out, "  %-*s ", HELP_COLUMN, c->synopsis);
    else if (2 + n + 2 + first <= HELP_WIDTH) fprintf(out, "  %s  ", c->synopsis);
    else fprintf(out, "  %s\n%*s", c->synopsis, HELP_COLUMN + 3, "");
    for (const char *h = c->help; *h; h++) {
        fputc(*h, out);
        if (*h == '\n') fprintf(out, "%*s", HELP_COLUMN + 3, "");
    }
    fputc('\n', out);
}

static void s_help(FILE *out) {
    fprintf(out, "spar — online, iterative self-play preference optimisation\n\n"
                 "usage: spar COMMAND [options]\n\n"
                 "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (s_commands[i].synopsis) s_help_row(out, &s_commands[i]);
    fprintf(out, "\nEvery command takes --help. The roles, run, study, config and sft take --config FILE and\n"
                 "repeated --set key=value (ping, monitor and replay take them too, for security and overrides).\n");
}

static int s_help_cmd(int argc, char **argv) {
    (void)argc, (void)argv;
    s_help(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        s_help(stdout);
        return 2;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], s_commands[i].name)) return s_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "spar: unknown command '%s'\n\n", argv[1]);
    s_help(stderr);
    return 2;
}
