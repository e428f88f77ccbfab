/* wire — see wire.h. */
#include "common/wire.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/digest.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"
#include "common/wire_scan.h"

#define PREF_TOL 1e-6
#define LOGGED_CAPACITY 4096 /* sender/reason pairs remembered as logged */

void wire_init(wire_t *w, const char *sender_id, long max_frame_bytes) {
    memset(w, 0, sizeof *w);
    snprintf(w->sender_id, sizeof w->sender_id, "%s", sender_id);
    w->max_frame_bytes = max_frame_bytes;
}

void wire_fini(wire_t *w) { strmap_free(&w->logged); }

void wire_socket_defaults(void *sock, long max_frame_bytes) {
    /* A ROUTER's send queue is per peer: a peer that does not read gets at most
     * WIRE_PEER_SNDHWM replies queued, then ZeroMQ drops further ones. Requests wait in
     * receive queues of rcvhwm per peer, each frame at most max_frame_bytes. */
    int type = 0;
    size_t tl = sizeof type;
    zmq_getsockopt(sock, ZMQ_TYPE, &type, &tl);
    int linger = 0, hwm = type == ZMQ_ROUTER ? WIRE_PEER_SNDHWM : 10000, rcvhwm = 1000;
    int64_t max = max_frame_bytes;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max);
}

int wire_send(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Envelope *env) {
    env->protocol_version = WIRE_PROTOCOL_VERSION;
    env->run_id = w->run_id;
    env->sender_id = w->sender_id;
    env->seq = __atomic_add_fetch(&w->seq, 1, __ATOMIC_RELAXED); /* common/keepalive.c sends from another thread */
    size_t len = spar__envelope__get_packed_size(env);
    zmq_msg_t msg;
    zmq_msg_init_size(&msg, len);
    spar__envelope__pack(env, zmq_msg_data(&msg));
    if (peer && zmq_send(sock, peer->id, peer->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    int rc = zmq_msg_send(&msg, sock, ZMQ_DONTWAIT);
    if (rc < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    return 0;
}

int wire_check_preference(const double *p, size_t n_entries, size_t k, char *why, size_t whylen) {
    if (k == 0 || n_entries != k * k) {
        snprintf(why, whylen, "preference has %zu entries, expected K*K = %zu", n_entries, k * k);
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < k; j++) {
            double v = p[i * k + j];
            if (!(v >= 0.0 && v <= 1.0)) {
                snprintf(why, whylen, "P[%zu][%zu] = %g is outside [0, 1]", i, j, v);
                return -1;
            }
            if (fabs(v + p[j * k + i] - 1.0) > PREF_TOL) {
                snprintf(why, whylen, "P[%zu][%zu] + P[%zu][%zu] = %g, not 1", i, j, j, i,
                         v + p[j * k + i]);
                return -1;
            }
        }
    }
    return 0;
}

static int s_check_response(const Spar__Response *r, char *why, size_t wl) {
    if (r->n_tokens == 0) {
        snprintf(why, wl, "response without tokens");
        return -1;
    }
    if (r->n_token_logprobs != 0 && r->n_token_logprobs != r->n_tokens) {
        snprintf(why, wl, "response has %zu tokens but %zu token log-probs", r->n_tokens,
                 r->n_token_logprobs);
        return -1;
    }
    if (!isfinite(r->logprob) || r->logprob > 1e-9) {
        snprintf(why, wl, "response log-prob %g is not a log-probability", r->logprob);
        return -1;
    }
    return 0;
}

/* A string a peer sent that reaches logs, status.json or /metrics. */
static int s_check_text(const char *what, const char *s, size_t max, char *why, size_t wl) {
    if (strlen(s) > max || !wire_text_printable(s)) {
        snprintf(why, wl, "%s is not printable text of at most %zu bytes", what, max);
        return -1;
    }
    return 0;
}

static int s_check_finite_rewards(const double *rewards, size_t n, char *why, size_t wl) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(rewards[i])) {
            snprintf(why, wl, "reward %zu is not finite", i);
            return -1;
        }
    return 0;
}

