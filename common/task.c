/* task — see task.h. A task_t is the row of what its rule judge is; task_of is where task.kind
 * picks the row. */
#include "common/task.h"

#include <stdio.h>
#include <string.h>

#include "common/rule_arith.h"
#include "common/task_arith.h"
#include "common/task_styles.h"

struct task {
    int (*rule)(const char *prompt, const char *const *responses, int k, double *P);
    const char *rule_name, *rule_version;
};

const task_t task_game = {rule_arith_judge, "arith", "rule-arith-1"};
const task_t task_arith = {rule_arith_judge, "arith", "rule-arith-1"};
const task_t task_styles = {rule_styles_judge, "styles", "rule-styles-1"};

const task_t *task_of(const spar_config_t *c) {
    if (c->task.kind == TASK_GAME) return &task_game;
    if (c->task.kind == TASK_STYLES) return &task_styles;
    return &task_arith;
}

int task_rule_judge(const task_t *t, const char *prompt, const char *const *responses, int k, double *P) {
    return t->rule(prompt, responses, k, P);
}

const char *task_rule_name(const task_t *t) { return t->rule_name; }
const char *task_rule_version(const task_t *t) { return t->rule_version; }

#define TRAIN_BASE (1ULL << 40)
#define EVAL_BASE (1ULL << 62)

void task_prompt(const spar_config_t *c, uint64_t iteration, int id, char *out, size_t cap) {
    if (c->task.kind == TASK_GAME) {
        snprintf(out, cap, "game-%d", id);
        return;
    }
    uint64_t n = TRAIN_BASE + (iteration ? iteration - 1 : 0) * (uint64_t)c->task.prompts + (uint64_t)id;
    arith_problem((uint64_t)c->run.seed, n, (int)c->task.digits, out, cap);
}

long task_eval_problem(const spar_config_t *c, int i, char *prompt, size_t cap) {
    return arith_problem((uint64_t)c->run.seed, EVAL_BASE + (uint64_t)i, (int)c->task.digits, prompt, cap);
}

void task_sft_example(const spar_config_t *c, uint64_t i, char *prompt, size_t pcap, char *response, size_t rcap) {
    uint64_t seed = (uint64_t)c->run.seed;
    int d = (int)c->task.digits;
    arith_problem(seed, i, d, prompt, pcap);
    if (c->task.kind == TASK_STYLES) styles_sft_response(seed, i, d, c->sft.wrong_share, response, rcap);
    else arith_sft_response(seed, i, d, c->sft.wrong_share, response, rcap);
}

#define JUDGE_BASE (1ULL << 50)

void task_judge_pair(const spar_config_t *c, uint64_t i, char *prompt, size_t pcap, char *a, char *b, size_t rcap) {
    uint64_t seed = (uint64_t)c->run.seed, n = JUDGE_BASE + i;
    int d = (int)c->task.digits, styles = c->task.kind == TASK_STYLES;
    long answer = arith_problem(seed, n, d, prompt, pcap);
    char *out[2] = {a, b};
    for (int k = 0; k < 2; k++) { /* each answer from its own stream, like an SFT answer */
        rng_t r;
        rng_stream(&r, seed, 0x6a756467 /* "judg" */, i, (uint64_t)k);
        char number[32];
        arith_noisy_answer(answer, c->sft.wrong_share, &r, number, sizeof number);
        snprintf(out[k], rcap, "%s%s", number, styles ? styles_mark((int)(rng_uniform(&r) * STYLES)) : "");
    }
}

int task_correct(const spar_config_t *c, const char *response, long answer) {
    char digits[32];
    long v;
    if (c->task.kind == TASK_STYLES) {
        if (styles_split(response, digits, sizeof digits) < 0) return 0;
        response = digits;
    }
    return arith_parse(response, &v) == 0 && v == answer;
}
