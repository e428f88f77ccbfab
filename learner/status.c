/* status — see status.h. */
#include "learner/status.h"

#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/util.h"
#include "learner/service.h"

#define STATUS_EVERY_MS 1000
#define STATUS_MAX_PEERS 256 /* peers listed in status.json, replies and /metrics: their size is bounded */

/* The peers status.json, the status reply and /metrics list, into out (indices into L->peers):
 * those that have not left, at most STATUS_MAX_PEERS: first the live ones that have done work
 * (delivered groups, hold a lease, or a judge in the pool), then the other live ones, then the
 * silent ones, so a flood of peers that only said Hello cannot push the working ones off the
 * list. Returns how many. */
static int s_rank(const learner_service_t *L, const peer_t *p) {
    if (p->silent) return 2;
    int worked = p->groups > 0 || p->judge_ok || leases_holds(&L->leases, p->id);
    return worked ? 0 : 1;
}

static int s_listed_peers(const learner_service_t *L, int out[STATUS_MAX_PEERS]) {
    signed char rank[MAX_PEERS]; /* once per peer: s_rank looks through the leases */
    for (int i = 0; i < L->peers.n_peers; i++)
        rank[i] = L->peers.peers[i].left ? -1 : (signed char)s_rank(L, &L->peers.peers[i]);
    int n = 0;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < L->peers.n_peers && n < STATUS_MAX_PEERS; i++)
            if (rank[i] == r) out[n++] = i;
    return n;
}
#define RECENT STATUS_RECENT

struct status_http {
    struct MHD_Daemon *daemon;
    pthread_mutex_t mu;
    char *metrics, *status, *iterations; /* the last rendering, served by the HTTP thread */
};

/* ---- the document ----------------------------------------------------------------------- */

static json_t *s_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static const char *s_role(Spar__Role r) {
    return r == SPAR__ROLE__ROLE_ACTOR ? "actor" : r == SPAR__ROLE__ROLE_JUDGE ? "judge" : "peer";
}

char *status_json(const status_t *S, const learner_service_t *L) {
    int64_t now = util_now_ms();
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_string(L->net.wire.run_id));
    json_object_set_new(o, "run_dir", json_string(L->files.dir));
    json_object_set_new(o, "updated_unix_ms", json_integer((json_int_t)util_unix_ms()));
    json_object_set_new(o, "state", json_string(S->state ? S->state : "starting"));
    json_object_set_new(o, "iteration", json_integer((json_int_t)L->iteration));
    json_object_set_new(o, "iterations", json_integer(L->cfg->run.iterations));
    json_object_set_new(o, "version", json_integer((json_int_t)L->core.version));
    json_object_set_new(o, "algorithm", json_string(config_name(CFG_NAMES_ALG, L->cfg->algorithm.name)));
    json_object_set_new(o, "prompts_done", json_integer(L->leases.done));
    json_object_set_new(o, "prompts", json_integer(L->cfg->task.prompts));
    json_object_set_new(o, "actors_live", json_integer(peers_live_actors(&L->peers)));
    json_object_set_new(o, "delivery_ms", s_num(L->peers.delivered ? L->peers.delivery_ms : NAN));
    json_t *peers = json_array();
    int listed[STATUS_MAX_PEERS], n_listed = s_listed_peers(L, listed);
    for (int k = 0; k < n_listed; k++) {
        const peer_t *p = &L->peers.peers[listed[k]];
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string(p->id));
        json_object_set_new(e, "role", json_string(s_role(p->role)));
        json_object_set_new(e, "version", json_integer((json_int_t)p->version));
        json_object_set_new(e, "state", json_string(peers_state(&L->peers, &L->leases, p, L->finished)));
        json_object_set_new(e, "last_seen_s", json_real((double)(now - p->last_seen_ms) / 1000));
        json_object_set_new(e, "groups", json_integer((json_int_t)p->groups));
        json_object_set_new(e, "groups_per_s", s_num(p->groups_per_s));
        json_array_append_new(peers, e);
    }
    json_object_set_new(o, "peers", peers);
    json_object_set_new(o, "peers_tracked", json_integer(L->peers.n_peers));
    json_t *lag = json_array();
    for (int i = 0; i < L->stats.n_lag; i++) json_array_append_new(lag, json_integer((json_int_t)L->stats.lag[i]));
    json_object_set_new(o, "version_lag", lag);
    double median, p99;
    iter_stats_latency(&L->stats, &median, &p99);
    json_t *lat = json_null();
    if (isfinite(median)) {
        lat = json_object();
        json_object_set_new(lat, "median", json_real(median));
        json_object_set_new(lat, "p99", json_real(p99));
    }
    json_object_set_new(o, "judge_latency_ms", lat);
    json_object_set_new(o, "bad_messages", json_integer((json_int_t)peers_bad_messages(&L->peers, L->net.wire.bad_messages)));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    return text;
}

