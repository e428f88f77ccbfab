/* wire — the one send/receive pair for every spar message: protobuf Envelope over ZeroMQ.
 * Receiving takes a whole message whatever its number of frames, never blocks, and checks, in
 * order: one frame (after the routing id), the frame size limit (ZeroMQ itself drops a peer
 * whose frame exceeds it, before reading it: ZMQ_MAXMSGSIZE), a scan of the frame against the
 * descriptor (memory unpack would take, unknown fields, UTF-8; wire_scan.h), protobuf parse,
 * protocol version, known body type, printable ids, required fields, counts and value ranges.
 * A bad message is counted, logged once per sender and reason, and dropped; wire never asserts
 * on data from a socket.
 * Ownership: wire_recv returns an envelope the caller frees with wire_free. */
#ifndef SPAR_WIRE_H
#define SPAR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "spar.pb-c.h"

#define WIRE_PROTOCOL_VERSION 1u
#define WIRE_ID_MAX 255
#define WIRE_MAX_WEIGHT_BYTES (8ULL << 30) /* larger announced weights are refused */
#define WIRE_MAX_RESPONSES 4096 /* responses in one group or judge request (K, with opponents) */
#define WIRE_MAX_PROMPTS 4096   /* prompts in one lease */
#define WIRE_FETCH_WINDOW 16    /* weight chunks an actor asks for before the first arrives */
/* Messages queued per peer before ZeroMQ drops further ones: with chunks of learner.chunk_bytes
 * the learner holds at most this many chunk replies for a peer that does not read. */
#define WIRE_PEER_SNDHWM (4 * WIRE_FETCH_WINDOW)

typedef struct {
    char sender_id[WIRE_ID_MAX + 1];
    char run_id[320];
    uint64_t seq;
    long max_frame_bytes;
    uint64_t bad_messages; /* frames counted and dropped */
    uint64_t received;     /* frames accepted */
    struct strmap *logged; /* "sender reason" pairs already logged (log once) */
} wire_t;

/* A routing identity of a ROUTER peer. */
typedef struct {
    unsigned char id[WIRE_ID_MAX];
    size_t len;
    char user[64]; /* with CURVE: the name of the key the connection authenticated with, else "" */
} wire_peer_t;

void wire_init(wire_t *w, const char *sender_id, long max_frame_bytes);
/* Frees what wire_init and the log-once table hold; safe twice. */
void wire_fini(wire_t *w);

/* Fills version, run id, sender id and sequence, packs and sends. `peer` is the routing
 * identity for ROUTER sockets, NULL for DEALER/PUB. Returns 0 or -1 (errno from zmq). */
int wire_send(wire_t *w, void *sock, const wire_peer_t *peer, Spar__Envelope *env);

/* Receives one message (all its frames) without blocking. Returns the envelope, or NULL when
 * nothing valid was waiting (a bad message was counted). `router`: the socket prefixes a
 * routing id, returned in peer_out: the connection's identity, which ZeroMQ keeps unique per
 * ROUTER; act on it, not on the envelope's sender_id, which any peer can write. */
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

/* Counts a message that passed decoding but that the receiver refuses (a peer not entitled to
 * send it, a count out of range for this run), logged once per sender and reason. */
void wire_count_bad(wire_t *w, const char *sender, const char *why);

/* Printable form of a routing id (hex when not printable). */
void wire_peer_name(const wire_peer_t *peer, char *out, size_t outlen);

/* Sets the options every spar socket shares: linger 0, high-water marks, and ZMQ_MAXMSGSIZE =
 * max_frame_bytes, so a larger frame is never read (its peer is disconnected). */
void wire_socket_defaults(void *sock, long max_frame_bytes);

/* 1 when a message is waiting on the socket. */
int wire_readable(void *sock);
/* Detaches the rollout group from an envelope (the caller then owns it; free it with
 * spar__rollout_group__free_unpacked(g, NULL)). */
Spar__RolloutGroup *wire_take_rollout_group(Spar__Envelope *env);
/* The most responses a judge request may hold: its reply (K*K doubles, or K rewards) must fit
 * max_frame_bytes and 1 MiB, so a peer that never reads holds at most WIRE_PEER_SNDHWM MiB of a
 * judge. At least 2. */
size_t wire_judge_max_k(long max_frame_bytes, int rewards);
#define WIRE_JUDGE_REPLY_MAX_BYTES (1L << 20)
#define WIRE_JUDGE_REPLY_HEADER_BYTES 2048

/* Name of a body type, for logs. */
const char *wire_body_name(const Spar__Envelope *env);

#endif
