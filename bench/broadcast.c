/* broadcast — seconds to deliver a policy of 16 and 64 MiB to 1, 4 and 16 actors, and the
 * GB/s achieved, against raw ZeroMQ on the same transport measured in the same run.
 * spar: a real learner, matrix judge and real `spar actor` processes on ipc://, a tabular policy
 * on random games whose logits (prompts x n, F64) are the size asked. One learner per size runs
 * one iteration more than there are actor counts; phase m measures version m + 1, announced at
 * the end of iteration m + 1 to actors that are all connected and running version m (the
 * phase's newcomers join once version m has reached the earlier actors). The figure is
 * iterations.jsonl's `delivery_ms` of iteration m + 2 when the learner writes it, else the
 * actors' logs (first "fetching weights" to last "running weights"); a SUB socket on the
 * learner's broadcasts sees each announcement.
 * Raw: this process's ROUTER sends the same bytes in the same chunk size to N DEALER child
 * processes that ask for every chunk at once, as actors do. Prints figures; asserts nothing. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bench/bench.h"
#include "common/digest.h"
#include "common/policy.h"
#include "common/util.h"
#include "common/wire.h"

#define USAGE \
    "usage: bench_broadcast [--spar PATH] [--mib 16,64] [--actors 1,4,16] [--n 64] [--chunk BYTES]\n" \
    "                       [--reps R] [--k K] [--lease PROMPTS] [--heartbeat MS]\n" \
    "Seconds to deliver a tabular policy of each size to N real actors (ipc://), against raw\n" \
    "ZeroMQ ROUTER -> N DEALERs with the same bytes and chunk size; medians of R runs.\n" \
    "--actors must not decrease: one learner per size, each phase adds actors.\n"

#define MAX_ACTORS 64
#define MAX_LIST 8

typedef struct {
    const char *spar;
    long mib[MAX_LIST], actors[MAX_LIST];
    int n_mib, n_actors;
    long n, chunk, reps, k, lease, heartbeat;
} opts_t;

/* ---- raw ZeroMQ ------------------------------------------------------------------------- */

/* A DEALER child: says hello, waits for "go", asks for every chunk at once, receives them all,
 * says done. */
static void s_raw_dealer(const char *ep, uint32_t n_chunks) {
    void *ctx = zmq_ctx_new(), *s = bench_socket(ctx, "bench_broadcast", ZMQ_DEALER, ep, 0, NULL);
    if (!s) _exit(1);
    zmq_send(s, "h", 1, 0);
    char go;
    if (zmq_recv(s, &go, 1, 0) < 0) _exit(1);
    for (uint32_t i = 0; i < n_chunks; i++) zmq_send(s, &i, sizeof i, 0);
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (uint32_t got = 0; got < n_chunks; got++)
        if (zmq_msg_recv(&m, s, 0) < 0) _exit(1);
    zmq_msg_close(&m);
    zmq_send(s, "d", 1, 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    _exit(0);
}

/* Seconds from "go" until every DEALER has received all `len` bytes in `chunk`-byte pieces. */
static double s_raw(long actors, size_t len, size_t chunk) {
    char *dir = bench_tmpdir("bcast-raw");
    char *ep = xasprintf("ipc://%s/raw", dir);
    uint32_t n_chunks = (uint32_t)((len + chunk - 1) / chunk);
    void *ctx = zmq_ctx_new(), *s = bench_socket(ctx, "bench_broadcast", ZMQ_ROUTER, ep, 1, NULL);
    if (!s) exit(1);
    uint8_t *blob = xmalloc(len);
    for (size_t i = 0; i < len; i++) blob[i] = (uint8_t)(i * 2654435761u >> 24);
    pid_t pids[MAX_ACTORS];
    for (long a = 0; a < actors; a++)
        if ((pids[a] = fork()) == 0) s_raw_dealer(ep, n_chunks);
    wire_peer_t peers[MAX_ACTORS];
    long hellos = 0, done = 0;
    double t0 = 0, secs = NAN;
    int64_t give_up = util_now_ms() + 120000;
    while (done < actors && util_now_ms() < give_up) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 1000) <= 0) continue;
        wire_peer_t from;
        int n = zmq_recv(s, from.id, sizeof from.id, 0);
        if (n < 0) continue;
        from.len = (size_t)n;
        zmq_msg_t body;
        zmq_msg_init(&body);
        zmq_msg_recv(&body, s, 0);
        size_t blen = zmq_msg_size(&body);
        if (blen == sizeof(uint32_t)) { /* a fetch */
            uint32_t i;
            memcpy(&i, zmq_msg_data(&body), sizeof i);
            size_t off = (size_t)i * chunk, cl = len - off < chunk ? len - off : chunk;
            zmq_send(s, from.id, from.len, ZMQ_SNDMORE);
            zmq_send(s, blob + off, cl, 0); /* copies, as packing a WeightsChunk does */
        } else if (((char *)zmq_msg_data(&body))[0] == 'h') {
            peers[hellos++] = from;
            if (hellos == actors) { /* everyone connected: announce */
                t0 = util_now_s();
                for (long a = 0; a < actors; a++) {
                    zmq_send(s, peers[a].id, peers[a].len, ZMQ_SNDMORE);
                    zmq_send(s, "g", 1, 0);
                }
            }
        } else if (++done == actors) {
            secs = util_now_s() - t0;
        }
        zmq_msg_close(&body);
    }
    for (long a = 0; a < actors; a++) bench_wait(pids[a], 10000, NULL);
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(blob), free(ep);
    bench_rmtree(dir);
    free(dir);
    return secs;
}

