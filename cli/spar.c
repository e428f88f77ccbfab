/* spar — the one binary: `spar run|learner|actor|judge|config|help`. Each subcommand parses
 * its arguments and config (exit 2 on a bad one) and hands over to its role's main. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#include "actor/actor.h"
#include "cli/args.h"
#include "cli/bench_judge.h"
#include "cli/bench_model.h"
#include "cli/gpt_cmds.h"
#include "cli/judge_train_cmd.h"
#include "cli/launcher.h"
#include "cli/monitor.h"
#include "cli/ping.h"
#include "cli/keygen.h"
#include "cli/plot.h"
#include "cli/sft.h"
#include "cli/study.h"
#include "common/log.h"
#include "judge/judge.h"
#include "learner/learner.h"
#include "learner/replay.h"

static void s_help(FILE *out) {
    fprintf(out,
            "spar — online, iterative self-play preference optimisation\n\n"
            "usage: spar COMMAND [options]\n\n"
            "commands:\n"
            "  run [CONFIG]   run a whole job here: learner, judges and actors as child processes\n"
            "                 (without CONFIG: the built-in quickstart, configs/quickstart.yaml)\n"
            "  run --resume RUN_DIR  continue an interrupted run from its last complete checkpoint\n"
            "  learner        the learner role alone (cluster use)\n"
            "  actor          an actor alone; start any number\n"
            "  judge          a judge alone; start any number\n"
            "  study [CONFIG] every algorithm on the bt, cyclic and random game families through\n"
            "                 the real processes: study.md and exploitability plots in study.dir\n"
            "  config         print the resolved config (--config, --set apply)\n"
            "  bench model    the GPT policy's speed here: sgemm peak, training MFU, sampling, log-probs\n"
            "  bench judge    judge throughput (pairs/s): rule, reward and preference judges, K = 4 and 8\n"
            "  sft [CONFIG]   supervised training of a GPT policy (sft.data JSONL, or arith data)\n"
            "  sample CKPT    completions of --prompt TEXT from a GPT checkpoint\n"
            "  score CKPT F   the log-prob of each {\"prompt\", \"response\"} line of F under a GPT checkpoint\n"
            "  judge-train --kind reward|preference DATA.jsonl --out DIR\n"
            "                 train a learned judge on {\"prompt\", \"chosen\", \"rejected\"} lines\n"
            "  ping ENDPOINT  ask a learner or judge for its heartbeat (health checks)\n"
            "  keygen NAME... CURVE key pairs NAME.key and NAME.pub for security.curve (--out DIR)\n"
            "  replay RUN_DIR re-run every learner update from the run's records; check each checkpoint\n"
            "  plot RUN_DIR   draw the run's curves from iterations.jsonl (gnuplot; --out FILE.png|.svg)\n"
            "  monitor RUN_DIR|ENDPOINT\n"
            "                 a live view: iteration table, learner status, peers, version lag, judge latency\n"
            "  help           this text\n\n"
            "Every command takes --help. The roles, run, study, config and sft take --config FILE and\n"
            "repeated --set key=value (ping, monitor and replay take them too, for security and overrides).\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        s_help(stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    args_t a;
    if (!strcmp(cmd, "run")) {
        args_parse(argc - 2, argv + 2, cmd, "[CONFIG | --resume RUN_DIR] [--set key=value]... [--verbose]", 1, &a);
        if (a.check) return 0;
        if (a.resume && !a.resume_dir) {
            fprintf(stderr, "spar run: --resume needs the run folder: spar run --resume RUN_DIR\n");
            return 2;
        }
        return launcher_run(&a);
    }
    if (!strcmp(cmd, "learner") || !strcmp(cmd, "actor") || !strcmp(cmd, "judge")) {
        args_parse(argc - 2, argv + 2, cmd, "[--config FILE] [--set key=value]... [--id NAME] [--check] [--resume [RUN_DIR]]", 0, &a);
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
    if (!strcmp(cmd, "study")) {
        args_parse(argc - 2, argv + 2, cmd, "[CONFIG] [--set key=value]...", 1, &a);
        if (a.check) return 0;
        return study_run(&a);
    }
    if (!strcmp(cmd, "sft")) {
        args_parse(argc - 2, argv + 2, cmd, "[CONFIG] [--set key=value]...", 1, &a);
        if (a.check) return 0;
        return sft_run(&a);
    }
    if (!strcmp(cmd, "replay")) {
        if (argc < 3 || argv[2][0] == '-') {
            if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
                printf("usage: spar replay RUN_DIR [--set key=value]...\n\n"
                       "Re-runs every learner update of the run from RUN_DIR/records/groups.pb alone, from its\n"
                       "iteration-0 checkpoint, and checks each new policy's digest against the run's checkpoint.\n"
                       "Exit 0: every checkpoint reproduced bit for bit; 1: one differs; 2: cannot replay.\n");
                return 0;
            }
            fprintf(stderr, "usage: spar replay RUN_DIR [--set key=value]...\n");
            return 2;
        }
        char *cfgpath = xasprintf("%s/config.yaml", argv[2]);
        char *rest[300];
        int n = 0;
        rest[n++] = "--config";
        rest[n++] = cfgpath;
        for (int i = 3; i < argc && n < 299; i++) rest[n++] = argv[i];
        args_parse(n, rest, cmd, "RUN_DIR [--set key=value]...", 0, &a);
        log_set_name("replay");
        int st = replay_main(&a.cfg, argv[2]);
        free(cfgpath);
        return st;
    }
    if (!strcmp(cmd, "sample")) return gpt_sample_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "judge-train")) return judge_train_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "ping")) return ping_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "keygen")) return keygen_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "plot")) return plot_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "monitor")) return monitor_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "score")) return gpt_score_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) {
        if (argc >= 3 && !strcmp(argv[2], "model")) return bench_model_main(argc - 3, argv + 3);
        if (argc >= 3 && !strcmp(argv[2], "judge")) return bench_judge_main(argc - 3, argv + 3);
        fprintf(stderr, "usage: spar bench model|judge [--threads N]\n");
        return 2;
    }
    if (!strcmp(cmd, "config")) {
        args_parse(argc - 2, argv + 2, cmd, "[--config FILE] [--set key=value]...", 1, &a);
        config_write_yaml(&a.cfg, stdout);
        return 0;
    }
    fprintf(stderr, "spar: unknown command '%s'\n\n", cmd);
    s_help(stderr);
    return 2;
}
