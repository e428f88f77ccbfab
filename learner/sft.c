/* sft — see sft.h. */
#include "learner/sft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lm.h"
#include "common/pairs.h"
#include "common/task.h"
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

static int s_add(dataset_t *d, const lm_t *m, const char *prompt, const char *response, char *why, size_t wl) {
    int32_t *p = NULL, *r = NULL;
    int ctx = lm_ctx(m), pl = lm_encode_prompt(m, prompt, &p, why, wl);
    int rl = pl < 0 ? -1 : lm_encode_response(m, response, &r, why, wl), rc = 0;
    if (pl >= 0 && rl >= 0 && (pl < 1 || pl + rl > ctx)) {
        snprintf(why, wl, "prompt and response need 1 to %d tokens together (the model's context, with EOS); this one has %d",
                 ctx, pl + rl);
        rc = -1;
    } else if (pl < 0 || rl < 0) {
        rc = -1;
    } else {
        int *t = xmalloc(sizeof(int) * (size_t)(pl + rl));
        for (int i = 0; i < pl; i++) t[i] = p[i];
        for (int i = 0; i < rl; i++) t[pl + i] = r[i];
        if (d->n == d->cap) d->ex = xrealloc(d->ex, sizeof(example_t) * (size_t)(d->cap = d->cap ? 2 * d->cap : 256));
        d->ex[d->n++] = (example_t){t, pl + rl, pl};
    }
    if (pl >= 0) free(p);
    if (rl >= 0) free(r);
    return rc;
}

typedef struct {
    dataset_t *d;
    const lm_t *m;
} add_ctx_t;

static int s_add_line(const char *prompt, const char *response, int lineno, void *ctx, char *why, size_t wl) {
    (void)lineno;
    add_ctx_t *a = ctx;
    return s_add(a->d, a->m, prompt, response, why, wl);
}

double sft_accuracy(lm_t *m, const spar_config_t *c, int n) {
    int right = 0, max_new = (int)c->task.digits + 3;
    lm_sample_opts_t o = {.temperature = 0, .top_p = 1.0, .max_new = max_new};
    int *out = xmalloc(sizeof(int) * (size_t)max_new);
    float *lps = xmalloc(sizeof(float) * (size_t)max_new);
    for (int i = 0; i < n; i++) {
        char prompt[64], why[200];
        long answer = task_eval_problem(c, i, prompt, sizeof prompt);
        int32_t *pt;
        int pl = lm_encode_prompt(m, prompt, &pt, why, sizeof why), len;
        if (pl < 1) continue;
        const int *pp = (const int *)pt;
        rng_t r;
        rng_seed(&r, 0);
        if (lm_generate(m, NULL, 0, &pp, &pl, 1, &o, &r, out, lps, &len) == 0) {
            char *text = lm_decode(m, (const int32_t *)out, len);
            right += task_correct(c, text, answer);
            free(text);
        }
        free(pt);
    }
    free(out);
    free(lps);
    return n ? (double)right / n : 0;
}

/* The examples: sft.data, else the task's generated ones. 0, or 2 (said on stderr; d freed). */
static int s_dataset(const spar_config_t *c, const lm_t *m, dataset_t *d) {
    if (c->sft.data[0]) {
        add_ctx_t a = {d, m};
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
        if (s_add(d, m, prompt, response, why, sizeof why) != 0) {
            fprintf(stderr, "spar sft: %s with %ld digits: %s\n", config_name(CFG_NAMES_TASK, c->task.kind), c->task.digits, why);
            s_dataset_free(d);
            return 2;
        }
    }
    return 0;
}

/* A batch of B random examples, rows padded with end-of-text to the longest (T, returned) and
 * packed at stride T; n_resp: the batch's response tokens. */
static int s_draw_batch(const dataset_t *d, rng_t *r, int B, int ctx, int pad, int *tokens, int *pl, int *len,
                        long *n_resp) {
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
        for (int t = len[b]; t < T; t++) tokens[(size_t)b * T + t] = pad;
    }
    return T;
}

/* The model SFT starts from: policy.checkpoint (any supported folder; with policy.lora, fresh
 * adapters on it), else a random byte-level GPT of the gpt.* shape. NULL (said on stderr) when
 * the checkpoint cannot be loaded. */
