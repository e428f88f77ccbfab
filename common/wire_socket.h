/* wire_socket — the one way a spar socket is made: wire_socket_defaults (linger, high-water
 * marks, the frame limit), CURVE server or client setup through curve.h, the DEALER's routing
 * id, SUB's subscription to everything, then bind or connect, logging once with the endpoint
 * when any step fails. Not for per-role options set after (ROUTER_MANDATORY, linger at exit). */
#ifndef SPAR_WIRE_SOCKET_H
#define SPAR_WIRE_SOCKET_H

#include "common/curve.h"

typedef struct {
    const char *label;      /* names the socket in logs: "learner.control", "spar ping" */
    int type;               /* ZMQ_DEALER, ZMQ_ROUTER, ZMQ_PUB or ZMQ_SUB */
    const char *endpoint;
    int bind;               /* 1: bind (a CURVE server), 0: connect (a CURVE client) */
    long max_frame_bytes;   /* larger frames are never read (ZMQ_MAXMSGSIZE) */
    curve_t *curve;         /* NULL or inert (security.curve false): plain TCP/IPC */
    curve_peer_t curve_peer; /* a client's server key: CURVE_LEARNER, CURVE_JUDGE, CURVE_REMOTE */
    const char *routing_id; /* a DEALER's identity as its ROUTER sees it, or NULL */
    int sndhwm;             /* 0: wire_socket_defaults' high-water mark */
    int quiet;              /* 1: the caller reports a failure (an endpoint a peer named: one log
                             * line per attempt would let the peer fill the log) */
} wire_socket_opts_t;

/* Returns the bound or connected socket, or NULL after logging why (closed, nothing left). */
void *wire_socket_open(void *zctx, const wire_socket_opts_t *o);

#endif
