/* Tools that read a run: `spar plot` and `spar monitor`. A real short run (judge, learner and
 * one actor on ipc:// sockets in a private folder) is made once for the whole suite; the tests
 * draw it as PNG and SVG, refuse malformed logs with FILE:LINE, show its iteration table, and
 * show a live status from a status.json and from a stand-in learner that answers StatusRequest
 * (the real learner's answer is tested where it is implemented). */
#include "tests/testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/util.h"
#include "common/wire.h"

#define RUN_ITERATIONS 4

typedef struct {
    char *dir, *run, *jsonl;
} suite_t;

static suite_t S;

/* The status.json of the brief that defines it, field for field. */
static const char STATUS_EXAMPLE[] =
    "{\"run_id\": \"quickstart-1764\", \"run_dir\": \"runs/quickstart\", \"updated_unix_ms\": 1764000000000,\n"
    " \"state\": \"collecting\", \"iteration\": 7, \"iterations\": 30, \"version\": 6, \"algorithm\": \"sppo\",\n"
    " \"prompts_done\": 10, \"prompts\": 16,\n"
    " \"peers\": [{\"id\": \"actor-1\", \"role\": \"actor\", \"version\": 6, \"state\": \"working\",\n"
    "            \"last_seen_s\": 0.2, \"groups\": 120, \"groups_per_s\": 34.5},\n"
    "           {\"id\": \"judge-0\", \"role\": \"judge\", \"version\": null, \"state\": \"idle\",\n"
    "            \"last_seen_s\": 1.5, \"groups\": null, \"groups_per_s\": null}],\n"
    " \"version_lag\": [16, 0], \"judge_latency_ms\": {\"median\": 0.4, \"p99\": 1.2}, \"bad_messages\": 0}\n";

static int s_suite_setup(void **state) {
    (void)state;
    S.dir = tu_tmpdir();
    S.run = xasprintf("%s/run", S.dir);
    S.jsonl = xasprintf("%s/iterations.jsonl", S.run);
    char *cfg = xasprintf("%s/cfg.yaml", S.dir);
    char *yaml = xasprintf("run:\n  name: tools\n  dir: %s\n  iterations: %d\ntask:\n  prompts: 4\n"
                           "rollout:\n  samples_per_prompt: 16\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n"
                           "judge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n",
                           S.run, RUN_ITERATIONS, S.dir, S.dir, S.dir, S.dir);
    tu_write(cfg, yaml);
    char *logs[3] = {xasprintf("%s/judge.log", S.dir), xasprintf("%s/learner.log", S.dir),
                     xasprintf("%s/actor.log", S.dir)};
    pid_t judge = tu_spawn(NULL, logs[0], SPAR_BIN, "judge", "--config", cfg, "--id", "judge-0", NULL);
    pid_t learner = tu_spawn(NULL, logs[1], SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL);
    pid_t actor = tu_spawn(NULL, logs[2], SPAR_BIN, "actor", "--config", cfg, "--id", "actor-0", NULL);
    int ok = tu_exit_code(tu_wait(learner, 120000)) == 0;
    ok &= tu_exit_code(tu_wait(actor, 20000)) == 0;
    kill(judge, SIGTERM);
    ok &= tu_exit_code(tu_wait(judge, 20000)) == 0;
    if (!ok)
        for (int i = 0; i < 3; i++) tu_dump(logs[i]);
    for (int i = 0; i < 3; i++) free(logs[i]);
    free(yaml), free(cfg);
    return ok && util_file_exists(S.jsonl) ? 0 : -1;
}

static int s_suite_teardown(void **state) {
    (void)state;
    free(S.run), free(S.jsonl);
    tu_done(S.dir);
    return 0;
}

/* Runs `spar ARGS...` (NULL-terminated) with its output in S.dir/out.log; returns the exit
 * code and the output (caller frees). A sanitizer report in the output fails the test. */
static int s_spar(char **out, ...) {
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)SPAR_BIN;
    va_list ap;
    va_start(ap, out);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 31) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    char *log = xasprintf("%s/out.log", S.dir);
    unlink(log);
    int code = tu_exit_code(tu_wait(tu_spawnv(NULL, log, argv), 30000));
    *out = util_read_file(log, NULL);
    if (!*out) *out = xstrdup("");
    if (strstr(*out, "Sanitizer") || strstr(*out, "runtime error:")) fail_msg("a sanitizer report:\n%s", *out);
    free(log);
    return code;
}

