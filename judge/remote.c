/* remote — see remote.h. Pending forwards in one array (a judge has few in flight), two ids each
 * (the second for the reversed order); verdicts keyed by the prompt and the responses' tokens.
 * No clock of its own beyond stamping each forward's deadline: remote_expire is given the time. */
#include "judge/remote.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/curve.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/strmap.h"
#include "common/util.h"
#include "common/wire_socket.h"

/* A cached verdict: the remote's answer to one (prompt, ordered responses), with its version. */
typedef struct {
    char version[128];
    int is_matrix;
    size_t n;
    double values[];
} verdict_t;

/* A forwarded request: with both orders, two forwards (ids id and id + 1, the second with the
 * responses reversed) whose answers are averaged. */
typedef struct {
    wire_peer_t actor;
    uint64_t actor_request, id;
    size_t k;
    int64_t deadline_ms;
    int waiting;            /* replies still due */
    char *key;              /* its verdict-cache key */
    double *first;          /* the first answer in, in the request's order (k*k or k values) */
    int first_is_matrix;
    char version[128];
} pending_t;

struct remote {
    void *sock;
    wire_t *wire;
    long timeout_ms;
    int both_orders;
    pending_t *pending;
    int n, cap;
    uint64_t next_id;
    double bias_sum; /* sum over compared pairs of |P(order 1) - P(order 2)| */
    uint64_t bias_pairs;
    strmap_t *verdicts; /* the remote's answers so far (NULL: no cache) */
    uint64_t hits, misses;
};

/* The cache key of a request: the prompt and every response's tokens, in order. */
static char *s_key(const Spar__JudgeRequest *req) {
    size_t cap = strlen(req->prompt) + 2, len = 0;
    for (size_t i = 0; i < req->n_responses; i++) cap += 11 * req->responses[i]->n_tokens + 1;
    char *k = xmalloc(cap + 1);
    len += (size_t)snprintf(k, cap + 1, "%s\x1f", req->prompt);
    for (size_t i = 0; i < req->n_responses; i++) {
        for (size_t t = 0; t < req->responses[i]->n_tokens; t++)
            len += (size_t)snprintf(k + len, cap + 1 - len, "%u,", req->responses[i]->tokens[t]);
        len += (size_t)snprintf(k + len, cap + 1 - len, ";");
    }
    return k;
}

void remote_cache_stats(const remote_t *r, uint64_t *hits, uint64_t *misses) {
    *hits = r->hits;
    *misses = r->misses;
}

remote_t *remote_new(void *zctx, curve_t *curve, const char *endpoint, wire_t *wire, long timeout_ms,
                     int both_orders, uint32_t cache_entries) {
    wire_socket_opts_t o = {.label = "judge.remote", .type = ZMQ_DEALER, .endpoint = endpoint,
                            .max_frame_bytes = wire->max_frame_bytes, .curve = curve, .curve_peer = CURVE_REMOTE};
    void *sock = wire_socket_open(zctx, &o);
    if (!sock) return NULL; /* wire_socket_open said why */
    remote_t *r = xcalloc(1, sizeof *r);
    r->sock = sock;
    r->wire = wire;
    r->timeout_ms = timeout_ms;
    r->both_orders = both_orders;
    r->verdicts = cache_entries ? strmap_new(cache_entries) : NULL;
    return r;
}

static void s_drop(remote_t *r, int i) {
    free(r->pending[i].first);
    free(r->pending[i].key);
    r->pending[i] = r->pending[--r->n];
}

void remote_destroy(remote_t **rp) {
    if (!rp || !*rp) return;
    while ((*rp)->n) s_drop(*rp, 0);
    zmq_close((*rp)->sock);
    strmap_free(&(*rp)->verdicts);
    free((*rp)->pending);
    free(*rp);
    *rp = NULL;
}

void *remote_socket(remote_t *r) { return r->sock; }

double remote_position_bias(const remote_t *r) { return r->bias_pairs ? r->bias_sum / (double)r->bias_pairs : NAN; }

