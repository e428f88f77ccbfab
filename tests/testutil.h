/* testutil — what the tests share: a private temporary folder per test (short, so ipc://
 * paths fit), starting real spar processes with their output in a log file, waiting with a
 * timeout, and reading iterations.jsonl. */
#ifndef SPAR_TESTUTIL_H
#define SPAR_TESTUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* cmocka needs these before its header */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/rng.h"

/* A new empty folder under /tmp; removed by tu_rmtree. Returns a static-lifetime string. */
char *tu_tmpdir(void);
void tu_rmtree(const char *path);

/* Starts `spar ARGS...` (NULL-terminated) with cwd `dir` (NULL: inherit) and its stdout and
 * stderr appended to `log`. Returns the pid. */
pid_t tu_spawn(const char *dir, const char *log, const char *arg0, ...);
pid_t tu_spawnv(const char *dir, const char *log, char *const argv[]);

/* The live (not yet exited) child of `parent` started with `--id ID`, found through /proc;
 * 0 when there is none (e.g. it died and has not been restarted yet). */
pid_t tu_find_child(pid_t parent, const char *id);

/* Waits up to timeout_ms for pid; returns its waitpid status, or -1 on timeout (pid killed). */
int tu_wait(pid_t pid, int timeout_ms);
/* Exit code of a status from tu_wait, or -1 when it did not exit normally. */
int tu_exit_code(int status);

/* iterations.jsonl as a JSON array (caller decrefs); NULL when missing. */
json_t *tu_read_jsonl(const char *path);
/* Waits until the file holds at least `lines` complete lines; 0 on success, -1 on timeout. */
int tu_wait_lines(const char *path, int lines, int timeout_ms);
/* Does the file contain the text? */
int tu_file_contains(const char *path, const char *text);
/* Writes text to path. */
void tu_write(const char *path, const char *text);
/* Prints a file to stderr (for a failing test's context). */
void tu_dump(const char *path);

/* Reads run/records/groups.pb: each group of an iteration 1..iterations and a prompt below
 * prompts, no (iteration, prompt) twice, no torn record; synchronous: each sampled by the
 * version its iteration started from. Returns the number of groups. */
int tu_check_records(const char *run, int iterations, int prompts, int synchronous);

/* Fails the test when any file under dir holds a sanitizer report (ASan, UBSan, LSan). */
void tu_assert_no_sanitizer_report(const char *dir);
/* The end of a test's folder: no sanitizer report in it, then removed and freed. */
void tu_done(char *dir);

/* n floats drawn N(0, scale^2) from r (at least one allocated), and a double-accumulated dot. */
float *tu_randn(rng_t *r, size_t n, double scale);
double tu_dot(const float *a, const float *b, size_t n);
/* Finite differences: compares grad[i] with (L(x + h) - L(x - h)) / 2h, h = 1e-2, for every
 * entry of x; fails the test (naming what and the entry) beyond 2e-2 relative error (with an
 * absolute floor of 1e-2), and prints the worst error. */
typedef double (*tu_loss_fn)(void *ctx);
void tu_grad_check(const char *what, float *x, const float *grad, size_t n, tu_loss_fn L, void *ctx);

/* A test that cannot run here (what it needs is missing) is skipped, never passed: tu_skip ends
 * the running cmocka test as SKIPPED (say why on stderr first), and main returns
 * tu_result(cmocka_run_group_tests(...)), which is TU_SKIP_CODE when a test skipped and none
 * failed; tests/CMakeLists.txt registers that code as SKIP_RETURN_CODE, so ctest counts it. */
#define TU_SKIP_CODE 77
void tu_skip(void);
int tu_result(int failures);

#endif
