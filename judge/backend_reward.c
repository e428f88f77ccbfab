/* backend_reward — judge.kind reward: a Bradley-Terry reward model answers each response's
 * reward r = v_0; the actor's algorithm turns K rewards into preferences. Serving is
 * judge/backend_learned.h's. */
#include "judge/backend_learned.h"

static void s_answer(const judge_model_t *m, const float *v, size_t k, double *P, double *rewards) {
    (void)m, (void)P;
    for (size_t i = 0; i < k; i++) rewards[i] = v[i];
}

judge_backend_t *judge_backend_reward(judge_model_t *m, uint32_t cache_entries, const char *source) {
    return m->kind == JM_REWARD ? learned_new(m, cache_entries, "reward", source, s_answer) : NULL;
}
