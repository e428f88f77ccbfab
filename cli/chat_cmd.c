/* chat_cmd — see chat_cmd.h. */
#include "cli/chat_cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/chat.h"
#include "common/hf_tokenizer.h"
#include "common/util.h"

#define USAGE                                                                                                   \
    "usage: spar chat --model DIR [--template FILE.jinja] [--no-generation-prompt] [--ids] [--vars JSON]\n" \
    "                 [--jsonl] [CONV.json]\n"

static void s_help(void) {
    printf(USAGE "\nRenders a conversation ([{\"role\": ..., \"content\": ...}, ...], from CONV.json or stdin)\n"
                 "with the model folder's chat template (tokenizer_config.json), as transformers'\n"
                 "apply_chat_template does, and prints the text exactly.\n\n"
                 "  --template FILE          this Jinja template instead of the folder's\n"
                 "  --no-generation-prompt   add_generation_prompt=False (default True)\n"
                 "  --ids                    print the text's token ids (no special tokens added)\n"
                 "  --vars JSON              more variables, a JSON object: '{\"date_string\": \"26 Jul 2024\"}'\n"
                 "  --jsonl                  one case a line on stdin: a conversation, or {\"messages\": [...],\n"
                 "                           \"add_generation_prompt\": bool, \"vars\": {...}}; one JSON line out\n"
                 "                           each: {\"text\": ..., \"ids\": [...]} or {\"error\": ...}\n");
}

static json_t *s_ids(const hf_tokenizer_t *tok, const char *text, char *why, size_t whylen) {
    int32_t *ids;
    int k = hf_tokenizer_encode(tok, text, strlen(text), 0, &ids, why, whylen);
    if (k < 0) return NULL;
    json_t *a = json_array();
    for (int i = 0; i < k; i++) json_array_append_new(a, json_integer(ids[i]));
    free(ids);
    return a;
}

