/* pairs — see pairs.h. JSON through jansson. */
#include "common/pairs.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Calls line(obj, ...) for each line's object; stops at the first error. */
typedef int (*line_fn)(json_t *obj, int lineno, void *ctx, char *why, size_t whylen);

static int s_each_line(FILE *f, const char *path, line_fn line, void *ctx, char *err, size_t errlen) {
    char *text = NULL, why[256];
    size_t cap = 0;
    int n = 0, lineno = 0;
    while (getline(&text, &cap, f) > 0) {
        lineno++;
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        int rc = -1;
        if (!j) snprintf(why, sizeof why, "%s", e.text);
        else if (!json_is_object(j)) snprintf(why, sizeof why, "not a JSON object");
        else rc = line(j, lineno, ctx, why, sizeof why);
        json_decref(j);
        if (rc != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            n = -1;
            break;
        }
        n++;
    }
    free(text);
    return n;
}

static int s_each_line_path(const char *path, line_fn line, void *ctx, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int n = s_each_line(f, path, line, ctx, err, errlen);
    fclose(f);
    return n;
}

typedef struct {
    pairs_fn pairs;
    prefs_fn prefs;
    void *ctx;
} adapter_t;

static int s_pair_line(json_t *j, int lineno, void *ctx, char *why, size_t wl) {
    adapter_t *a = ctx;
    const char *p = json_string_value(json_object_get(j, "prompt")), *r = json_string_value(json_object_get(j, "response"));
    if (!p || !r) {
        snprintf(why, wl, "needs string fields \"prompt\" and \"response\"");
        return -1;
    }
    return a->pairs(p, r, lineno, a->ctx, why, wl);
}

static int s_pref_line(json_t *j, int lineno, void *ctx, char *why, size_t wl) {
    adapter_t *a = ctx;
    const char *p = json_string_value(json_object_get(j, "prompt"));
    const char *c = json_string_value(json_object_get(j, "chosen")), *r = json_string_value(json_object_get(j, "rejected"));
    json_t *tie = json_object_get(j, "tie");
    if (!p || !c || !r) {
        snprintf(why, wl, "needs string fields \"prompt\", \"chosen\" and \"rejected\"");
        return -1;
    }
    if (tie && !json_is_boolean(tie)) {
        snprintf(why, wl, "\"tie\" must be true or false");
        return -1;
    }
    return a->prefs(p, c, r, tie && json_is_true(tie), lineno, a->ctx, why, wl);
}

int pairs_read(const char *path, pairs_fn fn, void *ctx, char *err, size_t errlen) {
    adapter_t a = {fn, NULL, ctx};
    return s_each_line_path(path, s_pair_line, &a, err, errlen);
}

int prefs_read(const char *path, prefs_fn fn, void *ctx, char *err, size_t errlen) {
    adapter_t a = {NULL, fn, ctx};
    return s_each_line_path(path, s_pref_line, &a, err, errlen);
}

int pairs_read_stream(FILE *f, const char *name, pairs_fn fn, void *ctx, char *err, size_t errlen) {
    adapter_t a = {fn, NULL, ctx};
    return s_each_line(f, name, s_pair_line, &a, err, errlen);
}

int prefs_read_stream(FILE *f, const char *name, prefs_fn fn, void *ctx, char *err, size_t errlen) {
    adapter_t a = {NULL, fn, ctx};
    return s_each_line(f, name, s_pref_line, &a, err, errlen);
}
