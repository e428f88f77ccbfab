/* lm_cmds — see lm_cmds.h. A response is its tokens followed by the model's EOS, in sampling
 * and in scoring text alike; ids given as ids are scored as they are. */
#include "cli/lm_cmds.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lm.h"
#include "common/util.h"

/* A byte-level completion as printable text: bytes outside printable ASCII (a model may emit
 * any byte, valid UTF-8 or not) appear as \xNN. */
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

/* A PEFT adapter folder given with --adapter DIR (taken out of argv), applied by s_load. */
static const char *s_adapter;

static void s_take_adapter(int *argc, char **argv) {
    for (int i = 0; i + 1 < *argc; i++)
        if (!strcmp(argv[i], "--adapter")) {
            s_adapter = argv[i + 1];
            memmove(argv + i, argv + i + 2, sizeof *argv * (size_t)(*argc - i - 2));
            *argc -= 2;
            return;
        }
}

/* The model at path, with the adapters of `adapter` (a PEFT folder; NULL: none) on it. */
static lm_t *s_load_with(const char *cmd, const char *path, const char *adapter) {
    char why[600];
    lm_t *m = lm_load_dir(path, NULL, why, sizeof why);
    if (m && adapter) {
        lm_t *base = m; /* the adapted model shares its weights */
        m = lm_load_adapter_dir(base, adapter, NULL, why, sizeof why);
        lm_free(&base);
    }
    if (!m) fprintf(stderr, "spar %s: %s\n", cmd, why);
    return m;
}

static lm_t *s_load(const char *cmd, const char *path) { return s_load_with(cmd, path, s_adapter); }

typedef struct {
    const char *ckpt, *prompt;
    int n; /* completions */
    unsigned long long seed;
    lm_sample_opts_t o;
} sample_args_t;

/* spar sample's options; returns -1 to go on, else the exit status (0 after --help, 2 after
 * saying what is wrong). */
static int s_parse_sample(int argc, char **argv, sample_args_t *sa) {
    *sa = (sample_args_t){.n = 1, .seed = 1, .o = {.temperature = 1.0, .top_k = 0, .top_p = 1.0, .max_new = 64}};
    lm_sample_opts_t *o = &sa->o;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        if (!strcmp(a, "--help")) {
            printf("usage: spar sample MODEL --prompt TEXT [-n N] [--max-new M] [--temperature T] [--top-k K] "
                   "[--top-p P] [--seed S]\n\nPrints N completions of TEXT, each with its log-prob under the model. MODEL: a Hugging Face\nfolder (with its tokenizer) or a spar checkpoint. Generation ends at the model's EOS ids.\n");
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
        fprintf(stderr, "spar sample: need MODEL, --prompt TEXT, 1 <= n <= 4096, max-new >= 1, 0 < top-p <= 1\n");
        return 2;
    }
    return -1;
}

/* The prompt's tokens (*plen of them, malloc'd), or NULL after saying it does not fit. */
static int *s_encode_prompt(const lm_t *m, const char *prompt, int *plen) {
    int32_t *ids;
    char why[300];
    int ctx = lm_ctx(m);
    *plen = lm_encode_prompt(m, prompt, &ids, why, sizeof why);
    if (*plen < 0) {
        fprintf(stderr, "spar sample: the prompt: %s\n", why);
        return NULL;
    }
    if (*plen < 1 || *plen >= ctx) {
        fprintf(stderr, "spar sample: the prompt must have 1 to %d tokens (the model's context is %d); it has %d\n",
                ctx - 1, ctx, *plen);
        free(ids);
        return NULL;
    }
    return (int *)ids;
}

/* Sample s as one JSON line: its completion, log-prob and whether it ended (an EOS). */
static void s_print_sample(const lm_t *m, int s, const char *prompt, const int *out, const float *lps, int len) {
    double lp = 0;
    for (int i = 0; i < len; i++) lp += lps[i];
    char *text = lm_is_byte_level(m) ? s_printable(out, len) : lm_decode(m, (const int32_t *)out, len);
    json_t *ids = json_array();
    for (int i = 0; i < len; i++) json_array_append_new(ids, json_integer(out[i]));
    json_t *j = json_pack("{s:i, s:s, s:s, s:f, s:b, s:o}", "sample", s, "prompt", prompt, "completion", text,
                          "logprob", lp, "ended", len > 0 && lm_is_eos(m, out[len - 1]), "ids", ids);
    char *line = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", line);
    free(line);
    json_decref(j);
    free(text);
}