/* ---- through spar ----------------------------------------------------------------------- */

/* One phase's version v, delivered to that phase's actors. */
typedef struct {
    double delivery_s;  /* to every actor: the learner's delivery_ms, else from the actors' logs */
    double fetch_med_s; /* per actor: its "fetching v" to its "running v", median over actors */
    const char *source; /* "delivery_ms" or "actor logs" */
} spar_result_t;

/* Milliseconds of the day (UTC) of a log line's "HH:MM:SS.mmm" prefix, or -1. */
static long s_log_ms(const char *line) {
    int h, m, s, ms;
    if (sscanf(line, "%2d:%2d:%2d.%3d", &h, &m, &s, &ms) != 4) return -1;
    return ((h * 60L + m) * 60 + s) * 1000 + ms;
}

/* From one actor's log: when it started fetching and when it ran version v (ms of day, -1 when
 * absent). */
static void s_actor_times(const char *log, int v, long *fetch_ms, long *run_ms) {
    *fetch_ms = *run_ms = -1;
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[1024], fetching[64], running[64];
    snprintf(fetching, sizeof fetching, "fetching weights v%d ", v);
    snprintf(running, sizeof running, "running weights v%d", v);
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (*fetch_ms < 0 && strstr(line, fetching)) *fetch_ms = s_log_ms(line);
        const char *r = strstr(line, running);
        if (*run_ms < 0 && r && r[strlen(running)] == '\0') *run_ms = s_log_ms(line);
    }
    fclose(f);
}

/* Differences of ms-of-day times, across midnight. */
static long s_day_diff(long later, long earlier) {
    long d = later - earlier;
    return d < -43200000 ? d + 86400000 : d;
}

/* Version v in the actors' logs: the first fetch start, the last "running" (ms of day; -1 when
 * an actor never ran it) and the median of each actor's own fetch time. */
static void s_from_logs(char *const *logs, long actors, int v, long *first, long *last, double *fetch_med) {
    double per[MAX_ACTORS];
    int n = 0;
    *first = *last = -1;
    for (long a = 0; a < actors; a++) {
        long f, r;
        s_actor_times(logs[a], v, &f, &r);
        if (r < 0) {
            *last = -1;
            return;
        }
        if (f >= 0 && (*first < 0 || s_day_diff(f, *first) < 0)) *first = f;
        if (*last < 0 || s_day_diff(r, *last) > 0) *last = r;
        if (f >= 0) per[n++] = (double)s_day_diff(r, f) / 1000.0;
    }
    *fetch_med = bench_median(per, n);
}

/* When each version was first announced and each iteration's summary published (unix ms, 0:
 * not seen), as a SUB socket on the learner's publish endpoint sees them. */
#define MAX_SEEN 16
typedef struct {
    int64_t announced[MAX_SEEN], summary[MAX_SEEN];
} seen_t;

/* All of actors[0..n-1] run version v (their logs say so). */
static int s_all_run(char **logs, long n, int v) {
    for (long a = 0; a < n; a++) {
        long f, r;
        s_actor_times(logs[a], v, &f, &r);
        if (r < 0) return 0;
    }
    return 1;
}

