/* sft — `spar sft [CONFIG]`: supervised training of an initial GPT policy. */
#ifndef SPAR_SFT_H
#define SPAR_SFT_H

#include "cli/args.h"

int sft_run(args_t *args);

#endif
