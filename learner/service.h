/* service — the learner service as a struct of its parts (sockets and loop, run files, the
 * update core, leases, peers, the online buffer, iteration counts, the iteration report,
 * status, the weights for actors) and the iteration being collected, shared by the files that
 * run it: learner.c (the role's main), control.c (messages), iteration.c (collect, admit,
 * train), bootstrap.c (run folder, sockets, teardown), resume.c and replay.c. Internal to
 * learner/; the role's public face is learner.h. */
#ifndef SPAR_SERVICE_H
#define SPAR_SERVICE_H

#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/digest.h"
#include "common/game.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/policy.h"
#include "common/transfer.h"
#include "common/wire.h"
#include "learner/core.h"
#include "learner/iter_stats.h"
#include "learner/iterlog.h"
#include "learner/leases.h"
#include "learner/online.h"
#include "learner/optim.h"
#include "learner/peers.h"
#include "learner/status.h"
#include "learner/text_metrics.h"
#include "learner/train.h"

#define ANNOUNCE_MS 500
#define STALL_REPORT_MS 10000

/* The sockets and the loop that serves them. */
typedef struct {
    wire_t wire;
    void *zctx, *ctl, *pub;       /* NULL in replay */
    curve_t *curve;               /* security.curve: CURVE servers; the ZAP handler admits security.allowed keys */
    struct conn_guard *guards[2]; /* connection caps of ctl and pub (common/conn_guard.h) */
    loop_t *loop;                 /* the sockets, timers and hook the learner serves (common/loop.h) */
    struct judge_check *jcheck;   /* judges are reached before they are published (judge_check.h) */
} learner_net_t;

/* The run folder and the files the learner appends to. */
typedef struct {
    char dir[1024];
    FILE *jsonl, *records;
} run_files_t;

/* The learner service: its parts, and the iteration being collected. */
typedef struct learner_service {
    const spar_config_t *cfg;
    learner_net_t net;
    run_files_t files;
    learner_core_t core;      /* the policies, optimiser, algorithm and version (core.h) */
    leases_t leases;
    peers_t peers;            /* membership, the judge pool, weight delivery (peers.h) */
    online_t online;          /* the online mode's batch and steps, the versions' ring (online.h) */
    iter_stats_t stats;       /* this iteration's counts (iter_stats.h) */
    iterlog_t iterlog;        /* the end of the last iteration, when still pending (iterlog.h) */
    status_t status;          /* status.json, /metrics (status.h) */
    transfer_blob_t blob;     /* the current version, serialised (common/transfer.h) */
    transfer_blob_t ref_blob; /* version 0 (pi_ref), which Nash-MD's actors also need */

    uint64_t iteration;           /* being collected (1-based); 0 before the first */
    char **prompt_text;           /* this iteration's prompts, by id */
    Spar__RolloutGroup **buffer;  /* this iteration's groups, by prompt */
    uint64_t min_version;         /* resumed: groups of older versions (no longer held) are stale */
    Spar__RolloutGroup **prefill; /* resumed: this iteration's groups from the records */
    int n_prefill;
    int finished;
    uint64_t stale_total, samples_total, groups_total;
    int64_t next_announce_ms;
    uint64_t collect_timers[4];   /* while collecting: announce, status, leases, stall report */
    int collect_failed;           /* collecting stopped: the last checkpoint was not written */
} learner_service_t;

/* ---- bootstrap.c: the run folder, the initial policy, the sockets, teardown ------------ */

/* A fresh run's folder: checkpoints/, records/, logs/, run_id, config.yaml and the run files.
 * Returns 0 or -1 (logged; a folder holding a run is refused). */
int learner_open_run_dir(learner_service_t *L);
/* iterations.jsonl and records/groups.pb, opened to append. Returns 0 or -1 (logged). */
int learner_open_files(learner_service_t *L);
/* A fresh run's initial policy in L->core.theta, by policy.init. Returns 0 or an exit status. */
int learner_initial_policy(learner_service_t *L);
/* Everything the updates need around the initial policy in L->core.theta: the core, the
 * online buffer, the counts, the leases, versions 0's weights. No sockets, no files. */
