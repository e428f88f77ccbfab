/* gpt_cmds — see gpt_cmds.h. A response is its bytes followed by end-of-text, in sampling and
 * in scoring alike. */
#include "cli/gpt_cmds.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gpt.h"
#include "common/gpt_io.h"
#include "common/gpt_sample.h"
#include "common/pairs.h"
#include "common/tokenizer.h"
#include "common/util.h"

/* A completion as printable text: bytes outside printable ASCII (a model may emit any byte,
 * valid UTF-8 or not) appear as \xNN. */
static char *s_printable(const int *tokens, int n) {
    char *out = xmalloc(4 * (size_t)n + 1), *o = out;
    for (int i = 0; i < n && tokens[i] != GPT_EOT; i++) {
        int b = tokens[i];
        if ((b >= 32 && b < 127) || b == '\n' || b == '\t') *o++ = (char)b;
        else o += sprintf(o, "\\x%02x", b & 0xff);
    }
    *o = '\0';
    return out;
}

static gpt_t *s_load(const char *cmd, const char *path) {
    char why[600];
    gpt_t *m = gpt_load(path, NULL, why, sizeof why);
    if (!m) fprintf(stderr, "spar %s: %s\n", cmd, why);
    return m;
}

typedef struct {
    const char *ckpt, *prompt;
    int n; /* completions */
    unsigned long long seed;
    gpt_sample_opts_t o;
} sample_args_t;

/* spar sample's options; returns -1 to go on, else the exit status (0 after --help, 2 after
 * saying what is wrong). */
static int s_parse_sample(int argc, char **argv, sample_args_t *sa) {
    *sa = (sample_args_t){.n = 1, .seed = 1, .o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = 64}};
    gpt_sample_opts_t *o = &sa->o;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        if (!strcmp(a, "--help")) {
            printf("usage: spar sample CKPT --prompt TEXT [-n N] [--max-new M] [--temperature T] [--top-k K] "
                   "[--top-p P] [--seed S]\n\nPrints N completions of TEXT, each with its log-prob under the policy.\n");
            return 0;
        } else if (!strcmp(a, "--prompt") && v) sa->prompt = argv[++i];
        else if (!strcmp(a, "-n") && v) sa->n = atoi(argv[++i]);
        else if (!strcmp(a, "--max-new") && v) o->max_new = atoi(argv[++i]);
        else if (!strcmp(a, "--temperature") && v) o->temperature = atof(argv[++i]);
        else if (!strcmp(a, "--top-k") && v) o->top_k = atoi(argv[++i]);
        else if (!strcmp(a, "--top-p") && v) o->top_p = atof(argv[++i]);
        else if (!strcmp(a, "--seed") && v) sa->seed = strtoull(argv[++i], NULL, 10);
        else if (a[0] != '-' && !sa->ckpt) sa->ckpt = a;
        else {
            fprintf(stderr, "spar sample: unexpected argument '%s' (spar sample --help)\n", a);
            return 2;
        }
    }
    if (!sa->ckpt || !sa->prompt || sa->n < 1 || sa->n > 4096 || o->max_new < 1 || o->top_p <= 0 || o->top_p > 1 ||
        o->temperature < 0) {
        fprintf(stderr, "spar sample: need CKPT, --prompt TEXT, 1 <= n <= 4096, max-new >= 1, 0 < top-p <= 1\n");
        return 2;
    }
    return -1;
}

/* The prompt's tokens (*plen of them, malloc'd), or NULL after saying it does not fit. */
static int *s_encode_prompt(const gpt_t *m, const char *prompt, int *plen) {
    int ctx = gpt_config(m)->ctx, *ptok = xmalloc(sizeof(int) * (size_t)ctx);
    *plen = tok_encode(prompt, ptok, ctx);
    if (*plen < 1 || (size_t)*plen < strlen(prompt) || *plen >= ctx) {
        fprintf(stderr, "spar sample: the prompt must have 1 to %d bytes (the model's context is %d)\n", ctx - 1, ctx);
        free(ptok);
        return NULL;
    }
    return ptok;
}

