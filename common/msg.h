/* msg — one typed sender per message a spar peer sends, and the one envelope builder they share.
 * Each sender fills its body (from a few fields, or takes a body the caller filled when it has
 * many), puts it in an envelope and sends it with wire_send; `peer` is the routing id for a
 * ROUTER socket, NULL for DEALER and PUB. Each returns as wire_send: 0, or -1 with errno from
 * zmq. Only building and sending: decoding and checking a received message is wire_recv's. */
#ifndef SPAR_MSG_H
#define SPAR_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

/* What a Heartbeat reports: each role sets the counters it keeps and leaves the others 0. */
typedef struct {
    Spar__Role role;
    uint64_t policy_version; /* actors: the version they run; the learner: its latest */
    uint64_t bad_messages;   /* frames this process counted and dropped */
    uint64_t groups_sent;    /* actors */
    uint64_t requests_served, pairs_judged, ties, cache_hits, cache_misses; /* judges */
    int hello_first;         /* the learner's answer to a peer it has no Hello from */
} msg_heartbeat_t;

/* Points env's body at `body`, a message of the type body_case names, over whatever it held.
 * For a caller that sends through its own wrapper of wire_send (one that logs, or publishes). */
void msg_envelope(Spar__Envelope *env, Spar__Envelope__BodyCase body_case, void *body);
/* msg_envelope on a fresh envelope, then wire_send. */
int msg_send(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Envelope__BodyCase body_case, void *body);

int msg_send_hello(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Role role, const char *host, uint32_t pid,
                   const char *endpoint);
int msg_send_welcome(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Welcome *welcome);
int msg_send_heartbeat(wire_t *w, void *sock, const wire_peer_t *peer, const msg_heartbeat_t *hb);
int msg_send_work_request(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t have_version,
                          uint32_t max_prompts);
int msg_send_work_grant(wire_t *w, void *sock, const wire_peer_t *peer, Spar__WorkGrant *grant);
int msg_send_rollout_group(wire_t *w, void *sock, const wire_peer_t *peer, Spar__RolloutGroup *group);
int msg_send_rollout_ack(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t iteration, uint32_t prompt_id,
                         Spar__AckStatus status);
int msg_send_judge_request(wire_t *w, void *sock, const wire_peer_t *peer, Spar__JudgeRequest *request);
int msg_send_judge_reply(wire_t *w, void *sock, const wire_peer_t *peer, Spar__JudgeReply *reply);
/* digest: the whole blob's 32-byte BLAKE2b-256. */
int msg_send_weights_available(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t version,
                               uint64_t total_bytes, uint32_t n_chunks, const uint8_t *digest);
int msg_send_weights_fetch(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t version, uint32_t chunk_index);
int msg_send_weights_chunk(wire_t *w, void *sock, const wire_peer_t *peer, Spar__WeightsChunk *chunk);
int msg_send_judge_pool(wire_t *w, void *sock, const wire_peer_t *peer, char **endpoints, size_t n_endpoints);
int msg_send_iteration_summary(wire_t *w, void *sock, const wire_peer_t *peer, uint64_t iteration,
                               const char *json);
int msg_send_status_request(wire_t *w, void *sock, const wire_peer_t *peer, uint32_t iterations);
int msg_send_status(wire_t *w, void *sock, const wire_peer_t *peer, const char *json, char **iterations,
                    size_t n_iterations);
int msg_send_shutdown(wire_t *w, void *sock, const wire_peer_t *peer, const char *reason);

#endif
