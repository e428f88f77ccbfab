/* backend — see backend.h: the factory that reads judge.kind, the calls through the table, and
 * what the local backends share (answering a request, counting its pairs, the responses'
 * texts). No backend's own judging is here. */
#include "judge/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/hf_folder.h"
#include "common/log.h"
#include "common/tokenizer.h"
#include "common/util.h"

/* A learned judge from judge.checkpoint, which must hold a model of the kind judge.kind names. */
static int s_learned(const spar_config_t *cfg, int reward, judge_backend_t **out) {
    char why[512];
    judge_model_t *m = jm_load(cfg->judge.checkpoint, why, sizeof why);
    if (!m) {
        log_error("judge.checkpoint %s: %s", cfg->judge.checkpoint, why);
        return 2;
    }
    if ((m->kind == JM_REWARD) != reward) {
        log_error("judge.checkpoint %s holds a %s model, not a %s one", cfg->judge.checkpoint,
                  m->kind == JM_REWARD ? "reward" : "preference", config_name(CFG_NAMES_JUDGE, cfg->judge.kind));
        jm_destroy(&m);
        return 2;
    }
    gpt_set_threads((int)cfg->gpt.threads);
    uint32_t entries = (uint32_t)cfg->judge.cache_entries;
    *out = reward ? judge_backend_reward(m, entries, cfg->judge.checkpoint)
                  : judge_backend_preference(m, entries, cfg->judge.checkpoint);
    return 0;
}

/* A backend built from the config alone (why logged when it cannot be). */
static int s_local(judge_backend_t *(*make)(const spar_config_t *, char *, size_t), const spar_config_t *cfg,
                   judge_backend_t **out) {
    char why[768];
    gpt_set_threads((int)cfg->gpt.threads);
    if ((*out = make(cfg, why, sizeof why))) return 0;
    log_error("judge.checkpoint %s: %s", cfg->judge.checkpoint, why);
    return 2;
}

int judge_checkpoint_is_seqcls(const char *dir) {
    char *path = xasprintf("%s/config.json", dir);
    size_t len;
    char *text = util_read_file(path, &len);
    int yes = text && hf_config_is_seqcls(text, len);
    free(text);
    free(path);
    return yes;
}

int judge_backend_from_config(const spar_config_t *cfg, void *zctx, curve_t *curve, wire_t *wire,
                              judge_backend_t **out) {
    *out = NULL;
    switch (cfg->judge.kind) {
    case JUDGE_REWARD:
        if (judge_checkpoint_is_seqcls(cfg->judge.checkpoint)) return s_local(judge_backend_seqcls, cfg, out);
        return s_learned(cfg, 1, out);
    case JUDGE_PREFERENCE: return s_learned(cfg, 0, out);
    case JUDGE_REMOTE: return (*out = judge_backend_remote(cfg, zctx, curve, wire)) ? 0 : 1;
    case JUDGE_RULE: *out = judge_backend_rule(task_of(cfg)); return 0;
    case JUDGE_GENERATIVE: return s_local(judge_backend_generative, cfg, out);
    case JUDGE_AUTO: /* resolved by config_validate */
    case JUDGE_MATRIX: break;
    }
    char why[512];
    if (!(*out = judge_backend_matrix(cfg, why, sizeof why))) {
        log_error("%s", why);
        return 2;
    }
    return 0;
}

void judge_backend_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink) {
    if (n > 0) b->ops->judge(b, calls, n, sink);
}

void judge_backend_stats(const judge_backend_t *b, judge_stats_t *out) { b->ops->stats(b, out); }

void *judge_backend_socket(judge_backend_t *b) { return b->ops->socket ? b->ops->socket(b) : NULL; }

void judge_backend_pump(judge_backend_t *b, const judge_sink_t *sink) {
    if (b->ops->pump) b->ops->pump(b, sink);
}

int64_t judge_backend_expire(judge_backend_t *b, int64_t now_ms, const judge_sink_t *sink) {
    return b->ops->expire ? b->ops->expire(b, now_ms, sink) : -1;
}

void judge_backend_destroy(judge_backend_t **bp) {
    if (!bp || !*bp) return;
    strmap_free(&(*bp)->refused);
    (*bp)->ops->destroy(*bp);
    *bp = NULL;
}