/* One learner's run: its private folder, the two configs, the logs and the processes. */
typedef struct {
    const opts_t *o;
    char *dir, *cfg, *acfg, *publish, *llog, *jlog;
    char *logs[MAX_ACTORS];
    pid_t apid[MAX_ACTORS], judge, learner;
    long started; /* actors started so far */
} spar_run_t;

/* The folder, its paths, and the learner's and the actors' configs: one iteration more than
 * there are phases. */
static void s_run_open(spar_run_t *S, const opts_t *o, long prompts) {
    memset(S, 0, sizeof *S);
    S->o = o;
    S->dir = bench_tmpdir("bcast");
    char *dir = S->dir;
    S->cfg = xasprintf("%s/cfg.yaml", dir), S->acfg = xasprintf("%s/actor.yaml", dir);
    S->publish = xasprintf("ipc://%s/pub", dir);
    S->llog = xasprintf("%s/learner.log", dir), S->jlog = xasprintf("%s/judge.log", dir);
    /* The actors' copy differs in task.prompts only: an actor never reads the games, but every spar
     * command builds them all to check the config (cli/args.c) - seconds, and 4 GiB at 64 MiB. */
    const char *fmt = "run:\n  name: broadcast\n  dir: %s/run\n  seed: 1\n  iterations: %d\n"
                      "task:\n  prompts: %ld\n"
                      "game:\n  family: random\n  n: %ld\n"
                      "policy:\n  init: random\n"
                      "algorithm:\n  name: sppo\n"
                      "rollout:\n  samples_per_prompt: %ld\n"
                      "learner:\n  epochs: 1\n  prompts_per_lease: %ld\n  lease_timeout_ms: 600000\n"
                      "  chunk_bytes: %ld\n  control: ipc://%s/ctl\n  publish: %s\n"
                      "judge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n  timeout_ms: 60000\n"
                      "actor:\n  heartbeat_ms: %ld\n  resend_ms: 60000\n";
    for (int c = 0; c < 2; c++) {
        char *yaml = xasprintf(fmt, dir, o->n_actors + 1, c ? 1L : prompts, o->n, o->k, o->lease, o->chunk, dir,
                               S->publish, dir, dir, o->heartbeat);
        bench_write(c ? S->acfg : S->cfg, yaml);
        free(yaml);
    }
}

static void s_run_close(spar_run_t *S) {
    for (long a = 0; a < S->started; a++) free(S->logs[a]);
    free(S->cfg), free(S->acfg), free(S->publish), free(S->llog), free(S->jlog);
    bench_rmtree(S->dir);
    free(S->dir);
}

/* Starts actors until `total` run (actor-0, actor-1, ... each with its own log). */
static void s_start_actors(spar_run_t *S, long total) {
    for (; S->started < total; S->started++) {
        long a = S->started;
        char id[32];
        snprintf(id, sizeof id, "actor-%ld", a);
        S->logs[a] = xasprintf("%s/%s.log", S->dir, id);
        char *argv[] = {(char *)S->o->spar, "actor", "--config", S->acfg, "--id", id, NULL};
        S->apid[a] = bench_spawn(S->logs[a], argv);
    }
}

/* The judge, the learner and the first phase's actors; returns when the learner started. */
static double s_start(spar_run_t *S) {
    char *jargv[] = {(char *)S->o->spar, "judge", "--config", S->cfg, "--id", "judge", NULL};
    char *largv[] = {(char *)S->o->spar, "learner", "--config", S->cfg, "--id", "learner", NULL};
    S->judge = bench_spawn(S->jlog, jargv);
    double t0 = util_now_s();
    S->learner = bench_spawn(S->llog, largv);
    s_start_actors(S, S->o->actors[0]);
    return t0;
}

/* Notes when each broadcast on the SUB socket was first seen. */
static void s_drain_broadcasts(wire_t *w, void *sub, seen_t *seen) {
    Spar__Envelope *in;
    while (wire_readable(sub))
        if ((in = wire_recv(w, sub, 0, NULL))) {
            int64_t now = util_unix_ms();
            if (in->body_case == SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE) {
                uint64_t v = in->weights_available->version;
                if (v < MAX_SEEN && !seen->announced[v]) seen->announced[v] = now;
            } else if (in->body_case == SPAR__ENVELOPE__BODY_ITERATION_SUMMARY) {
                uint64_t i = in->iteration_summary->iteration;
                if (i < MAX_SEEN && !seen->summary[i]) seen->summary[i] = now;
            }
            wire_free(in);
        }
}

