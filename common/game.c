/* game — see game.h. */
#include "common/game.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/util.h"
#include "common/wire.h"

/* The stream number of each generated family: part of every game's seed, so it never changes. */
static uint64_t s_family_stream(game_family_t f) {
    return f == FAMILY_BT ? 1 : f == FAMILY_CYCLIC ? 2 : 3;
}

const double *game_matrix(const game_set_t *g, int prompt) {
    return g->P + (size_t)prompt * g->n * g->n;
}

void game_judge_actions(const game_set_t *g, int prompt, const uint32_t *actions, size_t k, double *P) {
    const double *G = game_matrix(g, prompt);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) P[i * k + j] = G[(size_t)actions[i] * g->n + actions[j]];
}

void game_set_free(game_set_t *g) {
    free(g->P);
    memset(g, 0, sizeof *g);
}

static void s_bt(double *P, int n, double scale, rng_t *r) {
    double s[4096];
    for (int i = 0; i < n; i++) s[i] = scale * rng_normal(r);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) P[i * n + j] = i == j ? 0.5 : 1.0 / (1.0 + exp(s[j] - s[i]));
}

/* Generalised rock-paper-scissors: i beats the next floor((n-1)/2) actions around the
 * circle, each win by its own margin; with even n, i and i + n/2 tie. */
static void s_cyclic(double *P, int n, double margin, double jitter, rng_t *r) {
    for (int i = 0; i < n * n; i++) P[i] = 0.5;
    for (int i = 0; i < n; i++) {
        for (int k = 1; k <= (n - 1) / 2; k++) {
            int j = (i + k) % n;
            double m = margin * (1.0 - jitter * rng_uniform(r));
            P[i * n + j] = 0.5 + m / 2;
            P[j * n + i] = 0.5 - m / 2;
        }
    }
}

static void s_random(double *P, int n, rng_t *r) {
    for (int i = 0; i < n; i++) {
        P[i * n + i] = 0.5;
        for (int j = i + 1; j < n; j++) {
            P[i * n + j] = rng_uniform(r);
            P[j * n + i] = 1.0 - P[i * n + j];
        }
    }
}

int game_set_build(game_set_t *g, const spar_config_t *cfg, char *why, size_t wl) {
    memset(g, 0, sizeof *g);
    if (cfg->game.family == FAMILY_FILE) {
        if (game_load_file(g, cfg->game.file, (int)cfg->task.prompts, why, wl) != 0) return -1;
        if (g->n != cfg->game.n) {
            snprintf(why, wl, "%s: the games have %d actions but game.n is %ld", cfg->game.file, g->n,
                     cfg->game.n);
            game_set_free(g);
            return -1;
        }
        return 0;
    }
    game_family_t family = cfg->game.family;
    g->prompts = (int)cfg->task.prompts;
    g->n = (int)cfg->game.n;
    g->P = xmalloc(sizeof(double) * (size_t)g->prompts * g->n * g->n);
    for (int p = 0; p < g->prompts; p++) {
        rng_t r;
        rng_stream(&r, (uint64_t)cfg->game.seed, s_family_stream(family), (uint64_t)p, 0x67616d65);
        double *P = g->P + (size_t)p * g->n * g->n;
        if (family == FAMILY_BT) s_bt(P, g->n, cfg->game.bt_scale, &r);
        else if (family == FAMILY_CYCLIC) s_cyclic(P, g->n, cfg->game.margin, cfg->game.jitter, &r);
        else s_random(P, g->n, &r);
    }
    return 0;
}

/* A game file being read: the numbers of the matrices so far, and where the current one is. */
typedef struct {
    const char *path;
    double *vals;
    size_t nvals, cap;
    int n, rows, matrices, start_line;
} matrix_reader_t;

/* Cuts a '#' comment off the line; 1 when something but blanks is left. */
static int s_has_content(char *line) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    for (char *c = line; *c; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r') return 1;
    return 0;
}

/* A blank line or the file's end closes the matrix being read (if any): it must be n x n and a
 * preference matrix. */
