/* judge_check — a judge enters the published judge pool only once the learner has reached it at
 * the endpoint it registered and it answered as that same judge: a Heartbeat sent there must come
 * back from a judge (role JUDGE) whose wire id is the registering connection's routing id. So a
 * peer cannot register an endpoint nobody serves, nor a real judge's endpoint under its own name.
 * Checks run on sockets of their own ZeroMQ context (a name that does not resolve never stalls
 * the learner's sockets), served with a timer by the learner's loop, at most JUDGE_CHECK_MAX at
 * once, each waiting JUDGE_CHECK_WAIT_MS and retried with a growing pause while the peer is live. With CURVE and no security.judge_public
 * the learner cannot reach judges; it then trusts the judge keys (a key's name is its role). */
#ifndef SPAR_JUDGE_CHECK_H
#define SPAR_JUDGE_CHECK_H

#include "common/config.h"
#include "common/loop.h"
#include "common/wire.h"
#include "learner/peers.h"

#define JUDGE_CHECK_MAX 16
#define JUDGE_CHECK_WAIT_MS 2000

/* The published pool changed (a judge was confirmed): publish it again. */
typedef void (*judge_check_changed_fn)(void *arg);

/* A checker (no sockets yet) for the learner whose wire is learner_wire (its id and run id),
 * of the judges in peers; its check sockets and its timer run in loop, and it calls changed
 * when a judge joins the pool. NULL when CURVE cannot be set up (logged). */
struct judge_check *judge_check_new(const spar_config_t *cfg, const wire_t *learner_wire, peers_t *peers,
                                    loop_t *loop, judge_check_changed_fn changed, void *changed_arg);
/* A judge peer registered (or changed) its endpoint: it is checked before it is published. */
void judge_check_request(struct judge_check *c, peer_t *p, int64_t now_ms);
/* Looks again at when the next check is due: a judge that was silent (not checked meanwhile)
 * may be back. The learner calls it on its periodic tick. */
void judge_check_arm(struct judge_check *c);
void judge_check_destroy(struct judge_check **c);

#endif
