/* checkpoint — the learner's checkpoints in RUN_DIR/checkpoints: after every iteration t the
 * policy (iter-TTTT.safetensors, or the folder iter-TTTT/ in the Hugging Face layout for a gpt
 * policy, PEFT's adapter layout for a LoRA one) and beside it iter-TTTT.state.safetensors: APO's
 * last un-extrapolated solution, the version and step counters and the optimiser's moments —
 * what an exact resume needs besides the weights (the moments are saved as they stand, though today every training call starts
 * them afresh, so a resume would be exact without them). Each file is written atomically (temporary file, fsync, rename) and
 * carries the digest of its data, checked whenever it is read (common/safetensors.h). The state
 * is written first, so a policy file on disk means the iteration's checkpoint is whole. */
#ifndef SPAR_CHECKPOINT_H
#define SPAR_CHECKPOINT_H

#include "learner/core.h"

/* The policy file of iteration t in run_dir (malloc'd): a LoRA run's is the folder's
 * adapter_model.safetensors (PEFT's layout: adapter_config.json beside it). */
char *ckpt_policy_path(const char *run_dir, int gpt, uint64_t t);
/* The counters a checkpoint records, taken when its iteration ended. */
typedef struct {
    uint64_t iteration, version, stale_total;
    long steps;
} ckpt_counters_t;

/* Writes the state and the policy of the iteration n names into run_dir: the core's optimiser
 * and APO state as they are (nothing may change them meanwhile), and for a tabular policy the
 * serialised current version `policy` (len bytes), for a gpt policy the core's theta. Returns 0
 * or a negative errno (logged). */
int ckpt_write(const learner_core_t *c, const char *run_dir, const uint8_t *policy, size_t len,
               const ckpt_counters_t *n);
/* Reads the policy of iteration t, its digest checked; a LoRA run's (a PEFT folder of adapters)
 * onto the run's base `onto` (policy_lora_base; NULL for other runs). NULL with the reason in why. */
policy_t *ckpt_load_policy(const char *run_dir, int gpt, uint64_t t, policy_t *onto, uint64_t *version, char *why,
                           size_t wl);
/* Does iteration t's state file read whole, its digest intact? 0, or -1 with the reason. */
int ckpt_state_readable(const char *run_dir, uint64_t t, char *why, size_t wl);
/* Restores the optimiser and APO's solution of iteration t into the core (set up around a
 * policy of the same shape), and its step and stale counters into n. Returns 0 or -1 with the
 * reason in why. */
int ckpt_load_state(learner_core_t *c, const char *run_dir, uint64_t t, ckpt_counters_t *n, char *why, size_t wl);

#endif
