/* backend_preference — judge.kind preference: a general preference model answers the K x K matrix
 * P[i][j] = sigmoid(s(y_i, y_j)). The scores come from each response's own embedding, so the
 * order of a pair cannot bias it: both orders give P and 1 - P exactly (its position bias is 0 by
 * construction). Serving is judge/backend_learned.h's. */
#include "judge/backend_learned.h"

#include <math.h>

static void s_answer(const judge_model_t *m, const float *v, size_t k, double *P, double *rewards) {
    (void)rewards;
    int D = m->dim;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) P[i * k + j] = 1.0 / (1.0 + exp(-jm_score(m, v + i * D, v + j * D)));
}

judge_backend_t *judge_backend_preference(judge_model_t *m, uint32_t cache_entries, const char *source) {
    return m->kind == JM_PREFERENCE ? learned_new(m, cache_entries, "preference", source, s_answer) : NULL;
}
