/* Chat templates and conversations: the Jinja constructs spar implements render as jinja2 renders
 * them with transformers' settings (each expectation below is jinja2's output), what it does not
 * implement is refused by name when the template is read, render errors carry the template's
 * message, and conversations read and write as JSON. The real templates, against the reference
 * renderers, are tests/chat/test_chat_exact.py (ctest chat_template_exact). */
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/chat.h"
#include "common/jinja.h"

static const char *const s_conv = "[{\"role\": \"system\", \"content\": \"Be brief.\"},"
                                  " {\"role\": \"user\", \"content\": \"Hi\"},"
                                  " {\"role\": \"assistant\", \"content\": \"Hello!\"}]";

/* The text of src over s_conv (NULL: why holds the error). */
static char *s_render(const char *src, int agp, const char *vars, char *why, size_t whylen) {
    chat_template_t *t = chat_template_new(src, "<s>", "</s>", why, whylen);
    if (!t) return NULL;
    chat_t c;
    assert_int_equal(chat_parse(s_conv, strlen(s_conv), &c, why, whylen), 0);
    char *out = chat_template_render_vars(t, &c, agp, vars, why, whylen);
    chat_free(&c);
    chat_template_free(&t);
    return out;
}

static void s_expect(const char *src, const char *want) {
    char why[512] = "";
    char *got = s_render(src, 1, NULL, why, sizeof why);
    if (!got) fail_msg("template %s: %s", src, why);
    if (strcmp(got, want)) fail_msg("template %s:\n  want [%s]\n  got  [%s]", src, want, got);
    free(got);
}