/* Watches the learner's broadcasts until it exits (15 minutes at most: then it is killed), and
 * starts each phase's actors on time. Returns the learner's waitpid status, -1 when killed. */
static int s_watch(spar_run_t *S, seen_t *seen) {
    const opts_t *o = S->o;
    memset(seen, 0, sizeof *seen);
    void *ctx = zmq_ctx_new(), *sub = bench_socket(ctx, "bench_broadcast", ZMQ_SUB, S->publish, 0, NULL);
    if (!sub) exit(1);
    wire_t w;
    wire_init(&w, "bench", 1L << 30);
    int phase = 1, st = -1;
    int64_t end = util_now_ms() + 900000, start_at = 0;
    while (util_now_ms() < end) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 20);
        s_drain_broadcasts(&w, sub, seen);
        if (phase < o->n_actors) { /* version `phase` reached the previous phase's actors: the next ones join */
            if (!start_at && s_all_run(S->logs, S->started, phase)) start_at = util_now_ms() + 5 * o->heartbeat;
            if (start_at && util_now_ms() >= start_at) {
                s_start_actors(S, o->actors[phase]);
                phase++;
                start_at = 0;
            }
        }
        int status;
        if (waitpid(S->learner, &status, WNOHANG) == S->learner) {
            st = status;
            break;
        }
    }
    if (st == -1) {
        kill(S->learner, SIGKILL);
        waitpid(S->learner, NULL, 0);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    wire_fini(&w);
    return st;
}

/* The actors end with the learner; the judge is told to. */
static void s_stop(spar_run_t *S) {
    for (long a = 0; a < S->started; a++) bench_wait(S->apid[a], 10000, NULL);
    kill(S->judge, SIGTERM);
    bench_wait(S->judge, 10000, NULL);
}

/* Phase m's figures from iterations.jsonl (`lines`) and the actors' logs; -1 when it has no
 * delivery time. Warns about a newcomer that ran the previous version only after this one was
 * announced (its figure then counts its start). */
static int s_phase_result(const spar_run_t *S, json_t *lines, const seen_t *seen, int m, spar_result_t *r) {
    const opts_t *o = S->o;
    int v = m + 1;
    long n = o->actors[m], first, last;
    s_from_logs(S->logs, n, v, &first, &last, &r->fetch_med_s);
    json_t *d = json_object_get(json_array_get(lines, (size_t)m + 2), "delivery_ms");
    if (json_is_number(d)) {
        r->source = "delivery_ms";
        r->delivery_s = json_number_value(d) / 1000.0;
    } else if (first >= 0 && last >= 0) {
        r->source = "actor logs";
        r->delivery_s = (double)s_day_diff(last, first) / 1000.0;
    }
    /* the phase's newcomers must have run the previous version before this one was announced */
    for (long a = m ? o->actors[m - 1] : n; a < n && seen->announced[v]; a++) {
        long f, ran;
        s_actor_times(S->logs[a], v - 1, &f, &ran);
        if (ran < 0 || s_day_diff(ran, (long)(seen->announced[v] % 86400000)) > 0)
            fprintf(stderr, "broadcast: actor-%ld joined after v%d was announced; its figure counts its start\n", a,
                    v);
    }
    if (!isfinite(r->delivery_s)) {
        fprintf(stderr, "broadcast: no delivery time for v%d (%ld actors)\n", v, n);
        return -1;
    }
    return 0;
}

/* Every phase's figures (each one is filled even when an earlier one failed); 0 or -1. */
static int s_results(const spar_run_t *S, const seen_t *seen, spar_result_t *res) {
    char *jsonl = xasprintf("%s/run/iterations.jsonl", S->dir);
    json_t *lines = bench_read_jsonl(jsonl);
    free(jsonl);
    int rc = 0;
    for (int m = 0; m < S->o->n_actors; m++)
        if (s_phase_result(S, lines, seen, m, &res[m]) != 0) rc = -1;
    json_decref(lines);
    return rc;
}

/* One learner and judge for a policy of `prompts` x n, and phases of o->actors[] actors: phase m
 * measures version m + 1, announced at the end of iteration m + 1 to o->actors[m] actors (its
 * delivery_ms is on line m + 2). The actors of phase m join once version m reached those of
 * phase m - 1, early in iteration m + 1, so they run it before version m + 1 is announced. */
