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

/* learner.c: the update steps, shared with resume and replay. */
int learner_core_setup(learner_service_t *L); /* around the initial policy in L->core.theta */
void learner_core_teardown(learner_service_t *L);
int learner_open_files(learner_service_t *L);
void learner_begin_iteration(learner_service_t *L);
/* A peer left (said so, or silent a minute): its leases are re-queued; logged. */
void learner_peer_left(learner_service_t *L, peer_t *p, const char *why);
/* Publishes on the PUB socket (nothing in replay). */
void learner_publish(learner_service_t *L, Spar__Envelope *env);
/* The current version becomes `version`: serialised for actors and announced. */
void learner_set_version(learner_service_t *L, uint64_t version);
/* What only the learner can check of a group: a prompt of this run, K responses (+ opponents)
 * its policy can produce. Returns 0 or -1 with the reason in why. */
int learner_check_group(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl);
/* learner_check_group, and the prompt not answered yet this iteration, and a version the
 * learner admits: what a group read back from the records must pass. 0 or -1 (why). */
int learner_group_fits(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl);
/* Takes ownership of an accepted group; record: append it to records/ (not when it came from there). */
void learner_admit(learner_service_t *L, Spar__RolloutGroup *own, int record);
/* Trains on the iteration's groups and moves to the next version. Returns 0 or -1 (diverged). */
int learner_end_iteration(learner_service_t *L, train_result_t *tr, int *lost);

#endif
