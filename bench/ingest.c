/* ingest — how many judged groups per second one real `spar learner` admits, against the raw
 * ZeroMQ message rate of messages of the same sizes on the same transport (ipc), measured in
 * the same run. The load is this process acting as N fake actors on one thread, each as a real
 * actor behaves towards the learner: Hello, WorkRequest, then for every WorkGrant one
 * RolloutGroup per granted prompt (K responses valid for the tabular policy, the game's K x K
 * preference matrix), then the next WorkRequest at once; accepted acks are counted. The learner
 * trains trivially (tabular, learner.epochs 1) on many prompts per iteration. The baseline is a
 * ROUTER child process answering each message of a group's size with one of an ack's size, for
 * the same N DEALERs, each keeping as many messages in flight as a lease holds.
 * Prints figures; asserts nothing. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bench/bench.h"
#include "common/config.h"
#include "common/game.h"
#include "common/msg.h"
#include "common/util.h"

#define USAGE \
    "usage: bench_ingest [--spar PATH] [--actors N] [--lease PROMPTS] [--k 8,128] [--prompts 16384,2048]\n" \
    "                    [--iterations I] [--reps R] [--n ACTIONS]\n" \
    "Groups/s one `spar learner` admits from N fake actors (ipc://), against raw ZeroMQ\n" \
    "ROUTER/DEALER messages of the same sizes; medians of R interleaved runs.\n"

#define MAX_FAKES 256
#define MAX_K 8

typedef struct {
    const char *spar;
    long actors, lease, iterations, reps, n;
    long ks[MAX_K], prompts[MAX_K];
    int n_k;
} opts_t;

/* One fake actor: a DEALER to the learner and where it is in the exchange. */
typedef struct {
    char id[32];
    void *sock;
    wire_t wire;
    int welcomed, outstanding, done;
    int64_t hello_at, request_at;
    uint64_t lease_id;
} fake_t;

typedef struct {
    uint64_t accepted, duplicate, stale, rejected;
    double t_first, t_last; /* first grant with prompts, last accepted ack */
    double group_bytes;     /* mean packed size of the groups sent */
    uint64_t groups_sent;
} counts_t;

/* A group's parts, refilled for each prompt: K responses y_i = (prompt + i) mod n, and P[i][j]
 * = the game's P(y_i > y_j), as the matrix judge would answer. */
typedef struct {
    long k, n;
    uint32_t *tokens;
    float *token_lp;
    char (*text)[16];
    Spar__Response *rs;
    Spar__Response **rp;
    double *P;
} group_tpl_t;

static void s_tpl_init(group_tpl_t *t, long k, long n) {
    t->k = k;
    t->n = n;
    t->tokens = xcalloc((size_t)k, sizeof *t->tokens);
    t->token_lp = xcalloc((size_t)k, sizeof *t->token_lp);
    t->text = xcalloc((size_t)k, sizeof *t->text);
    t->rs = xcalloc((size_t)k, sizeof *t->rs);
    t->rp = xcalloc((size_t)k, sizeof *t->rp);
    t->P = xcalloc((size_t)(k * k), sizeof *t->P);
    for (long i = 0; i < k; i++) {
        spar__response__init(&t->rs[i]);
        t->rs[i].tokens = &t->tokens[i];
        t->rs[i].n_tokens = 1;
        t->rs[i].token_logprobs = &t->token_lp[i];
        t->rs[i].n_token_logprobs = 1;
        t->rs[i].logprob = -log((double)n); /* what a uniform policy gives it */
        t->token_lp[i] = (float)t->rs[i].logprob;
        t->rs[i].text = t->text[i];
        t->rp[i] = &t->rs[i];
    }
}

static void s_tpl_free(group_tpl_t *t) {
    free(t->tokens), free(t->token_lp), free(t->text), free(t->rs), free(t->rp), free(t->P);
}