/* sa->n completions of the prompt, each from its own stream of the seed, printed in order. */
static int s_sample(lm_t *m, const sample_args_t *sa, const int *ptok, int plen) {
    int n = sa->n, max_new = sa->o.max_new;
    const int **prompts = xmalloc(sizeof(int *) * (size_t)n);
    int *plens = xmalloc(sizeof(int) * (size_t)n), *out = xmalloc(sizeof(int) * (size_t)n * max_new),
        *len = xmalloc(sizeof(int) * (size_t)n);
    float *lps = xmalloc(sizeof(float) * (size_t)n * max_new);
    rng_t *r = xmalloc(sizeof(rng_t) * (size_t)n);
    for (int s = 0; s < n; s++) prompts[s] = ptok, plens[s] = plen, rng_stream(&r[s], sa->seed, 0, 0, (uint64_t)s);
    int rc = lm_generate(m, NULL, 0, prompts, plens, n, &sa->o, r, out, lps, len);
    if (rc != 0) fprintf(stderr, "spar sample: generation refused the prompt\n");
    for (int s = 0; s < n && rc == 0; s++)
        s_print_sample(m, s, sa->prompt, out + (size_t)s * max_new, lps + (size_t)s * max_new, len[s]);
    free(prompts), free(plens), free(out), free(len), free(lps), free(r);
    return rc == 0 ? 0 : 2;
}

int lm_sample_main(int argc, char **argv) {
    s_take_adapter(&argc, argv);
    sample_args_t sa;
    int rc = s_parse_sample(argc, argv, &sa);
    if (rc >= 0) return rc;
    lm_t *m = s_load("sample", sa.ckpt);
    if (!m) return 2;
    int plen, *ptok = s_encode_prompt(m, sa.prompt, &plen);
    int status = ptok ? s_sample(m, &sa, ptok, plen) : 2;
    free(ptok);
    lm_free(&m);
    return status;
}

/* ---- score ------------------------------------------------------------------------------------ */

/* The ids of a JSON array into *out (malloc'd); the count, or -1 when it is not an array of ids
 * of the vocabulary. */
static int s_ids(const json_t *a, int vocab, int **out) {
    if (!json_is_array(a)) return -1;
    int n = (int)json_array_size(a);
    *out = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= vocab) {
            free(*out);
            return -1;
        }
        (*out)[i] = (int)json_integer_value(v);
    }
    return n;
}

/* A line's prompt and response as tokens: given as ids, or as text (the response then ends with
 * EOS). Returns 0, or -1 with why. */
static int s_line_tokens(const lm_t *m, const json_t *j, int **tok, int *pl, int *rl, char *why, size_t wl) {
    const json_t *pi = json_object_get(j, "prompt_ids"), *ri = json_object_get(j, "response_ids");
    const char *p = json_string_value(json_object_get(j, "prompt")), *r = json_string_value(json_object_get(j, "response"));
    int *a = NULL, *b = NULL;
    if (pi || ri) {
        if ((*pl = s_ids(pi, lm_vocab(m), &a)) < 0 || (*rl = s_ids(ri, lm_vocab(m), &b)) < 0) {
            if (*pl >= 0) free(a);
            snprintf(why, wl, "prompt_ids and response_ids must be arrays of ids below %d", lm_vocab(m));
            return -1;
        }
    } else if (p && r) {
        int32_t *x, *y;
        if ((*pl = lm_encode_prompt(m, p, &x, why, wl)) < 0) return -1;
        if ((*rl = lm_encode_response(m, r, &y, why, wl)) < 0) {
            free(x);
            return -1;
        }
        a = (int *)x, b = (int *)y;
    } else {
        snprintf(why, wl, "needs string fields \"prompt\" and \"response\" (or id arrays \"prompt_ids\", \"response_ids\")");
        return -1;
    }
    *tok = xmalloc(sizeof(int) * (size_t)(*pl + *rl + 1));
    memcpy(*tok, a, sizeof(int) * (size_t)*pl);
    memcpy(*tok + *pl, b, sizeof(int) * (size_t)*rl);
    free(a), free(b);
    if (*pl < 1 || *pl + *rl > lm_ctx(m)) {
        snprintf(why, wl, "prompt and response must fit the context of %d tokens (a non-empty prompt); they have %d",
                 lm_ctx(m), *pl + *rl);
        free(*tok);
        return -1;
    }
    return 0;
}

