/* judge — see judge.h. */
#include "judge/judge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/curve.h"
#include "common/digest.h"
#include "common/game.h"
#include "common/gpt.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "common/tokenizer.h"
#include "common/wire.h"
#include "judge/embed_cache.h"
#include "common/judge_model.h"
#include "judge/presence.h"
#include "judge/remote.h"
#include "common/rule_arith.h"

typedef struct {
    const spar_config_t *cfg;
    wire_t wire;
    void *zctx, *sock;
    curve_t *curve; /* security.curve: the ZAP handler admitting only security.allowed keys */
    presence_t *presence; /* in the learner's judge pool, or NULL */
    int rule;   /* judge.kind rule: the task's rule judge; else matrix games */
    int styles; /* the rule of the styles task (else arith's) */
    remote_t *remote; /* judge.kind remote: requests go on to judge.remote */
    judge_model_t *model; /* judge.kind reward | preference */
    embed_cache_t *cache; /* its embeddings of (prompt, response) */
    uint64_t pairs, ties; /* pairs judged (i < j), and those at P = 1/2 */
    game_set_t games;
    char version[96];
    uint64_t served;
    size_t max_k;        /* larger requests are refused before anything is allocated for them */
    strmap_t *logged;    /* "sender reason" of requests it could not judge, logged once */
} judge_t;


/* A request this judge could not answer: logged once per sender and reason (the figures of the
 * reason aside), so a peer that repeats it does not flood the log. */
static void s_log_refusal(judge_t *J, const char *sender, uint64_t request_id, const char *why) {
    size_t cut = strcspn(why, "0123456789");
    char *key = xasprintf("%s %.*s", sender, (int)(cut < 80 ? cut : 80), why);
    if (!J->logged) J->logged = strmap_new(4096);
    if (!strmap_get(J->logged, key)) {
        strmap_put(J->logged, key, xstrdup(""));
        log_warn("cannot judge request %llu from %s: %s (further ones like it from this sender are not logged)",
                 (unsigned long long)request_id, sender, why);
    }
    free(key);
}

static void s_send(judge_t *J, const wire_peer_t *to, Spar__Envelope *env) {
    if (wire_send(&J->wire, J->sock, to, env) != 0)
        log_warn("reply failed: %s", zmq_strerror(zmq_errno()));
}

/* The matrix backend: P restricted to the K sampled actions. Returns 0 or -1 with why. */
static int s_judge_matrix(const judge_t *J, const Spar__JudgeRequest *r, double *P, char *why, size_t wl) {
    if (r->prompt_id >= (uint32_t)J->games.prompts) {
        snprintf(why, wl, "prompt %u is not one of this judge's %d games", r->prompt_id, J->games.prompts);
        return -1;
    }
    int n = J->games.n;
    size_t k = r->n_responses;
    for (size_t i = 0; i < k; i++) {
        const Spar__Response *y = r->responses[i];
        if (y->n_tokens != 1 || y->tokens[0] >= (uint32_t)n) {
            snprintf(why, wl, "response %zu is not an action 0..%d", i, n - 1);
            return -1;
        }
    }
    const double *G = game_matrix(&J->games, (int)r->prompt_id);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            P[i * k + j] = G[r->responses[i]->tokens[0] * n + r->responses[j]->tokens[0]];
    return 0;
}

/* The responses' texts (malloc'd): byte tokens up to end-of-text. */
static char **s_texts(const Spar__JudgeRequest *r) {
    size_t k = r->n_responses;
    char **texts = xcalloc(k, sizeof(char *));
    for (size_t i = 0; i < k; i++) {
        const Spar__Response *y = r->responses[i];
        int *t = xmalloc(sizeof(int) * (y->n_tokens ? y->n_tokens : 1));
        for (size_t j = 0; j < y->n_tokens; j++) t[j] = y->tokens[j] <= GPT_EOT ? (int)y->tokens[j] : -1;
        texts[i] = tok_decode(t, (int)y->n_tokens);
        free(t);
    }
    return texts;
}

static void s_free_texts(char **texts, size_t k) {
    for (size_t i = 0; i < k; i++) free(texts[i]);
    free(texts);
}