int wire_check_rollout_group(const Spar__RolloutGroup *g, char *why, size_t wl) {
    size_t k = g->n_responses;
    if (k < 1 || k > WIRE_MAX_RESPONSES) {
        snprintf(why, wl, "rollout group with %zu responses (1 to %d)", k, WIRE_MAX_RESPONSES);
        return -1;
    }
    if (g->n_opponents >= k && g->n_opponents) {
        snprintf(why, wl, "rollout group with %u opponents among %zu responses", g->n_opponents, k);
        return -1;
    }
    if (s_check_text("actor id", g->actor_id, WIRE_ID_MAX, why, wl) != 0 ||
        s_check_text("judge version", g->judge_version, WIRE_ID_MAX, why, wl) != 0)
        return -1;
    if (!(g->judge_latency_ms >= 0 && g->judge_latency_ms <= 86400e3)) {
        snprintf(why, wl, "judge latency %g ms", g->judge_latency_ms);
        return -1;
    }
    if (g->judge_attempts > 1000000 || g->judge_failures > g->judge_attempts) {
        snprintf(why, wl, "%u judge attempts with %u failures", g->judge_attempts, g->judge_failures);
        return -1;
    }
    for (size_t i = 0; i < k; i++)
        if (s_check_response(g->responses[i], why, wl) != 0) return -1;
    if (g->n_preference == 0 && g->n_rewards == 0) {
        snprintf(why, wl, "rollout group carries neither preferences nor rewards");
        return -1;
    }
    if (g->n_preference && wire_check_preference(g->preference, g->n_preference, k, why, wl)) return -1;
    if (g->n_rewards && g->n_rewards != k) {
        snprintf(why, wl, "%zu rewards for %zu responses", g->n_rewards, k);
        return -1;
    }
    return s_check_finite_rewards(g->rewards, g->n_rewards, why, wl);
}

/* Judge endpoints (a welcome's, a judge pool's) are what an actor connects to. */
static int s_check_endpoints(char *const *endpoints, size_t n, char *why, size_t wl) {
    for (size_t i = 0; i < n; i++)
        if (s_check_text("judge endpoint", endpoints[i], 255, why, wl)) return -1;
    return 0;
}

static int s_check_hello(const Spar__Hello *h, char *why, size_t wl) {
    return s_check_text("hello host", h->host, 255, why, wl) || s_check_text("hello endpoint", h->endpoint, 255, why, wl)
               ? -1
               : 0;
}

static int s_check_welcome(const Spar__Welcome *w, char *why, size_t wl) {
    /* its run id goes into every envelope the peer sends after */
    if (s_check_text("welcome run id", w->run_id, 319, why, wl)) return -1;
    return s_check_endpoints(w->judges, w->n_judges, why, wl);
}

static int s_check_judge_request(const Spar__JudgeRequest *r, char *why, size_t wl) {
    if (r->n_responses < 2 || r->n_responses > WIRE_MAX_RESPONSES) {
        snprintf(why, wl, "judge request with %zu responses (2 to %d)", r->n_responses, WIRE_MAX_RESPONSES);
        return -1;
    }
    for (size_t i = 0; i < r->n_responses; i++)
        if (s_check_response(r->responses[i], why, wl) != 0) return -1;
    return 0;
}

/* A reply with an error carries nothing else to check. */
static int s_check_judge_reply(const Spar__JudgeReply *r, char *why, size_t wl) {
    if (s_check_text("judge version", r->judge_version, WIRE_ID_MAX, why, wl) ||
        s_check_text("judge error", r->error, 1024, why, wl))
        return -1;
    if (r->error && r->error[0]) return 0;
    if (r->k > WIRE_MAX_RESPONSES) {
        snprintf(why, wl, "judge reply for K = %u (at most %d)", r->k, WIRE_MAX_RESPONSES);
        return -1;
    }
    if (r->n_preference == 0 && r->n_rewards == 0) {
        snprintf(why, wl, "judge reply carries neither preferences nor rewards");
        return -1;
    }
    if (r->n_preference && wire_check_preference(r->preference, r->n_preference, r->k, why, wl)) return -1;
    if (r->n_rewards && r->n_rewards != r->k) {
        snprintf(why, wl, "%zu rewards for K = %u", r->n_rewards, r->k);
        return -1;
    }
    return s_check_finite_rewards(r->rewards, r->n_rewards, why, wl);
}

