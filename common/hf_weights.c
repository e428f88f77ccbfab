/* hf_weights — the weights of a Hugging Face model folder into the tensors a model wants: one
 * model.safetensors, or the shards model.safetensors.index.json names, each mapped (not copied),
 * matched by name and shape, converted to F32 (see hf_folder.h for the name rules). */
#include "common/hf_folder.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* A tensor of the files under the name it is matched by. */
typedef struct {
    const char *name;
    int file;
    const st_tensor_t *t;
} s_entry;

static int s_entry_cmp(const void *a, const void *b) {
    return strcmp(((const s_entry *)a)->name, ((const s_entry *)b)->name);
}

/* The name a file's tensor is matched by: GPT2LMHeadModel's state dict prefixes the trunk with
 * "transformer.", GPT2Model's does not; both mean the same tensor. */
static const char *s_match_name(hf_arch_t arch, const char *name) {
    static const char prefix[] = "transformer.";
    if (arch == HF_GPT2 && !strncmp(name, prefix, sizeof prefix - 1)) return name + sizeof prefix - 1;
    return name;
}

static int s_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Tensors a checkpoint may hold that are no parameter of the model: buffers transformers saved
 * (recomputed from the config) and the head of a tied model (the caller did not want it). */
static int s_ignored(hf_arch_t arch, const char *name) {
    if (!strcmp(name, "lm_head.weight") || s_ends_with(name, ".rotary_emb.inv_freq")) return 1;
    return arch == HF_GPT2 && (s_ends_with(name, ".attn.bias") || s_ends_with(name, ".attn.masked_bias"));
}

static void s_shape_str(int ndim, const int64_t *shape, char *out, size_t len) {
    size_t at = (size_t)snprintf(out, len, "(");
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(out + at, len - at, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (at < len) snprintf(out + at, len - at, ")");
}

/* hf_match_weights; *missing set when the failure is a wanted tensor that no file holds (the
 * caller then names the folder). */
static int s_match(const st_file_t *const *files, const char *const *names, int n_files, hf_arch_t arch,
                   const hf_want_t *want, int n, int *missing, char *why, size_t wl) {
    *missing = 0;
    size_t total = 0, k = 0;
    for (int f = 0; f < n_files; f++) total += (size_t)files[f]->n;
    s_entry *e = xcalloc(total ? total : 1, sizeof *e);
    for (int f = 0; f < n_files; f++)
        for (int i = 0; i < files[f]->n; i++)
            e[k++] = (s_entry){s_match_name(arch, files[f]->tensors[i].name), f, &files[f]->tensors[i]};
    qsort(e, total, sizeof *e, s_entry_cmp);
    uint8_t *used = xcalloc(total ? total : 1, 1);
    const st_tensor_t **found = xcalloc(n ? (size_t)n : 1, sizeof *found);
    int rc = 0;
#define FILE_OF(en) (names ? names[(en)->file] : ""), (names ? ": " : "")
    for (size_t i = 1; i < total && rc == 0; i++)
        if (!strcmp(e[i - 1].name, e[i].name))
            rc = util_refuse(why, wl, "%s%stensor %s is held twice (as %s and %s)", FILE_OF(&e[i]), e[i].name,
                             e[i - 1].t->name, e[i].t->name);
    for (int w = 0; w < n && rc == 0; w++) {
        s_entry key = {want[w].name, 0, NULL};
        s_entry *hit = bsearch(&key, e, total, sizeof *e, s_entry_cmp);
        if (!hit) {
            *missing = 1;
            rc = util_refuse(why, wl, "tensor %s missing", want[w].name);
            break;
        }
        const st_tensor_t *t = hit->t;
        int same = t->ndim == want[w].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == want[w].shape[d];
        if (strcmp(t->dtype, "F32") && strcmp(t->dtype, "F16") && strcmp(t->dtype, "BF16")) {
            rc = util_refuse(why, wl, "%s%stensor %s has dtype %s, expected F32, F16 or BF16", FILE_OF(hit), t->name, t->dtype);
        } else if (!same) {
            char got[160], exp[160];
            s_shape_str(t->ndim, t->shape, got, sizeof got);
            s_shape_str(want[w].ndim, want[w].shape, exp, sizeof exp);
            rc = util_refuse(why, wl, "%s%stensor %s has shape %s, expected %s", FILE_OF(hit), t->name, got, exp);
        }
        used[hit - e] = 1;
        found[w] = t;
    }
    for (size_t i = 0; i < total && rc == 0; i++)
        if (!used[i] && !s_ignored(arch, e[i].name))
            rc = util_refuse(why, wl, "%s%stensor %s is not a parameter of %s (spar does not know it)", FILE_OF(&e[i]),
                             e[i].t->name, hf_arch_name(arch));
#undef FILE_OF
    for (int w = 0; w < n && rc == 0; w++)
        if (want[w].data) st_to_f32(found[w], want[w].data); /* F32/F16/BF16: checked above */
    free(found);
    free(used);
    free(e);
    return rc;
}

int hf_match_weights(const st_file_t *const *files, const char *const *names, int n_files, hf_arch_t arch,
                     const hf_want_t *want, int n, char *why, size_t wl) {
    int missing;
    return s_match(files, names, n_files, arch, want, n, &missing, why, wl);
}

/* The shard names of an index's weight_map, each once, in first-seen order; checks that each
 * is a plain file name (an index must not point outside its folder). */
static int s_read_index(const char *path, json_t **map_out, char ***shards, int *n_shards, char *why, size_t wl) {
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) return util_refuse(why, wl, "%s: line %d: %s", path, e.line, e.text);
    json_t *map = json_object_get(j, "weight_map");
    if (!json_is_object(map)) {
        json_decref(j);
        return util_refuse(why, wl, "%s: weight_map missing or not an object", path);
    }
    *shards = xcalloc(json_object_size(map) + 1, sizeof(char *));
    *n_shards = 0;
    const char *name;
    json_t *v;
    json_object_foreach(map, name, v) {
        const char *s = json_string_value(v);
        if (!s || !*s || strchr(s, '/') || !strcmp(s, "..") || !strcmp(s, ".")) {
            util_refuse(why, wl, "%s: weight_map[\"%s\"] is not a file name in the folder", path, name);
            json_decref(j); /* after: name is j's */
            return -1;
        }
        int seen = 0;
        for (int i = 0; i < *n_shards && !seen; i++) seen = !strcmp((*shards)[i], s);
        if (!seen) (*shards)[(*n_shards)++] = xstrdup(s);
    }
    json_incref(map);
    json_decref(j);
    *map_out = map;
    return 0;
}

