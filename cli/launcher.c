/* launcher — `spar run`: the whole run on one machine. Starts one learner, the configured
 * judges and actors as child processes of this same binary on ipc:// endpoints in a private
 * folder, stores each child's output in the run's logs/, prints the iteration table as
 * iterations.jsonl grows, restarts a crashed actor or judge, forwards Ctrl-C, and exits 0
 * only when the learner completed every iteration. */
#include "cli/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/itertable.h"
#include "common/prompt_set.h"
#include "common/util.h"
#include "common/curve.h"
#include "learner/learner.h"

#define MAX_CHILDREN 1100

typedef struct {
    char name[32];
    char role[16];
    char **argv;
    pid_t pid;
    int out_fd; /* read end of the child's stdout+stderr */
    FILE *log;
    char partial[4096];
    size_t partial_len;
    int restarts;
    int running;
    int exit_status; /* as from waitpid */
} child_t;

typedef struct {
    args_t *args;
    spar_config_t cfg;
    char run_dir[1024];
    char sock_dir[64];
    char exe[1024];
    child_t children[MAX_CHILDREN];
    int n_children;
    long jsonl_offset;
    int table_header_done;
    json_t *first, *last;
} launcher_t;

/* ---- children --------------------------------------------------------------------------- */

static int s_spawn(launcher_t *R, child_t *c) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execv(R->exe, c->argv);
        fprintf(stderr, "cannot start %s: %s\n", R->exe, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->out_fd = fds[0];
    c->running = 1;
    printf("spar run: started %s (pid %d)\n", c->name, (int)pid);
    fflush(stdout);
    return 0;
}

static void s_close_output(child_t *c) {
    if (c->out_fd >= 0) close(c->out_fd);
    c->out_fd = -1;
}

static child_t *s_add(launcher_t *R, const char *role, int index, const char *extra_set) {
    child_t *c = &R->children[R->n_children++];
    memset(c, 0, sizeof *c);
    if (index < 0) snprintf(c->name, sizeof c->name, "%s", role);
    else snprintf(c->name, sizeof c->name, "%s-%d", role, index);
    snprintf(c->role, sizeof c->role, "%s", role);
    c->argv = xcalloc(16, sizeof(char *));
    int a = 0;
    c->argv[a++] = xstrdup("spar");
    c->argv[a++] = xstrdup(role);
    c->argv[a++] = xstrdup("--config");
    c->argv[a++] = xasprintf("%s/config.yaml", R->run_dir);
    c->argv[a++] = xstrdup("--id");
    c->argv[a++] = xstrdup(c->name);
    if (extra_set) {
        c->argv[a++] = xstrdup("--set");
        c->argv[a++] = xstrdup(extra_set);
    }
    if (R->args->resume && !strcmp(role, "learner")) c->argv[a++] = xstrdup("--resume");
    if (R->cfg.security.curve) { /* each role its own key pair of the run */
        c->argv[a++] = xstrdup("--set");
        c->argv[a++] = xasprintf("security.key=%s/keys/%s.key", R->run_dir, role);
    }
    char *logpath = xasprintf("%s/logs/%s.log", R->run_dir, c->name);
    c->log = fopen(logpath, "a");
    free(logpath);
    c->out_fd = -1;
    return c;
}

/* Moves a child's output into its log, line by line (prefixed on the terminal with --verbose). */
static void s_drain(launcher_t *R, child_t *c) {
    char buf[4096];
    for (;;) {
        ssize_t n = c->out_fd >= 0 ? read(c->out_fd, buf, sizeof buf) : 0;
        if (n <= 0) {
            if (n == 0) s_close_output(c);
            return;
        }
        if (c->log) {
            fwrite(buf, 1, (size_t)n, c->log);
            fflush(c->log);
        }
        if (!R->args->verbose) continue;
        for (ssize_t i = 0; i < n; i++) {
            if (c->partial_len < sizeof c->partial - 1) c->partial[c->partial_len++] = buf[i];
            if (buf[i] == '\n') {
                c->partial[c->partial_len] = '\0';
                fprintf(stderr, "[%s] %s", c->name, c->partial);
                c->partial_len = 0;
            }
        }
    }
}

