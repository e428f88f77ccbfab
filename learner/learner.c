/* learner — see learner.h. Message handlers first, then the iteration steps, then main. */
#include "learner/learner.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/conn_guard.h"
#include "common/digest.h"
#include "common/game.h"
#include "common/gpt_io.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/policy.h"
#include "common/records.h"
#include "common/task.h"
#include "common/task_styles.h"
#include "common/tokenizer.h"
#include "common/transfer.h"
#include "common/util.h"
#include "common/wire.h"
#include "learner/service.h"
#include "learner/checkpoint.h"
#include "learner/core.h"
#include "learner/iterlog.h"
#include "learner/judge_check.h"
#include "learner/resume.h"
#include "learner/peers.h"
#include "learner/status.h"
#include "learner/leases.h"
#include "learner/online.h"
#include "learner/optim.h"
#include "learner/sft.h"
#include "learner/text_metrics.h"
#include "learner/train.h"

/* The weights of version of p as actors fetch them. The length is known only once serialised,
 * hence two statements (an argument list does not order its evaluation). */
static void s_blob_set(transfer_blob_t *b, const policy_t *p, uint64_t version, size_t chunk_bytes) {
    size_t len;
    uint8_t *data = policy_serialize(p, version, &len);
    transfer_blob_set(b, data, len, version, chunk_bytes);
}

void learner_run_dir(const spar_config_t *cfg, char *out, size_t outlen) {
    if (cfg->run.dir[0]) snprintf(out, outlen, "%s", cfg->run.dir);
    else snprintf(out, outlen, "runs/%s", cfg->run.name);
}

/* ---- sending ---------------------------------------------------------------------------- */

static void s_reply(learner_service_t *L, const wire_peer_t *to, Spar__Envelope *env) {
    if (wire_send(&L->net.wire, L->net.ctl, to, env) != 0)
        log_warn("send to a peer failed: %s", zmq_strerror(zmq_errno()));
}

static void s_publish(learner_service_t *L, Spar__Envelope *env) {
    if (L->net.pub) wire_send(&L->net.wire, L->net.pub, NULL, env); /* replay has no sockets */
}

void learner_publish(learner_service_t *L, Spar__Envelope *env) { s_publish(L, env); }

/* The judge pool to every actor: the live registered judges' endpoints. */
static void s_publish_judges(learner_service_t *L) {
    char *judges[MAX_POOL];
    Spar__JudgePool jp = SPAR__JUDGE_POOL__INIT;
    jp.endpoints = judges;
    int n = peers_pool(&L->peers, judges, MAX_POOL);
    if (n < 0) return; /* judges from configs only */
    jp.n_endpoints = (size_t)n;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_POOL;
    env.judge_pool = &jp;
    s_publish(L, &env);
}

static void s_announce(learner_service_t *L) {
    Spar__WeightsAvailable wa = SPAR__WEIGHTS_AVAILABLE__INIT;
    wa.version = L->core.version;
    wa.total_bytes = L->blob.len;
    wa.n_chunks = L->blob.n_chunks;
    wa.digest.data = L->blob.digest;
    wa.digest.len = DIGEST_BYTES;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE;
    env.weights_available = &wa;
    s_publish(L, &env);
    s_publish_judges(L);
    L->next_announce_ms = util_now_ms() + ANNOUNCE_MS;
}

static void s_send_shutdown(learner_service_t *L, const wire_peer_t *to, const char *reason) {
    void *sock = to ? L->net.ctl : L->net.pub;
    if (sock && wire_send_shutdown(&L->net.wire, sock, to, reason) != 0 && to)
        log_warn("send to a peer failed: %s", zmq_strerror(zmq_errno()));
}

/* The status document and the last n iteration lines, to a StatusRequest. */
static void s_send_status(learner_service_t *L, const wire_peer_t *to, uint32_t n) {
    Spar__Status st = SPAR__STATUS__INIT;
    char *doc = status_json(&L->status, L);
    char *const *lines;
    st.json = doc;
    st.n_iterations = status_recent(&L->status, n, &lines);
    st.iterations = (char **)lines;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_STATUS;
    env.status = &st;
    wire_send(&L->net.wire, L->net.ctl, to, &env); /* unlogged: a monitor that stopped reading may flood */
    free(doc);
}

void learner_peer_left(learner_service_t *L, peer_t *p, const char *why) {
    if (!peers_leave(p)) return;
    peers_log_left(p, why, leases_release(&L->leases, p->id));
}

