/* adamw — AdamW for float parameters (the GPT policy): decoupled weight decay on the tensors a
 * mask marks (matrices, not biases or LayerNorm), the global gradient norm clipped to
 * `clip`, and a learning rate that warms up linearly, then follows a cosine down to
 * lr_min_ratio x lr over total_steps. */
#ifndef SPAR_ADAMW_H
#define SPAR_ADAMW_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double lr, beta1, beta2, eps, weight_decay, clip, lr_min_ratio;
    long warmup_steps, total_steps;
    size_t n;
    float *m, *v;
    long t;
} adamw_t;

adamw_t *adamw_new(size_t n, double lr, double weight_decay, double clip, long warmup_steps, long total_steps);
void adamw_destroy(adamw_t **a);
/* The learning rate of step t (0-based). */
double adamw_lr(const adamw_t *a, long t);
/* One update; decay[i] says whether parameter i is decayed (NULL: all). Returns the gradient's
 * L2 norm before clipping. */
double adamw_step(adamw_t *a, float *params, const float *grads, const uint8_t *decay);

#endif
