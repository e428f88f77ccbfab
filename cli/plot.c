/* plot — see plot.h. The figure is one gnuplot multiplot: a data file (a row per iteration, a
 * column per field the run has, NaN where a line has null or lacks the field) and a script,
 * both in a private mkdtemp folder that is removed afterwards. gnuplot's own messages go to a
 * file in that folder and are shown only when it fails. Not here: reading status.json or
 * anything live (that is spar monitor). */
#include "cli/plot.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/itertable.h"
#include "common/util.h"

#define PLOT_MAX_KEYS 4

/* A panel: title, y label and the iterations.jsonl fields it draws when the run has them. */
typedef struct {
    const char *title, *ylabel;
    const char *keys[PLOT_MAX_KEYS + 1]; /* NULL-terminated */
} panel_t;

static const panel_t s_panels[] = {
    {"win rate against the initial policy", "P(pi_t beats pi_0)",
     {"win_rate_vs_init", "judge_win_rate", "rule_win_rate", NULL}},
    {"exploitability", "gap to the equilibrium (0 there)",
     {"exploitability", "exploitability_avg", "exploitability_tau", "style_exploitability", NULL}},
    {"held-out accuracy", "share correct", {"accuracy", "accuracy_sampled", NULL}},
    {"response length (held-out)", "tokens", {"length_mean", "length_p50", "length_p90", NULL}},
    {"judge ties, truncation, position bias", "share / bias", {"truncated", "judge_tie_rate", "position_bias", NULL}},
    {"loss", "mean group loss", {"loss", NULL}},
    {"KL to the reference", "KL(pi_t || pi_ref)", {"kl_to_ref", NULL}},
    {"throughput", "samples/s", {"samples_per_s", NULL}},
};
#define N_PANELS ((int)(sizeof s_panels / sizeof s_panels[0]))

static const char s_usage[] = "usage: spar plot RUN_DIR [--out FILE.png|FILE.svg]\n";

static void s_help(void) {
    printf("%s\n"
           "Draws the run's curves from RUN_DIR/iterations.jsonl with gnuplot, one panel per kind of\n"
           "metric the run has: win rate (win_rate_vs_init, judge_win_rate, rule_win_rate),\n"
           "exploitability (exploitability, exploitability_avg, exploitability_tau,\n"
           "style_exploitability), accuracy (accuracy, accuracy_sampled), response length\n"
           "(length_mean, length_p50, length_p90), the judge's signs (truncated, judge_tie_rate,\n"
           "position_bias), loss, kl_to_ref and samples_per_s. Null values are left out. Works on a finished run or one in progress.\n\n"
           "  --out FILE   where to write (default RUN_DIR/plot.png); .png or .svg picks the format\n\n"
           "Exit status: 0 written; 1 gnuplot failed; 2 bad arguments, a missing run folder or\n"
           "iterations.jsonl, a malformed line (named FILE:LINE), or gnuplot not installed\n"
           "(Debian: gnuplot-nox).\n",
           s_usage);
}

/* ---- reading iterations.jsonl ----------------------------------------------------------- */

static int s_blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/* What is wrong with one parsed line, or NULL: an object whose plotted fields are numbers or
 * null. */
static const char *s_check_line(json_t *o, char *why, size_t len) {
    if (!json_is_object(o)) return "not a JSON object";
    json_t *it = json_object_get(o, "iteration");
    if (it && !json_is_number(it) && !json_is_null(it)) return "iteration: not a number";
    for (int p = 0; p < N_PANELS; p++)
        for (int k = 0; s_panels[p].keys[k]; k++) {
            json_t *v = json_object_get(o, s_panels[p].keys[k]);
            if (v && !json_is_number(v) && !json_is_null(v)) {
                snprintf(why, len, "%s: a number or null expected", s_panels[p].keys[k]);
                return why;
            }
        }
    return NULL;
}

/* The lines of iterations.jsonl as an array of objects (caller decrefs). Blank lines are
 * skipped, and so is a last line without its newline that does not parse yet (the learner is
 * writing it). NULL after printing "FILE:LINE: what" on a malformed line. */
static json_t *s_read_log(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "spar plot: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    json_t *lines = json_array();
    char *buf = NULL, why[160];
    size_t cap = 0;
    ssize_t n;
    long no = 0;
    while ((n = getline(&buf, &cap, f)) > 0) {
        no++;
        if (s_blank(buf)) continue;
        json_error_t err;
        json_t *o = json_loads(buf, 0, &err);
        if (!o && buf[n - 1] != '\n') break; /* still being written */
        const char *bad = o ? s_check_line(o, why, sizeof why) : NULL;
        if (!o || bad) {
            if (!o) fprintf(stderr, "spar plot: %s:%ld:%d: not valid JSON: %s\n", path, no, err.column, err.text);
            else fprintf(stderr, "spar plot: %s:%ld: %s\n", path, no, bad);
            fprintf(stderr, "  (iterations.jsonl holds one JSON object per line, as the learner writes it)\n");
            json_decref(o);
            json_decref(lines);
            lines = NULL;
            break;
        }
        json_array_append_new(lines, o);
    }
    free(buf);
    fclose(f);
    return lines;
}

