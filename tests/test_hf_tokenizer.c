/* hf_tokenizer on small hand-written tokenizer.json texts (no network, no npm: the real tokenizers
 * are tests/test_tokenizer_exact.py's): a component, model or option it does not implement is
 * refused naming it; added tokens are found before the model and never split; byte_fallback,
 * fuse_unk, ignore_merges and the TemplateProcessing BOS do what tokenizers does; GPT-2's
 * vocab.json + merges.txt load from a folder; decoding bytes that are not UTF-8 gives U+FFFD as
 * tokenizers does (ByteLevel: one per ill-formed part, ByteFallback: one per byte). */
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hf_tokenizer.h"
#include "common/util.h"

/* A tokenizer.json of these parts (JSON texts; NULL: null). */
static char *s_json(const char *normalizer, const char *pretok, const char *post, const char *decoder, const char *model,
                    const char *added) {
    return xasprintf("{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": %s,"
                     " \"normalizer\": %s, \"pre_tokenizer\": %s, \"post_processor\": %s, \"decoder\": %s, \"model\": %s}",
                     added ? added : "[]", normalizer ? normalizer : "null", pretok ? pretok : "null",
                     post ? post : "null", decoder ? decoder : "null", model);
}

/* a b c, their merges up to "abc", and <unk> */
static const char *ABC = "{\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2, \"c\": 3,"
                         " \"ab\": 4, \"abc\": 5, \" \": 6}, \"merges\": [\"a b\", \"ab c\"]}";

static hf_tokenizer_t *s_load(const char *json) {
    char why[512] = "";
    hf_tokenizer_t *t = hf_tokenizer_from_json(json, strlen(json), "test/tokenizer.json", why, sizeof why);
    if (!t) fail_msg("refused: %s", why);
    return t;
}

/* The refusal of json must say each of the NULL-terminated words. */
static void s_refused(const char *json, ...) {
    char why[512] = "";
    hf_tokenizer_t *t = hf_tokenizer_from_json(json, strlen(json), "test/tokenizer.json", why, sizeof why);
    if (t) {
        hf_tokenizer_free(&t);
        fail_msg("loaded, should be refused: %s", json);
    }
    va_list ap;
    va_start(ap, json);
    for (const char *w; (w = va_arg(ap, const char *));)
        if (!strstr(why, w)) fail_msg("the refusal \"%s\" does not say \"%s\"", why, w);
    va_end(ap);
}

/* Encodes text; the ids must be want (n of them). */
static void s_ids(const hf_tokenizer_t *t, const char *text, int add_special, const int32_t *want, int n) {
    char why[256];
    int32_t *ids;
    int k = hf_tokenizer_encode(t, text, strlen(text), add_special, &ids, why, sizeof why);
    if (k < 0) fail_msg("encode \"%s\": %s", text, why);
    int same = k == n;
    for (int i = 0; same && i < n; i++) same = ids[i] == want[i];
    if (!same) {
        char got[512] = "", exp[512] = "";
        for (int i = 0; i < k && strlen(got) < 480; i++) snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
        for (int i = 0; i < n && strlen(exp) < 480; i++) snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " %d", want[i]);
        free(ids);
        fail_msg("encode \"%s\": ids [%s ] instead of [%s ]", text, got, exp);
    }
    free(ids);
}
#define IDS(t, text, special, ...)                                                                                         \
    do {                                                                                                                   \
        static const int32_t want_[] = {__VA_ARGS__};                                                                     \
        s_ids(t, text, special, want_, (int)(sizeof want_ / sizeof want_[0]));                                            \
    } while (0)

static void s_decodes(const hf_tokenizer_t *t, const int32_t *ids, int n, int skip, const char *want) {
    size_t len;
    char *text = hf_tokenizer_decode(t, ids, n, skip, &len);
    assert_int_equal(len, strlen(want));
    assert_string_equal(text, want);
    free(text);
}
#define DECODES(t, skip, want, ...)                                                                                        \
    do {                                                                                                                   \
        static const int32_t ids_[] = {__VA_ARGS__};                                                                      \
        s_decodes(t, ids_, (int)(sizeof ids_ / sizeof ids_[0]), skip, want);                                              \
    } while (0)

/* ---- refusals ------------------------------------------------------------------------------- */