static void s_tpl_fill(group_tpl_t *t, const game_set_t *g, uint32_t prompt) {
    const double *G = game_matrix(g, (int)prompt);
    for (long i = 0; i < t->k; i++) {
        t->tokens[i] = (uint32_t)((prompt + (uint64_t)i) % (uint64_t)t->n);
        snprintf(t->text[i], sizeof t->text[i], "a%u", t->tokens[i]);
    }
    for (long i = 0; i < t->k; i++)
        for (long j = 0; j < t->k; j++) t->P[i * t->k + j] = G[t->tokens[i] * t->n + t->tokens[j]];
}

/* ---- the fake actors -------------------------------------------------------------------- */

static void s_send_hello(fake_t *f) {
    msg_send_hello(&f->wire, f->sock, NULL, SPAR__ROLE__ROLE_ACTOR, "bench", (uint32_t)getpid(), NULL);
    f->hello_at = util_now_ms() + 200;
}

static void s_send_request(fake_t *f) {
    msg_send_work_request(&f->wire, f->sock, NULL, 0, 0);
    f->outstanding = 1;
    f->request_at = util_now_ms() + 2000; /* asked again if no grant comes, as an actor does */
}

/* Every prompt of the grant answered at once, then the next request: what a real actor does
 * once its lease is judged (it asks for work as soon as all its groups are submitted). */
static void s_on_grant(fake_t *f, const Spar__WorkGrant *g, group_tpl_t *tpl, const game_set_t *games, counts_t *c) {
    f->outstanding = 0;
    if (g->n_prompt_ids == 0) {
        f->request_at = util_now_ms() + (g->retry_ms ? g->retry_ms : 50);
        return;
    }
    if (g->lease_id == f->lease_id) return; /* the same lease again */
    f->lease_id = g->lease_id;
    if (c->t_first == 0) c->t_first = util_now_s();
    for (size_t p = 0; p < g->n_prompt_ids; p++) {
        s_tpl_fill(tpl, games, g->prompt_ids[p]);
        char prompt[32];
        snprintf(prompt, sizeof prompt, "game-%u", g->prompt_ids[p]);
        Spar__RolloutGroup rg = SPAR__ROLLOUT_GROUP__INIT;
        rg.lease_id = g->lease_id;
        rg.iteration = g->iteration;
        rg.prompt_id = g->prompt_ids[p];
        rg.policy_version = g->policy_version;
        rg.prompt = prompt;
        rg.responses = tpl->rp;
        rg.n_responses = (size_t)tpl->k;
        rg.preference = tpl->P;
        rg.n_preference = (size_t)(tpl->k * tpl->k);
        rg.judge_version = "matrix-cyclic-0123456789ab";
        rg.actor_id = f->wire.sender_id;
        rg.judge_attempts = 1;
        rg.judge_latency_ms = 1;
        Spar__Envelope env = SPAR__ENVELOPE__INIT; /* kept: its packed size is counted */
        msg_envelope(&env, SPAR__ENVELOPE__BODY_ROLLOUT_GROUP, &rg);
        wire_send(&f->wire, f->sock, NULL, &env);
        c->group_bytes += (double)spar__envelope__get_packed_size(&env);
        c->groups_sent++;
    }
    s_send_request(f);
}

static void s_on_message(fake_t *f, Spar__Envelope *in, group_tpl_t *tpl, const game_set_t *games, counts_t *c) {
    switch (in->body_case) {
    case SPAR__ENVELOPE__BODY_WELCOME:
        f->welcomed = 1;
        snprintf(f->wire.run_id, sizeof f->wire.run_id, "%s", in->welcome->run_id);
        f->request_at = util_now_ms();
        break;
    case SPAR__ENVELOPE__BODY_WORK_GRANT: s_on_grant(f, in->work_grant, tpl, games, c); break;
    case SPAR__ENVELOPE__BODY_ROLLOUT_ACK:
        switch (in->rollout_ack->status) {
        case SPAR__ACK_STATUS__ACK_ACCEPTED:
            c->accepted++;
            c->t_last = util_now_s();
            break;
        case SPAR__ACK_STATUS__ACK_DUPLICATE: c->duplicate++; break;
        case SPAR__ACK_STATUS__ACK_STALE: c->stale++; break;
        default: c->rejected++;
        }
        break;
    case SPAR__ENVELOPE__BODY_SHUTDOWN: f->done = 1; break;
    default: break;
    }
}

