/* weights — see weights.h. The transfer itself (window, checks, re-asks, the whole digest) is
 * common/transfer's; this file decides what to fetch and what to run. */
#include "actor/weights.h"

#include <stdlib.h>

#include "common/log.h"

#include "actor/actor_state.h"
#include "actor/send.h"

uint64_t weights_version(const actor_t *A) { return A->weights.has_policy ? A->weights.version : 0; }
int weights_running(const actor_t *A, uint64_t v) { return A->weights.has_policy && A->weights.version == v; }
policy_t *weights_policy(actor_t *A) { return A->weights.policy; }
policy_t *weights_ref(actor_t *A) { return A->weights.ref; }

/* transfer's ask callback: one WeightsFetch to the learner. */
static void s_ask(void *arg, uint64_t version, uint32_t index) {
    actor_t *A = arg;
    send_weights_fetch(&A->wire, A->sockets.ctl, version, index);
}

/* What was asked and has not come is asked again after TRANSFER_RETRY_MS without progress. */
static int64_t s_fetch_timer(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    actor_t *A = arg;
    if (!link_welcomed(A)) return ACTOR_PARKED;
    int64_t next = transfer_fetch_tick(&A->weights.fetch, now);
    return next < 0 ? ACTOR_PARKED : next;
}

void weights_start(actor_t *A) {
    const spar_config_t *cfg = A->cfg;
    char why[600];
    if (cfg->policy.lora.rank > 0 && !(A->weights.base = policy_lora_base(cfg->policy.checkpoint, why, sizeof why)))
        log_error("policy.checkpoint %s (the base of the LoRA adapters): %s; no version can load",
                  cfg->policy.checkpoint, why);
    transfer_fetch_init(&A->weights.fetch, s_ask, A);
    A->weights.fetch_timer = loop_add_timer(A->loop, ACTOR_PARKED, s_fetch_timer, A);
}

void weights_free(actor_t *A) {
    transfer_fetch_free(&A->weights.fetch);
    policy_destroy(&A->weights.policy);
    policy_destroy(&A->weights.ref);
    policy_destroy(&A->weights.base);
}

void weights_resume(actor_t *A) { loop_set_timer(A->loop, A->weights.fetch_timer, loop_now(A->loop)); }

/* Starts a transfer (ask: its first chunks are asked for now). A size no weights have is counted
 * as a bad message: a learner is a peer like any other. */
static void s_start_fetch(actor_t *A, uint64_t version, uint32_t n_chunks, uint64_t total, const uint8_t *digest,
                          int ask) {
    char why[160];
    int64_t now = loop_now(A->loop);
    int rc = transfer_fetch_start(&A->weights.fetch, version, n_chunks, total, digest, ask, now, why, sizeof why);
    if (rc == -1) wire_count_bad(&A->wire, "learner", why);
    if (rc == 0) weights_resume(A);
}

void weights_fetch(actor_t *A, uint64_t version) {
    const transfer_fetch_t *f = &A->weights.fetch;
    if (!f->active || f->version != version) s_start_fetch(A, version, 1, 0, NULL, 1);
}

void weights_announced(actor_t *A, const Spar__WeightsAvailable *w) {
    int getting = A->weights.fetch.active && A->weights.fetch.version == w->version;
    if (link_welcomed(A) && !weights_running(A, w->version) && !getting)
        s_start_fetch(A, w->version, w->n_chunks, w->total_bytes, w->digest.data, 1);
}

/* A verified blob: loaded, checked to be the version it claims, and run if it is newer than
 * what runs or the open lease's. */
static void s_load(actor_t *A, uint64_t version, const uint8_t *blob, size_t len) {
    weights_t *W = &A->weights;
    char why[256];
    uint64_t v = 0, lease_v;
    /* a LoRA version is adapters only: they go onto the base this machine loaded */
    link_busy(A, 1); /* a real model's version takes seconds to unpack */
    policy_t *p = policy_load_onto(W->base, blob, len, &v, why, sizeof why);
    link_busy(A, 0);
    if (!p || v != version) {
        log_warn("weights v%llu unusable: %s", (unsigned long long)version, p ? "version mismatch" : why);
        policy_destroy(&p);
        return;
    }
    /* pi_ref, kept only for a lease with mixture opponents (a second copy of a real model is
     * gigabytes): an algorithm that mixes asks for version 0 again with its first such lease */
    if (v == 0 && work_lease_wants_ref(A)) {
        policy_destroy(&W->ref);
        W->ref = policy_clone(p);
    }
    if (!W->has_policy || v >= W->version || (work_lease_version(A, &lease_v) && v == lease_v)) {
        policy_destroy(&W->policy);
        W->policy = p;
        W->version = v;
        W->has_policy = 1;
        log_info("running weights v%llu", (unsigned long long)v);
    } else {
        policy_destroy(&p);
    }
    work_weights_loaded(A);
}

void weights_on_chunk(actor_t *A, const Spar__WeightsChunk *c) {
    char why[160];
    transfer_fetch_t *f = &A->weights.fetch;
    switch (transfer_fetch_accept(f, c, loop_now(A->loop), why, sizeof why)) {
    case TRANSFER_BAD: wire_count_bad(&A->wire, "learner", why); break;
    case TRANSFER_REFUSED: work_weights_refused(A); break;
    case TRANSFER_COMPLETE: {
        size_t len;
        uint64_t version = f->version;
        uint8_t *blob = transfer_fetch_take(f, &len);
        s_load(A, version, blob, len);
        free(blob);
        break;
    }
    default: break;
    }
}
