/* backend_learned — see backend_learned.h. A batch is one ec_embed over every response of every
 * request; when one response does not fit the model's context, each request is embedded on its
 * own, so only the request holding it is refused. */
#include "judge/backend_learned.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/digest.h"
#include "common/log.h"
#include "common/util.h"
#include "judge/embed_cache.h"

typedef struct {
    judge_backend_t base;
    judge_model_t *model;
    embed_cache_t *cache;
    learned_answer_fn answer;
} learned_t;

/* One request alone (the batch's fallback). */
static int s_judge_alone(learned_t *L, const Spar__JudgeRequest *r, double *P, double *rewards, char *why, size_t wl) {
    size_t k = r->n_responses;
    char **texts = judge_request_texts(r);
    const char **prompts = xmalloc(sizeof(char *) * (k ? k : 1));
    for (size_t i = 0; i < k; i++) prompts[i] = r->prompt;
    float *v = xmalloc(sizeof(float) * (k ? k : 1) * L->model->dim);
    int rc = ec_embed(L->cache, prompts, (const char *const *)texts, (int)k, v);
    if (rc != 0) snprintf(why, wl, "a response does not fit the judge model's context with its prompt");
    else L->answer(L->model, v, k, P, rewards);
    free(v), free(prompts);
    judge_free_texts(texts, k);
    return rc;
}

static void s_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink) {
    learned_t *L = (learned_t *)b;
    int D = L->model->dim;
    size_t total = 0, at = 0;
    for (int q = 0; q < n; q++) total += calls[q].request->n_responses;
    const char **prompts = xmalloc(sizeof(char *) * (total ? total : 1)), **texts = xmalloc(sizeof(char *) * (total ? total : 1));
    char ***own = xmalloc(sizeof(char **) * (size_t)n);
    for (int q = 0; q < n; q++) {
        const Spar__JudgeRequest *r = calls[q].request;
        own[q] = judge_request_texts(r);
        for (size_t i = 0; i < r->n_responses; i++, at++) prompts[at] = r->prompt, texts[at] = own[q][i];
    }
    float *v = xmalloc(sizeof(float) * (total ? total : 1) * D);
    int batch_rc = ec_embed(L->cache, prompts, texts, (int)total, v);
    at = 0;
    for (int q = 0; q < n; q++) {
        size_t k = calls[q].request->n_responses;
        /* a reward model answers K values: no K x K matrix for it (wire_judge_max_k allows a larger K) */
        double *P = b->rewards ? NULL : xmalloc(sizeof(double) * (k ? k * k : 1));
        double *rewards = xmalloc(sizeof(double) * (k ? k : 1));
        char why[256] = "";
        int rc = 0;
        if (batch_rc == 0) L->answer(L->model, v + at * D, k, P, rewards);
        else rc = s_judge_alone(L, calls[q].request, P, rewards, why, sizeof why); /* find the bad one */
        judge_backend_answer(b, &calls[q], sink, P, rewards, rc, why);
        free(P), free(rewards);
        judge_free_texts(own[q], k);
        at += k;
    }
    free(prompts), free(texts), free(own), free(v);
}

static void s_stats(const judge_backend_t *b, judge_stats_t *out) {
    *out = b->counted;
    ec_stats(((const learned_t *)b)->cache, &out->cache_hits, &out->cache_misses);
}

static void s_destroy(judge_backend_t *b) {
    learned_t *L = (learned_t *)b;
    uint64_t h, m;
    ec_stats(L->cache, &h, &m);
    judge_backend_log_cache("embedding", h, m);
    ec_free(&L->cache);
    jm_destroy(&L->model);
    free(L);
}

static const judge_backend_ops_t s_ops = {s_judge, s_stats, s_destroy, NULL, NULL, NULL};

judge_backend_t *learned_new(judge_model_t *m, uint32_t cache_entries, const char *kind, const char *source,
                             learned_answer_fn answer) {
    learned_t *L = xcalloc(1, sizeof *L);
    L->base = (judge_backend_t){.ops = &s_ops, .rewards = m->kind == JM_REWARD, .batch = JUDGE_BATCH_MAX};
    L->model = m;
    L->cache = ec_new(m, cache_entries);
    L->answer = answer;
    uint8_t d[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1];
    jm_digest(m, d);
    digest_hex(d, hex);
    snprintf(L->base.version, sizeof L->base.version, "%s-%.12s", kind, hex);
    snprintf(L->base.serving, sizeof L->base.serving, "serving %s", source);
    return &L->base;
}
