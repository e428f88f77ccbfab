/* args — command-line handling shared by the role commands: --config FILE, repeated
 * --set key=value, --id NAME, --check, --help. Config problems print "FILE:LINE: KEY: what"
 * and exit with status 2 before anything starts. */
#ifndef SPAR_ARGS_H
#define SPAR_ARGS_H

#include "common/config.h"

typedef struct {
    spar_config_t cfg;
    const char *config_path; /* NULL: the built-in quickstart */
    const char *id;
    int check; /* validate the config and exit */
    int verbose;
    int resume;             /* --resume: continue the run in run.dir (or the RUN_DIR given) */
    const char *resume_dir; /* --resume RUN_DIR: its config.yaml is the config, run.dir is it */
    const char *positional; /* spar run [CONFIG] */
    const char *sets[256];  /* the --set overrides, as given */
    int n_sets;
} args_t;

/* Parses argv (after the subcommand). Exits 0 after --help, 2 on any error. */
void args_parse(int argc, char **argv, const char *command, const char *usage, int allow_positional, args_t *out);

/* The config of a tool that talks to a running learner or judge (ping, monitor): --config,
 * then each --set; with security.curve it must name its key and the server's public key.
 * Returns 0, or -1 after printing the error. */
int args_tool_config(spar_config_t *cfg, const char *tool, const char *path, const char *const *sets, int n_sets,
                     int judge);

/* The options of a command that takes only --threads N (into *threads) and --help (prints
 * help as given). Returns -1 to go on, else the exit status: 0 after --help, 2 after an
 * unexpected argument ("spar COMMAND: unexpected argument 'X'"). */
int args_threads(int argc, char **argv, const char *command, const char *help, int *threads);

#endif
