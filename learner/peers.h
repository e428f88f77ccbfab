/* peers — the learner's membership view: every actor (and tool-less peer) that talks to it,
 * tracked by its messages and heartbeats. Peers join at any time (logged), fall silent after
 * five heartbeat periods without a message (logged; not counted as live), come back (logged),
 * and leave when they say so or after a minute of silence (logged; their open leases are
 * re-queued at once). The learner knows which version each actor runs and when a new version
 * has reached every live actor (weight delivery, acknowledged by the version the actor
 * reports); it never waits for that: leases with deadlines keep the run going. */
#ifndef SPAR_PEERS_H
#define SPAR_PEERS_H

#include "learner/learner_state.h"

/* The peer `id` (a connection's name), added (a join) when new; marks it seen now. When the
 * table is full, the peer quiet the longest that holds no lease makes room (phantoms that said
 * one Hello cannot keep real peers out). NULL only when every peer holds a lease. */
peer_t *peers_touch(learner_t *L, const char *id, Spar__Role role);
/* The peer `id` if tracked, else NULL; nothing changes. */
peer_t *peers_find(learner_t *L, const char *id);
/* The peer `id` if tracked (marked seen now), else NULL: nothing is added. */
peer_t *peers_seen(learner_t *L, const char *id);
/* Is the holder of a lease one whose prompts another actor should back up (leases.h)? An
 * unknown, silent or departed peer, one that has let a lease expire, or one that has not yet
 * delivered a group. ctx is the learner. */
int peers_suspect(const char *holder, void *ctx);
/* The version a peer reports running (heartbeat, work request). */
void peers_saw_version(learner_t *L, peer_t *p, uint64_t version);
/* A peer said it is leaving: its leases are re-queued. */
void peers_leave(learner_t *L, peer_t *p, const char *why);
/* A new current version was announced: delivery starts over. */
void peers_new_version(learner_t *L);
/* Counts a strike for the holder of each lease that expired since the last call. */
void peers_strikes(learner_t *L);
/* Periodic work: silence, departure, throughput, delivery. */
void peers_tick(learner_t *L, int64_t now_ms);
/* "working" | "idle" | "fetching" | "silent" | "left". */
const char *peers_state(const learner_t *L, const peer_t *p);
/* The endpoints of the registered judges that are live and were reached there as themselves
 * (judge_check.h), into out (borrowed); returns how many. */
int peers_judges(const learner_t *L, char **out, int max);
/* Malformed messages the learner and (by their heartbeats) its peers counted and dropped. */
uint64_t peers_bad_messages(const learner_t *L);
/* Actors heard from recently (not silent, not gone). */
int peers_live_actors(const learner_t *L);

#endif
