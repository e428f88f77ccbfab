/* backend_learned — what the reward and preference backends share: a model from
 * common/judge_model.h whose embeddings of (prompt, response) come from judge/embed_cache.h, the
 * responses of a whole batch of requests embedded together, and a version naming the model's
 * weights. What a request's answer is, given its K embeddings, is each backend's own. */
#ifndef SPAR_JUDGE_BACKEND_LEARNED_H
#define SPAR_JUDGE_BACKEND_LEARNED_H

#include "judge/backend.h"

/* The answer from K embeddings v (K, dim): K rewards, or the K x K matrix P. */
typedef void (*learned_answer_fn)(const judge_model_t *m, const float *v, size_t k, double *P, double *rewards);

/* Takes m; kind ("reward", "preference") begins the version; source names the model in the log. */
judge_backend_t *learned_new(judge_model_t *m, uint32_t cache_entries, const char *kind, const char *source,
                             learned_answer_fn answer);

#endif
