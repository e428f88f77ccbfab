/* config — the option table and its readers. See config.h. */
#include "common/config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/util.h"
#include "common/wire.h"

typedef enum { T_INT, T_FLOAT, T_STRING, T_ENUM, T_BOOL } opt_type_t;

typedef struct {
    const char *key;
    opt_type_t type;
    size_t offset;
    size_t size; /* for strings: capacity */
    double min, max;
    const char *def;
    const char *const *names; /* for T_ENUM: the enum's name table */
    const char *help;
} option_t;

const char *const CFG_NAMES_TASK[] = {"game", "arith", "styles", "prompts", NULL};
const char *const CFG_NAMES_FAMILY[] = {"bt", "cyclic", "random", "file", NULL};
const char *const CFG_NAMES_POLICY[] = {"auto", "tabular", "gpt", NULL};
const char *const CFG_NAMES_INIT[] = {"uniform", "random", "sft", "checkpoint", NULL};
const char *const CFG_NAMES_ALG[] = {"sppo", "inpo", "dno", "dpo", "ipo", "online-ipo", "nash-md", "egpo", "apo", NULL};
const char *const CFG_NAMES_WINRATE[] = {"leave_one_out", "include_self", NULL};
const char *const CFG_NAMES_PAIRS[] = {"auto", "all", "best_worst", NULL};
const char *const CFG_NAMES_LABELS[] = {"auto", "hard", "soft", NULL};
const char *const CFG_NAMES_REFERENCE[] = {"ref", "previous", NULL};
const char *const CFG_NAMES_DNO[] = {"prct", "soft", NULL};
const char *const CFG_NAMES_APO_BASE[] = {"sppo", "dpo", NULL};
const char *const CFG_NAMES_OPTIMIZER[] = {"adam", "sgd", NULL};
const char *const CFG_NAMES_JUDGE[] = {"auto", "matrix", "rule", "remote", "reward", "preference", "generative", NULL};
const char *const CFG_NAMES_JUDGE_TRAIN[] = {"reward", "preference", NULL};

const char *config_name(const char *const *names, int value) {
    for (int i = 0; names[i]; i++)
        if (i == value) return names[i];
    return "?";
}

#define OFF(f) offsetof(spar_config_t, f), sizeof(((spar_config_t *)0)->f)
#define BIG 1e15

