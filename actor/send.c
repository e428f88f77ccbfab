/* send — see send.h. Each function maps the actor's state onto a message; common/msg sends it. */
#include "actor/send.h"

#include <unistd.h>

#include "common/msg.h"

void send_hello(wire_t *w, void *learner) {
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    (void)msg_send_hello(w, learner, NULL, SPAR__ROLE__ROLE_ACTOR, host, (uint32_t)getpid(), NULL);
}

void send_heartbeat(wire_t *w, void *learner, uint64_t policy_version, uint64_t groups_sent) {
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_ACTOR, .policy_version = policy_version,
                          .bad_messages = w->bad_messages, .groups_sent = groups_sent};
    (void)msg_send_heartbeat(w, learner, NULL, &hb);
}

void send_work_request(wire_t *w, void *learner, uint64_t have_version) {
    (void)msg_send_work_request(w, learner, NULL, have_version, 0);
}

void send_weights_fetch(wire_t *w, void *learner, uint64_t version, uint32_t chunk_index) {
    (void)msg_send_weights_fetch(w, learner, NULL, version, chunk_index);
}

void send_rollout_group(wire_t *w, void *learner, const rollout_t *t, Spar__Response **responses) {
    const rollout_judging_t *q = &t->judging;
    Spar__RolloutGroup g = SPAR__ROLLOUT_GROUP__INIT;
    g.lease_id = t->lease_id;
    g.iteration = t->iteration;
    g.prompt_id = t->prompt;
    g.policy_version = t->version;
    g.prompt = t->prompt_text;
    g.responses = responses;
    g.n_responses = (size_t)t->k;
    if (q->P) {
        g.preference = q->P;
        g.n_preference = (size_t)t->k * t->k;
    } else {
        g.rewards = q->rewards;
        g.n_rewards = (size_t)t->k;
    }
    g.judge_version = (char *)q->judge_version;
    g.actor_id = w->sender_id;
    g.judge_attempts = (uint32_t)q->attempts;
    g.judge_latency_ms = q->latency_ms;
    g.judge_failures = (uint32_t)q->failures;
    g.sample_ms = t->sample_ms;
    g.n_opponents = (uint32_t)t->n_opp;
    (void)msg_send_rollout_group(w, learner, NULL, &g);
}

void send_goodbye(wire_t *w, void *learner, const char *reason) { (void)msg_send_shutdown(w, learner, NULL, reason); }

void send_probe(wire_t *w, void *judge) {
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_ACTOR};
    (void)msg_send_heartbeat(w, judge, NULL, &hb);
}

void send_judge_request(wire_t *w, void *judge, uint64_t request_id, const rollout_t *t, Spar__Response **responses) {
    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = request_id;
    jr.prompt_id = t->prompt;
    jr.prompt = t->prompt_text;
    jr.responses = responses;
    jr.n_responses = (size_t)t->k;
    (void)msg_send_judge_request(w, judge, NULL, &jr);
}
