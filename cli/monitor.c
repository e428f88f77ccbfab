/* monitor — see monitor.h. A frame is rendered into memory and written at once (on a terminal
 * after an ANSI clear, so it does not flicker); then the monitor sleeps --interval seconds.
 * Sources: a run folder (iterations.jsonl read on from where the last frame stopped,
 * status.json re-read every frame) or the learner's control endpoint (a DEALER sends a
 * Heartbeat and a StatusRequest; the Status carries the status.json document and the last
 * iterations). Every field of either document may be missing or null: it shows as "-". */
#include "cli/monitor.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli/args.h"
#include "cli/itertable.h"
#include "common/curve.h"
#include "common/msg.h"
#include "common/util.h"
#include "common/wire_socket.h"

#define MONITOR_TIMEOUT_MS 2000
#define MONITOR_MAX_FRAME (64L << 20) /* a Status with many iterations is large */
#define MONITOR_BAR 40                /* width of the longest lag bar */
#define MONITOR_MAX_LAGS 32           /* lags shown; the rest are summed */

typedef struct {
    const char *target;
    int endpoint, once, n_iter;
    double interval;
    json_t *lines; /* the last n_iter iterations, oldest first */
    /* RUN_DIR: iterations.jsonl is read on from where the last frame stopped */
    char *jsonl, *status_path;
    long offset, line_no;
    char skipped[512]; /* the last line that could not be read, for the frame */
    char note[1024];   /* why this frame has no live status */
    /* ENDPOINT */
    void *ctx, *sock;
    wire_t wire;
    const char *cfg_path, *sets[256]; /* security: --config, --set */
    int n_sets;
    spar_config_t cfg;
    curve_t *curve;
} monitor_t;

static const char s_usage[] =
    "usage: spar monitor RUN_DIR|ENDPOINT [--interval S] [--once] [--iterations N] [--config FILE] [--set key=value]...\n";

static void s_help(void) {
    printf("%s\n"
           "A live view of a run, refreshed every --interval seconds until Ctrl-C: the last\n"
           "iterations (iteration, version, loss, the run's main metrics, lost, samples/s, wall\n"
           "time), the learner's live status (state, iteration, prompts done, each actor's and\n"
           "judge's version, state, last contact, groups and groups/s), the version-lag histogram\n"
           "and the judge latency.\n\n"
           "  RUN_DIR         read RUN_DIR/iterations.jsonl and RUN_DIR/status.json\n"
           "  ENDPOINT        ask the learner at its control endpoint (learner.control,\n"
           "                  tcp://HOST:PORT or ipc://PATH) with a StatusRequest\n"
           "  --interval S    seconds between frames (default 1)\n"
           "  --once          print one frame and exit\n"
           "  --iterations N  how many iterations the table shows (default 10)\n"
           "  --config FILE   ENDPOINT with security.curve true: the monitor is a CURVE client with\n"
           "                  security.key and security.learner_public; --set KEY=VALUE overrides\n\n"
           "Exit status: 0; 1 when ENDPOINT gave no answer within 2 s (with --once); 2 bad\n"
           "arguments or a missing run folder.\n",
           s_usage);
}

/* ---- values: anything may be missing or null -------------------------------------------- */

/* v as text in buf: a number with fmt (NULL: as an integer), a string with control characters
 * replaced, "-" when missing, null or of another type. Returns buf. */
#define VAL(v, fmt) itertable_value((char[64]){0}, 64, (v), (fmt))
#define GET(o, key) json_object_get((o), (key))

/* ---- sources ---------------------------------------------------------------------------- */

static void s_keep(monitor_t *M, json_t *o) {
    json_array_append_new(M->lines, o);
    while (json_array_size(M->lines) > (size_t)M->n_iter) json_array_remove(M->lines, 0);
}

static int s_blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/* Reads the complete lines iterations.jsonl gained since the last frame. A line that is not a
 * JSON object is skipped and named in the frame; a file that shrank is read again from the
 * start. */
