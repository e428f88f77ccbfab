/* iteration — one iteration of the learner: the current version and its weights for actors,
 * which groups are admitted, admission (records, counts, the online buffer), collection on the
 * loop (announcements, status ticks, lease expiry and a stall report as timers), training
 * through the core, and the iteration's report. Messages are control.c's; the update maths is
 * core.c's. */
#include "learner/service.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/records.h"
#include "common/task.h"
#include "common/util.h"
#include "learner/judge_check.h"
#include "learner/resume.h"

/* The weights of version of p as actors fetch them. The length is known only once serialised,
 * hence two statements (an argument list does not order its evaluation). */
void learner_blob_set(transfer_blob_t *b, const policy_t *p, uint64_t version, size_t chunk_bytes) {
    size_t len;
    uint8_t *data = policy_serialize(p, version, &len);
    transfer_blob_set(b, data, len, version, chunk_bytes);
}

void learner_set_version(learner_service_t *L, uint64_t version) {
    L->core.version = version;
    peers_new_version(&L->peers, version, util_now_ms());
    learner_blob_set(&L->blob, L->core.theta, version, (size_t)L->cfg->learner.chunk_bytes);
}

/* Admission by version: sampled by a version at most max_staleness behind (synchronous: the
 * current), and not older than a resume (versions before it are no longer held). */
int learner_version_ok(const learner_service_t *L, uint64_t v) {
    return online_admits(&L->online, L->core.version, v, L->min_version);
}

int learner_group_fits(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl) {
    if (learner_check_group(L, g, why, wl) != 0) return -1;
    if (leases_is_done(&L->leases, (int)g->prompt_id)) {
        snprintf(why, wl, "prompt %u of iteration %llu answered twice", g->prompt_id, (unsigned long long)g->iteration);
        return -1;
    }
    if (!learner_version_ok(L, g->policy_version)) {
        snprintf(why, wl, "sampled by version %llu, the learner is at %llu", (unsigned long long)g->policy_version,
                 (unsigned long long)L->core.version);
        return -1;
    }
    return 0;
}

/* Checks what only the learner can: the group answers a prompt of this run with responses
 * its policy can produce. Returns 0 or -1 with the reason in why. */
int learner_check_group(const learner_service_t *L, const Spar__RolloutGroup *g, char *why, size_t wl) {
    if (g->prompt_id >= (uint32_t)L->cfg->task.prompts) {
        snprintf(why, wl, "prompt %u out of range", g->prompt_id);
        return -1;
    }
    size_t k = (size_t)L->cfg->rollout.samples_per_prompt, opponents = L->core.train.alg.kind == ALG_NASH_MD ? k : 0;
    if (g->n_responses != k + opponents || g->n_opponents != opponents) {
        snprintf(why, wl, "%zu responses with %u opponents, expected %zu and %zu", g->n_responses, g->n_opponents,
                 k + opponents, opponents);
        return -1;
    }
    for (size_t i = 0; i < g->n_responses; i++) {
        policy_seq_t s = {(int)g->prompt_id, L->prompt_text[g->prompt_id], g->responses[i]->tokens,
                          (int)g->responses[i]->n_tokens};
        if (!policy_valid_seq(L->core.theta, &s)) {
            snprintf(why, wl, "response %zu is not a response of this policy to prompt %u", i, g->prompt_id);
            return -1;
        }
    }
    return 0;
}

/* A new version: serialise, remember it for admission, announce it. */
static void s_broadcast(learner_service_t *L) {
    learner_set_version(L, L->core.version + 1);
    online_remember(&L->online, L->core.version, L->core.theta);
    learner_announce(L);
}

/* Online mode: one learner step on the batch, and a new version every broadcast_every steps. */
static void s_online_step(learner_service_t *L) {
    if (online_step(&L->online, &L->core, L->buffer, &L->stats)) s_broadcast(L);
}

