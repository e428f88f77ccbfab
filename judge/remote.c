/* remote — see remote.h. */
#include "judge/remote.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/log.h"
#include "common/util.h"

typedef struct {
    wire_peer_t actor;
    uint64_t actor_request, id;
    size_t k;
    int64_t deadline_ms;
} pending_t;

struct remote {
    void *sock;
    wire_t *wire;
    long timeout_ms;
    pending_t *pending;
    int n, cap;
    uint64_t next_id;
};

remote_t *remote_new(void *zctx, const char *endpoint, wire_t *wire, long timeout_ms) {
    remote_t *r = xcalloc(1, sizeof *r);
    r->sock = zmq_socket(zctx, ZMQ_DEALER);
    wire_socket_defaults(r->sock);
    if (zmq_connect(r->sock, endpoint) != 0) {
        log_error("cannot connect to the remote judge %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(r->sock);
        free(r);
        return NULL;
    }
    r->wire = wire;
    r->timeout_ms = timeout_ms;
    return r;
}

void remote_destroy(remote_t **rp) {
    if (!rp || !*rp) return;
    zmq_close((*rp)->sock);
    free((*rp)->pending);
    free(*rp);
    *rp = NULL;
}

void *remote_socket(remote_t *r) { return r->sock; }

void remote_forward(remote_t *r, const wire_peer_t *from, const Spar__JudgeRequest *req) {
    if (r->n == r->cap) r->pending = xrealloc(r->pending, sizeof(pending_t) * (size_t)(r->cap = r->cap ? 2 * r->cap : 64));
    pending_t *p = &r->pending[r->n++];
    p->actor = *from;
    p->actor_request = req->request_id;
    p->id = ++r->next_id;
    p->k = req->n_responses;
    p->deadline_ms = util_now_ms() + r->timeout_ms;
    Spar__JudgeRequest fwd = *req; /* the same request under our id (the remote sees one client) */
    fwd.request_id = p->id;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST;
    env.judge_request = &fwd;
    if (wire_send(r->wire, r->sock, NULL, &env) != 0) log_warn("forward to the remote judge failed: %s", zmq_strerror(zmq_errno()));
}

static void s_drop(remote_t *r, int i) { r->pending[i] = r->pending[--r->n]; }

static void s_answer_error(remote_t *r, int i, const char *why, remote_reply_fn reply, void *ctx) {
    Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
    rep.request_id = r->pending[i].actor_request;
    rep.k = (uint32_t)r->pending[i].k;
    rep.error = (char *)why;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY;
    env.judge_reply = &rep;
    reply(ctx, &r->pending[i].actor, &env);
    s_drop(r, i);
}

int remote_pump(remote_t *r, remote_reply_fn reply, void *ctx) {
    int relayed = 0;
    Spar__Envelope *in;
    while (wire_readable(r->sock)) {
        if (!(in = wire_recv(r->wire, r->sock, 0, NULL))) continue; /* counted by wire */
        if (in->body_case != SPAR__ENVELOPE__BODY_JUDGE_REPLY) {
            if (in->body_case != SPAR__ENVELOPE__BODY_HEARTBEAT) {
                r->wire->bad_messages++;
                log_warn("dropped %s from the remote judge: not a judge reply", wire_body_name(in));
            }
            wire_free(in);
            continue;
        }
        Spar__JudgeReply *rep = in->judge_reply;
        int i = 0;
        while (i < r->n && r->pending[i].id != rep->request_id) i++;
        if (i == r->n) { /* late: already answered with an error */
            wire_free(in);
            continue;
        }
        int err = rep->error && rep->error[0];
        if (!err && rep->k != r->pending[i].k) {
            r->wire->bad_messages++;
            log_warn("remote judge answered K = %u for a request of %zu responses", rep->k, r->pending[i].k);
            s_answer_error(r, i, "the remote judge's reply does not match the request", reply, ctx);
        } else {
            rep->request_id = r->pending[i].actor_request;
            Spar__Envelope out = SPAR__ENVELOPE__INIT; /* sending fills its header; `in` keeps its own */
            out.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY;
            out.judge_reply = rep;
            reply(ctx, &r->pending[i].actor, &out);
            s_drop(r, i);
            relayed++;
        }
        wire_free(in);
    }
    int64_t now = util_now_ms();
    for (int i = r->n - 1; i >= 0; i--)
        if (now >= r->pending[i].deadline_ms) s_answer_error(r, i, "the remote judge did not answer in time", reply, ctx);
    return relayed;
}