static void s_read_new_lines(monitor_t *M) {
    FILE *f = fopen(M->jsonl, "r");
    if (!f) return;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && sb.st_size < M->offset) {
        M->offset = M->line_no = 0;
        json_array_clear(M->lines);
        M->skipped[0] = '\0';
    }
    fseek(f, M->offset, SEEK_SET);
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, f)) > 0 && buf[n - 1] == '\n') { /* not a line being written */
        M->offset += (long)n;
        M->line_no++;
        if (s_blank(buf)) continue;
        json_t *o = json_loads(buf, 0, NULL);
        if (json_is_object(o)) s_keep(M, o);
        else {
            json_decref(o);
            snprintf(M->skipped, sizeof M->skipped, "%s:%ld: not a JSON object; skipped", M->jsonl, M->line_no);
        }
    }
    free(buf);
    fclose(f);
}

/* RUN_DIR/status.json, or NULL with the reason in note. */
static json_t *s_status_file(monitor_t *M, char *note, size_t len) {
    if (!util_file_exists(M->status_path)) {
        snprintf(note, len, "no live status (status.json missing: the learner is not running or is older)");
        return NULL;
    }
    json_error_t err;
    json_t *s = json_load_file(M->status_path, 0, &err);
    if (!json_is_object(s)) {
        snprintf(note, len, "no live status (%s: %s)", M->status_path, s ? "not a JSON object" : err.text);
        json_decref(s);
        return NULL;
    }
    return s;
}

static int s_connect(monitor_t *M) {
    wire_socket_opts_t o = {.label = "spar monitor", .type = ZMQ_DEALER, .endpoint = M->target,
                            .max_frame_bytes = MONITOR_MAX_FRAME, .curve = M->curve, .curve_peer = CURVE_LEARNER};
    return (M->sock = wire_socket_open(M->ctx, &o)) ? 0 : -1;
}

/* The heartbeat tells "nothing there" from "something there that does not answer status". The
 * DEALER queues a frame until the connection is up: one retry covers a send before that. */
static void s_ask(monitor_t *M) {
    msg_heartbeat_t tool = {.role = SPAR__ROLE__ROLE_TOOL};
    if (msg_send_heartbeat(&M->wire, M->sock, NULL, &tool) != 0)
        util_sleep_ms(100), msg_send_heartbeat(&M->wire, M->sock, NULL, &tool);
    if (msg_send_status_request(&M->wire, M->sock, NULL, (uint32_t)M->n_iter) != 0)
        util_sleep_ms(100), msg_send_status_request(&M->wire, M->sock, NULL, (uint32_t)M->n_iter);
}

/* Takes a Status reply: the document (NULL with the reason in note when it is not a JSON
 * object) and its iterations, which replace the table's. */
static json_t *s_take_status(monitor_t *M, const Spar__Status *st, char *note, size_t len) {
    json_array_clear(M->lines);
    int bad = 0;
    for (size_t i = 0; i < st->n_iterations; i++) {
        json_t *o = json_loads(st->iterations[i], 0, NULL);
        if (json_is_object(o)) s_keep(M, o);
        else json_decref(o), bad++;
    }
    M->skipped[0] = '\0';
    if (bad) snprintf(M->skipped, sizeof M->skipped, "%d iteration line(s) of the answer were not JSON objects", bad);
    json_t *s = st->json && *st->json ? json_loads(st->json, 0, NULL) : NULL;
    if (!json_is_object(s)) {
        snprintf(note, len, "no live status (%s answered with a status that is not a JSON object)", M->target);
        json_decref(s);
        return NULL;
    }
    return s;
}

/* Asks the learner at the endpoint. Returns 0 when it answered (the document, or NULL with the
 * reason in note, in *status_out), -1 with the reason in note when nothing came within 2 s. */
