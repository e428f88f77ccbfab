/* iterlog — see iterlog.h. */
#include "learner/iterlog.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/task_styles.h"
#include "common/util.h"
#include "learner/checkpoint.h"
#include "learner/peers.h"
#include "learner/status.h"

/* One pending end of iteration. */
struct iterlog_job {
    uint64_t iteration;
    ckpt_counters_t counters;
    json_t *head, *tail; /* the counters, taken on the learner's thread */
    json_t *metrics;     /* the worker's */
    int ckpt_rc;
    int threaded;
    pthread_t thread;
    atomic_int done;
};

static json_t *s_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* The judge latency of the iteration's accepted groups: {"median": ms, "p99": ms}, null before
 * any group. */
static json_t *s_latency(const learner_t *L) {
    double median, p99;
    status_latency(L, &median, &p99);
    if (!isfinite(median)) return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "median", json_real(median));
    json_object_set_new(o, "p99", json_real(p99));
    return o;
}

/* The exact metrics of the current policy (the worker's part besides the checkpoint). */
static json_t *s_metrics(learner_t *L, uint64_t iteration) {
    json_t *o = json_object();
    if (L->core.gpt) {
        text_metrics_t m;
        text_metrics(L->core.eval, L->core.theta, L->core.ref, iteration, &m);
        json_object_set_new(o, "accuracy", s_num(m.accuracy));
        if (isfinite(m.judge_win_rate)) {
            json_object_set_new(o, "judge_win_rate", s_num(m.judge_win_rate));
            json_object_set_new(o, "rule_win_rate", s_num(m.rule_win_rate));
        }
        json_object_set_new(o, "accuracy_sampled", s_num(m.accuracy_sampled));
        json_object_set_new(o, "kl_to_ref", s_num(m.kl_to_ref));
        if (m.styles) {
            json_t *st = json_object();
            for (int i = 0; i < STYLES; i++) json_object_set_new(st, styles_name[i], s_num(m.style[i]));
            json_object_set_new(o, "styles", st);
            json_object_set_new(o, "style_exploitability", s_num(m.style_exploitability));
        }
    } else {
        metrics_t m;
        metrics_tabular(&L->core.games, L->core.theta, L->core.ref, L->core.ref, &L->core.avg, L->core.tau, L->core.nash_tau, &m);
        json_object_set_new(o, "kl_to_ref", s_num(m.kl_to_ref));
        json_object_set_new(o, "win_rate_vs_init", s_num(m.win_rate_vs_init));
        json_object_set_new(o, "exploitability", s_num(m.exploitability));
        json_object_set_new(o, "exploitability_avg", s_num(m.exploitability_avg));
        json_object_set_new(o, "exploitability_tau", s_num(m.exploitability_tau));
        json_object_set_new(o, "kl_to_nash_tau", s_num(m.kl_to_nash_tau));
        json_object_set_new(o, "condorcet_top", s_num(m.condorcet_top));
    }
    return o;
}

/* A checkpoint that cannot be written (a full disk, no descriptor free) is retried, with a
 * growing pause, until it is written or the learner is told to stop: it never ends a run. */
static int s_write_checkpoint(learner_t *L, const ckpt_counters_t *c) {
    int rc, pause_ms = 100;
    for (int attempt = 1; (rc = ckpt_write(L, c)) != 0 && !util_stop_requested(); attempt++) {
        log_warn("checkpoint of iteration %llu not written (attempt %d): retrying in %d ms",
                 (unsigned long long)c->iteration, attempt, pause_ms);
        util_sleep_ms(pause_ms);
        pause_ms = pause_ms < 5000 ? 2 * pause_ms : 5000;
    }
    return rc;
}

static void *s_work(void *arg) {
    learner_t *L = arg;
    struct iterlog_job *j = L->iterlog;
    j->ckpt_rc = s_write_checkpoint(L, &j->counters);
    j->metrics = j->ckpt_rc == 0 ? s_metrics(L, j->iteration) : NULL;
    atomic_store(&j->done, 1);
    return NULL;
}

