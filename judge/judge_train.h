/* judge_train — fits a judge model (common/judge_model.h) to judged pairs with AdamW, and
 * measures it: the share of pairs whose chosen response it prefers (ties excluded). Used by
 * `spar judge-train` and the tests. */
#ifndef SPAR_JUDGE_TRAIN_H
#define SPAR_JUDGE_TRAIN_H

#include <stdio.h>

#include "common/judge_model.h"

typedef struct {
    char *prompt, *chosen, *rejected;
    int tie;
} jpair_t;

typedef struct {
    jpair_t *p;
    int n, cap;
} jpairs_t;

void jpairs_add(jpairs_t *d, const char *prompt, const char *chosen, const char *rejected, int tie);
void jpairs_free(jpairs_t *d);

typedef struct {
    long steps, batch, warmup;
    double lr, weight_decay, clip;
    unsigned long long seed;
} jtrain_opts_t;

/* Mean loss of one batch of pairs, with gradients into the model (zeroed first). Returns NAN when
 * a pair does not fit the context. */
double jt_loss_grad(judge_model_t *m, const jpair_t *const *batch, int n);
/* Trains; prints a progress line every steps/20 to out (NULL: quiet). Returns the last 5% of
 * steps' mean loss, or NAN when a pair does not fit. */
double jt_train(judge_model_t *m, const jpairs_t *d, const jtrain_opts_t *o, FILE *out);
/* Share of the non-tie pairs whose chosen response the model prefers (s > 0). */
double jt_accuracy(judge_model_t *m, const jpairs_t *d);

#endif