/* Every second and at state changes: the peers' silence and departures, then the status. */
static void s_tick(learner_service_t *L) {
    peer_left_t left[MAX_PEERS];
    int n = peers_tick(&L->peers, &L->leases, util_now_ms(), left);
    for (int i = 0; i < n; i++) peers_log_left(left[i].peer, left[i].why, leases_release(&L->leases, left[i].peer->id));
    status_tick(&L->status, L);
}

/* ---- handlers --------------------------------------------------------------------------- */

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
        s_send_shutdown(L, from, "run complete");
        return;
    }
    if (p && role == SPAR__ROLE__ROLE_JUDGE && in->hello->endpoint[0] && strcmp(p->endpoint, in->hello->endpoint) != 0) {
        snprintf(p->endpoint, sizeof p->endpoint, "%s", in->hello->endpoint);
        log_info("judge %s registers at %s", p->id, p->endpoint);
        judge_check_request(L->net.jcheck, p, util_now_ms());
        s_publish_judges(L);
    }
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
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WELCOME;
    env.welcome = &w;
    s_reply(L, from, &env);
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
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_LEARNER;
    hb.policy_version = L->core.version;
    hb.bad_messages = L->net.wire.bad_messages;
    hb.hello_first = peer_role && (!p || !p->hello);
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    s_reply(L, from, &env);
}

/* No lease for a connection that has not said Hello as an actor: it is told to. */
static void s_hello_first(learner_service_t *L, const wire_peer_t *to) {
    Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
    g.iteration = L->iteration;
    g.policy_version = L->core.version;
    g.retry_ms = 100;
    g.hello_first = 1;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WORK_GRANT;
    env.work_grant = &g;
    s_reply(L, to, &env);
}

