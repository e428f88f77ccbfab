/* sft — see sft.h. */
#include "cli/sft.h"

#include <stdio.h>
#include <string.h>

#include "common/lm.h"
#include "common/util.h"
#include "learner/sft.h"

int sft_run(args_t *args) {
    const spar_config_t *c = &args->cfg;
    double t0 = util_now_s();
    int status;
    lm_t *m = sft_train(c, &status);
    if (!m) return status;
    char why[600];
    if (lm_save_dir(m, c->sft.out, 0, 0, why, sizeof why) != 0) {
        fprintf(stderr, "spar sft: cannot write %s: %s\n", c->sft.out, why);
        status = 1;
    } else {
        printf("spar sft: wrote %s (model.safetensors, config.json%s) in %.1f s\n", c->sft.out,
               lm_is_byte_level(m) ? "" : ", tokenizer", util_now_s() - t0);
    }
    if (!c->sft.data[0])
        printf("spar sft: greedy accuracy on %ld held-out %s problems: %.3f\n", c->task.eval_prompts, config_name(CFG_NAMES_TASK, c->task.kind),
               sft_accuracy(m, c, (int)c->task.eval_prompts));
    lm_free(&m);
    return status;
}