static void test_chat_template_constructs(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        /* output, variables, undefined */
        {"{{ bos_token }}{{ messages[1].content }}{{ eos_token }}", "<s>Hi</s>"},
        {"[{{ nothing }}][{{ nothing | default('d') }}][{{ none }}][{{ true }}][{{ 1.0 }}][{{ [1, 'a'] }}]",
         "[][d][None][True][1.0][[1, 'a']]"},
        {"{{ messages | length }} {{ messages[-1]['role'] }} {{ messages[5] is defined }}", "3 assistant False"},
        /* if / elif / else, and / or / not, comparisons, in */
        {"{% if 1 > 2 %}a{% elif 2 in [1, 2] and not false %}b{% else %}c{% endif %}", "b"},
        {"{{ 'y' if 'ell' in 'hello' else 'n' }}{{ 'y' if 'k' not in {'k': 1} else 'n' }}{{ 1 < 2 < 3 }}", "ynTrue"},
        {"{{ 0 or 'x' }} {{ '' and 'y' }}|{{ 'a' if false }}|", "x ||"},
        /* for: loop variables, else, filters, unpacking, reversed, break and continue */
        {"{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}"
         "{{ loop.length }};{% endfor %}",
         "103TrueFalse3;212FalseFalse3;321FalseTrue3;"},
        {"{% for x in [] %}a{% else %}empty{% endfor %}", "empty"},
        {"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }},{% endfor %}", "a=1,b=2,"},
        {"{% for m in messages[::-1] %}{{ m.role[0] }}{% endfor %}{% for m in messages if m.role != 'user' %}"
         "{{ loop.length }}{% endfor %}",
         "aus22"},
        {"{% for i in range(10) %}{% if i == 6 %}{% break %}{% endif %}{% if i is odd %}{% continue %}{% endif %}"
         "{{ i }}{% endfor %}",
         "024"},
        {"{% for c in 'ab' %}{{ c }}.{% endfor %}{% for k in {'x': 1} %}{{ k }}{% endfor %}", "a.b.x"},
        /* set: names, namespaces, tuples, blocks; scoping of a loop body */
        {"{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "3"},
        {"{% set x = 1 %}{% for m in messages %}{% set x = 5 %}{% endfor %}{{ x }}", "1"},
        {"{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set blk %}in{{ a + b }}{% endset %}{{ blk }}", "12in3"},
        /* macros */
        {"{% macro t(r, c, sep='|') %}{{ r }}{{ sep }}{{ c }}{% endmacro %}{{ t('a', 'b') }} {{ t('a', 'b', sep='-') }} "
         "{{ t(c='z', r='y') }}",
         "a|b a-b y|z"},
        /* arithmetic */
        {"{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ 'ab' * 2 }} {{ 'n' ~ 3 }}"
         " {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 10 / 4 }}",
         "3 -4 2 3.5 1024 7 abab n3 0.30000000000000004 1e+20 2.5"},
        /* filters */
        {"{{ ' x ' | trim }}|{{ 'hELLO wORLD' | title }}|{{ 'hELLO' | capitalize }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}",
         "x|Hello World|Hello|AB|ab"},
        {"{{ messages | map(attribute='role') | join(',') }} {{ messages | selectattr('role', 'equalto', 'user') | list"
         " | length }} {{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | first }}",
         "system,user,assistant 1 system"},
        {"{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ 'abc' | list }}{{ {'a': 1} | items | list }}{{ 'aXa' |"
         " replace('a', 'b') }}{{ 5 | string }}{{ '42' | int + 1 }}{{ -3 | abs }}",
         "32['a', 'b', 'c'][('a', 1)]bXb5433"},
        /* map, select and the like give generators: true, iterated once */
        {"{% set g = messages | map(attribute='role') %}{{ g | first }} {{ g | list }} {{ g | list }} "
         "{{ 'y' if messages | selectattr('role', 'equalto', 'x') else 'n' }}",
         "system ['user', 'assistant'] [] y"},
        {"{{ {'b': [1, 'é'], 'a': none} | tojson }} {{ [] | tojson(indent=2) }}", "{\"b\": [1, \"é\"], \"a\": null} []"},
        {"{{ {'k': [1, true]} | tojson(indent=2) }}", "{\n  \"k\": [\n    1,\n    true\n  ]\n}"},
        {"{{ 'a\nb\n' | indent(2) }}|{{ 'x' | indent(2, true) }}", "a\n  b\n|  x"},
        /* methods */
        {"{{ ' a b '.split() }}{{ 'a,b'.split(',') }}{{ 'x\n\n'.rstrip('\n') }}|{{ 'xxhixx'.strip('x') }}"
         "{{ 'ab'.startswith(('x', 'a')) }}{{ 'ab'.endswith('b') }}{{ '-'.join(['a', 'b']) }}",
         "['a', 'b']['a', 'b']x|hiTrueTruea-b"},
        {"{{ messages[0].get('role') }} {{ messages[0].get('x', 'd') }} {{ messages[0].keys() | list }}", "system d ['role', 'content']"},
        /* tests */
        {"{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ 'a' is iterable }}"
         "{{ 1 is number }}{{ true is boolean }}{{ 3 is odd }}{{ 'ab' is lower }}{{ 2 is integer }}",
         "FalseTrueTrueTrueTrueTrueTrueTrueTrueTrue"},
        /* slices and strings */
        {"{{ 'abcdef'[1:4] }}{{ 'abcdef'[::-2] }}{{ [1, 2, 3][-2:] }}{{ 'héllo'[1] }}{{ 'héllo' | length }}",
         "bcdfdb[2, 3]é5"},
        {"{{ 'tab\\there' }} {{ \"q\\\"s\" }} {{ 'it\\'s' }} {{ '\\u00e9\\x41' }} {{ 'a' 'b' }}", "tab\there q\"s it's éA ab"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) s_expect(cases[i][0], cases[i][1]);
}

static void test_chat_template_whitespace(void **state) {
    (void)state;
    /* trim_blocks: the newline after a block tag goes; lstrip_blocks: the indent before it goes */
    s_expect("{% if true %}\n  yes\n{% endif %}\nend\n", "  yes\nend");
    s_expect("a\n    {% if true %}\n    b\n    {% endif %}\nc", "a\n    b\nc");
    s_expect("x  {% if true %}y{% endif %}", "x  y"); /* not at a line's start: kept */
    s_expect("a  \n  {{- 'b' -}}  \n  c", "abc");
    s_expect("a {#- comment -#} b\n{# c #}\nd", "ab\nd");
    s_expect("{{ 'x' }}\n", "x"); /* one trailing newline of the template is dropped */
    s_expect("{{ 'x' }}\n\n", "x\n");
    s_expect("a\r\nb{% if true %}\r\nc{% endif %}", "a\nbc");
    s_expect("{% if true: %}a{% else: %}b{% endif %}", "a"); /* jinja2 takes Python's colon */
    s_expect("{% generation %}{{ 'gen' }}{% endgeneration %}", "gen");
}

static void s_refused(const char *src, const char *want) {
    char why[512] = "";
    chat_template_t *t = chat_template_new(src, "", "", why, sizeof why);
    if (t) fail_msg("template %s was accepted; wanted a refusal with '%s'", src, want);
    if (!strstr(why, want)) fail_msg("template %s: refused with [%s], wanted [%s]", src, why, want);
}

static void test_chat_template_refusals(void **state) {
    (void)state;
    s_refused("{{ 'a b' | wordcount }}", "template uses filter 'wordcount', not implemented");
    s_refused("{% if 4 is divisibleby(2) %}{% endif %}", "template uses test 'divisibleby', not implemented");
    s_refused("{% if 4 is even 2 %}{% endif %}", "test 'even' with an argument, not implemented");
    s_refused("{% include 'x.jinja' %}", "the '{% include %}' tag, not implemented");
    s_refused("{% raw %}x{% endraw %}", "the '{% raw %}' tag, not implemented");
    s_refused("{{ '{}'.format(1) }}", "template calls method 'format', not implemented");
    s_refused("{{ cycler('a', 'b') }}", "template calls 'cycler', not implemented");
    s_refused("{% for x in y recursive %}{% endfor %}", "recursive loop, not implemented");
    s_refused("{%+ if true %}{% endif %}", "'+' whitespace modifier is not implemented");
    s_refused("{{ f(*xs) }}", "unpacks arguments with '*'");
    s_refused("{% macro m() %}{{ caller() }}{% endmacro %}", "macro uses 'caller'");
    s_refused("{% set x | upper %}a{% endset %}", "filters a block set");
    s_refused("{{ x[1:2, 3] }}", "multi-dimensional slice");
    /* syntax errors name the line */
    s_refused("line 1\n{% if x %}\nno end", "template syntax error at line 3: the template ends before '{% endif %}'");
    s_refused("{{ 'unterminated }}", "a string that does not end");
    s_refused("{% endfor %}", "unexpected 'endfor'");
    s_refused("{% break %}", "'break' outside a loop");
    s_refused("{{ 1 + }}", "template syntax error at line 1");
}

static void s_render_error(const char *src, const char *want) {
    char why[512] = "";
    char *got = s_render(src, 1, NULL, why, sizeof why);
    if (got) fail_msg("template %s rendered [%s]; wanted the error '%s'", src, got, want);
    if (!strstr(why, want)) fail_msg("template %s: error [%s], wanted [%s]", src, why, want);
}

static void test_chat_template_render_errors(void **state) {
    (void)state;
    s_render_error("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}",
                   "System role not supported");
    s_render_error("{{ nothing.attr }}", "'nothing' is undefined");
    s_render_error("{{ nothing + 1 }}", "'nothing' is undefined");
    s_render_error("{{ 1 / 0 }}", "division by zero");
    s_render_error("{{ 'a' + 1 }}", "unsupported operand type(s) for +: 'str' and 'int'");
    s_render_error("{{ 'a' < 1 }}", "'<' not supported between instances of 'str' and 'int'");
    s_render_error("{% for x in 3 %}{% endfor %}", "'int' object is not iterable");
    s_render_error("{% set x = 1 %}{% set x.a = 2 %}", "cannot assign attribute on non-namespace object");
    s_render_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "macro 'm' takes not more than 1 argument(s)");
    s_render_error("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macro calls nested deeper than");
    s_render_error("{{ '%s' % 1 }}", "string formatting with '%' is not implemented");
    s_render_error("{{ x | tojson }}", "not JSON serializable");
    s_render_error("{{ range(1000000) | length }}", "Range too big");
    s_render_error("{{ 9223372036854775807 + 1 }}", "an integer beyond 64 bits");
    s_render_error("{{ messages | map(attribute='role') | length }}", "object of type 'generator' has no len()");
    s_render_error("{{ messages | map(attribute='role') }}", "printing a generator");
    s_render_error("{{ [1] | tojson(ident=2) }}", "tojson() got an unexpected keyword argument 'ident'");
    s_render_error("{{ 'x'.strip('a', 'b') }}", "strip() takes at most 1 argument(s) (2 given)");
}