static int s_spar(const opts_t *o, long prompts, spar_result_t *res, double *run_s) {
    for (int m = 0; m < o->n_actors; m++) {
        memset(&res[m], 0, sizeof res[m]);
        res[m].delivery_s = res[m].fetch_med_s = NAN;
        res[m].source = "-";
    }
    spar_run_t S;
    s_run_open(&S, o, prompts);
    double t0 = s_start(&S);
    seen_t seen;
    int st = s_watch(&S, &seen);
    *run_s = util_now_s() - t0;
    s_stop(&S);
    int rc = bench_check_exit(st, S.llog, "broadcast: the learner failed (%ld prompts)\n", prompts);
    if (rc == 0) rc = s_results(&S, &seen, res);
    s_run_close(&S);
    return rc;
}

/* A tabular policy of prompts x n as the learner sends it: the blob's size, and the seconds one
 * actor's checks of it take here (a digest per chunk, one of the whole, then policy_load). */
static size_t s_blob(long prompts, long n, size_t chunk, double *checks_s) {
    policy_t *p = policy_tabular_new((int)prompts, (int)n);
    policy_init(p, INIT_RANDOM, 0.5, 1);
    size_t len = 0;
    uint8_t *blob = policy_serialize(p, 1, &len), d[DIGEST_BYTES];
    policy_destroy(&p);
    double t0 = util_now_s();
    for (size_t off = 0; off < len; off += chunk) digest_compute(blob + off, len - off < chunk ? len - off : chunk, d);
    digest_compute(blob, len, d);
    char why[256];
    policy_t *q = policy_load(blob, len, NULL, why, sizeof why);
    *checks_s = util_now_s() - t0;
    policy_destroy(&q);
    free(blob);
    return len;
}

/* The options from argv; -1 after saying they are bad. */
static int s_parse_opts(int argc, char **argv, opts_t *o) {
    memset(o, 0, sizeof *o);
    o->spar = bench_spar(argc, argv);
    o->n_mib = bench_int_list(bench_arg(argc, argv, "--mib", "16,64"), o->mib, MAX_LIST);
    o->n_actors = bench_int_list(bench_arg(argc, argv, "--actors", "1,4,16"), o->actors, MAX_LIST);
    o->n = atol(bench_arg(argc, argv, "--n", "64"));
    o->chunk = atol(bench_arg(argc, argv, "--chunk", "1048576"));
    o->reps = atol(bench_arg(argc, argv, "--reps", "1"));
    o->k = atol(bench_arg(argc, argv, "--k", "2"));
    o->lease = atol(bench_arg(argc, argv, "--lease", "256"));
    o->heartbeat = atol(bench_arg(argc, argv, "--heartbeat", "100"));
    for (int i = 0; i < o->n_actors; i++)
        if (o->actors[i] < 1 || o->actors[i] > MAX_ACTORS) o->n_actors = 0;
    for (int i = 1; i < o->n_actors; i++)
        if (o->actors[i] < o->actors[i - 1]) o->n_actors = 0; /* phases only add actors */
    if (o->n_mib < 1 || o->n_actors < 1 || o->n < 2 || o->n > 4096 || o->chunk < 1024 || o->reps < 1 ||
        o->reps > 16) {
        fprintf(stderr, "bench_broadcast: bad arguments\n");
        return -1;
    }
    return 0;
}

static void s_print_header(const opts_t *o) {
    printf("broadcast: delivery of policy version 1 to N actors (tabular, random games n=%ld, K=%ld, chunk %ld B)\n"
           "vs raw ZeroMQ ROUTER -> N DEALERs on ipc:// with the same bytes and chunks; median of %ld run(s);\n"
           "load average %.2f at the start\n\n",
           o->n, o->k, o->chunk, o->reps, bench_loadavg());
    printf("%4s %6s %8s %8s %8s %8s %8s %8s %8s  %s\n", "MiB", "actors", "prompts", "spar_s", "GB/s", "raw_s",
           "raw_GB/s", "spar/raw", "fetch_s", "source");
}

/* One policy size's repetitions: spar's phases and raw ZeroMQ for each actor count. */
typedef struct {
    long mib, prompts;
    size_t len;      /* the blob's bytes */
    double checks_s; /* one actor's checks of the blob, here */
    spar_result_t spar[16][MAX_LIST];
    double raw[16][MAX_LIST], run_s[16];
    int ok[16]; /* the repetition's spar run succeeded */
} size_runs_t;

