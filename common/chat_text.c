/* chat_text — see chat_text.h. */
#include "common/chat_text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

char *chat_readable_text(const chat_t *c) {
    if (c->n == 1 && !strcmp(c->msgs[0].role, "user")) return xstrdup(c->msgs[0].content);
    size_t cap = 1;
    for (int i = 0; i < c->n; i++) cap += strlen(c->msgs[i].role) + strlen(c->msgs[i].content) + 12;
    char *s = xmalloc(cap), *p = s;
    *p = '\0';
    for (int i = 0; i < c->n; i++) {
        const char *role = c->msgs[i].role[0] ? c->msgs[i].role : "message";
        p += sprintf(p, "%s%c%s: %s", i ? "\n\n" : "", toupper((unsigned char)role[0]), role[0] ? role + 1 : "",
                     c->msgs[i].content);
    }
    return s;
}