static lm_t *s_initial(const spar_config_t *c) {
    if (c->policy.checkpoint[0]) {
        char why[600];
        lm_t *m = lm_load_dir(c->policy.checkpoint, NULL, why, sizeof why);
        if (!m) fprintf(stderr, "spar sft: policy.checkpoint %s: %s\n", c->policy.checkpoint, why);
        if (m && c->policy.lora.rank > 0 && /* only the adapters train, from PEFT's start */
            lm_lora_attach(m, (int)c->policy.lora.rank, c->policy.lora.alpha, c->policy.lora.targets,
                           (uint64_t)c->run.seed, why, sizeof why) != 0) {
            fprintf(stderr, "spar sft: policy.lora: %s\n", why);
            lm_free(&m);
        }
        return m;
    }
    gpt_config_t gc = {(int)c->gpt.n_layer, (int)c->gpt.n_head, (int)c->gpt.d_model, (int)c->gpt.ctx, GPT_VOCAB};
    return lm_from_gpt(gpt_new(&gc, (unsigned long long)c->run.seed));
}

/* The predictions of a batch: row b's response tokens, position t predicting token t + 1. */
static int s_preds(const int *tokens, const int *pl, const int *len, int B, int T, lm_pred_t *p) {
    int n = 0;
    for (int b = 0; b < B; b++)
        for (int t = pl[b] - 1; t < len[b] - 1; t++) p[n++] = (lm_pred_t){b * T + t, tokens[b * T + t + 1], b};
    return n;
}

lm_t *sft_train(const spar_config_t *c, int *status) {
    dataset_t d = {0};
    gpt_set_threads((int)c->gpt.threads);
    lm_t *m = s_initial(c);
    if (!m) {
        *status = 2;
        return NULL;
    }
    if ((*status = s_dataset(c, m, &d)) != 0) {
        lm_free(&m);
        return NULL;
    }
    int ctx = 1;
    for (int i = 0; i < d.n; i++) ctx = d.ex[i].len > ctx ? d.ex[i].len : ctx;
    long steps = c->sft.steps, B = c->sft.batch < d.n ? c->sft.batch : d.n;
    adamw_t *opt = adamw_new(lm_n_params(m), c->sft.lr, c->sft.weight_decay, c->sft.clip, c->sft.warmup, steps);
    uint8_t *mask = lm_decay_mask(m);
    printf("spar sft: %d examples (%s), %s, %ld steps of %ld\n", d.n,
           c->sft.data[0] ? c->sft.data : config_name(CFG_NAMES_TASK, c->task.kind), lm_describe(m), steps, B);
    int *tokens = xmalloc(sizeof(int) * (size_t)B * ctx), *pl = xmalloc(sizeof(int) * B), *len = xmalloc(sizeof(int) * B);
    lm_pred_t *preds = xmalloc(sizeof(lm_pred_t) * (size_t)B * ctx);
    double *lp = xmalloc(sizeof(double) * B), *dlp = xmalloc(sizeof(double) * B);
    rng_t r;
    rng_stream(&r, (uint64_t)c->run.seed, 0x736674, 0, 0); /* "sft" */
    double t0 = util_now_s(), loss_sum = 0;
    long tok_sum = 0, report = steps / 20 > 0 ? steps / 20 : 1, tokens_seen = 0;
    util_install_stop_signals();
    for (long step = 0; step < steps && !util_stop_requested(); step++) {
        long n_resp = 0;
        int T = s_draw_batch(&d, &r, (int)B, ctx, lm_first_eos(m) >= 0 ? lm_first_eos(m) : 0, tokens, pl, len, &n_resp);
        int np = s_preds(tokens, pl, len, (int)B, T, preds);
        lm_forward(m, tokens, NULL, NULL, (int)B, T);
        memset(lp, 0, sizeof(double) * B);
        lm_preds_logprob(m, preds, np, lp);
        double batch_lp = 0;
        for (int b = 0; b < B; b++) {
            batch_lp += lp[b];
            dlp[b] = -1.0 / (double)n_resp; /* the mean NLL per response token */
        }
        lm_zero_grad(m);
        lm_backward(m, tokens, NULL, preds, np, dlp);
        adamw_step(opt, lm_params(m), lm_grads(m), mask);
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
        lm_free(&m);
    }
    s_dataset_free(&d);
    free(tokens), free(pl), free(len), free(lp), free(dlp), free(mask), free(preds);
    adamw_destroy(&opt);
    return m;
}
