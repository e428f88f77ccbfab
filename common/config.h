/* config — spar's settings: one table of options (key, type, bounds, default, help) drives
 * defaults, YAML parsing (libyaml), `--set key=value` overrides, validation and printing.
 * Errors name the file, line and key; callers print them and exit with status 2. */
#ifndef SPAR_CONFIG_H
#define SPAR_CONFIG_H

#include <stdio.h>

#define CFG_STR 256

typedef struct {
    struct {
        char name[CFG_STR];
        char dir[CFG_STR];
        long seed;
        long iterations;
    } run;
    struct {
        long prompts;
        char kind[CFG_STR]; /* game | arith | styles */
        long digits;
        long eval_prompts;
    } task;
    struct {
        char family[CFG_STR]; /* bt | cyclic | random | file */
        long n;
        double margin;
        double jitter;
        double bt_scale;
        long seed;
        char file[CFG_STR];
    } game;
    struct {
        char kind[CFG_STR]; /* auto | tabular | gpt */
        char init[CFG_STR]; /* uniform | random | sft | checkpoint */
        char checkpoint[CFG_STR];
        double init_scale;
    } policy;
    struct {
        char name[CFG_STR]; /* sppo | inpo | dno | dpo | ipo | apo */
        double eta;
        double eta_decay;
        double tau;
        double beta;
        double label_smoothing;
        char winrate[CFG_STR];   /* leave_one_out | include_self */
        char pairs[CFG_STR];     /* auto | all | best_worst */
        char labels[CFG_STR];    /* auto | hard | soft */
        char reference[CFG_STR]; /* ref | previous */
    } algorithm;
    struct {
        char form[CFG_STR]; /* prct | soft */
        double margin;
    } dno;
    struct {
        char base[CFG_STR]; /* sppo | dpo */
        double alpha;
    } apo;
    struct {
        long samples_per_prompt;
        long max_new;
        double temperature;
        long top_k;
        double top_p;
    } rollout;
    struct {
        long epochs;
        double lr;
        char optimizer[CFG_STR]; /* adam | sgd */
        double weight_decay, clip;
        long warmup, batch_seqs;
        long prompts_per_lease;
        long lease_timeout_ms;
        char control[CFG_STR];
        char publish[CFG_STR];
        long chunk_bytes;
        long broadcast_every;
        long step_groups;
        long max_staleness;
        char http[CFG_STR]; /* HOST:PORT of the metrics/status HTTP server; empty: off */
        long shutdown_grace_ms;
    } learner;
    struct {
        char kind[CFG_STR]; /* auto | matrix | rule | remote | reward | preference */
        char remote[CFG_STR];
        long both_orders;
        char checkpoint[CFG_STR];
        long cache_entries;
        long count;
        char bind[CFG_STR];
        char advertise[CFG_STR]; /* judge: the endpoint it registers with the learner */
        char endpoints[4 * CFG_STR]; /* comma-separated */
        long timeout_ms;
    } judge;
    struct {
        long count;
        long heartbeat_ms;
        long delay_ms;
        long resend_ms;
        long max_restarts;
    } actor;
    struct {
        long max_frame_bytes;
    } wire;
    struct {
        long curve; /* bool */
        char key[CFG_STR];
        char allowed[CFG_STR];
        char learner_public[CFG_STR];
        char judge_public[CFG_STR];
        char remote_public[CFG_STR];
    } security;
    struct {
        long iterations;
        long n;
        double tau;
        char dir[CFG_STR];
    } study;
    struct {
        long n_layer, n_head, d_model, ctx;
        long threads;
    } gpt;
    struct {
        char data[CFG_STR]; /* JSONL of {"prompt", "response"}; empty: generate from sft.task */
        long examples;
        double wrong_share;
        char out[CFG_STR];
        long steps, batch, warmup;
        double lr, weight_decay, clip;
    } sft;
    struct {
        char kind[CFG_STR]; /* reward | preference */
        char data[CFG_STR], out[CFG_STR];
        long dim, steps, batch, warmup, examples;
        double heldout, lr, weight_decay, clip;
    } judge_train;
} spar_config_t;

/* Fills every field with its default. */
void config_defaults(spar_config_t *cfg);

/* Applies the YAML file at `path` (or the in-memory `text` named `name` when text != NULL).
 * Returns 0, or -1 with a message "FILE:LINE: KEY: what is wrong" in err. */
int config_load_file(spar_config_t *cfg, const char *path, char *err, size_t errlen);
int config_load_string(spar_config_t *cfg, const char *name, const char *text, char *err,
                       size_t errlen);

/* Applies one "key=value" override. Returns 0 or -1 with a message in err. */
int config_set(spar_config_t *cfg, const char *assignment, char *err, size_t errlen);

/* Resolves the automatic choices (policy.kind, judge.kind: auto follows task.kind), then checks
 * relations between options (e.g. game.file set when game.family is file). */
int config_validate(spar_config_t *cfg, char *err, size_t errlen);

/* Writes the resolved config as YAML that config_load_file reads back unchanged. */
void config_write_yaml(const spar_config_t *cfg, FILE *out);

/* Writes the resolved config to path atomically (readers see the old file or the new one,
 * never a part), with an optional comment line first. Returns 0 or -errno. */
int config_save(const spar_config_t *cfg, const char *path, const char *comment);

/* Prints every option with its type, default and help (for --help). */
void config_print_options(FILE *out);

/* The built-in quickstart (configs/quickstart.yaml, embedded at build time). */
extern const char spar_quickstart_yaml[];

#endif
