/* study — `spar study [CONFIG]`: every algorithm on the three game families (bt, cyclic,
 * random), same seeds and iteration budget, each a whole `spar run` through the real processes.
 * Writes study.md (the table) and one plot per family (gnuplot, PNG) of exploitability
 * against iteration into study.dir, and prints its wall time. */
#include "cli/study.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#define N_ALGS 9
#define N_FAMILIES 3

static const alg_name_t s_alg_ids[N_ALGS] = {ALG_SPPO, ALG_APO,      ALG_DNO,     ALG_DPO, ALG_INPO,
                                             ALG_IPO,  ALG_ONLINE_IPO, ALG_NASH_MD, ALG_EGPO};
static const game_family_t s_family_ids[N_FAMILIES] = {FAMILY_BT, FAMILY_CYCLIC, FAMILY_RANDOM};
#define ALG(a) config_name(CFG_NAMES_ALG, s_alg_ids[a])
#define FAMILY(g) config_name(CFG_NAMES_FAMILY, s_family_ids[g])

typedef struct {
    json_t *lines; /* iterations.jsonl */
    double wall;
    int ok;
} result_t;

/* The settings that make each algorithm what the study compares (its configs/ file's). */
static int s_alg_sets(alg_name_t alg, double tau, char sets[][64]) {
    int n = 0;
    snprintf(sets[n++], 64, "algorithm.name=%s", config_name(CFG_NAMES_ALG, alg));
    if (alg == ALG_INPO) {
        snprintf(sets[n++], 64, "algorithm.pairs=all");
        snprintf(sets[n++], 64, "algorithm.labels=soft");
    }
    if (alg == ALG_INPO || alg == ALG_IPO || alg == ALG_ONLINE_IPO || alg == ALG_NASH_MD || alg == ALG_EGPO)
        snprintf(sets[n++], 64, "algorithm.tau=%g", tau);
    if (alg == ALG_ONLINE_IPO) { /* online: a new version after every step of 4 groups */
        snprintf(sets[n++], 64, "learner.broadcast_every=1");
        snprintf(sets[n++], 64, "learner.step_groups=4");
        snprintf(sets[n++], 64, "learner.max_staleness=1");
    }
    if (alg == ALG_APO) snprintf(sets[n++], 64, "apo.base=sppo");
    return n;
}

static int s_run(const args_t *args, const char *exe, int family_i, int alg_i, const char *dir, result_t *r) {
    const char *family = FAMILY(family_i), *alg = ALG(alg_i);
    const spar_config_t *c = &args->cfg;
    char sets[16][64], base[8][1100];
    int n = 0;
    snprintf(base[n++], sizeof base[0], "game.family=%s", family);
    snprintf(base[n++], sizeof base[0], "game.n=%ld", c->study.n);
    snprintf(base[n++], sizeof base[0], "game.jitter=%s", s_family_ids[family_i] == FAMILY_CYCLIC ? "0.5" : "0");
    snprintf(base[n++], sizeof base[0], "run.iterations=%ld", c->study.iterations);
    snprintf(base[n++], sizeof base[0], "run.dir=%s/%s-%s", dir, family, alg);
    int m = s_alg_sets(s_alg_ids[alg_i], c->study.tau, sets);
    char *argv[64];
    int a = 0;
    argv[a++] = "spar";
    argv[a++] = "run";
    if (args->config_path) argv[a++] = (char *)args->config_path;
    for (int i = 0; i < args->n_sets; i++) {
        argv[a++] = "--set";
        argv[a++] = (char *)args->sets[i];
    }
    for (int i = 0; i < n; i++) {
        argv[a++] = "--set";
        argv[a++] = base[i];
    }
    for (int i = 0; i < m; i++) {
        argv[a++] = "--set";
        argv[a++] = sets[i];
    }
    argv[a] = NULL;
    char *log = xasprintf("%s/logs/%s-%s.log", dir, family, alg);
    double t0 = util_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (f) dup2(fileno(stdout), STDERR_FILENO);
        execv(exe, argv);
        _exit(127);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r->wall = util_now_s() - t0;
    r->ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char *jsonl = xasprintf("%s/%s-%s/iterations.jsonl", dir, family, alg);
    r->lines = json_array();
    FILE *f = fopen(jsonl, "r");
    char line[16384];
    while (f && fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        if (o) json_array_append_new(r->lines, o);
    }
    if (f) fclose(f);
    if (!r->ok) fprintf(stderr, "spar study: %s on %s failed; see %s\n", alg, family, log);
    free(jsonl);
    free(log);
    return r->ok ? 0 : -1;
}

static double s_field(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* First iteration whose `key` is at most `bound`, or -1. */
static int s_first_below(json_t *lines, const char *key, double bound) {
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) if (s_field(o, key) <= bound) return (int)i;
    return -1;
}

static void s_cell(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fprintf(f, "—");
}

static void s_count(FILE *f, int it) {
    if (it >= 0) fprintf(f, "%d", it);
    else fprintf(f, "—");
}