/* One --jsonl line: its result object. */
static json_t *s_case(const chat_template_t *t, const hf_tokenizer_t *tok, const char *line, size_t n, int agp,
                      const char *vars) {
    char why[1024];
    json_error_t e;
    json_t *in = json_loadb(line, n, 0, &e), *out = json_object();
    json_t *msgs = json_is_object(in) ? json_object_get(in, "messages") : in;
    json_t *g = json_is_object(in) ? json_object_get(in, "add_generation_prompt") : NULL;
    json_t *v = json_is_object(in) ? json_object_get(in, "vars") : NULL;
    if (json_is_boolean(g)) agp = json_is_true(g);
    char *msgs_s = msgs ? json_dumps(msgs, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *vars_s = json_is_object(v) ? json_dumps(v, JSON_COMPACT) : NULL;
    chat_t c = {0};
    if (!in) {
        json_object_set_new(out, "error", json_sprintf("not JSON: %s", e.text));
    } else if (!msgs_s || chat_parse(msgs_s, strlen(msgs_s), &c, why, sizeof why)) {
        json_object_set_new(out, "error", json_string(msgs_s ? why : "no messages"));
    } else {
        char *text = chat_template_render_vars(t, &c, agp, vars_s ? vars_s : vars, why, sizeof why);
        if (!text) {
            json_object_set_new(out, "error", json_string(why));
        } else {
            json_object_set_new(out, "text", json_string(text));
            if (tok) {
                json_t *ids = s_ids(tok, text, why, sizeof why);
                if (ids) json_object_set_new(out, "ids", ids);
                else json_object_set_new(out, "error", json_string(why));
            }
            free(text);
        }
    }
    chat_free(&c);
    free(msgs_s);
    free(vars_s);
    json_decref(in);
    return out;
}

int chat_main(int argc, char **argv) {
    const char *dir = NULL, *tpl = NULL, *vars = NULL, *conv = NULL;
    int agp = 1, ids = 0, jsonl = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_help();
            return 0;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--template") && i + 1 < argc) tpl = argv[++i];
        else if (!strcmp(argv[i], "--vars") && i + 1 < argc) vars = argv[++i];
        else if (!strcmp(argv[i], "--no-generation-prompt")) agp = 0;
        else if (!strcmp(argv[i], "--ids")) ids = 1;
        else if (!strcmp(argv[i], "--jsonl")) jsonl = 1;
        else if (argv[i][0] != '-' && !conv) conv = argv[i];
        else {
            fprintf(stderr, "spar chat: unexpected argument '%s'\n" USAGE, argv[i]);
            return 2;
        }
    }
    if (!dir && !tpl) {
        fprintf(stderr, "spar chat: --model DIR (or --template FILE) is needed\n" USAGE);
        return 2;
    }
    if (ids && !dir) {
        fprintf(stderr, "spar chat: --ids needs --model DIR (its tokenizer)\n" USAGE);
        return 2;
    }
    if (jsonl && conv) {
        fprintf(stderr, "spar chat: --jsonl reads stdin, not a file\n" USAGE);
        return 2;
    }
    char why[1024];
    chat_template_t *t = NULL;
    char *cfg_path = dir ? xasprintf("%s/tokenizer_config.json", dir) : NULL;
    size_t cfg_len = 0;
    char *cfg = cfg_path ? util_read_file(cfg_path, &cfg_len) : NULL;
    if (tpl) {
        size_t n;
        char *src = util_read_file(tpl, &n);
        if (!src) {
            fprintf(stderr, "spar chat: cannot read %s\n", tpl);
            free(cfg_path), free(cfg);
            return 2;
        }
        const char *bos = "", *eos = "";
        json_error_t e;
        json_t *j = cfg ? json_loadb(cfg, cfg_len, JSON_DECODE_INT_AS_REAL, &e) : NULL;
        json_t *b = json_object_get(j, "bos_token"), *s = json_object_get(j, "eos_token");
        if (json_is_object(b)) b = json_object_get(b, "content");
        if (json_is_object(s)) s = json_object_get(s, "content");
        if (json_is_string(b)) bos = json_string_value(b);
        if (json_is_string(s)) eos = json_string_value(s);
        char inner[900];
        t = chat_template_new(src, bos, eos, inner, sizeof inner);
        if (!t) snprintf(why, sizeof why, "%s: %s", tpl, inner);
        json_decref(j);
        free(src);
    } else if (!cfg) {
        snprintf(why, sizeof why, "cannot read %s", cfg_path);
    } else {
        t = chat_template_from_config(cfg, cfg_len, cfg_path, why, sizeof why);
    }
    free(cfg);
    free(cfg_path);
    if (!t) {
        fprintf(stderr, "spar chat: %s\n", why);
        return 2;
    }
    hf_tokenizer_t *tok = NULL;
    if (ids && !(tok = hf_tokenizer_load(dir, why, sizeof why))) {
        fprintf(stderr, "spar chat: %s\n", why);
        chat_template_free(&t);
        return 2;
    }
    int st = 0;
    if (jsonl) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
            if (!n) continue;
            json_t *out = s_case(t, tok, line, (size_t)n, agp, vars);
            char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
            puts(s);
            free(s);
            json_decref(out);
        }
        free(line);
    } else {
        FILE *f = conv ? fopen(conv, "rb") : stdin;
        if (!f) {
            fprintf(stderr, "spar chat: cannot open %s\n", conv);
            st = 2;
        } else {
            size_t len = 0, cap = 65536;
            char *buf = xmalloc(cap);
            size_t got;
            while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
                len += got;
                if (len == cap) buf = xrealloc(buf, cap *= 2);
            }
            if (conv) fclose(f);
            chat_t c = {0};
            if (chat_parse(buf, len, &c, why, sizeof why)) {
                fprintf(stderr, "spar chat: %s\n", why);
                st = 2;
            } else {
                char *text = chat_template_render_vars(t, &c, agp, vars, why, sizeof why);
                if (!text) {
                    fprintf(stderr, "spar chat: the template refuses the conversation: %s\n", why);
                    st = 1;
                } else if (tok) {
                    json_t *a = s_ids(tok, text, why, sizeof why);
                    if (!a) {
                        fprintf(stderr, "spar chat: %s\n", why);
                        st = 2;
                    } else {
                        char *s = json_dumps(a, JSON_COMPACT);
                        puts(s);
                        free(s);
                        json_decref(a);
                    }
                } else {
                    fwrite(text, 1, strlen(text), stdout);
                }
                free(text);
            }
            chat_free(&c);
            free(buf);
        }
    }
    hf_tokenizer_free(&tok);
    chat_template_free(&t);
    if (fflush(stdout) != 0) return 2;
    return st;
}