static void s_send(remote_t *r, const Spar__JudgeRequest *req, uint64_t id, Spar__Response **responses) {
    Spar__JudgeRequest fwd = *req; /* the same request under our id (the remote sees one client) */
    fwd.request_id = id;
    fwd.responses = responses;
    if (msg_send_judge_request(r->wire, r->sock, NULL, &fwd) != 0) log_warn("forward to the remote judge failed: %s", zmq_strerror(zmq_errno()));
}

static void s_reply_to_actor(remote_t *r, int i, Spar__JudgeReply *rep, remote_reply_fn reply, void *ctx);

/* Remembers the answer the pending request i gets. */
static void s_remember(remote_t *r, int i, const Spar__JudgeReply *rep) {
    if (!r->verdicts || !r->pending[i].key) return;
    int m = rep->n_preference > 0;
    size_t n = m ? rep->n_preference : rep->n_rewards;
    verdict_t *v = xmalloc(sizeof *v + sizeof(double) * n);
    snprintf(v->version, sizeof v->version, "%s", rep->judge_version ? rep->judge_version : "");
    v->is_matrix = m;
    v->n = n;
    memcpy(v->values, m ? rep->preference : rep->rewards, sizeof(double) * n);
    strmap_put(r->verdicts, r->pending[i].key, v);
}

int remote_forward(remote_t *r, const wire_peer_t *from, const Spar__JudgeRequest *req, remote_reply_fn reply,
                   void *ctx) {
    char *key = r->verdicts ? s_key(req) : NULL;
    const verdict_t *hit = key ? strmap_get(r->verdicts, key) : NULL;
    if (hit) { /* answered before: the same verdict, from the cache */
        Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
        rep.request_id = req->request_id;
        rep.k = (uint32_t)req->n_responses;
        rep.judge_version = (char *)hit->version;
        if (hit->is_matrix) rep.preference = (double *)hit->values, rep.n_preference = hit->n;
        else rep.rewards = (double *)hit->values, rep.n_rewards = hit->n;
        reply(ctx, from, &rep);
        r->hits++;
        free(key);
        return 1;
    }
    r->misses += key != NULL;
    if (r->n == r->cap) r->pending = xrealloc(r->pending, sizeof(pending_t) * (size_t)(r->cap = r->cap ? 2 * r->cap : 64));
    pending_t *p = &r->pending[r->n++];
    memset(p, 0, sizeof *p);
    p->actor = *from;
    p->actor_request = req->request_id;
    p->id = r->next_id + 1;
    r->next_id += 2;
    p->k = req->n_responses;
    p->deadline_ms = util_now_ms() + r->timeout_ms;
    p->waiting = r->both_orders ? 2 : 1;
    p->key = key;
    s_send(r, req, p->id, req->responses);
    if (r->both_orders) { /* and with the responses reversed */
        Spar__Response **rev = xmalloc(sizeof *rev * (p->k ? p->k : 1));
        for (size_t i = 0; i < p->k; i++) rev[i] = req->responses[p->k - 1 - i];
        s_send(r, req, p->id + 1, rev);
        free(rev);
    }
    return 0;
}

static void s_reply_to_actor(remote_t *r, int i, Spar__JudgeReply *rep, remote_reply_fn reply, void *ctx) {
    rep->request_id = r->pending[i].actor_request;
    reply(ctx, &r->pending[i].actor, rep);
}

static void s_answer_error(remote_t *r, int i, const char *why, remote_reply_fn reply, void *ctx) {
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.k = (uint32_t)r->pending[i].k;
    rep.error = (char *)why;
    s_reply_to_actor(r, i, &rep, reply, ctx);
    s_drop(r, i);
}

/* An answer in the request's order: reversed = the answer to the reversed list. */
static double *s_in_order(const Spar__JudgeReply *rep, size_t k, int reversed, int *is_matrix) {
    *is_matrix = rep->n_preference == k * k;
    double *a = xmalloc(sizeof(double) * (*is_matrix ? k * k : k));
    for (size_t i = 0; i < k; i++) {
        size_t ri = reversed ? k - 1 - i : i;
        if (!*is_matrix) {
            a[i] = rep->rewards[ri];
            continue;
        }
        for (size_t j = 0; j < k; j++) a[i * k + j] = rep->preference[ri * k + (reversed ? k - 1 - j : j)];
    }
    return a;
}

