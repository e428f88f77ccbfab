/* resume — see resume.h. */
#include "learner/resume.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/records.h"
#include "common/util.h"
#include "learner/checkpoint.h"

/* The lines of iterations.jsonl text that number 0, 1, 2, ... in order (a torn or out-of-order
 * line ends them): how many, with ends[i] the offset just past line i (caller frees). */
static long s_jsonl_prefix(const char *text, size_t len, size_t **ends) {
    *ends = NULL;
    long n = 0, cap = 0;
    for (const char *p = text; p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl) break; /* a line without its newline was cut short */
        json_error_t e;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &e);
        json_t *it = o ? json_object_get(o, "iteration") : NULL;
        int ok = json_is_integer(it) && json_integer_value(it) == n;
        json_decref(o);
        if (!ok) break;
        if (n == cap) *ends = xrealloc(*ends, sizeof **ends * (size_t)(cap = cap ? 2 * cap : 64));
        (*ends)[n++] = (size_t)(nl + 1 - text);
        p = nl + 1;
    }
    return n;
}

/* Reads records/groups.pb up to the first record past iteration `keep_to` (or a torn one),
 * cuts the file there, and returns the records of iteration keep_to (the one being resumed). */
static int s_records(learner_service_t *L, uint64_t keep_to, Spar__RolloutGroup ***out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    char *path = xasprintf("%s/records/groups.pb", L->files.dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int missing = errno == ENOENT;
        if (!missing) log_error("cannot read %s: %s", path, strerror(errno));
        free(path);
        return missing ? 0 : -1;
    }
    long good = 0, n = 0, cap = 0, dropped = 0;
    for (;;) {
        int bad;
        Spar__RolloutGroup *g = records_next(f, &bad);
        if (!g) {
            if (bad) dropped = 1;
            break;
        }
        if (g->iteration > keep_to) {
            spar__rollout_group__free_unpacked(g, NULL);
            dropped = 1;
            break;
        }
        good = ftell(f);
        if (g->iteration == keep_to) {
            if (n == cap) *out = xrealloc(*out, sizeof **out * (size_t)(cap = cap ? 2 * cap : 64));
            (*out)[n++] = g;
        } else {
            spar__rollout_group__free_unpacked(g, NULL);
        }
    }
    fclose(f);
    int rc = 0;
    if (dropped) {
        log_warn("%s: cut after %ld bytes (a torn record, or records past the checkpoint)", path, good);
        if (truncate(path, good) != 0) {
            log_error("cannot cut %s: %s", path, strerror(errno));
            rc = -1;
        }
    }
    free(path);
    *n_out = (int)n;
    return rc;
}

/* The highest t below `lines` whose policy and state files load with their digests intact;
 * its policy (caller destroys) and version. NULL when there is none. */
static policy_t *s_last_checkpoint(learner_service_t *L, long lines, policy_t *base, long *t_out, uint64_t *version) {
    for (long t = lines - 1; t >= 0; t--) {
        char why[600];
        policy_t *p = ckpt_load_policy(L->files.dir, L->core.gpt, (uint64_t)t, base, version, why, sizeof why);
        if (p && ckpt_state_readable(L->files.dir, (uint64_t)t, why, sizeof why) == 0) {
            *t_out = t;
            return p;
        }
        policy_destroy(&p);
        log_warn("checkpoint of iteration %ld unusable (%s); trying the one before", t, why);
    }
    return NULL;
}

/* The tabular average iterate is the mean over every iterate: re-add them in order. */
static int s_rebuild_average(learner_service_t *L, long t) {
    for (long i = 1; i <= t; i++) {
        char why[600];
        uint64_t v;
        policy_t *p = ckpt_load_policy(L->files.dir, 0, (uint64_t)i, NULL, &v, why, sizeof why);
        if (!p) {
            log_error("resume: %s", why);
            return -1;
        }
        avg_iterate_add(&L->core.avg, p);
        policy_destroy(&p);
    }
    return 0;
}