static void s_signal_all(launcher_t *R, int sig, const char *role) {
    for (int i = 0; i < R->n_children; i++) {
        child_t *c = &R->children[i];
        if (c->running && (!role || !strcmp(c->role, role))) kill(c->pid, sig);
    }
}

static int s_running(const launcher_t *R, const char *role) {
    int n = 0;
    for (int i = 0; i < R->n_children; i++)
        n += R->children[i].running && (!role || !strcmp(R->children[i].role, role));
    return n;
}

static child_t *s_reap_one(launcher_t *R) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return NULL;
    for (int i = 0; i < R->n_children; i++) {
        child_t *c = &R->children[i];
        if (c->pid == pid && c->running) {
            c->running = 0;
            c->exit_status = status;
            s_drain(R, c);
            return c;
        }
    }
    return NULL;
}

static void s_describe_exit(int status, char *out, size_t len) {
    if (WIFEXITED(status)) snprintf(out, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(out, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(out, len, "status %d", status);
}

/* ---- the iteration table ---------------------------------------------------------------- */

static void s_print_row(launcher_t *R, json_t *o) {
    int learned = R->cfg.judge.kind == JUDGE_REWARD || R->cfg.judge.kind == JUDGE_PREFERENCE;
    const itertable_col_t *const *cols = R->cfg.task.kind == TASK_GAME      ? itertable_run_game
                                         : R->cfg.task.kind == TASK_PROMPTS ? itertable_run_chat
                                         : learned                          ? itertable_run_judged
                                                                            : itertable_run_text;
    if (!R->table_header_done) {
        itertable_header(stdout, cols, ITERTABLE_RUN_COLUMNS);
        R->table_header_done = 1;
    }
    itertable_row(stdout, cols, ITERTABLE_RUN_COLUMNS, o);
    fflush(stdout);
}

static void s_tail_table(launcher_t *R) {
    char *path = xasprintf("%s/iterations.jsonl", R->run_dir);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return;
    fseek(f, R->jsonl_offset, SEEK_SET);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') break; /* a line still being written */
        R->jsonl_offset += (long)len;
        json_t *o = json_loads(line, 0, NULL);
        if (!o) continue;
        s_print_row(R, o);
        if (!R->first) R->first = json_incref(o);
        json_decref(R->last);
        R->last = o;
    }
    fclose(f);
}

/* ---- setup ------------------------------------------------------------------------------ */

/* The run folder: with --resume the configured one (it must hold a run), else the configured
 * one or the first free NAME.1, NAME.2, ... (an earlier run is never overwritten). */
static int s_choose_run_dir(launcher_t *R) {
    char base[1024];
    learner_run_dir(&R->cfg, base, sizeof base);
    snprintf(R->run_dir, sizeof R->run_dir, "%s", base);
    if (R->args->resume) { /* the run folder is the one to continue */
        char *jsonl = xasprintf("%s/iterations.jsonl", R->run_dir);
        int ok = util_file_exists(jsonl);
        free(jsonl);
        if (!ok) {
            fprintf(stderr, "spar run: %s holds no run to resume (no iterations.jsonl)\n", R->run_dir);
            return -1;
        }
    }
    for (int i = 1; !R->args->resume && util_file_exists(R->run_dir); i++)
        snprintf(R->run_dir, sizeof R->run_dir, "%s.%d", base, i);
    return 0;
}

/* The run's logs/, a private socket folder under /tmp, and the path of this binary. */
static int s_make_folders(launcher_t *R) {
    char *logs = xasprintf("%s/logs", R->run_dir);
    int rc = util_mkdirs(logs);
    free(logs);
    if (rc != 0) {
        fprintf(stderr, "spar run: cannot create %s: %s\n", R->run_dir, strerror(-rc));
        return -1;
    }
    snprintf(R->sock_dir, sizeof R->sock_dir, "/tmp/spar-XXXXXX");
    if (!mkdtemp(R->sock_dir)) {
        fprintf(stderr, "spar run: cannot create a socket folder: %s\n", strerror(errno));
        return -1;
    }
    ssize_t n = readlink("/proc/self/exe", R->exe, sizeof R->exe - 1);
    if (n <= 0) return -1;
    R->exe[n] = '\0';
    return 0;
}

/* Children share one resolved config; only endpoints and the run folder change. It is written
 * to RUN_DIR/config.yaml, with the run's CURVE keys made first when security.curve is on. */
static int s_resolve_config(launcher_t *R) {
    spar_config_t *c = &R->cfg;
    snprintf(c->run.dir, sizeof c->run.dir, "%s", R->run_dir);
    char err[1024];
    if (c->security.curve && curve_keys_for_run(c, R->run_dir, err, sizeof err) != 0) {
        fprintf(stderr, "spar run: CURVE keys: %s\n", err);
        return -1;
    }
    snprintf(c->learner.control, sizeof c->learner.control, "ipc://%s/control", R->sock_dir);
    snprintf(c->learner.publish, sizeof c->learner.publish, "ipc://%s/publish", R->sock_dir);
    size_t off = 0;
    c->judge.endpoints[0] = '\0';
    for (long j = 0; j < c->judge.count; j++)
        off += (size_t)snprintf(c->judge.endpoints + off, sizeof c->judge.endpoints - off, "%sipc://%s/judge-%ld",
                                j ? "," : "", R->sock_dir, j);
    if (off >= sizeof c->judge.endpoints) {
        fprintf(stderr, "spar run: too many judges for one endpoint list\n");
        return -1;
    }
    char *cfgpath = xasprintf("%s/config.yaml", R->run_dir);
    int rc = config_save(c, cfgpath, "resolved by spar run; every process of the run reads it");
    free(cfgpath);
    if (rc != 0) {
        fprintf(stderr, "spar run: cannot write the config into %s: %s\n", R->run_dir, strerror(-rc));
        return -1;
    }
    return 0;
}

static int s_prepare(launcher_t *R) {
    R->cfg = R->args->cfg;
    if (s_choose_run_dir(R) != 0 || s_make_folders(R) != 0) return -1;
    return s_resolve_config(R);
}

static void s_remove_socket(const launcher_t *R, const char *name) {
    char *p = xasprintf("%s/%s", R->sock_dir, name);
    unlink(p);
    free(p);
}

static void s_cleanup(launcher_t *R) {
    for (long j = 0; j < R->cfg.judge.count; j++) {
        char name[32];
        snprintf(name, sizeof name, "judge-%ld", j);
        s_remove_socket(R, name);
    }
    s_remove_socket(R, "control");
    s_remove_socket(R, "publish");
    rmdir(R->sock_dir);
    for (int i = 0; i < R->n_children; i++) {
        child_t *c = &R->children[i];
        s_close_output(c);
        if (c->log) fclose(c->log);
        for (int a = 0; c->argv[a]; a++) free(c->argv[a]);
        free(c->argv);
    }
    json_decref(R->first);
    json_decref(R->last);
}

/* Waits for children to exit (draining logs), up to timeout_ms. */
static void s_wait_children(launcher_t *R, const char *role, int timeout_ms) {
    int64_t end = util_now_ms() + timeout_ms;
    while (s_running(R, role) && util_now_ms() < end) {
        for (int i = 0; i < R->n_children; i++) s_drain(R, &R->children[i]);
        while (s_reap_one(R)) {
        }
        util_sleep_ms(10);
    }
}

static void s_stop_all(launcher_t *R) {
    s_signal_all(R, SIGTERM, NULL);
    s_wait_children(R, NULL, 5000);
    s_signal_all(R, SIGKILL, NULL);
    s_wait_children(R, NULL, 2000);
}

/* ---- main loop -------------------------------------------------------------------------- */

static void s_print_plan(const launcher_t *R) {
    const spar_config_t *c = &R->cfg;
    if (c->task.kind == TASK_GAME)
        printf("spar run: %s, %ld iterations of %s on %s games (n=%ld, %ld prompts, K=%ld), %ld judge(s), %ld actor(s)\n",
               c->run.name, c->run.iterations, config_name(CFG_NAMES_ALG, c->algorithm.name),
               config_name(CFG_NAMES_FAMILY, c->game.family), c->game.n, c->task.prompts, c->rollout.samples_per_prompt,
               c->judge.count, c->actor.count);
    else
        printf("spar run: %s, %ld iterations of %s on %s with a %s policy (init %s; %ld prompts, K=%ld), %ld judge(s), "
               "%ld actor(s)\n",
               c->run.name, c->run.iterations, config_name(CFG_NAMES_ALG, c->algorithm.name),
               config_name(CFG_NAMES_TASK, c->task.kind), config_name(CFG_NAMES_POLICY, c->policy.kind),
               config_name(CFG_NAMES_INIT, c->policy.init), c->task.prompts, c->rollout.samples_per_prompt,
               c->judge.count, c->actor.count);
    printf("spar run: run folder %s (logs in %s/logs)\n", R->run_dir, R->run_dir);
}

/* The learner, judge-0.. (each binding its own socket) and actor-0..; returns the learner. */
static child_t *s_add_children(launcher_t *R) {
    child_t *learner = s_add(R, "learner", -1, NULL);
    for (long j = 0; j < R->cfg.judge.count; j++) {
        char set[400];
        snprintf(set, sizeof set, "judge.bind=ipc://%s/judge-%ld", R->sock_dir, j);
        s_add(R, "judge", (int)j, set);
    }
    for (long a = 0; a < R->cfg.actor.count; a++) s_add(R, "actor", (int)a, NULL);
    return learner;
}

static int s_spawn_all(launcher_t *R) {
    for (int i = 0; i < R->n_children; i++)
        if (s_spawn(R, &R->children[i]) != 0) {
            fprintf(stderr, "spar run: cannot start %s: %s\n", R->children[i].name, strerror(errno));
            return -1;
        }
    return 0;
}

/* Waits up to 100 ms for output, then moves every child's into its log. */
static void s_poll_output(launcher_t *R) {
    struct pollfd pfd[MAX_CHILDREN];
    int n = 0;
    for (int i = 0; i < R->n_children; i++)
        if (R->children[i].out_fd >= 0) pfd[n++] = (struct pollfd){R->children[i].out_fd, POLLIN, 0};
    poll(pfd, (nfds_t)n, 100);
    for (int i = 0; i < R->n_children; i++) s_drain(R, &R->children[i]);
}

static void s_restart(launcher_t *R, child_t *c, const char *how) {
    c->restarts++;
    printf("spar run: %s ended with %s; restarting (restart %d)\n", c->name, how, c->restarts);
    s_close_output(c);
    if (s_spawn(R, c) != 0) printf("spar run: cannot restart %s: %s\n", c->name, strerror(errno));
}

/* What a child's exit means: the learner's ends the run (*status 0 when it completed); an actor
 * or judge that failed is restarted, at most actor.max_restarts times. Returns why the run
 * ends, or NULL while it goes on. */
static const char *s_on_exit(launcher_t *R, child_t *c, const child_t *learner, int *status) {
    char how[96];
    s_describe_exit(c->exit_status, how, sizeof how);
    int clean = WIFEXITED(c->exit_status) && WEXITSTATUS(c->exit_status) == 0;
    if (c == learner) {
        if (!clean) printf("spar run: the learner ended with %s (see %s/logs/learner.log)\n", how, R->run_dir);
        *status = clean ? 0 : 1;
        return clean ? "complete" : "learner failed";
    }
    if (clean) return NULL; /* told to stop */
    if (c->restarts >= R->cfg.actor.max_restarts) {
        printf("spar run: %s ended with %s; restart limit (%ld) reached\n", c->name, how, R->cfg.actor.max_restarts);
        if (!s_running(R, c->role)) return !strcmp(c->role, "judge") ? "no judge left" : "no actor left";
        return NULL;
    }
    s_restart(R, c, how);
    return NULL;
}

/* Until the learner ends, Ctrl-C, or no judge or no actor is left: logs, table rows, exits.
 * Returns the run's exit status; *why says why it ended. */
static int s_supervise(launcher_t *R, const child_t *learner, const char **why) {
    int status = 1;
    *why = NULL;
    while (!*why) {
        s_poll_output(R);
        s_tail_table(R);
        if (util_stop_requested()) {
            *why = "interrupted";
            return 130;
        }
        child_t *c;
        while (!*why && (c = s_reap_one(R))) *why = s_on_exit(R, c, learner, &status);
    }
    return status;
}

/* After a complete run the learner has told the actors: they get a moment, then actors and
 * judges are asked to stop; whatever still runs is stopped. */
static void s_shutdown(launcher_t *R, int status) {
    if (status == 0) {
        s_wait_children(R, "actor", 3000);
        s_signal_all(R, SIGTERM, "actor");
        s_signal_all(R, SIGTERM, "judge");
        s_wait_children(R, NULL, 5000);
    }
    s_stop_all(R);
}

static double s_num(json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

/* The last lines: the first and last iteration's figures of a complete run, else why it ended. */
static void s_print_outcome(const launcher_t *R, int status, const char *why, double wall) {
    json_t *first = R->first, *last = R->last;
    if (status == 0 && first && last && R->cfg.task.kind == TASK_PROMPTS) {
        printf("spar run: complete in %.1f s: win rate against the initial policy %.3f, mean length %.1f -> %.1f "
               "tokens (truncated %.3f -> %.3f), lost %lld\n",
               wall, s_num(last, "win_rate_vs_init"), s_num(first, "length_mean"), s_num(last, "length_mean"),
               s_num(first, "truncated"), s_num(last, "truncated"), json_integer_value(json_object_get(last, "lost")));
    } else if (status == 0 && first && last && R->cfg.task.kind != TASK_GAME) {
        printf("spar run: complete in %.1f s: accuracy %.3f -> %.3f (sampled %.3f -> %.3f), lost %lld\n", wall,
               s_num(first, "accuracy"), s_num(last, "accuracy"), s_num(first, "accuracy_sampled"),
               s_num(last, "accuracy_sampled"), json_integer_value(json_object_get(last, "lost")));
    } else if (status == 0 && first && last) {
        printf("spar run: complete in %.1f s: exploitability %.4f -> %.4f (average iterate %.4f), lost %lld\n", wall,
               s_num(first, "exploitability"), s_num(last, "exploitability"), s_num(last, "exploitability_avg"),
               json_integer_value(json_object_get(last, "lost")));
    } else {
        printf("spar run: %s after %.1f s; logs in %s/logs\n", why ? why : "failed", wall, R->run_dir);
    }
    printf("spar run: iterations in %s/iterations.jsonl\n", R->run_dir);
}

/* A prompt file with a bad line ends the run before any process starts (exit 2). */
static int s_check_prompt_file(const spar_config_t *cfg) {
    if (cfg->task.kind != TASK_PROMPTS) return 0;
    char why[600];
    prompt_set_t *s = prompt_set_load(cfg->task.file, cfg->task.heldout, (uint64_t)cfg->run.seed, why, sizeof why);
    if (!s) {
        fprintf(stderr, "spar run: task.file %s\n", why);
        return -1;
    }
    prompt_set_free(&s);
    return 0;
}

int launcher_run(args_t *args) {
    static launcher_t R;
    memset(&R, 0, sizeof R);
    R.args = args;
    util_install_stop_signals();
    if (s_check_prompt_file(&args->cfg) != 0) return 2;
    if (s_prepare(&R) != 0) return 1;
    double t0 = util_now_s();
    s_print_plan(&R);
    const child_t *learner = s_add_children(&R);
    if (s_spawn_all(&R) != 0) {
        s_stop_all(&R);
        s_cleanup(&R);
        return 1;
    }
    const char *why;
    int status = s_supervise(&R, learner, &why);
    s_shutdown(&R, status);
    s_tail_table(&R);
    s_print_outcome(&R, status, why, util_now_s() - t0);
    s_cleanup(&R);
    return status;
}
