/* bench_judge — see bench_judge.h. Requests are judged in-process, as the judge process does
 * for each one it receives (the wire is measured by the system's own benches). */
#include "cli/bench_judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/rng.h"
#include "common/task.h"
#include "common/task_arith.h"
#include "common/util.h"
#include "common/judge_model.h"

#define HELP \
    "usage: spar bench judge [--threads N]\n\nPrints judge throughput (pairs/s) for the rule, " \
    "reward and preference judges at K = 4 and K = 8.\n"

#define N_PROMPTS 64

typedef struct {
    char prompt[N_PROMPTS][16];
    char answers[N_PROMPTS][8][16];
} workload_t;

static void s_workload(workload_t *w) {
    for (int p = 0; p < N_PROMPTS; p++) {
        long answer = arith_problem(1, (uint64_t)p, 1, w->prompt[p], sizeof w->prompt[p]);
        rng_t r;
        rng_stream(&r, 1, 0x62656e63, (uint64_t)p, 0); /* "benc" */
        for (int i = 0; i < 8; i++) arith_noisy_answer(answer, 0.5, &r, w->answers[p][i], sizeof w->answers[p][i]);
    }
}

/* Pairs per second over at least `seconds`: kind 0 rule, 1 reward, 2 preference. */
static double s_rate(const workload_t *w, int kind, judge_model_t *m, int K, double seconds) {
    double P[64], t0 = util_now_s();
    float v[8 * 8];
    long requests = 0;
    while (util_now_s() - t0 < seconds)
        for (int p = 0; p < N_PROMPTS; p++, requests++) {
            const char *rs[8], *pr[8];
            for (int i = 0; i < K; i++) rs[i] = w->answers[p][i], pr[i] = w->prompt[p];
            if (kind == 0) {
                task_rule_judge(&task_arith, w->prompt[p], rs, K, P);
                continue;
            }
            jm_forward(m, pr, rs, K, v);
            if (kind == 2)
                for (int i = 0; i < K; i++)
                    for (int j = 0; j < K; j++) P[i * K + j] = jm_score(m, v + i * m->dim, v + j * m->dim);
        }
    return (double)requests * K * (K - 1) / 2 / (util_now_s() - t0);
}

int bench_judge_main(int argc, char **argv) {
    int threads = 1;
    int rc = args_threads(argc, argv, "bench judge", HELP, &threads);
    if (rc >= 0) return rc;
    gpt_set_threads(threads < 1 ? 1 : threads);
    workload_t *w = xmalloc(sizeof *w);
    s_workload(w);
    gpt_config_t c = {4, 4, 128, 32, GPT_VOCAB};
    judge_model_t *rm = jm_new(JM_REWARD, &c, 1, 1), *pm = jm_new(JM_PREFERENCE, &c, 8, 1);
    printf("spar bench judge: %d thread(s); one-digit arith answers, trunk L4 H4 d128\n", threads);
    printf("  %-11s %14s %14s %12s\n", "judge", "K=4 pairs/s", "K=8 pairs/s", "K=8 vs rule");
    double rule8 = 0;
    const char *names[3] = {"rule", "reward", "preference"};
    for (int kind = 0; kind < 3; kind++) {
        judge_model_t *m = kind == 1 ? rm : pm;
        double r4 = s_rate(w, kind, m, 4, 1.0), r8 = s_rate(w, kind, m, 8, 1.0);
        if (kind == 0) rule8 = r8;
        printf("  %-11s %14.0f %14.0f %11.4fx\n", names[kind], r4, r8, r8 / rule8);
    }
    jm_destroy(&rm), jm_destroy(&pm);
    free(w);
    return 0;
}
