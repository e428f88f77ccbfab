/* tokenizer — spar's tokenizer speed on one thread (hf_tokenizer_encode, with the special tokens,
 * line by line) for Llama 3, Qwen3, Llama 2 and GPT-2, beside tokenizers.js's on the same
 * tokenizer and text in the same run (bench/tokenizer_ref.mjs), as MB of UTF-8 text a second.
 * The text is tests/tokenizer/corpus.py's, grown to --mb MB of fresh lines. Pass 1 starts with an
 * empty BPE cache on both sides; "warm" is the fastest of the passes after it. Time is the
 * process's CPU time (user + system) on both sides, so other work on a shared machine does not
 * count against either (for tokenizers.js it includes node's own helper threads, the garbage
 * collector's: work its encoding costs); the wall-clock time of spar's passes is printed beside
 * it. Loading is not timed. Needs python3, and node with tests/tokenizer's npm packages (scripts/npm_deps.sh);
 * without node the tokenizers.js column says so.
 *
 *   bench_tokenizer [--mb 4] [--passes 3] [--models llama3,qwen3,llama2,gpt2] [--no-ref]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "common/hf_tokenizer.h"
#include "common/util.h"

#ifndef SPAR_SOURCE_DIR
#define SPAR_SOURCE_DIR "."
#endif

#define USAGE "usage: bench_tokenizer [--mb 4] [--passes 3] [--models llama3,qwen3,llama2,gpt2] [--no-ref]\n"

typedef struct {
    char **text;
    size_t *len;
    size_t n, bytes;
} corpus_t;

static double s_clock(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double s_cpu(void) { return s_clock(CLOCK_PROCESS_CPUTIME_ID); }
static double s_wall(void) { return s_clock(CLOCK_MONOTONIC); }

/* Runs a shell command; its stdout (malloc'd) or NULL when it failed. */
static char *s_run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t n = 0, cap = 4096;
    char *out = xmalloc(cap);
    for (size_t k; (k = fread(out + n, 1, cap - n - 1, p)) > 0;) {
        n += k;
        if (n + 1 == cap) out = xrealloc(out, cap *= 2);
    }
    out[n] = 0;
    if (pclose(p) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int s_read_corpus(const char *path, corpus_t *c) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0, ccap = 0;
    ssize_t k;
    while ((k = getline(&line, &cap, f)) > 0) {
        json_error_t e;
        json_t *s = json_loadb(line, (size_t)k, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (!json_is_string(s)) {
            json_decref(s);
            continue;
        }
        if (c->n == ccap) {
            ccap = ccap ? 2 * ccap : 1024;
            c->text = xrealloc(c->text, ccap * sizeof *c->text);
            c->len = xrealloc(c->len, ccap * sizeof *c->len);
        }
        c->len[c->n] = json_string_length(s);
        c->text[c->n] = xmalloc(c->len[c->n] + 1);
        memcpy(c->text[c->n], json_string_value(s), c->len[c->n] + 1);
        c->bytes += c->len[c->n++];
        json_decref(s);
    }
    free(line);
    fclose(f);
    return 0;
}

/* Encodes the corpus passes times; cold: pass 1's seconds, warm: the fastest of the others. */
static int s_time_spar(const char *dir, const corpus_t *c, int passes, double *cold, double *warm, long *tokens,
                       double *wall, double *cpu) {
    char why[512];
    hf_tokenizer_t *t = hf_tokenizer_load(dir, why, sizeof why);
    if (!t) {
        fprintf(stderr, "bench_tokenizer: %s\n", why);
        return -1;
    }
    double *times = xcalloc((size_t)passes, sizeof *times);
    *tokens = 0;
    double w0 = s_wall(), c0 = s_cpu();
    for (int p = 0; p < passes; p++) {
        double t0 = s_cpu();
        for (size_t i = 0; i < c->n; i++) {
            int32_t *ids;
            int k = hf_tokenizer_encode(t, c->text[i], c->len[i], 1, &ids, why, sizeof why);
            if (k < 0) {
                fprintf(stderr, "bench_tokenizer: line %zu: %s\n", i + 1, why);
                free(times);
                hf_tokenizer_free(&t);
                return -1;
            }
            if (p == 0) *tokens += k;
            free(ids);
        }
        times[p] = s_cpu() - t0;
    }
    *wall = s_wall() - w0;
    *cpu = s_cpu() - c0;
    *cold = times[0];
    *warm = times[1];
    for (int p = 2; p < passes; p++)
        if (times[p] < *warm) *warm = times[p];
    free(times);
    hf_tokenizer_free(&t);
    return 0;
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, USAGE)) return 0;
    double mb = atof(bench_arg(argc, argv, "--mb", "4"));
    int passes = atoi(bench_arg(argc, argv, "--passes", "3"));
    const char *models = bench_arg(argc, argv, "--models", "llama3,qwen3,llama2,gpt2");
    int ref = 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--no-ref")) ref = 0;
    if (mb <= 0 || passes < 2) {
        fprintf(stderr, "bench_tokenizer: --mb must be positive and --passes at least 2\n" USAGE);
        return 2;
    }
    const char *src = SPAR_SOURCE_DIR;
    char *tmp = bench_tmpdir("tok");
    char *corpus = xasprintf("%s/corpus.jsonl", tmp);
    char *cmd = xasprintf("python3 '%s/tests/tokenizer/corpus.py' --bytes %.0f > '%s'", src, mb * 1e6, corpus);
    corpus_t c = {0};
    int rc = 0;
    if (system(cmd) != 0 || s_read_corpus(corpus, &c) != 0 || !c.n) {
        fprintf(stderr, "bench_tokenizer: no corpus (%s)\n", cmd);
        rc = 1;
    }
    free(cmd);
    if (ref && !rc) {
        char *check = xasprintf("node -e 0 2>/dev/null && test -f '%s/tests/tokenizer/node_modules/@huggingface/tokenizers/package.json'", src);
        if (system(check) != 0) {
            fprintf(stderr, "bench_tokenizer: no node or no tests/tokenizer/node_modules (scripts/npm_deps.sh): spar only\n");
            ref = 0;
        }
        free(check);
    }
    printf("tokenizer encode, one thread, MB per CPU second, %.2f MB of text (%zu lines), %d passes; load average %.2f\n",
           (double)c.bytes / 1e6, c.n, passes, bench_loadavg());
    printf("%-7s %8s %11s %11s %12s %12s %7s %7s\n", "model", "tokens", "spar cold", "spar warm", "tok.js cold",
           "tok.js warm", "x cold", "x warm");
    char *list = xstrdup(models);
    for (char *save = NULL, *m = strtok_r(list, ",", &save); m && !rc; m = strtok_r(NULL, ",", &save)) {
        char *dir = xasprintf("%s/%s", tmp, m);
        /* the model folder: the packages' files, written by the reference (one place knows them) */
        char *files = xasprintf("node '%s/tests/tokenizer/reference.mjs' files '%s' '%s'", src, m, dir);
        if (system(files) != 0) {
            fprintf(stderr, "bench_tokenizer: cannot write the %s folder (%s)\n", m, files);
            rc = 1;
        }
        free(files);
        double cold = 0, warm = 0, rcold = 0, rwarm = 0, wall = 0, cpu = 0;
        long tokens = 0;
        if (!rc && s_time_spar(dir, &c, passes, &cold, &warm, &tokens, &wall, &cpu)) rc = 1;
        if (!rc && ref) {
            char *rcmd = xasprintf("node '%s/bench/tokenizer_ref.mjs' '%s' '%s' %d", src, m, corpus, passes);
            char *out = s_run(rcmd);
            json_t *j = out ? json_loads(out, 0, NULL) : NULL;
            rcold = json_number_value(json_object_get(j, "cold_s"));
            rwarm = json_number_value(json_object_get(j, "warm_s"));
            if (!j || rcold <= 0) fprintf(stderr, "bench_tokenizer: %s failed\n", rcmd);
            json_decref(j);
            free(out);
            free(rcmd);
        }
        if (rc) {
            free(dir);
            break;
        }
        double MB = (double)c.bytes / 1e6;
        /* MB/s of each, and how many times tokenizers.js's speed spar's is */
        char sc[32], sw[32], rc_[32], rw[32], xc[32], ratio[32];
        snprintf(sc, sizeof sc, "%.1f", MB / cold);
        snprintf(sw, sizeof sw, "%.1f", MB / warm);
        snprintf(rc_, sizeof rc_, rcold > 0 ? "%.2f" : "-", MB / rcold);
        snprintf(rw, sizeof rw, rwarm > 0 ? "%.2f" : "-", MB / rwarm);
        snprintf(xc, sizeof xc, rcold > 0 ? "%.1f" : "-", rcold / cold);
        snprintf(ratio, sizeof ratio, rwarm > 0 ? "%.1f" : "-", rwarm / warm);
        printf("%-7s %8ld %11s %11s %12s %12s %7s %7s   (spar: %.2f s wall for %.2f s CPU)\n", m, tokens, sc, sw,
               rc_, rw, xc, ratio, wall, cpu);
        fflush(stdout);
        char what[64];
        snprintf(what, sizeof what, "%s warm MB/s", m);
        bench_summary("tokenizer", what, sw, rw, ratio);
        free(dir);
    }
    free(list);
    for (size_t i = 0; i < c.n; i++) free(c.text[i]);
    free(c.text);
    free(c.len);
    free(corpus);
    bench_rmtree(tmp);
    free(tmp);
    return rc;
}
