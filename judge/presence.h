/* presence — a judge's membership in the learner's judge pool. The judge says hello to
 * learner.control with the endpoint actors can reach it at (judge.advertise, or judge.bind when
 * that names a concrete address), heartbeats with its counters, and says goodbye when it stops;
 * the learner publishes the live judges to every actor, so judges join and leave a running
 * cluster like actors do. Replies from the learner are read and dropped: a judge depends on no
 * learner to serve. */
#ifndef SPAR_PRESENCE_H
#define SPAR_PRESENCE_H

#include <stdint.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/loop.h"
#include "common/wire.h"

typedef struct presence presence_t;
/* The judge's counters a heartbeat carries: the requests it served and the pairs it judged. */
typedef void (*presence_counts_fn)(void *ctx, uint64_t *served, uint64_t *pairs);

/* The advertised endpoint: judge.advertise with {host} / {ip} expanded, else judge.bind unless
 * it binds a wildcard. Returns 0, or -1 when there is none (nothing to advertise). */
int presence_endpoint(const spar_config_t *cfg, char *out, size_t outlen);
/* Connects to the learner, says hello, and joins loop: its replies are read as they come, and
 * every actor.heartbeat_ms a heartbeat with counts(ctx)'s counters goes out (after a hello while
 * the learner has not answered). NULL (logged) when the judge has no endpoint to advertise, or
 * its socket cannot be set up. wire is the judge's. The socket lives on a ZeroMQ context of
 * its own (its own I/O thread and CURVE keys), so resolving learner.control's host name, which
 * ZeroMQ does on that thread at every reconnect and which can take the resolver's whole timeout
 * while the learner is gone, never delays the judge's own socket. */
presence_t *presence_new(const spar_config_t *cfg, wire_t *wire, loop_t *loop, presence_counts_fn counts,
                         void *ctx);
/* A presence_t as ctx (NULL: nothing to do). Busy 1: the judge is about to compute for longer
 * than a heartbeat period; its heartbeats go on from another thread (common/keepalive.h) until
 * busy 0. The learner's socket is the presence's own, so the judge's other sockets stay its. */
void presence_busy(void *ctx, int busy);
/* Goodbye, then out of the loop (so before the loop is destroyed) and closed; safe with NULL.
 * Returns within 0.5 s even while the learner's name is being resolved (a goodbye to a learner
 * that answered lingers 300 ms, then 200 ms at most for the context; 200 ms in all when none
 * ever answered). */
void presence_destroy(presence_t **p);

#endif