/* A folder holding the run's iterations.jsonl, for tests that add a status.json or break it. */
static char *s_copy_run(const char *name) {
    char *d = xasprintf("%s/%s", S.dir, name), *p = xasprintf("%s/iterations.jsonl", d);
    assert_int_equal(util_mkdirs(d), 0);
    size_t len;
    char *text = util_read_file(S.jsonl, &len);
    assert_non_null(text);
    tu_write(p, text);
    free(text), free(p);
    return d;
}

static long s_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* ---- plot ------------------------------------------------------------------------------- */

static void test_tools_plot_png(void **state) {
    (void)state;
    char *png = xasprintf("%s/curves.png", S.dir), *out;
    int code = s_spar(&out, "plot", S.run, "--out", png, NULL);
    if (code != 0) fprintf(stderr, "%s", out);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "wrote"));
    size_t len = 0;
    char *data = util_read_file(png, &len);
    assert_non_null(data);
    assert_true(len > 10000); /* panels with axes, curves and keys, not an empty canvas */
    assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
    free(data), free(out);
    /* without --out: RUN_DIR/plot.png */
    char *def = xasprintf("%s/plot.png", S.run);
    assert_int_equal(s_spar(&out, "plot", S.run, NULL), 0);
    assert_true(s_size(def) > 10000);
    unlink(def);
    free(def), free(out), free(png);
}

static void test_tools_plot_svg(void **state) {
    (void)state;
    char *svg = xasprintf("%s/curves.svg", S.dir), *out;
    assert_int_equal(s_spar(&out, "plot", S.run, "--out", svg, NULL), 0);
    char *text = util_read_file(svg, NULL);
    assert_non_null(text);
    assert_true(strlen(text) > 10000);
    assert_non_null(strstr(text, "<svg"));
    assert_non_null(strstr(text, "</svg>"));
    assert_non_null(strstr(text, "exploitability_avg")); /* a curve's key */
    free(text), free(out), free(svg);
}

static void test_tools_plot_refuses_bad_input(void **state) {
    (void)state;
    char *out, *bad = s_copy_run("bad"), *jsonl = xasprintf("%s/iterations.jsonl", bad);
    char *png = xasprintf("%s/x.png", bad);
    /* line 3 broken */
    char *text = util_read_file(S.jsonl, NULL);
    char *third = strchr(strchr(text, '\n') + 1, '\n') + 1;
    char *broken =
        xasprintf("%.*s{\"iteration\": 2, \"loss\": \n%s", (int)(third - text), text, strchr(third, '\n') + 1);
    tu_write(jsonl, broken);
    char *where = xasprintf("%s:3", jsonl);
    assert_int_equal(s_spar(&out, "plot", bad, "--out", png, NULL), 2);
    if (!strstr(out, where)) fprintf(stderr, "%s", out);
    assert_non_null(strstr(out, where));
    assert_false(util_file_exists(png));
    free(out), free(broken);
    /* a field of the wrong type, line 2 */
    char *second = strchr(text, '\n') + 1;
    broken = xasprintf("%.*s{\"iteration\": 1, \"loss\": \"low\"}\n%s", (int)(second - text), text, third);
    tu_write(jsonl, broken);
    free(where);
    where = xasprintf("%s:2: loss", jsonl);
    assert_int_equal(s_spar(&out, "plot", bad, "--out", png, NULL), 2);
    assert_non_null(strstr(out, where));
    free(out);
    /* no run folder; a folder without iterations.jsonl; an unknown format */
    char *none = xasprintf("%s/no-such-run", S.dir);
    assert_int_equal(s_spar(&out, "plot", none, NULL), 2);
    assert_non_null(strstr(out, "no such run folder"));
    free(out);
    unlink(jsonl);
    assert_int_equal(s_spar(&out, "plot", bad, NULL), 2);
    assert_non_null(strstr(out, "iterations.jsonl: missing"));
    free(out);
    assert_int_equal(s_spar(&out, "plot", S.run, "--out", "x.pdf", NULL), 2);
    assert_non_null(strstr(out, ".png or .svg"));
    free(out);
    free(none), free(where), free(broken), free(text), free(png), free(jsonl), free(bad);
}

