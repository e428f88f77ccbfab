/* checkpoint — see checkpoint.h. */
#include "learner/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lm.h"
#include "common/log.h"
#include "common/safetensors.h"
#include "common/util.h"

char *ckpt_policy_path(const char *run_dir, int gpt, uint64_t t) {
    if (gpt) {
        char *lora = xasprintf("%s/checkpoints/iter-%04" PRIu64 "/adapter_model.safetensors", run_dir, t);
        if (util_file_exists(lora)) return lora;
        free(lora);
        return xasprintf("%s/checkpoints/iter-%04" PRIu64 "/model.safetensors", run_dir, t);
    }
    return xasprintf("%s/checkpoints/iter-%04" PRIu64 ".safetensors", run_dir, t);
}

static char *s_state_path(const char *run_dir, uint64_t t) {
    return xasprintf("%s/checkpoints/iter-%04" PRIu64 ".state.safetensors", run_dir, t);
}

static st_tensor_t s_tensor(const char *name, const char *dtype, const void *data, size_t n, size_t esz) {
    st_tensor_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.dtype, sizeof t.dtype, "%s", dtype);
    t.ndim = 1;
    t.shape[0] = (int64_t)n;
    t.data = data;
    t.nbytes = n * esz;
    return t;
}

static int s_write_state(const learner_core_t *core, const char *run_dir, const ckpt_counters_t *c) {
    st_tensor_t ts[5];
    int n = 0;
    const optim_t *o = core->optim;
    if (o->n) {
        ts[n++] = s_tensor("adam.m", "F64", o->m, o->n, sizeof(double));
        ts[n++] = s_tensor("adam.v", "F64", o->v, o->n, sizeof(double));
    }
    if (o->adamw) {
        ts[n++] = s_tensor("adamw.m", "F32", o->adamw->m, o->adamw->n, sizeof(float));
        ts[n++] = s_tensor("adamw.v", "F32", o->adamw->v, o->adamw->n, sizeof(float));
    }
    const policy_t *hat = core->apo_hat;
    if (hat) {
        policy_view_t v = policy_view(hat);
        if (core->gpt) ts[n++] = s_tensor("apo_hat", "F32", v.f32, v.n, sizeof(float));
        else ts[n++] = s_tensor("apo_hat", "F64", v.f64, v.n, sizeof(double));
    }
    char vals[6][32];
    snprintf(vals[0], sizeof vals[0], "%" PRIu64, c->iteration);
    snprintf(vals[1], sizeof vals[1], "%" PRIu64, c->version);
    snprintf(vals[2], sizeof vals[2], "%ld", o->t);
    snprintf(vals[3], sizeof vals[3], "%ld", o->adamw ? o->adamw->t : 0L);
    snprintf(vals[4], sizeof vals[4], "%ld", c->steps);
    snprintf(vals[5], sizeof vals[5], "%" PRIu64, c->stale_total);
    const char *keys[6] = {"iteration", "version", "adam_t", "adamw_t", "steps", "stale_total"};
    const char *vp[6] = {vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]};
    char *path = s_state_path(run_dir, c->iteration);
    /* straight from the optimiser's arrays: a copy in memory would be twice the model's size */
    int rc = st_write_atomic(path, ts, n, keys, vp, 6);
    if (rc != 0) log_error("cannot write %s: %s", path, strerror(-rc));
    free(path);
    return rc;
}

int ckpt_write(const learner_core_t *core, const char *run_dir, const uint8_t *policy, size_t len,
               const ckpt_counters_t *c) {
    int rc = s_write_state(core, run_dir, c);
    if (rc != 0) return rc;
    if (core->gpt) { /* a folder in the Hugging Face layout: weights, config.json, tokenizer */
        char *dir = xasprintf("%s/checkpoints/iter-%04" PRIu64, run_dir, c->iteration), why[400];
        rc = lm_save_dir(policy_lm(core->theta), dir, c->version, 0, why, sizeof why);
        if (rc != 0) log_error("cannot write %s: %s", dir, why);
        free(dir);
        return rc;
    }
    char *path = ckpt_policy_path(run_dir, 0, c->iteration);
    rc = util_write_atomic(path, policy, len);
    if (rc != 0) log_error("cannot write %s: %s", path, strerror(-rc));
    free(path);
    return rc;
}

