/* weights — the policy the actor samples with, pi_ref (version 0) for mixture opponents, and the
 * fetch of a version over common/transfer: started by an announcement or by a lease that needs
 * it, each blob verified and loaded into a policy before it is run. Not what a lease does with
 * the policy (work.c, lease.c). */
#ifndef SPAR_ACTOR_WEIGHTS_H
#define SPAR_ACTOR_WEIGHTS_H

#include <stdint.h>

#include "common/policy.h"
#include "common/transfer.h"
#include "common/wire.h"

typedef struct actor actor_t;

typedef struct {
    policy_t *policy;
    uint64_t version; /* of policy */
    int has_policy;
    policy_t *ref;
    policy_t *base;         /* a LoRA run's frozen base (policy.checkpoint), shared by policy and ref */
    transfer_fetch_t fetch; /* at most one transfer */
    uint64_t fetch_timer;
} weights_t;

/* Before any other weights_* call. */
void weights_start(actor_t *A);
void weights_free(actor_t *A);
/* A WeightsAvailable broadcast: fetched when welcomed and neither run nor being fetched. */
void weights_announced(actor_t *A, const Spar__WeightsAvailable *w);
void weights_on_chunk(actor_t *A, const Spar__WeightsChunk *c);
/* Fetches version unless it is being fetched (its size comes with its first chunk). */
void weights_fetch(actor_t *A, uint64_t version);
/* Welcomed again: the fetch's retries resume. */
void weights_resume(actor_t *A);

/* The version run, 0 before any. */
uint64_t weights_version(const actor_t *A);
int weights_running(const actor_t *A, uint64_t version);
policy_t *weights_policy(actor_t *A);
policy_t *weights_ref(actor_t *A); /* NULL until version 0 was loaded */

#endif
