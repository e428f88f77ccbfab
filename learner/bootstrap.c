/* bootstrap — what the learner sets up before it serves and frees after: the run folder
 * (refusing one that holds a run), the run files, the initial policy (tabular, or gpt by
 * policy.init: random, a checkpoint or SFT), the core and the parts around it, the sockets with
 * CURVE, connection caps and the loop; and the teardown of all of it in reverse. */
#include "learner/learner.h"
#include "learner/service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/conn_guard.h"
#include "common/lm.h"
#include "common/log.h"
#include "common/wire_socket.h"
#include "common/util.h"
#include "learner/judge_check.h"
#include "learner/sft.h"

void learner_run_dir(const spar_config_t *cfg, char *out, size_t outlen) {
    if (cfg->run.dir[0]) snprintf(out, outlen, "%s", cfg->run.dir);
    else snprintf(out, outlen, "runs/%s", cfg->run.name);
}

int learner_open_run_dir(learner_service_t *L) {
    char *jsonl = xasprintf("%s/iterations.jsonl", L->files.dir);
    int exists = util_file_exists(jsonl);
    if (exists) {
        log_error("%s already holds a run: continue it with --resume, or choose another run.dir", L->files.dir);
        free(jsonl);
        return -1;
    }
    const char *subs[] = {"checkpoints", "records", "logs"};
    for (int i = 0; i < 3; i++) {
        char *d = xasprintf("%s/%s", L->files.dir, subs[i]);
        int rc = util_mkdirs(d);
        free(d);
        if (rc != 0) {
            log_error("cannot create %s/%s: %s", L->files.dir, subs[i], strerror(-rc));
            free(jsonl);
            return -1;
        }
    }
    char *idpath = xasprintf("%s/run_id", L->files.dir);
    if (util_write_atomic(idpath, L->net.wire.run_id, strlen(L->net.wire.run_id)) != 0) log_warn("cannot write %s", idpath);
    free(idpath);
    char *cfgpath = xasprintf("%s/config.yaml", L->files.dir), *comment = xasprintf("resolved config of run %s", L->net.wire.run_id);
    int rc = config_save(L->cfg, cfgpath, comment);
    if (rc != 0) log_warn("cannot write %s: %s", cfgpath, strerror(-rc));
    free(cfgpath);
    free(comment);
    free(jsonl);
    return learner_open_files(L);
}

/* iterations.jsonl and records/groups.pb, opened to append. Returns 0 or -1 (logged). */
int learner_open_files(learner_service_t *L) {
    char *jsonl = xasprintf("%s/iterations.jsonl", L->files.dir);
    L->files.jsonl = fopen(jsonl, "a");
    free(jsonl);
    char *rec = xasprintf("%s/records/groups.pb", L->files.dir);
    L->files.records = fopen(rec, "ab");
    free(rec);
    if (!L->files.jsonl || !L->files.records) {
        log_error("cannot open the run files in %s: %s", L->files.dir, strerror(errno));
        return -1;
    }
    iterlog_init(&L->iterlog, L->files.jsonl, learner_emit_line, L);
    return 0;
}

