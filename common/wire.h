/* wire — the one send/receive pair for every spar message: protobuf Envelope over ZeroMQ.
 * Receiving checks, in order: frame size limit, protobuf parse, protocol version, known body
 * type, required fields and value ranges. A bad frame is counted, logged once per sender and
 * dropped; wire never asserts on data from a socket.
 * Ownership: wire_recv returns an envelope the caller frees with wire_free. */
#ifndef SPAR_WIRE_H
#define SPAR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "spar.pb-c.h"

#define WIRE_PROTOCOL_VERSION 1u
#define WIRE_ID_MAX 255
#define WIRE_MAX_WEIGHT_BYTES (8ULL << 30) /* larger announced weights are refused */ /* ZeroMQ routing ids are at most 255 bytes */

typedef struct {
    char sender_id[WIRE_ID_MAX + 1];
    char run_id[320];
    uint64_t seq;
    long max_frame_bytes;
    uint64_t bad_messages; /* frames counted and dropped */
    uint64_t received;     /* frames accepted */
    char logged[64][WIRE_ID_MAX + 1]; /* senders already logged as bad (log once) */
    int n_logged;
} wire_t;

/* A routing identity of a ROUTER peer. */
typedef struct {
    unsigned char id[WIRE_ID_MAX];
    size_t len;
} wire_peer_t;

void wire_init(wire_t *w, const char *sender_id, long max_frame_bytes);

/* Fills version, run id, sender id and sequence, packs and sends. `peer` is the routing
 * identity for ROUTER sockets, NULL for DEALER/PUB. Returns 0 or -1 (errno from zmq). */
int wire_send(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Envelope *env);
/* Sends a Shutdown with `reason` (the learner's end of a run, or a peer's goodbye). Returns as
 * wire_send. */
int wire_send_shutdown(wire_t *w, void *sock, const wire_peer_t *peer, const char *reason);

/* Receives one message without blocking. Returns the envelope, or NULL when nothing valid
 * was waiting (a bad frame was counted). `router`: the socket prefixes a routing id. */
Spar__Envelope *wire_recv(wire_t *w, void *sock, int router, wire_peer_t *peer_out);

/* The decoder alone (no socket): returns the envelope or NULL with the reason in why. */
Spar__Envelope *wire_decode(const void *data, size_t len, long max_frame_bytes, char *why,
                            size_t whylen);

/* The checks wire_decode applies to a rollout group (also applied to groups read back from the
 * records). Returns 0 or -1 with the reason in why. */
int wire_check_rollout_group(const Spar__RolloutGroup *g, char *why, size_t whylen);

/* Checks a preference matrix: K*K entries, each in [0,1], diagonal 1/2, P + P^T = 1. */
int wire_check_preference(const double *p, size_t n_entries, size_t k, char *why, size_t whylen);

void wire_free(Spar__Envelope *env);

/* Printable form of a routing id (hex when not printable). */
void wire_peer_name(const wire_peer_t *peer, char *out, size_t outlen);

/* Sets the options every spar socket shares (linger, high-water marks). */
void wire_socket_defaults(void *sock);

#endif

/* 1 when a message is waiting on the socket. */
int wire_readable(void *sock);
/* Detaches the rollout group from an envelope (the caller then owns it; free it with
 * spar__rollout_group__free_unpacked(g, NULL)). */
Spar__RolloutGroup *wire_take_rollout_group(Spar__Envelope *env);
/* Name of a body type, for logs. */
const char *wire_body_name(const Spar__Envelope *env);