static void s_read_run_id(learner_service_t *L) {
    char *path = xasprintf("%s/run_id", L->files.dir);
    size_t len;
    char *id = util_read_file(path, &len);
    if (id && len > 0 && len < sizeof L->net.wire.run_id) snprintf(L->net.wire.run_id, sizeof L->net.wire.run_id, "%.*s", (int)len, id);
    free(id);
    free(path);
}

int resume_prepare(learner_service_t *L) {
    char *jsonl = xasprintf("%s/iterations.jsonl", L->files.dir);
    size_t len = 0, *ends = NULL;
    char *text = util_read_file(jsonl, &len);
    long lines = text ? s_jsonl_prefix(text, len, &ends) : 0, t = -1;
    uint64_t version = 0;
    char why[600];
    /* a LoRA run's checkpoints are adapters: they load onto the one base all its policies share */
    policy_t *base = NULL;
    if (L->cfg->policy.lora.rank > 0 && !(base = policy_lora_base(L->cfg->policy.checkpoint, why, sizeof why))) {
        log_error("resume: policy.checkpoint %s: %s", L->cfg->policy.checkpoint, why);
        free(text), free(ends), free(jsonl);
        return 2;
    }
    policy_t *cur = lines > 0 ? s_last_checkpoint(L, lines, base, &t, &version) : NULL;
    int rc = 0;
    if (cur && ends[t] < len) { /* iterations.jsonl back to the line of iteration t */
        log_warn("%s: %zu bytes after iteration %ld dropped", jsonl, len - ends[t], t);
        if ((rc = util_write_atomic(jsonl, text, ends[t])) != 0) log_error("cannot rewrite %s: %s", jsonl, strerror(-rc));
    }
    free(text);
    free(ends);
    if (!cur) log_error("%s: nothing to resume from (no iterations.jsonl line with a whole checkpoint)", L->files.dir);
    free(jsonl);
    if (!cur || rc != 0) {
        policy_destroy(&cur);
        policy_destroy(&base);
        return !cur ? 2 : 1;
    }
    s_read_run_id(L);

    uint64_t v0;
    L->core.theta = ckpt_load_policy(L->files.dir, L->core.gpt, 0, base, &v0, why, sizeof why);
    policy_destroy(&base); /* the loaded policies hold the weights */
    if (!L->core.theta) {
        log_error("resume: %s", why);
        policy_destroy(&cur);
        return 1;
    }
    if (learner_core_setup(L) != 0) { /* pi_ref and the average start from iteration 0's policy */
        policy_destroy(&cur);
        return 2;
    }
    policy_copy(L->core.theta, cur);
    policy_destroy(&cur);
    if ((!L->core.gpt && s_rebuild_average(L, t) != 0)) return 1;
    ckpt_counters_t n = {0};
    if (ckpt_load_state(&L->core, L->files.dir, (uint64_t)t, &n, why, sizeof why) != 0) {
        log_error("resume: %s", why);
        return 1;
    }
    L->online.steps = n.steps;
    L->stale_total = n.stale_total;
    L->iteration = (uint64_t)t;
    learner_set_version(L, version);
    online_reset(&L->online, L->core.theta);
    L->min_version = version;
    if (s_records(L, (uint64_t)t + 1, &L->prefill, &L->n_prefill) != 0) return 1;
    return learner_open_files(L) == 0 ? 0 : 1;
}

void resume_take_back(learner_service_t *L) {
    if (!L->n_prefill) return;
    int taken = 0;
    for (int i = 0; i < L->n_prefill; i++) {
        Spar__RolloutGroup *g = L->prefill[i];
        char why[256];
        if (learner_group_fits(L, g, why, sizeof why) == 0) {
            learner_admit(L, g, 0);
            taken++;
        } else {
            log_warn("recorded group not taken back: %s", why);
            spar__rollout_group__free_unpacked(g, NULL);
        }
    }
    log_info("iteration %llu: %d of %d recorded groups taken back from the records", (unsigned long long)L->iteration,
             taken, L->n_prefill);
    free(L->prefill);
    L->prefill = NULL;
    L->n_prefill = 0;
}