int learner_bind(learner_service_t *L) {
    L->net.zctx = zmq_ctx_new();
    char err[1024];
    if (!(L->net.curve = curve_new(L->net.zctx, L->cfg, err, sizeof err))) {
        log_error("config error: %s", err);
        return -1;
    }
    long max = L->cfg->wire.max_frame_bytes;
    L->net.ctl = wire_socket_open(L->net.zctx, &(wire_socket_opts_t){.label = "learner.control", .type = ZMQ_ROUTER,
        .endpoint = L->cfg->learner.control, .bind = 1, .max_frame_bytes = max, .curve = L->net.curve});
    if (!L->net.ctl) return -1;
    L->net.pub = wire_socket_open(L->net.zctx, &(wire_socket_opts_t){.label = "learner.publish", .type = ZMQ_PUB,
        .endpoint = L->cfg->learner.publish, .bind = 1, .max_frame_bytes = max, .curve = L->net.curve});
    if (!L->net.pub) return -1;
    int mandatory = 0; /* replies to vanished peers are dropped, never block */
    zmq_setsockopt(L->net.ctl, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    /* connections share the descriptors with the run folder's files: each socket takes at most
     * half of what is left after a reserve for files, ZeroMQ's own and the HTTP server */
    long fds = conn_guard_raise_nofile(), cap = (fds - 96) / 2 > 8 ? (fds - 96) / 2 : 8;
    L->net.loop = loop_new();
    loop_set_stop_check(L->net.loop, util_stop_requested);
    loop_set_before_sleep(L->net.loop, learner_before_sleep, L);
    if (!(L->net.jcheck = judge_check_new(L->cfg, &L->net.wire, &L->peers, L->net.loop, learner_on_pool_changed, L))) return -1;
    L->net.guards[0] = conn_guard_new(L->net.zctx, L->net.ctl, "learner.control", cap);
    L->net.guards[1] = conn_guard_new(L->net.zctx, L->net.pub, "learner.publish", cap);
    loop_add_socket(L->net.loop, L->net.ctl, learner_on_control, L);
    for (int i = 0; i < 2; i++) loop_add_socket(L->net.loop, conn_guard_socket(L->net.guards[i]), learner_on_guard, L->net.guards[i]);
    return 0;
}

void learner_teardown(learner_service_t *L) {
    iterlog_finish(&L->iterlog, 1); /* a worker still writing reads what is freed below */
    status_stop(&L->status);
    if (L->buffer) learner_free_buffer(L);
    free(L->buffer);
    leases_free(&L->leases);
    transfer_blob_free(&L->blob);
    transfer_blob_free(&L->ref_blob);
    online_free(&L->online);
    iter_stats_free(&L->stats);
    for (long p = 0; L->prompt_text && p < L->cfg->task.prompts; p++) free(L->prompt_text[p]);
    free(L->prompt_text);
    core_teardown(&L->core);
    if (L->files.jsonl) fclose(L->files.jsonl);
    if (L->files.records) fclose(L->files.records);
    judge_check_destroy(&L->net.jcheck);
    loop_destroy(&L->net.loop);
    conn_guard_destroy(&L->net.guards[0]);
    conn_guard_destroy(&L->net.guards[1]);
    if (L->net.ctl) zmq_close(L->net.ctl);
    if (L->net.pub) zmq_close(L->net.pub);
    curve_destroy(&L->net.curve); /* before the context ends, or zmq_ctx_term waits on its ZAP socket */
    if (L->net.zctx) zmq_ctx_term(L->net.zctx);
    wire_fini(&L->net.wire);
}

/* The gpt policy's starting point, by policy.init: GPT-2's random initialisation, a checkpoint,
 * or SFT on the task's data (saved to RUN_DIR/sft in the Hugging Face layout). With policy.lora
 * the checkpoint is the frozen base and fresh adapters (or SFT's) are what trains. Returns 0 or
 * an exit status. */
static int s_gpt_initial(learner_service_t *L) {
    const spar_config_t *cfg = L->cfg;
    lm_t *m = NULL;
    char why[512];
    if (cfg->policy.init == INIT_CHECKPOINT || (cfg->policy.lora.rank > 0 && cfg->policy.init != INIT_SFT)) {
        if (!(m = lm_load_dir(cfg->policy.checkpoint, NULL, why, sizeof why))) {
            log_error("policy.checkpoint %s: %s", cfg->policy.checkpoint, why);
            return 2;
        }
    } else if (cfg->policy.init == INIT_SFT) {
        log_info("policy.init sft: training the initial policy (%ld steps of %ld sequences)", cfg->sft.steps,
                 cfg->sft.batch);
        int st;
        if (!(m = sft_train(cfg, &st))) return st;
        char *dir = xasprintf("%s/sft", L->files.dir);
        if (lm_save_dir(m, dir, 0, 0, why, sizeof why) != 0) log_warn("cannot write %s: %s", dir, why);
        else log_info("initial policy written to %s", dir);
        free(dir);
    } else {
        gpt_config_t gc = {(int)cfg->gpt.n_layer, (int)cfg->gpt.n_head, (int)cfg->gpt.d_model, (int)cfg->gpt.ctx, GPT_VOCAB};
        m = lm_from_gpt(gpt_new(&gc, (unsigned long long)cfg->run.seed));
    }
    L->core.theta = policy_lm_new(m);
    if (cfg->policy.lora.rank > 0 && !lm_lora(m) && /* SFT trains the adapters itself */
        policy_lora_attach(L->core.theta, (int)cfg->policy.lora.rank, cfg->policy.lora.alpha, cfg->policy.lora.targets,
                           (uint64_t)cfg->run.seed, why, sizeof why) != 0) {
        log_error("policy.lora: %s", why);
        return 2;
    }
    log_info("policy: %s", lm_describe(m));
    return 0;
}

/* Everything the updates need around an initial policy in L->core.theta: pi_t and pi_ref, the
 * optimiser, the algorithm, the buffers. No sockets, no files: replay uses it as it is.
 * Returns 0 or 2 (a task.template the policy cannot use). */
int learner_core_setup(learner_service_t *L) {
    const spar_config_t *cfg = L->cfg;
    L->prompt_text = xcalloc((size_t)cfg->task.prompts, sizeof *L->prompt_text);
    if (core_setup(&L->core) != 0) return 2;
    L->buffer = xcalloc((size_t)cfg->task.prompts, sizeof *L->buffer);
    online_init(&L->online, cfg, L->core.theta);
    iter_stats_init(&L->stats, (int)cfg->task.prompts, (int)L->online.max_staleness + 1);
    leases_init(&L->leases);
    learner_set_version(L, 0);
    return 0;
}

/* A fresh run's initial policy in L->core.theta, by policy.init. Returns 0 or an exit status. */
int learner_initial_policy(learner_service_t *L) {
    if (L->core.gpt) return s_gpt_initial(L);
    core_tabular_initial(&L->core);
    return 0;
}
