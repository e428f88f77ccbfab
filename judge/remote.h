/* remote — judge.kind remote: requests go on to another process speaking the judge protocol
 * (judge.remote, e.g. examples/python_judge) and its replies, checked as any frame and against
 * the request's K, back to the actors with the remote's version; a request left unanswered for
 * judge.timeout_ms is answered with an error, so the actor asks again at once. judge.both_orders
 * sends each request reversed too and averages the two answers; their mean |P(a > b) - P'(a > b)|
 * is the position bias. Not the loop: the judge polls its socket and calls its deadlines. */
#ifndef SPAR_REMOTE_H
#define SPAR_REMOTE_H

#include <stdint.h>

#include "common/curve.h"
#include "common/wire.h"

typedef struct remote remote_t;
/* Sends a reply to an actor (through the judge's ROUTER). */
typedef void (*remote_reply_fn)(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep);

/* Connects a DEALER to endpoint (a CURVE client trusting security.remote_public when curve is
 * on; curve may be NULL); counts bad frames in wire. NULL (logged) when it cannot connect.
 * cache_entries: verdicts kept, keyed by (prompt, the responses' tokens in order); 0: none. */
remote_t *remote_new(void *zctx, curve_t *curve, const char *endpoint, wire_t *wire, long timeout_ms,
                     int both_orders, uint32_t cache_entries);
void remote_cache_stats(const remote_t *r, uint64_t *hits, uint64_t *misses);
/* The mean disagreement between the two orders over the pairs compared so far (NAN: none). */
double remote_position_bias(const remote_t *r);
void remote_destroy(remote_t **r);
/* The socket to poll for replies. */
void *remote_socket(remote_t *r);
/* Forwards a request from an actor, or answers it from the verdict cache through reply
 * (returns 1 then, else 0). */
int remote_forward(remote_t *r, const wire_peer_t *from, const Spar__JudgeRequest *req, remote_reply_fn reply,
                   void *ctx);
/* Relays the replies waiting on the socket. Returns the number of replies relayed. */
int remote_pump(remote_t *r, remote_reply_fn reply, void *ctx);
/* Answers the requests whose judge.timeout_ms has passed at now_ms (util_now_ms's clock) with an
 * error. Returns when to call it again: the next deadline, or one timeout away when none is
 * pending (no request forwarded later can be due sooner). */
int64_t remote_expire(remote_t *r, int64_t now_ms, remote_reply_fn reply, void *ctx);

#endif