/* Drives the fake actors until every one is told to stop or the learner exits (its status in
 * learner_status, else -2), for 10 minutes at most. */
static void s_drive(fake_t *F, int n, pid_t learner, group_tpl_t *tpl, const game_set_t *games, counts_t *c,
                    int *learner_status, double *learner_cpu) {
    zmq_pollitem_t items[MAX_FAKES];
    for (int i = 0; i < n; i++) items[i] = (zmq_pollitem_t){F[i].sock, 0, ZMQ_POLLIN, 0};
    *learner_status = -2;
    int64_t give_up = util_now_ms() + 600000;
    while (util_now_ms() < give_up) {
        int64_t now = util_now_ms(), next = now + 50;
        int active = 0;
        for (int i = 0; i < n; i++) {
            fake_t *f = &F[i];
            if (f->done) continue;
            active++;
            if (!f->welcomed) {
                if (now >= f->hello_at) s_send_hello(f);
                if (f->hello_at < next) next = f->hello_at;
            } else {
                if (now >= f->request_at) s_send_request(f);
                if (f->request_at < next) next = f->request_at;
            }
        }
        if (!active) break;
        zmq_poll(items, n, next > now ? (long)(next - now) : 0);
        for (int i = 0; i < n; i++)
            while (wire_readable(F[i].sock)) {
                Spar__Envelope *in = wire_recv(&F[i].wire, F[i].sock, 0, NULL);
                if (!in) continue;
                s_on_message(&F[i], in, tpl, games, c);
                wire_free(in);
            }
        struct rusage ru;
        int st;
        if (wait4(learner, &st, WNOHANG, &ru) == learner) {
            *learner_status = st;
            *learner_cpu = bench_cpu(&ru);
            break;
        }
    }
}

/* ---- one measurement through the learner ------------------------------------------------ */

typedef struct {
    double rate_wall;    /* accepted groups / (last accepted ack - first grant) */
    double rate_collect; /* median over iterations of the learner's own samples_per_s / K */
    double group_bytes, learner_cpu, gen_cpu, wall;
    uint64_t accepted, not_accepted;
} learner_result_t;

static char *s_config_text(const char *dir, const opts_t *o, long k, long prompts) {
    return xasprintf("run:\n  name: ingest\n  dir: %s/run\n  seed: 1\n  iterations: %ld\n"
                     "task:\n  prompts: %ld\n"
                     "game:\n  family: cyclic\n  n: %ld\n"
                     "policy:\n  init: random\n"
                     "algorithm:\n  name: sppo\n"
                     "rollout:\n  samples_per_prompt: %ld\n"
                     "learner:\n  epochs: 1\n  prompts_per_lease: %ld\n  lease_timeout_ms: 600000\n"
                     "  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n",
                     dir, o->iterations, prompts, o->n, k, o->lease, dir, dir);
}

/* Writes the learner's config into dir and loads it as the learner will, with its games (the
 * fakes answer from their matrices); -1 after saying why. */
static int s_load_config(const opts_t *o, const char *dir, const char *cfg_path, long k, long prompts,
                         spar_config_t *cfg, game_set_t *games) {
    char *text = s_config_text(dir, o, k, prompts);
    bench_write(cfg_path, text);
    free(text);
    config_defaults(cfg);
    char err[512];
    if (config_load_file(cfg, cfg_path, err, sizeof err) != 0 || config_validate(cfg, err, sizeof err) != 0 ||
        game_set_build(games, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "ingest: %s\n", err);
        return -1;
    }
    return 0;
}

