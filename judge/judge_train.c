/* judge_train — see judge_train.h. One step: a batch of pairs drawn with replacement, chosen and
 * rejected embedded in one forward pass, the pair loss's gradient through the score and trunk,
 * then AdamW on the trunk (with its decay mask) and on the head (without decay). */
#include "judge/judge_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/util.h"
#include "common/adamw.h"

void jpairs_add(jpairs_t *d, const char *prompt, const char *chosen, const char *rejected, int tie) {
    if (d->n == d->cap) d->p = xrealloc(d->p, sizeof(jpair_t) * (size_t)(d->cap = d->cap ? 2 * d->cap : 256));
    d->p[d->n++] = (jpair_t){xstrdup(prompt), xstrdup(chosen), xstrdup(rejected), tie};
}

void jpairs_free(jpairs_t *d) {
    for (int i = 0; i < d->n; i++) free(d->p[i].prompt), free(d->p[i].chosen), free(d->p[i].rejected);
    free(d->p);
    memset(d, 0, sizeof *d);
}

double jt_loss_grad(judge_model_t *m, const jpair_t *const *batch, int n) {
    int D = m->dim;
    const char **pr = xmalloc(sizeof(char *) * 2 * (size_t)n), **rs = xmalloc(sizeof(char *) * 2 * (size_t)n);
    for (int i = 0; i < n; i++) { /* rows 2i: chosen, 2i + 1: rejected */
        pr[2 * i] = pr[2 * i + 1] = batch[i]->prompt;
        rs[2 * i] = batch[i]->chosen;
        rs[2 * i + 1] = batch[i]->rejected;
    }
    float *v = xmalloc(sizeof(float) * 2 * (size_t)n * D), *dv = xcalloc(2 * (size_t)n * D, sizeof(float));
    double total = NAN;
    jm_zero_grad(m);
    if (jm_forward(m, pr, rs, 2 * n, v) == 0) {
        total = 0;
        for (int i = 0; i < n; i++) {
            double dlds, s = jm_score(m, v + 2 * i * D, v + (2 * i + 1) * D);
            total += jm_pair_loss(s, batch[i]->tie, &dlds);
            jm_score_backward(m, v + 2 * i * D, v + (2 * i + 1) * D, dlds / n, dv + 2 * i * D, dv + (2 * i + 1) * D);
        }
        total /= n;
        jm_backward(m, dv);
    }
    free(pr), free(rs), free(v), free(dv);
    return total;
}

double jt_train(judge_model_t *m, const jpairs_t *d, const jtrain_opts_t *o, FILE *out) {
    size_t np = gpt_n_params(m->trunk), nh = (size_t)gpt_config(m->trunk)->d_model * m->dim + (size_t)m->dim;
    adamw_t *at = adamw_new(np, o->lr, o->weight_decay, o->clip, o->warmup, o->steps);
    adamw_t *ah = adamw_new(nh, o->lr, 0.0, o->clip, o->warmup, o->steps);
    uint8_t *mask = gpt_decay_mask(m->trunk);
    float *head = xmalloc(sizeof(float) * nh), *ghead = xmalloc(sizeof(float) * nh);
    int B = o->batch < d->n ? (int)o->batch : d->n;
    const jpair_t **batch = xmalloc(sizeof(jpair_t *) * (size_t)(B ? B : 1));
    rng_t r;
    rng_stream(&r, o->seed, 0x6a747261, 0, 0); /* "jtra" */
    long report = o->steps / 20 > 0 ? o->steps / 20 : 1, tail = o->steps / 20 > 0 ? o->steps / 20 : 1;
    double sum = 0, tail_sum = 0, t0 = util_now_s();
    int tail_n = 0, bad = 0, since = 0;
    for (long step = 0; step < o->steps && B > 0 && !util_stop_requested(); step++) {
        for (int i = 0; i < B; i++) batch[i] = &d->p[(int)(rng_uniform(&r) * d->n)];
        double loss = jt_loss_grad(m, batch, B);
        if (!isfinite(loss)) {
            bad = 1;
            break;
        }
        /* the head is one small buffer: copy in, step, copy out */
        size_t W = nh - (size_t)m->dim;
        memcpy(head, m->w, sizeof(float) * W), memcpy(head + W, m->b, sizeof(float) * (size_t)m->dim);
        memcpy(ghead, m->gw, sizeof(float) * W), memcpy(ghead + W, m->gb, sizeof(float) * (size_t)m->dim);
        adamw_step(at, gpt_params(m->trunk), gpt_grads(m->trunk), mask);
        adamw_step(ah, head, ghead, NULL);
        memcpy(m->w, head, sizeof(float) * W), memcpy(m->b, head + W, sizeof(float) * (size_t)m->dim);
        sum += loss, since++;
        if (step >= o->steps - tail) tail_sum += loss, tail_n++;
        if (out && ((step + 1) % report == 0 || step + 1 == o->steps)) {
            fprintf(out, "spar judge-train: step %5ld/%ld  loss %.4f  lr %.2e  %.1f s\n", step + 1, o->steps,
                    sum / since, adamw_lr(at, step), util_now_s() - t0);
            fflush(out);
            sum = 0, since = 0;
        }
    }
    adamw_destroy(&at), adamw_destroy(&ah);
    free(mask), free(head), free(ghead), free(batch);
    return bad ? NAN : tail_n ? tail_sum / tail_n : NAN;
}

double jt_accuracy(judge_model_t *m, const jpairs_t *d) {
    int right = 0, counted = 0, D = m->dim;
    float v[2 * 64];
    for (int i = 0; i < d->n; i++) {
        if (d->p[i].tie || D > 64) continue;
        const char *pr[2] = {d->p[i].prompt, d->p[i].prompt}, *rs[2] = {d->p[i].chosen, d->p[i].rejected};
        if (jm_forward(m, pr, rs, 2, v) != 0) continue;
        counted++;
        right += jm_score(m, v, v + D) > 0;
    }
    return counted ? (double)right / counted : NAN;
}
