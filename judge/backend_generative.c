/* backend_generative — judge.kind generative: common/gen_judge.h's pairwise LLM judge answers
 * each request's K x K matrix (judge.both_orders: every pair asked in both orders, averaged),
 * counting the position bias it sees, which it logs at exit as the remote judge logs its own.
 * One request per call: a request's comparisons are already one packed forward pass. */
#include "judge/backend.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/gen_judge.h"
#include "common/log.h"
#include "common/util.h"

typedef struct {
    judge_backend_t base;
    gen_judge_t *judge;
    int both_orders;
    int chat_prompts; /* task.kind prompts: the prompt is a JSON conversation */
} generative_t;

static int s_judge_one(judge_backend_t *b, const Spar__JudgeRequest *r, double *P, char *why, size_t wl) {
    generative_t *G = (generative_t *)b;
    chat_t c;
    if (judge_request_conversation(r, G->chat_prompts, &c, why, wl) != 0) return -1;
    size_t k = r->n_responses;
    char **texts = judge_request_response_texts(r);
    int rc = gen_judge_matrix(G->judge, &c, (const char *const *)texts, (int)k, G->both_orders, P,
                              &b->counted.position_bias_sum, &b->counted.order_pairs, why, wl);
    judge_free_texts(texts, k);
    chat_free(&c);
    return rc;
}

static void s_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink) {
    judge_backend_each(b, calls, n, sink, s_judge_one);
}

static void s_destroy(judge_backend_t *b) {
    generative_t *G = (generative_t *)b;
    if (G->both_orders && b->counted.order_pairs)
        log_info("judge: the generative judge's position bias (mean p_first(i, j) + p_first(j, i) - 1 over %llu pairs "
                 "asked in both orders; > 0 favours the first position) %.4f",
                 (unsigned long long)b->counted.order_pairs, b->counted.position_bias_sum / (double)b->counted.order_pairs);
    gen_judge_free(&G->judge);
    free(G);
}

static const judge_backend_ops_t s_ops = {s_judge, judge_backend_counted, s_destroy, NULL, NULL, NULL};

judge_backend_t *judge_backend_generative(const spar_config_t *cfg, char *why, size_t wl) {
    gen_judge_t *g = gen_judge_load(cfg->judge.checkpoint, cfg->judge.template, cfg->judge.labels, why, wl);
    if (!g) return NULL;
    generative_t *G = xcalloc(1, sizeof *G);
    G->base = (judge_backend_t){.ops = &s_ops, .batch = 1};
    G->judge = g;
    G->both_orders = cfg->judge.both_orders != 0;
    G->chat_prompts = cfg->task.kind == TASK_PROMPTS;
    char hex[65];
    gen_judge_digest_hex(g, hex);
    /* the answers depend on the model, template and labels (the digest) and on the orders asked */
    snprintf(G->base.version, sizeof G->base.version, "generative-%.12s%s", hex, G->both_orders ? "" : "-one-order");
    snprintf(G->base.serving, sizeof G->base.serving, "serving the generative judge %s (%s; template %s, labels %s%s)",
             cfg->judge.checkpoint, lm_describe(gen_judge_lm(g)), *cfg->judge.template ? cfg->judge.template : "built-in",
             cfg->judge.labels, G->both_orders ? ", both orders" : "");
    return &G->base;
}
