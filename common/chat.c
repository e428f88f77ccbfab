/* chat — conversations: their JSON form (chat_parse, chat_to_json) and the one-message case. */
#include "common/chat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int chat_parse(const char *json, size_t len, chat_t *out, char *why, size_t whylen) {
    memset(out, 0, sizeof *out);
    json_error_t e;
    json_t *a = json_loadb(json, len, JSON_DECODE_INT_AS_REAL, &e); /* other keys' numbers may be big */
    if (!a) {
        snprintf(why, whylen, "conversation: not JSON: %s (line %d)", e.text, e.line);
        return -1;
    }
    if (!json_is_array(a)) {
        snprintf(why, whylen, "conversation: a JSON array of {\"role\", \"content\"} objects was expected");
        json_decref(a);
        return -1;
    }
    size_t n = json_array_size(a), i;
    out->msgs = xcalloc(n ? n : 1, sizeof *out->msgs);
    json_t *m;
    json_array_foreach(a, i, m) {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_object(m) || !json_is_string(role) || !json_is_string(content)) {
            snprintf(why, whylen, "conversation: message %zu is not an object with string \"role\" and \"content\"",
                     i + 1);
            json_decref(a);
            chat_free(out);
            return -1;
        }
        if (strlen(json_string_value(role)) != json_string_length(role) ||
            strlen(json_string_value(content)) != json_string_length(content)) {
            snprintf(why, whylen, "conversation: message %zu holds a NUL character", i + 1);
            json_decref(a);
            chat_free(out);
            return -1;
        }
        out->msgs[out->n].role = xstrdup(json_string_value(role));
        out->msgs[out->n].content = xstrdup(json_string_value(content));
        out->n++;
    }
    json_decref(a);
    return 0;
}

char *chat_to_json(const chat_t *c) {
    json_t *a = json_array();
    for (int i = 0; i < c->n; i++) { /* unchecked here: json_dumps refuses what is not UTF-8 */
        json_t *m = json_object();
        json_object_set_new(m, "role", json_stringn_nocheck(c->msgs[i].role, strlen(c->msgs[i].role)));
        json_object_set_new(m, "content", json_stringn_nocheck(c->msgs[i].content, strlen(c->msgs[i].content)));
        json_array_append_new(a, m);
    }
    char *s = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(a);
    return s;
}

void chat_single_user(chat_t *c, const char *text) {
    c->msgs = xcalloc(1, sizeof *c->msgs);
    c->msgs[0].role = xstrdup("user");
    c->msgs[0].content = xstrdup(text);
    c->n = 1;
}

void chat_free(chat_t *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    free(c->msgs);
    c->msgs = NULL;
    c->n = 0;
}
