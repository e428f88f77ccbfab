/* launcher — `spar run [CONFIG]`: one learner, the judges and actors as child processes. */
#ifndef SPAR_LAUNCHER_H
#define SPAR_LAUNCHER_H

#include "cli/args.h"

/* Runs the whole job; returns the exit status (0: every iteration completed). */
int launcher_run(args_t *args);

#endif
