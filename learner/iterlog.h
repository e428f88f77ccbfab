/* iterlog — the end of an iteration after its training: the checkpoint, the exact metrics and
 * the iterations.jsonl line (handed to an emit callback that publishes it and keeps it for the
 * status). In the synchronous mode the checkpoint and the metrics run on a worker thread while
 * the learner goes on serving — actors fetch the new version and collect the next iteration
 * meanwhile, which is what makes weight delivery fast on large policies; the line is written by
 * the learner's thread once they are done, always after the checkpoint (a resume trusts a
 * checkpoint only with its line). The worker gets a copy of the counters it writes and reads
 * only the update core, which nothing changes until iterlog_finish: the next training waits for
 * it. The online mode, whose training runs during collection, does it all inline. */
#ifndef SPAR_ITERLOG_H
#define SPAR_ITERLOG_H

#include <stdio.h>

#include "learner/checkpoint.h"
#include "learner/core.h"
#include "learner/iter_stats.h"

/* What an iteration's line says, taken on the learner's thread (copied by iterlog_start). */
typedef struct {
    const spar_config_t *cfg;
    const learner_core_t *core;   /* the worker's to read until iterlog_finish */
    const char *run_dir;
    const uint8_t *policy;        /* the serialised current version (tabular checkpoints), */
    size_t policy_len;            /* valid until iterlog_finish */
    ckpt_counters_t counters;
    const iter_stats_t *stats;
    const train_result_t *tr;     /* NULL: the initial line */
    double wall_s, collect_s;
    int lost, leases_reissued, actors;
    uint64_t bad_messages;
    int may_thread;               /* a worker, unless it is the initial line */
} iterlog_input_t;

/* A line written to iterations.jsonl, for the status and the PUB. */
typedef void (*iterlog_emit_fn)(void *arg, uint64_t iteration, const char *line);

typedef struct {
    struct iterlog_job *job; /* the end of the last iteration, when still pending */
    FILE *jsonl;
    iterlog_emit_fn emit;
    void *emit_arg;
} iterlog_t;

void iterlog_init(iterlog_t *log, FILE *jsonl, iterlog_emit_fn emit, void *emit_arg);
/* Starts the end of the iteration in describes: the checkpoint and metrics on the worker (or
 * inline). Waits for a pending one first. */
void iterlog_start(iterlog_t *log, const iterlog_input_t *in);
/* Writes the line when the worker is done; with wait, waits for it. Returns 0 (done, or nothing
 * pending), 1 (still running, not waiting), or -1 when the checkpoint could not be written. */
int iterlog_finish(iterlog_t *log, int wait);
/* Is an end of iteration pending? */
int iterlog_pending(const iterlog_t *log);

#endif
