/* replay — see replay.h. */
#include "learner/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/records.h"
#include "common/safetensors.h"
#include "common/util.h"
#include "learner/checkpoint.h"
#include "learner/service.h"

/* The data digest of a safetensors buffer (the one st_serialize records and st_parse checks),
 * as hex into out; 0, or -1 when the buffer has none. The learner's blob and its checkpoint
 * folder's model.safetensors hold the same tensors, but their metadata differ for a Hugging
 * Face model (the blob carries config.json and the tokenizer): the data decides. */
static int s_data_digest(const void *buf, size_t len, char *out, size_t outlen) {
    st_file_t f;
    char why[200];
    if (!buf || st_parse(buf, len, &f, why, sizeof why) != 0) return -1;
    const char *d = st_meta(&f, ST_DIGEST_KEY);
    if (d) snprintf(out, outlen, "%s", d);
    st_free(&f);
    return d ? 0 : -1;
}

/* Compares the replayed version with the run's checkpoint of iteration t: 1 same, 0 not. */
static int s_same(const learner_service_t *L, uint64_t t) {
    char *path = ckpt_policy_path(L->files.dir, L->core.gpt, t);
    size_t len;
    char *data = util_read_file(path, &len);
    char mine[2 * DIGEST_BYTES + 1] = "(none)", theirs[2 * DIGEST_BYTES + 1] = "(unreadable)";
    int same = s_data_digest(L->blob.data, L->blob.len, mine, sizeof mine) == 0 &&
               s_data_digest(data, data ? len : 0, theirs, sizeof theirs) == 0 && !strcmp(mine, theirs);
    printf("iteration %4" PRIu64 "  version %4" PRIu64 "  %.16s  %s\n", t, L->core.version, mine,
           same ? "= the run's checkpoint" : "DIFFERS from the run's checkpoint");
    if (!same) printf("               run's %.16s  (%s)\n", theirs, path);
    free(data);
    free(path);
    return same;
}

/* A service without sockets around the run's checkpoint 0. Returns 0 or 2 (said on stderr). */
static int s_setup(learner_service_t *L, const spar_config_t *cfg, const char *run_dir) {
    memset(L, 0, sizeof *L);
    L->cfg = cfg;
    snprintf(L->files.dir, sizeof L->files.dir, "%s", run_dir);
    wire_init(&L->net.wire, "replay", cfg->wire.max_frame_bytes);
    peers_init(&L->peers, cfg->actor.heartbeat_ms);
    if (core_init(&L->core, cfg) != 0) return 2;
    char why[600];
    uint64_t v0;
    policy_t *base = NULL; /* a LoRA run's checkpoints are adapters onto policy.checkpoint */
    if (cfg->policy.lora.rank > 0 && !(base = policy_lora_base(cfg->policy.checkpoint, why, sizeof why))) {
        fprintf(stderr, "spar replay: policy.checkpoint %s: %s\n", cfg->policy.checkpoint, why);
        return 2;
    }
    L->core.theta = ckpt_load_policy(run_dir, L->core.gpt, 0, base, &v0, why, sizeof why);
    policy_destroy(&base);
    if (!L->core.theta) {
        fprintf(stderr, "spar replay: %s\n", why);
        return 2;
    }
    return learner_core_setup(L);
}

/* Admits the recorded groups of iteration t, from *next on (the first record past them is left
 * in *next). Returns 0, or 1 when a group does not fit the run (it is dropped). */
static int s_take_iteration(learner_service_t *L, FILE *f, const char *rec, uint64_t t, Spar__RolloutGroup **next,
                            int *bad) {
    int status = 0;
    learner_begin_iteration(L);
    while (*next && (*next)->iteration == t) {
        char why[256];
        if (learner_group_fits(L, *next, why, sizeof why) != 0) {
            fprintf(stderr, "spar replay: %s: group for prompt %u of iteration %" PRIu64 " does not fit the run: %s\n",
                    rec, (*next)->prompt_id, t, why);
            spar__rollout_group__free_unpacked(*next, NULL);
            status = 1;
        } else {
            learner_admit(L, *next, 0);
        }
        *next = records_next(f, bad);
    }
    return status;
}

/* Replays every whole iteration of the records; counts them and those that match. 0 or 1. */
static int s_replay(learner_service_t *L, FILE *f, const char *rec, long *replayed, long *matched, int *bad) {
    int status = 0;
    Spar__RolloutGroup *next = records_next(f, bad);
    while (next && !*bad) {
        uint64_t t = next->iteration;
        if (t != L->iteration + 1) {
            fprintf(stderr, "spar replay: %s: a group of iteration %" PRIu64 " follows iteration %" PRIu64 "\n", rec,
                    t, L->iteration);
            status = 1;
            break;
        }
        status |= s_take_iteration(L, f, rec, t, &next, bad);
        if (!leases_all_done(&L->leases)) { /* the run stopped during this iteration */
            printf("iteration %4" PRIu64 "  incomplete in the records (%d of %ld groups): not replayed\n", t,
                   L->leases.done, L->cfg->task.prompts);
            break;
        }
        train_result_t tr = {0};
        int lost;
        if (learner_end_iteration(L, &tr, &lost) != 0) {
            status = 1;
            break;
        }
        (*replayed)++;
        *matched += s_same(L, t);
    }
    if (next) spar__rollout_group__free_unpacked(next, NULL);
    return status;
}

int replay_main(const spar_config_t *cfg, const char *run_dir) {
    static learner_service_t L;
    int status = s_setup(&L, cfg, run_dir);
    if (status != 0) return status;
    char *rec = xasprintf("%s/records/groups.pb", run_dir);
    FILE *f = fopen(rec, "rb");
    if (!f) {
        fprintf(stderr, "spar replay: cannot read %s: %s\n", rec, strerror(errno));
        free(rec);
        learner_teardown(&L);
        return 2;
    }
    printf("spar replay: %s from %s, starting from checkpoint 0\n", run_dir, rec);
    int bad = 0;
    long replayed = 0, matched = 0;
    status = s_replay(&L, f, rec, &replayed, &matched, &bad);
    if (bad) printf("spar replay: %s ends in a torn record (a run stopped while writing it)\n", rec);
    fclose(f);
    free(rec);
    if (matched != replayed) status = 1;
    printf("spar replay: %ld of %ld checkpoints reproduced bit for bit from the records\n", matched, replayed);
    learner_teardown(&L);
    return replayed == 0 && status == 0 ? 1 : status;
}
