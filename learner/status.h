/* status — the learner's live status for people and tools: RUN_DIR/status.json (rewritten every
 * second: run, state, iteration, peers with role/version/state/throughput, version-lag
 * histogram, judge latency), the same document to `spar monitor` (the learner answers a
 * StatusRequest with status_json and status_recent), and, with learner.http set, an HTTP
 * server (libmicrohttpd) with Prometheus text metrics at /metrics, the document at /status and
 * the recent iterations at /iterations. It reads the service, never changes it; the HTTP thread
 * serves copies the learner thread renders at each tick and never reads the learner's state. */
#ifndef SPAR_STATUS_H
#define SPAR_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define STATUS_RECENT 32

struct learner_service;

typedef struct {
    const char *state;          /* "starting" | "collecting" | "training" | "finished" | "stopped" */
    int64_t next_status_ms;     /* when the next tick is due */
    char *last_line;            /* the last iterations.jsonl line */
    char *recent[STATUS_RECENT]; /* the last iterations.jsonl lines, oldest first */
    int n_recent;
    struct status_http *http;
} status_t;

/* Loads the recent iterations of L's run folder (a resumed run has some), starts the HTTP
 * server when configured, ticks once. Returns 0 or -1 (logged: learner.http cannot be served). */
int status_start(status_t *S, const struct learner_service *L);
void status_stop(status_t *S);
/* Periodic work (every second, and at state changes): status.json, the metrics. */
void status_tick(status_t *S, const struct learner_service *L);
/* A new iterations.jsonl line (shown from the next tick). */
void status_line(status_t *S, const char *line);
/* The last n iteration lines at most (borrowed, oldest first) into lines; returns how many. */
size_t status_recent(const status_t *S, uint32_t n, char *const **lines);
/* The status document (malloc'd JSON text). */
char *status_json(const status_t *S, const struct learner_service *L);
/* The Prometheus text exposition (malloc'd). */
char *status_metrics(const status_t *S, const struct learner_service *L);

#endif