static void test_tools_plot_without_gnuplot(void **state) {
    (void)state;
    char *old = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    char *empty = xasprintf("%s/empty-path", S.dir), *png = xasprintf("%s/nognuplot.png", S.dir), *out;
    assert_int_equal(util_mkdirs(empty), 0);
    setenv("PATH", empty, 1);
    int code = s_spar(&out, "plot", S.run, "--out", png, NULL);
    setenv("PATH", old, 1);
    assert_int_equal(code, 2);
    assert_non_null(strstr(out, "gnuplot-nox"));
    assert_false(util_file_exists(png));
    free(out), free(png), free(empty), free(old);
}

/* ---- monitor: a run folder -------------------------------------------------------------- */

static void test_tools_monitor_run_dir_once(void **state) {
    (void)state;
    char *out, row[32], before[32];
    snprintf(row, sizeof row, "\n%5d %4d ", RUN_ITERATIONS, RUN_ITERATIONS);
    snprintf(before, sizeof before, "\n%5d %4d ", RUN_ITERATIONS - 2, RUN_ITERATIONS - 2);
    int code = s_spar(&out, "monitor", S.run, "--once", NULL);
    if (code != 0 || !strstr(out, row)) fprintf(stderr, "%s", out);
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, " iter  ver"));
    assert_non_null(strstr(out, "expl_avg"));
    assert_non_null(strstr(out, "samples/s"));
    assert_non_null(strstr(out, row));    /* the run's last iteration */
    assert_non_null(strstr(out, before)); /* and the ones before */
    assert_non_null(strstr(out, "version lag"));
    /* the learner has ended: no status.json, or the one it left, shown */
    assert_true(strstr(out, "no live status (status.json missing") || strstr(out, "\nstate "));
    free(out);
    /* --iterations 2: only the last two */
    assert_int_equal(s_spar(&out, "monitor", S.run, "--once", "--iterations", "2", NULL), 0);
    assert_non_null(strstr(out, row));
    assert_null(strstr(out, before));
    free(out);
}

static void test_tools_monitor_status_json(void **state) {
    (void)state;
    char *d = s_copy_run("live"), *path = xasprintf("%s/status.json", d), *out;
    tu_write(path, STATUS_EXAMPLE);
    assert_int_equal(s_spar(&out, "monitor", d, "--once", NULL), 0);
    const char *want[] = {"run quickstart-1764  runs/quickstart  sppo",
                          "state collecting  iteration 7/30  version 6  prompts 10/16  bad messages 0",
                          "actor-1", "working", "0.2 s", "34.5", "judge-0", "idle",
                          "median 0.40 ms, p99 1.20 ms", "lag 0  | ######################################## 16",
                          "lag 1  |                                          0"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(out, want[i])) fprintf(stderr, "missing '%s' in:\n%s", want[i], out);
        assert_non_null(strstr(out, want[i]));
    }
    free(out);
    /* nulls and missing fields are shown as "-" */
    tu_write(path, "{\"run_id\": null, \"state\": \"training\", \"peers\": [{\"id\": \"actor-9\", \"version\": null}],"
                   " \"version_lag\": null, \"judge_latency_ms\": null}");
    assert_int_equal(s_spar(&out, "monitor", d, "--once", NULL), 0);
    assert_non_null(strstr(out, "run -"));
    assert_non_null(strstr(out, "iteration -/-"));
    assert_non_null(strstr(out, "actor-9"));
    assert_non_null(strstr(out, "version lag: -"));
    assert_non_null(strstr(out, "judge latency: -"));
    free(out);
    /* a status.json that is not JSON is named, and the table still shows */
    tu_write(path, "{\"run_id\": ");
    assert_int_equal(s_spar(&out, "monitor", d, "--once", NULL), 0);
    assert_non_null(strstr(out, "no live status"));
    assert_non_null(strstr(out, " iter  ver"));
    free(out), free(path), free(d);
}