static const option_t s_options[] = {
    {"run.name", T_STRING, OFF(run.name), 0, 0, "quickstart", NULL, "run name; the run folder is runs/<name>"},
    {"run.dir", T_STRING, OFF(run.dir), 0, 0, "", NULL, "run folder (default runs/<name>, made unique)"},
    {"run.seed", T_INT, OFF(run.seed), 0, BIG, "1", NULL, "seed of sampling and initialisation"},
    {"run.iterations", T_INT, OFF(run.iterations), 1, 1e7, "30", NULL, "self-play iterations"},
    {"task.prompts", T_INT, OFF(task.prompts), 1, 1e7, "16", NULL, "prompts per iteration (matrix games: one game each)"},
    {"task.kind", T_ENUM, OFF(task.kind), 0, 0, "game", CFG_NAMES_TASK, "game: matrix games (tabular); arith, styles: text (gpt); prompts: a JSONL file of prompts (task.file)"},
    {"task.digits", T_INT, OFF(task.digits), 1, 9, "2", NULL, "arith, styles: digits of each operand"},
    {"task.eval_prompts", T_INT, OFF(task.eval_prompts), 0, 1e6, "200", NULL, "arith, styles: held-out problems for accuracy; prompts: held-out prompts evaluated each iteration (at most)"},
    {"task.file", T_STRING, OFF(task.file), 0, 0, "", NULL, "prompts: JSONL, one {\"prompt\": TEXT} or {\"messages\": [{\"role\", \"content\"}, ...]} per line, optional \"id\""},
    {"task.template", T_STRING, OFF(task.template), 0, 0, "auto", NULL, "prompts: how a conversation becomes the model's text: auto (the model's chat_template), none (the prompt's raw text) or a Jinja template file"},
    {"task.heldout", T_FLOAT, OFF(task.heldout), 0, 0.9, "0.05", NULL, "prompts: share of the file held out for evaluation (never trained on)"},
    {"game.family", T_ENUM, OFF(game.family), 0, 0, "cyclic", CFG_NAMES_FAMILY, "matrix-game family"},
    {"game.n", T_INT, OFF(game.n), 2, 4096, "3", NULL, "responses per prompt (actions of the game)"},
    {"game.margin", T_FLOAT, OFF(game.margin), 0, 1, "0.8", NULL, "cyclic: |2P-1| of a win"},
    {"game.jitter", T_FLOAT, OFF(game.jitter), 0, 1, "0", NULL, "cyclic: random share of each margin (0: all equal)"},
    {"game.bt_scale", T_FLOAT, OFF(game.bt_scale), 0, 100, "2", NULL, "bt: std-dev of the Bradley-Terry scores"},
    {"game.seed", T_INT, OFF(game.seed), 0, BIG, "7", NULL, "seed of the generated games"},
    {"game.file", T_STRING, OFF(game.file), 0, 0, "", NULL, "game file (family file); format in README"},
    {"policy.kind", T_ENUM, OFF(policy.kind), 0, 0, "auto", CFG_NAMES_POLICY, "policy backend (auto: tabular for game, gpt for text tasks)"},
    {"policy.init", T_ENUM, OFF(policy.init), 0, 0, "random", CFG_NAMES_INIT, "tabular: uniform|random logits; gpt: random, sft (trained first) or checkpoint"},
    {"policy.checkpoint", T_STRING, OFF(policy.checkpoint), 0, 0, "", NULL, "text tasks: the model to start from, a Hugging Face folder (Llama, Mistral, Qwen2, Qwen3, GPT-2, with its tokenizer) or a spar checkpoint; set, it implies policy.init checkpoint (with init sft: SFT starts from it)"},
    {"policy.init_scale", T_FLOAT, OFF(policy.init_scale), 0, 100, "0.5", NULL, "std-dev of random initial logits"},
    {"policy.lora.rank", T_INT, OFF(policy.lora.rank), 0, 4096, "0", NULL, "hf policy: LoRA adapter rank (0: off, every weight trains)"},
    {"policy.lora.alpha", T_FLOAT, OFF(policy.lora.alpha), 1e-9, 1e9, "16", NULL, "LoRA: the adapters' output is scaled by alpha / rank"},
    {"policy.lora.targets", T_STRING, OFF(policy.lora.targets), 0, 0, "q_proj,k_proj,v_proj,o_proj", NULL, "LoRA: the linear modules adapted, comma-separated (q_proj k_proj v_proj o_proj gate_proj up_proj down_proj)"},
    {"algorithm.name", T_ENUM, OFF(algorithm.name), 0, 0, "sppo", CFG_NAMES_ALG, "learning algorithm"},
    {"algorithm.eta", T_FLOAT, OFF(algorithm.eta), 1e-9, 1e9, "1", NULL, "mirror-descent step size (bigger moves more): SPPO, INPO, DNO soft"},
    {"algorithm.eta_decay", T_FLOAT, OFF(algorithm.eta_decay), 0, 1e9, "0", NULL, "eta_t = eta / (1 + eta_decay (t - 1))"},
    {"algorithm.tau", T_FLOAT, OFF(algorithm.tau), 1e-9, 1e9, "0.1", NULL, "KL coefficient to pi_ref: INPO, Nash-MD (eta*tau <= 1), IPO, online IPO, EGPO"},
    {"algorithm.beta", T_FLOAT, OFF(algorithm.beta), 1e-9, 1e9, "0.1", NULL, "DPO / DNO-Prct beta"},
    {"algorithm.label_smoothing", T_FLOAT, OFF(algorithm.label_smoothing), 0, 0.5, "0", NULL, "DPO label smoothing (cDPO)"},
    {"algorithm.winrate", T_ENUM, OFF(algorithm.winrate), 0, 0, "leave_one_out", CFG_NAMES_WINRATE, "SPPO win-rate estimate"},
    {"algorithm.pairs", T_ENUM, OFF(algorithm.pairs), 0, 0, "auto", CFG_NAMES_PAIRS, "pair losses' pairs (auto: all with soft labels, best vs worst with hard; SPPO all K)"},
    {"algorithm.labels", T_ENUM, OFF(algorithm.labels), 0, 0, "auto", CFG_NAMES_LABELS, "pair labels: the judge's winner, or its expectation (auto: soft for INPO, IPO; hard for DPO, DNO)"},
    {"algorithm.reference", T_ENUM, OFF(algorithm.reference), 0, 0, "ref", CFG_NAMES_REFERENCE, "DPO reference: pi_ref or pi_t"},
    {"dno.form", T_ENUM, OFF(dno.form), 0, 0, "prct", CFG_NAMES_DNO, "DNO-Prct (DPO vs pi_t on large margins) or soft-label"},
    {"dno.margin", T_FLOAT, OFF(dno.margin), 0, 1, "0.1", NULL, "DNO-Prct: least win-rate margin of a kept pair"},
    {"apo.base", T_ENUM, OFF(apo.base), 0, 0, "sppo", CFG_NAMES_APO_BASE, "APO: the algorithm it accelerates"},
    {"apo.alpha", T_FLOAT, OFF(apo.alpha), 0, 0.999, "0.3", NULL, "APO: Nesterov extrapolation weight"},
    {"rollout.samples_per_prompt", T_INT, OFF(rollout.samples_per_prompt), 2, 4096, "128", NULL, "K, responses sampled per prompt"},
    {"rollout.max_new", T_INT, OFF(rollout.max_new), 1, 8192, "8", NULL, "gpt: response tokens at most"},
    {"rollout.temperature", T_FLOAT, OFF(rollout.temperature), 0, 100, "1", NULL, "gpt: sampling temperature (1: the policy itself)"},
    {"rollout.top_k", T_INT, OFF(rollout.top_k), 0, 1e6, "0", NULL, "gpt: sample among the k likeliest tokens (0: off)"},
    {"rollout.top_p", T_FLOAT, OFF(rollout.top_p), 1e-6, 1, "1", NULL, "gpt: nucleus sampling mass (1: off)"},
    {"rollout.stop", T_STRING, OFF(rollout.stop), 0, 0, "", NULL, "a response also ends where this text appears (kept); several: a JSON list [\"a\", \"b\"]; empty: only EOS and max_new"},
    {"learner.epochs", T_INT, OFF(learner.epochs), 0, 1e7, "0", NULL, "optimiser passes per step; 0: automatic (EGPO, online IPO 1; gpt 2; others 50)"},
    {"learner.lr", T_FLOAT, OFF(learner.lr), 0, 1e6, "0", NULL, "learning rate of the mean loss over prompts; 0: automatic (README)"},
    {"learner.optimizer", T_ENUM, OFF(learner.optimizer), 0, 0, "sgd", CFG_NAMES_OPTIMIZER, "tabular optimiser (gpt: always AdamW)"},
    {"learner.weight_decay", T_FLOAT, OFF(learner.weight_decay), 0, 10, "0", NULL, "gpt: AdamW weight decay"},
    {"learner.clip", T_FLOAT, OFF(learner.clip), 0, 1e9, "1", NULL, "gpt: gradient-norm clip (0: off)"},
    {"learner.warmup", T_INT, OFF(learner.warmup), 0, 1e7, "0", NULL, "gpt: AdamW warm-up steps of each iteration"},
    {"learner.batch_seqs", T_INT, OFF(learner.batch_seqs), 1, 1e7, "64", NULL, "gpt: sequences per AdamW step (whole groups; a mini-batch)"},
    {"learner.prompts_per_lease", T_INT, OFF(learner.prompts_per_lease), 1, 1e6, "4", NULL, "prompts granted per lease"},
    {"learner.lease_timeout_ms", T_INT, OFF(learner.lease_timeout_ms), 10, 1e8, "5000", NULL, "a lease not answered by then is re-issued"},
    {"learner.control", T_STRING, OFF(learner.control), 0, 0, "tcp://127.0.0.1:5555", NULL, "learner control endpoint (ROUTER)"},
    {"learner.publish", T_STRING, OFF(learner.publish), 0, 0, "tcp://127.0.0.1:5556", NULL, "learner broadcast endpoint (PUB)"},
    {"learner.chunk_bytes", T_INT, OFF(learner.chunk_bytes), 1024, 1 << 30, "1048576", NULL, "weight transfer chunk size"},
    {"learner.broadcast_every", T_INT, OFF(learner.broadcast_every), 0, 1e9, "0", NULL, "online mode: new version every N learner steps (0: every iteration)"},
    {"learner.step_groups", T_INT, OFF(learner.step_groups), 0, 1e7, "0", NULL, "online mode: groups per learner step (0: prompts_per_lease)"},
    {"learner.max_staleness", T_INT, OFF(learner.max_staleness), 0, 1000, "0", NULL, "admit groups sampled at most this many versions back"},
    {"learner.http", T_STRING, OFF(learner.http), 0, 0, "", NULL, "serve Prometheus metrics (/metrics) and the live status (/status) over HTTP at HOST:PORT; empty: off"},
    {"learner.shutdown_grace_ms", T_INT, OFF(learner.shutdown_grace_ms), 0, 1e7, "1000", NULL, "how long a finished learner stays to tell actors (also ones joining late) the run ended"},
    {"judge.kind", T_ENUM, OFF(judge.kind), 0, 0, "auto", CFG_NAMES_JUDGE, "judge backend (auto: matrix for game, rule for text tasks; remote: forward to judge.remote; reward: a spar judge-train reward model or a Hugging Face *ForSequenceClassification folder in judge.checkpoint; preference: a spar judge-train preference model; generative: an LLM judge from a causal model folder in judge.checkpoint)"},
    {"judge.checkpoint", T_STRING, OFF(judge.checkpoint), 0, 0, "", NULL, "judge.kind reward|preference: the spar judge-train folder, or (reward) a Hugging Face *ForSequenceClassification folder; generative: a causal model folder"},
    {"judge.cache_entries", T_INT, OFF(judge.cache_entries), 0, 1e8, "65536", NULL, "cache size: learned judges' (prompt, response) embeddings, remote judges' verdicts (0: none)"},
    {"judge.remote", T_STRING, OFF(judge.remote), 0, 0, "", NULL, "judge.kind remote: endpoint of a process speaking the judge protocol"},
    {"judge.both_orders", T_INT, OFF(judge.both_orders), 0, 1, "1", NULL, "judge.kind remote, generative: ask in both orders and average (position-bias control)"},
    {"judge.template", T_STRING, OFF(judge.template), 0, 0, "", NULL, "judge.kind generative: file of the comparison prompt ({prompt}, {a}, {b}); empty: the built-in one"},
    {"judge.labels", T_STRING, OFF(judge.labels), 0, 0, "A,B", NULL, "judge.kind generative: the labels of the first and second answer, whose next-token probabilities give P(first better)"},
    {"judge.count", T_INT, OFF(judge.count), 1, 64, "1", NULL, "judges the launcher starts"},
    {"judge.bind", T_STRING, OFF(judge.bind), 0, 0, "tcp://*:5557", NULL, "judge endpoint to bind (ROUTER)"},
    {"judge.endpoints", T_STRING, OFF(judge.endpoints), 0, 0, "tcp://127.0.0.1:5557", NULL, "judges an actor uses, comma-separated (plus those the learner's judge pool names)"},
    {"judge.advertise", T_STRING, OFF(judge.advertise), 0, 0, "", NULL, "where actors reach this judge, to join the learner's judge pool ({host}, {ip} expand); empty: judge.bind unless it binds a wildcard"},
    {"judge.timeout_ms", T_INT, OFF(judge.timeout_ms), 10, 1e8, "2000", NULL, "actor waits this long, then asks another judge"},
    {"actor.count", T_INT, OFF(actor.count), 0, 1024, "2", NULL, "actors the launcher starts"},
    {"actor.heartbeat_ms", T_INT, OFF(actor.heartbeat_ms), 10, 1e7, "500", NULL, "heartbeat period"},
    {"actor.delay_ms", T_INT, OFF(actor.delay_ms), 0, 1e7, "0", NULL, "extra delay per group (simulates slow generation)"},
    {"actor.resend_ms", T_INT, OFF(actor.resend_ms), 10, 1e7, "1000", NULL, "re-send an unacknowledged group after this"},
    {"actor.max_restarts", T_INT, OFF(actor.max_restarts), 0, 1e6, "20", NULL, "launcher: restarts of crashed actors and judges"},
    {"study.iterations", T_INT, OFF(study.iterations), 1, 1e6, "60", NULL, "spar study: iterations of every run"},
    {"study.n", T_INT, OFF(study.n), 2, 4096, "5", NULL, "spar study: actions of every game"},
    {"study.tau", T_FLOAT, OFF(study.tau), 1e-6, 1e6, "0.2", NULL, "spar study: tau of the regularised algorithms"},
    {"study.dir", T_STRING, OFF(study.dir), 0, 0, "runs/study", NULL, "spar study: where runs, study.md and plots go"},
    {"gpt.n_layer", T_INT, OFF(gpt.n_layer), 1, 96, "4", NULL, "GPT policy: transformer blocks"},
    {"gpt.n_head", T_INT, OFF(gpt.n_head), 1, 64, "4", NULL, "GPT policy: attention heads (divide d_model)"},
    {"gpt.d_model", T_INT, OFF(gpt.d_model), 8, 8192, "128", NULL, "GPT policy: channels"},
    {"gpt.ctx", T_INT, OFF(gpt.ctx), 8, 8192, "32", NULL, "GPT policy: context length in tokens (bytes)"},
    {"gpt.threads", T_INT, OFF(gpt.threads), 0, 1024, "1", NULL, "GPT policy: OpenBLAS threads per process (0: OpenBLAS's default)"},
    {"sft.data", T_STRING, OFF(sft.data), 0, 0, "", NULL, "spar sft: JSONL of {prompt, response}; empty: task.kind's generated data"},
    {"sft.examples", T_INT, OFF(sft.examples), 1, 1e8, "4000", NULL, "spar sft: generated examples"},
    {"sft.wrong_share", T_FLOAT, OFF(sft.wrong_share), 0, 1, "0.3", NULL, "arith, styles: share of generated answers that are wrong"},
    {"sft.out", T_STRING, OFF(sft.out), 0, 0, "runs/sft", NULL, "spar sft: checkpoint folder (Hugging Face layout)"},
    {"sft.steps", T_INT, OFF(sft.steps), 1, 1e8, "600", NULL, "spar sft: optimiser steps"},
    {"sft.batch", T_INT, OFF(sft.batch), 1, 4096, "32", NULL, "spar sft: sequences per step"},
    {"sft.warmup", T_INT, OFF(sft.warmup), 0, 1e8, "30", NULL, "spar sft: warm-up steps"},
    {"sft.lr", T_FLOAT, OFF(sft.lr), 1e-9, 10, "0.003", NULL, "spar sft: AdamW peak learning rate"},
    {"sft.weight_decay", T_FLOAT, OFF(sft.weight_decay), 0, 10, "0.01", NULL, "spar sft: AdamW weight decay"},
    {"sft.clip", T_FLOAT, OFF(sft.clip), 0, 1e9, "1", NULL, "spar sft: gradient-norm clip (0: off)"},
    {"judge_train.kind", T_ENUM, OFF(judge_train.kind), 0, 0, "reward", CFG_NAMES_JUDGE_TRAIN, "spar judge-train: Bradley-Terry reward model or general preference model"},
    {"judge_train.data", T_STRING, OFF(judge_train.data), 0, 0, "", NULL, "spar judge-train: JSONL of {prompt, chosen, rejected[, tie]}; empty: rule-labelled pairs of task.kind"},
    {"judge_train.examples", T_INT, OFF(judge_train.examples), 1, 1e8, "4000", NULL, "spar judge-train: generated pairs when judge_train.data is empty"},
    {"judge_train.out", T_STRING, OFF(judge_train.out), 0, 0, "runs/judge", NULL, "spar judge-train: checkpoint folder"},
    {"judge_train.dim", T_INT, OFF(judge_train.dim), 2, 1024, "8", NULL, "preference model: embedding size (even)"},
    {"judge_train.heldout", T_FLOAT, OFF(judge_train.heldout), 0, 0.9, "0.1", NULL, "spar judge-train: share of the lines held out"},
    {"judge_train.steps", T_INT, OFF(judge_train.steps), 1, 1e8, "600", NULL, "spar judge-train: AdamW steps"},
    {"judge_train.batch", T_INT, OFF(judge_train.batch), 1, 4096, "16", NULL, "spar judge-train: pairs per step"},
    {"judge_train.lr", T_FLOAT, OFF(judge_train.lr), 1e-9, 10, "0.001", NULL, "spar judge-train: AdamW peak learning rate"},
    {"judge_train.warmup", T_INT, OFF(judge_train.warmup), 0, 1e8, "20", NULL, "spar judge-train: warm-up steps"},
    {"judge_train.weight_decay", T_FLOAT, OFF(judge_train.weight_decay), 0, 10, "0", NULL, "spar judge-train: AdamW weight decay"},
    {"judge_train.clip", T_FLOAT, OFF(judge_train.clip), 0, 1e9, "1", NULL, "spar judge-train: gradient-norm clip (0: off)"},
    {"wire.max_frame_bytes", T_INT, OFF(wire.max_frame_bytes), 256, 1L << 31, "67108864", NULL, "larger frames are dropped"},
    {"security.curve", T_BOOL, OFF(security.curve), 0, 0, "false", NULL, "CURVE encryption on every socket; servers admit only security.allowed keys (README: Security)"},
    {"security.key", T_STRING, OFF(security.key), 0, 0, "", NULL, "this process's secret key file (NAME.key from spar keygen); set per process"},
    {"security.allowed", T_STRING, OFF(security.allowed), 0, 0, "", NULL, "learner, judges: a folder of *.pub files (or one .pub file), the client keys admitted"},
    {"security.learner_public", T_STRING, OFF(security.learner_public), 0, 0, "", NULL, "actors, ping: the learner's public key file"},
    {"security.judge_public", T_STRING, OFF(security.judge_public), 0, 0, "", NULL, "actors, ping --judge: the judges' public key file (judges share one key pair)"},
    {"security.remote_public", T_STRING, OFF(security.remote_public), 0, 0, "", NULL, "judge.kind remote: the remote judge's public key file"},
};
#define N_OPTIONS (sizeof s_options / sizeof s_options[0])

