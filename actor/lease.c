/* lease — see lease.h. */
#include "actor/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rng.h"
#include "common/stop.h"
#include "common/util.h"

/* What a lease may ask of this process (a learner is a peer too): samples of one lease, tokens
 * they may hold. */
#define ACTOR_MAX_LEASE_SAMPLES (1 << 20)
#define ACTOR_MAX_LEASE_TOKENS (1LL << 26)
#define ACTOR_MAX_NEW_TOKENS 65536
#define ACTOR_MAX_TOP_K (1 << 20)

int lease_out_of_range(const Spar__WorkGrant *g, uint32_t run_prompts, char *why, size_t wl) {
    for (size_t i = 0; run_prompts && i < g->n_prompt_ids; i++)
        if (g->prompt_ids[i] >= run_prompts) {
            snprintf(why, wl, "work grant names prompt %u of a run of %u prompts", g->prompt_ids[i], run_prompts);
            return 1;
        }
    if (g->n_stop > STOP_MAX || !stop_valid((const char *const *)g->stop, (int)g->n_stop)) {
        snprintf(why, wl, "work grant of %zu stop strings: at most %d, of 1 to %d bytes", g->n_stop, STOP_MAX,
                 STOP_MAX_BYTES);
        return 1;
    }
    int mix = g->opponent_mix > 0 && g->opponent_mix <= 1;
    uint64_t per = (uint64_t)g->samples_per_prompt * (mix ? 2 : 1), samples = per * g->n_prompt_ids;
    uint64_t max_new = g->max_new ? g->max_new : 1;
    if (per > WIRE_MAX_RESPONSES || samples > ACTOR_MAX_LEASE_SAMPLES || max_new > ACTOR_MAX_NEW_TOKENS ||
        samples * max_new > (uint64_t)ACTOR_MAX_LEASE_TOKENS || g->top_k > ACTOR_MAX_TOP_K) {
        snprintf(why, wl, "work grant of %zu prompts x %llu responses x %llu tokens (top_k %u) exceeds what an actor holds",
                 g->n_prompt_ids, (unsigned long long)per, (unsigned long long)max_new, g->top_k);
        return 1;
    }
    return 0;
}

void lease_free(lease_t *l) {
    stop_free(l->stop, l->n_stop);
    for (int i = 0; l->texts && i < l->n; i++) free(l->texts[i]);
    free(l->texts);
    free(l->prompts);
    memset(l, 0, sizeof *l);
}

void lease_take(lease_t *l, const Spar__WorkGrant *g) {
    lease_free(l);
    l->prompts = xmalloc(sizeof(uint32_t) * g->n_prompt_ids);
    memcpy(l->prompts, g->prompt_ids, sizeof(uint32_t) * g->n_prompt_ids);
    l->texts = xcalloc(g->n_prompt_ids, sizeof(char *));
    for (size_t i = 0; i < g->n_prompt_ids; i++) /* matrix games carry no text: name them */
        l->texts[i] = g->n_prompts ? xstrdup(g->prompts[i]) : xasprintf("game-%u", g->prompt_ids[i]);
    l->opts = (policy_sample_opts_t){.temperature = g->temperature, .top_k = (int)g->top_k,
                                     .top_p = g->top_p > 0 ? g->top_p : 1.0, .max_new = g->max_new ? (int)g->max_new : 1};
    l->n_stop = (int)g->n_stop;
    l->stop = xcalloc((size_t)(l->n_stop ? l->n_stop : 1), sizeof *l->stop);
    for (int i = 0; i < l->n_stop; i++) l->stop[i] = xstrdup(g->stop[i]);
    l->opts.stop = (const char *const *)l->stop;
    l->opts.n_stop = l->n_stop;
    l->n = (int)g->n_prompt_ids;
    l->id = g->lease_id;
    l->iteration = g->iteration;
    l->version = g->policy_version;
    l->k = (int)g->samples_per_prompt;
    l->mix = g->opponent_mix > 0 && g->opponent_mix <= 1 ? g->opponent_mix : 0;
    l->open = 1;
}

/* Prompt j's rollout, its samples still to be drawn. */
static rollout_t *s_rollout(const lease_t *l, int j) {
    rollout_t *t = xcalloc(1, sizeof *t);
    t->prompt = l->prompts[j];
    t->iteration = l->iteration;
    t->version = l->version;
    t->lease_id = l->id;
    t->n_opp = l->mix > 0 ? l->k : 0;
    t->k = l->k + t->n_opp;
    t->prompt_text = xstrdup(l->texts[j]);
    t->samples = xcalloc((size_t)t->k, sizeof *t->samples);
    t->state = ROLLOUT_GENERATING;
    return t;
}

/* Where sample i of prompt j sits in the batch: the samples of all prompts first, then all
 * opponents (samples K..2K-1 of each prompt). */
static int s_slot(const lease_t *l, int j, int i) {
    int K = l->k;
    return i < K ? j * K + i : l->n * K + j * K + (i - K);
}

int lease_sample(const lease_t *l, policy_t *policy, policy_t *ref, uint64_t seed, rollout_t **rollouts) {
    int K = l->k, per = l->mix > 0 ? 2 * K : K, n = l->n * per, nk = l->n * K;
    policy_seq_t *q = xcalloc((size_t)n, sizeof *q);
    rng_t *rngs = xmalloc(sizeof(rng_t) * (size_t)n);
    policy_sample_t *out = xcalloc((size_t)n, sizeof *out);
    for (int j = 0; j < l->n; j++) {
        rollouts[j] = s_rollout(l, j);
        for (int i = 0; i < per; i++) {
            int at = s_slot(l, j, i);
            q[at] = (policy_seq_t){(int)rollouts[j]->prompt, rollouts[j]->prompt_text, NULL, 0};
            rng_sample_stream(&rngs[at], seed, l->iteration, rollouts[j]->prompt, (uint64_t)i);
        }
    }
    /* samples 0..K-1 from the policy; with a mixture, K opponents K..2K-1 from pi^(1-mix) pi_ref^mix */
    double t0 = util_now_s();
    int rc = policy_generate(policy, q, nk, rngs, &l->opts, out);
    if (rc == 0 && per > K) rc = policy_generate_mixture(policy, ref, l->mix, q + nk, nk, rngs + nk, &l->opts, out + nk);
    if (rc != 0) {
        /* a prompt this policy cannot answer: the lease expires and the learner re-issues it */
        log_error("cannot sample lease %llu: a prompt does not fit the policy", (unsigned long long)l->id);
        for (int i = 0; i < n; i++) policy_sample_free(&out[i]);
        for (int j = 0; j < l->n; j++) rollout_free(rollouts[j]), rollouts[j] = NULL;
    } else {
        double share_ms = 1e3 * (util_now_s() - t0) / l->n;
        for (int j = 0; j < l->n; j++) {
            for (int i = 0; i < per; i++) rollouts[j]->samples[i] = out[s_slot(l, j, i)];
            rollouts[j]->sample_ms = share_ms;
        }
    }
    free(q), free(rngs), free(out);
    return rc != 0 ? -1 : 0;
}
