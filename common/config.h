/* config — spar's settings: one table of options (key, type, bounds, default, help) drives
 * defaults, YAML parsing (libyaml), `--set key=value` overrides, validation and printing.
 * Errors name the file, line and key; callers print them and exit with status 2. */
#ifndef SPAR_CONFIG_H
#define SPAR_CONFIG_H

#include <stdio.h>

#define CFG_STR 256

/* Every choice-valued option is a C enum, parsed once here; its names (as written in YAML and
 * --set) are one table each, indexed by the enum: config_name(CFG_NAMES_X, value). */
typedef enum { TASK_GAME, TASK_ARITH, TASK_STYLES, TASK_PROMPTS } task_kind_t;
typedef enum { FAMILY_BT, FAMILY_CYCLIC, FAMILY_RANDOM, FAMILY_FILE } game_family_t;
typedef enum { POLICY_AUTO, POLICY_TABULAR, POLICY_GPT } policy_kind_t;
typedef enum { INIT_UNIFORM, INIT_RANDOM, INIT_SFT, INIT_CHECKPOINT } policy_init_t;
typedef enum {
    ALG_SPPO, ALG_INPO, ALG_DNO, ALG_DPO, ALG_IPO, ALG_ONLINE_IPO, ALG_NASH_MD, ALG_EGPO, ALG_APO
} alg_name_t;
typedef enum { WINRATE_LEAVE_ONE_OUT, WINRATE_INCLUDE_SELF } winrate_t;
typedef enum { PAIRS_AUTO, PAIRS_ALL, PAIRS_BEST_WORST } pairs_choice_t;
typedef enum { LABELS_AUTO, LABELS_HARD, LABELS_SOFT } labels_t;
typedef enum { REFERENCE_REF, REFERENCE_PREVIOUS } reference_t;
typedef enum { DNO_PRCT, DNO_SOFT } dno_form_t;
typedef enum { APO_BASE_SPPO, APO_BASE_DPO } apo_base_t;
typedef enum { OPTIMIZER_ADAM, OPTIMIZER_SGD } optimizer_t;
typedef enum {
    JUDGE_AUTO, JUDGE_MATRIX, JUDGE_RULE, JUDGE_REMOTE, JUDGE_REWARD, JUDGE_PREFERENCE, JUDGE_GENERATIVE
} judge_kind_t;
typedef enum { JUDGE_TRAIN_REWARD, JUDGE_TRAIN_PREFERENCE } judge_train_kind_t;

extern const char *const CFG_NAMES_TASK[], *const CFG_NAMES_FAMILY[], *const CFG_NAMES_POLICY[],
    *const CFG_NAMES_INIT[], *const CFG_NAMES_ALG[], *const CFG_NAMES_WINRATE[],
    *const CFG_NAMES_PAIRS[], *const CFG_NAMES_LABELS[], *const CFG_NAMES_REFERENCE[],
    *const CFG_NAMES_DNO[], *const CFG_NAMES_APO_BASE[], *const CFG_NAMES_OPTIMIZER[],
    *const CFG_NAMES_JUDGE[], *const CFG_NAMES_JUDGE_TRAIN[];
/* The name of an enum value in its table (NULL-terminated), "?" when out of range. */
const char *config_name(const char *const *names, int value);

typedef struct {
    struct {
        char name[CFG_STR];
        char dir[CFG_STR];
        long seed;
        long iterations;
    } run;
    struct {
        long prompts;
        task_kind_t kind;
        long digits;
        long eval_prompts;
        char file[CFG_STR];     /* prompts: JSONL of {"prompt"} or {"messages"}, optional "id" */
        char template[CFG_STR]; /* prompts: auto (the model's chat_template), none (raw text) or a .jinja file */
        double heldout;         /* prompts: share of the file held out for evaluation */
    } task;
    struct {
        game_family_t family;
        long n;
        double margin;
        double jitter;
        double bt_scale;
        long seed;
        char file[CFG_STR];
    } game;
    struct {
        policy_kind_t kind; /* never POLICY_AUTO after config_validate */
        policy_init_t init;
        char checkpoint[CFG_STR];
        double init_scale;
        struct {
            long rank;          /* 0: off (full fine-tuning) */
            double alpha;       /* scale alpha / rank */
            char targets[CFG_STR]; /* comma-separated module names: q_proj,v_proj,... */
        } lora;
    } policy;
    struct {
        alg_name_t name;
        double eta;
        double eta_decay;
        double tau;
        double beta;
        double label_smoothing;
        winrate_t winrate;
        pairs_choice_t pairs;
        labels_t labels;
        reference_t reference;
    } algorithm;
    struct {
        dno_form_t form;
        double margin;
    } dno;
    struct {
        apo_base_t base;
        double alpha;
    } apo;
    struct {
        long samples_per_prompt;
        long max_new;
        double temperature;
        long top_k;
        double top_p;
        char stop[CFG_STR]; /* a stop string, or a JSON list of them; empty: none */
    } rollout;
    struct {
        long epochs;
        double lr;
        optimizer_t optimizer;
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
        judge_kind_t kind; /* never JUDGE_AUTO after config_validate */
        char remote[CFG_STR];
        long both_orders;
        char checkpoint[CFG_STR];
        long cache_entries;
        long count;
        char bind[CFG_STR];
        char advertise[CFG_STR]; /* judge: the endpoint it registers with the learner */
        char endpoints[4 * CFG_STR]; /* comma-separated */
        long timeout_ms;
        char template[CFG_STR]; /* generative: the comparison prompt file; empty: the built-in one */
        char labels[CFG_STR];   /* generative: the two answer labels, comma-separated */
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
        judge_train_kind_t kind;
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

/* The algorithm whose loss is trained: algorithm.name, or APO's base (apo.base). */
alg_name_t config_trained_algorithm(const spar_config_t *cfg);

/* Prints every option with its type, default and help (for --help). */
void config_print_options(FILE *out);

/* The built-in quickstart (configs/quickstart.yaml, embedded at build time). */
extern const char spar_quickstart_yaml[];

#endif