/* The rule backend. */
static int s_judge_rule(const judge_t *J, const Spar__JudgeRequest *r, double *P, char *why, size_t wl) {
    size_t k = r->n_responses;
    char **texts = s_texts(r);
    int rc = J->styles ? rule_styles_judge(r->prompt, (const char *const *)texts, (int)k, P)
                       : rule_arith_judge(r->prompt, (const char *const *)texts, (int)k, P);
    if (rc != 0) { /* the prompt is the peer's text: only its printable ASCII reaches the log */
        char shown[41];
        size_t n = 0;
        for (const char *c = r->prompt; *c && n < sizeof shown - 1; c++) shown[n++] = *c >= 0x20 && *c < 0x7f ? *c : '?';
        shown[n] = '\0';
        snprintf(why, wl, "prompt '%s' is not an arith problem", shown);
    }
    s_free_texts(texts, k);
    return rc;
}

/* A learned judge's answer from the K embeddings v: a reward model's K rewards, or a preference
 * model's matrix P[i][j] = sigmoid(s(y_i, y_j)). The scores come from each response's own
 * embedding, so the order of a pair cannot bias it: both orders give P and 1 - P exactly (its
 * position bias is 0 by construction). */
static void s_model_answer(const judge_t *J, const float *v, size_t k, double *P, double *rewards) {
    int D = J->model->dim;
    if (J->model->kind == JM_REWARD) {
        for (size_t i = 0; i < k; i++) rewards[i] = v[i];
        return;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) P[i * k + j] = 1.0 / (1.0 + exp(-jm_score(J->model, v + i * D, v + j * D)));
}

/* One request alone (the batch path's fallback when a batch holds a response that does not fit). */
static int s_judge_model(judge_t *J, const Spar__JudgeRequest *r, double *P, double *rewards, char *why, size_t wl) {
    size_t k = r->n_responses;
    char **texts = s_texts(r);
    const char **prompts = xmalloc(sizeof(char *) * k);
    for (size_t i = 0; i < k; i++) prompts[i] = r->prompt;
    float *v = xmalloc(sizeof(float) * k * J->model->dim);
    int rc = ec_embed(J->cache, prompts, (const char *const *)texts, (int)k, v);
    if (rc != 0) snprintf(why, wl, "a response does not fit the judge model's context with its prompt");
    else s_model_answer(J, v, k, P, rewards);
    free(v), free(prompts);
    s_free_texts(texts, k);
    return rc;
}

/* Counts a reply's pairs i < j and its ties (P = 1/2, or equal rewards). */
static void s_count_pairs(judge_t *J, const double *P, const double *rewards, size_t k, int rc) {
    if (rc != 0) return;
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++) {
            J->pairs++;
            J->ties += P ? P[i * k + j] == 0.5 : rewards[i] == rewards[j];
        }
}

/* Learned judges batch the requests waiting on the socket: every response of every request in
 * one ec_embed (cache, then one trunk pass), then a reply each. */
#define MAX_BATCH 64
typedef struct {
    wire_peer_t from;
    Spar__Envelope *in;
} pending_t;

static void s_send_reply(judge_t *J, const pending_t *p, double *P, double *rewards, int rc, const char *why) {
    const Spar__JudgeRequest *r = p->in->judge_request;
    size_t k = r->n_responses;
    int as_rewards = J->model && J->model->kind == JM_REWARD;
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = r->request_id;
    rep.judge_version = J->version;
    rep.k = (uint32_t)k;
    if (rc != 0) {
        rep.error = (char *)why;
        s_log_refusal(J, p->in->sender_id, r->request_id, why);
    } else if (as_rewards) {
        rep.rewards = rewards;
        rep.n_rewards = k;
    } else {
        rep.preference = P;
        rep.n_preference = k * k;
    }
    s_count_pairs(J, as_rewards ? NULL : P, rewards, k, rc);
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY;
    env.judge_reply = &rep;
    s_send(J, &p->from, &env);
    J->served++;
}

/* A request of more responses than this judge answers (wire_judge_max_k): refused with an error
 * before its K x K reply is allocated, and counted as a bad message. Returns 1 when refused. */