static void s_on_work_request(learner_service_t *L, const wire_peer_t *from, const char *who, const Spar__Envelope *in) {
    peer_t *p = peers_seen(&L->peers, who, util_now_ms());
    if (!p || !p->hello || p->role != SPAR__ROLE__ROLE_ACTOR) {
        s_hello_first(L, from);
        return;
    }
    if (in->work_request->have_version) peers_saw_version(&L->peers, p, in->work_request->have_version, util_now_ms());
    if (L->finished) {
        p->told_shutdown = 1;
        s_send_shutdown(L, from, "run complete");
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
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WORK_GRANT;
    env.work_grant = &g;
    s_reply(L, from, &env);
}

static void s_ack(learner_service_t *L, const wire_peer_t *to, uint64_t iteration, uint32_t prompt, Spar__AckStatus st) {
    Spar__RolloutAck a = SPAR__ROLLOUT_ACK__INIT;
    a.iteration = iteration;
    a.prompt_id = prompt;
    a.status = st;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_ROLLOUT_ACK;
    env.rollout_ack = &a;
    s_reply(L, to, &env);
}

/* Admission by version: sampled by a version at most max_staleness behind (synchronous: the
 * current), and not older than a resume (versions before it are no longer held). */
static int s_version_ok(const learner_service_t *L, uint64_t v) {
    return online_admits(&L->online, L->core.version, v, L->min_version);
}

int learner_group_fits(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl) {
    if (learner_check_group(L, g, why, wl) != 0) return -1;
    if (leases_is_done(&L->leases, (int)g->prompt_id)) {
        snprintf(why, wl, "prompt %u of iteration %llu answered twice", g->prompt_id, (unsigned long long)g->iteration);
        return -1;
    }
    if (!s_version_ok(L, g->policy_version)) {
        snprintf(why, wl, "sampled by version %llu, the learner is at %llu", (unsigned long long)g->policy_version,
                 (unsigned long long)L->core.version);
        return -1;
    }
    return 0;
}

/* Checks what only the learner can: the group answers a prompt of this run with responses
 * its policy can produce. Returns 0 or -1 with the reason in why. */
int learner_check_group(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl) {
    if (g->prompt_id >= (uint32_t)L->cfg->task.prompts) {
        snprintf(why, wl, "prompt %u out of range", g->prompt_id);
        return -1;
    }
    size_t k = (size_t)L->cfg->rollout.samples_per_prompt, opponents = L->core.train.alg.kind == ALG_NASH_MD ? k : 0;
    if (g->n_responses != k + opponents || g->n_opponents != opponents) {
        snprintf(why, wl, "%zu responses with %u opponents, expected %zu and %zu", g->n_responses, g->n_opponents,
                 k + opponents, opponents);
        return -1;
    }
    for (size_t i = 0; i < g->n_responses; i++) {
        policy_seq_t s = {(int)g->prompt_id, L->prompt_text[g->prompt_id], g->responses[i]->tokens,
                          (int)g->responses[i]->n_tokens};
        if (!policy_valid_seq(L->core.theta, &s)) {
            snprintf(why, wl, "response %zu is not a response of this policy to prompt %u", i, g->prompt_id);
            return -1;
        }
    }
    return 0;
}

static void s_set_version(learner_service_t *L, uint64_t version);
static void s_announce(learner_service_t *L);

/* A new version: serialise, remember it for admission, announce it. */
static void s_broadcast(learner_service_t *L) {
    s_set_version(L, L->core.version + 1);
    online_remember(&L->online, L->core.version, L->core.theta);
    s_announce(L);
}

/* Online mode: one learner step on the batch, and a new version every broadcast_every steps. */
static void s_online_step(learner_service_t *L) {
    if (online_step(&L->online, &L->core, L->buffer, &L->stats)) s_broadcast(L);
}

static void s_on_rollout(learner_service_t *L, const wire_peer_t *from, const char *who, Spar__Envelope *in) {
    const Spar__RolloutGroup *g = in->rollout_group;
    if (L->finished || g->iteration < L->iteration) { /* that iteration took every prompt once */
        s_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_DUPLICATE);
        return;
    }
    char why[256];
    if (g->iteration > L->iteration || learner_check_group(L, g, why, sizeof why) != 0) {
        if (g->iteration > L->iteration) snprintf(why, sizeof why, "iteration %llu is in the future",
                                                  (unsigned long long)g->iteration);
        wire_count_bad(&L->net.wire, who, why);
        s_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_REJECTED);
        return;
    }
    /* only a connection the prompt was leased to may answer it (an expired lease still counts) */
    if (!leases_granted_to(&L->leases, (int)g->prompt_id, who)) {
        wire_count_bad(&L->net.wire, who, "a group for a prompt not leased to this connection");
        s_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_REJECTED);
        return;
    }
    if (leases_is_done(&L->leases, (int)g->prompt_id)) {
        s_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_DUPLICATE);
        return;
    }
    if (!s_version_ok(L, g->policy_version)) {
        L->stats.stale_dropped++;
        L->stale_total++;
        leases_requeue(&L->leases, (int)g->prompt_id); /* answered again with a fresh version */
        s_ack(L, from, g->iteration, g->prompt_id, SPAR__ACK_STATUS__ACK_STALE);
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
    s_ack(L, from, iteration, prompt, SPAR__ACK_STATUS__ACK_ACCEPTED);
    if (leases_all_done(&L->leases)) loop_stop(L->net.loop); /* the iteration is collected */
}

void learner_admit(learner_service_t *L, Spar__RolloutGroup *own, int record) {
    leases_complete(&L->leases, (int)own->prompt_id);
    if (record) { /* a group read back from the records already carries both */
        own->learner_version = L->core.version;
        if (own->prompt != protobuf_c_empty_string) free(own->prompt); /* training reads the learner's own text */
        own->prompt = xstrdup(L->prompt_text[own->prompt_id]);
    }
    iter_stats_admit(&L->stats, own, L->core.version - own->policy_version);
    L->buffer[own->prompt_id] = own;
    L->samples_total += own->n_responses;
    L->groups_total++;
    if (record && L->files.records && (records_append(L->files.records, own) != 0 || fflush(L->files.records) != 0))
        log_error("cannot append to records: %s", strerror(errno));
    if (L->online.online && online_add(&L->online, (int)own->prompt_id)) s_online_step(L);
}

static void s_on_fetch(learner_service_t *L, const wire_peer_t *from, const Spar__Envelope *in) {
    const Spar__WeightsFetch *f = in->weights_fetch;
    Spar__WeightsChunk c = SPAR__WEIGHTS_CHUNK__INIT;
    const transfer_blob_t *b = f->version == L->blob.version ? &L->blob : f->version == 0 ? &L->ref_blob : NULL;
    transfer_blob_reply(b, f->version, f->chunk_index, &c);
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK;
    env.weights_chunk = &c;
    s_reply(L, from, &env);
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
    case SPAR__ENVELOPE__BODY_WEIGHTS_FETCH: s_on_fetch(L, from, in); break;
    case SPAR__ENVELOPE__BODY_STATUS_REQUEST: s_send_status(L, from, in->status_request->iterations); break;
    case SPAR__ENVELOPE__BODY_SHUTDOWN: /* a peer leaving on purpose: only the connection that says so */
        learner_peer_left(L, peers_seen(&L->peers, who, util_now_ms()), in->shutdown->reason[0] ? in->shutdown->reason : "said so");
        break;
    default: wire_count_bad(&L->net.wire, who, "not a message for the learner");
    }
}