static int s_check_work_grant(const Spar__WorkGrant *g, char *why, size_t wl) {
    if (g->n_prompt_ids > WIRE_MAX_PROMPTS || g->samples_per_prompt > WIRE_MAX_RESPONSES) {
        snprintf(why, wl, "work grant of %zu prompts x %u samples", g->n_prompt_ids, g->samples_per_prompt);
        return -1;
    }
    if (g->n_prompt_ids > 0 && g->samples_per_prompt < 1) {
        snprintf(why, wl, "work grant with samples_per_prompt 0");
        return -1;
    }
    if (g->n_prompts != 0 && g->n_prompts != g->n_prompt_ids) {
        snprintf(why, wl, "work grant with %zu prompt texts for %zu prompts", g->n_prompts, g->n_prompt_ids);
        return -1;
    }
    if (!(g->temperature >= 0 && g->temperature <= 100) || !(g->top_p >= 0 && g->top_p <= 1)) {
        snprintf(why, wl, "work grant with temperature %g, top_p %g", g->temperature, g->top_p);
        return -1;
    }
    return 0;
}

static int s_check_weight_bytes(uint64_t total_bytes, char *why, size_t wl) {
    if (total_bytes > WIRE_MAX_WEIGHT_BYTES) {
        snprintf(why, wl, "weights of %llu bytes exceed the limit", (unsigned long long)total_bytes);
        return -1;
    }
    return 0;
}

/* A chunk with an error carries nothing else to check. */
static int s_check_weights_chunk(const Spar__WeightsChunk *c, char *why, size_t wl) {
    if (s_check_text("weights error", c->error, 1024, why, wl)) return -1;
    if (c->error && c->error[0]) return 0;
    if (c->n_chunks == 0 || c->chunk_index >= c->n_chunks) {
        snprintf(why, wl, "weights chunk %u of %u", c->chunk_index, c->n_chunks);
        return -1;
    }
    if (c->digest.len != DIGEST_BYTES || c->chunk_digest.len != DIGEST_BYTES) {
        snprintf(why, wl, "weights chunk without 32-byte digests");
        return -1;
    }
    if (s_check_weight_bytes(c->total_bytes, why, wl)) return -1;
    if (c->data.len > c->total_bytes) {
        snprintf(why, wl, "weights chunk larger than the whole");
        return -1;
    }
    return 0;
}

static int s_check_weights_available(const Spar__WeightsAvailable *a, char *why, size_t wl) {
    if (s_check_weight_bytes(a->total_bytes, why, wl)) return -1;
    if (a->digest.len != DIGEST_BYTES) {
        snprintf(why, wl, "weights announcement without a 32-byte digest");
        return -1;
    }
    return 0;
}

/* Required fields and value ranges of each body type. */
static int s_check_body(const Spar__Envelope *e, char *why, size_t wl) {
    switch (e->body_case) {
    case SPAR__ENVELOPE__BODY_HELLO: return s_check_hello(e->hello, why, wl);
    case SPAR__ENVELOPE__BODY_SHUTDOWN: return s_check_text("shutdown reason", e->shutdown->reason, 255, why, wl);
    case SPAR__ENVELOPE__BODY_WELCOME: return s_check_welcome(e->welcome, why, wl);
    case SPAR__ENVELOPE__BODY_JUDGE_POOL:
        return s_check_endpoints(e->judge_pool->endpoints, e->judge_pool->n_endpoints, why, wl);
    case SPAR__ENVELOPE__BODY_ROLLOUT_GROUP: return wire_check_rollout_group(e->rollout_group, why, wl);
    case SPAR__ENVELOPE__BODY_JUDGE_REQUEST: return s_check_judge_request(e->judge_request, why, wl);
    case SPAR__ENVELOPE__BODY_JUDGE_REPLY: return s_check_judge_reply(e->judge_reply, why, wl);
    case SPAR__ENVELOPE__BODY_WORK_GRANT: return s_check_work_grant(e->work_grant, why, wl);
    case SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK: return s_check_weights_chunk(e->weights_chunk, why, wl);
    case SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE: return s_check_weights_available(e->weights_available, why, wl);
    default: return 0;
    }
}

