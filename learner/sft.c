/* sft — see sft.h. */
#include "learner/sft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/gpt_io.h"
#include "common/gpt_sample.h"
#include "common/pairs.h"
#include "common/task.h"
#include "common/tokenizer.h"
#include "common/util.h"
#include "common/adamw.h"

typedef struct {
    int *tokens; /* prompt, response, end-of-text */
    int len, prompt_len;
} example_t;

typedef struct {
    example_t *ex;
    int n, cap;
} dataset_t;

static void s_dataset_free(dataset_t *d) {
    for (int i = 0; i < d->n; i++) free(d->ex[i].tokens);
    free(d->ex);
    memset(d, 0, sizeof *d);
}

static int s_add(dataset_t *d, const char *prompt, const char *response, int ctx, char *why, size_t wl) {
    int *t = xmalloc(sizeof(int) * (size_t)ctx), pl;
    int len = tok_encode_pair(prompt, response, t, ctx, &pl);
    if (len < 0) {
        snprintf(why, wl, "prompt and response need 1 to %d tokens together (gpt.ctx %d, with end-of-text)", ctx - 1, ctx);
        free(t);
        return -1;
    }
    if (d->n == d->cap) d->ex = xrealloc(d->ex, sizeof(example_t) * (size_t)(d->cap = d->cap ? 2 * d->cap : 256));
    d->ex[d->n++] = (example_t){t, len, pl};
    return 0;
}

typedef struct {
    dataset_t *d;
    int ctx;
} add_ctx_t;

static int s_add_line(const char *prompt, const char *response, int lineno, void *ctx, char *why, size_t wl) {
    (void)lineno;
    add_ctx_t *a = ctx;
    return s_add(a->d, prompt, response, a->ctx, why, wl);
}

double sft_accuracy(gpt_t *m, const spar_config_t *c, int n) {
    int ctx = (int)c->gpt.ctx, right = 0;
    gpt_sample_opts_t o = {.temperature = 0, .top_p = 1.0, .max_new = (int)c->task.digits + 3};
    for (int i = 0; i < n; i++) {
        char prompt[64];
        long answer = task_eval_problem(c, i, prompt, sizeof prompt);
        int *pt = xmalloc(sizeof(int) * (size_t)ctx), pl = tok_encode(prompt, pt, ctx), out[16], len;
        float lps[16];
        const int *pp = pt;
        rng_t r;
        rng_seed(&r, 0);
        if (gpt_generate(m, &pp, &pl, 1, &o, &r, out, lps, &len) == 0) {
            char *text = tok_decode(out, len);
            right += task_correct(c, text, answer);
            free(text);
        }
        free(pt);
    }
    return n ? (double)right / n : 0;
}

/* The examples: sft.data, else the task's generated ones. 0, or 2 (said on stderr; d freed). */
static int s_dataset(const spar_config_t *c, dataset_t *d) {
    int ctx = (int)c->gpt.ctx;
    if (c->sft.data[0]) {
        add_ctx_t a = {d, ctx};
        char err[600];
        int n = pairs_read(c->sft.data, s_add_line, &a, err, sizeof err);
        if (n <= 0) {
            fprintf(stderr, "spar sft: %s\n", n < 0 ? err : "no examples");
            s_dataset_free(d);
            return 2;
        }
        return 0;
    }
    if (c->task.kind == TASK_GAME) {
        fprintf(stderr, "spar sft: set sft.data (a JSONL file) or task.kind arith|styles to generate data\n");
        return 2;
    }
    char why[256];
    for (long i = 0; i < c->sft.examples; i++) {
        char prompt[64], response[32];
        task_sft_example(c, (uint64_t)i, prompt, sizeof prompt, response, sizeof response);
        if (s_add(d, prompt, response, ctx, why, sizeof why) != 0) {
            fprintf(stderr, "spar sft: %s with %ld digits: %s\n", config_name(CFG_NAMES_TASK, c->task.kind), c->task.digits, why);
            s_dataset_free(d);
            return 2;
        }
    }
    return 0;
}

/* A batch of B random examples, rows padded with end-of-text to the longest (T, returned) and
 * packed at stride T; n_resp: the batch's response tokens. */