static const option_t *s_find(const char *key) {
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(s_options[i].key, key) == 0) return &s_options[i];
    return NULL;
}

static int s_in_choices(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

/* The index of v in a name table, or -1. */
static int s_name_index(const char *const *names, const char *v) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0) return i;
    return -1;
}

/* "a|b|c" from a name table, for errors and help. */
static void s_names_joined(const char *const *names, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; names[i] && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "|" : "", names[i]);
}

/* The readers of each option type: parse `value` into the field at `base`. Each returns 0, or -1
 * with a reason in why. */
static int s_assign_int(const option_t *o, char *base, const char *value, char *why, size_t wl) {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (!*value || *end || errno) return util_refuse(why, wl, "expected an integer, got '%s'", value);
    if (v < o->min || v > o->max) return util_refuse(why, wl, "%ld is out of range [%.0f, %.0f]", v, o->min, o->max);
    *(long *)base = v;
    return 0;
}

static int s_assign_float(const option_t *o, char *base, const char *value, char *why, size_t wl) {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (!*value || *end || errno || !isfinite(v)) return util_refuse(why, wl, "expected a number, got '%s'", value);
    if (v < o->min || v > o->max) return util_refuse(why, wl, "%g is out of range [%g, %g]", v, o->min, o->max);
    *(double *)base = v;
    return 0;
}

