/* chat_template — a model's chat template (tokenizer_config.json's "chat_template") run over a
 * conversation with the variables transformers' apply_chat_template gives it: messages,
 * add_generation_prompt, bos_token, eos_token, tools and documents (None unless given), plus any
 * the caller adds (a date_string, tools). The Jinja itself is common/jinja_*.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/chat.h"
#include "common/jinja.h"
#include "common/util.h"

struct chat_template {
    jinja_program_t *prog;
    char *bos, *eos;
};

chat_template_t *chat_template_new(const char *source, const char *bos_token, const char *eos_token, char *why,
                                   size_t whylen) {
    jinja_program_t *p = jinja_parse(source, strlen(source), why, whylen);
    if (!p) return NULL;
    chat_template_t *t = xcalloc(1, sizeof *t);
    t->prog = p;
    t->bos = xstrdup(bos_token ? bos_token : "");
    t->eos = xstrdup(eos_token ? eos_token : "");
    return t;
}

/* A special token of the config: a string, or an AddedToken object's "content"; absent: "". */
static const char *s_token(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_is_string(v) ? json_string_value(v) : "";
}

chat_template_t *chat_template_from_config(const char *json, size_t len, const char *origin, char *why, size_t whylen) {
    json_error_t e;
    json_t *cfg = json_loadb(json, len, JSON_DECODE_INT_AS_REAL, &e);
    if (!json_is_object(cfg)) {
        snprintf(why, whylen, "%s: %s", origin, cfg ? "not a JSON object" : e.text);
        json_decref(cfg);
        return NULL;
    }
    json_t *ct = json_object_get(cfg, "chat_template");
    const char *source = NULL;
    if (json_is_string(ct)) {
        source = json_string_value(ct);
    } else if (json_is_array(ct)) {
        size_t i;
        json_t *item;
        json_array_foreach(ct, i, item) {
            json_t *name = json_object_get(item, "name"), *tpl = json_object_get(item, "template");
            if (!json_is_string(name) || !json_is_string(tpl)) {
                snprintf(why, whylen, "%s: chat_template entry %zu is not a {\"name\", \"template\"} object", origin, i + 1);
                json_decref(cfg);
                return NULL;
            }
            if (!strcmp(json_string_value(name), "default")) source = json_string_value(tpl);
        }
        if (!source) {
            snprintf(why, whylen, "%s: chat_template has no template named \"default\"", origin);
            json_decref(cfg);
            return NULL;
        }
    } else {
        snprintf(why, whylen, "%s: no chat_template (give one with a template file)", origin);
        json_decref(cfg);
        return NULL;
    }
    char inner[400];
    chat_template_t *t = chat_template_new(source, s_token(cfg, "bos_token"), s_token(cfg, "eos_token"), inner, sizeof inner);
    if (!t) snprintf(why, whylen, "%s: chat_template: %s", origin, inner);
    json_decref(cfg);
    return t;
}

char *chat_template_render_vars(const chat_template_t *t, const chat_t *c, int add_generation_prompt,
                                const char *vars_json, char *why, size_t whylen) {
    jinja_vars_t *v = jinja_vars_new();
    jinja_vars_set_none(v, "tools");
    jinja_vars_set_none(v, "documents");
    char *out = NULL;
    if (vars_json && jinja_vars_merge_json_object(v, vars_json, strlen(vars_json), why, whylen)) goto done;
    char *msgs = chat_to_json(c);
    if (!msgs) {
        snprintf(why, whylen, "the conversation holds text that is not UTF-8");
        goto done;
    }
    int st = jinja_vars_set_json(v, "messages", msgs, strlen(msgs), why, whylen);
    free(msgs);
    if (st) goto done;
    jinja_vars_set_bool(v, "add_generation_prompt", add_generation_prompt);
    jinja_vars_set_string(v, "bos_token", t->bos);
    jinja_vars_set_string(v, "eos_token", t->eos);
    out = jinja_render(t->prog, v, NULL, why, whylen);
done:
    jinja_vars_free(&v);
    return out;
}

char *chat_template_render(const chat_template_t *t, const chat_t *c, int add_generation_prompt, char *why,
                           size_t whylen) {
    return chat_template_render_vars(t, c, add_generation_prompt, NULL, why, whylen);
}

const char *chat_template_bos(const chat_template_t *t) { return t->bos; }
const char *chat_template_eos(const chat_template_t *t) { return t->eos; }

void chat_template_free(chat_template_t **t) {
    if (!*t) return;
    jinja_program_free(&(*t)->prog);
    free((*t)->bos);
    free((*t)->eos);
    free(*t);
    *t = NULL;
}