static int s_draw_batch(const dataset_t *d, rng_t *r, int B, int ctx, int *tokens, int *pl, int *len, long *n_resp) {
    int T = 0;
    for (int b = 0; b < B; b++) {
        const example_t *e = &d->ex[(int)(rng_uniform(r) * d->n)];
        memcpy(tokens + (size_t)b * ctx, e->tokens, sizeof(int) * (size_t)e->len);
        pl[b] = e->prompt_len;
        len[b] = e->len;
        *n_resp += e->len - e->prompt_len;
        if (e->len > T) T = e->len;
    }
    for (int b = 0; b < B; b++) { /* repack rows to stride T */
        memmove(tokens + (size_t)b * T, tokens + (size_t)b * ctx, sizeof(int) * (size_t)len[b]);
        for (int t = len[b]; t < T; t++) tokens[(size_t)b * T + t] = GPT_EOT;
    }
    return T;
}

gpt_t *sft_train(const spar_config_t *c, int *status) {
    gpt_config_t gc = {(int)c->gpt.n_layer, (int)c->gpt.n_head, (int)c->gpt.d_model, (int)c->gpt.ctx, GPT_VOCAB};
    dataset_t d = {0};
    int ctx = (int)c->gpt.ctx;
    if ((*status = s_dataset(c, &d)) != 0) return NULL;
    gpt_set_threads((int)c->gpt.threads);
    gpt_t *m = gpt_new(&gc, (unsigned long long)c->run.seed);
    long steps = c->sft.steps, B = c->sft.batch < d.n ? c->sft.batch : d.n;
    adamw_t *opt = adamw_new(gpt_n_params(m), c->sft.lr, c->sft.weight_decay, c->sft.clip, c->sft.warmup, steps);
    uint8_t *mask = gpt_decay_mask(m);
    printf("spar sft: %d examples (%s), GPT L%d H%d d%d ctx%d, %.2f M parameters, %ld steps of %ld\n", d.n,
           c->sft.data[0] ? c->sft.data : config_name(CFG_NAMES_TASK, c->task.kind), gc.n_layer, gc.n_head, gc.d_model, gc.ctx,
           gpt_n_params(m) / 1e6, steps, B);
    int *tokens = xmalloc(sizeof(int) * (size_t)B * ctx), *pl = xmalloc(sizeof(int) * B), *len = xmalloc(sizeof(int) * B);
    double *lp = xmalloc(sizeof(double) * B), *dlp = xmalloc(sizeof(double) * B);
    rng_t r;
    rng_stream(&r, (uint64_t)c->run.seed, 0x736674, 0, 0); /* "sft" */
    double t0 = util_now_s(), loss_sum = 0;
    long tok_sum = 0, report = steps / 20 > 0 ? steps / 20 : 1, tokens_seen = 0;
    util_install_stop_signals();
    for (long step = 0; step < steps && !util_stop_requested(); step++) {
        long n_resp = 0;
        int T = s_draw_batch(&d, &r, (int)B, ctx, tokens, pl, len, &n_resp);
        gpt_forward(m, tokens, B, T);
        gpt_seq_logprob(m, tokens, pl, len, lp);
        double batch_lp = 0;
        for (int b = 0; b < B; b++) {
            batch_lp += lp[b];
            dlp[b] = -1.0 / (double)n_resp; /* the mean NLL per response token */
        }
        gpt_zero_grad(m);
        gpt_backward(m, tokens, pl, len, dlp);
        adamw_step(opt, gpt_params(m), gpt_grads(m), mask);
        loss_sum += -batch_lp;
        tok_sum += n_resp;
        tokens_seen += (long)B * T;
        if ((step + 1) % report == 0 || step + 1 == steps) {
            printf("spar sft: step %5ld/%ld  loss %.4f  lr %.2e  %.0f tokens/s\n", step + 1, steps, loss_sum / tok_sum,
                   adamw_lr(opt, step), tokens_seen / (util_now_s() - t0));
            fflush(stdout);
            loss_sum = 0;
            tok_sum = 0;
        }
    }
    if (util_stop_requested()) {
        printf("spar sft: interrupted\n");
        *status = 130;
        gpt_destroy(&m);
    }
    s_dataset_free(&d);
    free(tokens), free(pl), free(len), free(lp), free(dlp), free(mask);
    adamw_destroy(&opt);
    return m;
}
