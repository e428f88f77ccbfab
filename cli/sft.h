/* sft — `spar sft [CONFIG]`: trains an initial GPT policy (learner/sft.h), writes it in the
 * Hugging Face layout to sft.out and, for a generated task, prints its greedy accuracy on
 * held-out problems. */
#ifndef SPAR_CLI_SFT_H
#define SPAR_CLI_SFT_H

#include "cli/args.h"

int sft_run(args_t *args);

#endif
