/* send — every message the actor sends, one function each, so that each envelope is built in one
 * place. What to send and when is the callers' (link, weights, work, judges); these only fill the
 * message and hand it to wire. Not receiving, not sockets. */
#ifndef SPAR_ACTOR_SEND_H
#define SPAR_ACTOR_SEND_H

#include <stdint.h>

#include "common/wire.h"

#include "actor/rollout.h"

void send_hello(wire_t *w, void *learner);
void send_heartbeat(wire_t *w, void *learner, uint64_t policy_version, uint64_t groups_sent);
void send_work_request(wire_t *w, void *learner, uint64_t have_version);
void send_weights_fetch(wire_t *w, void *learner, uint64_t version, uint32_t chunk_index);
/* The group of a judged rollout (its judging part carries the verdict). */
void send_rollout_group(wire_t *w, void *learner, const rollout_t *t, Spar__Response **responses);
/* Stopped by a signal: the learner re-issues this actor's lease at once. */
void send_goodbye(wire_t *w, void *learner, const char *reason);
/* A Heartbeat to a judge not verified yet: its answer says what it is. */
void send_probe(wire_t *w, void *judge);
void send_judge_request(wire_t *w, void *judge, uint64_t request_id, const rollout_t *t, Spar__Response **responses);

#endif
