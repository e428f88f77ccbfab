/* tax — what running as separate processes costs: the wall time of N iterations through
 * `spar run` (one learner, one matrix judge, 2 actors on ipc://) against the same work in this
 * one process — sampling with the policy API (policy_generate, the actors' seed streams),
 * judging with the same game matrices, training with the learner's update core — for the same config and
 * N, measured in the same session (medians of interleaved runs); wall time, and CPU seconds of
 * all the processes against this one's. The in-process run must end on the very policy the
 * distributed run checkpoints; the benchmark says whether it did.
 * It covers synchronous runs of matrix games without Nash-MD's opponents or APO.
 * Prints figures; asserts nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/config.h"
#include "common/game.h"
#include "common/policy.h"
#include "common/rng.h"
#include "common/util.h"
#include "common/wire.h"
#include "learner/core.h"

#define MAX_SETS 64
#define MAX_REPS 32

typedef struct {
    const char *spar, *config; /* config NULL: the built-in quickstart */
    const char *sets[MAX_SETS];
    int n_sets;
    long actors, reps;
} opts_t;

/* ---- the same work in one process ------------------------------------------------------- */

typedef struct {
    double total_s, collect_s, train_s, cpu_s;
    policy_t *final;
} local_result_t;


/* One iteration's judged groups, as an actor would submit them and the learner admit them. */
typedef struct {
    long prompts, k;
    Spar__RolloutGroup *g;
    Spar__RolloutGroup **gp;
    Spar__Response *rs;
    Spar__Response **rp;
    double *P;
    char (*text)[32];
} groups_t;

static void s_groups_init(groups_t *G, long prompts, long k) {
    G->prompts = prompts;
    G->k = k;
    G->g = xcalloc((size_t)prompts, sizeof *G->g);
    G->gp = xcalloc((size_t)prompts, sizeof *G->gp);
    G->rs = xcalloc((size_t)(prompts * k), sizeof *G->rs);
    G->rp = xcalloc((size_t)(prompts * k), sizeof *G->rp);
    G->P = xcalloc((size_t)(prompts * k * k), sizeof *G->P);
    G->text = xcalloc((size_t)prompts, sizeof *G->text);
    for (long p = 0; p < prompts; p++) {
        snprintf(G->text[p], sizeof G->text[p], "game-%ld", p);
        spar__rollout_group__init(&G->g[p]);
        G->g[p].prompt_id = (uint32_t)p;
        G->g[p].prompt = G->text[p];
        G->g[p].responses = G->rp + p * k;
        G->g[p].n_responses = (size_t)k;
        G->g[p].preference = G->P + p * k * k;
        G->g[p].n_preference = (size_t)(k * k);
        G->gp[p] = &G->g[p];
        for (long i = 0; i < k; i++) {
            spar__response__init(&G->rs[p * k + i]);
            G->rp[p * k + i] = &G->rs[p * k + i];
        }
    }
}

static void s_groups_free(groups_t *G) {
    free(G->g), free(G->gp), free(G->rs), free(G->rp), free(G->P), free(G->text);
}

