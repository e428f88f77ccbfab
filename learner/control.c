/* control — the messages the learner serves on its control ROUTER (hello, heartbeat, work,
 * judged groups, weight fetches, status, goodbye), each checked against what its connection may
 * send, and the messages it sends, one small sender each (replies, publications, shutdown). It
 * decides what to answer; iteration.c decides what a group does to the run. */
#include "learner/service.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/conn_guard.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "learner/judge_check.h"

static void s_reply(learner_service_t *L, const wire_peer_t *to, Spar__Envelope__BodyCase body_case, void *body) {
    if (msg_send(&L->net.wire, L->net.ctl, to, body_case, body) != 0)
        log_warn("send to a peer failed: %s", zmq_strerror(zmq_errno()));
}

/* The judge pool to every actor: the live registered judges' endpoints. */
void learner_publish_judges(learner_service_t *L) {
    char *judges[MAX_POOL];
    int n = peers_pool(&L->peers, judges, MAX_POOL);
    if (n < 0 || !L->net.pub) return; /* judges from configs only; replay has no sockets */
    (void)msg_send_judge_pool(&L->net.wire, L->net.pub, NULL, judges, (size_t)n);
}

void learner_announce(learner_service_t *L) {
    if (L->net.pub)
        (void)msg_send_weights_available(&L->net.wire, L->net.pub, NULL, L->core.version, L->blob.len,
                                         L->blob.n_chunks, L->blob.digest);
    learner_publish_judges(L);
    L->next_announce_ms = util_now_ms() + ANNOUNCE_MS;
}

void learner_publish_line(learner_service_t *L, uint64_t iteration, const char *line) {
    if (L->net.pub) (void)msg_send_iteration_summary(&L->net.wire, L->net.pub, NULL, iteration, line);
}

void learner_send_shutdown(learner_service_t *L, const wire_peer_t *to, const char *reason) {
    void *sock = to ? L->net.ctl : L->net.pub;
    if (sock && msg_send_shutdown(&L->net.wire, sock, to, reason) != 0 && to)
        log_warn("send to a peer failed: %s", zmq_strerror(zmq_errno()));
}

/* The status document and the last n iteration lines, to a StatusRequest. */
static void s_send_status(learner_service_t *L, const wire_peer_t *to, uint32_t n) {
    char *doc = status_json(&L->status, L);
    char *const *lines;
    size_t k = status_recent(&L->status, n, &lines);
    /* unlogged: a monitor that stopped reading may flood */
    (void)msg_send_status(&L->net.wire, L->net.ctl, to, doc, (char **)lines, k);
    free(doc);
}

/* The run a peer joins: its id, the current version, the heartbeat period, the policy kind, the
 * seed, the number of prompts and the live judge pool. */
static void s_send_welcome(learner_service_t *L, const wire_peer_t *to) {
    char *judges[MAX_POOL];
    Spar__Welcome w = SPAR__WELCOME__INIT;
    w.judges = judges;
    w.n_judges = (size_t)peers_judges(&L->peers, judges, MAX_POOL);
    w.run_id = L->net.wire.run_id;
    w.current_version = L->core.version;
    w.heartbeat_ms = (uint32_t)L->cfg->actor.heartbeat_ms;
    w.policy_kind = (char *)config_name(CFG_NAMES_POLICY, L->cfg->policy.kind);
    w.seed = (uint64_t)L->cfg->run.seed;
    w.prompts = (uint32_t)L->cfg->task.prompts;
    s_reply(L, to, SPAR__ENVELOPE__BODY_WELCOME, &w);
}

/* The learner's own heartbeat; hello_first: the peer must say Hello (again) first. */
static void s_send_heartbeat(learner_service_t *L, const wire_peer_t *to, int hello_first) {
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_LEARNER, .policy_version = L->core.version,
                          .bad_messages = L->net.wire.bad_messages, .hello_first = hello_first};
    if (msg_send_heartbeat(&L->net.wire, L->net.ctl, to, &hb) != 0)
        log_warn("send to a peer failed: %s", zmq_strerror(zmq_errno()));
}

