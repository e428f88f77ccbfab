/* wire — see wire.h. */
#include "common/wire.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/log.h"
#include "common/util.h"

#define PREF_TOL 1e-6

void wire_init(wire_t *w, const char *sender_id, long max_frame_bytes) {
    memset(w, 0, sizeof *w);
    snprintf(w->sender_id, sizeof w->sender_id, "%s", sender_id);
    w->max_frame_bytes = max_frame_bytes;
}

void wire_socket_defaults(void *sock) {
    int linger = 0, hwm = 10000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
}

int wire_send(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Envelope *env) {
    env->protocol_version = WIRE_PROTOCOL_VERSION;
    env->run_id = w->run_id;
    env->sender_id = w->sender_id;
    env->seq = ++w->seq;
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

int wire_send_shutdown(wire_t *w, void *sock, const wire_peer_t *peer, const char *reason) {
    Spar__Shutdown sd = SPAR__SHUTDOWN__INIT;
    sd.reason = (char *)reason;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_SHUTDOWN;
    env.shutdown = &sd;
    return wire_send(w, sock, peer, &env);
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

int wire_check_rollout_group(const Spar__RolloutGroup *g, char *why, size_t wl) {
    size_t k = g->n_responses;
    if (k < 1) {
        snprintf(why, wl, "rollout group without responses");
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
    for (size_t i = 0; i < g->n_rewards; i++)
        if (!isfinite(g->rewards[i])) {
            snprintf(why, wl, "reward %zu is not finite", i);
            return -1;
        }
    return 0;
}

/* Required fields and value ranges of each body type. */
static int s_check_body(const Spar__Envelope *e, char *why, size_t wl) {
    switch (e->body_case) {
    case SPAR__ENVELOPE__BODY_ROLLOUT_GROUP: return wire_check_rollout_group(e->rollout_group, why, wl);
    case SPAR__ENVELOPE__BODY_JUDGE_REQUEST: {
        const Spar__JudgeRequest *r = e->judge_request;
        if (r->n_responses < 2) {
            snprintf(why, wl, "judge request with %zu responses (need at least 2)", r->n_responses);
            return -1;
        }
        for (size_t i = 0; i < r->n_responses; i++)
            if (s_check_response(r->responses[i], why, wl) != 0) return -1;
        return 0;
    }
    case SPAR__ENVELOPE__BODY_JUDGE_REPLY: {
        const Spar__JudgeReply *r = e->judge_reply;
        if (r->error && r->error[0]) return 0;
        if (r->n_preference == 0 && r->n_rewards == 0) {
            snprintf(why, wl, "judge reply carries neither preferences nor rewards");
            return -1;
        }
        if (r->n_preference && wire_check_preference(r->preference, r->n_preference, r->k, why, wl))
            return -1;
        if (r->n_rewards) {
            if (r->n_rewards != r->k) {
                snprintf(why, wl, "%zu rewards for K = %u", r->n_rewards, r->k);
                return -1;
            }
            for (size_t i = 0; i < r->n_rewards; i++)
                if (!isfinite(r->rewards[i])) {
                    snprintf(why, wl, "reward %zu is not finite", i);
                    return -1;
                }
        }
        return 0;
    }
    case SPAR__ENVELOPE__BODY_WORK_GRANT: {
        const Spar__WorkGrant *g = e->work_grant;
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
    case SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK: {
        const Spar__WeightsChunk *c = e->weights_chunk;
        if (c->error && c->error[0]) return 0;
        if (c->n_chunks == 0 || c->chunk_index >= c->n_chunks) {
            snprintf(why, wl, "weights chunk %u of %u", c->chunk_index, c->n_chunks);
            return -1;
        }
        if (c->digest.len != 32 || c->chunk_digest.len != 32) {
            snprintf(why, wl, "weights chunk without 32-byte digests");
            return -1;
        }
        if (c->total_bytes > WIRE_MAX_WEIGHT_BYTES) {
            snprintf(why, wl, "weights of %llu bytes exceed the limit", (unsigned long long)c->total_bytes);
            return -1;
        }
        if (c->data.len > c->total_bytes) {
            snprintf(why, wl, "weights chunk larger than the whole");
            return -1;
        }
        return 0;
    }
    case SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE:
        if (e->weights_available->total_bytes > WIRE_MAX_WEIGHT_BYTES) {
            snprintf(why, wl, "weights of %llu bytes exceed the limit",
                     (unsigned long long)e->weights_available->total_bytes);
            return -1;
        }
        if (e->weights_available->digest.len != 32) {
            snprintf(why, wl, "weights announcement without a 32-byte digest");
            return -1;
        }
        return 0;
    default: return 0;
    }
}

Spar__Envelope *wire_decode(const void *data, size_t len, long max_frame_bytes, char *why,
                            size_t whylen) {
    if ((long)len > max_frame_bytes) {
        snprintf(why, whylen, "frame of %zu bytes exceeds the limit of %ld", len, max_frame_bytes);
        return NULL;
    }
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
    if (s_check_body(e, why, whylen) != 0) {
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

static void s_count_bad(wire_t *w, const char *sender, const char *why) {
    w->bad_messages++;
    for (int i = 0; i < w->n_logged; i++)
        if (strcmp(w->logged[i], sender) == 0) return;
    if (w->n_logged < 64) snprintf(w->logged[w->n_logged++], WIRE_ID_MAX + 1, "%.*s", WIRE_ID_MAX, sender);
    log_warn("dropped bad message from %s: %s (further ones from this sender are counted, not logged)",
             sender, why);
}

Spar__Envelope *wire_recv(wire_t *w, void *sock, int router, wire_peer_t *peer_out) {
    wire_peer_t peer = {.len = 0};
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return NULL;
    }
    if (router) {
        peer.len = zmq_msg_size(&part) < WIRE_ID_MAX ? zmq_msg_size(&part) : WIRE_ID_MAX;
        memcpy(peer.id, zmq_msg_data(&part), peer.len);
        if (!zmq_msg_more(&part)) { /* a routing id alone: an empty message */
            zmq_msg_close(&part);
            char name[2 * WIRE_ID_MAX + 1];
            wire_peer_name(&peer, name, sizeof name);
            s_count_bad(w, name, "empty message");
            return NULL;
        }
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return NULL;
        }
    }
    char name[2 * WIRE_ID_MAX + 1];
    if (router) wire_peer_name(&peer, name, sizeof name);
    else snprintf(name, sizeof name, "%s", "upstream");
    /* Extra frames are not part of the protocol: drain them and count the message as bad. */
    int extra = 0;
    while (zmq_msg_more(&part)) {
        zmq_msg_t rest;
        zmq_msg_init(&rest);
        zmq_msg_recv(&rest, sock, 0);
        zmq_msg_close(&rest);
        extra = 1;
    }
    if (extra) {
        zmq_msg_close(&part);
        s_count_bad(w, name, "unexpected extra frames");
        return NULL;
    }
    char why[256];
    Spar__Envelope *e = wire_decode(zmq_msg_data(&part), zmq_msg_size(&part), w->max_frame_bytes,
                                    why, sizeof why);
    zmq_msg_close(&part);
    if (!e) {
        s_count_bad(w, name, why);
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
