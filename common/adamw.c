/* adamw — see adamw.h. */
#include "common/adamw.h"

#include <math.h>
#include <stdlib.h>

#include "common/util.h"

adamw_t *adamw_new(size_t n, double lr, double weight_decay, double clip, long warmup_steps, long total_steps) {
    adamw_t *a = xcalloc(1, sizeof *a);
    a->lr = lr;
    a->beta1 = 0.9;
    a->beta2 = 0.95;
    a->eps = 1e-8;
    a->weight_decay = weight_decay;
    a->clip = clip;
    a->lr_min_ratio = 0.1;
    a->warmup_steps = warmup_steps;
    a->total_steps = total_steps;
    a->n = n;
    a->m = xcalloc(n, sizeof(float));
    a->v = xcalloc(n, sizeof(float));
    return a;
}

void adamw_destroy(adamw_t **ap) {
    if (!ap || !*ap) return;
    free((*ap)->m);
    free((*ap)->v);
    free(*ap);
    *ap = NULL;
}

double adamw_lr(const adamw_t *a, long t) {
    if (t < a->warmup_steps) return a->lr * (double)(t + 1) / (double)a->warmup_steps;
    if (a->total_steps <= a->warmup_steps) return a->lr;
    double progress = fmin(1.0, (double)(t - a->warmup_steps) / (double)(a->total_steps - a->warmup_steps));
    double lo = a->lr * a->lr_min_ratio;
    return lo + 0.5 * (a->lr - lo) * (1.0 + cos(M_PI * progress));
}

double adamw_step(adamw_t *a, float *params, const float *grads, const uint8_t *decay) {
    double norm2 = 0;
    for (size_t i = 0; i < a->n; i++) norm2 += (double)grads[i] * grads[i];
    double norm = sqrt(norm2), scale = a->clip > 0 && norm > a->clip ? a->clip / norm : 1.0;
    double lr = adamw_lr(a, a->t);
    a->t++;
    double c1 = 1.0 - pow(a->beta1, (double)a->t), c2 = 1.0 - pow(a->beta2, (double)a->t);
    for (size_t i = 0; i < a->n; i++) {
        double g = grads[i] * scale;
        a->m[i] = (float)(a->beta1 * a->m[i] + (1 - a->beta1) * g);
        a->v[i] = (float)(a->beta2 * a->v[i] + (1 - a->beta2) * g * g);
        double step = (a->m[i] / c1) / (sqrt(a->v[i] / c2) + a->eps);
        double wd = (!decay || decay[i]) ? a->weight_decay * params[i] : 0.0;
        params[i] -= (float)(lr * (step + wd));
    }
    return norm;
}
