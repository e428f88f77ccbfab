/* peers — the learner's membership view: every actor and judge that talks to it, tracked by its
 * messages and heartbeats, with the judge pool's publication state and weight delivery. Peers
 * join at any time (logged), fall silent after five heartbeat periods without a message
 * (logged; not counted as live), come back (logged), and leave when they say so or after a
 * minute of silence: each departure is an event the caller turns into the release of the
 * peer's leases (and logs with peers_log_left). The table knows which version each actor runs
 * and when the current version has reached every live actor (acknowledged by the version the
 * actor reports); nothing waits for that: leases with deadlines keep the run going. No sockets;
 * the clock is passed in; leases are only read (who holds one), except the strikes. */
#ifndef SPAR_PEERS_H
#define SPAR_PEERS_H

#include <stdint.h>

#include "learner/leases.h"
#include "spar.pb-c.h"

#define MAX_PEERS 1024 /* tracked at once; when full, the longest-quiet peer that holds no lease goes */
#define MAX_POOL 256   /* judge endpoints published at most (the most recently registered first) */
#define PEERS_LEAVE_SILENT_MS 60000

typedef struct {
    char id[LEASE_HOLDER_MAX + 1]; /* the connection's name: its routing id, printable (wire_peer_name) */
    Spar__Role role;
    int hello;             /* said Hello: may take leases (an actor), joins the pool (a judge) */
    int strikes;           /* leases it let expire, less those answered since: smaller leases */
    uint64_t version;
    uint64_t bad_messages;
    int64_t last_seen_ms;
    int told_shutdown;
    uint64_t groups;       /* accepted from this peer (a judge: requests it served) */
    char endpoint[256];    /* a judge: where actors reach it (its hello) */
    int judge_ok;          /* a judge: reached at endpoint as itself, so published (judge_check.h) */
    int check_tries;
    int64_t check_at_ms;   /* a judge: when to check (again) */
    int64_t joined_ms;
    int silent, left;      /* no message for silent_ms / left (said so, or silent a minute) */
    uint64_t rate_groups;  /* groups at rate_ms, for groups_per_s */
    int64_t rate_ms;
    double groups_per_s;
} peer_t;

typedef struct {
    peer_t peers[MAX_PEERS];
    int n_peers;
    int64_t silent_ms;    /* quiet this long: silent */
    uint64_t version;     /* the current version, whose delivery is tracked */
    int64_t announced_ms; /* when it was first announced */
    int delivered;        /* has every live actor reported it? */
    double delivery_ms;   /* how long that took (NAN until it happened) */
    int had_judges;       /* a judge registered once: the pool is published from then on */
    int64_t ticked_ms;    /* the last peers_tick (0: none yet) */
} peers_t;

/* A departure: the caller releases the peer's leases, then logs it (peers_log_left). */
typedef struct {
    peer_t *peer;
    const char *why;
} peer_left_t;

/* An empty table; peers fall silent after five heartbeat periods. */
void peers_init(peers_t *P, int64_t heartbeat_ms);
/* The peer `id` (a connection's name), added (a join) when new; marks it seen now. When the
 * table is full, a departed peer, else the one quiet longest that holds no lease, makes room
 * (phantoms that said one Hello cannot keep real peers out). NULL only when every peer holds a
 * lease. */
peer_t *peers_touch(peers_t *P, const leases_t *leases, const char *id, Spar__Role role, int64_t now_ms);
/* The peer `id` if tracked, else NULL; nothing changes. */
peer_t *peers_find(peers_t *P, const char *id);
/* The peer `id` if tracked (marked seen now; a silent or departed one is back), else NULL. */
peer_t *peers_seen(peers_t *P, const char *id, int64_t now_ms);
/* Is the holder of a lease one whose prompts another actor should back up (leases.h)? An
 * unknown, silent or departed peer, one that has let a lease expire, or one that has not yet
 * delivered a group. ctx is the peers_t. */
int peers_suspect(const char *holder, void *ctx);
/* The version a peer reports running (heartbeat, work request); may complete the delivery. */
void peers_saw_version(peers_t *P, peer_t *p, uint64_t version, int64_t now_ms);
/* A peer said it is leaving (or went quiet): 1 when that is news, the departure the caller
 * turns into a lease release; 0 for NULL or a peer gone already. */
int peers_leave(peer_t *p);
/* Logs a departure: why, and how many prompts of its leases were re-queued. */
void peers_log_left(const peer_t *p, const char *why, int requeued);
/* The current version is now `version`, announced at now: delivery starts over. */
void peers_new_version(peers_t *P, uint64_t version, int64_t now_ms);
/* Counts a strike for the holder of each lease that expired since the last call. */
void peers_strikes(peers_t *P, leases_t *leases);
/* Periodic work: silence, throughput, delivery; the peers silent a minute leave: their
 * departures into left (at most MAX_PEERS), how many returned. */
int peers_tick(peers_t *P, const leases_t *leases, int64_t now_ms, peer_left_t *left);
/* "working" | "idle" | "fetching" | "silent" | "left" (finished: nobody is fetching). */
const char *peers_state(const peers_t *P, const leases_t *leases, const peer_t *p, int finished);
/* The endpoints of the registered judges that are live and were reached there as themselves
 * (judge_check.h), into out (borrowed); returns how many. */
int peers_judges(const peers_t *P, char **out, int max);
/* The judge pool to publish (peers_judges), or -1 when there is none to publish: no judge has
 * registered yet (actors use their configured judges). */
int peers_pool(peers_t *P, char **out, int max);
/* Malformed messages counted and dropped: own (the learner's) and what peers report. */
uint64_t peers_bad_messages(const peers_t *P, uint64_t own);
/* Actors heard from recently (not silent, not gone). */
int peers_live_actors(const peers_t *P);
/* Actors heard from since `since_ms`. */
int peers_actors_since(const peers_t *P, int64_t since_ms);

#endif