static int s_assign_bool(char *base, const char *value, char *why, size_t wl) {
    if (s_in_choices("true|yes|on|1", value)) *(long *)base = 1;
    else if (s_in_choices("false|no|off|0", value)) *(long *)base = 0;
    else return util_refuse(why, wl, "expected true or false, got '%s'", value);
    return 0;
}

static int s_assign_enum(const option_t *o, char *base, const char *value, char *why, size_t wl) {
    int v = s_name_index(o->names, value);
    if (v < 0) {
        char all[512];
        s_names_joined(o->names, all, sizeof all);
        return util_refuse(why, wl, "'%s' is not one of %s", value, all);
    }
    *(int *)base = v; /* every choice field is an enum (int-sized; checked in config_defaults) */
    return 0;
}

static int s_assign_string(const option_t *o, char *base, const char *value, char *why, size_t wl) {
    if (strlen(value) >= o->size) return util_refuse(why, wl, "value longer than %zu characters", o->size - 1);
    snprintf(base, o->size, "%s", value);
    return 0;
}

/* Parses `value` into the option's field. Returns 0 or -1 with a reason in why. */
static int s_assign(spar_config_t *cfg, const option_t *o, const char *value, char *why, size_t wl) {
    char *base = (char *)cfg + o->offset;
    switch (o->type) {
    case T_INT: return s_assign_int(o, base, value, why, wl);
    case T_FLOAT: return s_assign_float(o, base, value, why, wl);
    case T_BOOL: return s_assign_bool(base, value, why, wl);
    case T_ENUM: return s_assign_enum(o, base, value, why, wl);
    case T_STRING: return s_assign_string(o, base, value, why, wl);
    }
    return -1;
}

