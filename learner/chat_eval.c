/* chat_eval — see chat_eval.h. */
#include "learner/chat_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/lm.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/text_judge.h"
#include "common/util.h"
#include "learner/text_metrics.h"

struct chat_eval {
    const spar_config_t *c;
    const prompt_set_t *prompts;
    const char *const *stop;
    int n_stop, n;
    text_judge_t *judge; /* NULL: no win rate */
    char **init;         /* the initial policy's response per held-out prompt */
};

chat_eval_t *chat_eval_new(const spar_config_t *c, const prompt_set_t *prompts, const char *const *stop, int n_stop) {
    chat_eval_t *e = xcalloc(1, sizeof *e);
    e->c = c;
    e->prompts = prompts;
    e->stop = stop;
    e->n_stop = n_stop;
    e->n = prompt_set_eval_count(prompts) < c->task.eval_prompts ? prompt_set_eval_count(prompts) : (int)c->task.eval_prompts;
    char why[512];
    if (e->n > 0 && !(e->judge = text_judge_load(c, why, sizeof why)))
        log_warn("evaluation: %s; win_rate_vs_init is not reported", why);
    return e;
}

void chat_eval_free(chat_eval_t **ep) {
    if (!ep || !*ep) return;
    chat_eval_t *e = *ep;
    for (int i = 0; e->init && i < e->n; i++) free(e->init[i]);
    free(e->init);
    text_judge_free(&e->judge);
    free(e);
    *ep = NULL;
}

static int s_cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The q-quantile of n sorted values (nearest rank). */
static double s_quantile(const int *v, int n, double q) {
    int r = (int)ceil(q * n);
    return v[r < 1 ? 0 : r - 1];
}

/* Was the response cut at max_new: as long as that, ending neither at an EOS nor at a stop? */
static int s_truncated(policy_t *p, const policy_sample_t *y, int max_new, const char *text, const chat_eval_t *e) {
    if (y->n_tokens < max_new || y->n_tokens == 0) return 0;
    if (lm_is_eos(policy_lm(p), (int)y->tokens[y->n_tokens - 1])) return 0;
    return stop_find(text, e->stop, e->n_stop) < 0;
}

void chat_metrics(chat_eval_t *e, policy_t *theta, policy_t *ref, uint64_t iteration, chat_metrics_t *out) {
    const spar_config_t *c = e->c;
    memset(out, 0, sizeof *out);
    out->win_rate_vs_init = out->position_bias = NAN;
    int n = e->n;
    if (n <= 0) return;
    out->n = n;
    policy_seq_t *q = xcalloc((size_t)n, sizeof *q);
    const char **prompts = xmalloc(sizeof(char *) * (size_t)n);
    rng_t *rngs = xmalloc(sizeof(rng_t) * (size_t)n);
    policy_sample_t *drawn = xcalloc((size_t)n, sizeof *drawn);
    for (int i = 0; i < n; i++) {
        prompts[i] = prompt_set_eval(e->prompts, i, NULL);
        q[i] = (policy_seq_t){i, prompts[i], NULL, 0};
        rng_stream(&rngs[i], (uint64_t)c->run.seed, 0x6576616c /* "eval" */, (uint64_t)i, iteration + 1);
    }
    policy_sample_opts_t o = text_sample_opts(c);
    o.stop = e->stop;
    o.n_stop = e->n_stop;
    char **now = xcalloc((size_t)n, sizeof(char *));
    if (policy_generate(theta, q, n, rngs, &o, drawn) != 0) {
        log_warn("evaluation: a held-out prompt does not fit the policy; nothing measured");
        out->n = 0;
    } else {
        int *len = xmalloc(sizeof(int) * (size_t)n), truncated = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            now[i] = policy_response_text(theta, drawn[i].tokens, drawn[i].n_tokens);
            len[i] = drawn[i].n_tokens;
            sum += len[i];
            truncated += s_truncated(theta, &drawn[i], o.max_new, now[i], e);
            q[i].tokens = drawn[i].tokens;
            q[i].n_tokens = drawn[i].n_tokens;
        }
        qsort(len, (size_t)n, sizeof *len, s_cmp_int);
        out->length_mean = sum / n;
        out->length_p50 = s_quantile(len, n, 0.5);
        out->length_p90 = s_quantile(len, n, 0.9);
        out->truncated = (double)truncated / n;
        free(len);
        double *lp = xmalloc(sizeof(double) * (size_t)n), *lr = xmalloc(sizeof(double) * (size_t)n), kl = 0;
        policy_logprobs(theta, q, n, lp);
        lm_release_acts(policy_lm(theta)); /* training's passes are of another shape */
        policy_logprobs(ref, q, n, lr);
        int m = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(lp[i]) && isfinite(lr[i])) kl += lp[i] - lr[i], m++;
        out->kl_to_ref = m ? kl / m : NAN;
        free(lp), free(lr);
        if (!e->init) { /* iteration 0 (or a resume's pi_0): the initial responses */
            e->init = now;
            now = NULL;
        }
        if (e->judge && now) {
            double *p = xmalloc(sizeof(double) * (size_t)n), *bias = xmalloc(sizeof(double) * (size_t)n);
            char why[300];
            if (text_judge_pairs(e->judge, prompts, (const char *const *)now, (const char *const *)e->init, n, p, bias,
                                 why, sizeof why) == 0) {
                double w = 0, b = 0;
                int nb = 0;
                for (int i = 0; i < n; i++) {
                    w += p[i];
                    if (isfinite(bias[i])) b += bias[i], nb++;
                }
                out->win_rate_vs_init = w / n;
                out->position_bias = nb ? b / nb : NAN;
            } else {
                log_warn("evaluation: the judge failed: %s", why);
            }
            free(p), free(bias);
        }
    }
    for (int i = 0; now && i < n; i++) free(now[i]);
    free(now);
    for (int i = 0; i < n; i++) policy_sample_free(&drawn[i]);
    free(q), free(prompts), free(rngs), free(drawn);
}