/* Every repetition of one size, raw first; 0, or 1 when a spar run failed. */
static int s_measure_size(const opts_t *o, size_runs_t *z) {
    int status = 0;
    for (long rep = 0; rep < o->reps; rep++) {
        for (int j = 0; j < o->n_actors; j++) z->raw[rep][j] = s_raw(o->actors[j], z->len, (size_t)o->chunk);
        if (s_spar(o, z->prompts, z->spar[rep], &z->run_s[rep]) == 0) z->ok[rep] = 1;
        else status = 1;
    }
    return status;
}

/* The row of actor count j: medians over the successful repetitions; also a summary line. */
static void s_print_row(const opts_t *o, const size_runs_t *z, int j) {
    long N = o->actors[j];
    double sp[16], rw[16], fm[16];
    const char *source = "-";
    int n = 0;
    for (long rep = 0; rep < o->reps; rep++) {
        if (!z->ok[rep]) continue;
        const spar_result_t *r = &z->spar[rep][j];
        sp[n] = r->delivery_s, rw[n] = z->raw[rep][j];
        fm[n] = r->fetch_med_s, source = r->source;
        n++;
    }
    if (!n) return;
    double ms = bench_median(sp, n), mr = bench_median(rw, n);
    double gb = (double)N * (double)z->len / 1e9;
    printf("%4ld %6ld %8ld %8.3f %8.2f %8.3f %8.2f %8.1f %8.3f  %s\n", z->mib, N, z->prompts, ms, gb / ms, mr, gb / mr,
           ms / mr, bench_median(fm, n), source);
    char what[64], fig[64], base[64], ratio[64];
    snprintf(what, sizeof what, "weights, %ld MiB to %ld actor(s)", z->mib, N);
    snprintf(fig, sizeof fig, "%.3f s, %.2f GB/s", ms, gb / ms);
    snprintf(base, sizeof base, "%.3f s, %.2f GB/s raw zmq", mr, gb / mr);
    snprintf(ratio, sizeof ratio, "%.1fx raw time", ms / mr);
    bench_summary("broadcast", what, fig, base, ratio);
}

/* The size's rows, then its run time and the cost of an actor's checks. */
static void s_print_size(const opts_t *o, const size_runs_t *z) {
    for (int j = 0; j < o->n_actors; j++) s_print_row(o, z, j);
    double rs[16];
    int n = 0;
    for (long rep = 0; rep < o->reps; rep++)
        if (z->ok[rep]) rs[n++] = z->run_s[rep];
    printf("%4s (the %ld MiB run: %d iterations, %.1f s; one actor's checks of the blob take %.3f s here)\n", "",
           z->mib, o->n_actors + 1, bench_median(rs, n), z->checks_s);
    fflush(stdout);
}

static void s_print_footer(void) {
    printf("\nspar_s: delivery of the version announced to that many actors (delivery_ms: from the learner\n"
           "setting the version, before serialising it, to every live actor reporting it); raw_s: \"go\" to the\n"
           "last DEALER holding every chunk; GB/s = actors x blob bytes / seconds; spar/raw: time ratio;\n"
           "fetch_s: each actor's \"fetching\"\n"
           "to \"running\", median over actors; an actor's checks: what each actor computes before running a\n"
           "version (BLAKE2b of every chunk and of the blob, then loading it, which checks the data digest\n"
           "again), timed in this process. One learner per size; phase m adds actors once version m has\n"
           "reached the earlier ones and measures version m + 1. Load average %.2f at the end.\n",
           bench_loadavg());
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, USAGE)) return 0;
    opts_t o;
    if (s_parse_opts(argc, argv, &o) != 0) return 2;
    s_print_header(&o);
    int status = 0;
    for (int i = 0; i < o.n_mib; i++) {
        size_runs_t *z = xcalloc(1, sizeof *z);
        z->mib = o.mib[i];
        z->prompts = (o.mib[i] << 20) / (8 * o.n);
        z->len = s_blob(z->prompts, o.n, (size_t)o.chunk, &z->checks_s);
        if (s_measure_size(&o, z) != 0) status = 1;
        s_print_size(&o, z);
        free(z);
    }
    s_print_footer();
    return status;
}