Spar__Envelope *wire_decode(const void *data, size_t len, long max_frame_bytes, char *why,
                            size_t whylen) {
    if ((long)len > max_frame_bytes) {
        snprintf(why, whylen, "frame of %zu bytes exceeds the limit of %ld", len, max_frame_bytes);
        return NULL;
    }
    size_t max_decoded = 2 * (size_t)max_frame_bytes + (16u << 20);
    if (wire_scan(&spar__envelope__descriptor, data, len, max_decoded, NULL, why, whylen) != 0) return NULL;
    Spar__Envelope *e = spar__envelope__unpack(NULL, len, data);
    if (!e) {
        snprintf(why, whylen, "not a protobuf envelope (%zu bytes)", len);
        return NULL;
    }
    if (e->protocol_version != WIRE_PROTOCOL_VERSION) {
        snprintf(why, whylen, "protocol version %u, expected %u", e->protocol_version,
                 WIRE_PROTOCOL_VERSION);
        spar__envelope__free_unpacked(e, NULL);
        return NULL;
    }
    if (e->body_case == SPAR__ENVELOPE__BODY__NOT_SET) {
        snprintf(why, whylen, "envelope without a known body type");
        spar__envelope__free_unpacked(e, NULL);
        return NULL;
    }
    if (s_check_text("sender id", e->sender_id, WIRE_ID_MAX, why, whylen) != 0 ||
        s_check_text("run id", e->run_id, 319, why, whylen) != 0 || s_check_body(e, why, whylen) != 0) {
        spar__envelope__free_unpacked(e, NULL);
        return NULL;
    }
    return e;
}

void wire_free(Spar__Envelope *env) {
    if (env) spar__envelope__free_unpacked(env, NULL);
}