static int s_local(const spar_config_t *cfg, local_result_t *r) {
    memset(r, 0, sizeof *r);
    learner_core_t core;
    if (core_init(&core, cfg) != 0) return -1;
    long P = cfg->task.prompts, K = cfg->rollout.samples_per_prompt;
    uint64_t seed = (uint64_t)cfg->run.seed;
    core_tabular_initial(&core);
    if (core_setup(&core) != 0) return -1;
    /* timed from here: the distributed side counts the set-up as start-up, not iterations */
    double t0 = util_now_s(), cpu0 = bench_self_cpu();
    policy_seq_t *q = xcalloc((size_t)(P * K), sizeof *q);
    rng_t *rngs = xcalloc((size_t)(P * K), sizeof *rngs);
    policy_sample_t *out = xcalloc((size_t)(P * K), sizeof *out);
    policy_sample_opts_t so = {.temperature = cfg->rollout.temperature, .top_k = (int)cfg->rollout.top_k,
                               .top_p = cfg->rollout.top_p, .max_new = (int)cfg->rollout.max_new};
    groups_t G;
    s_groups_init(&G, P, K);
    for (long t = 1; t <= cfg->run.iterations; t++) {
        double ts = util_now_s();
        core_begin_iteration(&core, (uint64_t)t);
        /* sample: stream of sample i of prompt p from (run seed, iteration, prompt, i), as actors do */
        for (long p = 0; p < P; p++)
            for (long i = 0; i < K; i++) {
                q[p * K + i] = (policy_seq_t){(int)p, G.text[p], NULL, 0};
                rng_sample_stream(&rngs[p * K + i], seed, (uint64_t)t, (uint32_t)p, (uint64_t)i);
            }
        policy_generate(core.theta, q, (int)(P * K), rngs, &so, out);
        /* judge: the game's P restricted to the sampled actions, as the matrix judge answers */
        for (long p = 0; p < P; p++) {
            uint32_t actions[WIRE_MAX_RESPONSES];
            for (long i = 0; i < K; i++) {
                actions[i] = out[p * K + i].tokens[0];
                Spar__Response *y = &G.rs[p * K + i];
                y->tokens = out[p * K + i].tokens;
                y->n_tokens = (size_t)out[p * K + i].n_tokens;
                y->logprob = out[p * K + i].logprob;
            }
            game_judge_actions(&core.games, (int)p, actions, (size_t)K, G.P + p * K * K);
            G.g[p].iteration = (uint64_t)t;
            G.g[p].policy_version = (uint64_t)(t - 1);
        }
        double tt = util_now_s();
        r->collect_s += tt - ts;
        train_result_t tr = {0};
        core_train_synchronous(&core, G.gp, (int)P, &tr); /* the learner's update, as it runs there */
        r->train_s += util_now_s() - tt;
        for (long s = 0; s < P * K; s++) policy_sample_free(&out[s]);
    }
    r->total_s = util_now_s() - t0;
    r->cpu_s = bench_self_cpu() - cpu0;
    r->final = policy_clone(core.theta);
    s_groups_free(&G);
    free(q), free(rngs), free(out);
    core_teardown(&core);
    return 0;
}

/* ---- through the processes -------------------------------------------------------------- */

typedef struct {
    double wall_s;    /* spar run, start to exit */
    double cpu_s;     /* CPU seconds of the launcher and every process it started */
    double iter_s;    /* sum of the learner's wall_s over iterations 1..N */
    double collect_s; /* of it, the collection phases (samples / samples_per_s) */
    int same_policy;  /* 1: the final checkpoint equals the in-process policy; 0: differs; -1: unknown */
} dist_result_t;

