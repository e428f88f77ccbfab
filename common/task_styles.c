/* task_styles — see task_styles.h. */
#include "common/task_styles.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/rng.h"
#include "common/task_arith.h"

const char *const styles_name[STYLES] = {"plain", "period", "bang"};
static const char s_mark[STYLES] = {'\0', '.', '!'};
/* A[a][b] = P(a > b) - 1/2: plain beats period by 0.45, period beats bang by 0.15, bang beats
 * plain by 0.30 */
static const double s_adv[STYLES][STYLES] = {{0, 0.45, -0.30}, {-0.45, 0, 0.15}, {0.30, -0.15, 0}};

double styles_pref(int a, int b) { return 0.5 + s_adv[a][b]; }

const char *styles_mark(int s) {
    static const char *marks[STYLES] = {"", ".", "!"};
    return s >= 0 && s < STYLES ? marks[s] : "";
}

void styles_nash(double x[STYLES]) {
    double s = s_adv[1][2] + s_adv[2][0] + s_adv[0][1];
    x[0] = s_adv[1][2] / s; /* each style in proportion to the edge it is not on */
    x[1] = s_adv[2][0] / s;
    x[2] = s_adv[0][1] / s;
}

double styles_exploitability(const double x[STYLES]) {
    double best = -INFINITY;
    for (int a = 0; a < STYLES; a++) {
        double v = 0;
        for (int b = 0; b < STYLES; b++) v += x[b] * s_adv[a][b];
        best = fmax(best, v);
    }
    return best;
}

int styles_split(const char *response, char *digits, size_t cap) {
    size_t n = strspn(response, "0123456789");
    if (n == 0 || n >= cap) return -1;
    memcpy(digits, response, n);
    digits[n] = '\0';
    const char *rest = response + n;
    if (!*rest) return 0;
    for (int s = 1; s < STYLES; s++)
        if (rest[0] == s_mark[s] && rest[1] == '\0') return s;
    return -1;
}

void styles_sft_response(uint64_t seed, uint64_t i, int digits, double wrong_share, char *response, size_t cap) {
    char number[32];
    arith_sft_response(seed, i, digits, wrong_share, number, sizeof number);
    rng_t r;
    rng_stream(&r, seed, 0x7374796c, i, 0); /* "styl" */
    int s = (int)(rng_uniform(&r) * STYLES);
    if (s >= STYLES) s = STYLES - 1;
    snprintf(response, cap, "%s%c", number, s_mark[s]);
}
