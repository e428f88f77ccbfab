/* config_validate — the checks across options, made after every option is read (config.h):
 * the automatic choices resolved, then each area's relations in the order below, the first
 * failure named by key. Not the reading of single values (config.c checks each on its own). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/stop.h"
#include "common/util.h"
#include "common/wire.h"

static int s_is_text_task(const spar_config_t *cfg) { return cfg->task.kind != TASK_GAME; }

static void s_resolve_auto(spar_config_t *cfg) {
    int game = !s_is_text_task(cfg);
    if (cfg->policy.kind == POLICY_AUTO) cfg->policy.kind = game ? POLICY_TABULAR : POLICY_GPT;
    if (cfg->judge.kind == JUDGE_AUTO) cfg->judge.kind = game ? JUDGE_MATRIX : JUDGE_RULE;
    /* a language-model policy given a checkpoint starts from it (policy.init random is the default) */
    if (cfg->policy.kind == POLICY_GPT && cfg->policy.checkpoint[0] && cfg->policy.init == INIT_RANDOM)
        cfg->policy.init = INIT_CHECKPOINT;
}

static int s_check_game(const spar_config_t *cfg, char *err, size_t errlen) {
    if (cfg->game.family == FAMILY_FILE && !cfg->game.file[0])
        return util_refuse(err, errlen, "game.file: required when game.family is file");
    if (cfg->game.family != FAMILY_FILE && cfg->game.file[0])
        return util_refuse(err, errlen, "game.file: set, but game.family is %s (use family: file)",
                        config_name(CFG_NAMES_FAMILY, cfg->game.family));
    return 0;
}

static int s_check_algorithm(const spar_config_t *cfg, char *err, size_t errlen) {
    if ((cfg->algorithm.name == ALG_INPO || cfg->algorithm.name == ALG_NASH_MD) &&
        cfg->algorithm.eta * cfg->algorithm.tau > 1.0)
        return util_refuse(err, errlen, "algorithm.tau: %s needs eta * tau <= 1 (got %g)",
                        config_name(CFG_NAMES_ALG, cfg->algorithm.name), cfg->algorithm.eta * cfg->algorithm.tau);
    return 0;
}

/* A judge answers at most wire_judge_max_k responses a request (its reply must fit): a K it
 * refuses would stall every iteration. */
static int s_check_judged_k(const spar_config_t *cfg, char *err, size_t errlen) {
    long judged = cfg->rollout.samples_per_prompt * (cfg->algorithm.name == ALG_NASH_MD ? 2 : 1);
    size_t max_k = wire_judge_max_k(cfg->wire.max_frame_bytes, cfg->judge.kind == JUDGE_REWARD);
    if ((size_t)judged > max_k)
        return util_refuse(err, errlen,
                        "rollout.samples_per_prompt: %ld responses a judge request%s, but a judge answers at most %zu "
                        "(its reply must fit 1 MiB and wire.max_frame_bytes)",
                        judged, judged != cfg->rollout.samples_per_prompt ? " (with nash-md's opponents)" : "", max_k);
    return 0;
}

static int s_check_model_shapes(const spar_config_t *cfg, char *err, size_t errlen) {
    if (cfg->judge_train.dim % 2 != 0)
        return util_refuse(err, errlen, "judge_train.dim: %ld must be even (pairs of skew-symmetric coordinates)",
                        cfg->judge_train.dim);
    if (cfg->gpt.d_model % cfg->gpt.n_head != 0)
        return util_refuse(err, errlen, "gpt.n_head: %ld does not divide gpt.d_model %ld", cfg->gpt.n_head, cfg->gpt.d_model);
    return 0;
}

/* Matrix games are for tabular policies, text tasks for gpt ones. */
static int s_check_policy_kind(const spar_config_t *cfg, char *err, size_t errlen) {
    int gpt = cfg->policy.kind == POLICY_GPT, text = s_is_text_task(cfg);
    if (gpt != text)
        return util_refuse(err, errlen, "task.kind: %s needs policy.kind %s (got %s)",
                        config_name(CFG_NAMES_TASK, cfg->task.kind), text ? "gpt" : "tabular",
                        config_name(CFG_NAMES_POLICY, cfg->policy.kind));
    return 0;
}