static int s_dist(const opts_t *o, const spar_config_t *cfg, const policy_t *local, dist_result_t *r) {
    memset(r, 0, sizeof *r);
    r->same_policy = -1;
    char *dir = bench_tmpdir("tax");
    char *log = xasprintf("%s/run.log", dir), *run = xasprintf("%s/run", dir);
    char *set_dir = xasprintf("run.dir=%s", run), *set_actors = xasprintf("actor.count=%ld", o->actors);
    char *set_iter = xasprintf("run.iterations=%ld", cfg->run.iterations);
    char *argv[8 + 2 * MAX_SETS];
    int a = 0;
    argv[a++] = (char *)o->spar;
    argv[a++] = "run";
    if (o->config) argv[a++] = (char *)o->config;
    const char *fixed[] = {set_dir, set_actors, set_iter, "judge.count=1", "judge.kind=matrix"};
    for (int i = 0; i < 5; i++) argv[a++] = "--set", argv[a++] = (char *)fixed[i];
    for (int i = 0; i < o->n_sets; i++) argv[a++] = "--set", argv[a++] = (char *)o->sets[i];
    argv[a] = NULL;
    double t0 = util_now_s();
    pid_t pid = bench_spawn(log, argv);
    int st = bench_wait(pid, 600000, &r->cpu_s);
    r->wall_s = util_now_s() - t0;
    int rc = -1;
    if (!bench_ok(st)) {
        fprintf(stderr, "tax: spar run failed\n");
        bench_tail(log, 20);
        goto out;
    }
    char *jsonl = xasprintf("%s/iterations.jsonl", run);
    json_t *lines = bench_read_jsonl(jsonl);
    free(jsonl);
    for (size_t i = 1; lines && i < json_array_size(lines); i++) {
        json_t *o1 = json_array_get(lines, i);
        double w = json_number_value(json_object_get(o1, "wall_s")),
               s = json_number_value(json_object_get(o1, "samples")),
               sps = json_number_value(json_object_get(o1, "samples_per_s"));
        r->iter_s += w;
        if (sps > 0) r->collect_s += s / sps;
    }
    json_decref(lines);
    char *ck = xasprintf("%s/checkpoints/iter-%04ld.safetensors", run, cfg->run.iterations);
    size_t len = 0;
    char *blob = util_read_file(ck, &len), why[256];
    free(ck);
    policy_t *p = blob ? policy_load(blob, len, NULL, why, sizeof why) : NULL;
    if (p && local)
        r->same_policy = policy_view(p).n == policy_view(local).n &&
                         memcmp(policy_view(p).f64, policy_view(local).f64, policy_view(p).n * sizeof(double)) == 0;
    policy_destroy(&p);
    free(blob);
    rc = 0;
out:
    free(log), free(run), free(set_dir), free(set_actors), free(set_iter);
    bench_rmtree(dir);
    free(dir);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------- */

static int s_config(const opts_t *o, spar_config_t *cfg) {
    char err[512];
    config_defaults(cfg);
    int rc = o->config ? config_load_file(cfg, o->config, err, sizeof err)
                       : config_load_string(cfg, "quickstart", spar_quickstart_yaml, err, sizeof err);
    for (int i = 0; rc == 0 && i < o->n_sets; i++) rc = config_set(cfg, o->sets[i], err, sizeof err);
    if (rc == 0) rc = config_validate(cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "bench_tax: %s\n", err);
        return -1;
    }
    alg_name_t alg = cfg->algorithm.name;
    if (cfg->task.kind != TASK_GAME || cfg->policy.kind != POLICY_TABULAR ||
        cfg->learner.broadcast_every > 0 || alg == ALG_NASH_MD || alg == ALG_APO || alg == ALG_EGPO) {
        fprintf(stderr, "bench_tax: covers synchronous matrix-game runs without nash-md, apo or egpo\n");
        return -1;
    }
    return 0;
}