void judge_backend_counted(const judge_backend_t *b, judge_stats_t *out) { *out = b->counted; }

/* A request this judge could not answer: logged once per sender and reason (the figures of the
 * reason aside), so a peer that repeats it does not flood the log. */
static void s_log_refusal(judge_backend_t *b, const char *sender, uint64_t request_id, const char *why) {
    size_t cut = strcspn(why, "0123456789");
    char *key = xasprintf("%s %.*s", sender, (int)(cut < 80 ? cut : 80), why);
    if (!b->refused) b->refused = strmap_new(4096);
    if (!strmap_get(b->refused, key)) {
        strmap_put(b->refused, key, xstrdup(""));
        log_warn("cannot judge request %llu from %s: %s (further ones like it from this sender are not logged)",
                 (unsigned long long)request_id, sender, why);
    }
    free(key);
}

void judge_backend_answer(judge_backend_t *b, const judge_call_t *call, const judge_sink_t *sink, const double *P,
                          const double *rewards, int rc, const char *why) {
    const Spar__JudgeRequest *r = call->request;
    size_t k = r->n_responses;
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = r->request_id;
    rep.judge_version = b->version;
    rep.k = (uint32_t)k;
    if (rc != 0) {
        rep.error = (char *)why;
        s_log_refusal(b, call->sender, r->request_id, why);
    } else if (b->rewards) {
        rep.rewards = (double *)rewards;
        rep.n_rewards = k;
    } else {
        rep.preference = (double *)P;
        rep.n_preference = k * k;
    }
    for (size_t i = 0; i < k && rc == 0; i++)
        for (size_t j = i + 1; j < k; j++) {
            b->counted.pairs++;
            b->counted.ties += b->rewards ? rewards[i] == rewards[j] : P[i * k + j] == 0.5;
        }
    sink->reply(sink->ctx, &call->from, &rep);
}

void judge_backend_each(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink,
                        judge_one_fn one) {
    for (int q = 0; q < n; q++) {
        size_t k = calls[q].request->n_responses;
        double *P = xmalloc(sizeof(double) * (k ? k * k : 1));
        char why[256] = "";
        int rc = one(b, calls[q].request, P, why, sizeof why);
        judge_backend_answer(b, &calls[q], sink, P, NULL, rc, why);
        free(P);
    }
}

char **judge_request_texts(const Spar__JudgeRequest *r) {
    size_t k = r->n_responses;
    char **texts = xcalloc(k ? k : 1, sizeof(char *));
    for (size_t i = 0; i < k; i++) {
        const Spar__Response *y = r->responses[i];
        int *t = xmalloc(sizeof(int) * (y->n_tokens ? y->n_tokens : 1));
        for (size_t j = 0; j < y->n_tokens; j++) t[j] = y->tokens[j] <= GPT_EOT ? (int)y->tokens[j] : -1;
        texts[i] = tok_decode(t, (int)y->n_tokens);
        free(t);
    }
    return texts;
}

char **judge_request_response_texts(const Spar__JudgeRequest *r) {
    char **texts = judge_request_texts(r);
    for (size_t i = 0; i < r->n_responses; i++) {
        const char *t = r->responses[i]->text;
        if (t && *t) free(texts[i]), texts[i] = xstrdup(t);
    }
    return texts;
}

int judge_request_conversation(const Spar__JudgeRequest *r, int chat_prompts, chat_t *out, char *why, size_t wl) {
    const char *prompt = r->prompt ? r->prompt : "";
    if (!chat_prompts) {
        chat_single_user(out, prompt);
        return 0;
    }
    char inner[256];
    if (chat_parse(prompt, strlen(prompt), out, inner, sizeof inner) == 0) return 0;
    return util_refuse(why, wl, "the prompt is not a conversation: %s", inner);
}

void judge_free_texts(char **texts, size_t k) {
    for (size_t i = 0; i < k; i++) free(texts[i]);
    free(texts);
}

void judge_backend_log_cache(const char *what, uint64_t hits, uint64_t misses) {
    log_info("judge: %s cache %llu hits, %llu misses, hit rate %.4f", what, (unsigned long long)hits,
             (unsigned long long)misses, hits + misses ? (double)hits / (double)(hits + misses) : 0.0);
}