static void test_unknown_components_are_named(void **state) {
    (void)state;
    struct {
        char *json;
        const char *says;
    } cases[] = {
        {s_json("{\"type\": \"NFKC\"}", NULL, NULL, NULL, ABC, NULL), "normalizer type \"NFKC\" is not supported"},
        {s_json("{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"Lowercase\"}]}", NULL, NULL,
                NULL, ABC, NULL),
         "normalizer type \"Lowercase\" is not supported"},
        {s_json(NULL, "{\"type\": \"Whitespace\"}", NULL, NULL, ABC, NULL), "pre_tokenizer type \"Whitespace\" is not supported"},
        {s_json(NULL, NULL, "{\"type\": \"RobertaProcessing\"}", NULL, ABC, NULL),
         "post_processor type \"RobertaProcessing\" is not supported"},
        {s_json(NULL, NULL, NULL, "{\"type\": \"WordPiece\"}", ABC, NULL), "decoder type \"WordPiece\" is not supported"},
        {s_json(NULL, NULL, NULL, NULL, "{\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}", NULL),
         "model type \"Unigram\" is not supported"},
        /* an option that would change the ids is refused, never ignored */
        {s_json(NULL, NULL, NULL, NULL,
                "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"continuing_subword_prefix\": \"##\"}", NULL),
         "continuing_subword_prefix"},
        {s_json(NULL, NULL, NULL, NULL, "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}", NULL),
         "dropout"},
        {s_json(NULL, "{\"type\": \"ByteLevel\", \"add_prefix_space\": \"yes\"}", NULL, NULL, ABC, NULL), "add_prefix_space"},
        {s_json(NULL, NULL, NULL, NULL, "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a z\"]}", NULL),
         "merge 1 (\"a\" \"z\") names a token that is not in the vocab"},
        {s_json(NULL, NULL, NULL, NULL, "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"<unk>\"}",
                NULL),
         "unk_token \"<unk>\" is not in the vocab"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_refused(cases[i].json, cases[i].says, "test/tokenizer.json", NULL);
        free(cases[i].json);
    }
    s_refused("{\"model\": ", "test/tokenizer.json", "not a JSON object", NULL);
    char *opt = s_json(NULL, NULL, NULL, NULL, ABC, NULL);
    opt[strlen(opt) - 1] = 0;
    char *more = xasprintf("%s, \"fancy\": 1}", opt);
    s_refused(more, "option \"fancy\" is not supported", NULL);
    free(more);
    free(opt);
    char why[256] = "";
    char *dir = tu_tmpdir();
    assert_null(hf_tokenizer_load(dir, why, sizeof why));
    assert_non_null(strstr(why, "no tokenizer.json, nor vocab.json + merges.txt"));
    assert_non_null(strstr(why, dir));
    tu_done(dir);
}

/* ---- the model ------------------------------------------------------------------------------ */

static void test_merges_and_unknown(void **state) {
    (void)state;
    char *json = s_json(NULL, NULL, NULL, NULL, ABC, NULL);
    hf_tokenizer_t *t = s_load(json);
    IDS(t, "abc", 1, 5);
    IDS(t, "abcab", 1, 5, 4);
    IDS(t, "cba", 1, 3, 2, 1); /* no merge applies */
    IDS(t, "axb", 1, 1, 0, 2); /* x is not in the vocab and there is no byte fallback */
    char why[256] = "";
    int32_t *ids;
    assert_int_equal(hf_tokenizer_encode(t, "a\xff", 2, 1, &ids, why, sizeof why), -1);
    assert_non_null(strstr(why, "not valid UTF-8"));
    assert_int_equal(hf_tokenizer_vocab_size(t), 7);
    assert_int_equal(hf_tokenizer_token_id(t, "ab"), 4);
    assert_string_equal(hf_tokenizer_token(t, 5), "abc");
    assert_null(hf_tokenizer_token(t, 7));
    hf_tokenizer_free(&t);
    free(json);
}

static void test_ignore_merges_takes_whole_words(void **state) {
    (void)state;
    /* "abc" is in the vocab, but the merges cannot make it from a b c (only "a b") */
    const char *m = "{\"type\": \"BPE\", \"ignore_merges\": %s, \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, \"abc\": 4,"
                    " \"bc\": 5}, \"merges\": [\"a b\", \"b c\"]}";
    char *with = xasprintf(m, "true"), *without = xasprintf(m, "false");
    char *jw = s_json(NULL, NULL, NULL, NULL, with, NULL), *jn = s_json(NULL, NULL, NULL, NULL, without, NULL);
    hf_tokenizer_t *tw = s_load(jw), *tn = s_load(jn);
    IDS(tw, "abc", 0, 4);
    IDS(tn, "abc", 0, 3, 2);
    IDS(tw, "abcb", 0, 3, 2, 1); /* not in the vocab whole: merged as usual, "a b" first */
    hf_tokenizer_free(&tw);
    hf_tokenizer_free(&tn);
    free(jw), free(jn), free(with), free(without);
}

static void test_byte_fallback_and_fuse_unk(void **state) {
    (void)state;
    /* é (C3 A9) has its byte tokens; € (E2 82 AC) lacks <0xAC>: unknown, fused with the next one */
    const char *model = "{\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true, \"fuse_unk\": true,"
                        " \"vocab\": {\"<unk>\": 0, \"a\": 1, \"<0xC3>\": 2, \"<0xA9>\": 3, \"<0xE2>\": 4, \"<0x82>\": 5},"
                        " \"merges\": []}";
    const char *decoder = "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}";
    char *json = s_json(NULL, NULL, NULL, decoder, model, NULL);
    hf_tokenizer_t *t = s_load(json);
    IDS(t, "a\xC3\xA9" "a", 0, 1, 2, 3, 1);
    IDS(t, "a\xE2\x82\xAC\xE2\x82\xAC" "a", 0, 1, 0, 1);
    DECODES(t, 0, "a\xC3\xA9" "a", 1, 2, 3, 1);
    hf_tokenizer_free(&t);
    free(json);
}

/* ---- added tokens --------------------------------------------------------------------------- */

static void test_added_tokens_before_the_model(void **state) {
    (void)state;
    /* "ab" would merge across <sep>, and the model alone would cut "<sep>" into unknowns */
    const char *added = "[{\"id\": 7, \"content\": \"<sep>\", \"special\": true},"
                        " {\"id\": 8, \"content\": \"<sep><sep>\", \"special\": true},"
                        " {\"id\": 9, \"content\": \"[R]\", \"special\": false, \"rstrip\": true},"
                        " {\"id\": 10, \"content\": \"cab\", \"special\": false, \"single_word\": true}]";
    char *json = s_json(NULL, NULL, NULL, NULL, ABC, added);
    hf_tokenizer_t *t = s_load(json);
    IDS(t, "a<sep>b", 1, 1, 7, 2);
    IDS(t, "ab<sep>", 1, 4, 7);
    IDS(t, "<sep><sep><sep>", 1, 8, 7); /* leftmost-longest, one after the other */
    IDS(t, "<se<sep>", 1, 0, 0, 0, 7);  /* a cut-short one is text */
    IDS(t, "a[R]   b", 1, 1, 9, 2);     /* rstrip takes the spaces after it */
    IDS(t, "a cab b", 1, 1, 6, 10, 6, 2);
    IDS(t, "acab", 1, 1, 3, 4); /* single_word: not inside a word */
    assert_true(hf_tokenizer_is_special(t, 7));
    assert_false(hf_tokenizer_is_special(t, 9));
    assert_int_equal(hf_tokenizer_token_id(t, "<sep>"), 7);
    assert_int_equal(hf_tokenizer_vocab_size(t), 11);
    DECODES(t, 0, "a <sep> b", 1, 7, 2); /* no decoder: tokens joined with spaces, as tokenizers does */
    DECODES(t, 1, "a b", 1, 7, 2);
    hf_tokenizer_free(&t);
    free(json);
}

/* Llama 2's way: ▁ prepended and for spaces, <s> by the post-processor, undone by the decoder. */
static void test_template_bos_and_sentencepiece_style(void **state) {
    (void)state;
    const char *norm = "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\xE2\x96\x81\"},"
                       " {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xE2\x96\x81\"}]}";
    const char *post = "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}},"
                       " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\","
                       " \"ids\": [1], \"tokens\": [\"<s>\"]}}}";
    const char *dec = "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"\xE2\x96\x81\"},"
                      " \"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \","
                      " \"start\": 1, \"stop\": 0}]}";
    const char *model = "{\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"\xE2\x96\x81\": 2,"
                        " \"h\": 3, \"i\": 4, \"hi\": 5, \"\xE2\x96\x81hi\": 6}, \"merges\": [\"h i\", \"\xE2\x96\x81 hi\"]}";
    const char *added = "[{\"id\": 0, \"content\": \"<unk>\", \"special\": true}, {\"id\": 1, \"content\": \"<s>\", \"special\": true}]";
    char *json = s_json(norm, NULL, post, dec, model, added);
    hf_tokenizer_t *t = s_load(json);
    IDS(t, "hi hi", 1, 1, 6, 6);
    IDS(t, "hi hi", 0, 6, 6);
    IDS(t, "", 1, 1);
    s_ids(t, "", 0, NULL, 0);
    IDS(t, "hi<s>hi", 0, 6, 1, 6); /* each part between added tokens gets its ▁ */
    DECODES(t, 0, "<s> hi hi", 1, 6, 6);
    DECODES(t, 1, "hi hi", 1, 6, 6);
    DECODES(t, 0, "hi hi", 6, 6);
    hf_tokenizer_free(&t);
    free(json);
}

/* ---- GPT-2's vocab.json + merges.txt -------------------------------------------------------- */

static const char *G_VOCAB = "{\"h\": 0, \"e\": 1, \"l\": 2, \"o\": 3, \"\xC4\xA0\": 4, \"he\": 5, \"ll\": 6, \"hell\": 7,"
                             " \"hello\": 8, \"\xC4\xA0hello\": 9, \"!\": 10, \"\xC3\x83\": 11, \"a\": 12, \"<|endoftext|>\": 13}";
static const char *G_MERGES = "#version: 0.2\nh e\nl l\nhe ll\nhell o\n\xC4\xA0 hello\n";

static void test_gpt2_files(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *v = xasprintf("%s/vocab.json", dir), *m = xasprintf("%s/merges.txt", dir);
    tu_write(v, G_VOCAB);
    tu_write(m, G_MERGES);
    char why[256] = "";
    hf_tokenizer_t *t = hf_tokenizer_load(dir, why, sizeof why);
    if (!t) fail_msg("%s", why);
    IDS(t, "hello hello!", 1, 8, 9, 10);
    IDS(t, "hello<|endoftext|>hello", 1, 8, 13, 8); /* <|endoftext|> is an added special token */
    assert_true(hf_tokenizer_is_special(t, 13));
    DECODES(t, 0, "hello hello!<|endoftext|>", 8, 9, 10, 13);
    DECODES(t, 1, "hello hello!", 8, 9, 10, 13);
    /* a decoded byte that is not UTF-8 (Ã stands for byte C3): one U+FFFD, as tokenizers' lossy decode */
    DECODES(t, 0, "\xEF\xBF\xBD" "a", 11, 12);
    DECODES(t, 0, "a\xEF\xBF\xBD", 12, 11);
    hf_tokenizer_free(&t);
    /* a merge naming a token that is not in vocab.json, with its line */
    tu_write(m, "#version: 0.2\nh e\nh z\n");
    assert_null(hf_tokenizer_load(dir, why, sizeof why));
    assert_non_null(strstr(why, "merges.txt"));
    assert_non_null(strstr(why, "\"h\" \"z\""));
    free(v), free(m);
    tu_done(dir);
}

static void test_decode_invalid_utf8(void **state) {
    (void)state;
    const char *model = "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"<0xC3>\": 1, \"<0xA9>\": 2, \"<0xE2>\": 3, \"<0x82>\": 4,"
                        " \"\xC3\xA2\": 5, \"\xC4\xA4\": 6, \"\xC3\x83\": 7}, \"merges\": [], \"byte_fallback\": true}";
    /* ByteFallback: bytes that are not UTF-8 give one U+FFFD each (tokenizers' ByteFallback) */
    char *json = s_json(NULL, NULL, NULL, "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}",
                        model, NULL);
    hf_tokenizer_t *t = s_load(json);
    DECODES(t, 0, "\xEF\xBF\xBD" "a", 1, 0);
    DECODES(t, 0, "\xEF\xBF\xBD\xEF\xBF\xBD" "a", 3, 4, 0); /* E2 82 cut short: two bytes, two U+FFFD */
    DECODES(t, 0, "\xC3\xA9", 1, 2);
    DECODES(t, 0, "a", 0, 99, -1); /* ids outside the vocabulary are left out */
    hf_tokenizer_free(&t);
    free(json);
    /* ByteLevel: the bytes of all tokens as one lossy UTF-8 text (â stands for E2, Ĥ for 82: E2 82
     * is one ill-formed part, so one U+FFFD) */
    json = s_json(NULL, NULL, NULL, "{\"type\": \"ByteLevel\"}", model, NULL);
    t = s_load(json);
    DECODES(t, 0, "\xEF\xBF\xBD" "a", 5, 6, 0);
    DECODES(t, 0, "\xEF\xBF\xBD\xEF\xBF\xBD", 7, 7);
    hf_tokenizer_free(&t);
    free(json);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_components_are_named),
        cmocka_unit_test(test_merges_and_unknown),
        cmocka_unit_test(test_ignore_merges_takes_whole_words),
        cmocka_unit_test(test_byte_fallback_and_fuse_unk),
        cmocka_unit_test(test_added_tokens_before_the_model),
        cmocka_unit_test(test_template_bos_and_sentencepiece_style),
        cmocka_unit_test(test_gpt2_files),
        cmocka_unit_test(test_decode_invalid_utf8),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