/* A lease (ls), or with ls NULL an empty grant: ask again after retry_ms. */
static void s_send_grant(learner_service_t *L, const wire_peer_t *to, const lease_t *ls) {
    Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
    uint32_t ids[4096];
    g.iteration = L->iteration;
    g.policy_version = L->core.version;
    g.samples_per_prompt = (uint32_t)L->cfg->rollout.samples_per_prompt;
    g.retry_ms = 20;
    if (L->core.train.alg.kind == ALG_NASH_MD) g.opponent_mix = L->core.train.alg.eta * L->core.train.alg.tau;
    g.max_new = (uint32_t)L->cfg->rollout.max_new;
    g.temperature = L->cfg->rollout.temperature;
    g.top_k = (uint32_t)L->cfg->rollout.top_k;
    g.top_p = L->cfg->rollout.top_p;
    g.stop = L->core.stop;
    g.n_stop = (size_t)L->core.n_stop;
    char *texts[4096];
    if (ls) {
        for (int i = 0; i < ls->n; i++) {
            ids[i] = (uint32_t)ls->prompts[i];
            texts[i] = L->prompt_text[ls->prompts[i]];
        }
        g.prompts = texts;
        g.n_prompts = (size_t)ls->n;
        g.lease_id = ls->id;
        g.prompt_ids = ids;
        g.n_prompt_ids = (size_t)ls->n;
        g.deadline_unix_ms = (uint64_t)(util_unix_ms() + (ls->deadline_ms - util_now_ms()));
    }
    s_reply(L, to, SPAR__ENVELOPE__BODY_WORK_GRANT, &g);
}

/* Chunk index of version, or the error that it is not held. */
static void s_send_chunk(learner_service_t *L, const wire_peer_t *to, uint64_t version, uint32_t index) {
    Spar__WeightsChunk c = SPAR__WEIGHTS_CHUNK__INIT;
    /* pi_ref's blob (mixture opponents) is made the first time it is asked for after version 0:
     * held from the start, it would be a second copy of a real model for every run */
    if (version == 0 && L->blob.version != 0 && !L->ref_blob.data)
        learner_blob_set(&L->ref_blob, L->core.ref, 0, (size_t)L->cfg->learner.chunk_bytes);
    const transfer_blob_t *b = version == L->blob.version ? &L->blob : version == 0 ? &L->ref_blob : NULL;
    transfer_blob_reply(b, version, index, &c);
    s_reply(L, to, SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK, &c);
}

/* No lease for a connection that has not said Hello as an actor: it is told to. */
static void s_send_hello_first(learner_service_t *L, const wire_peer_t *to) {
    Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
    g.iteration = L->iteration;
    g.policy_version = L->core.version;
    g.retry_ms = 100;
    g.hello_first = 1;
    s_reply(L, to, SPAR__ENVELOPE__BODY_WORK_GRANT, &g);
}

static void s_send_ack(learner_service_t *L, const wire_peer_t *to, uint64_t iteration, uint32_t prompt, Spar__AckStatus st) {
    if (msg_send_rollout_ack(&L->net.wire, L->net.ctl, to, iteration, prompt, st) != 0)
        log_warn("send to a peer failed: %s", zmq_strerror(zmq_errno()));
}

/* A Hello makes an actor or judge a tracked peer under its connection's name; a tool's is
 * answered, not tracked. A connection keeps the role of its first Hello. */
static void s_on_hello(learner_service_t *L, const wire_peer_t *from, const char *who, const Spar__Envelope *in) {
    Spar__Role role = in->hello->role;
    peer_t *p = role == SPAR__ROLE__ROLE_ACTOR || role == SPAR__ROLE__ROLE_JUDGE ? peers_touch(&L->peers, &L->leases, who, role, util_now_ms()) : NULL;
    if (p && p->role != role) {
        wire_count_bad(&L->net.wire, who, "a Hello with another role than its first");
        p = NULL;
    }
    if (p) p->hello = 1;
    if (L->finished) { /* too late to join: the run is over */
        if (p) p->told_shutdown = 1;
        learner_send_shutdown(L, from, "run complete");
        return;
    }
    if (p && role == SPAR__ROLE__ROLE_JUDGE && in->hello->endpoint[0] && strcmp(p->endpoint, in->hello->endpoint) != 0) {
        snprintf(p->endpoint, sizeof p->endpoint, "%s", in->hello->endpoint);
        log_info("judge %s registers at %s", p->id, p->endpoint);
        judge_check_request(L->net.jcheck, p, util_now_ms());
        learner_publish_judges(L);
    }
    s_send_welcome(L, from);
}

static void s_on_heartbeat(learner_service_t *L, const wire_peer_t *from, const char *who, const Spar__Envelope *in) {
    /* tools (spar ping, monitors) are answered but not tracked; an actor or judge only once it
     * said Hello (a restarted learner tells it to) */
    Spar__Role role = in->heartbeat->role;
    int peer_role = role == SPAR__ROLE__ROLE_ACTOR || role == SPAR__ROLE__ROLE_JUDGE;
    peer_t *p = peer_role ? peers_seen(&L->peers, who, util_now_ms()) : NULL;
    if (p && p->role != role) p = NULL;
    if (p && p->role == SPAR__ROLE__ROLE_JUDGE) {
        p->groups = in->heartbeat->requests_served;
        p->bad_messages = in->heartbeat->bad_messages;
    } else if (p) {
        peers_saw_version(&L->peers, p, in->heartbeat->policy_version, util_now_ms());
        p->bad_messages = in->heartbeat->bad_messages;
    }
    s_send_heartbeat(L, from, peer_role && (!p || !p->hello));
}