int hf_read_weights(const char *dir, hf_arch_t arch, const hf_want_t *want, int n, char *why, size_t wl) {
    char *index = xasprintf("%s/model.safetensors.index.json", dir);
    char **shards = NULL;
    int n_files = 0, rc = 0;
    json_t *map = NULL;
    if (util_file_exists(index)) {
        rc = s_read_index(index, &map, &shards, &n_files, why, wl);
    } else {
        shards = xcalloc(1, sizeof(char *));
        shards[0] = xstrdup("model.safetensors");
        n_files = 1;
        char *single = xasprintf("%s/model.safetensors", dir);
        if (!util_file_exists(single)) rc = util_refuse(why, wl, "%s: neither model.safetensors nor model.safetensors.index.json", dir);
        free(single);
    }
    st_mapped_t *m = xcalloc((size_t)n_files + 1, sizeof *m);
    const st_file_t **files = xcalloc((size_t)n_files + 1, sizeof *files);
    char **paths = xcalloc((size_t)n_files + 1, sizeof *paths);
    int mapped = 0;
    for (; rc == 0 && mapped < n_files; mapped++) {
        paths[mapped] = xasprintf("%s/%s", dir, shards[mapped]);
        if (st_map(paths[mapped], &m[mapped], why, wl) != 0) {
            rc = -1;
            break;
        }
        files[mapped] = &m[mapped].f;
    }
    if (rc == 0 && map) { /* the index says where each tensor is: it must be there */
        const char *name;
        json_t *v;
        json_object_foreach(map, name, v) {
            int f = 0;
            while (strcmp(shards[f], json_string_value(v)) != 0) f++;
            if (!st_find(files[f], name)) {
                rc = util_refuse(why, wl, "%s: weight_map puts tensor %s in %s, which does not hold it", index, name, shards[f]);
                break;
            }
        }
    }
    if (rc == 0) {
        int missing;
        char inner[512];
        rc = s_match(files, (const char *const *)paths, n_files, arch, want, n, &missing, inner, sizeof inner);
        if (rc != 0 && missing) snprintf(why, wl, "%s: %s", map ? index : paths[0], inner);
        else if (rc != 0) snprintf(why, wl, "%s", inner);
    }
    for (int i = 0; i < n_files; i++) {
        if (i < mapped) st_unmap(&m[i]);
        free(paths[i]);
        free(shards[i]);
    }
    free(paths);
    free(files);
    free(m);
    free(shards);
    json_decref(map);
    free(index);
    return rc;
}
