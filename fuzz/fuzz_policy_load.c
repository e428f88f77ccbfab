/* fuzz_policy_load — policy_load on any bytes: the weights blob an actor assembles from the
 * learner's chunks, and a checkpoint file. It reaches st_parse, tabular_load and, for metadata
 * policy = gpt, gpt_deserialize (the buffer form of gpt_load). A loaded policy must serialise
 * and load again. */
#include <stdio.h>
#include <stdlib.h>

#include "common/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[400];
    uint64_t version = 0;
    policy_t *p = policy_load(data, size, &version, why, sizeof why);
    if (!p) return 0;
    size_t len;
    void *blob = policy_serialize(p, version, &len);
    policy_t *q = policy_load(blob, len, NULL, why, sizeof why);
    if (!q || policy_view(q).n != policy_view(p).n) {
        fprintf(stderr, "fuzz_policy_load: a loaded %s policy does not load after serialising: %s\n", policy_kind(p),
                q ? "size changed" : why);
        abort();
    }
    policy_destroy(&q);
    policy_destroy(&p);
    free(blob);
    return 0;
}
