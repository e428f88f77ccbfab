/* bench — what the benchmarks share: a private folder per run under /tmp (short, so ipc://
 * paths fit), starting real spar processes with their output in a log, waiting with a timeout
 * and reporting a failed one, plain ZeroMQ sockets, reading iterations.jsonl, medians, and the
 * path of the spar binary. Benchmarks print figures and never assert timings; a failed step is
 * reported and the benchmark exits non-zero. */
#ifndef SPAR_BENCH_H
#define SPAR_BENCH_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* A new empty folder /tmp/spar-bench-TAG-XXXXXX (malloc'd path); removed by bench_rmtree
 * (kept, and named on stderr, when $BENCH_KEEP is 1). */
char *bench_tmpdir(const char *tag);
void bench_rmtree(const char *path);

/* When the first argument is --help or -h: prints usage to stdout and returns 1; else 0. */
int bench_help(int argc, char **argv, const char *usage);
/* The spar binary: --spar PATH among the arguments, else $SPAR, else the one built beside. */
const char *bench_spar(int argc, char **argv);
/* The value after `name` among the arguments (e.g. "--reps"), or def. */
const char *bench_arg(int argc, char **argv, const char *name, const char *def);
/* Parses "8,128" into at most max integers; returns how many. */
int bench_int_list(const char *s, long *out, int max);

/* Starts argv[0] with argv (NULL-terminated), stdout and stderr appended to `log` (NULL:
 * /dev/null). Returns the pid, or -1. */
pid_t bench_spawn(const char *log, char *const argv[]);
/* Waits up to timeout_ms for pid; returns its waitpid status, or -1 on timeout (pid killed).
 * cpu_s (may be NULL) receives the child's user + system CPU seconds. */
int bench_wait(pid_t pid, int timeout_ms, double *cpu_s);
/* CPU seconds (user + system) of a rusage, and of this process so far. */
struct rusage;
double bench_cpu(const struct rusage *ru);
double bench_self_cpu(void);
/* 1 when a status from bench_wait is a clean exit 0. */
int bench_ok(int status);
/* 0 when status is a clean exit 0; else prints the printf-style message to stderr, then the
 * last 20 lines of `log`, and returns -1. */
int bench_check_exit(int status, const char *log, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A ZeroMQ socket as every benchmark opens one: no CURVE, frames as large as a benchmark makes;
 * label names it in logs, routing_id (or NULL) is a DEALER's identity. NULL after logging why. */
void *bench_socket(void *ctx, const char *label, int type, const char *endpoint, int bind, const char *routing_id);

/* iterations.jsonl as a JSON array (caller decrefs); NULL when missing. */
json_t *bench_read_jsonl(const char *path);
/* Writes text to path; 0 or -1. */
int bench_write(const char *path, const char *text);
/* Prints the last `lines` lines of a file to stderr (a failed run's context). */
void bench_tail(const char *path, int lines);

/* The 1-minute load average (other work on the machine skews every figure), NAN if unknown. */
double bench_loadavg(void);
/* Appends one row to the summary file named by $BENCH_SUMMARY (nothing when unset): tab-separated
 * bench, case, spar's figure, the baseline's figure, their ratio, as bench/cluster.sh prints them. */
void bench_summary(const char *bench, const char *what, const char *spar, const char *baseline, const char *ratio);

/* Median of v[0..n-1] (sorts v in place); NAN when n is 0. */
double bench_median(double *v, int n);

#endif