/* ---- the gnuplot script ----------------------------------------------------------------- */

/* s as a gnuplot single-quoted string body (a quote is doubled). */
static void s_put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static int s_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* The data file: x (the iteration, or the line's index when it has none), then one column per
 * present field in panel order; col[p][k] is the 1-based gnuplot column of panel p's key k,
 * 0 when absent. Returns the number of panels drawn. */
static int s_write_data(const char *path, json_t *lines, int col[N_PANELS][PLOT_MAX_KEYS]) {
    int next = 2, panels = 0;
    for (int p = 0; p < N_PANELS; p++) {
        int any = 0;
        for (int k = 0; k < PLOT_MAX_KEYS; k++) {
            col[p][k] = s_panels[p].keys[k] && itertable_has(lines, s_panels[p].keys[k]) ? next++ : 0;
            any |= col[p][k] != 0;
        }
        panels += any;
    }
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        json_t *x = json_object_get(o, "iteration");
        fprintf(f, "%.17g", json_is_number(x) ? json_number_value(x) : (double)i);
        for (int p = 0; p < N_PANELS; p++)
            for (int k = 0; k < PLOT_MAX_KEYS; k++) {
                if (!col[p][k]) continue;
                json_t *v = json_object_get(o, s_panels[p].keys[k]);
                if (json_is_number(v)) fprintf(f, " %.17g", json_number_value(v));
                else fprintf(f, " NaN");
            }
        fputc('\n', f);
    }
    return fclose(f) == 0 ? panels : -1;
}

/* The x range every panel shares, so that their iterations line up. */
static void s_x_range(json_t *lines, double *lo, double *hi) {
    *lo = 1e300, *hi = -1e300;
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        json_t *x = json_object_get(o, "iteration");
        double v = json_is_number(x) ? json_number_value(x) : (double)i;
        *lo = v < *lo ? v : *lo;
        *hi = v > *hi ? v : *hi;
    }
    if (*hi <= *lo) *lo -= 1, *hi += 1; /* one iteration: a point in the middle */
}

static int s_write_script(const char *path, const char *data, const char *out, const char *title, int svg,
                          int panels, json_t *lines, int col[N_PANELS][PLOT_MAX_KEYS]) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int cols = panels > 3 ? 2 : 1, nrows = (panels + cols - 1) / cols;
    int w = cols == 1 ? 900 : 1400, h = 60 + 300 * nrows;
    if (svg) fprintf(f, "set terminal svg size %d,%d dynamic noenhanced background rgb 'white'\n", w, h);
    else
        fprintf(f,
                "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                "  set terminal pngcairo size %d,%d noenhanced\n"
                "} else {\n"
                "  set terminal png size %d,%d noenhanced\n"
                "}\n",
                w, h, w, h);
    fprintf(f, "set output ");
    s_put_quoted(f, out);
    double lo, hi;
    s_x_range(lines, &lo, &hi);
    /* a null field is a missing point: the curve goes on past it */
    fprintf(f, "\nset datafile missing 'NaN'\nset grid\nset key below\nset xlabel 'iteration'\n"
               "set xrange [%g:%g]\n",
            lo, hi);
    if (hi - lo <= 12) fprintf(f, "set xtics 1\n"); /* whole iterations, not 0.5 steps */
    fprintf(f, "set multiplot layout %d,%d title ", nrows, cols);
    s_put_quoted(f, title);
    fputc('\n', f);
    const char *style = json_array_size(lines) > 60 ? "lines lw 2" : "linespoints lw 2 pt 7 ps 0.6";
    for (int p = 0; p < N_PANELS; p++) {
        int first = 1;
        for (int k = 0; k < PLOT_MAX_KEYS; k++) {
            if (!col[p][k]) continue;
            if (first) {
                fprintf(f, "set title '%s'\nset ylabel '%s'\nplot ", s_panels[p].title, s_panels[p].ylabel);
                first = 0;
            } else {
                fprintf(f, ", \\\n     ");
            }
            fprintf(f, "'%s' using 1:%d with %s title '%s'", data, col[p][k], style, s_panels[p].keys[k]);
        }
        if (!first) fputc('\n', f);
    }
    fprintf(f, "unset multiplot\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- running gnuplot -------------------------------------------------------------------- */

/* Is `name` an executable in PATH? */
static int s_in_path(const char *name) {
    const char *path = getenv("PATH");
    char *dirs = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin"), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *exe = xasprintf("%s/%s", *d ? d : ".", name);
        found = access(exe, X_OK) == 0;
        free(exe);
    }
    free(dirs);
    return found;
}