/* ---- Prometheus text -------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void s_put(sbuf_t *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        b->buf = xrealloc(b->buf, b->cap);
    }
}

/* A label value with backslash, quote and newline escaped, as the exposition format asks. */
static void s_label(sbuf_t *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') s_put(b, "\\%c", *v);
        else if (*v == '\n') s_put(b, "\\n");
        else s_put(b, "%c", *v);
    }
}

static void s_head(sbuf_t *b, const char *name, const char *type, const char *help) {
    s_put(b, "# HELP spar_%s %s\n# TYPE spar_%s %s\n", name, help, name, type);
}

static void s_value(sbuf_t *b, double v) {
    if (isnan(v)) s_put(b, " NaN\n");
    else if (isinf(v)) s_put(b, v > 0 ? " +Inf\n" : " -Inf\n");
    else s_put(b, " %.17g\n", v);
}

static void s_metric(sbuf_t *b, const char *name, const char *type, const char *help, double v) {
    s_head(b, name, type, help);
    s_put(b, "spar_%s", name);
    s_value(b, v);
}

/* Every number of the last iterations.jsonl line as spar_last_<field> (one level of nesting
 * flattened with _): whatever the run measures, a scraper sees it. */
static void s_last_line(sbuf_t *b, const char *line) {
    json_error_t e;
    json_t *o = line ? json_loads(line, 0, &e) : NULL;
    if (!o) return;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        json_t *items[64];
        char names[64][128];
        int n = 0;
        if (json_is_number(v)) {
            items[n] = v;
            snprintf(names[n++], sizeof names[0], "%s", k);
        } else if (json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) if (json_is_number(v2) && n < 64) {
                items[n] = v2;
                snprintf(names[n++], sizeof names[0], "%s_%s", k, k2);
            }
        }
        for (int i = 0; i < n; i++) {
            char name[160];
            snprintf(name, sizeof name, "last_%s", names[i]);
            for (char *c = name; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))) *c = '_';
            s_metric(b, name, "gauge", "this field of the last iterations.jsonl line", json_number_value(items[i]));
        }
    }
    json_decref(o);
}

