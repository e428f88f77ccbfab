/* judge_check — a judge enters the published judge pool only once the learner has reached it at
 * the endpoint it registered and it answered as that same judge: a Heartbeat sent there must come
 * back from a judge (role JUDGE) whose wire id is the registering connection's routing id. So a
 * peer cannot register an endpoint nobody serves, nor a real judge's endpoint under its own name.
 * Checks run on sockets of their own ZeroMQ context (a name that does not resolve never stalls
 * the learner's sockets), at most JUDGE_CHECK_MAX at once, each waiting JUDGE_CHECK_WAIT_MS and
 * retried with a growing pause while the peer is live. With CURVE and no security.judge_public
 * the learner cannot reach judges; it then trusts the judge keys (a key's name is its role). */
#ifndef SPAR_JUDGE_CHECK_H
#define SPAR_JUDGE_CHECK_H

#include <zmq.h>

#include "common/config.h"
#include "common/wire.h"
#include "learner/peers.h"

#define JUDGE_CHECK_MAX 16
#define JUDGE_CHECK_WAIT_MS 2000

/* A checker (no sockets yet) for the learner whose wire is learner_wire (its id and run id).
 * NULL when CURVE cannot be set up (logged). */
struct judge_check *judge_check_new(const spar_config_t *cfg, const wire_t *learner_wire);
/* A judge peer registered (or changed) its endpoint: it is checked before it is published. */
void judge_check_request(struct judge_check *c, peer_t *p, int64_t now_ms);
/* Starts due checks of P's judges, reads answers, expires waits; returns 1 when the published
 * pool changed. */
int judge_check_tick(struct judge_check *c, peers_t *P, int64_t now_ms);
/* The sockets of running checks, for the learner's poll; returns how many were added. */
int judge_check_pollitems(const struct judge_check *c, zmq_pollitem_t *items, int max);
/* The earliest time a check needs attention, or INT64_MAX. */
int64_t judge_check_next_ms(const struct judge_check *c, const peers_t *P);
void judge_check_destroy(struct judge_check **c);

#endif