void config_defaults(spar_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    char why[256];
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (s_options[i].type == T_ENUM && s_options[i].size != sizeof(int)) abort(); /* not an enum field */
        int rc = s_assign(cfg, &s_options[i], s_options[i].def, why, sizeof why);
        if (rc != 0) { /* a bad default is a programmer error */
            fprintf(stderr, "spar: bad default for %s: %s\n", s_options[i].key, why);
            abort();
        }
    }
}

int config_set(spar_config_t *cfg, const char *assignment, char *err, size_t errlen) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        snprintf(err, errlen, "--set %s: expected key=value", assignment);
        return -1;
    }
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    const option_t *o = s_find(key);
    if (!o) {
        snprintf(err, errlen, "--set %s: unknown key '%s' (spar help config lists the keys)", assignment, key);
        return -1;
    }
    char why[256];
    if (s_assign(cfg, o, eq + 1, why, sizeof why) != 0) {
        snprintf(err, errlen, "--set %s: %s: %s", assignment, key, why);
        return -1;
    }
    return 0;
}

/* ---- YAML ------------------------------------------------------------------------------ */

typedef struct {
    yaml_parser_t parser;
    const char *name;
    char *err;
    size_t errlen;
} reader_t;

static int s_next(reader_t *r, yaml_event_t *ev) {
    if (!yaml_parser_parse(&r->parser, ev)) {
        snprintf(r->err, r->errlen, "%s:%zu: invalid YAML: %s", r->name,
                 r->parser.problem_mark.line + 1, r->parser.problem ? r->parser.problem : "?");
        return -1;
    }
    return 0;
}