/* The fake actors, each a DEALER to the learner's control endpoint under its own id. */
static fake_t *s_fakes_open(void *ctx, const opts_t *o, const spar_config_t *cfg) {
    fake_t *F = xcalloc((size_t)o->actors, sizeof *F);
    for (long i = 0; i < o->actors; i++) {
        fake_t *f = &F[i];
        snprintf(f->id, sizeof f->id, "fake-%ld.%d", i, (int)getpid());
        wire_init(&f->wire, f->id, cfg->wire.max_frame_bytes);
        if (!(f->sock = bench_socket(ctx, "bench_ingest", ZMQ_DEALER, cfg->learner.control, 0, f->id))) exit(1);
    }
    return F;
}

static void s_fakes_close(fake_t *F, long n) {
    for (long i = 0; i < n; i++) {
        zmq_close(F[i].sock);
        wire_fini(&F[i].wire);
    }
    free(F);
}

/* Starts the learner and drives the fakes against it until it ends; returns its waitpid
 * status (-1: it did not end in time) and fills c and r's wall and CPU figures. */
static int s_measure(const opts_t *o, long k, const char *cfg_path, const char *log, const spar_config_t *cfg,
                     const game_set_t *games, counts_t *c, learner_result_t *r) {
    char *argv[] = {(char *)o->spar, "learner", "--config", (char *)cfg_path, "--id", "learner", NULL};
    double t0 = util_now_s(), cpu0 = bench_self_cpu();
    pid_t pid = bench_spawn(log, argv);
    void *ctx = zmq_ctx_new();
    fake_t *F = s_fakes_open(ctx, o, cfg);
    group_tpl_t tpl;
    s_tpl_init(&tpl, k, o->n);
    int st;
    s_drive(F, (int)o->actors, pid, &tpl, games, c, &st, &r->learner_cpu);
    if (st == -2) st = bench_wait(pid, 30000, &r->learner_cpu); /* told everyone; let it finish */
    r->wall = util_now_s() - t0;
    r->gen_cpu = bench_self_cpu() - cpu0;
    s_fakes_close(F, o->actors);
    zmq_ctx_term(ctx);
    s_tpl_free(&tpl);
    return st;
}

/* The acks and rates of a successful run; says so when not every group was accepted. */
static void s_tally(const opts_t *o, long k, long prompts, const counts_t *c, learner_result_t *r) {
    r->accepted = c->accepted;
    r->not_accepted = c->duplicate + c->stale + c->rejected;
    if (r->accepted != (uint64_t)(prompts * o->iterations) || r->not_accepted)
        fprintf(stderr, "ingest: K=%ld: %llu groups accepted of %ld; %llu duplicate, %llu stale, %llu rejected\n", k,
                (unsigned long long)r->accepted, prompts * o->iterations, (unsigned long long)c->duplicate,
                (unsigned long long)c->stale, (unsigned long long)c->rejected);
    r->rate_wall = c->t_last > c->t_first ? (double)c->accepted / (c->t_last - c->t_first) : NAN;
    r->group_bytes = c->groups_sent ? c->group_bytes / (double)c->groups_sent : NAN;
}

/* The learner's own rate: the median over iterations.jsonl's lines after the first of
 * samples_per_s / K. */
static double s_collect_rate(const char *dir, long k) {
    char *jsonl = xasprintf("%s/run/iterations.jsonl", dir);
    json_t *lines = bench_read_jsonl(jsonl);
    free(jsonl);
    double rates[1024];
    int nr = 0;
    for (size_t i = 1; lines && i < json_array_size(lines) && nr < 1024; i++) {
        json_t *v = json_object_get(json_array_get(lines, i), "samples_per_s");
        if (json_is_number(v)) rates[nr++] = json_number_value(v) / (double)k;
    }
    json_decref(lines);
    return bench_median(rates, nr);
}