void iterlog_start(learner_t *L, const train_result_t *tr, double wall_s, double collect_s, int lost) {
    iterlog_finish(L, 1); /* one at a time (the caller has waited already) */
    struct iterlog_job *j = xcalloc(1, sizeof *j);
    uint64_t it = L->iteration;
    j->iteration = it;
    j->counters = ckpt_counters(L);
    json_t *h = j->head = json_object(), *t = j->tail = json_object();
    json_object_set_new(h, "iteration", json_integer((json_int_t)it));
    json_object_set_new(h, "policy_version", json_integer((json_int_t)L->core.version));
    json_object_set_new(h, "algorithm", json_string(config_name(CFG_NAMES_ALG, L->cfg->algorithm.name)));
    json_object_set_new(h, "prompts", json_integer(it ? L->cfg->task.prompts : 0));
    json_object_set_new(h, "samples", json_integer((json_int_t)L->samples));
    json_object_set_new(h, "judge_queries", json_integer((json_int_t)L->judge_queries));
    json_object_set_new(h, "loss", tr ? s_num(tr->loss) : json_null());
    json_object_set_new(h, "loss_initial", tr ? s_num(tr->loss_initial) : json_null());
    json_object_set_new(t, "lost", json_integer(lost));
    json_object_set_new(t, "judge_latency_ms", s_latency(L));
    json_object_set_new(t, "judge_retries", json_integer((json_int_t)L->judge_retries));
    json_object_set_new(t, "judge_failures", json_integer((json_int_t)L->judge_failures));
    json_object_set_new(t, "stale_dropped", json_integer((json_int_t)L->stale_dropped));
    json_object_set_new(t, "leases_reissued", json_integer(L->leases.reissued));
    json_t *lag = json_array();
    for (long i = 0; i <= L->max_staleness; i++) json_array_append_new(lag, json_integer((json_int_t)L->lag_hist[i]));
    json_object_set_new(t, "version_lag", lag);
    json_object_set_new(t, "bad_messages", json_integer((json_int_t)peers_bad_messages(L)));
    json_object_set_new(t, "samples_per_s", collect_s > 0 ? s_num((double)L->samples / collect_s) : json_null());
    json_object_set_new(t, "actors", json_integer(peers_live_actors(L)));
    json_object_set_new(t, "delivery_ms", it ? s_num(L->iter_delivery_ms) : json_null());
    json_object_set_new(t, "wall_s", s_num(wall_s));
    L->iterlog = j;
    /* a worker only where nothing trains during collection (the synchronous mode), and not for
     * the initial line (nothing to overlap it with) */
    j->threaded = tr && !L->online && L->pub && pthread_create(&j->thread, NULL, s_work, L) == 0;
    if (!j->threaded) s_work(L);
}

int iterlog_finish(learner_t *L, int wait) {
    struct iterlog_job *j = L->iterlog;
    if (!j) return 0;
    if (!wait && !atomic_load(&j->done)) return 1;
    if (j->threaded) pthread_join(j->thread, NULL);
    L->iterlog = NULL;
    int rc = j->ckpt_rc;
    if (rc == 0) {
        json_t *o = j->head;
        json_object_update(o, j->metrics);
        json_object_update(o, j->tail);
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        fprintf(L->jsonl, "%s\n", line);
        fflush(L->jsonl);
        fsync(fileno(L->jsonl));
        status_line(L, line);
        Spar__IterationSummary s = SPAR__ITERATION_SUMMARY__INIT;
        s.iteration = j->iteration;
        s.json = line;
        Spar__Envelope env = SPAR__ENVELOPE__INIT;
        env.body_case = SPAR__ENVELOPE__BODY_ITERATION_SUMMARY;
        env.iteration_summary = &s;
        learner_publish(L, &env);
        free(line);
    }
    json_decref(j->head);
    json_decref(j->tail);
    json_decref(j->metrics);
    free(j);
    return rc == 0 ? 0 : -1;
}
