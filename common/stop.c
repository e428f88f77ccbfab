/* stop — see stop.h. */
#include "common/stop.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void stop_free(char **stops, int n) {
    for (int i = 0; i < n; i++) free(stops[i]);
    free(stops);
}

int stop_valid(const char *const *stops, int n) {
    if (n < 0 || n > STOP_MAX) return 0;
    for (int i = 0; i < n; i++)
        if (!stops[i] || !stops[i][0] || strlen(stops[i]) > STOP_MAX_BYTES) return 0;
    return 1;
}

int stop_parse(const char *value, char ***out, int *n, char *why, size_t wl) {
    *out = NULL;
    *n = 0;
    if (!value[0]) return 0;
    json_t *list = value[0] == '[' ? json_loads(value, 0, NULL) : NULL;
    if (value[0] == '[' && !json_is_array(list)) {
        snprintf(why, wl, "starts with '[' but is not a JSON list of strings");
        return -1;
    }
    size_t count = list ? json_array_size(list) : 1;
    char **s = xcalloc(count ? count : 1, sizeof *s);
    for (size_t i = 0; i < count; i++) {
        const char *v = list ? json_string_value(json_array_get(list, i)) : value;
        if (!v) {
            snprintf(why, wl, "item %zu is not a string", i + 1);
            json_decref(list);
            stop_free(s, (int)i);
            return -1;
        }
        s[i] = xstrdup(v);
    }
    json_decref(list);
    if (!stop_valid((const char *const *)s, (int)count)) {
        snprintf(why, wl, "at most %d stop strings of 1 to %d bytes each", STOP_MAX, STOP_MAX_BYTES);
        stop_free(s, (int)count);
        return -1;
    }
    *out = s;
    *n = (int)count;
    return 0;
}

long stop_find(const char *text, const char *const *stops, int n) {
    long best = -1;
    for (int i = 0; i < n; i++) {
        const char *at = strstr(text, stops[i]);
        long end = at ? (long)(at - text) + (long)strlen(stops[i]) : -1;
        if (end >= 0 && (best < 0 || end < best)) best = end;
    }
    return best;
}