/* One learner of groups of K for `prompts` prompts per iteration, fed by the fake actors. */
static int s_run_learner(const opts_t *o, long k, long prompts, learner_result_t *r) {
    memset(r, 0, sizeof *r);
    char *dir = bench_tmpdir("ingest");
    char *cfg_path = xasprintf("%s/cfg.yaml", dir), *log = xasprintf("%s/learner.log", dir);
    spar_config_t cfg;
    game_set_t games = {0};
    counts_t c = {0};
    int rc = s_load_config(o, dir, cfg_path, k, prompts, &cfg, &games);
    if (rc == 0) {
        int st = s_measure(o, k, cfg_path, log, &cfg, &games, &c, r);
        rc = bench_check_exit(st, log, "ingest: the learner failed (K=%ld)\n", k);
    }
    if (rc == 0) {
        s_tally(o, k, prompts, &c, r);
        r->rate_collect = s_collect_rate(dir, k);
    }
    game_set_free(&games);
    free(cfg_path), free(log);
    bench_rmtree(dir);
    free(dir);
    return rc;
}

/* ---- the raw ZeroMQ baseline ------------------------------------------------------------ */

/* The child: a ROUTER answering every message with `ack_bytes` bytes, until killed. */
static void s_raw_server(const char *endpoint, size_t ack_bytes) {
    void *ctx = zmq_ctx_new(), *s = bench_socket(ctx, "bench_ingest", ZMQ_ROUTER, endpoint, 1, NULL);
    if (!s) _exit(1);
    char *ack = xcalloc(ack_bytes, 1);
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    for (;;) {
        if (zmq_msg_recv(&id, s, 0) < 0 || zmq_msg_recv(&body, s, 0) < 0) continue;
        zmq_msg_send(&id, s, ZMQ_SNDMORE);
        zmq_send(s, ack, ack_bytes, 0);
        zmq_msg_init(&id);
    }
}

/* Messages per second: `total` messages of group_bytes from n DEALERs, each with up to `window`
 * in flight, each answered with ack_bytes. server_cpu: the ROUTER process's CPU seconds. */
static double s_run_raw(long n, long window, long total, size_t group_bytes, size_t ack_bytes, double *server_cpu) {
    char *dir = bench_tmpdir("raw");
    char *ep = xasprintf("ipc://%s/raw", dir);
    pid_t pid = fork();
    if (pid == 0) {
        s_raw_server(ep, ack_bytes);
        _exit(0);
    }
    void *ctx = zmq_ctx_new();
    void **socks = xcalloc((size_t)n, sizeof *socks);
    long *sent = xcalloc((size_t)n, sizeof *sent), *got = xcalloc((size_t)n, sizeof *got);
    zmq_pollitem_t *items = xcalloc((size_t)n, sizeof *items);
    char *buf = xcalloc(group_bytes, 1);
    long quota = total / n;
    for (long i = 0; i < n; i++) {
        if (!(socks[i] = bench_socket(ctx, "bench_ingest", ZMQ_DEALER, ep, 0, NULL))) exit(1);
        items[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
    }
    /* one round trip each before timing, so connecting is not counted */
    for (long i = 0; i < n; i++) zmq_send(socks[i], buf, group_bytes, 0);
    for (long i = 0; i < n; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, socks[i], 0);
        zmq_msg_close(&m);
    }
    double t0 = util_now_s();
    for (long i = 0; i < n; i++)
        for (; sent[i] < window && sent[i] < quota; sent[i]++) zmq_send(socks[i], buf, group_bytes, 0);
    long done = 0;
    while (done < n) {
        zmq_poll(items, (int)n, 1000);
        for (long i = 0; i < n; i++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, socks[i], ZMQ_DONTWAIT) >= 0) {
                if (++got[i] == quota) done++;
                if (sent[i] < quota) {
                    zmq_send(socks[i], buf, group_bytes, 0);
                    sent[i]++;
                }
            }
            zmq_msg_close(&m);
        }
    }
    double rate = (double)(quota * n) / (util_now_s() - t0);
    kill(pid, SIGTERM);
    bench_wait(pid, 10000, server_cpu);
    for (long i = 0; i < n; i++) zmq_close(socks[i]);
    zmq_ctx_term(ctx);
    free(socks), free(sent), free(got), free(items), free(buf), free(ep);
    bench_rmtree(dir);
    free(dir);
    return rate;
}

