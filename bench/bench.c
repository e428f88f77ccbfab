/* bench — see bench.h. */
#include "bench/bench.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jsonl.h"
#include "common/util.h"
#include "common/wire_socket.h"

#ifndef SPAR_BIN
#define SPAR_BIN "spar"
#endif

char *bench_tmpdir(const char *tag) {
    char *t = xasprintf("/tmp/spar-bench-%s-XXXXXX", tag);
    if (!mkdtemp(t)) {
        fprintf(stderr, "bench: cannot create %s: %s\n", t, strerror(errno));
        exit(1);
    }
    return t;
}

void bench_rmtree(const char *path) {
    if (strncmp(path, "/tmp/spar-bench-", 16) != 0) return; /* only our own folders */
    const char *keep = getenv("BENCH_KEEP");
    if (keep && keep[0] == '1') {
        fprintf(stderr, "bench: kept %s\n", path);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/rm", "rm", "-rf", path, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
}

const char *bench_arg(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

int bench_help(int argc, char **argv, const char *usage) {
    if (argc < 2 || (strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))) return 0;
    fputs(usage, stdout);
    return 1;
}

const char *bench_spar(int argc, char **argv) {
    const char *env = getenv("SPAR");
    return bench_arg(argc, argv, "--spar", env && env[0] ? env : SPAR_BIN);
}

int bench_int_list(const char *s, long *out, int max) {
    int n = 0;
    while (s && *s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) break;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

pid_t bench_spawn(const char *log, char *const argv[]) {
    return util_spawn(NULL, log, argv);
}

int bench_wait(pid_t pid, int timeout_ms, double *cpu_s) {
    int64_t end = util_now_ms() + timeout_ms;
    int status;
    struct rusage ru;
    for (;;) {
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) {
            if (cpu_s) *cpu_s = bench_cpu(&ru);
            return status;
        }
        if (r < 0 && errno != EINTR) return -1;
        if (util_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        util_sleep_ms(5);
    }
}

double bench_cpu(const struct rusage *ru) {
    return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 + (double)ru->ru_stime.tv_sec +
           ru->ru_stime.tv_usec / 1e6;
}

double bench_self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return bench_cpu(&ru);
}

int bench_ok(int status) { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

int bench_check_exit(int status, const char *log, const char *fmt, ...) {
    if (bench_ok(status)) return 0;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    bench_tail(log, 20);
    return -1;
}

void *bench_socket(void *ctx, const char *label, int type, const char *endpoint, int bind, const char *routing_id) {
    wire_socket_opts_t o = {.label = label, .type = type, .endpoint = endpoint, .bind = bind,
                            .max_frame_bytes = 1L << 31, .routing_id = routing_id};
    return wire_socket_open(ctx, &o);
}

json_t *bench_read_jsonl(const char *path) { return jsonl_read(path); }

int bench_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) != 0 ? -1 : rc;
}

void bench_tail(const char *path, int lines) {
    char *s = util_read_file(path, NULL);
    if (!s) {
        fprintf(stderr, "---- %s: missing ----\n", path);
        return;
    }
    size_t len = strlen(s);
    const char *p = s + len;
    for (int n = 0; p > s && n <= lines;) n += *--p == '\n';
    fprintf(stderr, "---- %s (last %d lines) ----\n%s----\n", path, lines, p == s ? s : p + 1);
    free(s);
}

static int s_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, s_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double bench_loadavg(void) {
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = NAN;
        fclose(f);
    }
    return l;
}

void bench_summary(const char *bench, const char *what, const char *spar, const char *baseline, const char *ratio) {
    const char *path = getenv("BENCH_SUMMARY");
    if (!path || !path[0]) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f, "%s\t%s\t%s\t%s\t%s\n", bench, what, spar, baseline, ratio);
    fclose(f);
}