/* Runs `gnuplot script` with its output in log; returns its wait status or -1. */
static int s_run_gnuplot(const char *script, const char *log) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in >= 0) dup2(in, STDIN_FILENO);
        if (fd >= 0) dup2(fd, STDOUT_FILENO), dup2(fd, STDERR_FILENO);
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return st;
}

/* The figure's title: the run folder's name, the algorithm and the last iteration. */
static char *s_title(const char *run_dir, json_t *lines) {
    char *dir = xstrdup(run_dir);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    json_t *last = json_array_get(lines, json_array_size(lines) - 1);
    const char *alg = json_string_value(json_object_get(last, "algorithm"));
    json_t *it = json_object_get(last, "iteration");
    char *t = json_is_number(it) ? xasprintf("%s: %s, iteration %.0f", name, alg ? alg : "?", json_number_value(it))
                                 : xasprintf("%s: %s", name, alg ? alg : "?");
    free(dir);
    return t;
}

static int s_draw(const char *run_dir, json_t *lines, const char *out, int svg) {
    char tmp[] = "/tmp/spar-plot-XXXXXX";
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "spar plot: cannot create a temporary folder: %s\n", strerror(errno));
        return 1;
    }
    char *data = xasprintf("%s/curves.dat", tmp), *script = xasprintf("%s/plot.gp", tmp);
    char *log = xasprintf("%s/gnuplot.log", tmp), *title = s_title(run_dir, lines);
    int col[N_PANELS][PLOT_MAX_KEYS], status = 1;
    int panels = s_write_data(data, lines, col);
    if (panels == 0) {
        fprintf(stderr, "spar plot: %s/iterations.jsonl holds none of the plotted fields\n", run_dir);
    } else if (panels < 0 || s_write_script(script, data, out, title, svg, panels, lines, col) != 0) {
        fprintf(stderr, "spar plot: cannot write in %s: %s\n", tmp, strerror(errno));
    } else {
        int st = s_run_gnuplot(script, log);
        struct stat sb;
        if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && stat(out, &sb) == 0 && sb.st_size > 0) {
            printf("spar plot: wrote %s (%d panel%s, %zu iterations)\n", out, panels, panels > 1 ? "s" : "",
                   json_array_size(lines));
            status = 0;
        } else {
            char *msg = util_read_file(log, NULL);
            fprintf(stderr, "spar plot: gnuplot failed to draw %s:\n%s", out, msg && *msg ? msg : "(no message)\n");
            free(msg);
        }
    }
    unlink(data), unlink(script), unlink(log);
    rmdir(tmp);
    free(data), free(script), free(log), free(title);
    return status;
}

int plot_main(int argc, char **argv) {
    const char *run_dir = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_help();
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] != '-' && !run_dir) {
            run_dir = argv[i];
        } else {
            fprintf(stderr, "spar plot: unexpected argument '%s'\n%s", argv[i], s_usage);
            return 2;
        }
    }
    if (!run_dir) {
        fprintf(stderr, "%s", s_usage);
        return 2;
    }
    char *def = xasprintf("%s/plot.png", run_dir);
    if (!out) out = def;
    int svg = s_ends_with(out, ".svg"), status = 2;
    struct stat sb;
    char *path = xasprintf("%s/iterations.jsonl", run_dir);
    json_t *lines = NULL;
    if (!svg && !s_ends_with(out, ".png")) {
        fprintf(stderr, "spar plot: --out %s: the name must end in .png or .svg (it picks the format)\n", out);
    } else if (stat(run_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "spar plot: %s: no such run folder\n", run_dir);
    } else if (!util_file_exists(path)) {
        fprintf(stderr, "spar plot: %s: missing (not a run folder, or the learner has not finished iteration 0 yet)\n",
                path);
    } else if ((lines = s_read_log(path)) != NULL) {
        if (json_array_size(lines) == 0) fprintf(stderr, "spar plot: %s holds no iterations yet\n", path);
        else if (!s_in_path("gnuplot"))
            fprintf(stderr, "spar plot: gnuplot is not installed (Debian: apt-get install gnuplot-nox; "
                            "scripts/setup.sh installs it)\n");
        else status = s_draw(run_dir, lines, out, svg);
    }
    json_decref(lines);
    free(path);
    free(def);
    return status;
}
