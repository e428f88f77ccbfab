/* msg — the typed senders: each fills its body and hands it to msg_send, the one place an
 * envelope is built. Mechanical on purpose, one function per message as a generated codec would
 * be; what a valid message is stays in wire.c's decoder. */
#include "common/msg.h"

#include "common/digest.h"

void msg_envelope(Spar__Envelope *env, Spar__Envelope__BodyCase body_case, void *body) {
    env->body_case = body_case;
    switch (body_case) {
    case SPAR__ENVELOPE__BODY_HELLO: env->hello = body; break;
    case SPAR__ENVELOPE__BODY_WELCOME: env->welcome = body; break;
    case SPAR__ENVELOPE__BODY_HEARTBEAT: env->heartbeat = body; break;
    case SPAR__ENVELOPE__BODY_WORK_REQUEST: env->work_request = body; break;
    case SPAR__ENVELOPE__BODY_WORK_GRANT: env->work_grant = body; break;
    case SPAR__ENVELOPE__BODY_ROLLOUT_GROUP: env->rollout_group = body; break;
    case SPAR__ENVELOPE__BODY_ROLLOUT_ACK: env->rollout_ack = body; break;
    case SPAR__ENVELOPE__BODY_JUDGE_REQUEST: env->judge_request = body; break;
    case SPAR__ENVELOPE__BODY_JUDGE_REPLY: env->judge_reply = body; break;
    case SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE: env->weights_available = body; break;
    case SPAR__ENVELOPE__BODY_WEIGHTS_FETCH: env->weights_fetch = body; break;
    case SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK: env->weights_chunk = body; break;
    case SPAR__ENVELOPE__BODY_ITERATION_SUMMARY: env->iteration_summary = body; break;
    case SPAR__ENVELOPE__BODY_SHUTDOWN: env->shutdown = body; break;
    case SPAR__ENVELOPE__BODY_STATUS_REQUEST: env->status_request = body; break;
    case SPAR__ENVELOPE__BODY_STATUS: env->status = body; break;
    case SPAR__ENVELOPE__BODY_JUDGE_POOL: env->judge_pool = body; break;
    default: env->body_case = SPAR__ENVELOPE__BODY__NOT_SET; break; /* the decoder refuses it */
    }
}

int msg_send(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Envelope__BodyCase body_case, void *body) {
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    msg_envelope(&env, body_case, body);
    return wire_send(w, sock, peer, &env);
}

int msg_send_hello(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Role role, const char *host, uint32_t pid,
                   const char *endpoint) {
    Spar__Hello h = SPAR__HELLO__INIT;
    h.role = role;
    h.host = (char *)(host ? host : "");
    h.pid = pid;
    h.endpoint = (char *)(endpoint ? endpoint : "");
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_HELLO, &h);
}

int msg_send_welcome(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Welcome *welcome) {
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_WELCOME, welcome);
}

int msg_send_heartbeat(wire_t *w, void *sock, const wire_peer_t *peer, const msg_heartbeat_t *c) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = c->role;
    hb.policy_version = c->policy_version;
    hb.bad_messages = c->bad_messages;
    hb.groups_sent = c->groups_sent;
    hb.requests_served = c->requests_served;
    hb.cache_hits = c->cache_hits;
    hb.cache_misses = c->cache_misses;
    hb.pairs_judged = c->pairs_judged;
    hb.ties = c->ties;
    hb.hello_first = c->hello_first != 0;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_HEARTBEAT, &hb);
}

int msg_send_work_request(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t have_version,
                          uint32_t max_prompts) {
    Spar__WorkRequest r = SPAR__WORK_REQUEST__INIT;
    r.have_version = have_version;
    r.max_prompts = max_prompts;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_WORK_REQUEST, &r);
}

int msg_send_work_grant(wire_t *w, void *sock, const wire_peer_t *peer, Spar__WorkGrant *grant) {
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_WORK_GRANT, grant);
}

int msg_send_rollout_group(wire_t *w, void *sock, const wire_peer_t *peer, Spar__RolloutGroup *group) {
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_ROLLOUT_GROUP, group);
}

int msg_send_rollout_ack(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t iteration, uint32_t prompt_id,
                         Spar__AckStatus status) {
    Spar__RolloutAck a = SPAR__ROLLOUT_ACK__INIT;
    a.iteration = iteration;
    a.prompt_id = prompt_id;
    a.status = status;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_ROLLOUT_ACK, &a);
}

int msg_send_judge_request(wire_t *w, void *sock, const wire_peer_t *peer, Spar__JudgeRequest *request) {
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_JUDGE_REQUEST, request);
}

int msg_send_judge_reply(wire_t *w, void *sock, const wire_peer_t *peer, Spar__JudgeReply *reply) {
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_JUDGE_REPLY, reply);
}

int msg_send_weights_available(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t version,
                               uint64_t total_bytes, uint32_t n_chunks, const uint8_t *digest) {
    Spar__WeightsAvailable wa = SPAR__WEIGHTS_AVAILABLE__INIT;
    wa.version = version;
    wa.total_bytes = total_bytes;
    wa.n_chunks = n_chunks;
    wa.digest.data = (uint8_t *)digest;
    wa.digest.len = digest ? DIGEST_BYTES : 0;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE, &wa);
}

int msg_send_weights_fetch(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t version, uint32_t chunk_index) {
    Spar__WeightsFetch f = SPAR__WEIGHTS_FETCH__INIT;
    f.version = version;
    f.chunk_index = chunk_index;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_WEIGHTS_FETCH, &f);
}

int msg_send_weights_chunk(wire_t *w, void *sock, const wire_peer_t *peer, Spar__WeightsChunk *chunk) {
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK, chunk);
}

int msg_send_judge_pool(wire_t *w, void *sock, const wire_peer_t *peer, char **endpoints, size_t n_endpoints) {
    Spar__JudgePool jp = SPAR__JUDGE_POOL__INIT;
    jp.endpoints = endpoints;
    jp.n_endpoints = n_endpoints;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_JUDGE_POOL, &jp);
}

int msg_send_iteration_summary(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t iteration,
                               const char *json) {
    Spar__IterationSummary s = SPAR__ITERATION_SUMMARY__INIT;
    s.iteration = iteration;
    s.json = (char *)json;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_ITERATION_SUMMARY, &s);
}

int msg_send_status_request(wire_t *w, void *sock, const wire_peer_t *peer, uint32_t iterations) {
    Spar__StatusRequest rq = SPAR__STATUS_REQUEST__INIT;
    rq.iterations = iterations;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_STATUS_REQUEST, &rq);
}

int msg_send_status(wire_t *w, void *sock, const wire_peer_t *peer, const char *json, char **iterations,
                    size_t n_iterations) {
    Spar__Status st = SPAR__STATUS__INIT;
    st.json = (char *)json;
    st.iterations = iterations;
    st.n_iterations = n_iterations;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_STATUS, &st);
}

int msg_send_shutdown(wire_t *w, void *sock, const wire_peer_t *peer, const char *reason) {
    Spar__Shutdown sd = SPAR__SHUTDOWN__INIT;
    sd.reason = (char *)reason;
    return msg_send(w, sock, peer, SPAR__ENVELOPE__BODY_SHUTDOWN, &sd);
}
