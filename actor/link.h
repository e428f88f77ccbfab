/* link — the actor's connection to the learner: Hello until welcomed, Heartbeats while welcomed,
 * and the dispatch of what arrives on the control and publish sockets to the part it is for.
 * Owns whether the learner knows this actor (the other parts' timers wait while it does not)
 * and the run's seed and prompt count from the Welcome. Not the lease, weights or judges. */
#ifndef SPAR_ACTOR_LINK_H
#define SPAR_ACTOR_LINK_H

#include <stdint.h>

#include "common/keepalive.h"

typedef struct actor actor_t;

typedef struct {
    int welcomed;
    int shut_down;    /* the learner said Shutdown */
    uint64_t seed;
    uint32_t prompts; /* the run's prompt ids are below this (Welcome; 0: not said) */
    int64_t heartbeat_at;
    uint64_t hello_timer, heartbeat_timer;
    keepalive_t *keepalive; /* heartbeats while the actor computes (link_busy) */
} link_t;

/* The learner's sockets into the loop, and the Hello and Heartbeat timers. */
void link_start(actor_t *A);
int link_welcomed(const actor_t *A);
/* The learner no longer knows this connection (it restarted): Hello again, now. */
void link_hello_again(actor_t *A);
/* Around work that keeps the loop from running for more than a heartbeat period (sampling a
 * lease, loading a version): busy 1 lends the control socket to a thread that keeps the
 * heartbeats going, busy 0 takes it back. Nothing may use the control socket in between. */
void link_busy(actor_t *A, int busy);
void link_free(actor_t *A);
uint64_t link_seed(const actor_t *A);
uint32_t link_prompts(const actor_t *A);

#endif