/* log p(response | prompt) of one sequence of T tokens whose first pl are the prompt. */
static double s_seq_logprob(lm_t *m, const int *tok, int pl, int T) {
    lm_pred_t *p = xmalloc(sizeof(lm_pred_t) * (size_t)(T ? T : 1));
    int n = 0;
    for (int t = pl - 1; t < T - 1; t++) p[n++] = (lm_pred_t){t, tok[t + 1], 0};
    double lp = 0;
    if (n > 0 && lm_forward(m, tok, NULL, NULL, 1, T) == 0) lm_preds_logprob(m, p, n, &lp);
    free(p);
    return lp;
}

/* Each line of f; 0, or 2 after naming the file and line that is wrong. */
static int s_score_file(lm_t *m, FILE *f, const char *path) {
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, status = 0;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    while (status == 0 && getline(&line, &cap, f) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        char why[400];
        int *tok, pl, rl;
        if (!json_is_object(j)) {
            fprintf(stderr, "spar score: %s:%d: not a JSON object (%s)\n", base, lineno, e.text);
            status = 2;
        } else if (s_line_tokens(m, j, &tok, &pl, &rl, why, sizeof why) != 0) {
            fprintf(stderr, "spar score: %s:%d: %s\n", base, lineno, why);
            status = 2;
        } else {
            printf("{\"line\":%d,\"logprob\":%.9g,\"tokens\":%d}\n", lineno, s_seq_logprob(m, tok, pl, pl + rl), rl);
            free(tok);
        }
        json_decref(j);
    }
    free(line);
    return status;
}