static void s_on_work_request(learner_service_t *L, const wire_peer_t *from, const char *who, const Spar__Envelope *in) {
    peer_t *p = peers_seen(&L->peers, who, util_now_ms());
    if (!p || !p->hello || p->role != SPAR__ROLE__ROLE_ACTOR) {
        s_send_hello_first(L, from);
        return;
    }
    if (in->work_request->have_version) peers_saw_version(&L->peers, p, in->work_request->have_version, util_now_ms());
    if (L->finished) {
        p->told_shutdown = 1;
        learner_send_shutdown(L, from, "run complete");
        return;
    }
    int max = (int)L->cfg->learner.prompts_per_lease;
    if (in->work_request->max_prompts > 0 && in->work_request->max_prompts < (uint32_t)max)
        max = (int)in->work_request->max_prompts;
    max = p->strikes >= 16 ? 1 : max >> p->strikes; /* each lease it let expire halves its next ones */
    if (max < 1) max = 1;
    /* a request repeated while the learner was busy gets the lease already granted; with the
     * queue empty, an actor backs up what suspect holders sit on */
    int64_t now = util_now_ms(), timeout = L->cfg->learner.lease_timeout_ms;
    const lease_t *ls = leases_held(&L->leases, who, now);
    if (!ls) ls = leases_grant(&L->leases, max, now, timeout, who);
    if (!ls && p->groups > 0 && !p->strikes) ls = leases_grant_backup(&L->leases, max, now, timeout, who, peers_suspect, &L->peers);
    s_send_grant(L, from, ls);
}

static void s_on_rollout(learner_service_t *L, const wire_peer_t *from, const char *who, Spar__Envelope *in) {
    const Spar__RolloutGroup *g = in->rollout_group;
    if (L->finished || g->iteration < L->iteration) { /* that iteration took every prompt once */
        s_send_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_DUPLICATE);
        return;
    }
    char why[256];
    if (g->iteration > L->iteration || learner_check_group(L, g, why, sizeof why) != 0) {
        if (g->iteration > L->iteration) snprintf(why, sizeof why, "iteration %llu is in the future",
                                                  (unsigned long long)g->iteration);
        wire_count_bad(&L->net.wire, who, why);
        s_send_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_REJECTED);
        return;
    }
    /* only a connection the prompt was leased to may answer it (an expired lease still counts) */
    if (!leases_granted_to(&L->leases, (int)g->prompt_id, who)) {
        wire_count_bad(&L->net.wire, who, "a group for a prompt not leased to this connection");
        s_send_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_REJECTED);
        return;
    }
    if (leases_is_done(&L->leases, (int)g->prompt_id)) {
        s_send_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_DUPLICATE);
        return;
    }
    if (!learner_version_ok(L, g->policy_version)) {
        L->stats.stale_dropped++;
        L->stale_total++;
        leases_requeue(&L->leases, (int)g->prompt_id); /* answered again with a fresh version */
        s_send_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_STALE);
        return;
    }
    uint64_t iteration = g->iteration;
    uint32_t prompt = g->prompt_id;
    peer_t *p = peers_seen(&L->peers, who, util_now_ms());
    if (p) {
        p->groups++;
        p->strikes = 0;
    }
    Spar__RolloutGroup *own = wire_take_rollout_group(in);
    if (own->actor_id != protobuf_c_empty_string) free(own->actor_id); /* the records name who really sent it */
    own->actor_id = xstrdup(who);
    learner_admit(L, own, 1);
    s_send_ack(L, from, iteration, prompt, SPAR__ACK_STATUS__ACK_ACCEPTED);
    if (leases_all_done(&L->leases)) loop_stop(L->net.loop); /* the iteration is collected */
}

/* With CURVE, what a connection may do follows from its key's name (security.allowed holds
 * NAME.pub files): a key named actor* acts as an actor, judge* as a judge, any other as a tool
 * (heartbeats, status). The role a message needs, or ROLE_UNKNOWN for any. */
