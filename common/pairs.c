/* pairs — see pairs.h. JSON through jansson. */
#include "common/pairs.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pairs_read(const char *path, pairs_fn fn, void *ctx, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL, why[256];
    size_t cap = 0;
    int n = 0, lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        const char *p = j ? json_string_value(json_object_get(j, "prompt")) : NULL;
        const char *r = j ? json_string_value(json_object_get(j, "response")) : NULL;
        int rc = 0;
        if (!p || !r) {
            snprintf(why, sizeof why, "%s", j ? "needs string fields \"prompt\" and \"response\"" : e.text);
            rc = -1;
        } else {
            rc = fn(p, r, lineno, ctx, why, sizeof why);
        }
        json_decref(j);
        if (rc != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            n = -1;
            break;
        }
        n++;
    }
    free(line);
    fclose(f);
    return n;
}
