/* TEMPORARY until the chat-template branch lands (deleted at its merge). */
#include "common/chat.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int chat_parse(const char *json, size_t len, chat_t *out, char *why, size_t wl) {
    memset(out, 0, sizeof *out);
    json_t *a = json_loadb(json, len, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        snprintf(why, wl, "not a conversation");
        return -1;
    }
    out->msgs = xcalloc(json_array_size(a) + 1, sizeof *out->msgs);
    size_t i;
    json_t *m;
    json_array_foreach(a, i, m) {
        const char *r = json_string_value(json_object_get(m, "role")), *c = json_string_value(json_object_get(m, "content"));
        if (!r || !c) {
            json_decref(a);
            chat_free(out);
            snprintf(why, wl, "message %zu: not {role, content}", i);
            return -1;
        }
        out->msgs[out->n++] = (chat_msg_t){xstrdup(r), xstrdup(c)};
    }
    json_decref(a);
    return 0;
}

void chat_free(chat_t *c) {
    for (int i = 0; i < c->n; i++) free(c->msgs[i].role), free(c->msgs[i].content);
    free(c->msgs);
    memset(c, 0, sizeof *c);
}

chat_template_t *chat_template_from_config(const char *json, size_t len, const char *origin, char *why, size_t wl) {
    (void)json, (void)len, (void)origin;
    snprintf(why, wl, "chat templates not built yet");
    return NULL;
}
chat_template_t *chat_template_new(const char *source, const char *bos, const char *eos, char *why, size_t wl) {
    (void)source, (void)bos, (void)eos;
    snprintf(why, wl, "chat templates not built yet");
    return NULL;
}
char *chat_template_render(const chat_template_t *t, const chat_t *c, int agp, char *why, size_t wl) {
    (void)t, (void)c, (void)agp;
    snprintf(why, wl, "chat templates not built yet");
    return NULL;
}
void chat_template_free(chat_template_t **t) { (void)t; }
