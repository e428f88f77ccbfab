/* sockets — every socket the actor makes, in one place: the DEALER to the learner's control, the
 * SUB to its publish and a DEALER per judge endpoint, each a CURVE client when security.curve is
 * on. Making, connecting and closing only: what flows over them is the other files'. */
#ifndef SPAR_ACTOR_SOCKETS_H
#define SPAR_ACTOR_SOCKETS_H

#include "common/config.h"
#include "common/curve.h"

typedef struct {
    const spar_config_t *cfg;
    void *zctx, *ctl, *sub;
    curve_t *curve;
} actor_sockets_t;

/* The learner's two sockets, ctl with routing id sender_id. Returns 0, -1 (cannot connect) or
 * -2 (a key the config names cannot be read). What was made is closed by actor_sockets_close. */
int actor_sockets_open(actor_sockets_t *S, const spar_config_t *cfg, const char *sender_id);
/* A DEALER connected to a judge endpoint (a host name resolved here), or NULL. */
void *actor_sockets_judge(actor_sockets_t *S, const char *endpoint);
void actor_sockets_close_judge(void *sock);
/* ctl_linger_ms >= 0: how long what ctl still queues (a goodbye) may take to leave. */
void actor_sockets_close(actor_sockets_t *S, int ctl_linger_ms);

#endif
