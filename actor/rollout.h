/* rollout — one prompt of a lease: its K responses (and opponents), where it stands (waiting for a
 * judge, being judged, submitted until acked) and when it is next due. work.c owns a rollout's life
 * and state; judges.c writes its judging part. Also the responses as protobuf messages, which a
 * judge request and a rollout group both carry. Not the lease (lease.h) nor any sending. */
#ifndef SPAR_ACTOR_ROLLOUT_H
#define SPAR_ACTOR_ROLLOUT_H

#include <stdint.h>

#include "common/policy.h"
#include "common/wire.h"

struct actor;

typedef enum { ROLLOUT_GENERATING, ROLLOUT_JUDGING, ROLLOUT_SUBMITTED } rollout_state_t;

/* The judge client's part of a rollout: the request in flight and the verdict. */
typedef struct {
    uint64_t request_id;
    uint64_t judge;         /* id in the judge pool of the judge asked last (0: none yet) */
    int attempts, failures; /* judge requests sent; of them timed out, refused or malformed */
    int64_t sent_ms;        /* when the current judge request went out */
    double latency_ms;      /* of the request that was answered */
    double *P;              /* the judge's K x K matrix, or NULL when it gave rewards */
    double *rewards;        /* the judge's K rewards (a reward model), or NULL */
    char judge_version[128];
} rollout_judging_t;

typedef struct {
    struct actor *actor; /* for its timer */
    uint64_t timer;
    rollout_state_t state;
    int64_t due_ms; /* generating: when to ask a judge; judging: deadline; submitted: re-send time */
    uint32_t prompt;
    char *prompt_text;
    uint64_t iteration, version, lease_id;
    int k; /* responses: the K samples, then n_opp opponents */
    int n_opp;
    policy_sample_t *samples;
    double sample_ms; /* its share of the lease's sampling time */
    rollout_judging_t judging;
} rollout_t;

void rollout_free(rollout_t *t);

/* The rollout's responses as protobuf messages, pointing into the rollout's samples; text is a
 * printable rendering by policy ("a3" for an action). */
typedef struct {
    Spar__Response *rs;
    Spar__Response **rp;
    char **text;
    int k;
} responses_t;

void rollout_responses(const policy_t *policy, const rollout_t *t, responses_t *out);
void responses_free(responses_t *r);

#endif