int lm_score_main(int argc, char **argv) {
    s_take_adapter(&argc, argv);
    if (argc >= 1 && !strcmp(argv[0], "--help")) {
        printf("usage: spar score MODEL FILE.jsonl\n\nFor each line {\"prompt\": ..., \"response\": ...} prints {\"line\": N, "
               "\"logprob\": log p(response + EOS | prompt),\n\"tokens\": T}; a line {\"prompt_ids\": [...], "
               "\"response_ids\": [...]} is scored as those ids (no EOS added).\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: spar score MODEL FILE.jsonl\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "spar score: cannot open %s\n", argv[1]);
        return 2;
    }
    lm_t *m = s_load("score", argv[0]);
    int status = m ? s_score_file(m, f, argv[1]) : 2;
    fclose(f);
    lm_free(&m);
    return status;
}

/* ---- logits ----------------------------------------------------------------------------------- */

int lm_logits_main(int argc, char **argv) {
    s_take_adapter(&argc, argv);
    if (argc != 1 || !strcmp(argv[0], "--help")) {
        FILE *o = argc == 1 ? stdout : stderr;
        fprintf(o, "usage: spar logits MODEL < IDS.jsonl\n\nFor each stdin line {\"ids\": [...]} prints {\"logits\": [[V "
                   "floats] for every position]}: the\nmodel's raw outputs, for checking it against another "
                   "implementation.\n");
        return argc == 1 ? 0 : 2;
    }
    lm_t *m = s_load("logits", argv[0]);
    if (!m) return 2;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, status = 0, V = lm_vocab(m);
    while (status == 0 && getline(&line, &cap, stdin) > 0) {
        lineno++;
        json_t *j = json_loads(line, 0, NULL);
        int *tok = NULL, T = j ? s_ids(json_object_get(j, "ids"), V, &tok) : -1;
        json_decref(j);
        if (T < 1 || T > lm_ctx(m) || lm_forward(m, tok, NULL, NULL, 1, T) != 0) {
            fprintf(stderr, "spar logits: line %d: needs {\"ids\": [1 to %d ids below %d]}\n", lineno, lm_ctx(m), V);
            status = 2;
        } else {
            int *at = xmalloc(sizeof(int) * (size_t)T);
            float *z = xmalloc(sizeof(float) * (size_t)T * V);
            for (int t = 0; t < T; t++) at[t] = t;
            lm_logits_at(m, at, T, z);
            fputs("{\"logits\":[", stdout);
            for (int t = 0; t < T; t++) {
                putchar(t ? ',' : '[');
                if (t) putchar('[');
                for (int v = 0; v < V; v++) printf(v ? ",%.9g" : "%.9g", z[(size_t)t * V + v]);
                putchar(']');
            }
            puts("]}");
            free(at), free(z);
        }
        free(tok);
    }
    free(line);
    lm_free(&m);
    return status;
}

/* ---- convert ---------------------------------------------------------------------------------- */

int lm_convert_main(int argc, char **argv) {
    s_take_adapter(&argc, argv); /* with --adapter, OUT is the adapters again, as spar writes PEFT's folder */
    const char *in = NULL, *out = NULL;
    int bf16 = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: spar convert MODEL OUT [--dtype f32|bf16]\n\nLoads MODEL (any folder spar reads) and writes "
                   "it to OUT in the Hugging Face layout\n(config.json, generation_config.json, model.safetensors, the "
                   "tokenizer files), F32 or BF16.\n");
            return 0;
        } else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && (!strcmp(argv[i + 1], "f32") || !strcmp(argv[i + 1], "bf16"))) {
            bf16 = !strcmp(argv[++i], "bf16");
        } else if (argv[i][0] != '-' && !in) in = argv[i];
        else if (argv[i][0] != '-' && !out) out = argv[i];
        else {
            fprintf(stderr, "spar convert: unexpected argument '%s' (spar convert --help)\n", argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "usage: spar convert MODEL OUT [--dtype f32|bf16]\n");
        return 2;
    }
    lm_t *m = s_load("convert", in);
    if (!m) return 2;
    char why[600];
    int rc = lm_save_dir(m, out, 0, bf16, why, sizeof why);
    if (rc != 0) fprintf(stderr, "spar convert: %s\n", why);
    else printf("spar convert: %s -> %s (%s): %s\n", in, out, bf16 ? "bf16" : "f32", lm_describe(m));
    lm_free(&m);
    return rc == 0 ? 0 : 1;
}

/* ---- merge ------------------------------------------------------------------------------------ */

int lm_merge_main(int argc, char **argv) {
    const char *base = NULL, *adapter = NULL, *out = NULL;
    int bf16 = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: spar merge --base MODEL --adapter ADAPTER_DIR --out OUT [--dtype f32|bf16]\n\nWrites OUT, a "
                   "Hugging Face folder of MODEL with the LoRA adapters of ADAPTER_DIR (PEFT's\nadapter_config.json "
                   "and adapter_model.safetensors) merged: W + (lora_alpha / r) B A.\n");
            return 0;
        } else if (!strcmp(argv[i], "--base") && i + 1 < argc) base = argv[++i];
        else if (!strcmp(argv[i], "--adapter") && i + 1 < argc) adapter = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "f32") || !strcmp(argv[i + 1], "bf16")))
            bf16 = !strcmp(argv[++i], "bf16");
        else {
            fprintf(stderr, "spar merge: unexpected argument '%s' (spar merge --help)\n", argv[i]);
            return 2;
        }
    }
    if (!base || !adapter || !out) {
        fprintf(stderr, "usage: spar merge --base MODEL --adapter ADAPTER_DIR --out OUT [--dtype f32|bf16]\n");
        return 2;
    }
    lm_t *m = s_load_with("merge", base, adapter);
    if (!m) return 2;
    lm_t *merged = lm_lora_merge(m);
    char why[600];
    int rc = lm_save_dir(merged, out, 0, bf16, why, sizeof why);
    if (rc != 0) fprintf(stderr, "spar merge: %s\n", why);
    else printf("spar merge: %s + %s -> %s (%s): %s\n", base, adapter, out, bf16 ? "bf16" : "f32", lm_describe(m));
    lm_free(&merged);
    lm_free(&m);
    return rc == 0 ? 0 : 1;
}