/* Both orders in: average, count the disagreement, reply. */
static void s_combine(remote_t *r, int i, double *second, int second_is_matrix, remote_reply_fn reply, void *ctx) {
    pending_t *p = &r->pending[i];
    size_t k = p->k, n = p->first_is_matrix ? k * k : k;
    if (second_is_matrix != p->first_is_matrix) {
        r->wire->bad_messages++;
        s_answer_error(r, i, "the remote judge answered the two orders in different forms", reply, ctx);
        return;
    }
    if (p->first_is_matrix)
        for (size_t a = 0; a < k; a++)
            for (size_t b = a + 1; b < k; b++) {
                r->bias_sum += fabs(p->first[a * k + b] - second[a * k + b]);
                r->bias_pairs++;
            }
    for (size_t x = 0; x < n; x++) p->first[x] = 0.5 * (p->first[x] + second[x]);
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.k = (uint32_t)k;
    rep.judge_version = p->version;
    if (p->first_is_matrix) rep.preference = p->first, rep.n_preference = n;
    else rep.rewards = p->first, rep.n_rewards = n;
    s_remember(r, i, &rep);
    s_reply_to_actor(r, i, &rep, reply, ctx);
    s_drop(r, i);
}

/* One reply from the remote to the pending request it answers: relayed (returns 1), kept while
 * the other order is due, or answered with an error when it is one or does not fit. */
static int s_on_reply(remote_t *r, Spar__JudgeReply *rep, remote_reply_fn reply, void *ctx) {
    int i = 0;
    while (i < r->n && r->pending[i].id != rep->request_id && r->pending[i].id + 1 != rep->request_id) i++;
    if (i == r->n) return 0; /* late: already answered */
    pending_t *p = &r->pending[i];
    int err = rep->error && rep->error[0], reversed = rep->request_id != p->id;
    if (err) {
        s_answer_error(r, i, rep->error, reply, ctx);
        return 0;
    }
    if (rep->k != p->k || (rep->n_preference != p->k * p->k && rep->n_rewards != p->k)) {
        r->wire->bad_messages++;
        log_warn("remote judge answered K = %u for a request of %zu responses", rep->k, p->k);
        s_answer_error(r, i, "the remote judge's reply does not match the request", reply, ctx);
        return 0;
    }
    if (!r->both_orders) {
        s_remember(r, i, rep);
        s_reply_to_actor(r, i, rep, reply, ctx);
        s_drop(r, i);
        return 1;
    }
    int is_matrix;
    double *a = s_in_order(rep, p->k, reversed, &is_matrix);
    if (--p->waiting > 0) { /* keep the first, wait for the other order */
        p->first = a;
        p->first_is_matrix = is_matrix;
        snprintf(p->version, sizeof p->version, "%s", rep->judge_version);
        return 0;
    }
    s_combine(r, i, a, is_matrix, reply, ctx);
    free(a);
    return 1;
}

int remote_pump(remote_t *r, remote_reply_fn reply, void *ctx) {
    int relayed = 0;
    while (wire_readable(r->sock)) {
        Spar__Envelope *in = wire_recv(r->wire, r->sock, 0, NULL);
        if (!in) continue; /* counted by wire */
        if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REPLY) {
            relayed += s_on_reply(r, in->judge_reply, reply, ctx);
        } else if (in->body_case != SPAR__ENVELOPE__BODY_HEARTBEAT) {
            r->wire->bad_messages++;
            log_warn("dropped %s from the remote judge: not a judge reply", wire_body_name(in));
        }
        wire_free(in);
    }
    return relayed;
}

int64_t remote_expire(remote_t *r, int64_t now_ms, remote_reply_fn reply, void *ctx) {
    for (int i = r->n - 1; i >= 0; i--)
        if (now_ms >= r->pending[i].deadline_ms) s_answer_error(r, i, "the remote judge did not answer in time", reply, ctx);
    /* requests are forwarded in time order, all with the same timeout: one forwarded after now
     * is due no sooner than now + timeout_ms, nor sooner than those pending now */
    int64_t next = now_ms + r->timeout_ms;
    for (int i = 0; i < r->n; i++)
        if (r->pending[i].deadline_ms < next) next = r->pending[i].deadline_ms;
    return next;
}
