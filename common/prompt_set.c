/* prompt_set — see prompt_set.h. The file is read whole and checked line by line (a bad line
 * refuses the file: a run never trains on half of what its user meant); the split and every
 * pass's order are permutations drawn from the run seed. */
#include "common/prompt_set.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/util.h"

typedef struct {
    char *json; /* the conversation */
    char *id;
    int line;
} prompt_t;

struct prompt_set {
    prompt_t *all;
    int n, n_eval, duplicates;
    int *eval, *train; /* indices into all */
    int n_train;
    uint64_t seed;
    char digest[2 * DIGEST_BYTES + 1];
    /* the order of the pass last asked for (passes are asked in turn, so one is kept) */
    int *order;
    int64_t order_pass;
};

static int s_bad(char *why, size_t wl, const char *path, int line, const char *what) {
    snprintf(why, wl, "%s:%d: %s", path, line, what);
    return -1;
}

/* The conversation of a line's object, as compact JSON (malloc'd into *out). */
static int s_conversation(json_t *o, char **out, char *what, size_t wl) {
    json_t *prompt = json_object_get(o, "prompt"), *messages = json_object_get(o, "messages");
    if (prompt && messages) return snprintf(what, wl, "has both \"prompt\" and \"messages\"; give one"), -1;
    json_t *conv;
    if (prompt) {
        if (!json_is_string(prompt)) return snprintf(what, wl, "\"prompt\" must be a string"), -1;
        conv = json_pack("[{s:s,s:O}]", "role", "user", "content", prompt);
    } else if (messages) {
        if (!json_is_array(messages) || json_array_size(messages) == 0)
            return snprintf(what, wl, "\"messages\" must be a non-empty list of {\"role\", \"content\"}"), -1;
        conv = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(messages, i, m) {
            json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
            const char *r = json_string_value(role);
            if (!json_is_object(m) || !r || !json_is_string(content)) {
                json_decref(conv);
                return snprintf(what, wl, "message %zu: needs \"role\" and \"content\", both strings", i + 1), -1;
            }
            if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant")) {
                json_decref(conv);
                return snprintf(what, wl, "message %zu: role '%.40s' is not system, user or assistant", i + 1, r), -1;
            }
            json_array_append_new(conv, json_pack("{s:O,s:O}", "role", role, "content", content));
        }
        const char *last = json_string_value(json_object_get(json_array_get(conv, json_array_size(conv) - 1), "role"));
        if (strcmp(last, "user") != 0) {
            json_decref(conv);
            return snprintf(what, wl, "the last message is the %s's; the policy answers a user turn", last), -1;
        }
    } else {
        return snprintf(what, wl, "needs \"prompt\" (text) or \"messages\" (a conversation)"), -1;
    }
    *out = json_dumps(conv, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(conv);
    if (strlen(*out) > PROMPT_MAX_BYTES) {
        free(*out);
        return snprintf(what, wl, "conversation longer than %d bytes", PROMPT_MAX_BYTES), -1;
    }
    return 0;
}

static char *s_id(json_t *o, int line, char *what, size_t wl) {
    json_t *id = json_object_get(o, "id");
    if (!id) return xasprintf("line-%d", line);
    if (json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) <= 256)
        return xstrdup(json_string_value(id));
    if (json_is_integer(id)) return xasprintf("%lld", (long long)json_integer_value(id));
    snprintf(what, wl, "\"id\" must be a string of 1 to 256 bytes or an integer");
    return NULL;
}

/* Parses every line into s->all. */
static int s_read_lines(prompt_set_t *s, const char *path, const char *text, char *why, size_t wl) {
    int cap = 0, line = 0, rc = 0;
    for (const char *p = text; *p && rc == 0; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *start = p;
        p += len + (nl ? 1 : 0);
        size_t k = 0;
        while (k < len && (start[k] == ' ' || start[k] == '\t' || start[k] == '\r')) k++;
        if (k == len) continue; /* a blank line */
        json_error_t err;
        json_t *o = json_loadb(start, len, JSON_REJECT_DUPLICATES, &err);
        char what[300];
        if (!o || !json_is_object(o)) {
            snprintf(what, sizeof what, o ? "not a JSON object" : "not JSON: %s (column %d)", err.text, err.column);
            json_decref(o);
            rc = s_bad(why, wl, path, line + 1, what);
            break;
        }
        char *conv = NULL, *id = s_id(o, line + 1, what, sizeof what);
        if (!id || s_conversation(o, &conv, what, sizeof what) != 0) {
            free(id);
            json_decref(o);
            rc = s_bad(why, wl, path, line + 1, what);
            break;
        }
        json_decref(o);
        if (s->n == cap) s->all = xrealloc(s->all, sizeof *s->all * (size_t)(cap = cap ? 2 * cap : 256));
        s->all[s->n++] = (prompt_t){conv, id, line + 1};
    }
    if (rc == 0 && s->n == 0) rc = s_bad(why, wl, path, line, "no prompts in the file");
    return rc;
}