/* The packed size of the learner's ack to a group (its run id and sender id as it sends them). */
static size_t s_ack_bytes(void) {
    Spar__RolloutAck a = SPAR__ROLLOUT_ACK__INIT;
    a.iteration = 2;
    a.prompt_id = 1000;
    a.status = SPAR__ACK_STATUS__ACK_ACCEPTED;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    msg_envelope(&env, SPAR__ENVELOPE__BODY_ROLLOUT_ACK, &a);
    env.protocol_version = WIRE_PROTOCOL_VERSION;
    env.run_id = "ingest-1733000000000";
    env.sender_id = "learner-12345";
    env.seq = 100000;
    return spar__envelope__get_packed_size(&env);
}

/* ---- main ------------------------------------------------------------------------------- */

/* The options from argv; -1 after saying they are bad. */
static int s_parse_opts(int argc, char **argv, opts_t *o) {
    memset(o, 0, sizeof *o);
    o->spar = bench_spar(argc, argv);
    o->actors = atol(bench_arg(argc, argv, "--actors", "4"));
    o->lease = atol(bench_arg(argc, argv, "--lease", "16"));
    o->iterations = atol(bench_arg(argc, argv, "--iterations", "3"));
    o->reps = atol(bench_arg(argc, argv, "--reps", "3"));
    o->n = atol(bench_arg(argc, argv, "--n", "3"));
    o->n_k = bench_int_list(bench_arg(argc, argv, "--k", "8,128"), o->ks, MAX_K);
    int np = bench_int_list(bench_arg(argc, argv, "--prompts", "16384,2048"), o->prompts, MAX_K);
    if (o->actors < 1 || o->actors > MAX_FAKES || o->lease < 1 || o->iterations < 1 || o->reps < 1 || o->reps > 16 ||
        o->n_k < 1 || np != o->n_k) {
        fprintf(stderr, "bench_ingest: bad arguments (--prompts needs one count per --k)\n");
        return -1;
    }
    return 0;
}

/* Every run: per K, per repetition, the learner's figures and the raw baseline's. */
typedef struct {
    learner_result_t learner[MAX_K][16];
    double raw[MAX_K][16];     /* messages per second */
    double raw_cpu[MAX_K][16]; /* the ROUTER's CPU seconds per message */
} runs_t;

/* The runs, interleaved (every K once per repetition): a learner, then raw ZeroMQ with what it
 * saw (as many messages, of its groups' mean size). 0, or 1 when a learner failed. */
static int s_measure_all(const opts_t *o, runs_t *R) {
    size_t ack_bytes = s_ack_bytes();
    int status = 0;
    for (long rep = 0; rep < o->reps; rep++)
        for (int i = 0; i < o->n_k; i++) {
            learner_result_t *r = &R->learner[i][rep];
            if (s_run_learner(o, o->ks[i], o->prompts[i], r) != 0) {
                status = 1;
                continue;
            }
            R->raw[i][rep] = s_run_raw(o->actors, o->lease, (long)r->accepted, (size_t)llround(r->group_bytes),
                                       ack_bytes, &R->raw_cpu[i][rep]);
            R->raw_cpu[i][rep] /= (double)((long)r->accepted / o->actors * o->actors);
            fprintf(stderr, "  run %ld K=%ld: learner %.0f groups/s (collect %.0f), raw %.0f msgs/s\n", rep + 1,
                    o->ks[i], r->rate_wall, r->rate_collect, R->raw[i][rep]);
        }
    return status;
}

