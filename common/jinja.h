/* jinja — the subset of Jinja that Hugging Face chat templates use, run the way transformers runs
 * them (jinja2 with trim_blocks and lstrip_blocks on, loop controls, default Undefined). A template
 * is read once (jinja_parse) into a program; each render gets its own variables and allocations.
 * What the subset leaves out (a filter, test, tag, method or function it does not implement) is
 * refused by name when the template is read, never rendered approximately. Semantics are Python's
 * (str() of values, Python string methods and arithmetic), which is what apply_chat_template gives;
 * docs/chat_templates.md lists where @huggingface/jinja differs. */
#ifndef SPAR_JINJA_H
#define SPAR_JINJA_H

#include <stddef.h>

typedef struct jinja_program jinja_program_t;
typedef struct jinja_vars jinja_vars_t;

/* The program of a template's source text. NULL with why (a syntax error with its line, or the
 * name of what is not implemented). */
jinja_program_t *jinja_parse(const char *source, size_t len, char *why, size_t whylen);
void jinja_program_free(jinja_program_t **p);

/* The variables of one render. */
jinja_vars_t *jinja_vars_new(void);
void jinja_vars_free(jinja_vars_t **v);
void jinja_vars_set_string(jinja_vars_t *v, const char *name, const char *value);
void jinja_vars_set_bool(jinja_vars_t *v, const char *name, int value);
void jinja_vars_set_none(jinja_vars_t *v, const char *name);
/* A variable from JSON text (any JSON value: objects become dicts in their key order, arrays
 * lists, integers ints, reals floats, null None). Returns 0, or -1 with why. */
int jinja_vars_set_json(jinja_vars_t *v, const char *name, const char *json, size_t len, char *why, size_t whylen);
/* Every key of a JSON object text as a variable (e.g. {"date_string": "26 Jul 2024", "tools": [...]}).
 * Returns 0, or -1 with why. */
int jinja_vars_merge_json_object(jinja_vars_t *v, const char *json, size_t len, char *why, size_t whylen);

/* The text of p with v (malloc'd, NUL-terminated; *len_out its length when not NULL). NULL with why
 * on an error of the render: raise_exception's message, or what Python's jinja2 would raise. */
char *jinja_render(const jinja_program_t *p, const jinja_vars_t *v, size_t *len_out, char *why, size_t whylen);

#endif
