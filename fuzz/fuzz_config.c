/* fuzz_config — any text as a config file through config_load_string (the parser config_load_file
 * uses), then config_validate. Errors come back as -1 and a message, never an exit or abort. A
 * config that loads must read back unchanged from config_write_yaml, as config.h promises
 * (spar writes every run's resolved config and reads it again). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *s_yaml(const spar_config_t *cfg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) abort();
    config_write_yaml(cfg, f);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = xmalloc(size + 1), err[512];
    memcpy(text, data, size);
    text[size] = '\0';
    spar_config_t cfg, back;
    config_defaults(&cfg);
    if (config_load_string(&cfg, "fuzz.yaml", text, err, sizeof err) == 0) {
        char *yaml = s_yaml(&cfg);
        config_defaults(&back);
        if (config_load_string(&back, "written.yaml", yaml, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_config: config_write_yaml wrote what does not load: %s\n", err);
            abort();
        }
        char *again = s_yaml(&back);
        if (strcmp(yaml, again) != 0) {
            fprintf(stderr, "fuzz_config: a config changed in a write and read\n");
            abort();
        }
        free(again);
        free(yaml);
        (void)config_validate(&cfg, err, sizeof err);
    }
    free(text);
    return 0;
}
