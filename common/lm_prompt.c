/* lm_prompt — see lm_prompt.h. */
#include "common/lm_prompt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/chat.h"
#include "common/util.h"

typedef enum { PROMPT_TEXT, PROMPT_CHAT, PROMPT_NONE, PROMPT_JINJA } prompt_mode_t;
static const char *const s_names[] = {"text", "chat", "none", "jinja"};

struct lm_prompt {
    prompt_mode_t mode;
    char *source; /* jinja: the template's text */
    chat_template_t *tmpl;
};

/* The BOS and EOS strings of a tokenizer_config.json: strings or {"content": ...} objects. */
static const char *s_token(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_is_string(v) ? json_string_value(v) : "";
}

static lm_prompt_t *s_build(prompt_mode_t mode, const char *source, const hf_file_t *files, int n_files, char *why,
                            size_t wl) {
    const hf_file_t *tc = hf_file_find(files, n_files, "tokenizer_config.json");
    chat_template_t *t = NULL;
    if (mode == PROMPT_CHAT) {
        if (!tc) {
            snprintf(why, wl, "the model has no tokenizer_config.json, so no chat template (task.template none sends "
                              "raw text; or give a template file)");
            return NULL;
        }
        if (!(t = chat_template_from_config(tc->data, tc->len, "tokenizer_config.json", why, wl))) return NULL;
    } else if (mode == PROMPT_JINJA) {
        json_t *cfg = tc ? json_loadb(tc->data, tc->len, 0, NULL) : NULL;
        t = chat_template_new(source, s_token(cfg, "bos_token"), s_token(cfg, "eos_token"), why, wl);
        json_decref(cfg);
        if (!t) return NULL;
    }
    lm_prompt_t *p = xcalloc(1, sizeof *p);
    p->mode = mode;
    p->source = mode == PROMPT_JINJA ? xstrdup(source) : NULL;
    p->tmpl = t;
    return p;
}

lm_prompt_t *lm_prompt_new(const char *format, const char *source, const hf_file_t *files, int n_files, char *why,
                           size_t wl) {
    if (!strcmp(format, "text")) return s_build(PROMPT_TEXT, NULL, files, n_files, why, wl);
    if (!strcmp(format, "auto")) return s_build(PROMPT_CHAT, NULL, files, n_files, why, wl);
    if (!strcmp(format, "none")) return s_build(PROMPT_NONE, NULL, files, n_files, why, wl);
    if (!strcmp(format, "jinja") && source) return s_build(PROMPT_JINJA, source, files, n_files, why, wl);
    snprintf(why, wl, "prompt format '%s' is not text, auto, none or jinja", format);
    return NULL;
}

lm_prompt_t *lm_prompt_from_meta(const char *format, const char *chat_template, const hf_file_t *files, int n_files,
                                 char *why, size_t wl) {
    if (!format) format = "text";
    if (!strcmp(format, "chat")) format = "auto";
    return lm_prompt_new(format, chat_template, files, n_files, why, wl);
}

lm_prompt_t *lm_prompt_copy(const lm_prompt_t *p, const hf_file_t *files, int n_files) {
    char why[256]; /* p was built from the same files: it builds again */
    return s_build(p->mode, p->source, files, n_files, why, sizeof why);
}

void lm_prompt_free(lm_prompt_t **pp) {
    if (!pp || !*pp) return;
    chat_template_free(&(*pp)->tmpl);
    free((*pp)->source);
    free(*pp);
    *pp = NULL;
}

const char *lm_prompt_name(const lm_prompt_t *p) { return s_names[p->mode]; }

int lm_prompt_text(const lm_prompt_t *p, const char *prompt, char **text, int *add_special, char *why, size_t wl) {
    *text = NULL;
    *add_special = 1;
    if (p->mode == PROMPT_TEXT) {
        *text = xstrdup(prompt);
        return 0;
    }
    chat_t c;
    if (chat_parse(prompt, strlen(prompt), &c, why, wl) != 0) return -1;
    int rc = 0;
    if (p->mode == PROMPT_NONE) {
        if (c.n != 1 || strcmp(c.msgs[0].role, "user") != 0) {
            snprintf(why, wl, "task.template none takes a single user turn; this conversation has %d message(s)", c.n);
            rc = -1;
        } else {
            *text = xstrdup(c.msgs[0].content);
        }
    } else {
        *text = chat_template_render(p->tmpl, &c, 1, why, wl);
        *add_special = 0; /* the template writes the special tokens itself */
        rc = *text ? 0 : -1;
    }
    chat_free(&c);
    return rc;
}

void lm_prompt_meta(const lm_prompt_t *p, const char **keys, const char **values, int *n) {
    *n = 0;
    if (p->mode == PROMPT_TEXT) return;
    keys[*n] = "prompt_format", values[(*n)++] = s_names[p->mode];
    if (p->mode == PROMPT_JINJA) keys[*n] = "chat_template", values[(*n)++] = p->source;
}
