/* text_metrics — see text_metrics.h. */
#include "learner/text_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/task.h"
#include "common/util.h"
#include "common/judge_model.h"

struct text_eval {
    const spar_config_t *c;
    judge_model_t *judge; /* the learned judge, or NULL */
    char **init;          /* the initial policy's sample per held-out problem (iteration 0) */
    int n;
};

text_eval_t *text_eval_new(const spar_config_t *c) {
    text_eval_t *e = xcalloc(1, sizeof *e);
    e->c = c;
    e->n = (int)c->task.eval_prompts;
    if (c->judge.kind == JUDGE_REWARD || c->judge.kind == JUDGE_PREFERENCE) {
        char why[512];
        if (!(e->judge = jm_load(c->judge.checkpoint, why, sizeof why)))
            log_warn("judge.checkpoint %s: %s; judge_win_rate is not reported", c->judge.checkpoint, why);
    }
    return e;
}

void text_eval_free(text_eval_t **ep) {
    if (!ep || !*ep) return;
    text_eval_t *e = *ep;
    for (int i = 0; e->init && i < e->n; i++) free(e->init[i]);
    free(e->init);
    jm_destroy(&e->judge);
    free(e);
    *ep = NULL;
}

/* Mean P(now_i > init_i) by the learned judge and by the task's rule. */
static void s_win_rates(text_eval_t *e, char (*prompts)[64], char **now, text_metrics_t *out) {
    int n = e->n, D = e->judge->dim;
    const char **pr = xmalloc(sizeof(char *) * 2 * (size_t)n), **rs = xmalloc(sizeof(char *) * 2 * (size_t)n);
    for (int i = 0; i < n; i++) {
        pr[2 * i] = pr[2 * i + 1] = prompts[i];
        rs[2 * i] = now[i];
        rs[2 * i + 1] = e->init[i];
    }
    float *v = xmalloc(sizeof(float) * 2 * (size_t)n * D);
    double jw = 0, rw = 0;
    if (jm_forward(e->judge, pr, rs, 2 * n, v) == 0) {
        for (int i = 0; i < n; i++) {
            double P[4];
            const char *pair[2] = {now[i], e->init[i]};
            jw += 1.0 / (1.0 + exp(-jm_score(e->judge, v + 2 * i * D, v + (2 * i + 1) * D)));
            int rc = task_rule_judge(task_of(e->c), prompts[i], pair, 2, P);
            rw += rc == 0 ? P[1] : 0.5;
        }
        out->judge_win_rate = jw / n;
        out->rule_win_rate = rw / n;
    }
    free(pr), free(rs), free(v);
}

policy_sample_opts_t text_sample_opts(const spar_config_t *c) {
    return (policy_sample_opts_t){.temperature = c->rollout.temperature, .top_k = (int)c->rollout.top_k,
                                  .top_p = c->rollout.top_p, .max_new = (int)c->rollout.max_new};
}

/* Draws one response per problem; returns the share correct and leaves the samples in out. */
static double s_draw(const spar_config_t *c, policy_t *p, policy_seq_t *q, const long *answers, int n,
                     const policy_sample_opts_t *o, uint64_t stream, policy_sample_t *out) {
    rng_t *rngs = xmalloc(sizeof(rng_t) * (size_t)n);
    for (int i = 0; i < n; i++) rng_stream(&rngs[i], (uint64_t)c->run.seed, 0x6576616c /* "eval" */, (uint64_t)i, stream);
    int right = 0;
    if (policy_generate(p, q, n, rngs, o, out) == 0) {
        for (int i = 0; i < n; i++) {
            char *text = policy_response_text(p, out[i].tokens, out[i].n_tokens);
            right += task_correct(c, text, answers[i]);
            free(text);
        }
    }
    free(rngs);
    return (double)right / n;
}

void text_metrics(text_eval_t *e, policy_t *theta, policy_t *ref, uint64_t iteration, text_metrics_t *out) {
    const spar_config_t *c = e->c;
    memset(out, 0, sizeof *out);
    out->accuracy = out->accuracy_sampled = out->kl_to_ref = out->style_exploitability = NAN;
    out->judge_win_rate = out->rule_win_rate = NAN;
    int n = (int)c->task.eval_prompts;
    if (n <= 0) return;
    char (*texts)[64] = xmalloc(sizeof *texts * (size_t)n);
    long *answers = xmalloc(sizeof(long) * (size_t)n);
    policy_seq_t *q = xcalloc((size_t)n, sizeof *q);
    policy_sample_t *greedy = xcalloc((size_t)n, sizeof *greedy), *drawn = xcalloc((size_t)n, sizeof *drawn);
    for (int i = 0; i < n; i++) {
        answers[i] = task_eval_problem(c, i, texts[i], sizeof texts[i]);
        q[i] = (policy_seq_t){i, texts[i], NULL, 0};
    }
    policy_sample_opts_t go = text_sample_opts(c), so = go;
    go.temperature = 0;
    out->accuracy = s_draw(c, theta, q, answers, n, &go, 0, greedy);
    out->accuracy_sampled = s_draw(c, theta, q, answers, n, &so, iteration + 1, drawn);

    /* KL estimate and styles from the drawn samples */
    double *lp = xmalloc(sizeof(double) * (size_t)n), *lr = xmalloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) {
        q[i].tokens = drawn[i].tokens;
        q[i].n_tokens = drawn[i].n_tokens;
    }
    policy_logprobs(theta, q, n, lp);
    policy_logprobs(ref, q, n, lr);
    double kl = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(lp[i]) && isfinite(lr[i])) kl += lp[i] - lr[i], m++;
    out->kl_to_ref = m ? kl / m : NAN;
    if (e->judge) { /* the samples as text: the initial policy's kept at iteration 0 */
        char **now = xcalloc((size_t)n, sizeof(char *));
        for (int i = 0; i < n; i++) now[i] = policy_response_text(theta, drawn[i].tokens, drawn[i].n_tokens);
        if (!e->init) {
            e->init = now;
            now = NULL;
        }
        s_win_rates(e, texts, now ? now : e->init, out);
        for (int i = 0; now && i < n; i++) free(now[i]);
        free(now);
    }
    if (c->task.kind == TASK_STYLES) {
        int counts[STYLES] = {0}, formed = 0;
        for (int i = 0; i < n; i++) {
            char *text = policy_response_text(theta, drawn[i].tokens, drawn[i].n_tokens), digits[32];
            int s = styles_split(text, digits, sizeof digits);
            if (s >= 0) counts[s]++, formed++;
            free(text);
        }
        out->styles = 1;
        for (int s = 0; s < STYLES; s++) out->style[s] = formed ? (double)counts[s] / formed : NAN;
        out->style_exploitability = formed ? styles_exploitability(out->style) : NAN;
    }
    for (int i = 0; i < n; i++) policy_sample_free(&greedy[i]), policy_sample_free(&drawn[i]);
    free(texts), free(answers), free(q), free(greedy), free(drawn), free(lp), free(lr);
}
