/* judges — the actor's client of its judge pool (judge_pool.h decides who is a judge): the
 * pool's sockets in the loop, probes and the pool's timer, judge requests in flight, their
 * replies, timeouts and retries on the next judge. Not the pool's policy (judge_pool.c) nor
 * what happens to a judged rollout (work.c). */
#ifndef SPAR_ACTOR_JUDGES_H
#define SPAR_ACTOR_JUDGES_H

#include <stddef.h>
#include <stdint.h>

#include "actor/judge_pool.h"
#include "actor/rollout.h"

typedef struct actor actor_t;

typedef struct {
    judge_pool_t pool; /* the config's judges and the learner's (verified, deduplicated, bounded) */
    uint64_t next_request_id;
    int64_t no_judge_logged_ms;
    uint64_t timer; /* the pool's evictions, refills and probes */
} judges_t;

/* The config's judges (judge.endpoints). Returns 0, -1 (none, or one cannot be connected) or
 * -2 (its socket cannot be made a CURVE client). */
int judges_start(actor_t *A);
void judges_free(actor_t *A);
/* The learner's current judge pool (a Welcome or a JudgePool broadcast). */
void judges_published(actor_t *A, char *const *endpoints, size_t n);
/* Welcomed again: the pool's timer runs now. */
void judges_resume(actor_t *A);
int judges_count(const actor_t *A);
/* t's turn to be judged: asked of the next judge, or of none yet (t waits a little). */
void judges_ask(actor_t *A, rollout_t *t, int64_t now);
/* t's judge did not answer before judge.timeout_ms: a strike, and t is asked again. */
void judges_timed_out(actor_t *A, rollout_t *t, int64_t now);

#endif