static int s_refuse_large(judge_t *J, const wire_peer_t *from, const Spar__Envelope *in) {
    const Spar__JudgeRequest *r = in->judge_request;
    if (r->n_responses <= J->max_k) return 0;
    char why[160];
    snprintf(why, sizeof why, "judge request with %zu responses; this judge answers at most %zu (its reply must fit "
             "wire.max_frame_bytes and %ld bytes)", r->n_responses, J->max_k, (long)WIRE_JUDGE_REPLY_MAX_BYTES);
    wire_count_bad(&J->wire, in->sender_id, why);
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = r->request_id;
    rep.judge_version = J->version;
    rep.k = (uint32_t)r->n_responses;
    rep.error = why;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY;
    env.judge_reply = &rep;
    s_send(J, from, &env);
    return 1;
}

/* The matrix and rule judges answer each request as it comes. */
static void s_on_request(judge_t *J, const pending_t *p) {
    const Spar__JudgeRequest *r = p->in->judge_request;
    size_t k = r->n_responses;
    double *P = xmalloc(sizeof(double) * k * k);
    char why[256] = "";
    int rc = J->rule ? s_judge_rule(J, r, P, why, sizeof why) : s_judge_matrix(J, r, P, why, sizeof why);
    s_send_reply(J, p, P, NULL, rc, why);
    free(P);
}

static void s_serve_batch(judge_t *J, pending_t *held, int *n_held) {
    int n = *n_held, D = J->model ? J->model->dim : 1;
    if (n == 0) return;
    size_t total = 0;
    for (int q = 0; q < n; q++) total += held[q].in->judge_request->n_responses;
    const char **prompts = xmalloc(sizeof(char *) * total), **texts = xmalloc(sizeof(char *) * total);
    char ***own = xmalloc(sizeof(char **) * (size_t)n);
    size_t at = 0;
    for (int q = 0; q < n; q++) {
        const Spar__JudgeRequest *r = held[q].in->judge_request;
        own[q] = s_texts(r);
        for (size_t i = 0; i < r->n_responses; i++, at++) prompts[at] = r->prompt, texts[at] = own[q][i];
    }
    float *v = xmalloc(sizeof(float) * total * D);
    int batch_rc = ec_embed(J->cache, prompts, texts, (int)total, v);
    at = 0;
    for (int q = 0; q < n; q++) {
        size_t k = held[q].in->judge_request->n_responses;
        /* a reward model answers K values: no K x K matrix for it (wire_judge_max_k allows a larger K) */
        double *P = J->model->kind == JM_REWARD ? NULL : xmalloc(sizeof(double) * k * k);
        double *rewards = xmalloc(sizeof(double) * k);
        char why[256] = "";
        int rc = 0;
        if (batch_rc == 0) s_model_answer(J, v + at * D, k, P, rewards);
        else rc = s_judge_model(J, held[q].in->judge_request, P, rewards, why, sizeof why); /* find the bad one */
        s_send_reply(J, &held[q], P, rewards, rc, why);
        free(P), free(rewards);
        s_free_texts(own[q], k);
        at += k;
        wire_free(held[q].in);
    }
    free(prompts), free(texts), free(own), free(v);
    *n_held = 0;
}

static void s_reply_to(void *ctx, const wire_peer_t *to, Spar__Envelope *env) {
    judge_t *J = ctx;
    s_send(J, to, env);
    J->served++;
}

static void s_on_heartbeat(judge_t *J, const wire_peer_t *from) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_JUDGE;
    hb.bad_messages = J->wire.bad_messages;
    hb.requests_served = J->served;
    if (J->cache) ec_stats(J->cache, &hb.cache_hits, &hb.cache_misses);
    hb.pairs_judged = J->pairs;
    hb.ties = J->ties;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    s_send(J, from, &env);
}