/* The options; returns 0, 1 when --help was answered, or 2 for bad arguments (said). */
static int s_args(int argc, char **argv, opts_t *o) {
    o->spar = bench_spar(argc, argv);
    o->actors = 2;
    o->reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_tax [--spar PATH] [--config FILE] [--set key=value]... [--actors 2] [--reps 5]\n"
                   "Wall time of run.iterations iterations through `spar run` (1 matrix judge, N actors) against\n"
                   "the same sampling, judging and training in one process; the built-in quickstart by default.\n");
            return 1;
        }
        if (!next) continue;
        if (!strcmp(argv[i], "--config")) o->config = argv[++i];
        else if (!strcmp(argv[i], "--set") && o->n_sets < MAX_SETS) o->sets[o->n_sets++] = argv[++i];
        else if (!strcmp(argv[i], "--actors")) o->actors = atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps")) o->reps = atol(argv[++i]);
        else if (!strcmp(argv[i], "--iterations")) o->sets[o->n_sets++] = xasprintf("run.iterations=%s", argv[++i]);
    }
    if (o->reps < 1 || o->reps > MAX_REPS || o->actors < 1) {
        fprintf(stderr, "bench_tax: bad arguments\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    opts_t o = {0};
    int args = s_args(argc, argv, &o);
    if (args != 0) return args == 1 ? 0 : 2;
    spar_config_t cfg;
    if (s_config(&o, &cfg) != 0) return 2;
    long N = cfg.run.iterations;
    printf("tax: %ld iterations of %s on %s games (%ld prompts, n=%ld, K=%ld, %ld epochs) from %s:\n"
           "`spar run` (learner + 1 matrix judge + %ld actors, ipc://) vs the same sampling, judging and training\n"
           "in one process; median of %ld interleaved runs; load average %.2f at the start\n\n",
           N, config_name(CFG_NAMES_ALG, cfg.algorithm.name), config_name(CFG_NAMES_FAMILY, cfg.game.family), cfg.task.prompts, cfg.game.n, cfg.rollout.samples_per_prompt,
           learner_auto_epochs(&cfg), o.config ? o.config : "the built-in quickstart", o.actors, o.reps, bench_loadavg());
    double lt[MAX_REPS], lc[MAX_REPS], ltr[MAX_REPS], dw[MAX_REPS], di[MAX_REPS], dc[MAX_REPS], lu[MAX_REPS],
        du[MAX_REPS];
    int n = 0, same = 1, compared = 0;
    for (long rep = 0; rep < o.reps; rep++) {
        local_result_t L;
        dist_result_t D;
        if (s_local(&cfg, &L) != 0) return 1;
        int rc = s_dist(&o, &cfg, L.final, &D);
        policy_destroy(&L.final);
        if (rc != 0) continue;
        if (D.same_policy >= 0) compared++, same &= D.same_policy;
        lt[n] = L.total_s, lc[n] = L.collect_s, ltr[n] = L.train_s;
        dw[n] = D.wall_s, di[n] = D.iter_s, dc[n] = D.collect_s, lu[n] = L.cpu_s, du[n] = D.cpu_s;
        fprintf(stderr, "  run %ld: in-process %.3f s, spar run %.3f s (iterations %.3f s)\n", rep + 1, L.total_s,
                D.wall_s, D.iter_s);
        n++;
    }
    if (!n) return 1;
    double mlt = bench_median(lt, n), mlc = bench_median(lc, n), mltr = bench_median(ltr, n);
    double mdw = bench_median(dw, n), mdi = bench_median(di, n), mdc = bench_median(dc, n);
    printf("%-40s %9s %12s %10s\n", "", "seconds", "ms/iteration", "vs in-proc");
    printf("%-40s %9.3f %12.2f %10.2f\n", "in-process: sample + judge + train", mlt, 1e3 * mlt / N, 1.0);
    printf("%-40s %9.3f %12.2f %10.2f\n", "  of it sample + judge", mlc, 1e3 * mlc / N, mlc / mlt);
    printf("%-40s %9.3f %12.2f %10.2f\n", "  of it train", mltr, 1e3 * mltr / N, mltr / mlt);
    printf("%-40s %9.3f %12.2f %10.2f\n", "spar run: wall, start to exit", mdw, 1e3 * mdw / N, mdw / mlt);
    printf("%-40s %9.3f %12.2f %10.2f\n", "  learner's iterations (sum of wall_s)", mdi, 1e3 * mdi / N, mdi / mlt);
    printf("%-40s %9.3f %12.2f %10.2f\n", "    of them collection (vs sample+judge)", mdc, 1e3 * mdc / N, mdc / mlc);
    printf("%-40s %9.3f %12.2f %10.2f\n", "    of them train + metrics + checkpoint", mdi - mdc, 1e3 * (mdi - mdc) / N,
           (mdi - mdc) / mltr);
    printf("%-40s %9.3f %12s %10.2f\n", "  start-up and shut-down (wall - iter.)", mdw - mdi, "-", (mdw - mdi) / mlt);
    double mlu = bench_median(lu, n), mdu = bench_median(du, n);
    printf("%-40s %9.3f %12.2f %10.2f\n", "CPU seconds, in-process", mlu, 1e3 * mlu / N, 1.0);
    printf("%-40s %9.3f %12.2f %10.2f\n", "CPU seconds, spar run (all processes)", mdu, 1e3 * mdu / N, mdu / mlu);
    printf("distributed tax (spar run wall / in-process): %.2fx; per iteration (learner's): %.2fx; CPU: %.2fx\n",
           mdw / mlt, mdi / mlt, mdu / mlu);
    char what[96], sp[64], base[64], ratio[64];
    snprintf(what, sizeof what, "%ld it. x %ld prompts x K=%ld, %ld epochs, %ld actors", N, cfg.task.prompts,
             cfg.rollout.samples_per_prompt, learner_auto_epochs(&cfg), o.actors);
    snprintf(sp, sizeof sp, "%.3f s spar run (%.3f s iterations)", mdw, mdi);
    snprintf(base, sizeof base, "%.3f s in one process", mlt);
    snprintf(ratio, sizeof ratio, "%.2fx (iterations %.2fx, CPU %.2fx)", mdw / mlt, mdi / mlt, mdu / mlu);
    bench_summary("tax", what, sp, base, ratio);
    printf("load average %.2f at the end\n", bench_loadavg());
    if (compared) printf("final policy equal to the run's last checkpoint: %s (%d of %d runs compared)\n",
                         same ? "yes, bit for bit" : "NO", compared, n);
    else printf("final policy not compared (checkpoint unreadable)\n");
    return 0;
}
