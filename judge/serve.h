/* serve — what the judge does with what reaches its ROUTER: JudgeRequests go to the backend in
 * batches (one of more responses than the judge answers is refused first), a Heartbeat is
 * answered with the judge's counters, anything else is counted and dropped. The backend's
 * answers, at once or later (an asynchronous backend's socket and deadlines, on the same loop),
 * go back through the ROUTER. Not the sockets or the backend: judge.c makes and frees them. */
#ifndef SPAR_JUDGE_SERVE_H
#define SPAR_JUDGE_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "common/wire.h"
#include "judge/backend.h"

typedef struct {
    wire_t *wire;
    void *router;
    judge_backend_t *backend;
    judge_sink_t sink; /* where the backend's answers go: the ROUTER, counted as served */
    size_t max_k;      /* larger requests are refused before anything is allocated for them */
    uint64_t served;
    /* called with 1 before the backend judges a batch and 0 after, to keep the judge's
     * heartbeats going through a long batch (presence_busy); NULL: nothing to call */
    void (*busy)(void *ctx, int busy);
    void *busy_ctx;
} serve_t;

/* Serves on loop from now on: the ROUTER as a source, and for an asynchronous backend its
 * socket as a source and its deadlines as a timer. S must stay where it is while loop runs. */
void serve_start(serve_t *S, loop_t *loop, wire_t *wire, void *router, judge_backend_t *backend, size_t max_k);
/* The requests served and pairs judged so far (a presence_counts_fn; ctx is the serve_t). */
void serve_counts(void *ctx, uint64_t *served, uint64_t *pairs);

#endif
