/* judge_pool — the judges an actor sends requests to, as pure logic (the clock is passed in; the
 * sockets are opened and closed through callbacks), so that no peer can take the pool over.
 * Entries come from two places: the actor's config (judge.endpoints: trusted, used at once) and
 * the learner's published judge pool, which names any endpoint a peer said Hello with as a judge.
 * Contract:
 * - Verification: every entry is probed (a Heartbeat the caller sends when jp_probe_due says so)
 *   until it answers. A published entry is used for work only after it answered as a judge
 *   (role JUDGE) on that endpoint; one that answers as anything else, or leaves JP_PROBES probes
 *   unanswered, is evicted and kept out for a backoff (30 s, doubling, at most 10 min). Config
 *   entries are never evicted; they keep being probed, more slowly, until they answer.
 * - Identity: the answer's envelope sender id is the judge's identity (ids are unique per
 *   process). A second endpoint of an identity already in the pool becomes an alias: its socket
 *   closed, never used, so one judge reached by two endpoints counts once; the config's endpoint
 *   is the one kept. Two endpoints that both come from the config are both kept (the operator
 *   named them; judges outside spar may share an id).
 * - Bounds: at most JP_MAX_WAITING published entries wait for verification at a time, at most
 *   JP_MAX_ENTRIES entries in all. An endpoint never seen before takes precedence over a retry of
 *   one that failed (it may evict such a retry), and the latest published list is scanned again
 *   whenever a place frees up, so dead endpoints never keep a real judge out: each holds a
 *   place for JP_PROBES x JP_PROBE_MS at most, then waits out its backoff.
 * - Leaving: a verified entry that the published list no longer names is retired (no new
 *   requests) and evicted after a grace of 2 x judge.timeout_ms (its answers in flight still
 *   arrive); named again before that, it is used again.
 * - Flow: at most JP_WINDOW requests in flight per judge (jp_pick skips a full one).
 * - Health: a judge that let a request time out, or sent a bad message, is benched for
 *   timeout_ms x 2^(strikes - 1), at most a minute; any valid message from it clears that.
 * Indices are valid until the next call that may evict (jp_published, jp_tick, jp_on_heartbeat);
 * keep ids across such calls. */
#ifndef SPAR_JUDGE_POOL_H
#define SPAR_JUDGE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

#define JP_MAX_WAITING 16
#define JP_MAX_ENTRIES 256
#define JP_PROBE_MS 500
#define JP_PROBES 6
#define JP_MAX_PUBLISHED 1024 /* endpoints of the learner's list kept for rescans */
#define JP_EP_MAX 255
/* Requests outstanding at one judge at most: a judge's ROUTER queues WIRE_PEER_SNDHWM replies
 * per peer and drops the rest, so a burst past that would be lost and time out. */
#define JP_WINDOW (WIRE_PEER_SNDHWM / 2)

typedef struct {
    void *(*open)(void *ctx, const char *endpoint); /* a socket connected to endpoint, or NULL */
    void (*close)(void *ctx, void *sock);
    void *ctx;
} jp_io_t;

typedef enum { JP_WAITING, JP_JUDGE, JP_ALIAS, JP_RETIRED } jp_state_t;

typedef struct {
    uint64_t id; /* unique in this pool, never reused */
    char endpoint[JP_EP_MAX + 1];
    char identity[WIRE_ID_MAX + 1]; /* the sender id it answered with; "" until then */
    jp_state_t state;
    int from_config;
    int retry;     /* a published endpoint that failed before */
    uint64_t alias_of;
    int strikes;
    int64_t benched_until_ms;
    int probes;
    int64_t probe_at_ms;
    int in_flight; /* requests sent and not yet answered, failed or timed out (the caller counts) */
    int64_t since_ms; /* added, or retired */
    void *sock;       /* NULL for an alias */
} jp_entry_t;

typedef struct {
    jp_entry_t *e;
    int n, cap;
    int next;
    uint64_t next_id;
    long timeout_ms;
    jp_io_t io;
    char **published;
    size_t n_published;
    struct strmap *dead; /* endpoint -> when it may be tried again */
    int64_t rescan_at_ms; /* the published list is scanned again for failed endpoints' turns */
} judge_pool_t;

typedef enum { JP_HB_IGNORED, JP_HB_VERIFIED, JP_HB_ALIAS, JP_HB_NOT_JUDGE } jp_hb_t;

void jp_init(judge_pool_t *p, const jp_io_t *io, long timeout_ms);
/* Closes every socket and frees. */
void jp_free(judge_pool_t *p);

/* A judge from the config. Returns its index, or -1 when its socket cannot be opened. */
int jp_add_config(judge_pool_t *p, const char *endpoint, int64_t now_ms);
/* The learner's current judge pool (a Welcome or a JudgePool broadcast). */
void jp_published(judge_pool_t *p, char *const *endpoints, size_t n, int64_t now_ms);
/* Evictions that are due, refills from the published list. */
void jp_tick(judge_pool_t *p, int64_t now_ms);
/* When jp_tick next has work, or a probe is due. */
int64_t jp_next_ms(const judge_pool_t *p, int64_t now_ms);

/* 1 when entry i needs a probe sent now; the caller sends it, then calls jp_probe_sent. */
int jp_probe_due(const judge_pool_t *p, int i, int64_t now_ms);
void jp_probe_sent(judge_pool_t *p, int i, int64_t now_ms);
/* A Heartbeat came from entry i's socket with this role and envelope sender id. JP_HB_NOT_JUDGE:
 * a published entry that answered as something else (evicted; the caller counts it bad). */
jp_hb_t jp_on_heartbeat(judge_pool_t *p, int i, int role_is_judge, const char *sender_id, int64_t now_ms);

/* May entry i get requests (a verified judge, or a config entry not yet answered)? */
int jp_usable(const judge_pool_t *p, int i);
int jp_n_usable(const judge_pool_t *p);
/* The next usable judge in turn with fewer than JP_WINDOW requests in flight: round robin after
 * `after` (-1: the pool's own turn), one not benched if any, else a benched one; -1 when none is
 * usable, -2 when every usable one has its window full. */
int jp_pick(judge_pool_t *p, int after, int64_t now_ms);
/* Index of the entry with this id, or -1. */
int jp_find(const judge_pool_t *p, uint64_t id);
void jp_strike(judge_pool_t *p, int i, int64_t now_ms);
void jp_alive(judge_pool_t *p, int i);

#endif
