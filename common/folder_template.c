/* folder_template — see folder_template.h. Whether a template is there is decided here (the key
 * present and not null), so that chat_template_from_config's refusal always means a template
 * that exists but cannot be run. */
#include "common/folder_template.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int folder_chat_template(const char *dir, chat_template_t **out, char *why, size_t wl) {
    *out = NULL;
    char *path = xasprintf("%s/tokenizer_config.json", dir);
    size_t len;
    char *text = util_read_file(path, &len);
    int rc = 0;
    if (!text) {
        if (errno != ENOENT) rc = util_refuse(why, wl, "%s: cannot read: %s", path, strerror(errno));
    } else {
        json_error_t e;
        json_t *j = json_loadb(text, len, 0, &e);
        json_t *t = json_object_get(j, "chat_template");
        if (!j) rc = util_refuse(why, wl, "%s: line %d: %s", path, e.line, e.text);
        else if (t && !json_is_null(t)) rc = (*out = chat_template_from_config(text, len, path, why, wl)) ? 1 : -1;
        json_decref(j);
    }
    free(text);
    free(path);
    return rc;
}
