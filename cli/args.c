/* args — see args.h. */
#include "cli/args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/curve.h"
#include "common/game.h"

static void s_usage_exit(const char *command, const char *usage, int status) {
    FILE *out = status ? stderr : stdout;
    fprintf(out, "usage: spar %s %s\n\n", command, usage);
    fprintf(out,
            "options:\n"
            "  --config FILE     YAML config (default: the built-in quickstart)\n"
            "  --set KEY=VALUE   override one option; repeatable (after --config)\n"
            "  --id NAME         name of this process in logs and on the wire\n"
            "  --check           validate the config and exit (0: valid, 2: invalid)\n"
            "  --verbose         (run) echo every process's log lines\n"
            "  --resume [DIR]    (run, learner) continue the run in DIR (its config.yaml) or in\n"
            "                    run.dir from its last complete checkpoint, bit for bit\n"
            "  --help            this text\n\n"
            "config keys:\n");
    config_print_options(out);
    exit(status);
}

/* The flags and the positional CONFIG, as given; exits 0 after --help, 2 on an unexpected one. */
static void s_read_flags(int argc, char **argv, const char *command, const char *usage, int allow_positional,
                         args_t *out) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) s_usage_exit(command, usage, 0);
        else if (!strcmp(a, "--config") && has_value) out->config_path = argv[++i];
        else if (!strcmp(a, "--set") && has_value) {
            if (out->n_sets == 256) {
                fprintf(stderr, "spar %s: too many --set options\n", command);
                exit(2);
            }
            out->sets[out->n_sets++] = argv[++i];
        } else if (!strcmp(a, "--id") && has_value) out->id = argv[++i];
        else if (!strcmp(a, "--check")) out->check = 1;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) out->verbose = 1;
        else if (!strcmp(a, "--resume")) {
            out->resume = 1;
            if (has_value && argv[i + 1][0] != '-') out->resume_dir = argv[++i];
        }
        else if (a[0] != '-' && allow_positional && !out->positional) out->positional = a;
        else {
            fprintf(stderr, "spar %s: unexpected argument '%s'%s\n", command, a,
                    (!strcmp(a, "--config") || !strcmp(a, "--set") || !strcmp(a, "--id")) ? " (needs a value)" : "");
            s_usage_exit(command, usage, 2);
        }
    }
}

/* The config file: CONFIG or --config (not both), else with --resume DIR the run's own
 * resolved DIR/config.yaml, else none (the built-in quickstart). Exits 2 on a conflict. */
static void s_choose_config_path(args_t *out, const char *command) {
    if (out->positional && out->config_path) {
        fprintf(stderr, "spar %s: give the config either as an argument or with --config\n", command);
        exit(2);
    }
    if (out->positional) out->config_path = out->positional;
    static char resume_cfg[1100];
    if (out->resume_dir && !out->config_path) { /* the run's own resolved config */
        snprintf(resume_cfg, sizeof resume_cfg, "%s/config.yaml", out->resume_dir);
        out->config_path = resume_cfg;
        if (access(resume_cfg, R_OK) != 0) {
            fprintf(stderr, "spar %s: %s holds no run to resume (no readable config.yaml)\n", command, out->resume_dir);
            exit(2);
        }
    }
}

/* A game file is part of the config: it is checked before anything starts (generated games
 * cannot fail, and building every prompt's game of a large run just to check costs gigabytes). */
static int s_check_game_file(const spar_config_t *cfg, char *err, size_t len) {
    if (cfg->task.kind != TASK_GAME || cfg->game.family != FAMILY_FILE) return 0;
    game_set_t g;
    if (game_set_build(&g, cfg, err, len) != 0) return -1;
    game_set_free(&g);
    return 0;
}

/* The config: the file (or the quickstart), then each --set, the resumed run's folder, then
 * every check; exits 2 after printing the first problem. */
static void s_load_config(args_t *out, const char *command) {
    char err[1024];
    config_defaults(&out->cfg);
    int rc = out->config_path ? config_load_file(&out->cfg, out->config_path, err, sizeof err)
                              : config_load_string(&out->cfg, "quickstart (built-in)", spar_quickstart_yaml, err, sizeof err);
    for (int i = 0; rc == 0 && i < out->n_sets; i++) rc = config_set(&out->cfg, out->sets[i], err, sizeof err);
    if (rc == 0 && out->resume_dir) snprintf(out->cfg.run.dir, sizeof out->cfg.run.dir, "%s", out->resume_dir);
    if (rc == 0) rc = config_validate(&out->cfg, err, sizeof err);
    if (rc == 0) rc = curve_check_config(&out->cfg, command, err, sizeof err); /* key files, like the game file */
    if (rc == 0) rc = s_check_game_file(&out->cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "spar %s: config error: %s\n", command, err);
        exit(2);
    }
}

void args_parse(int argc, char **argv, const char *command, const char *usage, int allow_positional, args_t *out) {
    memset(out, 0, sizeof *out);
    s_read_flags(argc, argv, command, usage, allow_positional, out);
    s_choose_config_path(out, command);
    s_load_config(out, command);
}

int args_tool_config(spar_config_t *cfg, const char *tool, const char *path, const char *const *sets, int n_sets,
                     int judge) {
    char err[1024];
    config_defaults(cfg);
    int rc = path ? config_load_file(cfg, path, err, sizeof err) : 0;
    for (int i = 0; rc == 0 && i < n_sets; i++) rc = config_set(cfg, sets[i], err, sizeof err);
    if (rc == 0) rc = config_validate(cfg, err, sizeof err);
    if (rc == 0) rc = curve_check_config(cfg, tool, err, sizeof err);
    const char *server = judge ? cfg->security.judge_public : cfg->security.learner_public;
    if (rc == 0 && cfg->security.curve && (!cfg->security.key[0] || !server[0])) {
        snprintf(err, sizeof err, "%s: %s needs it when security.curve is true",
                 !cfg->security.key[0] ? "security.key" : judge ? "security.judge_public" : "security.learner_public", tool);
        rc = -1;
    }
    if (rc != 0) fprintf(stderr, "spar %s: config error: %s\n", tool, err);
    return rc;
}

int args_threads(int argc, char **argv, const char *command, const char *help, int *threads) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) *threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--help")) {
            fputs(help, stdout);
            return 0;
        } else {
            fprintf(stderr, "spar %s: unexpected argument '%s'\n", command, argv[i]);
            return 2;
        }
    }
    return -1;
}