static Spar__Role s_needed_role(const Spar__Envelope *in) {
    switch (in->body_case) {
    case SPAR__ENVELOPE__BODY_HELLO:
        return in->hello->role == SPAR__ROLE__ROLE_ACTOR || in->hello->role == SPAR__ROLE__ROLE_JUDGE
                   ? in->hello->role
                   : SPAR__ROLE__ROLE_UNKNOWN;
    case SPAR__ENVELOPE__BODY_WORK_REQUEST:
    case SPAR__ENVELOPE__BODY_ROLLOUT_GROUP:
    case SPAR__ENVELOPE__BODY_WEIGHTS_FETCH: return SPAR__ROLE__ROLE_ACTOR;
    default: return SPAR__ROLE__ROLE_UNKNOWN;
    }
}

/* 1 when the connection may send this message: without CURVE always; with it, its key's role
 * is the one the message needs, and its routing id is the key's name or starts with it and a
 * separator (actor.KEY's processes are actor-0.PID@HOST, actor-1...), so a key can only act as
 * its own identities. Refusals are counted and logged once per sender and reason. */
static int s_entitled(learner_service_t *L, const wire_peer_t *from, const char *who, const Spar__Envelope *in) {
    if (!from->user[0]) return 1;
    Spar__Role need = s_needed_role(in);
    if (need == SPAR__ROLE__ROLE_UNKNOWN) return 1;
    const char *prefix = need == SPAR__ROLE__ROLE_ACTOR ? "actor" : "judge";
    if (strncmp(from->user, prefix, strlen(prefix)) != 0) {
        char why[160];
        snprintf(why, sizeof why, "key %.64s may not send %s as %s", from->user, wire_body_name(in), prefix);
        wire_count_bad(&L->net.wire, who, why);
        return 0;
    }
    size_t n = strlen(from->user);
    if (strncmp(who, from->user, n) != 0 || (who[n] && !strchr(".-_@", who[n]))) {
        char why[160];
        snprintf(why, sizeof why, "key %.64s may not act as another identity", from->user);
        wire_count_bad(&L->net.wire, who, why);
        return 0;
    }
    return 1;
}

static void s_dispatch(learner_service_t *L, const wire_peer_t *from, Spar__Envelope *in) {
    /* a peer is its connection: the routing id ZeroMQ keeps unique on this socket, never the
     * sender_id the envelope claims */
    char who[2 * WIRE_ID_MAX + 1];
    wire_peer_name(from, who, sizeof who);
    if (in->run_id[0] && strcmp(in->run_id, L->net.wire.run_id) != 0 &&
        in->body_case != SPAR__ENVELOPE__BODY_HELLO && in->body_case != SPAR__ENVELOPE__BODY_HEARTBEAT) {
        wire_count_bad(&L->net.wire, who, "a message of another run");
        return;
    }
    if (!s_entitled(L, from, who, in)) return;
    switch (in->body_case) {
    case SPAR__ENVELOPE__BODY_HELLO: s_on_hello(L, from, who, in); break;
    case SPAR__ENVELOPE__BODY_HEARTBEAT: s_on_heartbeat(L, from, who, in); break;
    case SPAR__ENVELOPE__BODY_WORK_REQUEST: s_on_work_request(L, from, who, in); break;
    case SPAR__ENVELOPE__BODY_ROLLOUT_GROUP: s_on_rollout(L, from, who, in); break;
    case SPAR__ENVELOPE__BODY_WEIGHTS_FETCH:
        s_send_chunk(L, from, in->weights_fetch->version, in->weights_fetch->chunk_index);
        break;
    case SPAR__ENVELOPE__BODY_STATUS_REQUEST: s_send_status(L, from, in->status_request->iterations); break;
    case SPAR__ENVELOPE__BODY_SHUTDOWN: /* a peer leaving on purpose: only the connection that says so */
        learner_peer_left(L, peers_seen(&L->peers, who, util_now_ms()), in->shutdown->reason[0] ? in->shutdown->reason : "said so");
        break;
    default: wire_count_bad(&L->net.wire, who, "not a message for the learner");
    }
}

/* The control ROUTER is readable: at most a budget of messages per pass, so that timers still
 * run under a flood. */
void learner_on_control(loop_t *loop, void *ctl, void *arg) {
    (void)loop;
    learner_service_t *L = arg;
    int budget = 1000;
    while (budget-- > 0 && wire_readable(ctl)) {
        wire_peer_t from;
        Spar__Envelope *in = wire_recv(&L->net.wire, ctl, 1, &from);
        if (!in) continue;
        s_dispatch(L, &from, in);
        wire_free(in);
    }
}

/* A connection guard's monitor has events: connections past the cap are refused. */
void learner_on_guard(loop_t *loop, void *socket, void *guard) {
    (void)loop, (void)socket;
    conn_guard_handle(guard);
}

void learner_on_pool_changed(void *L) { learner_publish_judges(L); }