int judge_main(const spar_config_t *cfg, const char *id) {
    judge_t J;
    memset(&J, 0, sizeof J);
    J.cfg = cfg;
    char sid[128];
    util_process_id(id && id[0] ? id : "judge", sid, sizeof sid);
    wire_init(&J.wire, sid, cfg->wire.max_frame_bytes);
    log_set_name(id && id[0] ? id : "judge");
    util_install_stop_signals();

    char why[512];
    J.rule = cfg->judge.kind == JUDGE_RULE;
    int remote = cfg->judge.kind == JUDGE_REMOTE;
    if (cfg->judge.kind == JUDGE_REWARD || cfg->judge.kind == JUDGE_PREFERENCE) {
        if (!(J.model = jm_load(cfg->judge.checkpoint, why, sizeof why))) {
            log_error("judge.checkpoint %s: %s", cfg->judge.checkpoint, why);
            return 2;
        }
        if ((J.model->kind == JM_REWARD) != (cfg->judge.kind == JUDGE_REWARD)) {
            log_error("judge.checkpoint %s holds a %s model, not a %s one", cfg->judge.checkpoint,
                      J.model->kind == JM_REWARD ? "reward" : "preference",
                      config_name(CFG_NAMES_JUDGE, cfg->judge.kind));
            jm_destroy(&J.model);
            return 2;
        }
        gpt_set_threads((int)cfg->gpt.threads);
        J.cache = ec_new(J.model, (uint32_t)cfg->judge.cache_entries);
        /* the version names the model's weights */
        uint8_t d[DIGEST_BYTES];
        char hex[2 * DIGEST_BYTES + 1];
        size_t nt = gpt_n_params(J.model->trunk), nw = (size_t)gpt_config(J.model->trunk)->d_model * J.model->dim;
        float *all = xmalloc(sizeof(float) * (nt + nw + (size_t)J.model->dim)); /* trunk, head weight, head bias */
        memcpy(all, gpt_params(J.model->trunk), sizeof(float) * nt);
        memcpy(all + nt, J.model->w, sizeof(float) * nw);
        memcpy(all + nt + nw, J.model->b, sizeof(float) * (size_t)J.model->dim);
        digest_compute(all, sizeof(float) * (nt + nw + (size_t)J.model->dim), d);
        free(all);
        digest_hex(d, hex);
        snprintf(J.version, sizeof J.version, "%s-%.12s", config_name(CFG_NAMES_JUDGE, cfg->judge.kind), hex);
    } else if (remote) {
        snprintf(J.version, sizeof J.version, "remote");
    } else if (J.rule) {
        J.styles = cfg->task.kind == TASK_STYLES;
        snprintf(J.version, sizeof J.version, J.styles ? "rule-styles-1" : "rule-arith-1");
    } else {
        if (game_set_build(&J.games, cfg, why, sizeof why) != 0) {
            log_error("%s", why);
            return 2;
        }
        uint8_t d[DIGEST_BYTES];
        char hex[2 * DIGEST_BYTES + 1];
        digest_compute(J.games.P, sizeof(double) * (size_t)J.games.prompts * J.games.n * J.games.n, d);
        digest_hex(d, hex);
        snprintf(J.version, sizeof J.version, "matrix-%.16s-%.12s", config_name(CFG_NAMES_FAMILY, cfg->game.family), hex);
    }

    J.max_k = wire_judge_max_k(cfg->wire.max_frame_bytes, J.model && J.model->kind == JM_REWARD);
    J.zctx = zmq_ctx_new();
    J.sock = zmq_socket(J.zctx, ZMQ_ROUTER);
    wire_socket_defaults(J.sock, cfg->wire.max_frame_bytes);
    int status = 0;
    if (!(J.curve = curve_new(J.zctx, cfg, why, sizeof why))) {
        log_error("config error: %s", why);
        status = 2;
    } else if (curve_server(J.curve, J.sock, "judge.bind") != 0) {
        status = 2;
    }
    if (status == 0 && remote &&
        !(J.remote = remote_new(J.zctx, J.curve, cfg->judge.remote, &J.wire, cfg->judge.timeout_ms,
                                (int)cfg->judge.both_orders, (uint32_t)cfg->judge.cache_entries)))
        status = 1;
    if (status == 0 && zmq_bind(J.sock, cfg->judge.bind) != 0) {
        log_error("cannot bind judge.bind %s: %s", cfg->judge.bind, zmq_strerror(zmq_errno()));
        status = 1;
    } else if (status == 0) {
        if (J.model) log_info("judge %s serving %s on %s", J.version, cfg->judge.checkpoint, cfg->judge.bind);
        else if (remote) log_info("judge on %s forwarding to the remote judge %s", cfg->judge.bind, cfg->judge.remote);
        else if (J.rule) log_info("judge %s serving %s on %s", J.version, J.styles ? "styles" : "arith", cfg->judge.bind);
        else log_info("judge %s serving %d %s games of %d actions on %s", J.version, J.games.prompts,
                      config_name(CFG_NAMES_FAMILY, cfg->game.family), J.games.n, cfg->judge.bind);
    }
    if (status == 0) log_info("judge answers requests of at most %zu responses", J.max_k);
    if (status == 0) J.presence = presence_new(cfg, &J.wire);
    while (status == 0 && !util_stop_requested()) {
        presence_tick(J.presence, J.served, J.pairs);
        zmq_pollitem_t items[2] = {{J.sock, 0, ZMQ_POLLIN, 0}, {J.remote ? remote_socket(J.remote) : NULL, 0, ZMQ_POLLIN, 0}};
        int ready = zmq_poll(items, J.remote ? 2 : 1, J.remote ? 50 : 200);
        if (J.remote) remote_pump(J.remote, s_reply_to, &J); /* replies, and requests past their time */
        if (ready <= 0) continue;
        pending_t held[MAX_BATCH];
        int n_held = 0;
        while (wire_readable(J.sock)) {
            wire_peer_t from;
            Spar__Envelope *in = wire_recv(&J.wire, J.sock, 1, &from);
            if (!in) continue;
            if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REQUEST && s_refuse_large(&J, &from, in)) {
                /* refused: nothing allocated for it */
            } else if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REQUEST && J.remote)
                remote_forward(J.remote, &from, in->judge_request, s_reply_to, &J);
            else if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REQUEST && J.model) { /* batched below */
                held[n_held++] = (pending_t){from, in};
                if (n_held == MAX_BATCH) s_serve_batch(&J, held, &n_held);
                continue;
            } else if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REQUEST) s_on_request(&J, &(pending_t){from, in});
            else if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) s_on_heartbeat(&J, &from);
            else {
                char why[96];
                snprintf(why, sizeof why, "%s is not a message for a judge", wire_body_name(in));
                wire_count_bad(&J.wire, in->sender_id, why);
            }
            wire_free(in);
        }
        s_serve_batch(&J, held, &n_held);
    }
    log_info("judge stopping: %llu requests served, %llu bad messages", (unsigned long long)J.served,
             (unsigned long long)J.wire.bad_messages);
    if (J.pairs) log_info("judge: %llu pairs judged, tie rate %.4f, position bias 0 (an answer's score never depends on "
                          "its position)", (unsigned long long)J.pairs, (double)J.ties / (double)J.pairs);
    if (J.cache) {
        uint64_t h, m;
        ec_stats(J.cache, &h, &m);
        log_info("judge: embedding cache %llu hits, %llu misses, hit rate %.4f", (unsigned long long)h,
                 (unsigned long long)m, h + m ? (double)h / (double)(h + m) : 0.0);
    }
    strmap_free(&J.logged);
    ec_free(&J.cache);
    if (J.remote) {
        uint64_t h, m;
        remote_cache_stats(J.remote, &h, &m);
        log_info("judge: verdict cache %llu hits, %llu misses, hit rate %.4f", (unsigned long long)h,
                 (unsigned long long)m, h + m ? (double)h / (double)(h + m) : 0.0);
    }
    if (J.remote && cfg->judge.both_orders)
        log_info("judge: the remote judge's position bias (mean |P - P'| between the two orders) %.4f",
                 remote_position_bias(J.remote));
    if (J.curve && cfg->security.curve)
        log_info("judge: %llu connections refused (CURVE)", (unsigned long long)curve_refused(J.curve));
    presence_destroy(&J.presence);
    remote_destroy(&J.remote);
    jm_destroy(&J.model);
    zmq_close(J.sock);
    curve_destroy(&J.curve);
    zmq_ctx_term(J.zctx);
    wire_fini(&J.wire);
    game_set_free(&J.games);
    return status;
}