/* Skips the value that starts with `ev` (a scalar, or a whole mapping/sequence). */
static int s_skip(reader_t *r, yaml_event_t *ev) {
    int depth = (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT);
    while (depth > 0) {
        yaml_event_t e;
        if (s_next(r, &e) != 0) return -1;
        if (e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT) depth++;
        if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) depth--;
        yaml_event_delete(&e);
    }
    return 0;
}

/* Reads a mapping whose start event was consumed; keys get the dotted `prefix`. */
static int s_mapping(reader_t *r, spar_config_t *cfg, const char *prefix) {
    for (;;) {
        yaml_event_t kev;
        if (s_next(r, &kev) != 0) return -1;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        size_t line = kev.start_mark.line + 1;
        if (kev.type != YAML_SCALAR_EVENT) {
            snprintf(r->err, r->errlen, "%s:%zu: expected a key name", r->name, line);
            yaml_event_delete(&kev);
            return -1;
        }
        char key[160];
        snprintf(key, sizeof key, "%s%s", prefix, (const char *)kev.data.scalar.value);
        yaml_event_delete(&kev);

        yaml_event_t vev;
        if (s_next(r, &vev) != 0) return -1;
        size_t vline = vev.start_mark.line + 1;
        int rc = 0;
        if (vev.type == YAML_MAPPING_START_EVENT) {
            char sub[170];
            snprintf(sub, sizeof sub, "%s.", key);
            /* A section must be one we know: check some option starts with it. */
            int known = 0;
            for (size_t i = 0; i < N_OPTIONS; i++)
                if (strncmp(s_options[i].key, sub, strlen(sub)) == 0) known = 1;
            if (!known) {
                snprintf(r->err, r->errlen, "%s:%zu: %s: unknown section", r->name, line, key);
                rc = -1;
            } else {
                rc = s_mapping(r, cfg, sub);
            }
        } else if (vev.type == YAML_SCALAR_EVENT) {
            const option_t *o = s_find(key);
            char why[256];
            if (!o) {
                snprintf(r->err, r->errlen, "%s:%zu: %s: unknown key", r->name, line, key);
                rc = -1;
            } else if (s_assign(cfg, o, (const char *)vev.data.scalar.value, why, sizeof why) != 0) {
                snprintf(r->err, r->errlen, "%s:%zu: %s: %s", r->name, vline, key, why);
                rc = -1;
            }
        } else {
            snprintf(r->err, r->errlen, "%s:%zu: %s: expected a single value, not a list", r->name,
                     vline, key);
            s_skip(r, &vev);
            rc = -1;
        }
        yaml_event_delete(&vev);
        if (rc != 0) return -1;
    }
}