/* The control ROUTER is readable: at most a budget of messages per pass, so that timers still
 * run under a flood. */
static void s_on_control(loop_t *loop, void *ctl, void *arg) {
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
static void s_on_guard(loop_t *loop, void *socket, void *guard) {
    (void)loop, (void)socket;
    conn_guard_handle(guard);
}

static void s_on_pool_changed(void *L) { s_publish_judges(L); }

/* ---- iteration steps -------------------------------------------------------------------- */

void learner_set_version(learner_service_t *L, uint64_t version) { s_set_version(L, version); }

static void s_set_version(learner_service_t *L, uint64_t version) {
    L->core.version = version;
    peers_new_version(&L->peers, version, util_now_ms());
    s_blob_set(&L->blob, L->core.theta, version, (size_t)L->cfg->learner.chunk_bytes);
}

/* ---- collection: the loop's timers and hook while an iteration collects ---------------- */

static int64_t s_announce_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    if (now >= L->next_announce_ms) s_announce(L);
    return L->next_announce_ms;
}

static int64_t s_status_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    if (now >= L->status.next_status_ms) s_tick(L);
    return L->status.next_status_ms;
}

/* Leases past their deadline: their prompts re-queued, a strike for each holder. */
static int64_t s_leases_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    int requeued = leases_expire(&L->leases, now);
    if (requeued) log_warn("iteration %llu: %d prompts of expired leases re-queued",
                           (unsigned long long)L->iteration, requeued);
    peers_strikes(&L->peers, &L->leases);
    return leases_next_deadline(&L->leases);
}

/* A run that waits says what it waits for. */
static int64_t s_stall_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    int actors = peers_actors_since(&L->peers, now - STALL_REPORT_MS);
    log_warn("iteration %llu: %d of %ld prompts in; %d actor(s) heard from in the last %d s",
             (unsigned long long)L->iteration, L->leases.done, L->cfg->task.prompts, actors, STALL_REPORT_MS / 1000);
    return now + STALL_REPORT_MS;
}

/* Before every wait while collecting: the lease timer follows the earliest deadline (grants
 * add leases), and the last iteration's line is written once its worker is done. */
static void s_before_sleep(loop_t *loop, void *arg) {
    learner_service_t *L = arg;
    if (!L->collect_timers[2]) return;
    loop_set_timer(loop, L->collect_timers[2], leases_next_deadline(&L->leases));
    if (iterlog_pending(&L->iterlog) && iterlog_finish(&L->iterlog, 0) < 0) {
        L->collect_failed = 1;
        loop_stop(loop);
    }
}

/* Collects every prompt of the iteration. Returns 0, or -1 when stopped by a signal or when
 * the last checkpoint could not be written. */
static int s_collect(learner_service_t *L) {
    s_announce(L);
    if (leases_all_done(&L->leases)) return 0; /* a resume took every group back */
    int64_t now = util_now_ms();
    L->collect_failed = 0;
    L->collect_timers[0] = loop_add_timer(L->net.loop, L->next_announce_ms, s_announce_due, L);
    L->collect_timers[1] = loop_add_timer(L->net.loop, L->status.next_status_ms, s_status_due, L);
    L->collect_timers[2] = loop_add_timer(L->net.loop, leases_next_deadline(&L->leases), s_leases_due, L);
    L->collect_timers[3] = loop_add_timer(L->net.loop, now + STALL_REPORT_MS, s_stall_due, L);
    loop_run(L->net.loop); /* until the last group (s_on_rollout), a failure or a signal */
    for (int i = 0; i < 4; i++) loop_cancel_timer(L->net.loop, L->collect_timers[i]);
    memset(L->collect_timers, 0, sizeof L->collect_timers);
    return !L->collect_failed && leases_all_done(&L->leases) ? 0 : -1;
}

