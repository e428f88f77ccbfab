/* jsonl — see jsonl.h. */
#include "common/jsonl.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

json_t *jsonl_read(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') break; /* still being written */
        json_t *o = json_loadb(line, (size_t)n, 0, NULL);
        if (o) json_array_append_new(arr, o);
    }
    free(line);
    fclose(f);
    return arr;
}
