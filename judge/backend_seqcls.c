/* backend_seqcls — judge.kind reward on a Hugging Face sequence classifier (common/seqcls.h):
 * the reward of response y to conversation c is the model's score of the judge's own chat
 * template rendering of c + [{"role": "assistant", "content": y}] (no generation prompt,
 * encoded without special tokens: the template writes them), or, for a folder without a chat
 * template, of the prompt's text followed by the response's, encoded with special tokens. The
 * requests of a batch are one packed forward pass, each request's K sequences sharing their
 * common prefix (the conversation). A request that cannot be encoded or does not fit the
 * context is refused alone. The actor's algorithm turns the K rewards into preferences. */
#include "judge/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/log.h"
#include "common/seqcls.h"
#include "common/util.h"

typedef struct {
    judge_backend_t base;
    seqcls_t *model;
    int chat_prompts; /* task.kind prompts: the prompt is a JSON conversation */
} seqcls_backend_t;

/* Request r's K sequences appended to the batch at *at; 0 or -1 with why (nothing appended). */
static int s_request(const seqcls_backend_t *S, const Spar__JudgeRequest *r, int32_t **ids, int *len, int *at,
                     char *why, size_t wl) {
    chat_t c;
    if (judge_request_conversation(r, S->chat_prompts, &c, why, wl) != 0) return -1;
    size_t k = r->n_responses;
    char **texts = judge_request_response_texts(r);
    int ctx = seqcls_config(S->model)->llama.ctx, rc = 0, start = *at;
    for (size_t i = 0; i < k && rc == 0; i++) {
        int n = seqcls_sequence_ids(S->model, &c, texts[i], &ids[*at], why, wl);
        if (n < 0) rc = -1;
        else if (n == 0 || n > ctx)
            rc = util_refuse(why, wl, "response %zu with its prompt is %d tokens, the reward model's context is %d", i, n, ctx),
            free(ids[*at]);
        else len[(*at)++] = n;
    }
    if (rc != 0)
        while (*at > start) free(ids[--*at]);
    judge_free_texts(texts, k);
    chat_free(&c);
    return rc;
}

static void s_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink) {
    seqcls_backend_t *S = (seqcls_backend_t *)b;
    size_t total = 0;
    for (int q = 0; q < n; q++) total += calls[q].request->n_responses;
    int32_t **ids = xcalloc(total + 1, sizeof *ids);
    int *len = xcalloc(total + 1, sizeof *len), *group = xcalloc(total + 1, sizeof *group), at = 0;
    int *first = xmalloc(sizeof(int) * (size_t)n), *ok = xcalloc((size_t)n, sizeof(int));
    char (*why)[256] = xcalloc((size_t)n, sizeof *why);
    for (int q = 0; q < n; q++) {
        first[q] = at;
        ok[q] = s_request(S, calls[q].request, ids, len, &at, why[q], sizeof why[q]) == 0;
        for (int i = first[q]; i < at; i++) group[i] = q;
    }
    double *scores = xmalloc(sizeof(double) * (total + 1));
    char batch_why[256] = "";
    int batch_rc = seqcls_score_ids(S->model, (const int32_t *const *)ids, len, group, at, scores, batch_why, sizeof batch_why);
    for (int q = 0; q < n; q++) {
        if (ok[q] && batch_rc != 0) ok[q] = 0, snprintf(why[q], sizeof why[q], "%s", batch_why);
        judge_backend_answer(b, &calls[q], sink, NULL, ok[q] ? scores + first[q] : NULL, !ok[q], why[q]);
    }
    for (int i = 0; i < at; i++) free(ids[i]);
    free(ids), free(len), free(group), free(first), free(ok), free(why), free(scores);
}

static void s_destroy(judge_backend_t *b) {
    seqcls_free(&((seqcls_backend_t *)b)->model);
    free(b);
}

static const judge_backend_ops_t s_ops = {s_judge, judge_backend_counted, s_destroy, NULL, NULL, NULL};

judge_backend_t *judge_backend_seqcls(const spar_config_t *cfg, char *why, size_t wl) {
    seqcls_t *m = seqcls_load_dir(cfg->judge.checkpoint, why, wl);
    if (!m) return NULL;
    seqcls_backend_t *S = xcalloc(1, sizeof *S);
    S->base = (judge_backend_t){.ops = &s_ops, .rewards = 1, .batch = JUDGE_BATCH_MAX};
    S->model = m;
    S->chat_prompts = cfg->task.kind == TASK_PROMPTS;
    if (!seqcls_template(m))
        log_info("judge: %s has no chat_template: a response is scored as the prompt's text followed by the "
                 "response's, encoded with the tokenizer's special tokens", cfg->judge.checkpoint);
    llama_t *l = seqcls_llama(m);
    const hf_config_t *c = seqcls_config(m);
    digest_state_t s;
    uint8_t d[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1];
    digest_begin(&s);
    digest_update(&s, llama_params(l), llama_n_params(l) * sizeof(float));
    digest_update(&s, seqcls_score_weight(m), sizeof(float) * (size_t)c->llama.d_model);
    digest_end(&s, d);
    digest_hex(d, hex);
    snprintf(S->base.version, sizeof S->base.version, "seqcls-%.12s", hex);
    snprintf(S->base.serving, sizeof S->base.serving, "serving the reward model %s (%s)", cfg->judge.checkpoint,
             seqcls_describe(m));
    return &S->base;
}
