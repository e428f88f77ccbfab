/* leases — who answers which prompt of the current iteration, until when.
 * Every prompt is queued, granted in a lease (a batch with a deadline), then done exactly
 * once. An expired lease puts its unfinished prompts back at the front of the queue. A late
 * answer from an expired lease still counts if the prompt is not done yet; any second answer
 * for a prompt is a duplicate. Once the queue is empty, a prompt still open in the lease of a
 * holder the caller calls suspect (one that never answered, let a lease expire, or fell silent)
 * is granted once more, to an idle holder (a backup lease): the first answer counts, so a peer
 * that takes leases and never answers delays an iteration by no deadline. A prompt is
 * re-queued when the last open lease holding it expires. */
#ifndef SPAR_LEASES_H
#define SPAR_LEASES_H

#include <stdint.h>

#define LEASE_HOLDER_MAX 511 /* a holder is a peer's printable name (hex of a binary routing id) */

typedef struct {
    uint64_t id;
    int *prompts;
    int *earlier; /* per prompt of it: the lease before this one that granted it, or -1 */
    int n;
    int64_t deadline_ms;
    char holder[LEASE_HOLDER_MAX + 1];
    int open;    /* 0 once all its prompts are done or it expired */
    int expired; /* closed by its deadline with prompts unanswered (the learner counts a strike) */
    int struck;  /* the learner has counted that strike */
} lease_t;

typedef struct {
    uint64_t iteration;
    int n_prompts;
    uint8_t *state; /* per prompt: LEASE_QUEUED, LEASE_GRANTED, LEASE_DONE */
    uint16_t *holders; /* per prompt: open leases that hold it */
    uint8_t *backed_up; /* per prompt: granted in a backup lease already this iteration */
    int *last_lease;    /* per prompt: the latest lease (index) that granted it, or -1 */
    int *queue;     /* ring of queued prompts */
    int q_head, q_len;
    lease_t *leases;
    int n_leases, cap_leases;
    uint64_t next_id;
    int done;
    int reissued; /* prompts re-queued after their lease expired, this iteration */
} leases_t;

enum { LEASE_QUEUED = 0, LEASE_GRANTED = 1, LEASE_DONE = 2 };
enum { LEASE_ACCEPTED = 0, LEASE_DUPLICATE = 1, LEASE_UNKNOWN = 2 };

void leases_init(leases_t *l);
void leases_free(leases_t *l);
/* Starts an iteration: all prompts queued, no leases. */
void leases_begin(leases_t *l, uint64_t iteration, int n_prompts);
/* Grants up to max prompts to holder. Returns the lease or NULL when nothing is queued. */
const lease_t *leases_grant(leases_t *l, int max, int64_t now_ms, int64_t timeout_ms, const char *holder);
/* With the queue empty: a backup lease for holder of up to max prompts still open in leases of
 * holders for which suspect(holder, ctx) is 1 (not holder's own, each prompt backed up once).
 * Returns the lease or NULL when there is none to back up. */
const lease_t *leases_grant_backup(leases_t *l, int max, int64_t now_ms, int64_t timeout_ms, const char *holder,
                                   int (*suspect)(const char *holder, void *ctx), void *ctx);
/* Was prompt granted to holder in any lease of this iteration (open, expired or answered)?
 * Only such a holder may answer it. */
int leases_granted_to(const leases_t *l, int prompt, const char *holder);
/* The holder's lease that still has unanswered prompts and has not expired, or NULL: a second
 * request from a holder whose grant was delayed gets that lease again, not another one. */
const lease_t *leases_held(const leases_t *l, const char *holder, int64_t now_ms);
/* Marks a prompt answered: LEASE_ACCEPTED, LEASE_DUPLICATE, or LEASE_UNKNOWN (out of range). */
int leases_complete(leases_t *l, int prompt);
/* Is the prompt answered already? */
int leases_is_done(const leases_t *l, int prompt);
/* Puts a granted prompt back at the front of the queue (its answer was refused). */
void leases_requeue(leases_t *l, int prompt);
/* Re-queues the prompts of leases past their deadline; returns how many were re-queued. */
int leases_expire(leases_t *l, int64_t now_ms);
/* Re-queues the unanswered prompts of every open lease of holder (a peer that left or fell
 * silent); returns how many. A late answer from it still counts while a prompt is not done. */
int leases_release(leases_t *l, const char *holder);
/* Does holder have a lease with prompts still unanswered? */
int leases_holds(const leases_t *l, const char *holder);
/* The earliest deadline of an open lease, or INT64_MAX. */
int64_t leases_next_deadline(const leases_t *l);
int leases_all_done(const leases_t *l);

#endif
