/* rule_arith — see rule_arith.h. */
#include "common/rule_arith.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/task_arith.h"
#include "common/task_styles.h"

static int s_prompt_answer(const char *prompt, long *answer) {
    long a, b;
    char tail;
    if (sscanf(prompt, "%ld+%ld%c", &a, &b, &tail) != 3 || tail != '=' || a < 0 || b < 0) return -1;
    *answer = a + b;
    return 0;
}

double rule_arith_score(const char *prompt, const char *response) {
    long answer, v;
    if (s_prompt_answer(prompt, &answer) != 0) return -1;
    if (arith_parse(response, &v) != 0) return 0.0;
    if (v == answer) return 2.0;
    double err = labs(v - answer);
    return 1.0 - err / ((double)labs(answer) + err);
}

int rule_arith_judge(const char *prompt, const char *const *responses, int k, double *P) {
    double *s = malloc(sizeof(double) * (size_t)k);
    if (!s) abort();
    for (int i = 0; i < k; i++)
        if ((s[i] = rule_arith_score(prompt, responses[i])) < 0) {
            free(s);
            return -1;
        }
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) P[i * k + j] = s[i] > s[j] ? 1.0 : s[i] < s[j] ? 0.0 : 0.5;
    free(s);
    return 0;
}

int rule_styles_judge(const char *prompt, const char *const *responses, int k, double *P) {
    double *s = malloc(sizeof(double) * (size_t)k);
    int *style = malloc(sizeof(int) * (size_t)k);
    if (!s || !style) abort();
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        char digits[32];
        style[i] = styles_split(responses[i], digits, sizeof digits);
        s[i] = rule_arith_score(prompt, style[i] < 0 ? "" : digits);
        if (s[i] < 0) rc = -1;
    }
    for (int i = 0; i < k && rc == 0; i++)
        for (int j = 0; j < k; j++)
            P[i * k + j] = s[i] > s[j] ? 1.0 : s[i] < s[j] ? 0.0
                         : style[i] >= 0 && style[j] >= 0 ? styles_pref(style[i], style[j]) : 0.5;
    free(s);
    free(style);
    return rc;
}
