/* chat — conversations and the chat templates that turn them into a model's text.
 *
 * A conversation is a list of messages {role, content} ("system", "user", "assistant"); on the
 * wire and in prompt files it is JSON: [{"role": "user", "content": "Hi"}, ...]. A chat template
 * is the Jinja program of a tokenizer_config.json ("chat_template"), run the way transformers'
 * apply_chat_template runs it: variables messages, bos_token, eos_token, add_generation_prompt,
 * and the functions templates call (raise_exception, strftime_now). The rendered text is then
 * encoded with no special tokens added (the template writes BOS itself where the model wants it).
 * Constructs spar's Jinja does not implement are refused by name when the template is read, never
 * rendered approximately. */
#ifndef SPAR_CHAT_H
#define SPAR_CHAT_H

#include <stddef.h>

typedef struct {
    char *role;
    char *content;
} chat_msg_t;

typedef struct {
    chat_msg_t *msgs;
    int n;
} chat_t;

/* A conversation from its JSON text (an array of {"role", "content"} objects, both strings; other
 * keys ignored). Returns 0, or -1 with why. */
int chat_parse(const char *json, size_t len, chat_t *out, char *why, size_t whylen);
/* The compact JSON of c (malloc'd), which chat_parse reads back to the same conversation; NULL when
 * a role or content is not UTF-8. */
char *chat_to_json(const chat_t *c);
/* A conversation of one user message (the copy is c's). */
void chat_single_user(chat_t *c, const char *text);
void chat_free(chat_t *c);

typedef struct chat_template chat_template_t;

/* The template of a tokenizer_config.json text: "chat_template" as a string, or a list of
 * {"name", "template"} (the one named "default"); bos_token and eos_token as strings or
 * {"content": ...} objects (absent: ""). NULL with why when there is none, or when it uses what
 * spar does not implement (named in why). origin names the file in messages. */
chat_template_t *chat_template_from_config(const char *json, size_t len, const char *origin, char *why, size_t whylen);
/* A template from its source text, with the given BOS and EOS strings. NULL with why. */
chat_template_t *chat_template_new(const char *source, const char *bos_token, const char *eos_token, char *why,
                                   size_t whylen);
/* The text of c (malloc'd), as apply_chat_template(c, tokenize=False, add_generation_prompt=...)
 * gives it. NULL with why (e.g. the template's raise_exception message). */
char *chat_template_render(const chat_template_t *t, const chat_t *c, int add_generation_prompt, char *why,
                           size_t whylen);
/* The same with more variables: vars_json is a JSON object whose keys become template variables
 * (what apply_chat_template's extra keyword arguments are, e.g. {"date_string": "26 Jul 2024"} or
 * {"tools": [...]}), or NULL. messages, add_generation_prompt, bos_token and eos_token are always
 * the ones above; tools and documents are None unless vars_json gives them. */
char *chat_template_render_vars(const chat_template_t *t, const chat_t *c, int add_generation_prompt,
                                const char *vars_json, char *why, size_t whylen);
/* The BOS and EOS strings the template renders with. */
const char *chat_template_bos(const chat_template_t *t);
const char *chat_template_eos(const chat_template_t *t);
void chat_template_free(chat_template_t **t);

#endif
