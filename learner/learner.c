/* learner — see learner.h. The role's main as a table of contents: the config's run folder,
 * a fresh start or a resume, the sockets, the initial line, the iterations, the shutdown
 * phase, teardown. The parts are in service.h. */
#include "learner/learner.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "learner/resume.h"
#include "learner/service.h"

static int64_t s_grace_over(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)id, (void)now, (void)arg;
    loop_stop(loop);
    return LOOP_TIMER_DONE;
}

/* After the last iteration: tell actors the run is over, then go. */
static void s_shutdown_phase(learner_service_t *L) {
    L->finished = 1;
    L->status.state = "finished";
    learner_tick(L);
    learner_send_shutdown(L, NULL, "run complete");
    /* the whole grace, even once every known actor was told: an actor that started with the
     * run but had not joined yet (a fast run, its connection still coming up) says Hello within
     * it and is told too, instead of waiting for a learner that is gone */
    loop_add_timer(L->net.loop, util_now_ms() + L->cfg->learner.shutdown_grace_ms, s_grace_over, NULL);
    loop_run(L->net.loop);
}

/* The wire under this process's id, a new run id, the peer table, the stop signals. */
static void s_init(learner_service_t *L, const spar_config_t *cfg) {
    memset(L, 0, sizeof *L);
    L->cfg = cfg;
    char id[128];
    util_process_id("learner", id, sizeof id);
    wire_init(&L->net.wire, id, cfg->wire.max_frame_bytes);
    peers_init(&L->peers, cfg->actor.heartbeat_ms);
    snprintf(L->net.wire.run_id, sizeof L->net.wire.run_id, "%s-%lld", cfg->run.name, (long long)util_unix_ms());
    util_install_stop_signals();
    learner_run_dir(cfg, L->files.dir, sizeof L->files.dir);
}

/* --resume of a folder without a run yet starts it (a service may always pass --resume). */
static int s_resuming(const learner_service_t *L, int resume) {
    char *existing = xasprintf("%s/iterations.jsonl", L->files.dir);
    if (resume && !util_file_exists(existing)) {
        log_info("--resume: %s holds no run yet; starting it", L->files.dir);
        resume = 0;
    }
    free(existing);
    return resume;
}

/* A fresh run: its folder, its initial policy, the parts around it. 0 or an exit status. */
static int s_fresh(learner_service_t *L) {
    if (learner_open_run_dir(L) != 0) return 1;
    int st = learner_initial_policy(L);
    if (st != 0) return st;
    return learner_core_setup(L);
}

/* Sockets, status and evaluation up; a fresh run's initial line written. 0 or 1. */
static int s_start(learner_service_t *L, int resume) {
    if (learner_bind(L) != 0) return 1;
    L->status.state = "starting";
    if (status_start(&L->status, L) != 0) return 1;
    learner_core_t *c = &L->core;
    if (c->prompts) c->chat_eval = chat_eval_new(L->cfg, c->prompts, (const char *const *)c->stop, c->n_stop);
    else if (c->gpt) c->eval = text_eval_new(L->cfg);
    if (!resume) {
        learner_iterlog_start(L, NULL, 0, 0, 0);
        return iterlog_finish(&L->iterlog, 1) == 0 ? 0 : 1;
    }
    if (c->chat_eval) { /* the evaluation's reference responses come from pi_0 */
        chat_metrics_t m;
        chat_metrics(c->chat_eval, c->ref, c->ref, 0, &m);
    } else if (c->gpt) {
        text_metrics_t m;
        text_metrics(c->eval, c->ref, c->ref, 0, &m);
    }
    log_info("resumed run %s at iteration %llu (version %llu) from %s", L->net.wire.run_id,
             (unsigned long long)L->iteration, (unsigned long long)L->core.version, L->files.dir);
    return 0;
}

/* The iterations, then the end: the shutdown phase when complete. Returns the exit status. */
static int s_run(learner_service_t *L) {
    const spar_config_t *cfg = L->cfg;
    log_info("run %s: %ld iterations of %s, %ld prompts x K=%ld, control %s, publish %s, run dir %s",
             L->net.wire.run_id, cfg->run.iterations, config_name(CFG_NAMES_ALG, cfg->algorithm.name),
             cfg->task.prompts, cfg->rollout.samples_per_prompt, cfg->learner.control, cfg->learner.publish,
             L->files.dir);
    int failed = 0; /* an iteration that could not end (training diverged, a checkpoint failed) */
    while (!failed && (long)L->iteration < cfg->run.iterations) failed = learner_iteration(L) != 0;
    int last_written = iterlog_finish(&L->iterlog, 1) == 0; /* the last checkpoint and line */
    if (!failed && (long)L->iteration == cfg->run.iterations && last_written && !util_stop_requested()) {
        log_info("run complete: %ld iterations", cfg->run.iterations);
        s_shutdown_phase(L);
        return 0;
    }
    if ((long)L->iteration > cfg->run.iterations) {
        log_error("the run already holds %llu iterations, more than run.iterations %ld",
                  (unsigned long long)L->iteration, cfg->run.iterations);
        return 2;
    }
    log_warn("stopped during iteration %llu", (unsigned long long)L->iteration);
    L->status.state = "stopped";
    learner_tick(L);
    learner_send_shutdown(L, NULL, "learner stopped");
    return 1;
}

int learner_main(const spar_config_t *cfg, int resume) {
    static learner_service_t L; /* large (peer table); one per process */
    s_init(&L, cfg);
    if (core_init(&L.core, cfg) != 0) return 2;
    resume = s_resuming(&L, resume);
    int status = resume ? resume_prepare(&L) : s_fresh(&L);
    if (status == 0) status = s_start(&L, resume);
    if (status == 0) status = s_run(&L);
    learner_teardown(&L);
    return status;
}
