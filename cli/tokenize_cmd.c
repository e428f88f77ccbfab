/* tokenize_cmd — see tokenize_cmd.h. */
#include "cli/tokenize_cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/hf_tokenizer.h"

#define USAGE "usage: spar tokenize MODEL_DIR [--json] [--no-special] [--decode] [--skip-special]\n"

static void s_help(void) {
    printf(USAGE "\nThe model folder's own tokenizer (tokenizer.json, or vocab.json + merges.txt) on stdin,\n"
                 "one line at a time.\n\n"
                 "  (default)        each line is a text; prints its ids as a JSON array on one line\n"
                 "  --json           each input line is a JSON string (a text may then hold newlines);\n"
                 "                   with --decode the text is printed as a JSON string\n"
                 "  --no-special     encode without the post-processor's special tokens (BOS, ...)\n"
                 "  --decode         each line is a JSON array of ids; prints the decoded text\n"
                 "  --skip-special   decode without the special tokens\n");
}

static int s_encode_line(const hf_tokenizer_t *t, const char *text, size_t n, int add_special, long lineno) {
    char why[256];
    int32_t *ids;
    int k = hf_tokenizer_encode(t, text, n, add_special, &ids, why, sizeof why);
    if (k < 0) {
        fprintf(stderr, "spar tokenize: line %ld: %s\n", lineno, why);
        return -1;
    }
    putchar('[');
    for (int i = 0; i < k; i++) printf(i ? ",%d" : "%d", ids[i]);
    fputs("]\n", stdout);
    free(ids);
    return 0;
}

static int s_decode_line(const hf_tokenizer_t *t, const char *line, size_t n, int skip_special, int as_json,
                         long lineno) {
    json_error_t e;
    json_t *a = json_loadb(line, n, JSON_DECODE_ANY, &e);
    if (!json_is_array(a)) {
        fprintf(stderr, "spar tokenize: line %ld: not a JSON array of ids\n", lineno);
        json_decref(a);
        return -1;
    }
    size_t m = json_array_size(a), i;
    int32_t *ids = malloc((m + 1) * sizeof *ids);
    json_t *x;
    json_array_foreach(a, i, x) {
        if (!json_is_integer(x) || json_integer_value(x) < INT32_MIN || json_integer_value(x) > INT32_MAX) {
            fprintf(stderr, "spar tokenize: line %ld: id %zu is not an integer\n", lineno, i + 1);
            free(ids);
            json_decref(a);
            return -1;
        }
        ids[i] = (int32_t)json_integer_value(x);
    }
    json_decref(a);
    size_t len;
    char *text = hf_tokenizer_decode(t, ids, (int)m, skip_special, &len);
    free(ids);
    if (as_json) {
        json_t *s = json_stringn(text, len);
        char *out = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        if (out) puts(out);
        free(out);
        json_decref(s);
    } else {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    free(text);
    return 0;
}

int tokenize_main(int argc, char **argv) {
    const char *dir = NULL;
    int as_json = 0, no_special = 0, decode = 0, skip_special = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_help();
            return 0;
        } else if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (!strcmp(argv[i], "--no-special")) no_special = 1;
        else if (!strcmp(argv[i], "--decode")) decode = 1;
        else if (!strcmp(argv[i], "--skip-special")) skip_special = 1;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "spar tokenize: unexpected argument '%s'\n" USAGE, argv[i]);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, USAGE);
        return 2;
    }
    if ((decode && no_special) || (!decode && skip_special)) {
        fprintf(stderr, "spar tokenize: %s\n" USAGE,
                decode ? "--no-special is for encoding" : "--skip-special is for decoding (--decode)");
        return 2;
    }
    char why[512];
    hf_tokenizer_t *t = hf_tokenizer_load(dir, why, sizeof why);
    if (!t) {
        fprintf(stderr, "spar tokenize: %s\n", why);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int st = 0;
    while (!st && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
        if (decode) {
            st = s_decode_line(t, line, (size_t)n, skip_special, as_json, lineno) ? 1 : 0;
        } else if (as_json) {
            json_error_t e;
            json_t *s = json_loadb(line, (size_t)n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            if (!json_is_string(s)) {
                fprintf(stderr, "spar tokenize: line %ld: not a JSON string\n", lineno);
                st = 1;
            } else {
                st = s_encode_line(t, json_string_value(s), json_string_length(s), !no_special, lineno) ? 1 : 0;
            }
            json_decref(s);
        } else {
            st = s_encode_line(t, line, (size_t)n, !no_special, lineno) ? 1 : 0;
        }
    }
    free(line);
    hf_tokenizer_free(&t);
    if (fflush(stdout) != 0) return 1;
    return st;
}
