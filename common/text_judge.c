/* text_judge — see text_judge.h. The judge process's models (common/seqcls.h,
 * common/gen_judge.h), asked the same way: a reward model scores each response with its own chat
 * template, the generative judge compares the pair (both orders when judge.both_orders). */
#include "common/text_judge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/chat.h"
#include "common/gen_judge.h"
#include "common/hf_folder.h"
#include "common/seqcls.h"
#include "common/util.h"

struct text_judge {
    seqcls_t *reward;
    gen_judge_t *gen;
    int both_orders, chat_prompts;
};

text_judge_t *text_judge_load(const spar_config_t *cfg, char *why, size_t wl) {
    text_judge_t *j = xcalloc(1, sizeof *j);
    j->both_orders = (int)cfg->judge.both_orders;
    j->chat_prompts = cfg->task.kind == TASK_PROMPTS;
    const char *dir = cfg->judge.checkpoint;
    char *cj = xasprintf("%s/config.json", dir);
    size_t len = 0;
    char *text = cfg->judge.kind == JUDGE_REWARD ? util_read_file(cj, &len) : NULL;
    free(cj);
    if (cfg->judge.kind == JUDGE_GENERATIVE) {
        j->gen = gen_judge_load(dir, cfg->judge.template[0] ? cfg->judge.template : NULL, cfg->judge.labels, why, wl);
    } else if (text && hf_config_is_seqcls(text, len)) {
        j->reward = seqcls_load_dir(dir, why, wl);
    } else {
        snprintf(why, wl, "judge.kind %s%s is not run in-process (a Hugging Face reward model or a generative judge is)",
                 config_name(CFG_NAMES_JUDGE, cfg->judge.kind), cfg->judge.kind == JUDGE_REWARD ? " from judge-train" : "");
    }
    free(text);
    if (!j->gen && !j->reward) text_judge_free(&j);
    return j;
}

void text_judge_free(text_judge_t **jp) {
    if (!jp || !*jp) return;
    seqcls_free(&(*jp)->reward);
    gen_judge_free(&(*jp)->gen);
    free(*jp);
    *jp = NULL;
}

/* A prompt's conversation: its JSON under task.kind prompts, else one user turn of its text. */
static int s_conversation(const text_judge_t *j, const char *prompt, chat_t *c, char *why, size_t wl) {
    if (j->chat_prompts) return chat_parse(prompt, strlen(prompt), c, why, wl);
    chat_single_user(c, prompt);
    return 0;
}

static int s_reward_pair(text_judge_t *j, const chat_t *c, const char *a, const char *b, double *p, char *why,
                         size_t wl) {
    int32_t *ids[2] = {NULL, NULL};
    int len[2], rc = 0;
    const char *ys[2] = {a, b};
    for (int i = 0; i < 2 && rc == 0; i++)
        if ((len[i] = seqcls_sequence_ids(j->reward, c, ys[i], &ids[i], why, wl)) < 1) rc = -1;
    double r[2];
    if (rc == 0) rc = seqcls_score_ids(j->reward, (const int32_t *const *)ids, len, NULL, 2, r, why, wl);
    if (rc == 0) *p = 1.0 / (1.0 + exp(r[1] - r[0]));
    free(ids[0]), free(ids[1]);
    return rc;
}

int text_judge_pairs(text_judge_t *j, const char *const *prompts, const char *const *a, const char *const *b, int n,
                     double *p, double *bias, char *why, size_t wl) {
    for (int i = 0; i < n; i++) {
        chat_t c;
        if (s_conversation(j, prompts[i], &c, why, wl) != 0) return -1;
        int rc;
        bias[i] = NAN;
        if (j->reward) {
            rc = s_reward_pair(j, &c, a[i], b[i], &p[i], why, wl);
        } else {
            const char *ys[2] = {a[i], b[i]};
            double P[4], sum = 0;
            uint64_t pairs = 0;
            rc = gen_judge_matrix(j->gen, &c, ys, 2, j->both_orders, P, &sum, &pairs, why, wl);
            if (rc == 0) p[i] = P[1], bias[i] = pairs ? sum / (double)pairs : NAN;
        }
        chat_free(&c);
        if (rc != 0) return -1;
    }
    return 0;
}