static int s_load(spar_config_t *cfg, const char *name, const unsigned char *text, size_t len,
                  char *err, size_t errlen) {
    reader_t r = {.name = name, .err = err, .errlen = errlen};
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_string(&r.parser, text, len);
    int rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (s_next(&r, &ev) != 0) {
            rc = -1;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_MAPPING_START_EVENT: rc = s_mapping(&r, cfg, ""); break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            snprintf(err, errlen, "%s:%zu: the config must be a mapping of sections", name,
                     ev.start_mark.line + 1);
            rc = -1;
            break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&r.parser);
    return rc;
}

int config_load_string(spar_config_t *cfg, const char *name, const char *text, char *err,
                       size_t errlen) {
    return s_load(cfg, name, (const unsigned char *)text, strlen(text), err, errlen);
}

int config_load_file(spar_config_t *cfg, const char *path, char *err, size_t errlen) {
    size_t len;
    char *text = util_read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char before[sizeof cfg->game.file];
    memcpy(before, cfg->game.file, sizeof before);
    int rc = s_load(cfg, path, (const unsigned char *)text, len, err, errlen);
    free(text);
    /* A game file named in a config file is relative to that file, wherever spar runs. */
    if (rc == 0 && cfg->game.file[0] && cfg->game.file[0] != '/' && strcmp(before, cfg->game.file) != 0) {
        char *real = realpath(path, NULL);
        if (real) {
            char *slash = strrchr(real, '/');
            *slash = '\0';
            char *joined = xasprintf("%s/%s", real, cfg->game.file);
            if (strlen(joined) < sizeof cfg->game.file) snprintf(cfg->game.file, sizeof cfg->game.file, "%s", joined);
            free(joined);
            free(real);
        }
    }
    return rc;
}

