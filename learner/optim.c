/* optim — see optim.h. */
#include "learner/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

optim_t *optim_new(optimizer_t kind, double lr, const policy_t *p, double weight_decay, double clip, long warmup) {
    policy_view_t v = policy_view(p);
    optim_t *o = xcalloc(1, sizeof *o);
    o->adam = kind == OPTIMIZER_ADAM;
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    if (v.f32) { /* constant rate after the warm-up: total_steps 0 turns the cosine off */
        o->adamw = adamw_new(v.n, lr, weight_decay, clip, warmup, 0);
        o->decay = policy_decay_mask(p);
        return o;
    }
    o->n = v.n;
    o->m = xcalloc(o->n, sizeof(double));
    o->v = xcalloc(o->n, sizeof(double));
    return o;
}

void optim_reset(optim_t *o) {
    if (o->adamw) {
        memset(o->adamw->m, 0, o->adamw->n * sizeof(float));
        memset(o->adamw->v, 0, o->adamw->n * sizeof(float));
        o->adamw->t = 0;
    }
    if (o->n) {
        memset(o->m, 0, o->n * sizeof(double));
        memset(o->v, 0, o->n * sizeof(double));
    }
    o->t = 0;
}

static void s_step_f64(optim_t *o, double *params, const double *grads) {
    o->t++;
    if (!o->adam) {
        for (size_t i = 0; i < o->n; i++) params[i] -= o->lr * grads[i];
        return;
    }
    double c1 = 1.0 - pow(o->beta1, (double)o->t), c2 = 1.0 - pow(o->beta2, (double)o->t);
    for (size_t i = 0; i < o->n; i++) {
        o->m[i] = o->beta1 * o->m[i] + (1 - o->beta1) * grads[i];
        o->v[i] = o->beta2 * o->v[i] + (1 - o->beta2) * grads[i] * grads[i];
        params[i] -= o->lr * (o->m[i] / c1) / (sqrt(o->v[i] / c2) + o->eps);
    }
}

void optim_step_policy(optim_t *o, policy_t *p) {
    policy_view_t v = policy_view(p);
    if (o->adamw) adamw_step(o->adamw, v.f32, v.grad_f32, o->decay);
    else s_step_f64(o, v.f64, v.grad_f64);
}

void optim_destroy(optim_t **op) {
    if (!op || !*op) return;
    adamw_destroy(&(*op)->adamw);
    free((*op)->decay);
    free((*op)->m);
    free((*op)->v);
    free(*op);
    *op = NULL;
}