static void s_free_buffer(learner_service_t *L) {
    for (long p = 0; p < L->cfg->task.prompts; p++) {
        if (L->buffer[p]) spar__rollout_group__free_unpacked(L->buffer[p], NULL);
        L->buffer[p] = NULL;
    }
}

/* This iteration's prompt texts (fresh problems each iteration for the text tasks). */
static void s_set_prompts(learner_service_t *L) {
    for (long p = 0; p < L->cfg->task.prompts; p++) {
        char text[256];
        task_prompt(L->cfg, L->iteration, (int)p, text, sizeof text);
        free(L->prompt_text[p]);
        L->prompt_text[p] = xstrdup(text);
    }
}

void learner_begin_iteration(learner_service_t *L) {
    L->iteration++;
    iter_stats_reset(&L->stats);
    core_begin_iteration(&L->core, L->iteration);
    s_set_prompts(L);
    leases_begin(&L->leases, L->iteration, (int)L->cfg->task.prompts);
}

int learner_end_iteration(learner_service_t *L, train_result_t *tr, int *lost) {
    *lost = 0;
    for (long p = 0; p < L->cfg->task.prompts; p++) *lost += L->buffer[p] == NULL;
    if (L->online.online) {
        s_online_step(L); /* the iteration's last, partial batch */
        const iter_stats_t *st = &L->stats;
        tr->loss = st->n_steps ? st->step_loss / st->n_steps : NAN;
        tr->loss_initial = st->n_steps ? st->step_loss_initial / st->n_steps : NAN;
    } else {
        core_train_synchronous(&L->core, L->buffer, (int)L->cfg->task.prompts, tr);
    }
    if (core_finish_iteration(&L->core, L->iteration, tr) != 0) return -1;
    if (L->files.records) {
        fflush(L->files.records);
        fsync(fileno(L->files.records));
    }
    s_free_buffer(L);
    if (!L->online.online || L->online.steps_since_broadcast > 0) s_broadcast(L); /* every iteration ends on a version */
    core_average(&L->core);
    return 0;
}

/* A line of iterations.jsonl: to the status and, as an IterationSummary, to every actor. */
static void s_emit_line(void *arg, uint64_t iteration, const char *line) {
    learner_service_t *L = arg;
    status_line(&L->status, line);
    s_tick(L);
    Spar__IterationSummary s = SPAR__ITERATION_SUMMARY__INIT;
    s.iteration = iteration;
    s.json = (char *)line;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_ITERATION_SUMMARY;
    env.iteration_summary = &s;
    s_publish(L, &env);
}

/* The end of iteration L->iteration (tr NULL: the initial line), from a copy of its counts. */
static void s_iterlog_start(learner_service_t *L, const train_result_t *tr, double wall_s, double collect_s, int lost) {
    iterlog_input_t in = {
        .cfg = L->cfg, .core = &L->core, .run_dir = L->files.dir,
        .policy = L->blob.data, .policy_len = L->blob.len,
        .counters = {L->iteration, L->core.version, L->stale_total, L->online.steps},
        .stats = &L->stats, .tr = tr, .wall_s = wall_s, .collect_s = collect_s, .lost = lost,
        .leases_reissued = L->leases.reissued, .actors = peers_live_actors(&L->peers),
        .bad_messages = peers_bad_messages(&L->peers, L->net.wire.bad_messages), .may_thread = !L->online.online && L->net.pub != NULL,
    };
    iterlog_start(&L->iterlog, &in);
}

static int s_iteration(learner_service_t *L) {
    double t0 = util_now_s();
    learner_begin_iteration(L);
    resume_take_back(L); /* a resumed run: this iteration's groups the records already hold */
    L->status.state = "collecting";
    if (s_collect(L) != 0) return -1;
    double collect_s = util_now_s() - t0;
    int lost;
    train_result_t tr;
    L->stats.delivery_ms = L->peers.delivered ? L->peers.delivery_ms : NAN;
    if (iterlog_finish(&L->iterlog, 1) != 0) return -1; /* the previous checkpoint and metrics read what training writes */
    L->status.state = "training";
    s_tick(L);
    if (learner_end_iteration(L, &tr, &lost) != 0) return -1;
    s_iterlog_start(L, &tr, util_now_s() - t0, collect_s, lost);
    return 0;
}

static int64_t s_grace_over(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)id, (void)now, (void)arg;
    loop_stop(loop);
    return LOOP_TIMER_DONE;
}

