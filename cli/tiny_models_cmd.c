/* tiny_models_cmd — see tiny_models_cmd.h. */
#include "cli/tiny_models_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tiny_models.h"

static const char s_usage[] = "usage: spar tiny-models DIR [--shape tiny|smollm2-135m|qwen2.5-0.5b] [--seed N]\n";

int tiny_models_main(int argc, char **argv) {
    const char *dir = NULL, *shape = "tiny";
    unsigned long long seed = 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\nWrites small random Hugging Face models that the chat configs run on with no download:\n"
                   "  DIR/policy     LlamaForCausalLM (2 layers, d_model 64), the policy\n"
                   "  DIR/judge      LlamaForCausalLM, a generative judge (judge.kind generative)\n"
                   "  DIR/reward     LlamaForSequenceClassification, a reward model (judge.kind reward)\n"
                   "  DIR/tokenizer  their byte-level BPE tokenizer with a ChatML chat template\n"
                   "Random weights: they run the loop at real speed per parameter and know nothing.\n\n"
                   "  --shape S  tiny (default: 2 layers, d_model 64), or the shape of smollm2-135m or\n"
                   "             qwen2.5-0.5b (the real models' sizes and vocabularies, for measuring)\n"
                   "  --seed N   the weights' seed (default 1)\n",
                   s_usage);
            return 0;
        }
        if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            shape = argv[++i];
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            seed = strtoull(argv[++i], &end, 10);
            if (*end) {
                fprintf(stderr, "spar tiny-models: --seed %s is not a number\n%s", argv[i], s_usage);
                return 2;
            }
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "spar tiny-models: unexpected argument %s\n%s", argv[i], s_usage);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "%s", s_usage);
        return 2;
    }
    char why[512];
    if (tiny_models_write(dir, shape, seed, why, sizeof why) != 0) {
        fprintf(stderr, "spar tiny-models: %s\n", why);
        return 1;
    }
    printf("spar tiny-models: wrote %s/policy, %s/judge, %s/reward\n", dir, dir, dir);
    return 0;
}
