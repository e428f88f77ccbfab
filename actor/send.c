/* send — see send.h. Each function fills its message on the stack; wire frames and sends it. */
#include "actor/send.h"

#include <unistd.h>

void send_hello(wire_t *w, void *learner) {
    Spar__Hello h = SPAR__HELLO__INIT;
    h.role = SPAR__ROLE__ROLE_ACTOR;
    h.pid = (uint32_t)getpid();
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    h.host = host;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    (void)wire_send(w, learner, NULL, &env);
}

void send_heartbeat(wire_t *w, void *learner, uint64_t policy_version, uint64_t groups_sent) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_ACTOR;
    hb.policy_version = policy_version;
    hb.bad_messages = w->bad_messages;
    hb.groups_sent = groups_sent;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    (void)wire_send(w, learner, NULL, &env);
}

void send_work_request(wire_t *w, void *learner, uint64_t have_version) {
    Spar__WorkRequest r = SPAR__WORK_REQUEST__INIT;
    r.have_version = have_version;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WORK_REQUEST;
    env.work_request = &r;
    (void)wire_send(w, learner, NULL, &env);
}

void send_weights_fetch(wire_t *w, void *learner, uint64_t version, uint32_t chunk_index) {
    Spar__WeightsFetch f = SPAR__WEIGHTS_FETCH__INIT;
    f.version = version;
    f.chunk_index = chunk_index;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_FETCH;
    env.weights_fetch = &f;
    (void)wire_send(w, learner, NULL, &env);
}

void send_rollout_group(wire_t *w, void *learner, const task_t *t, Spar__Response **responses) {
    const task_judging_t *q = &t->judging;
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
    g.n_opponents = (uint32_t)t->n_opp;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_ROLLOUT_GROUP;
    env.rollout_group = &g;
    (void)wire_send(w, learner, NULL, &env);
}

void send_goodbye(wire_t *w, void *learner, const char *reason) { (void)wire_send_shutdown(w, learner, NULL, reason); }

void send_probe(wire_t *w, void *judge) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_ACTOR;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    (void)wire_send(w, judge, NULL, &env);
}

void send_judge_request(wire_t *w, void *judge, uint64_t request_id, const task_t *t, Spar__Response **responses) {
    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = request_id;
    jr.prompt_id = t->prompt;
    jr.prompt = t->prompt_text;
    jr.responses = responses;
    jr.n_responses = (size_t)t->k;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST;
    env.judge_request = &jr;
    (void)wire_send(w, judge, NULL, &env);
}