/* The row of K = o->ks[i]: medians over the successful repetitions; also a summary line. */
static void s_print_row(const opts_t *o, const runs_t *R, int i) {
    double w[16], cl[16], rw[16], gb[16], lus[16], rus[16], lc[16], gc[16];
    int n = 0;
    for (long rep = 0; rep < o->reps; rep++) {
        const learner_result_t *r = &R->learner[i][rep];
        if (!(r->rate_wall > 0)) continue;
        w[n] = r->rate_wall, cl[n] = r->rate_collect, rw[n] = R->raw[i][rep], gb[n] = r->group_bytes;
        lus[n] = 1e6 * r->learner_cpu / (double)r->accepted, rus[n] = 1e6 * R->raw_cpu[i][rep];
        lc[n] = r->learner_cpu / r->wall, gc[n] = r->gen_cpu / r->wall;
        n++;
    }
    if (!n) return;
    double mw = bench_median(w, n), mc = bench_median(cl, n), mr = bench_median(rw, n);
    double ml = bench_median(lus, n), mu = bench_median(rus, n);
    printf("%5ld %8.0f %9ld %12.0f %12.0f %12.0f %8.3f %8.3f %10.1f %10.1f %8.1f %4.2f/%4.2f\n", o->ks[i],
           bench_median(gb, n), o->prompts[i], mw, mc, mr, mw / mr, mc / mr, ml, mu, ml / mu, bench_median(lc, n),
           bench_median(gc, n));
    char what[64], sp[64], base[64], ratio[64];
    snprintf(what, sizeof what, "learner ingest, K=%ld (%.0f B groups)", o->ks[i], bench_median(gb, n));
    snprintf(sp, sizeof sp, "%.0f groups/s", mw);
    snprintf(base, sizeof base, "%.0f msgs/s raw zmq", mr);
    snprintf(ratio, sizeof ratio, "%.3f of raw rate", mw / mr);
    bench_summary("ingest", what, sp, base, ratio);
}

static void s_print_table(const opts_t *o, const runs_t *R) {
    printf("\n%5s %8s %9s %12s %12s %12s %8s %8s %10s %10s %8s %9s\n", "K", "group_B", "groups/it", "learner_g/s",
           "collect_g/s", "raw_msg/s", "lrn/raw", "col/raw", "lrn_us/grp", "raw_us/msg", "cpu_x", "cores l/g");
    for (int i = 0; i < o->n_k; i++) s_print_row(o, R, i);
    printf("learner_g/s: accepted acks / (last accepted ack - first grant), training and iteration ends included;\n"
           "collect_g/s: the learner's samples_per_s / K (collection phases only), median over iterations;\n"
           "lrn_us/grp, raw_us/msg: CPU microseconds per group of the learner process and per message of the raw\n"
           "ROUTER process (both with their ZeroMQ I/O thread), cpu_x their ratio; cores l/g: cores used by the\n"
           "learner and by this load generator over the run. Load average %.2f at the end.\n",
           bench_loadavg());
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, USAGE)) return 0;
    opts_t o;
    if (s_parse_opts(argc, argv, &o) != 0) return 2;
    printf("ingest: groups/s one spar learner admits (tabular, n=%ld, epochs 1, %ld iterations) from %ld fake\n"
           "actors (lease %ld prompts), vs raw ZeroMQ ROUTER/DEALER on ipc:// with the same message sizes;\n"
           "median of %ld interleaved runs; load average %.2f at the start\n",
           o.n, o.iterations, o.actors, o.lease, o.reps, bench_loadavg());
    runs_t *R = xcalloc(1, sizeof *R);
    int status = s_measure_all(&o, R);
    s_print_table(&o, R);
    free(R);
    return status;
}