/* A double-quoted YAML scalar that reads back as the same bytes: backslash and quote escaped, and
 * as \u escapes what YAML would fold (line breaks, NEL, U+2028/9) or refuse (controls, U+FFFE/F),
 * and U+FEFF. Bytes that are not UTF-8 are written as they are (no YAML reads them). */
static void s_write_quoted(FILE *out, const char *str) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)str; *p;) {
        int n = *p < 0xc0 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
        unsigned cp = *p < 0x80 ? *p : *p < 0xc0 ? 0x100 : *p & (0x7fu >> n); /* 0x100: as it is */
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) { /* not a sequence (also stops at the NUL) */
                n = 1, cp = 0x100;
                break;
            }
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if (cp == '"' || cp == '\\') fprintf(out, "\\%c", (char)cp);
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029 ||
                 cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
            fprintf(out, "\\u%04x", cp);
        else fwrite(p, 1, (size_t)n, out);
        p += n;
    }
    fputs("\"\n", out);
}

void config_write_yaml(const spar_config_t *cfg, FILE *out) {
    char section[64] = "";
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option_t *o = &s_options[i];
        const char *dot = strchr(o->key, '.');
        int slen = (int)(dot - o->key);
        if (strncmp(section, o->key, (size_t)slen) != 0 || section[slen] != '\0') {
            snprintf(section, sizeof section, "%.*s", slen, o->key);
            fprintf(out, "%s:\n", section);
        }
        const char *base = (const char *)cfg + o->offset;
        fprintf(out, "  %s: ", dot + 1);
        switch (o->type) {
        case T_INT: fprintf(out, "%ld\n", *(const long *)base); break;
        case T_FLOAT: fprintf(out, "%.17g\n", *(const double *)base); break;
        case T_BOOL: fprintf(out, "%s\n", *(const long *)base ? "true" : "false"); break;
        case T_ENUM: s_write_quoted(out, config_name(o->names, *(const int *)base)); break;
        default: s_write_quoted(out, base); break;
        }
    }
}

int config_save(const spar_config_t *cfg, const char *path, const char *comment) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return -errno;
    if (comment) fprintf(f, "# %s\n", comment);
    config_write_yaml(cfg, f);
    fclose(f);
    int rc = util_write_atomic(path, buf, len);
    free(buf);
    return rc;
}

void config_print_options(FILE *out) {
    static const char *names[] = {"int", "number", "string", "choice", "bool"};
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option_t *o = &s_options[i];
        fprintf(out, "  %-28s %-7s default %-22s %s", o->key, names[o->type],
                o->def[0] ? o->def : "\"\"", o->help);
        if (o->type == T_ENUM) {
            char all[512];
            s_names_joined(o->names, all, sizeof all);
            fprintf(out, " (%s)", all);
        }
        fprintf(out, "\n");
    }
}