static int s_status_endpoint(monitor_t *M, json_t **status_out, char *note, size_t len) {
    *status_out = NULL;
    while (wire_readable(M->sock)) wire_free(wire_recv(&M->wire, M->sock, 0, NULL)); /* late answers */
    s_ask(M);

    int64_t end = util_now_ms() + MONITOR_TIMEOUT_MS;
    int answered = 0, heard = 0;
    Spar__Role role = SPAR__ROLE__ROLE_UNKNOWN;
    while (!answered && !util_stop_requested()) {
        int64_t left = end - util_now_ms();
        zmq_pollitem_t it = {M->sock, 0, ZMQ_POLLIN, 0};
        if (left <= 0) break;
        int rc = zmq_poll(&it, 1, (long)left);
        if (rc < 0 && zmq_errno() == EINTR) continue;
        if (rc <= 0) break;
        Spar__Envelope *in = wire_recv(&M->wire, M->sock, 0, NULL);
        if (in && in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) heard = 1, role = in->heartbeat->role;
        if (in && in->body_case == SPAR__ENVELOPE__BODY_STATUS) {
            *status_out = s_take_status(M, in->status, note, len);
            answered = 1;
        }
        wire_free(in);
    }
    if (answered) return 0;
    if (heard && role == SPAR__ROLE__ROLE_LEARNER)
        snprintf(note, len, "no answer from %s to the status request within %d s (it answers heartbeats as a learner: "
                 "a learner older than spar monitor?)", M->target, MONITOR_TIMEOUT_MS / 1000);
    else if (heard)
        snprintf(note, len, "no answer from %s to the status request within %d s (a %s answered: give the learner's "
                 "control endpoint, learner.control)", M->target, MONITOR_TIMEOUT_MS / 1000,
                 role == SPAR__ROLE__ROLE_JUDGE ? "judge" : "peer that is not the learner");
    else
        snprintf(note, len, "no answer from %s within %d s (is the learner running, and is this its learner.control?)",
                 M->target, MONITOR_TIMEOUT_MS / 1000);
    /* a fresh socket, so the requests queued for a learner not there yet are not all answered later */
    zmq_close(M->sock);
    s_connect(M);
    return -1;
}

/* ---- rendering -------------------------------------------------------------------------- */

static void s_render_table(const monitor_t *M, FILE *out) {
    if (json_array_size(M->lines) == 0) {
        if (M->endpoint) fprintf(out, "no iterations yet\n");
        else fprintf(out, "no iterations yet (%s %s)\n", M->jsonl, util_file_exists(M->jsonl) ? "is empty" : "missing");
        return;
    }
    const itertable_col_t *cols[ITERTABLE_LEAD + ITERTABLE_METRICS + ITERTABLE_TRAIL];
    int n = 0;
    for (int c = 0; c < ITERTABLE_LEAD; c++) cols[n++] = itertable_lead[c];
    for (int c = 0; c < ITERTABLE_METRICS; c++)
        if (itertable_has(M->lines, itertable_metrics[c]->key)) cols[n++] = itertable_metrics[c];
    for (int c = 0; c < ITERTABLE_TRAIL; c++) cols[n++] = itertable_trail[c];
    itertable_header(out, cols, n);
    size_t i;
    json_t *o;
    json_array_foreach(M->lines, i, o) itertable_row(out, cols, n, o);
}

static void s_render_peers(json_t *peers, FILE *out) {
    if (!json_is_array(peers) || json_array_size(peers) == 0) {
        fprintf(out, "peers: %s\n", json_is_array(peers) ? "none" : "-");
        return;
    }
    int w = 4;
    size_t i;
    json_t *p;
    json_array_foreach(peers, i, p) {
        int l = (int)strlen(VAL(GET(p, "id"), NULL));
        w = l > w ? (l < 40 ? l : 40) : w;
    }
    fprintf(out, "  %-*s %-6s %7s %-9s %10s %8s %9s\n", w, "peer", "role", "version", "state", "last seen", "groups",
            "groups/s");
    json_array_foreach(peers, i, p) {
        char seen[64];
        json_t *ls = GET(p, "last_seen_s");
        if (json_is_number(ls)) snprintf(seen, sizeof seen, "%.1f s", json_number_value(ls));
        else snprintf(seen, sizeof seen, "-");
        fprintf(out, "  %-*.*s %-6s %7s %-9s %10s %8s %9s\n", w, w, VAL(GET(p, "id"), NULL), VAL(GET(p, "role"), NULL),
                VAL(GET(p, "version"), NULL), VAL(GET(p, "state"), NULL), seen, VAL(GET(p, "groups"), NULL),
                VAL(GET(p, "groups_per_s"), "%.1f"));
    }
}

/* A duration in seconds for people: 0.4 s, 12 min, 3.5 h, 12 days. */
static const char *s_age(char *buf, size_t len, double s) {
    if (s < 120) snprintf(buf, len, "%.1f s", s);
    else if (s < 7200) snprintf(buf, len, "%.0f min", s / 60);
    else if (s < 172800) snprintf(buf, len, "%.1f h", s / 3600);
    else snprintf(buf, len, "%.0f days", s / 86400);
    return buf;
}