policy_t *ckpt_load_policy(const char *run_dir, int gpt, uint64_t t, policy_t *onto, uint64_t *version, char *why,
                           size_t wl) {
    if (gpt) { /* the folder, whatever the family; a LoRA run's adapters onto its base */
        char *dir = xasprintf("%s/checkpoints/iter-%04" PRIu64, run_dir, t), inner[400];
        lm_t *m = onto ? lm_load_adapter_dir(policy_lm(onto), dir, version, inner, sizeof inner)
                       : lm_load_dir(dir, version, inner, sizeof inner);
        if (!m) snprintf(why, wl, "%s: %s", dir, inner);
        free(dir);
        return m ? policy_lm_new(m) : NULL;
    }
    char *path = ckpt_policy_path(run_dir, gpt, t);
    size_t len;
    char *data = util_read_file(path, &len);
    policy_t *p = NULL;
    if (!data) {
        snprintf(why, wl, "%s: %s", path, strerror(errno));
    } else {
        char inner[400];
        if (!(p = policy_load(data, len, version, inner, sizeof inner))) snprintf(why, wl, "%s: %s", path, inner);
    }
    free(data);
    free(path);
    return p;
}

/* The tensor `name` of n elements of dtype into dst; 0, or -1 with the reason. */
static int s_get(const st_file_t *f, const char *name, const char *dtype, void *dst, size_t n, size_t esz, char *why,
                 size_t wl) {
    const st_tensor_t *t = st_find(f, name);
    if (!t || strcmp(t->dtype, dtype) != 0 || t->nbytes != n * esz) {
        snprintf(why, wl, "optimiser state: tensor %s missing or of another shape", name);
        return -1;
    }
    memcpy(dst, t->data, t->nbytes);
    return 0;
}

static int s_meta_long(const st_file_t *f, const char *key, long long *out, char *why, size_t wl) {
    const char *v = st_meta(f, key);
    char *end;
    if (!v || (errno = 0, *out = strtoll(v, &end, 10), errno != 0 || *end != '\0' || end == v)) {
        snprintf(why, wl, "optimiser state: metadata %s missing or invalid", key);
        return -1;
    }
    return 0;
}

/* Reads and parses iteration t's state file: the buffer (caller frees) behind f, or NULL. */
static char *s_read_state(const char *run_dir, uint64_t t, st_file_t *f, char *why, size_t wl) {
    char *path = s_state_path(run_dir, t);
    size_t len;
    char *data = util_read_file(path, &len);
    char inner[400];
    if (!data) snprintf(why, wl, "%s: %s", path, strerror(errno));
    else if (st_parse(data, len, f, inner, sizeof inner) != 0) {
        snprintf(why, wl, "%s: %s", path, inner);
        free(data);
        data = NULL;
    }
    free(path);
    return data;
}

int ckpt_state_readable(const char *run_dir, uint64_t t, char *why, size_t wl) {
    st_file_t f;
    char *data = s_read_state(run_dir, t, &f, why, wl);
    if (!data) return -1;
    st_free(&f);
    free(data);
    return 0;
}

int ckpt_load_state(learner_core_t *core, const char *run_dir, uint64_t t, ckpt_counters_t *n, char *why, size_t wl) {
    st_file_t f;
    char *data = s_read_state(run_dir, t, &f, why, wl);
    if (!data) return -1;
    int rc;
    optim_t *o = core->optim;
    policy_t *hat = core->apo_hat;
    long long it = 0, version = 0, adam_t = 0, adamw_t = 0, steps = 0, stale = 0;
    rc = s_meta_long(&f, "iteration", &it, why, wl) || s_meta_long(&f, "version", &version, why, wl) ||
         s_meta_long(&f, "adam_t", &adam_t, why, wl) || s_meta_long(&f, "adamw_t", &adamw_t, why, wl) ||
         s_meta_long(&f, "steps", &steps, why, wl) || s_meta_long(&f, "stale_total", &stale, why, wl) ? -1 : 0;
    if (rc == 0 && (uint64_t)it != t) {
        snprintf(why, wl, "the state file of iteration %llu holds iteration %lld", (unsigned long long)t, it);
        rc = -1;
    }
    if (rc == 0 && o->n)
        rc = s_get(&f, "adam.m", "F64", o->m, o->n, sizeof(double), why, wl) ||
             s_get(&f, "adam.v", "F64", o->v, o->n, sizeof(double), why, wl) ? -1 : 0;
    if (rc == 0 && o->adamw)
        rc = s_get(&f, "adamw.m", "F32", o->adamw->m, o->adamw->n, sizeof(float), why, wl) ||
             s_get(&f, "adamw.v", "F32", o->adamw->v, o->adamw->n, sizeof(float), why, wl) ? -1 : 0;
    if (rc == 0 && hat) {
        policy_view_t v = policy_view(hat);
        if (core->gpt) rc = s_get(&f, "apo_hat", "F32", v.f32, v.n, sizeof(float), why, wl);
        else rc = s_get(&f, "apo_hat", "F64", v.f64, v.n, sizeof(double), why, wl);
    }
    if (rc == 0) {
        o->t = (long)adam_t;
        if (o->adamw) o->adamw->t = (long)adamw_t;
        n->steps = (long)steps;
        n->stale_total = (uint64_t)stale;
    }
    st_free(&f);
    free(data);
    return rc;
}