static void test_tools_monitor_refuses_bad_arguments(void **state) {
    (void)state;
    char *out, *none = xasprintf("%s/no-such-run", S.dir);
    assert_int_equal(s_spar(&out, "monitor", none, "--once", NULL), 2);
    assert_non_null(strstr(out, "no such run folder"));
    free(out);
    assert_int_equal(s_spar(&out, "monitor", S.run, "--interval", "0", NULL), 2);
    free(out);
    assert_int_equal(s_spar(&out, "monitor", S.run, "--iterations", "x", NULL), 2);
    free(out);
    assert_int_equal(s_spar(&out, "monitor", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: spar monitor"));
    free(out), free(none);
}

/* ---- monitor: an endpoint --------------------------------------------------------------- */

static void test_tools_monitor_endpoint_no_answer(void **state) {
    (void)state;
    char *ep = xasprintf("ipc://%s/nobody-here", S.dir), *out;
    int64_t t0 = util_now_ms();
    assert_int_equal(s_spar(&out, "monitor", ep, "--once", NULL), 1);
    int64_t took = util_now_ms() - t0;
    assert_non_null(strstr(out, "no answer from"));
    assert_non_null(strstr(out, ep));
    assert_true(took >= 1900 && took < 10000);
    free(out), free(ep);
}

/* A stand-in learner on a ROUTER: answers heartbeats as a learner and, when `status`, a
 * StatusRequest with STATUS_EXAMPLE and the run's iteration lines. */
typedef struct {
    void *ctx, *sock;
    int status;
    volatile int stop;
    uint32_t asked; /* the iterations the last StatusRequest asked for */
    char **lines;
    size_t n_lines;
} fake_t;

static void *s_fake_learner(void *arg) {
    fake_t *F = arg;
    wire_t w;
    wire_init(&w, "learner", 1 << 20);
    while (!F->stop) {
        zmq_pollitem_t it = {F->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) <= 0) continue;
        wire_peer_t peer;
        Spar__Envelope *in = wire_recv(&w, F->sock, 1, &peer);
        if (!in) continue;
        Spar__Envelope env = SPAR__ENVELOPE__INIT;
        Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
        Spar__Status st = SPAR__STATUS__INIT;
        if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
            hb.role = SPAR__ROLE__ROLE_LEARNER;
            env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
            env.heartbeat = &hb;
            wire_send(&w, F->sock, &peer, &env);
        } else if (in->body_case == SPAR__ENVELOPE__BODY_STATUS_REQUEST && F->status) {
            F->asked = in->status_request->iterations;
            size_t n = F->asked < F->n_lines ? F->asked : F->n_lines;
            st.json = (char *)STATUS_EXAMPLE;
            st.iterations = F->lines + (F->n_lines - n);
            st.n_iterations = n;
            env.body_case = SPAR__ENVELOPE__BODY_STATUS;
            env.status = &st;
            wire_send(&w, F->sock, &peer, &env);
        }
        wire_free(in);
    }
    return NULL;
}

static void s_fake_start(fake_t *F, pthread_t *th, const char *ep, int status) {
    memset(F, 0, sizeof *F);
    F->status = status;
    char *text = util_read_file(S.jsonl, NULL);
    assert_non_null(text);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        F->lines = xrealloc(F->lines, (F->n_lines + 1) * sizeof *F->lines);
        F->lines[F->n_lines++] = xstrdup(l);
    }
    free(text);
    F->ctx = zmq_ctx_new();
    F->sock = zmq_socket(F->ctx, ZMQ_ROUTER);
    wire_socket_defaults(F->sock, 64 << 20);
    assert_int_equal(zmq_bind(F->sock, ep), 0); /* bound before the monitor starts */
    assert_int_equal(pthread_create(th, NULL, s_fake_learner, F), 0);
}

static void s_fake_stop(fake_t *F, pthread_t th) {
    F->stop = 1;
    pthread_join(th, NULL);
    zmq_close(F->sock);
    zmq_ctx_term(F->ctx);
    for (size_t i = 0; i < F->n_lines; i++) free(F->lines[i]);
    free(F->lines);
}

static void test_tools_monitor_endpoint_status(void **state) {
    (void)state;
    char *ep = xasprintf("ipc://%s/fake-learner", S.dir), *out, row[32], before[32];
    fake_t F;
    pthread_t th;
    s_fake_start(&F, &th, ep, 1);
    int code = s_spar(&out, "monitor", ep, "--once", "--iterations", "3", NULL);
    s_fake_stop(&F, th);
    if (code != 0) fprintf(stderr, "%s", out);
    assert_int_equal(code, 0);
    assert_int_equal(F.asked, 3);
    snprintf(row, sizeof row, "\n%5d %4d ", RUN_ITERATIONS, RUN_ITERATIONS);
    snprintf(before, sizeof before, "\n%5d %4d ", RUN_ITERATIONS - 3, RUN_ITERATIONS - 3);
    assert_non_null(strstr(out, row));
    assert_null(strstr(out, before));
    assert_non_null(strstr(out, "state collecting  iteration 7/30"));
    assert_non_null(strstr(out, "actor-1"));
    assert_non_null(strstr(out, "median 0.40 ms"));
    free(out), free(ep);
}

