/* text_judge — see text_judge.h. */
#include "common/text_judge.h"

#include <stdio.h>

text_judge_t *text_judge_load(const spar_config_t *cfg, char *why, size_t wl) {
    snprintf(why, wl, "judge.kind %s is not run in-process", config_name(CFG_NAMES_JUDGE, cfg->judge.kind));
    return NULL;
}

void text_judge_free(text_judge_t **j) {
    if (j) *j = NULL;
}

int text_judge_pairs(text_judge_t *j, const char *const *prompts, const char *const *a, const char *const *b, int n,
                     double *p, double *bias, char *why, size_t wl) {
    (void)j, (void)prompts, (void)a, (void)b, (void)n, (void)p, (void)bias;
    snprintf(why, wl, "no judge");
    return -1;
}
