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
#include "common/metrics.h"
#include "learner/text_metrics.h"

/* One pending end of iteration: what the worker reads and writes, never the learner. */
struct iterlog_job {
    uint64_t iteration;
    const learner_core_t *core;
    char *run_dir;
    const uint8_t *policy;
    size_t policy_len;
    ckpt_counters_t counters;
    json_t *head, *tail; /* the counters, taken on the learner's thread */
    json_t *metrics;     /* the worker's */
    int ckpt_rc;
    double ckpt_s, eval_s; /* the worker's times */
    int threaded;
    pthread_t thread;
    atomic_int done;
};

static json_t *s_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* The judge latency of the iteration's accepted groups: {"median": ms, "p99": ms}, null before
 * any group. */
static json_t *s_latency(const iter_stats_t *s) {
    double median, p99;
    iter_stats_latency(s, &median, &p99);
    if (!isfinite(median)) return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "median", json_real(median));
    json_object_set_new(o, "p99", json_real(p99));
    return o;
}

/* The exact metrics of the current policy (the worker's part besides the checkpoint). */
static json_t *s_metrics(const learner_core_t *c, uint64_t iteration) {
    json_t *o = json_object();
    if (c->chat_eval) {
        chat_metrics_t m;
        chat_metrics(c->chat_eval, c->theta, c->ref, iteration, &m);
        json_object_set_new(o, "win_rate_vs_init", s_num(m.win_rate_vs_init));
        json_object_set_new(o, "position_bias", s_num(m.position_bias));
        json_object_set_new(o, "length_mean", m.n ? s_num(m.length_mean) : json_null());
        json_object_set_new(o, "length_p50", m.n ? s_num(m.length_p50) : json_null());
        json_object_set_new(o, "length_p90", m.n ? s_num(m.length_p90) : json_null());
        json_object_set_new(o, "truncated", m.n ? s_num(m.truncated) : json_null());
        json_object_set_new(o, "kl_to_ref", m.n ? s_num(m.kl_to_ref) : json_null());
    } else if (c->gpt) {
        text_metrics_t m;
        text_metrics(c->eval, c->theta, c->ref, iteration, &m);
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
        metrics_tabular(&c->games, c->theta, c->ref, c->ref, &c->avg, c->tau, c->nash_tau, &m);
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
static int s_write_checkpoint(const struct iterlog_job *j) {
    int rc, pause_ms = 100;
    for (int attempt = 1; (rc = ckpt_write(j->core, j->run_dir, j->policy, j->policy_len, &j->counters)) != 0 &&
                          !util_stop_requested();
         attempt++) {
        log_warn("checkpoint of iteration %llu not written (attempt %d): retrying in %d ms",
                 (unsigned long long)j->counters.iteration, attempt, pause_ms);
        util_sleep_ms(pause_ms);
        pause_ms = pause_ms < 5000 ? 2 * pause_ms : 5000;
    }
    return rc;
}

static void *s_work(void *arg) {
    struct iterlog_job *j = arg;
    double t0 = util_now_s();
    j->ckpt_rc = s_write_checkpoint(j);
    double t1 = util_now_s();
    j->metrics = j->ckpt_rc == 0 ? s_metrics(j->core, j->iteration) : NULL;
    j->ckpt_s = t1 - t0;
    j->eval_s = util_now_s() - t1;
    atomic_store(&j->done, 1);
    return NULL;
}

void iterlog_init(iterlog_t *log, FILE *jsonl, iterlog_emit_fn emit, void *emit_arg) {
    *log = (iterlog_t){NULL, jsonl, emit, emit_arg};
}

int iterlog_pending(const iterlog_t *log) { return log->job != NULL; }

/* The line's fields besides the metrics, in their order: the head before them, the tail after. */
static void s_counters(const iterlog_input_t *in, json_t *h, json_t *t) {
    uint64_t it = in->counters.iteration;
    const iter_stats_t *s = in->stats;
    const train_result_t *tr = in->tr;
    json_object_set_new(h, "iteration", json_integer((json_int_t)it));
    json_object_set_new(h, "policy_version", json_integer((json_int_t)in->counters.version));
    json_object_set_new(h, "algorithm", json_string(config_name(CFG_NAMES_ALG, in->cfg->algorithm.name)));
    json_object_set_new(h, "prompts", json_integer(it ? in->cfg->task.prompts : 0));
    json_object_set_new(h, "samples", json_integer((json_int_t)s->samples));
    json_object_set_new(h, "judge_queries", json_integer((json_int_t)s->judge_queries));
    json_object_set_new(h, "loss", tr ? s_num(tr->loss) : json_null());
    json_object_set_new(h, "loss_initial", tr ? s_num(tr->loss_initial) : json_null());
    json_object_set_new(t, "lost", json_integer(in->lost));
    json_object_set_new(t, "judge_latency_ms", s_latency(s));
    json_object_set_new(t, "judge_retries", json_integer((json_int_t)s->judge_retries));
    json_object_set_new(t, "judge_failures", json_integer((json_int_t)s->judge_failures));
    json_object_set_new(t, "judge_tie_rate", s->pairs ? s_num((double)s->ties / (double)s->pairs) : json_null());
    json_object_set_new(t, "stale_dropped", json_integer((json_int_t)s->stale_dropped));
    json_object_set_new(t, "leases_reissued", json_integer(in->leases_reissued));
    json_t *lag = json_array();
    for (int i = 0; i < s->n_lag; i++) json_array_append_new(lag, json_integer((json_int_t)s->lag[i]));
    json_object_set_new(t, "version_lag", lag);
    json_object_set_new(t, "bad_messages", json_integer((json_int_t)in->bad_messages));
    json_object_set_new(t, "samples_per_s", in->collect_s > 0 ? s_num((double)s->samples / in->collect_s) : json_null());
    json_object_set_new(t, "actors", json_integer(in->actors));
    json_object_set_new(t, "delivery_ms", it ? s_num(s->delivery_ms) : json_null());
    json_object_set_new(t, "wall_s", s_num(in->wall_s));
    /* where the iteration's time went: actors' sampling and judges' answers summed over the
     * groups (they overlap across actors), the learner's own parts as measured */
    json_t *time = json_object();
    json_object_set_new(time, "collect", s_num(in->collect_s));
    json_object_set_new(time, "sampling", s_num(s->sample_ms / 1e3));
    json_object_set_new(time, "judging", s_num(s->judge_ms / 1e3));
    json_object_set_new(time, "frozen_logprobs", tr ? s_num(tr->frozen_s) : json_null());
    json_object_set_new(time, "training", tr ? s_num(tr->fit_s) : json_null());
    json_object_set_new(t, "time_s", time);
}

void iterlog_start(iterlog_t *log, const iterlog_input_t *in) {
    iterlog_finish(log, 1); /* one at a time (the caller has waited already) */
    struct iterlog_job *j = xcalloc(1, sizeof *j);
    j->iteration = in->counters.iteration;
    j->core = in->core;
    j->run_dir = xstrdup(in->run_dir);
    j->policy = in->policy;
    j->policy_len = in->policy_len;
    j->counters = in->counters;
    j->head = json_object();
    j->tail = json_object();
    s_counters(in, j->head, j->tail);
    log->job = j;
    j->threaded = in->tr && in->may_thread && pthread_create(&j->thread, NULL, s_work, j) == 0;
    if (!j->threaded) s_work(j);
}

int iterlog_finish(iterlog_t *log, int wait) {
    struct iterlog_job *j = log->job;
    if (!j) return 0;
    if (!wait && !atomic_load(&j->done)) return 1;
    if (j->threaded) pthread_join(j->thread, NULL);
    log->job = NULL;
    int rc = j->ckpt_rc;
    if (rc == 0) {
        json_t *o = j->head, *time = json_object_get(j->tail, "time_s");
        json_object_set_new(time, "checkpoint", s_num(j->ckpt_s));
        json_object_set_new(time, "evaluation", s_num(j->eval_s));
        json_object_update(o, j->metrics);
        json_object_update(o, j->tail);
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        fprintf(log->jsonl, "%s\n", line);
        fflush(log->jsonl);
        fsync(fileno(log->jsonl));
        log->emit(log->emit_arg, j->iteration, line);
        free(line);
    }
    json_decref(j->head);
    json_decref(j->tail);
    json_decref(j->metrics);
    free(j->run_dir);
    free(j);
    return rc == 0 ? 0 : -1;
}
