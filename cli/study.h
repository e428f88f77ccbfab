/* study — `spar study [CONFIG]`: the convergence study of every algorithm on every game family. */
#ifndef SPAR_STUDY_H
#define SPAR_STUDY_H

#include "cli/args.h"

/* Runs the study; returns the exit status (0: every run completed and the plots were drawn). */
int study_run(args_t *args);

#endif
