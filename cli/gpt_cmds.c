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

int gpt_sample_main(int argc, char **argv) {
    const char *ckpt = NULL, *prompt = NULL;
    int n = 1;
    gpt_sample_opts_t o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = 64};
    unsigned long long seed = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        if (!strcmp(a, "--help")) {
            printf("usage: spar sample CKPT --prompt TEXT [-n N] [--max-new M] [--temperature T] [--top-k K] "
                   "[--top-p P] [--seed S]\n\nPrints N completions of TEXT, each with its log-prob under the policy.\n");
            return 0;
        } else if (!strcmp(a, "--prompt") && v) prompt = argv[++i];
        else if (!strcmp(a, "-n") && v) n = atoi(argv[++i]);
        else if (!strcmp(a, "--max-new") && v) o.max_new = atoi(argv[++i]);
        else if (!strcmp(a, "--temperature") && v) o.temperature = atof(argv[++i]);
        else if (!strcmp(a, "--top-k") && v) o.top_k = atoi(argv[++i]);
        else if (!strcmp(a, "--top-p") && v) o.top_p = atof(argv[++i]);
        else if (!strcmp(a, "--seed") && v) seed = strtoull(argv[++i], NULL, 10);
        else if (a[0] != '-' && !ckpt) ckpt = a;
        else {
            fprintf(stderr, "spar sample: unexpected argument '%s' (spar sample --help)\n", a);
            return 2;
        }
    }
    if (!ckpt || !prompt || n < 1 || n > 4096 || o.max_new < 1 || o.top_p <= 0 || o.top_p > 1 || o.temperature < 0) {
        fprintf(stderr, "spar sample: need CKPT, --prompt TEXT, 1 <= n <= 4096, max-new >= 1, 0 < top-p <= 1\n");
        return 2;
    }
    gpt_t *m = s_load("sample", ckpt);
    if (!m) return 2;
    int ctx = gpt_config(m)->ctx, *ptok = xmalloc(sizeof(int) * (size_t)ctx);
    int plen = tok_encode(prompt, ptok, ctx);
    if (plen < 1 || (size_t)plen < strlen(prompt) || plen >= ctx) {
        fprintf(stderr, "spar sample: the prompt must have 1 to %d bytes (the model's context is %d)\n", ctx - 1, ctx);
        free(ptok);
        gpt_destroy(&m);
        return 2;
    }
    const int **prompts = xmalloc(sizeof(int *) * (size_t)n);
    int *plens = xmalloc(sizeof(int) * (size_t)n), *out = xmalloc(sizeof(int) * (size_t)n * o.max_new),
        *len = xmalloc(sizeof(int) * (size_t)n);
    float *lps = xmalloc(sizeof(float) * (size_t)n * o.max_new);
    rng_t *r = xmalloc(sizeof(rng_t) * (size_t)n);
    for (int s = 0; s < n; s++) prompts[s] = ptok, plens[s] = plen, rng_stream(&r[s], seed, 0, 0, (uint64_t)s);
    gpt_generate(m, prompts, plens, n, &o, r, out, lps, len);
    for (int s = 0; s < n; s++) {
        double lp = 0;
        for (int i = 0; i < len[s]; i++) lp += lps[(size_t)s * o.max_new + i];
        char *text = s_printable(out + (size_t)s * o.max_new, len[s]);
        json_t *j = json_pack("{s:i, s:s, s:s, s:f, s:b}", "sample", s, "prompt", prompt, "completion", text, "logprob", lp,
                              "ended", len[s] > 0 && out[(size_t)s * o.max_new + len[s] - 1] == GPT_EOT);
        char *line = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
        printf("%s\n", line);
        free(line);
        json_decref(j);
        free(text);
    }
    free(ptok), free(prompts), free(plens), free(out), free(len), free(lps), free(r);
    gpt_destroy(&m);
    return 0;
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
