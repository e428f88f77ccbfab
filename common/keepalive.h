/* keepalive — a peer's heartbeats while its one thread computes. A role runs one event loop on
 * one thread, so a long computation (sampling a lease of a 0.5 B model, scoring a judge batch)
 * stops its heartbeat timer, and the learner would count the peer silent, then gone, and hand
 * its leases to others. Around such work the role lends its socket to the learner to a thread
 * that sends a prepared heartbeat every period until the work ends.
 *
 * A ZeroMQ socket is not thread-safe, but it may move between threads through a full memory
 * barrier: keepalive_begin hands it over, keepalive_end takes it back, both under the mutex the
 * sending thread holds while it sends. Between the two calls the caller must not touch that
 * socket (other sockets, and the wire, it may use: wire_send's counter is atomic). */
#ifndef SPAR_KEEPALIVE_H
#define SPAR_KEEPALIVE_H

#include "common/msg.h"
#include "common/wire.h"

typedef struct keepalive keepalive_t;

/* A thread that waits for keepalive_begin; period_ms > 0. NULL when no thread can start (the
 * role then works without: keepalive_begin / _end on NULL do nothing). */
keepalive_t *keepalive_new(wire_t *wire, void *socket, long period_ms);
/* From now until keepalive_end, *hb goes out on the socket every period_ms (the first one a
 * period from now: the caller's own timer has just sent one, or will on its next pass). */
void keepalive_begin(keepalive_t *k, const msg_heartbeat_t *hb);
/* The socket is the caller's again once this returns. */
void keepalive_end(keepalive_t *k);
/* The heartbeats sent while lent, for tests and logs. */
unsigned long keepalive_sent(keepalive_t *k);
void keepalive_free(keepalive_t **k);

#endif