static void s_render_status(json_t *s, FILE *out) {
    fprintf(out, "run %s  %s  %s\n", VAL(GET(s, "run_id"), NULL), VAL(GET(s, "run_dir"), NULL),
            VAL(GET(s, "algorithm"), NULL));
    const char *state = json_string_value(GET(s, "state"));
    fprintf(out, "state %s  iteration %s/%s  version %s  prompts %s/%s  bad messages %s", VAL(GET(s, "state"), NULL),
            VAL(GET(s, "iteration"), NULL), VAL(GET(s, "iterations"), NULL), VAL(GET(s, "version"), NULL),
            VAL(GET(s, "prompts_done"), NULL), VAL(GET(s, "prompts"), NULL), VAL(GET(s, "bad_messages"), NULL));
    json_t *u = GET(s, "updated_unix_ms");
    if (json_is_number(u)) {
        double age = (double)(util_unix_ms() - (int64_t)json_number_value(u)) / 1000.0;
        int over = state && (!strcmp(state, "finished") || !strcmp(state, "stopped"));
        char ago[32];
        fprintf(out, "  updated %s ago%s", s_age(ago, sizeof ago, age),
                age > 10 && !over ? " (stale: is the learner still running?)" : "");
    }
    fputc('\n', out);
    s_render_peers(GET(s, "peers"), out);
}

/* The version-lag histogram as bars, and the judge latency; `from` says where they came from. */
static void s_render_lag(json_t *lag, json_t *lat, const char *from, FILE *out) {
    if (!json_is_array(lag) || json_array_size(lag) == 0) {
        fprintf(out, "version lag%s: -\n", from);
    } else {
        double max = 0, rest = 0;
        size_t i, n = json_array_size(lag);
        json_t *v;
        json_array_foreach(lag, i, v) if (json_is_number(v) && json_number_value(v) > max) max = json_number_value(v);
        fprintf(out, "version lag%s: accepted groups by lag\n", from);
        json_array_foreach(lag, i, v) {
            double c = json_is_number(v) ? json_number_value(v) : 0;
            if (i >= MONITOR_MAX_LAGS) {
                rest += c;
                continue;
            }
            int bar = max > 0 ? (int)lround(MONITOR_BAR * c / max) : 0;
            if (c > 0 && bar == 0) bar = 1;
            char bars[MONITOR_BAR + 1];
            memset(bars, '#', (size_t)bar);
            bars[bar] = '\0';
            fprintf(out, "  lag %-3zu| %-*s %s\n", i, MONITOR_BAR, bars, VAL(v, NULL));
        }
        if (n > MONITOR_MAX_LAGS) fprintf(out, "  lags %d-%zu: %.0f groups\n", MONITOR_MAX_LAGS, n - 1, rest);
    }
    if (json_is_object(lat))
        fprintf(out, "judge latency%s: median %s ms, p99 %s ms\n", from, VAL(GET(lat, "median"), "%.2f"),
                VAL(GET(lat, "p99"), "%.2f"));
    else fprintf(out, "judge latency%s: -\n", from);
}

