/* status — the learner's live status for people and tools: RUN_DIR/status.json (rewritten every
 * second: run, state, iteration, peers with role/version/state/throughput, version-lag
 * histogram, judge latency), the same document to `spar monitor` over the control socket
 * (StatusRequest), and, with learner.http set, an HTTP server (libmicrohttpd) with Prometheus
 * text metrics at /metrics, the document at /status and the recent iterations at /iterations.
 * The HTTP thread serves copies the learner thread renders at each tick; it never reads the
 * learner's state. */
#ifndef SPAR_STATUS_H
#define SPAR_STATUS_H

#include "learner/learner_state.h"

/* Loads the recent iterations (a resumed run has some), starts the HTTP server when configured.
 * Returns 0 or -1 (logged: learner.http cannot be served). */
int status_start(learner_t *L);
void status_stop(learner_t *L);
/* Periodic work (every second, and at state changes): status.json, the metrics. */
void status_tick(learner_t *L);
/* A new iterations.jsonl line (shown from the next tick). */
void status_line(learner_t *L, const char *line);
/* Answers a StatusRequest with the document and the last n iteration lines. */
void status_reply(learner_t *L, const wire_peer_t *to, uint32_t n);
/* The status document (malloc'd JSON text). */
char *status_json(learner_t *L);
/* The Prometheus text exposition (malloc'd). */
char *status_metrics(learner_t *L);

#endif