static int s_check_judge(const spar_config_t *cfg, char *err, size_t errlen) {
    int learned = cfg->judge.kind == JUDGE_REWARD || cfg->judge.kind == JUDGE_PREFERENCE ||
                  cfg->judge.kind == JUDGE_GENERATIVE;
    if (learned && !cfg->judge.checkpoint[0])
        return util_refuse(err, errlen, "judge.checkpoint: required when judge.kind is %s",
                        config_name(CFG_NAMES_JUDGE, cfg->judge.kind));
    if (cfg->judge.kind == JUDGE_REMOTE && !cfg->judge.remote[0])
        return util_refuse(err, errlen, "judge.remote: required when judge.kind is remote");
    if (cfg->task.kind == TASK_PROMPTS && cfg->judge.kind == JUDGE_RULE)
        return util_refuse(err, errlen, "judge.kind: task prompts has no rule to judge by; use reward, generative, preference or remote");
    if (s_is_text_task(cfg) && cfg->judge.kind == JUDGE_MATRIX)
        return util_refuse(err, errlen, "judge.kind: matrix judges matrix games; task %s needs rule, remote, reward or preference",
                        config_name(CFG_NAMES_TASK, cfg->task.kind));
    return 0;
}

static int s_check_policy_init(const spar_config_t *cfg, char *err, size_t errlen) {
    int gpt = cfg->policy.kind == POLICY_GPT;
    if (gpt && cfg->policy.init == INIT_UNIFORM)
        return util_refuse(err, errlen, "policy.init: a gpt policy starts from random, sft or checkpoint");
    if (!gpt && (cfg->policy.init == INIT_SFT || cfg->policy.init == INIT_CHECKPOINT))
        return util_refuse(err, errlen, "policy.init: %s is for gpt policies; a tabular policy starts uniform or random",
                        config_name(CFG_NAMES_INIT, cfg->policy.init));
    if (cfg->policy.init == INIT_CHECKPOINT && !cfg->policy.checkpoint[0])
        return util_refuse(err, errlen, "policy.checkpoint: required when policy.init is checkpoint");
    return 0;
}

static int s_check_prompts(const spar_config_t *cfg, char *err, size_t errlen) {
    if (cfg->task.kind == TASK_PROMPTS && !cfg->task.file[0])
        return util_refuse(err, errlen, "task.file: required when task.kind is prompts (JSONL of {\"prompt\"} or {\"messages\"})");
    if (cfg->task.kind != TASK_PROMPTS && cfg->task.file[0])
        return util_refuse(err, errlen, "task.file: set, but task.kind is %s (use kind: prompts)",
                           config_name(CFG_NAMES_TASK, cfg->task.kind));
    if (cfg->task.kind == TASK_PROMPTS && !cfg->policy.checkpoint[0])
        return util_refuse(err, errlen, "policy.checkpoint: task prompts needs a Hugging Face model folder to start from");
    return 0;
}

static int s_check_stop(const spar_config_t *cfg, char *err, size_t errlen) {
    char **stops, why[200];
    int n;
    if (stop_parse(cfg->rollout.stop, &stops, &n, why, sizeof why) != 0)
        return util_refuse(err, errlen, "rollout.stop: %s", why);
    stop_free(stops, n);
    return 0;
}

static int s_check_lora(const spar_config_t *cfg, char *err, size_t errlen) {
    if (cfg->policy.lora.rank > 0 && !cfg->policy.checkpoint[0])
        return util_refuse(err, errlen, "policy.lora.rank: LoRA adapts a Hugging Face model; set policy.checkpoint");
    if (cfg->policy.lora.rank > 0 && !cfg->policy.lora.targets[0])
        return util_refuse(err, errlen, "policy.lora.targets: name at least one module (e.g. q_proj,v_proj)");
    return 0;
}

static int s_check_learner(const spar_config_t *cfg, char *err, size_t errlen) {
    if (cfg->algorithm.name == ALG_APO && cfg->learner.broadcast_every > 0)
        return util_refuse(err, errlen,
                        "learner.broadcast_every: APO extrapolates whole iterations; it runs only in the synchronous mode (0)");
    if (cfg->learner.http[0]) { /* HOST:PORT, HOST may be empty or * for every address */
        const char *colon = strrchr(cfg->learner.http, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
            return util_refuse(err, errlen, "learner.http: '%s' is not HOST:PORT (e.g. 0.0.0.0:9100)", cfg->learner.http);
    }
    if (!cfg->learner.control[0] || !cfg->learner.publish[0])
        return util_refuse(err, errlen, "learner.control/learner.publish: endpoint must not be empty");
    return 0;
}

int config_validate(spar_config_t *cfg, char *err, size_t errlen) {
    static int (*const checks[])(const spar_config_t *, char *, size_t) = {
        s_check_game, s_check_algorithm, s_check_judged_k, s_check_model_shapes,
        s_check_policy_kind, s_check_judge, s_check_policy_init, s_check_prompts, s_check_stop, s_check_lora,
        s_check_learner,
    };
    s_resolve_auto(cfg);
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (checks[i](cfg, err, errlen) != 0) return -1;
    return 0;
}


alg_name_t config_trained_algorithm(const spar_config_t *cfg) {
    if (cfg->algorithm.name != ALG_APO) return cfg->algorithm.name;
    return cfg->apo.base == APO_BASE_DPO ? ALG_DPO : ALG_SPPO;
}
