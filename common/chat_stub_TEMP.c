/* chat_stub_TEMP — TEMPORARY, for the judges branch only: a minimal common/chat.h so the judges
 * build and test before the real common/chat.c (Jinja chat templates) lands. DELETE THIS FILE
 * when merging the real chat.c (both define the same functions). Its templates ignore their
 * Jinja source and always render ChatML:
 *     <|im_start|>ROLE\nCONTENT<|im_end|>\n ... [<|im_start|>assistant\n]
 * which is what the judges' tests expect of the templates they write. */
#include "common/chat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct chat_template {
    char *bos, *eos;
};

int chat_parse(const char *json, size_t len, chat_t *out, char *why, size_t wl) {
    memset(out, 0, sizeof *out);
    json_error_t e;
    json_t *j = json_loadb(json, len, 0, &e);
    if (!json_is_array(j)) {
        json_decref(j);
        snprintf(why, wl, "a conversation is a JSON array of {\"role\", \"content\"}");
        return -1;
    }
    out->msgs = xcalloc(json_array_size(j) + 1, sizeof *out->msgs);
    size_t i;
    json_t *m;
    json_array_foreach(j, i, m) {
        const char *role = json_string_value(json_object_get(m, "role")),
                   *content = json_string_value(json_object_get(m, "content"));
        if (!role || !content) {
            snprintf(why, wl, "message %zu has no string role and content", i);
            json_decref(j);
            chat_free(out);
            return -1;
        }
        out->msgs[out->n++] = (chat_msg_t){xstrdup(role), xstrdup(content)};
    }
    json_decref(j);
    return 0;
}

char *chat_to_json(const chat_t *c) {
    json_t *a = json_array();
    for (int i = 0; i < c->n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "role", c->msgs[i].role, "content", c->msgs[i].content));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

void chat_single_user(chat_t *c, const char *text) {
    c->msgs = xcalloc(1, sizeof *c->msgs);
    c->msgs[0] = (chat_msg_t){xstrdup("user"), xstrdup(text)};
    c->n = 1;
}

void chat_free(chat_t *c) {
    for (int i = 0; i < c->n; i++) free(c->msgs[i].role), free(c->msgs[i].content);
    free(c->msgs);
    memset(c, 0, sizeof *c);
}

static const char *s_token(json_t *v) {
    return json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "content"));
}

chat_template_t *chat_template_from_config(const char *json, size_t len, const char *origin, char *why, size_t wl) {
    json_t *j = json_loadb(json, len, 0, NULL);
    json_t *t = json_object_get(j, "chat_template");
    chat_template_t *out = NULL;
    if (!t || json_is_null(t)) snprintf(why, wl, "%s: no chat_template", origin);
    else {
        const char *b = s_token(json_object_get(j, "bos_token")), *e = s_token(json_object_get(j, "eos_token"));
        out = chat_template_new("", b ? b : "", e ? e : "", why, wl);
    }
    json_decref(j);
    return out;
}

chat_template_t *chat_template_new(const char *source, const char *bos, const char *eos, char *why, size_t wl) {
    (void)source, (void)why, (void)wl;
    chat_template_t *t = xcalloc(1, sizeof *t);
    t->bos = xstrdup(bos);
    t->eos = xstrdup(eos);
    return t;
}

char *chat_template_render(const chat_template_t *t, const chat_t *c, int add_generation_prompt, char *why, size_t wl) {
    (void)t, (void)why, (void)wl;
    size_t cap = 64;
    for (int i = 0; i < c->n; i++) cap += strlen(c->msgs[i].role) + strlen(c->msgs[i].content) + 32;
    char *s = xmalloc(cap), *p = s;
    for (int i = 0; i < c->n; i++)
        p += sprintf(p, "<|im_start|>%s\n%s<|im_end|>\n", c->msgs[i].role, c->msgs[i].content);
    if (add_generation_prompt) p += sprintf(p, "<|im_start|>assistant\n");
    *p = '\0';
    return s;
}

void chat_template_free(chat_template_t **t) {
    if (!t || !*t) return;
    free((*t)->bos), free((*t)->eos);
    free(*t);
    *t = NULL;
}