char *status_metrics(const status_t *S, const learner_service_t *L) {
    sbuf_t b = {xmalloc(4096), 0, 4096};
    b.buf[0] = '\0';
    s_head(&b, "info", "gauge", "the run: id, algorithm, policy kind, state");
    s_put(&b, "spar_info{run_id=\"");
    s_label(&b, L->net.wire.run_id);
    s_put(&b, "\",algorithm=\"%s\",policy=\"%s\",state=\"%s\"} 1\n", config_name(CFG_NAMES_ALG, L->cfg->algorithm.name),
          config_name(CFG_NAMES_POLICY, L->cfg->policy.kind),
          S->state ? S->state : "starting");
    s_metric(&b, "iteration", "gauge", "the iteration being collected (0 before the first)", (double)L->iteration);
    s_metric(&b, "run_iterations", "gauge", "iterations the run is configured for", (double)L->cfg->run.iterations);
    s_metric(&b, "policy_version", "gauge", "the current policy version", (double)L->core.version);
    s_metric(&b, "prompts_done", "gauge", "prompts of this iteration answered", (double)L->leases.done);
    s_metric(&b, "prompts", "gauge", "prompts per iteration", (double)L->cfg->task.prompts);
    s_metric(&b, "samples_total", "counter", "responses in accepted groups", (double)L->samples_total);
    s_metric(&b, "groups_total", "counter", "judged groups accepted", (double)L->groups_total);
    s_metric(&b, "stale_dropped_total", "counter", "groups refused as too stale", (double)L->stale_total);
    s_metric(&b, "bad_messages_total", "counter", "malformed messages counted and dropped (learner and peers)",
             (double)peers_bad_messages(&L->peers, L->net.wire.bad_messages));
    s_metric(&b, "leases_reissued", "gauge", "prompts of expired leases re-queued this iteration", (double)L->leases.reissued);
    s_metric(&b, "weights_delivery_ms", "gauge", "ms until every live actor ran the current version (NaN: not yet)",
             L->peers.delivered ? L->peers.delivery_ms : NAN);
    s_metric(&b, "actors_live", "gauge", "actors heard from recently", (double)peers_live_actors(&L->peers));
    double median, p99;
    iter_stats_latency(&L->stats, &median, &p99);
    s_head(&b, "judge_latency_ms", "gauge", "judge latency of this iteration's accepted groups");
    s_put(&b, "spar_judge_latency_ms{quantile=\"0.5\"}");
    s_value(&b, median);
    s_put(&b, "spar_judge_latency_ms{quantile=\"0.99\"}");
    s_value(&b, p99);
    s_head(&b, "version_lag_groups", "gauge", "this iteration's accepted groups by version lag");
    for (int i = 0; i < L->stats.n_lag; i++) s_put(&b, "spar_version_lag_groups{lag=\"%d\"} %llu\n", i, (unsigned long long)L->stats.lag[i]);
    int listed[STATUS_MAX_PEERS], n_listed = s_listed_peers(L, listed);
    if (n_listed) {
        s_head(&b, "peer_version", "gauge", "the policy version each peer reports running");
        for (int k = 0; k < n_listed; k++) {
            const peer_t *p = &L->peers.peers[listed[k]];
            s_put(&b, "spar_peer_version{peer=\"");
            s_label(&b, p->id);
            s_put(&b, "\",role=\"%s\",state=\"%s\"} %llu\n", s_role(p->role), peers_state(&L->peers, &L->leases, p, L->finished), (unsigned long long)p->version);
        }
        s_head(&b, "peer_groups_total", "counter", "groups accepted from each peer");
        for (int k = 0; k < n_listed; k++) {
            const peer_t *p = &L->peers.peers[listed[k]];
            s_put(&b, "spar_peer_groups_total{peer=\"");
            s_label(&b, p->id);
            s_put(&b, "\"} %llu\n", (unsigned long long)p->groups);
        }
    }
    s_last_line(&b, S->last_line);
    return b.buf;
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static enum MHD_Result s_serve(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    struct status_http *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return MHD_NO;
    const char *type = "text/plain; charset=utf-8";
    char *body = NULL;
    unsigned code = MHD_HTTP_OK;
    pthread_mutex_lock(&h->mu);
    if (!strcmp(url, "/metrics")) {
        body = xstrdup(h->metrics ? h->metrics : "");
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (!strcmp(url, "/status")) {
        body = xstrdup(h->status ? h->status : "{}");
        type = "application/json";
    } else if (!strcmp(url, "/iterations")) {
        body = xstrdup(h->iterations ? h->iterations : "");
        type = "application/x-ndjson";
    } else if (!strcmp(url, "/")) {
        body = xstrdup("spar learner: /metrics (Prometheus), /status (JSON), /iterations (JSON lines)\n");
    } else {
        body = xstrdup("not found: try /metrics, /status or /iterations\n");
        code = MHD_HTTP_NOT_FOUND;
    }
    pthread_mutex_unlock(&h->mu);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

/* HOST:PORT to an address to bind (HOST may be a name, an IPv4 address, or * / empty for all). */
static int s_address(const char *spec, struct sockaddr_storage *out, socklen_t *len) {
    const char *colon = strrchr(spec, ':');
    if (!colon || !colon[1]) return -1;
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int any = !host[0] || !strcmp(host, "*");
    if (getaddrinfo(any ? NULL : host, colon + 1, &hints, &res) != 0 || !res) return -1;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static char *s_join_recent(const status_t *S) {
    size_t n = 1;
    for (int i = 0; i < S->n_recent; i++) n += strlen(S->recent[i]) + 1;
    char *out = xmalloc(n), *p = out;
    for (int i = 0; i < S->n_recent; i++) p += sprintf(p, "%s\n", S->recent[i]);
    *p = '\0';
    return out;
}

/* ---- the learner's side ----------------------------------------------------------------- */

static void s_remember(status_t *S, const char *line) {
    if (S->n_recent == RECENT) {
        free(S->recent[0]);
        memmove(S->recent, S->recent + 1, sizeof(char *) * (RECENT - 1));
        S->n_recent--;
    }
    S->recent[S->n_recent++] = xstrdup(line);
    free(S->last_line);
    S->last_line = xstrdup(line);
}

int status_start(status_t *S, const learner_service_t *L) {
    char *path = xasprintf("%s/iterations.jsonl", L->files.dir);
    FILE *f = fopen(path, "r");
    free(path);
    if (f) { /* a resumed run shows its earlier iterations */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] == '\n') line[n - 1] = '\0';
            if (line[0]) s_remember(S, line);
        }
        free(line);
        fclose(f);
    }
    const char *spec = L->cfg->learner.http;
    if (spec[0]) {
        struct sockaddr_storage addr;
        socklen_t alen;
        if (s_address(spec, &addr, &alen) != 0) {
            log_error("learner.http %s: not a HOST:PORT this machine can bind", spec);
            return -1;
        }
        struct status_http *h = xcalloc(1, sizeof *h);
        pthread_mutex_init(&h->mu, NULL);
        h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, s_serve, h, MHD_OPTION_SOCK_ADDR,
                                     (struct sockaddr *)&addr, MHD_OPTION_END);
        if (!h->daemon) {
            log_error("learner.http %s: cannot serve HTTP there (port in use?)", spec);
            pthread_mutex_destroy(&h->mu);
            free(h);
            return -1;
        }
        S->http = h;
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
        log_info("metrics at http://%s/metrics (port %u), status at /status", spec, info ? info->port : 0);
    }
    status_tick(S, L);
    return 0;
}