/* Sample s as one JSON line: its completion, log-prob and whether it ended (end-of-text). */
static void s_print_sample(int s, const char *prompt, const int *out, const float *lps, int len) {
    double lp = 0;
    for (int i = 0; i < len; i++) lp += lps[i];
    char *text = s_printable(out, len);
    json_t *j = json_pack("{s:i, s:s, s:s, s:f, s:b}", "sample", s, "prompt", prompt, "completion", text, "logprob", lp,
                          "ended", len > 0 && out[len - 1] == GPT_EOT);
    char *line = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", line);
    free(line);
    json_decref(j);
    free(text);
}

/* sa->n completions of the prompt, each from its own stream of the seed, printed in order. */
static void s_sample(gpt_t *m, const sample_args_t *sa, const int *ptok, int plen) {
    int n = sa->n, max_new = sa->o.max_new;
    const int **prompts = xmalloc(sizeof(int *) * (size_t)n);
    int *plens = xmalloc(sizeof(int) * (size_t)n), *out = xmalloc(sizeof(int) * (size_t)n * max_new),
        *len = xmalloc(sizeof(int) * (size_t)n);
    float *lps = xmalloc(sizeof(float) * (size_t)n * max_new);
    rng_t *r = xmalloc(sizeof(rng_t) * (size_t)n);
    for (int s = 0; s < n; s++) prompts[s] = ptok, plens[s] = plen, rng_stream(&r[s], sa->seed, 0, 0, (uint64_t)s);
    gpt_generate(m, prompts, plens, n, &sa->o, r, out, lps, len);
    for (int s = 0; s < n; s++)
        s_print_sample(s, sa->prompt, out + (size_t)s * max_new, lps + (size_t)s * max_new, len[s]);
    free(prompts), free(plens), free(out), free(len), free(lps), free(r);
}

int gpt_sample_main(int argc, char **argv) {
    sample_args_t sa;
    int rc = s_parse_sample(argc, argv, &sa);
    if (rc >= 0) return rc;
    gpt_t *m = s_load("sample", sa.ckpt);
    if (!m) return 2;
    int plen, *ptok = s_encode_prompt(m, sa.prompt, &plen);
    int status = ptok ? 0 : 2;
    if (ptok) s_sample(m, &sa, ptok, plen);
    free(ptok);
    gpt_destroy(&m);
    return status;
}

typedef struct {
    gpt_t *m;
    int *tok;
} score_t;

static int s_score_line(const char *prompt, const char *response, int lineno, void *ctx, char *why, size_t wl) {
    score_t *sc = ctx;
    int pl, T = tok_encode_pair(prompt, response, sc->tok, gpt_config(sc->m)->ctx, &pl);
    if (T < 0) {
        snprintf(why, wl, "prompt and response must fit the context of %d tokens (a non-empty prompt)",
                 gpt_config(sc->m)->ctx);
        return -1;
    }
    double lp;
    gpt_forward(sc->m, sc->tok, 1, T);
    gpt_seq_logprob(sc->m, sc->tok, &pl, &T, &lp);
    printf("{\"line\":%d,\"logprob\":%.9g,\"tokens\":%d}\n", lineno, lp, T - pl);
    return 0;
}

int gpt_score_main(int argc, char **argv) {
    if (argc >= 1 && !strcmp(argv[0], "--help")) {
        printf("usage: spar score CKPT FILE.jsonl\n\nFor each line {\"prompt\": ..., \"response\": ...} prints "
               "{\"line\": N, \"logprob\": log p(response + end-of-text | prompt), \"tokens\": T}.\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: spar score CKPT FILE.jsonl\n");
        return 2;
    }
    gpt_t *m = s_load("score", argv[0]);
    if (!m) return 2;
    score_t sc = {m, xmalloc(sizeof(int) * (size_t)gpt_config(m)->ctx)};
    char err[600];
    int status = pairs_read(argv[1], s_score_line, &sc, err, sizeof err) < 0 ? 2 : 0;
    if (status) fprintf(stderr, "spar score: %s\n", err);
    free(sc.tok);
    gpt_destroy(&m);
    return status;
}