static void test_chat_template_variables(void **state) {
    (void)state;
    char why[512];
    char *got = s_render("{{ add_generation_prompt }} {{ tools }} {{ documents }} {{ date_string }} {{ extra | tojson }}",
                         0, "{\"date_string\": \"26 Jul 2024\", \"extra\": {\"z\": 1, \"a\": [true, null, 1.5]}}", why,
                         sizeof why);
    assert_non_null(got);
    assert_string_equal(got, "False None None 26 Jul 2024 {\"z\": 1, \"a\": [true, null, 1.5]}");
    free(got);
    /* the fixed variables win over vars of the same name */
    got = s_render("{{ messages | length }}{{ bos_token }}", 1, "{\"messages\": [], \"bos_token\": \"x\"}", why, sizeof why);
    assert_string_equal(got, "3<s>");
    free(got);
    assert_null(s_render("x", 1, "[1]", why, sizeof why));
    assert_non_null(strstr(why, "not a JSON object"));
    /* strftime_now: today's date, as strftime gives it */
    got = s_render("{{ strftime_now('%Y') | length }}", 1, NULL, why, sizeof why);
    assert_string_equal(got, "4");
    free(got);
}

static void test_chat_template_from_config(void **state) {
    (void)state;
    char why[512];
    const char *cfg = "{\"chat_template\": \"{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\","
                      " \"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<B>\"}, \"eos_token\": \"<E>\","
                      " \"model_max_length\": 1000000000000000019884624838656}";
    chat_template_t *t = chat_template_from_config(cfg, strlen(cfg), "cfg.json", why, sizeof why);
    assert_non_null(t);
    assert_string_equal(chat_template_bos(t), "<B>");
    assert_string_equal(chat_template_eos(t), "<E>");
    chat_t c;
    chat_single_user(&c, "hello");
    char *out = chat_template_render(t, &c, 1, why, sizeof why);
    assert_string_equal(out, "<B>hello<E>");
    free(out);
    chat_template_free(&t);
    assert_null(t);

    const char *list = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                       " {\"name\": \"default\", \"template\": \"D{{ messages | length }}\"}]}";
    t = chat_template_from_config(list, strlen(list), "cfg.json", why, sizeof why);
    assert_non_null(t);
    out = chat_template_render(t, &c, 0, why, sizeof why);
    assert_string_equal(out, "D1");
    free(out);
    chat_template_free(&t);
    chat_free(&c);

    const char *nodefault = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}]}";
    assert_null(chat_template_from_config(nodefault, strlen(nodefault), "cfg.json", why, sizeof why));
    assert_non_null(strstr(why, "no template named \"default\""));
    assert_null(chat_template_from_config("{\"bos_token\": \"<s>\"}", 20, "cfg.json", why, sizeof why));
    assert_non_null(strstr(why, "cfg.json: no chat_template"));
    const char *bad = "{\"chat_template\": \"{{ x | wordcount }}\"}";
    assert_null(chat_template_from_config(bad, strlen(bad), "cfg.json", why, sizeof why));
    assert_non_null(strstr(why, "cfg.json: chat_template: template uses filter 'wordcount', not implemented"));
    assert_null(chat_template_from_config("not json", 8, "cfg.json", why, sizeof why));
}