void status_stop(status_t *S) {
    if (S->http) {
        MHD_stop_daemon(S->http->daemon);
        pthread_mutex_destroy(&S->http->mu);
        free(S->http->metrics);
        free(S->http->status);
        free(S->http->iterations);
        free(S->http);
        S->http = NULL;
    }
    for (int i = 0; i < S->n_recent; i++) free(S->recent[i]);
    S->n_recent = 0;
    free(S->last_line);
    S->last_line = NULL;
}

void status_tick(status_t *S, const learner_service_t *L) {
    S->next_status_ms = util_now_ms() + STATUS_EVERY_MS;
    char *doc = status_json(S, L);
    char *path = xasprintf("%s/status.json", L->files.dir);
    size_t n = strlen(doc);
    doc[n] = '\n'; /* written with its newline; the string keeps its terminator below */
    int rc = util_write_replace(path, doc, n + 1); /* rewritten every second: no fsync */
    doc[n] = '\0';
    if (rc != 0) log_warn("cannot write %s: %s", path, strerror(-rc));
    free(path);
    if (S->http) {
        char *metrics = status_metrics(S, L), *its = s_join_recent(S);
        pthread_mutex_lock(&S->http->mu);
        free(S->http->metrics);
        free(S->http->status);
        free(S->http->iterations);
        S->http->metrics = metrics;
        S->http->status = doc;
        S->http->iterations = its;
        pthread_mutex_unlock(&S->http->mu);
    } else {
        free(doc);
    }
}

void status_line(status_t *S, const char *line) { s_remember(S, line); }

size_t status_recent(const status_t *S, uint32_t n, char *const **lines) {
    size_t k = n < (uint32_t)S->n_recent ? n : (size_t)S->n_recent; /* any count a peer asks for */
    *lines = S->recent + ((size_t)S->n_recent - k);
    return k;
}
