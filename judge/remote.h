/* remote — judge.kind remote: the judge forwards every request to another process that speaks
 * the judge protocol (judge.remote; e.g. examples/python_judge, or a model server wrapped the
 * same way) and relays its replies to the actors. The remote's reply passes the same checks as
 * any frame (a bad matrix is counted and dropped), must answer the request's K responses, and
 * keeps the remote's judge version; a request the remote leaves unanswered for judge.timeout_ms
 * is answered with an error, so the actor asks again at once. With judge.both_orders, every
 * request goes out twice, the second time with its responses reversed, and the two answers are
 * averaged (position-bias control); the mean |P(a > b) - P'(a > b)| between the two orders is
 * the judge's position bias. */
#ifndef SPAR_REMOTE_H
#define SPAR_REMOTE_H

#include "common/curve.h"
#include "common/wire.h"

typedef struct remote remote_t;
/* Sends a reply to an actor (through the judge's ROUTER). */
typedef void (*remote_reply_fn)(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep);

/* Connects a DEALER to endpoint (a CURVE client trusting security.remote_public when curve is
 * on; curve may be NULL); counts bad frames in wire. NULL when it cannot connect.
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
/* Relays the replies waiting on the socket and answers expired requests with an error. Returns
 * the number of replies relayed. */
int remote_pump(remote_t *r, remote_reply_fn reply, void *ctx);

#endif