static void test_chat_parse_and_json(void **state) {
    (void)state;
    char why[256];
    chat_t c;
    const char *j = "[{\"role\": \"user\", \"content\": \"caf\\u00e9 \\\"q\\\" \\\\ \\n {{ x }}\", \"name\": \"ignored\"},"
                    " {\"role\": \"assistant\", \"content\": \"\"}]";
    assert_int_equal(chat_parse(j, strlen(j), &c, why, sizeof why), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.msgs[0].content, "café \"q\" \\ \n {{ x }}");
    assert_string_equal(c.msgs[1].role, "assistant");
    char *back = chat_to_json(&c);
    chat_t d;
    assert_int_equal(chat_parse(back, strlen(back), &d, why, sizeof why), 0);
    assert_int_equal(d.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(c.msgs[i].role, d.msgs[i].role);
        assert_string_equal(c.msgs[i].content, d.msgs[i].content);
    }
    free(back);
    chat_free(&c);
    chat_free(&d);
    /* text that is not UTF-8 (chat_single_user takes any bytes) is an error of the render, not dropped */
    chat_single_user(&c, "caf\xe9");
    chat_template_t *t = chat_template_new("{{ messages | length }}", "", "", why, sizeof why);
    assert_null(chat_template_render(t, &c, 1, why, sizeof why));
    assert_non_null(strstr(why, "not UTF-8"));
    assert_null(chat_to_json(&c));
    chat_template_free(&t);
    chat_free(&c);
    const char *big = "[{\"role\": \"user\", \"content\": \"x\", \"id\": 100000000000000000000000}]";
    assert_int_equal(chat_parse(big, strlen(big), &c, why, sizeof why), 0);
    chat_free(&c);
    assert_int_equal(chat_parse("[]", 2, &c, why, sizeof why), 0);
    assert_int_equal(c.n, 0);
    back = chat_to_json(&c);
    assert_string_equal(back, "[]");
    free(back);
    chat_free(&c);

    static const char *const bad[][2] = {
        {"not json", "not JSON"},
        {"{\"role\": \"user\"}", "a JSON array"},
        {"[{\"role\": \"user\"}]", "message 1 is not an object with string \"role\" and \"content\""},
        {"[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": 1, \"content\": \"b\"}]", "message 2"},
        {"[{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]", "message 1"},
        {"[\"hi\"]", "message 1"},
        {"[{\"role\": \"user\", \"content\": \"a\\u0000b\"}]", "NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = 0;
        assert_int_equal(chat_parse(bad[i][0], strlen(bad[i][0]), &c, why, sizeof why), -1);
        if (!strstr(why, bad[i][1])) fail_msg("%s: [%s], wanted [%s]", bad[i][0], why, bad[i][1]);
        assert_int_equal(c.n, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_template_constructs),    cmocka_unit_test(test_chat_template_whitespace),
        cmocka_unit_test(test_chat_template_refusals),      cmocka_unit_test(test_chat_template_render_errors),
        cmocka_unit_test(test_chat_template_variables),     cmocka_unit_test(test_chat_template_from_config),
        cmocka_unit_test(test_chat_parse_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