void learner_admit(learner_service_t *L, Spar__RolloutGroup *own, int record) {
    leases_complete(&L->leases, (int)own->prompt_id);
    if (record) { /* a group read back from the records already carries both */
        own->learner_version = L->core.version;
        if (own->prompt != protobuf_c_empty_string) free(own->prompt); /* training reads the learner's own text */
        own->prompt = xstrdup(L->prompt_text[own->prompt_id]);
        const char *key = NULL;
        if (L->core.prompts)
            prompt_set_train(L->core.prompts, L->iteration, (int)L->cfg->task.prompts, (int)own->prompt_id, &key);
        if (key) {
            if (own->prompt_key != protobuf_c_empty_string) free(own->prompt_key);
            own->prompt_key = xstrdup(key);
        }
    }
    iter_stats_admit(&L->stats, own, L->core.version - own->policy_version);
    L->buffer[own->prompt_id] = own;
    L->samples_total += own->n_responses;
    L->groups_total++;
    if (record && L->files.records && (records_append(L->files.records, own) != 0 || fflush(L->files.records) != 0))
        log_error("cannot append to records: %s", strerror(errno));
    if (L->online.online && online_add(&L->online, (int)own->prompt_id)) s_online_step(L);
}

void learner_peer_left(learner_service_t *L, peer_t *p, const char *why) {
    if (!peers_leave(p)) return;
    peers_log_left(p, why, leases_release(&L->leases, p->id));
}

/* Every second and at state changes: the peers' silence and departures, then the status. */
void learner_tick(learner_service_t *L) {
    peer_left_t left[MAX_PEERS];
    int n = peers_tick(&L->peers, &L->leases, util_now_ms(), left);
    for (int i = 0; i < n; i++) peers_log_left(left[i].peer, left[i].why, leases_release(&L->leases, left[i].peer->id));
    if (L->net.jcheck) judge_check_arm(L->net.jcheck); /* a silent judge that came back is checked */
    status_tick(&L->status, L);
}

static int64_t s_announce_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    if (now >= L->next_announce_ms) learner_announce(L);
    return L->next_announce_ms;
}

static int64_t s_status_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    if (now >= L->status.next_status_ms) learner_tick(L);
    return L->status.next_status_ms;
}

/* Leases past their deadline: their prompts re-queued, a strike for each holder. */
static int64_t s_leases_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    int requeued = leases_expire(&L->leases, now);
    if (requeued) log_warn("iteration %llu: %d prompts of expired leases re-queued",
                           (unsigned long long)L->iteration, requeued);
    peers_strikes(&L->peers, &L->leases);
    return leases_next_deadline(&L->leases);
}

/* A run that waits says what it waits for. */
static int64_t s_stall_due(loop_t *loop, uint64_t id, int64_t now, void *arg) {
    (void)loop, (void)id;
    learner_service_t *L = arg;
    int actors = peers_actors_since(&L->peers, now - STALL_REPORT_MS);
    log_warn("iteration %llu: %d of %ld prompts in; %d actor(s) heard from in the last %d s",
             (unsigned long long)L->iteration, L->leases.done, L->cfg->task.prompts, actors, STALL_REPORT_MS / 1000);
    return now + STALL_REPORT_MS;
}

/* Before every wait while collecting: the lease timer follows the earliest deadline (grants
 * add leases), and the last iteration's line is written once its worker is done. */
void learner_before_sleep(loop_t *loop, void *arg) {
    learner_service_t *L = arg;
    if (!L->collect_timers[2]) return;
    loop_set_timer(loop, L->collect_timers[2], leases_next_deadline(&L->leases));
    if (iterlog_pending(&L->iterlog) && iterlog_finish(&L->iterlog, 0) < 0) {
        L->collect_failed = 1;
        loop_stop(loop);
    }
}

/* Collects every prompt of the iteration. Returns 0, or -1 when stopped by a signal or when
 * the last checkpoint could not be written. */
static int s_collect(learner_service_t *L) {
    learner_announce(L);
    if (leases_all_done(&L->leases)) return 0; /* a resume took every group back */
    int64_t now = util_now_ms();
    L->collect_failed = 0;
    L->collect_timers[0] = loop_add_timer(L->net.loop, L->next_announce_ms, s_announce_due, L);
    L->collect_timers[1] = loop_add_timer(L->net.loop, L->status.next_status_ms, s_status_due, L);
    L->collect_timers[2] = loop_add_timer(L->net.loop, leases_next_deadline(&L->leases), s_leases_due, L);
    L->collect_timers[3] = loop_add_timer(L->net.loop, now + STALL_REPORT_MS, s_stall_due, L);
    loop_run(L->net.loop); /* until the last group (s_on_rollout), a failure or a signal */
    for (int i = 0; i < 4; i++) loop_cancel_timer(L->net.loop, L->collect_timers[i]);
    memset(L->collect_timers, 0, sizeof L->collect_timers);
    return !L->collect_failed && leases_all_done(&L->leases) ? 0 : -1;
}

