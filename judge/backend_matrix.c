/* backend_matrix — judge.kind matrix: each prompt id is its own matrix game (common/game.h), and a
 * request's answer is that game's matrix restricted to the K actions sampled (one token each).
 * Its version names the games' digest, so two judges of different games never pass for one. */
#include "judge/backend.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/digest.h"
#include "common/game.h"
#include "common/util.h"

typedef struct {
    judge_backend_t base;
    game_set_t games;
} matrix_t;

static int s_judge_one(judge_backend_t *b, const Spar__JudgeRequest *r, double *P, char *why, size_t wl) {
    const game_set_t *g = &((matrix_t *)b)->games;
    if (r->prompt_id >= (uint32_t)g->prompts) {
        snprintf(why, wl, "prompt %u is not one of this judge's %d games", r->prompt_id, g->prompts);
        return -1;
    }
    int n = g->n;
    size_t k = r->n_responses;
    for (size_t i = 0; i < k; i++) {
        const Spar__Response *y = r->responses[i];
        if (y->n_tokens != 1 || y->tokens[0] >= (uint32_t)n) {
            snprintf(why, wl, "response %zu is not an action 0..%d", i, n - 1);
            return -1;
        }
    }
    uint32_t actions[WIRE_MAX_RESPONSES]; /* wire bounds k */
    for (size_t i = 0; i < k; i++) actions[i] = r->responses[i]->tokens[0];
    game_judge_actions(g, (int)r->prompt_id, actions, k, P);
    return 0;
}

static void s_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink) {
    judge_backend_each(b, calls, n, sink, s_judge_one);
}

static void s_destroy(judge_backend_t *b) {
    game_set_free(&((matrix_t *)b)->games);
    free(b);
}

static const judge_backend_ops_t s_ops = {s_judge, judge_backend_counted, s_destroy, NULL, NULL, NULL};

judge_backend_t *judge_backend_matrix(const spar_config_t *cfg, char *why, size_t whylen) {
    matrix_t *m = xcalloc(1, sizeof *m);
    if (game_set_build(&m->games, cfg, why, whylen) != 0) {
        game_set_free(&m->games);
        free(m);
        return NULL;
    }
    const game_set_t *g = &m->games;
    uint8_t d[DIGEST_BYTES];
    char hex[2 * DIGEST_BYTES + 1];
    digest_compute(g->P, sizeof(double) * (size_t)g->prompts * g->n * g->n, d);
    digest_hex(d, hex);
    m->base = (judge_backend_t){.ops = &s_ops, .batch = 1};
    snprintf(m->base.version, sizeof m->base.version, "matrix-%.16s-%.12s", config_name(CFG_NAMES_FAMILY, cfg->game.family), hex);
    snprintf(m->base.serving, sizeof m->base.serving, "serving %d %s games of %d actions", g->prompts,
             config_name(CFG_NAMES_FAMILY, cfg->game.family), g->n);
    return &m->base;
}
