/* fuzz_records — a records file (varint length + RolloutGroup, repeated) read to its end with
 * records_next: every record is either a group or the end, with truncation and corruption
 * reported through *bad, never a crash or an allocation the file does not back. */
#include <stdint.h>
#include <stdio.h>

#include "common/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    int bad = 0;
    Spar__RolloutGroup *g;
    while ((g = records_next(f, &bad))) spar__rollout_group__free_unpacked(g, NULL);
    fclose(f);
    return 0;
}