void learner_free_buffer(learner_service_t *L) {
    for (long p = 0; p < L->cfg->task.prompts; p++) {
        if (L->buffer[p]) spar__rollout_group__free_unpacked(L->buffer[p], NULL);
        L->buffer[p] = NULL;
    }
}

/* This iteration's prompt texts: fresh problems each iteration for the generated text tasks,
 * the next prompts of the file for task.kind prompts. */
static void s_set_prompts(learner_service_t *L) {
    for (long p = 0; p < L->cfg->task.prompts; p++) {
        char text[256];
        free(L->prompt_text[p]);
        if (L->core.prompts) {
            L->prompt_text[p] = xstrdup(prompt_set_train(L->core.prompts, L->iteration, (int)L->cfg->task.prompts, (int)p, NULL));
            continue;
        }
        task_prompt(L->cfg, L->iteration, (int)p, text, sizeof text);
        L->prompt_text[p] = xstrdup(text);
    }
}

void learner_begin_iteration(learner_service_t *L) {
    L->iteration++;
    iter_stats_reset(&L->stats);
    core_begin_iteration(&L->core, L->iteration);
    s_set_prompts(L);
    leases_begin(&L->leases, L->iteration, (int)L->cfg->task.prompts);
}

int learner_end_iteration(learner_service_t *L, train_result_t *tr, int *lost) {
    *lost = 0;
    for (long p = 0; p < L->cfg->task.prompts; p++) *lost += L->buffer[p] == NULL;
    if (L->online.online) {
        s_online_step(L); /* the iteration's last, partial batch */
        const iter_stats_t *st = &L->stats;
        tr->loss = st->n_steps ? st->step_loss / st->n_steps : NAN;
        tr->loss_initial = st->n_steps ? st->step_loss_initial / st->n_steps : NAN;
    } else {
        core_train_synchronous(&L->core, L->buffer, (int)L->cfg->task.prompts, tr);
    }
    if (core_finish_iteration(&L->core, L->iteration, tr) != 0) return -1;
    if (L->files.records) {
        fflush(L->files.records);
        fsync(fileno(L->files.records));
    }
    learner_free_buffer(L);
    if (!L->online.online || L->online.steps_since_broadcast > 0) s_broadcast(L); /* every iteration ends on a version */
    core_average(&L->core);
    return 0;
}

/* A line of iterations.jsonl: to the status and, as an IterationSummary, to every actor. */
void learner_emit_line(void *arg, uint64_t iteration, const char *line) {
    learner_service_t *L = arg;
    status_line(&L->status, line);
    learner_tick(L);
    learner_publish_line(L, iteration, line);
}

/* The end of iteration L->iteration (tr NULL: the initial line), from a copy of its counts. */
void learner_iterlog_start(learner_service_t *L, const train_result_t *tr, double wall_s, double collect_s, int lost) {
    iterlog_input_t in = {
        .cfg = L->cfg, .core = &L->core, .run_dir = L->files.dir,
        .policy = L->blob.data, .policy_len = L->blob.len,
        .counters = {L->iteration, L->core.version, L->stale_total, L->online.steps},
        .stats = &L->stats, .tr = tr, .wall_s = wall_s, .collect_s = collect_s, .lost = lost,
        .leases_reissued = L->leases.reissued, .actors = peers_live_actors(&L->peers),
        .bad_messages = peers_bad_messages(&L->peers, L->net.wire.bad_messages), .may_thread = !L->online.online && L->net.pub != NULL,
    };
    iterlog_start(&L->iterlog, &in);
}

int learner_iteration(learner_service_t *L) {
    double t0 = util_now_s();
    learner_begin_iteration(L);
    resume_take_back(L); /* a resumed run: this iteration's groups the records already hold */
    L->status.state = "collecting";
    if (s_collect(L) != 0) return -1;
    double collect_s = util_now_s() - t0;
    int lost;
    train_result_t tr = {0};
    L->stats.delivery_ms = L->peers.delivered ? L->peers.delivery_ms : NAN;
    if (iterlog_finish(&L->iterlog, 1) != 0) return -1; /* the previous checkpoint and metrics read what training writes */
    L->status.state = "training";
    learner_tick(L);
    if (learner_end_iteration(L, &tr, &lost) != 0) return -1;
    learner_iterlog_start(L, &tr, util_now_s() - t0, collect_s, lost);
    return 0;
}
