/* testutil — see testutil.h. */
#include "tests/testutil.h"

#include <ctype.h>
#include <math.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jsonl.h"
#include "common/records.h"
#include "common/util.h"

extern char **environ;

char *tu_tmpdir(void) {
    char *t = xstrdup("/tmp/spar-test-XXXXXX");
    if (!mkdtemp(t)) {
        perror("mkdtemp");
        abort();
    }
    return t;
}

void tu_rmtree(const char *path) {
    char *cmd = xasprintf("rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", path);
    free(cmd);
}

pid_t tu_spawnv(const char *dir, const char *log, char *const argv[]) {
    pid_t pid = util_spawn(dir, log, argv);
    if (pid < 0) abort();
    return pid;
}

pid_t tu_spawn(const char *dir, const char *log, const char *arg0, ...) {
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)arg0;
    va_list ap;
    va_start(ap, arg0);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 63) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return tu_spawnv(dir, log, argv);
}

/* Does /proc/PID/cmdline hold the argument pair `--id ID`? */
static int s_has_id(pid_t pid, const char *id) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (!strcmp(buf + i, "--id") && i + 5 < n && !strcmp(buf + i + 5, id)) return 1;
    return 0;
}

pid_t tu_find_child(pid_t parent, const char *id) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
        char state;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2) continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (ppid == (int)parent && state != 'Z' && s_has_id(pid, id)) found = pid;
    }
    closedir(d);
    return found;
}

int tu_wait(pid_t pid, int timeout_ms) {
    int64_t end = util_now_ms() + timeout_ms;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (util_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        util_sleep_ms(10);
    }
}

int tu_exit_code(int status) {
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

json_t *tu_read_jsonl(const char *path) { return jsonl_read(path); }

int tu_wait_lines(const char *path, int lines, int timeout_ms) {
    int64_t end = util_now_ms() + timeout_ms;
    while (util_now_ms() < end) {
        FILE *f = fopen(path, "r");
        int n = 0, c;
        if (f) {
            while ((c = fgetc(f)) != EOF) n += c == '\n';
            fclose(f);
        }
        if (n >= lines) return 0;
        util_sleep_ms(5);
    }
    return -1;
}

int tu_file_contains(const char *path, const char *text) {
    char *s = util_read_file(path, NULL);
    int found = s && strstr(s, text) != NULL;
    free(s);
    return found;
}

void tu_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

void tu_dump(const char *path) {
    char *s = util_read_file(path, NULL);
    fprintf(stderr, "---- %s ----\n%s\n----\n", path, s ? s : "(missing)");
    free(s);
}

void tu_assert_no_sanitizer_report(const char *dir) {
    char *cmd = xasprintf("grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '%s'", dir);
    int found = system(cmd) == 0; /* grep prints the files that hold a report */
    free(cmd);
    if (found) fail_msg("a sanitizer report was found under %s", dir);
}

void tu_done(char *dir) {
    tu_assert_no_sanitizer_report(dir);
    tu_rmtree(dir);
    free(dir);
}

static int s_skipped;

void tu_skip(void) {
    s_skipped = 1;
    skip(); /* cmocka leaves the test here (longjmp) and runs its teardown */
}

int tu_result(int failures) {
    return failures == 0 && s_skipped ? TU_SKIP_CODE : failures;
}

int tu_check_records(const char *run, int iterations, int prompts, int synchronous) {
    char *path = xasprintf("%s/records/groups.pb", run);
    FILE *f = fopen(path, "rb");
    free(path);
    assert_non_null(f);
    char *seen = xcalloc((size_t)(iterations + 1) * (size_t)prompts, 1);
    int n = 0, bad = 0;
    Spar__RolloutGroup *g;
    while ((g = records_next(f, &bad))) {
        assert_true(g->iteration >= 1 && g->iteration <= (uint64_t)iterations);
        assert_true(g->prompt_id < (uint32_t)prompts);
        if (synchronous && g->policy_version != g->iteration - 1)
            fail_msg("group of iteration %llu sampled by version %llu", (unsigned long long)g->iteration,
                     (unsigned long long)g->policy_version);
        char *s = &seen[g->iteration * (uint64_t)prompts + g->prompt_id];
        if (*s) fail_msg("prompt %u of iteration %llu recorded twice", g->prompt_id, (unsigned long long)g->iteration);
        *s = 1;
        n++;
        spar__rollout_group__free_unpacked(g, NULL);
    }
    fclose(f);
    free(seen);
    assert_int_equal(bad, 0);
    return n;
}

float *tu_randn(rng_t *r, size_t n, double scale) {
    float *x = xmalloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(r));
    return x;
}

double tu_dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

void tu_grad_check(const char *what, float *x, const float *grad, size_t n, tu_loss_fn L, void *ctx) {
    double h = 1e-2, worst = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + (float)h;
        double lp = L(ctx);
        x[i] = keep - (float)h;
        double lm = L(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2 * h), err = fabs(num - grad[i]) / (1e-2 + fabs(num));
        if (err > worst) worst = err;
        if (err > 2e-2) fail_msg("%s: d/dx[%zu] analytic %g, numeric %g", what, i, grad[i], num);
    }
    fprintf(stderr, "%-24s %5zu entries, worst relative error %.1e\n", what, n, worst);
}