/* Sorting prompts by a field, then by line (qsort is not stable). */
static int s_by_id(const void *a, const void *b) {
    const prompt_t *x = *(prompt_t *const *)a, *y = *(prompt_t *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->line - y->line;
}
static int s_by_json(const void *a, const void *b) {
    const prompt_t *x = *(prompt_t *const *)a, *y = *(prompt_t *const *)b;
    int c = strcmp(x->json, y->json);
    return c ? c : x->line - y->line;
}

/* A repeated id refuses the file (records and logs name prompts by id); a repeated
 * conversation is reported and kept. */
static int s_check_repeats(prompt_set_t *s, const char *path, char *why, size_t wl) {
    prompt_t **v = xmalloc(sizeof *v * (size_t)s->n);
    for (int i = 0; i < s->n; i++) v[i] = &s->all[i];
    qsort(v, (size_t)s->n, sizeof *v, s_by_id);
    int rc = 0;
    for (int i = 1; i < s->n && rc == 0; i++)
        if (!strcmp(v[i]->id, v[i - 1]->id)) {
            char what[320];
            snprintf(what, sizeof what, "id '%.200s' is already line %d's", v[i]->id, v[i - 1]->line);
            rc = s_bad(why, wl, path, v[i]->line, what);
        }
    qsort(v, (size_t)s->n, sizeof *v, s_by_json);
    int first = 0, first_of = 0;
    for (int i = 1; i < s->n && rc == 0; i++)
        if (!strcmp(v[i]->json, v[i - 1]->json)) {
            int orig = i - 1;
            while (orig > 0 && !strcmp(v[orig - 1]->json, v[i]->json)) orig--;
            if (!s->duplicates++ || v[i]->line < first) first = v[i]->line, first_of = v[orig]->line;
        }
    if (s->duplicates)
        log_warn("%s: %d prompt(s) repeat an earlier line's (e.g. line %d repeats line %d); each is kept", path,
                 s->duplicates, first, first_of);
    free(v);
    return rc;
}

/* A permutation of 0..n-1 drawn from (seed, what, pass): Fisher-Yates. */
static void s_shuffle(int *v, int n, uint64_t seed, uint64_t what, uint64_t pass) {
    rng_t r;
    rng_stream(&r, seed, 0x70726f6d /* "prom" */, what, pass);
    for (int i = 0; i < n; i++) v[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rng_uniform(&r) * (i + 1));
        int t = v[i];
        v[i] = v[j], v[j] = t;
    }
}

prompt_set_t *prompt_set_load(const char *path, double heldout, uint64_t seed, char *why, size_t wl) {
    size_t len;
    char *text = util_read_file(path, &len);
    if (!text) {
        snprintf(why, wl, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    prompt_set_t *s = xcalloc(1, sizeof *s);
    s->seed = seed;
    s->order_pass = -1;
    uint8_t d[DIGEST_BYTES];
    digest_compute(text, len, d);
    digest_hex(d, s->digest);
    int rc = strlen(text) != len ? s_bad(why, wl, path, 0, "holds a NUL byte; not a text file")
                                 : s_read_lines(s, path, text, why, wl);
    if (rc == 0) rc = s_check_repeats(s, path, why, wl);
    free(text);
    if (rc == 0 && heldout > 0 && s->n < 2)
        rc = s_bad(why, wl, path, s->n, "one prompt cannot be both held out and trained on (task.heldout 0 trains on it)");
    if (rc != 0) {
        prompt_set_free(&s);
        return NULL;
    }
    int *perm = xmalloc(sizeof(int) * (size_t)s->n);
    s_shuffle(perm, s->n, seed, 0, 0);
    s->n_eval = heldout > 0 ? (int)(heldout * s->n + 0.5) : 0;
    if (heldout > 0 && s->n_eval < 1) s->n_eval = 1;
    if (s->n_eval > s->n - 1) s->n_eval = s->n - 1;
    s->n_train = s->n - s->n_eval;
    s->eval = xmalloc(sizeof(int) * (size_t)(s->n_eval ? s->n_eval : 1));
    s->train = xmalloc(sizeof(int) * (size_t)s->n_train);
    /* the held-out prompts are the first n_eval of the permutation; both parts in file order */
    char *is_eval = xcalloc((size_t)s->n, 1);
    for (int i = 0; i < s->n_eval; i++) is_eval[perm[i]] = 1;
    int e = 0, t = 0;
    for (int i = 0; i < s->n; i++) {
        if (is_eval[i]) s->eval[e++] = i;
        else s->train[t++] = i;
    }
    free(is_eval);
    free(perm);
    s->order = xmalloc(sizeof(int) * (size_t)s->n_train);
    return s;
}

void prompt_set_free(prompt_set_t **sp) {
    if (!sp || !*sp) return;
    prompt_set_t *s = *sp;
    for (int i = 0; i < s->n; i++) free(s->all[i].json), free(s->all[i].id);
    free(s->all), free(s->eval), free(s->train), free(s->order);
    free(s);
    *sp = NULL;
}

int prompt_set_train_count(const prompt_set_t *s) { return s->n_train; }
int prompt_set_eval_count(const prompt_set_t *s) { return s->n_eval; }
int prompt_set_duplicates(const prompt_set_t *s) { return s->duplicates; }
const char *prompt_set_digest(const prompt_set_t *s) { return s->digest; }

const char *prompt_set_train(const prompt_set_t *cs, uint64_t iteration, int per_iteration, int i, const char **id) {
    prompt_set_t *s = (prompt_set_t *)cs; /* the kept order is a cache */
    uint64_t at = (iteration ? iteration - 1 : 0) * (uint64_t)per_iteration + (uint64_t)i;
    int64_t pass = (int64_t)(at / (uint64_t)s->n_train);
    if (pass != s->order_pass) {
        s_shuffle(s->order, s->n_train, s->seed, 1, (uint64_t)pass);
        s->order_pass = pass;
    }
    const prompt_t *p = &s->all[s->train[s->order[at % (uint64_t)s->n_train]]];
    if (id) *id = p->id;
    return p->json;
}

const char *prompt_set_eval(const prompt_set_t *s, int i, const char **id) {
    const prompt_t *p = &s->all[s->eval[i]];
    if (id) *id = p->id;
    return p->json;
}
