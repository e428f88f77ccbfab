/* backend_rule — judge.kind rule: the task's rule judge (common/task.h) on the prompt text and
 * the responses' bytes. A prompt that is not one of the task's problems is refused. Its version
 * is the rule's. */
#include "judge/backend.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

typedef struct {
    judge_backend_t base;
    const task_t *task;
} rule_t;

static int s_judge_one(judge_backend_t *b, const Spar__JudgeRequest *r, double *P, char *why, size_t wl) {
    size_t k = r->n_responses;
    char **texts = judge_request_texts(r);
    int rc = task_rule_judge(((rule_t *)b)->task, r->prompt, (const char *const *)texts, (int)k, P);
    if (rc != 0) { /* the prompt is the peer's text: only its printable ASCII reaches the log */
        char shown[41];
        size_t n = 0;
        for (const char *c = r->prompt; *c && n < sizeof shown - 1; c++) shown[n++] = *c >= 0x20 && *c < 0x7f ? *c : '?';
        shown[n] = '\0';
        snprintf(why, wl, "prompt '%s' is not an arith problem", shown);
    }
    judge_free_texts(texts, k);
    return rc;
}

static void s_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink) {
    judge_backend_each(b, calls, n, sink, s_judge_one);
}

static void s_destroy(judge_backend_t *b) { free(b); }

static const judge_backend_ops_t s_ops = {s_judge, judge_backend_counted, s_destroy, NULL, NULL, NULL};

judge_backend_t *judge_backend_rule(const task_t *task) {
    rule_t *r = xcalloc(1, sizeof *r);
    r->base = (judge_backend_t){.ops = &s_ops, .batch = 1};
    r->task = task;
    snprintf(r->base.version, sizeof r->base.version, "%s", task_rule_version(task));
    snprintf(r->base.serving, sizeof r->base.serving, "serving %s", task_rule_name(task));
    return &r->base;
}
