/* bench_model — `spar bench model`: the GPT policy's speed figures (printed, never asserted). */
#ifndef SPAR_BENCH_MODEL_H
#define SPAR_BENCH_MODEL_H

int bench_model_main(int argc, char **argv);

#endif