static int s_end_matrix(matrix_reader_t *rd, char *why, size_t wl) {
    if (rd->rows == 0) return 0;
    if (rd->rows != rd->n) {
        snprintf(why, wl, "%s:%d: matrix has %d rows, expected %d", rd->path, rd->start_line, rd->rows, rd->n);
        return -1;
    }
    size_t entries = (size_t)rd->n * rd->n;
    char reason[256];
    if (wire_check_preference(rd->vals + rd->nvals - entries, entries, (size_t)rd->n, reason, sizeof reason) != 0) {
        snprintf(why, wl, "%s:%d: %s", rd->path, rd->start_line, reason);
        return -1;
    }
    rd->matrices++;
    rd->rows = 0;
    return 0;
}

/* One row: numbers separated by blanks or commas, as many as the file's first row has. */
static int s_read_row(matrix_reader_t *rd, char *line, int lineno, char *why, size_t wl) {
    int count = 0;
    char *s = line, *end;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        if (!*s || *s == '\n' || *s == '\r') break;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno) {
            snprintf(why, wl, "%s:%d: not a number: '%.20s'", rd->path, lineno, s);
            return -1;
        }
        if (rd->nvals == rd->cap) rd->vals = xrealloc(rd->vals, sizeof(double) * (rd->cap = rd->cap ? 2 * rd->cap : 64));
        rd->vals[rd->nvals++] = v;
        count++;
        s = end;
    }
    if (rd->n == 0) rd->n = count;
    if (count != rd->n || rd->n < 2) {
        snprintf(why, wl, "%s:%d: row has %d numbers, expected %d", rd->path, lineno, count, rd->n);
        return -1;
    }
    rd->rows++;
    return 0;
}

static int s_read_matrices(matrix_reader_t *rd, FILE *f, char *why, size_t wl) {
    char line[65536];
    for (int lineno = 1;; lineno++) {
        char *got = fgets(line, sizeof line, f);
        if (!got || !s_has_content(line)) {
            if (s_end_matrix(rd, why, wl) != 0) return -1;
            if (!got) return 0;
            continue;
        }
        if (rd->rows == 0) rd->start_line = lineno;
        if (s_read_row(rd, line, lineno, why, wl) != 0) return -1;
    }
}

int game_load_file(game_set_t *g, const char *path, int prompts, char *why, size_t wl) {
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, wl, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    matrix_reader_t rd = {.path = path};
    int rc = s_read_matrices(&rd, f, why, wl);
    fclose(f);
    if (rc == 0 && rd.matrices == 0) {
        snprintf(why, wl, "%s: no matrix found", path);
        rc = -1;
    }
    if (rc != 0) {
        free(rd.vals);
        return -1;
    }
    int n = rd.n; /* prompt p plays the file's matrix p mod matrices */
    g->prompts = prompts;
    g->n = n;
    g->P = xmalloc(sizeof(double) * (size_t)prompts * n * n);
    for (int p = 0; p < prompts; p++)
        memcpy(g->P + (size_t)p * n * n, rd.vals + (size_t)(p % rd.matrices) * n * n, sizeof(double) * n * n);
    free(rd.vals);
    return 0;
}

void game_win_vs(const double *P, int n, const double *pi, double *out) {
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++) s += P[i * n + j] * pi[j];
        out[i] = s;
    }
}

double game_value(const double *P, int n, const double *pi, const double *sigma) {
    double v = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) v += pi[i] * P[i * n + j] * sigma[j];
    return v;
}

double game_exploitability(const double *P, int n, const double *pi) {
    double best = -1;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++) s += P[i * n + j] * pi[j];
        if (s > best) best = s;
    }
    return best - 0.5;
}

int game_nash_3cycle(const double *P, double out[3]) {
    double a = 2 * P[0 * 3 + 1] - 1, c = 2 * P[1 * 3 + 2] - 1, b = 2 * P[2 * 3 + 0] - 1;
    if (!(a > 0 && b > 0 && c > 0)) return -1;
    double s = a + b + c;
    out[0] = c / s;
    out[1] = b / s;
    out[2] = a / s;
    return 0;
}