void wire_peer_name(const wire_peer_t *peer, char *out, size_t outlen) {
    int printable = peer->len > 0;
    for (size_t i = 0; i < peer->len; i++)
        if (!isprint(peer->id[i])) printable = 0;
    if (printable) {
        snprintf(out, outlen, "%.*s", (int)peer->len, (const char *)peer->id);
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < peer->len && o + 3 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", peer->id[i]);
    if (o == 0 && outlen) snprintf(out, outlen, "(anonymous)");
}

void wire_count_bad(wire_t *w, const char *sender, const char *why) {
    w->bad_messages++;
    /* the reason up to its first figure: "frame of 9 bytes" and "frame of 10 bytes" are one */
    size_t cut = strcspn(why, "0123456789");
    char *key = xasprintf("%s %.*s", sender, (int)(cut < 80 ? cut : 80), why);
    if (!w->logged) w->logged = strmap_new(LOGGED_CAPACITY);
    if (strmap_get(w->logged, key)) {
        free(key);
        return;
    }
    strmap_put(w->logged, key, xstrdup(""));
    free(key);
    log_warn("dropped bad message from %s: %s (further ones like it from this sender are counted, not logged)",
             sender, why);
}

/* A ROUTER's first frame (in part) is the peer's routing id: keeps it in peer and receives the
 * body's frame into part. Returns 0, or -1 when there is none (a routing id alone is counted as a
 * bad message). */
static int s_recv_routed(wire_t *w, void *sock, zmq_msg_t *part, wire_peer_t *peer) {
    peer->len = zmq_msg_size(part) < WIRE_ID_MAX ? zmq_msg_size(part) : WIRE_ID_MAX;
    memcpy(peer->id, zmq_msg_data(part), peer->len);
    if (!zmq_msg_more(part)) { /* a routing id alone: an empty message */
        zmq_msg_close(part);
        char name[2 * WIRE_ID_MAX + 1];
        wire_peer_name(peer, name, sizeof name);
        wire_count_bad(w, name, "empty message");
        return -1;
    }
    zmq_msg_close(part);
    zmq_msg_init(part);
    if (zmq_msg_recv(part, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(part);
        return -1;
    }
    return 0;
}

/* Extra frames after the body are not part of the protocol: drains them; returns how many there
 * were. ZeroMQ delivers a message's frames together, so none of these reads waits. */
static size_t s_drain_extra_frames(void *sock, zmq_msg_t *body) {
    size_t extra = 0;
    for (int more = zmq_msg_more(body); more; extra++) {
        zmq_msg_t rest;
        zmq_msg_init(&rest);
        more = zmq_msg_recv(&rest, sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&rest);
        zmq_msg_close(&rest);
    }
    return extra;
}

Spar__Envelope *wire_recv(wire_t *w, void *sock, int router, wire_peer_t *peer_out) {
    wire_peer_t peer = {.len = 0, .user = ""};
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return NULL;
    }
    if (router && s_recv_routed(w, sock, &part, &peer) != 0) return NULL;
    char name[2 * WIRE_ID_MAX + 1];
    if (router) wire_peer_name(&peer, name, sizeof name);
    else snprintf(name, sizeof name, "%s", "upstream");
    if (s_drain_extra_frames(sock, &part)) {
        zmq_msg_close(&part);
        wire_count_bad(w, name, "unexpected extra frames");
        return NULL;
    }
    const char *user = zmq_msg_gets(&part, "User-Id"); /* set by our ZAP handler: the key's name */
    if (user) snprintf(peer.user, sizeof peer.user, "%s", user);
    char why[256];
    Spar__Envelope *e = wire_decode(zmq_msg_data(&part), zmq_msg_size(&part), w->max_frame_bytes,
                                    why, sizeof why);
    zmq_msg_close(&part);
    if (!e) {
        wire_count_bad(w, name, why);
        return NULL;
    }
    w->received++;
    if (peer_out) *peer_out = peer;
    return e;
}

int wire_readable(void *sock) {
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) != 0) return 0;
    return (events & ZMQ_POLLIN) != 0;
}

Spar__RolloutGroup *wire_take_rollout_group(Spar__Envelope *env) {
    if (env->body_case != SPAR__ENVELOPE__BODY_ROLLOUT_GROUP) return NULL;
    Spar__RolloutGroup *g = env->rollout_group;
    env->rollout_group = NULL;
    env->body_case = SPAR__ENVELOPE__BODY__NOT_SET;
    return g;
}

const char *wire_body_name(const Spar__Envelope *env) {
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&spar__envelope__descriptor, (unsigned)env->body_case);
    return f ? f->name : "unknown";
}

/* The reply to a request of K responses holds K*K doubles (a preference matrix) or K (a reward
 * model's rewards). The largest K is the one whose reply fits both wire.max_frame_bytes and
 * WIRE_JUDGE_REPLY_MAX_BYTES, less WIRE_JUDGE_REPLY_HEADER_BYTES for the envelope's ids and version. A
 * ROUTER queues at most WIRE_PEER_SNDHWM replies per peer, so a peer that sends requests and
 * never reads holds at most WIRE_PEER_SNDHWM x WIRE_JUDGE_REPLY_MAX_BYTES = 64 MiB of a judge's
 * memory (per connection). */
size_t wire_judge_max_k(long max_frame_bytes, int rewards) {
    long limit = max_frame_bytes < WIRE_JUDGE_REPLY_MAX_BYTES ? max_frame_bytes : WIRE_JUDGE_REPLY_MAX_BYTES;
    limit -= WIRE_JUDGE_REPLY_HEADER_BYTES;
    if (limit < 32) return 2;
    size_t per = (size_t)limit / sizeof(double), k = rewards ? per : (size_t)sqrt((double)per);
    while (!rewards && k * k > per) k--;
    if (k > WIRE_MAX_RESPONSES) k = WIRE_MAX_RESPONSES;
    return k < 2 ? 2 : k;
}
