/* hf_tok_post — tokenizer.json's post-processors for a single sequence: TemplateProcessing (the
 * special tokens its "single" template puts around the text, e.g. Llama's <s>), ByteLevel (which
 * changes offsets only, so nothing for ids) and Sequence of those. Without add_special the ids
 * pass unchanged, as in tokenizers. */
#include "common/hf_tok_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef struct {
    int is_sequence; /* the text's ids; else the special token's ids */
    int32_t *ids;
    size_t n;
} piece_t;

typedef struct {
    piece_t *pieces;
    size_t n;
} template_t;

/* Sequence is flattened; ByteLevel steps are dropped (nothing to do for ids). */
struct hf_post {
    template_t *steps;
    int n;
};

static int s_template(const json_t *j, template_t *t, char *why, size_t whylen) {
    const json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens"), *x;
    size_t i;
    if (!json_is_array(single)) return util_refuse(why, whylen, "post_processor TemplateProcessing has no \"single\" template");
    t->pieces = xcalloc(json_array_size(single) + 1, sizeof *t->pieces);
    json_array_foreach(single, i, x) {
        const json_t *sp = json_object_get(x, "SpecialToken"), *seq = json_object_get(x, "Sequence");
        piece_t *p = &t->pieces[t->n++];
        if (seq) {
            const char *id = json_string_value(json_object_get(seq, "id"));
            if (!id || strcmp(id, "A") != 0)
                return util_refuse(why, whylen, "post_processor TemplateProcessing: single template sequence \"%s\" is not supported",
                                   id ? id : "?");
            p->is_sequence = 1;
        } else if (sp) {
            const char *name = json_string_value(json_object_get(sp, "id"));
            const json_t *st = name ? json_object_get(specials, name) : NULL, *ids = json_object_get(st, "ids"), *y;
            size_t k;
            if (!json_is_array(ids))
                return util_refuse(why, whylen, "post_processor TemplateProcessing: special token \"%s\" has no ids in special_tokens",
                                   name ? name : "?");
            p->ids = xmalloc((json_array_size(ids) + 1) * sizeof *p->ids);
            json_array_foreach(ids, k, y) {
                if (!json_is_integer(y)) return util_refuse(why, whylen, "post_processor TemplateProcessing: special token \"%s\" has a bad id", name);
                p->ids[p->n++] = (int32_t)json_integer_value(y);
            }
        } else {
            return util_refuse(why, whylen, "post_processor TemplateProcessing: a single template piece is neither SpecialToken nor Sequence");
        }
    }
    return 0;
}

static int s_load(const json_t *j, hf_post_t *p, char *why, size_t whylen) {
    const char *type = hf_json_type(j);
    if (!type) return util_refuse(why, whylen, "post_processor has no \"type\"");
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(j, "processors"), *x;
        size_t i;
        if (!json_is_array(list)) return util_refuse(why, whylen, "post_processor Sequence has no \"processors\" list");
        json_array_foreach(list, i, x) if (s_load(x, p, why, whylen)) return -1;
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) {
        static const char *const keys[] = {"type", "add_prefix_space", "trim_offsets", "use_regex", NULL};
        return hf_json_only(j, "post_processor ByteLevel", keys, why, whylen);
    }
    if (!strcmp(type, "TemplateProcessing")) {
        static const char *const keys[] = {"type", "single", "pair", "special_tokens", NULL};
        if (hf_json_only(j, "post_processor TemplateProcessing", keys, why, whylen)) return -1;
        p->steps = xrealloc(p->steps, (size_t)(p->n + 1) * sizeof *p->steps);
        memset(&p->steps[p->n], 0, sizeof p->steps[p->n]);
        return s_template(j, &p->steps[p->n++], why, whylen);
    }
    return util_refuse(why, whylen, "post_processor type \"%s\" is not supported", type);
}

int hf_post_load(const json_t *j, hf_post_t **out, char *why, size_t whylen) {
    *out = NULL;
    if (!j || json_is_null(j)) return 0;
    hf_post_t *p = xcalloc(1, sizeof *p);
    if (s_load(j, p, why, whylen)) {
        hf_post_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void hf_post_free(hf_post_t *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        for (size_t k = 0; k < p->steps[i].n; k++) free(p->steps[i].pieces[k].ids);
        free(p->steps[i].pieces);
    }
    free(p->steps);
    free(p);
}

void hf_post_apply(const hf_post_t *p, hf_ids_t *ids, int add_special, hf_ids_t *tmp) {
    if (!p || !add_special) return;
    for (int i = 0; i < p->n; i++) {
        const template_t *t = &p->steps[i];
        tmp->n = 0;
        for (size_t k = 0; k < t->n; k++) {
            if (t->pieces[k].is_sequence) hf_ids_put(tmp, ids->v, ids->n);
            else hf_ids_put(tmp, t->pieces[k].ids, t->pieces[k].n);
        }
        hf_ids_t swap = *ids;
        *ids = *tmp;
        *tmp = swap;
    }
}