static void s_write_table(const args_t *args, const char *dir, result_t res[N_FAMILIES][N_ALGS], double wall) {
    char *path = xasprintf("%s/study.md", dir);
    FILE *f = fopen(path, "w");
    free(path);
    if (!f) return;
    const spar_config_t *c = &args->cfg;
    fprintf(f, "| game | algorithm | exploitability (last) | exploitability (average) | Gap_τ (last) | "
               "iterations to Gap_τ < 1e-3 | iterations to exploitability ≤ 0.02 |\n");
    fprintf(f, "|---|---|---|---|---|---|---|\n");
    for (int g = 0; g < N_FAMILIES; g++)
        for (int a = 0; a < N_ALGS; a++) {
            json_t *lines = res[g][a].lines;
            json_t *last = json_array_get(lines, json_array_size(lines) - 1);
            fprintf(f, "| %s | %s | ", FAMILY(g), ALG(a));
            if (!res[g][a].ok || !last) {
                fprintf(f, "failed | | | | |\n");
                continue;
            }
            s_cell(f, s_field(last, "exploitability"), "%.4f");
            fprintf(f, " | ");
            s_cell(f, s_field(last, "exploitability_avg"), "%.4f");
            fprintf(f, " | ");
            s_cell(f, s_field(last, "exploitability_tau"), "%.1e");
            fprintf(f, " | ");
            if (isfinite(s_field(last, "exploitability_tau"))) s_count(f, s_first_below(lines, "exploitability_tau", 1e-3));
            else fprintf(f, "n/a");
            fprintf(f, " | ");
            s_count(f, s_first_below(lines, "exploitability", 0.02));
            fprintf(f, " |\n");
        }
    fprintf(f, "\n%ld iterations per run; %ld prompts, n = %ld actions, K = %ld; τ = %g for INPO, IPO, online IPO, Nash-MD and EGPO "
               "(DPO's τ is its β); cyclic margins jittered by 0.5; seeds as in the base config. "
               "Regularised algorithms converge to π*_τ, whose exploitability is not 0. "
               "Made by `spar study` in %.0f s.\n",
            c->study.iterations, c->task.prompts, c->study.n, c->rollout.samples_per_prompt, c->study.tau, wall);
    fclose(f);
}

/* One PNG per family: exploitability of the last iterate against iteration, log scale. */
static int s_plot(const char *dir, result_t res[N_FAMILIES][N_ALGS]) {
    for (int g = 0; g < N_FAMILIES; g++) {
        char *data = xasprintf("%s/plot-%s.dat", dir, FAMILY(g));
        FILE *f = fopen(data, "w");
        if (!f) return -1;
        size_t rows = 0;
        for (int a = 0; a < N_ALGS; a++) rows = json_array_size(res[g][a].lines) > rows ? json_array_size(res[g][a].lines) : rows;
        for (size_t i = 0; i < rows; i++) {
            fprintf(f, "%zu", i);
            for (int a = 0; a < N_ALGS; a++) {
                double v = s_field(json_array_get(res[g][a].lines, i), "exploitability");
                if (isfinite(v)) fprintf(f, " %.6e", fmax(v, 1e-6));
                else fprintf(f, " NaN");
            }
            fprintf(f, "\n");
        }
        fclose(f);
        char *script = xasprintf("%s/plot-%s.gp", dir, FAMILY(g));
        f = fopen(script, "w");
        fprintf(f, "set terminal pngcairo size 900,540\nset output '%s/exploitability-%s.png'\n", dir, FAMILY(g));
        fprintf(f, "set title 'Exploitability of the last iterate, %s games'\nset xlabel 'iteration'\n"
                   "set ylabel 'max_y P(y > pi) - 1/2'\nset logscale y\nset key outside right\nset grid\n",
                FAMILY(g));
        fprintf(f, "plot ");
        for (int a = 0; a < N_ALGS; a++)
            fprintf(f, "%s'%s' using 1:%d with lines lw 2 title '%s'", a ? ", " : "", data, a + 2, ALG(a));
        fprintf(f, "\n");
        fclose(f);
        char *cmd = xasprintf("gnuplot '%s'", script);
        int rc = system(cmd);
        free(cmd);
        free(script);
        free(data);
        if (rc != 0) return -1;
    }
    return 0;
}

int study_run(args_t *args) {
    const char *dir = args->cfg.study.dir;
    char *logs = xasprintf("%s/logs", dir);
    int rc = util_mkdirs(logs);
    free(logs);
    if (rc != 0) {
        fprintf(stderr, "spar study: cannot create %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 1;
    exe[n] = '\0';
    static result_t res[N_FAMILIES][N_ALGS];
    double t0 = util_now_s();
    int failed = 0;
    util_install_stop_signals();
    for (int g = 0; g < N_FAMILIES; g++)
        for (int a = 0; a < N_ALGS; a++) {
            if (util_stop_requested()) {
                fprintf(stderr, "spar study: interrupted\n");
                return 130;
            }
            /* a previous study's run of the same name would be kept, not overwritten */
            char *old = xasprintf("rm -rf '%s/%s-%s'", dir, FAMILY(g), ALG(a));
            if (system(old) != 0) fprintf(stderr, "spar study: cannot clear %s\n", old);
            free(old);
            failed += s_run(args, exe, g, a, dir, &res[g][a]) != 0;
            json_t *last = json_array_get(res[g][a].lines, json_array_size(res[g][a].lines) - 1);
            printf("spar study: %-7s on %-6s %5.1f s  exploitability %.4f  average %.4f\n", ALG(a), FAMILY(g),
                   res[g][a].wall, s_field(last, "exploitability"), s_field(last, "exploitability_avg"));
            fflush(stdout);
        }
    double wall = util_now_s() - t0;
    s_write_table(args, dir, res, wall);
    int plotted = s_plot(dir, res) == 0;
    if (!plotted) fprintf(stderr, "spar study: gnuplot failed or is missing (Debian: gnuplot-nox); no plots\n");
    for (int g = 0; g < N_FAMILIES; g++)
        for (int a = 0; a < N_ALGS; a++) json_decref(res[g][a].lines);
    printf("spar study: %d runs in %.1f s; table in %s/study.md%s\n", N_FAMILIES * N_ALGS, wall, dir,
           plotted ? ", plots exploitability-{bt,cyclic,random}.png beside it" : "");
    return failed || !plotted ? 1 : 0;
}