static void test_tools_monitor_endpoint_without_status(void **state) {
    (void)state;
    char *ep = xasprintf("ipc://%s/old-learner", S.dir), *out;
    fake_t F;
    pthread_t th;
    s_fake_start(&F, &th, ep, 0);
    int code = s_spar(&out, "monitor", ep, "--once", NULL);
    s_fake_stop(&F, th);
    assert_int_equal(code, 1);
    assert_non_null(strstr(out, "no answer from"));
    assert_non_null(strstr(out, "answers heartbeats as a learner"));
    free(out), free(ep);
}

/* The real learner answers a monitor at its control endpoint while the run is live: its state,
 * the actor it tracks, and status.json in the run folder says the same. */
static void test_tools_monitor_live_learner(void **state) {
    (void)state;
    char *cfg = xasprintf("%s/live.yaml", S.dir), *run = xasprintf("%s/liverun", S.dir), *out;
    char *yaml = xasprintf("run:\n  name: live\n  dir: %s\n  iterations: 60\ntask:\n  prompts: 4\n"
                           "rollout:\n  samples_per_prompt: 16\nactor:\n  delay_ms: 50\n"
                           "learner:\n  control: ipc://%s/lctl\n  publish: ipc://%s/lpub\n"
                           "judge:\n  bind: ipc://%s/ljudge\n  endpoints: ipc://%s/ljudge\n",
                           run, S.dir, S.dir, S.dir, S.dir);
    tu_write(cfg, yaml);
    char *logs[3] = {xasprintf("%s/ljudge.log", S.dir), xasprintf("%s/llearner.log", S.dir),
                     xasprintf("%s/lactor.log", S.dir)};
    pid_t judge = tu_spawn(NULL, logs[0], SPAR_BIN, "judge", "--config", cfg, "--id", "judge-live", NULL);
    pid_t learner = tu_spawn(NULL, logs[1], SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL);
    pid_t actor = tu_spawn(NULL, logs[2], SPAR_BIN, "actor", "--config", cfg, "--id", "actor-live", NULL);
    char *jsonl = xasprintf("%s/iterations.jsonl", run), *ep = xasprintf("ipc://%s/lctl", S.dir);
    assert_int_equal(tu_wait_lines(jsonl, 3, 60000), 0);
    int code = s_spar(&out, "monitor", ep, "--once", NULL);
    if (code != 0) {
        fprintf(stderr, "%s", out);
        for (int i = 0; i < 3; i++) tu_dump(logs[i]);
    }
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "actor-live"));
    assert_non_null(strstr(out, "state collecting") ? strstr(out, "state collecting") : strstr(out, "state training"));
    free(out);
    code = s_spar(&out, "monitor", run, "--once", NULL); /* the same through status.json */
    assert_int_equal(code, 0);
    assert_non_null(strstr(out, "actor-live"));
    free(out);
    kill(learner, SIGTERM);
    tu_wait(learner, 20000);
    kill(actor, SIGTERM);
    tu_wait(actor, 20000);
    kill(judge, SIGTERM);
    tu_wait(judge, 20000);
    for (int i = 0; i < 3; i++) free(logs[i]);
    free(jsonl), free(ep), free(yaml), free(cfg), free(run);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tools_plot_png),
        cmocka_unit_test(test_tools_plot_svg),
        cmocka_unit_test(test_tools_plot_refuses_bad_input),
        cmocka_unit_test(test_tools_plot_without_gnuplot),
        cmocka_unit_test(test_tools_monitor_run_dir_once),
        cmocka_unit_test(test_tools_monitor_status_json),
        cmocka_unit_test(test_tools_monitor_refuses_bad_arguments),
        cmocka_unit_test(test_tools_monitor_endpoint_no_answer),
        cmocka_unit_test(test_tools_monitor_endpoint_status),
        cmocka_unit_test(test_tools_monitor_endpoint_without_status),
        cmocka_unit_test(test_tools_monitor_live_learner),
    };
    return cmocka_run_group_tests(tests, s_suite_setup, s_suite_teardown);
}