/* One frame into out; returns 0, or 1 when an endpoint did not answer (the reason in M->note). */
static int s_frame(monitor_t *M, FILE *out) {
    json_t *status = NULL;
    int rc = 0;
    M->note[0] = '\0';
    if (M->endpoint) rc = s_status_endpoint(M, &status, M->note, sizeof M->note) == 0 ? 0 : 1;
    else {
        s_read_new_lines(M);
        status = s_status_file(M, M->note, sizeof M->note);
    }
    char clock[32];
    time_t now = time(NULL);
    strftime(clock, sizeof clock, "%H:%M:%S", localtime(&now));
    fprintf(out, "spar monitor %s  %s\n\n", M->target, clock);
    s_render_table(M, out);
    if (M->skipped[0]) fprintf(out, "(%s)\n", M->skipped);
    fputc('\n', out);
    if (status) s_render_status(status, out);
    else fprintf(out, "%s\n", M->note);
    fputc('\n', out);
    if (status) {
        s_render_lag(GET(status, "version_lag"), GET(status, "judge_latency_ms"), "", out);
    } else if (json_array_size(M->lines) > 0) { /* the last iteration's, which iterations.jsonl holds too */
        json_t *last = json_array_get(M->lines, json_array_size(M->lines) - 1);
        char from[64];
        snprintf(from, sizeof from, " (iteration %s)", VAL(GET(last, "iteration"), NULL));
        s_render_lag(GET(last, "version_lag"), GET(last, "judge_latency_ms"), from, out);
    }
    json_decref(status);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------- */

static int s_parse(int argc, char **argv, monitor_t *M) {
    for (int i = 0; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_help();
            return 0;
        } else if (!strcmp(argv[i], "--once")) {
            M->once = 1;
        } else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
            M->interval = strtod(argv[++i], &end);
            if (*end || !(M->interval > 0 && M->interval <= 3600)) {
                fprintf(stderr, "spar monitor: --interval %s: seconds in (0, 3600] expected\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 100000) {
                fprintf(stderr, "spar monitor: --iterations %s: a whole number in [1, 100000] expected\n", argv[i]);
                return 2;
            }
            M->n_iter = (int)n;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            M->cfg_path = argv[++i];
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc && M->n_sets < 256) {
            M->sets[M->n_sets++] = argv[++i];
        } else if (argv[i][0] != '-' && !M->target) {
            M->target = argv[i];
        } else {
            fprintf(stderr, "spar monitor: unexpected argument '%s'\n%s", argv[i], s_usage);
            return 2;
        }
    }
    if (!M->target) {
        fprintf(stderr, "%s", s_usage);
        return 2;
    }
    return -1;
}

/* Opens the source: the run folder must exist; an endpoint gets a connected DEALER. */
static int s_open(monitor_t *M) {
    M->lines = json_array();
    M->endpoint = strstr(M->target, "://") != NULL;
    if (!M->endpoint) {
        struct stat sb;
        if (stat(M->target, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "spar monitor: %s: no such run folder (or give the learner's control endpoint, "
                            "tcp://HOST:PORT)\n", M->target);
            return 2;
        }
        M->jsonl = xasprintf("%s/iterations.jsonl", M->target);
        M->status_path = xasprintf("%s/status.json", M->target);
        return 0;
    }
    char id[64];
    snprintf(id, sizeof id, "monitor-%d", (int)getpid());
    wire_init(&M->wire, id, MONITOR_MAX_FRAME);
    if (args_tool_config(&M->cfg, "monitor", M->cfg_path, M->sets, M->n_sets, 0) != 0) return 2;
    M->ctx = zmq_ctx_new();
    char err[1024];
    if (!(M->curve = curve_new(M->ctx, &M->cfg, err, sizeof err))) {
        fprintf(stderr, "spar monitor: config error: %s\n", err);
        return 2;
    }
    if (s_connect(M) != 0) return 2; /* wire_socket_open said why */
    return 0;
}

static void s_close(monitor_t *M) {
    if (M->sock) zmq_close(M->sock);
    curve_destroy(&M->curve);
    if (M->ctx) zmq_ctx_term(M->ctx);
    wire_fini(&M->wire);
    json_decref(M->lines);
    free(M->jsonl);
    free(M->status_path);
}

int monitor_main(int argc, char **argv) {
    monitor_t M = {.interval = 1.0, .n_iter = 10};
    int status = s_parse(argc, argv, &M);
    if (status >= 0) return status;
    status = s_open(&M);
    int tty = isatty(STDOUT_FILENO);
    if (!M.once) util_install_stop_signals();
    while (status == 0) {
        char *frame = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&frame, &len);
        int rc = s_frame(&M, mem);
        fclose(mem);
        if (M.once && rc != 0) fprintf(stderr, "spar monitor: %s\n", M.note); /* nothing else to show */
        else {
            if (!M.once) fputs(tty ? "\033[H\033[2J" : "\n", stdout);
            fwrite(frame, 1, len, stdout);
            fflush(stdout);
        }
        free(frame);
        if (M.once) {
            status = rc;
            break;
        }
        for (int64_t end = util_now_ms() + (int64_t)(M.interval * 1000); util_now_ms() < end;)
            if (util_stop_requested()) break;
            else util_sleep_ms(20);
        if (util_stop_requested()) break;
    }
    s_close(&M);
    return status;
}