/* After the last iteration: tell actors the run is over, then go. */
static void s_shutdown_phase(learner_service_t *L) {
    L->finished = 1;
    L->status.state = "finished";
    s_tick(L);
    s_send_shutdown(L, NULL, "run complete");
    /* the whole grace, even once every known actor was told: an actor that started with the
     * run but had not joined yet (a fast run, its connection still coming up) says Hello within
     * it and is told too, instead of waiting for a learner that is gone */
    loop_add_timer(L->net.loop, util_now_ms() + L->cfg->learner.shutdown_grace_ms, s_grace_over, NULL);
    loop_run(L->net.loop);
}

/* ---- setup and main --------------------------------------------------------------------- */

static int s_open_run_dir(learner_service_t *L) {
    char *jsonl = xasprintf("%s/iterations.jsonl", L->files.dir);
    int exists = util_file_exists(jsonl);
    if (exists) {
        log_error("%s already holds a run: continue it with --resume, or choose another run.dir", L->files.dir);
        free(jsonl);
        return -1;
    }
    const char *subs[] = {"checkpoints", "records", "logs"};
    for (int i = 0; i < 3; i++) {
        char *d = xasprintf("%s/%s", L->files.dir, subs[i]);
        int rc = util_mkdirs(d);
        free(d);
        if (rc != 0) {
            log_error("cannot create %s/%s: %s", L->files.dir, subs[i], strerror(-rc));
            free(jsonl);
            return -1;
        }
    }
    char *idpath = xasprintf("%s/run_id", L->files.dir);
    if (util_write_atomic(idpath, L->net.wire.run_id, strlen(L->net.wire.run_id)) != 0) log_warn("cannot write %s", idpath);
    free(idpath);
    char *cfgpath = xasprintf("%s/config.yaml", L->files.dir), *comment = xasprintf("resolved config of run %s", L->net.wire.run_id);
    int rc = config_save(L->cfg, cfgpath, comment);
    if (rc != 0) log_warn("cannot write %s: %s", cfgpath, strerror(-rc));
    free(cfgpath);
    free(comment);
    free(jsonl);
    return learner_open_files(L);
}

/* iterations.jsonl and records/groups.pb, opened to append. Returns 0 or -1 (logged). */
int learner_open_files(learner_service_t *L) {
    char *jsonl = xasprintf("%s/iterations.jsonl", L->files.dir);
    L->files.jsonl = fopen(jsonl, "a");
    free(jsonl);
    char *rec = xasprintf("%s/records/groups.pb", L->files.dir);
    L->files.records = fopen(rec, "ab");
    free(rec);
    if (!L->files.jsonl || !L->files.records) {
        log_error("cannot open the run files in %s: %s", L->files.dir, strerror(errno));
        return -1;
    }
    iterlog_init(&L->iterlog, L->files.jsonl, s_emit_line, L);
    return 0;
}