int learner_core_setup(learner_service_t *L);
/* The control ROUTER and the PUB, bound, with CURVE and connection caps, served by a new loop.
 * Returns 0 or -1 (logged). */
int learner_bind(learner_service_t *L);
/* Frees every part, in the reverse of their setup (what was never set up is skipped). */
void learner_teardown(learner_service_t *L);

/* ---- control.c: the messages the learner serves and sends -------------------------------- */

/* The loop's handlers: the control ROUTER is readable (at most a budget of messages per pass),
 * a connection guard has events, the judge checks changed the pool. */
void learner_on_control(loop_t *loop, void *ctl, void *L);
void learner_on_guard(loop_t *loop, void *socket, void *guard);
void learner_on_pool_changed(void *L);
/* Publishes on the PUB socket (nothing in replay). */
/* An iterations.jsonl line to every actor, as an IterationSummary (nothing in replay). */
void learner_publish_line(learner_service_t *L, uint64_t iteration, const char *line);
/* The judge pool to every actor (once a judge has registered). */
void learner_publish_judges(learner_service_t *L);
/* The current version's WeightsAvailable, then the judge pool; the next is due ANNOUNCE_MS on. */
void learner_announce(learner_service_t *L);
/* A Shutdown to one peer (to) or, on the PUB, to all (to NULL). */
void learner_send_shutdown(learner_service_t *L, const wire_peer_t *to, const char *reason);

/* ---- iteration.c: collect, admit, train ------------------------------------------------- */

/* b becomes version of p as actors fetch it: serialised, in chunks of chunk_bytes. */
void learner_blob_set(transfer_blob_t *b, const policy_t *p, uint64_t version, size_t chunk_bytes);
/* The current version becomes `version`: serialised for actors, its delivery tracked. */
void learner_set_version(learner_service_t *L, uint64_t version);
/* Is a group sampled by version v admitted now (at most max_staleness behind, not before a resume)? */
int learner_version_ok(const learner_service_t *L, uint64_t v);
/* What only the learner can check of a group: a prompt of this run, K responses (+ opponents)
 * its policy can produce. Returns 0 or -1 with the reason in why. */
int learner_check_group(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl);
/* learner_check_group, and the prompt not answered yet this iteration, and a version the
 * learner admits: what a group read back from the records must pass. 0 or -1 (why). */
int learner_group_fits(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl);
/* Takes ownership of an accepted group; record: append it to records/ (not when it came from there). */
void learner_admit(learner_service_t *L, Spar__RolloutGroup *own, int record);
/* A peer left (said so, or silent a minute): its leases are re-queued; logged. */
void learner_peer_left(learner_service_t *L, peer_t *p, const char *why);
/* Every second and at state changes: the peers' silence and departures, then the status. */
void learner_tick(learner_service_t *L);
/* The loop's before-sleep hook: while collecting, the lease timer and the last line. */
void learner_before_sleep(loop_t *loop, void *L);
void learner_begin_iteration(learner_service_t *L);
/* Trains on the iteration's groups and moves to the next version. Returns 0 or -1 (diverged). */
int learner_end_iteration(learner_service_t *L, train_result_t *tr, int *lost);
/* Frees the iteration's groups. */
void learner_free_buffer(learner_service_t *L);
/* iterlog's emit: a line of iterations.jsonl to the status and, as an IterationSummary, to actors. */
void learner_emit_line(void *L, uint64_t iteration, const char *line);
/* The end of iteration L->iteration (tr NULL: the initial line), from a copy of its counts. */
void learner_iterlog_start(learner_service_t *L, const train_result_t *tr, double wall_s, double collect_s, int lost);
/* One whole iteration: collect, train, start its report. Returns 0 or -1 (stopped, diverged). */
int learner_iteration(learner_service_t *L);

#endif