static int s_bind(learner_service_t *L) {
    L->net.zctx = zmq_ctx_new();
    L->net.ctl = zmq_socket(L->net.zctx, ZMQ_ROUTER);
    L->net.pub = zmq_socket(L->net.zctx, ZMQ_PUB);
    wire_socket_defaults(L->net.ctl, L->cfg->wire.max_frame_bytes);
    wire_socket_defaults(L->net.pub, L->cfg->wire.max_frame_bytes);
    int mandatory = 0; /* replies to vanished peers are dropped, never block */
    zmq_setsockopt(L->net.ctl, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    char err[1024];
    if (!(L->net.curve = curve_new(L->net.zctx, L->cfg, err, sizeof err))) {
        log_error("config error: %s", err);
        return -1;
    }
    if (curve_server(L->net.curve, L->net.ctl, "learner.control") != 0 || curve_server(L->net.curve, L->net.pub, "learner.publish") != 0)
        return -1;
    if (zmq_bind(L->net.ctl, L->cfg->learner.control) != 0) {
        log_error("cannot bind learner.control %s: %s", L->cfg->learner.control, zmq_strerror(zmq_errno()));
        return -1;
    }
    if (zmq_bind(L->net.pub, L->cfg->learner.publish) != 0) {
        log_error("cannot bind learner.publish %s: %s", L->cfg->learner.publish, zmq_strerror(zmq_errno()));
        return -1;
    }
    /* connections share the descriptors with the run folder's files: each socket takes at most
     * half of what is left after a reserve for files, ZeroMQ's own and the HTTP server */
    long fds = conn_guard_raise_nofile(), cap = (fds - 96) / 2 > 8 ? (fds - 96) / 2 : 8;
    L->net.loop = loop_new();
    loop_set_stop_check(L->net.loop, util_stop_requested);
    loop_set_before_sleep(L->net.loop, s_before_sleep, L);
    if (!(L->net.jcheck = judge_check_new(L->cfg, &L->net.wire, &L->peers, L->net.loop, s_on_pool_changed, L))) return -1;
    L->net.guards[0] = conn_guard_new(L->net.zctx, L->net.ctl, "learner.control", cap);
    L->net.guards[1] = conn_guard_new(L->net.zctx, L->net.pub, "learner.publish", cap);
    loop_add_socket(L->net.loop, L->net.ctl, s_on_control, L);
    for (int i = 0; i < 2; i++) loop_add_socket(L->net.loop, conn_guard_socket(L->net.guards[i]), s_on_guard, L->net.guards[i]);
    return 0;
}

static void s_teardown(learner_service_t *L) {
    iterlog_finish(&L->iterlog, 1); /* a worker still writing reads what is freed below */
    status_stop(&L->status);
    if (L->buffer) s_free_buffer(L);
    free(L->buffer);
    leases_free(&L->leases);
    transfer_blob_free(&L->blob);
    transfer_blob_free(&L->ref_blob);
    online_free(&L->online);
    iter_stats_free(&L->stats);
    for (long p = 0; L->prompt_text && p < L->cfg->task.prompts; p++) free(L->prompt_text[p]);
    free(L->prompt_text);
    core_teardown(&L->core);
    if (L->files.jsonl) fclose(L->files.jsonl);
    if (L->files.records) fclose(L->files.records);
    judge_check_destroy(&L->net.jcheck);
    loop_destroy(&L->net.loop);
    conn_guard_destroy(&L->net.guards[0]);
    conn_guard_destroy(&L->net.guards[1]);
    if (L->net.ctl) zmq_close(L->net.ctl);
    if (L->net.pub) zmq_close(L->net.pub);
    curve_destroy(&L->net.curve); /* before the context ends, or zmq_ctx_term waits on its ZAP socket */
    if (L->net.zctx) zmq_ctx_term(L->net.zctx);
    wire_fini(&L->net.wire);
}

/* The gpt policy's starting point, by policy.init: GPT-2's random initialisation, a checkpoint,
 * or SFT on the task's data (saved to RUN_DIR/sft in the Hugging Face layout). Returns 0 or an
 * exit status. */
static int s_gpt_initial(learner_service_t *L) {
    const spar_config_t *cfg = L->cfg;
    gpt_t *m = NULL;
    char why[512];
    if (cfg->policy.init == INIT_CHECKPOINT) {
        if (!(m = gpt_load(cfg->policy.checkpoint, NULL, why, sizeof why))) {
            log_error("policy.checkpoint %s: %s", cfg->policy.checkpoint, why);
            return 2;
        }
    } else if (cfg->policy.init == INIT_SFT) {
        log_info("policy.init sft: training the initial policy (%ld steps of %ld sequences)", cfg->sft.steps,
                 cfg->sft.batch);
        int st;
        if (!(m = sft_train(cfg, &st))) return st;
        char *dir = xasprintf("%s/sft", L->files.dir);
        int rc = gpt_save(m, dir, 0);
        if (rc != 0) log_warn("cannot write %s: %s", dir, strerror(-rc));
        else log_info("initial policy written to %s", dir);
        free(dir);
    } else {
        gpt_config_t gc = {(int)cfg->gpt.n_layer, (int)cfg->gpt.n_head, (int)cfg->gpt.d_model, (int)cfg->gpt.ctx, GPT_VOCAB};
        m = gpt_new(&gc, (unsigned long long)cfg->run.seed);
    }
    const gpt_config_t *c = gpt_config(m);
    log_info("gpt policy: %d layers, %d heads, d %d, ctx %d, %.2f M parameters", c->n_layer, c->n_head, c->d_model,
             c->ctx, gpt_n_params(m) / 1e6);
    L->core.theta = policy_gpt_new(m);
    return 0;
}

/* Everything the updates need around an initial policy in L->core.theta: pi_t and pi_ref, the
 * optimiser, the algorithm, the buffers. No sockets, no files: replay uses it as it is. */
int learner_core_setup(learner_service_t *L) {
    const spar_config_t *cfg = L->cfg;
    L->prompt_text = xcalloc((size_t)cfg->task.prompts, sizeof *L->prompt_text);
    core_setup(&L->core);
    L->buffer = xcalloc((size_t)cfg->task.prompts, sizeof *L->buffer);
    online_init(&L->online, cfg, L->core.theta);
    iter_stats_init(&L->stats, (int)cfg->task.prompts, (int)L->online.max_staleness + 1);
    leases_init(&L->leases);
    s_set_version(L, 0);
    s_blob_set(&L->ref_blob, L->core.ref, 0, (size_t)cfg->learner.chunk_bytes);
    return 0;
}

void learner_core_teardown(learner_service_t *L) { s_teardown(L); }

/* A fresh run's initial policy in L->core.theta, by policy.init. Returns 0 or an exit status. */
static int s_initial_policy(learner_service_t *L) {
    if (L->core.gpt) return s_gpt_initial(L);
    core_tabular_initial(&L->core);
    return 0;
}

int learner_main(const spar_config_t *cfg, int resume) {
    static learner_service_t L; /* large (peer table); one per process */
    memset(&L, 0, sizeof L);
    L.cfg = cfg;
    char id[128];
    util_process_id("learner", id, sizeof id);
    wire_init(&L.net.wire, id, cfg->wire.max_frame_bytes);
    peers_init(&L.peers, cfg->actor.heartbeat_ms);
    snprintf(L.net.wire.run_id, sizeof L.net.wire.run_id, "%s-%lld", cfg->run.name, (long long)util_unix_ms());
    util_install_stop_signals();
    if (core_init(&L.core, cfg) != 0) return 2;
    int status = 1;
    learner_run_dir(cfg, L.files.dir, sizeof L.files.dir);
    char *existing = xasprintf("%s/iterations.jsonl", L.files.dir);
    if (resume && !util_file_exists(existing)) { /* a service restarted with --resume starts the run the first time */
        log_info("--resume: %s holds no run yet; starting it", L.files.dir);
        resume = 0;
    }
    free(existing);
    if (resume) {
        int st = resume_prepare(&L);
        if (st != 0) {
            status = st;
            goto done;
        }
    } else {
        if (s_open_run_dir(&L) != 0) goto done;
        int st = s_initial_policy(&L);
        if (st != 0) {
            status = st;
            goto done;
        }
        learner_core_setup(&L);
    }
    if (s_bind(&L) != 0) goto done;
    L.status.state = "starting";
    if (status_start(&L.status, &L) != 0) goto done;
    if (L.core.gpt) L.core.eval = text_eval_new(cfg);
    if (resume) {
        if (L.core.gpt) { /* the evaluation's reference samples come from pi_0 */
            text_metrics_t m;
            text_metrics(L.core.eval, L.core.ref, L.core.ref, 0, &m);
        }
        log_info("resumed run %s at iteration %llu (version %llu) from %s", L.net.wire.run_id,
                 (unsigned long long)L.iteration, (unsigned long long)L.core.version, L.files.dir);
    } else {
        s_iterlog_start(&L, NULL, 0, 0, 0);
        if (iterlog_finish(&L.iterlog, 1) != 0) goto done;
    }
    log_info("run %s: %ld iterations of %s, %ld prompts x K=%ld, control %s, publish %s, run dir %s",
             L.net.wire.run_id, cfg->run.iterations, config_name(CFG_NAMES_ALG, cfg->algorithm.name), cfg->task.prompts,
             cfg->rollout.samples_per_prompt, cfg->learner.control, cfg->learner.publish, L.files.dir);

    while ((long)L.iteration < cfg->run.iterations)
        if (s_iteration(&L) != 0) break;
    int last_written = iterlog_finish(&L.iterlog, 1) == 0; /* the last checkpoint and line */
    if ((long)L.iteration == cfg->run.iterations && last_written && !util_stop_requested()) {
        log_info("run complete: %ld iterations", cfg->run.iterations);
        s_shutdown_phase(&L);
        status = 0;
    } else if ((long)L.iteration > cfg->run.iterations) {
        log_error("the run already holds %llu iterations, more than run.iterations %ld",
                  (unsigned long long)L.iteration, cfg->run.iterations);
        status = 2;
    } else {
        log_warn("stopped during iteration %llu", (unsigned long long)L.iteration);
        L.status.state = "stopped";
        s_tick(&L);
        s_send_shutdown(&L, NULL, "learner stopped");
    }
done:
    s_teardown(&L);
    return status;
}
