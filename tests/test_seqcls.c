/* Hugging Face sequence classifiers as reward models (common/seqcls.h, judge.kind reward): tiny
 * random LlamaForSequenceClassification, Qwen2ForSequenceClassification and
 * Qwen3ForSequenceClassification folders are written and read back; the packed, prefix-sharing
 * scores equal each sequence's own forward pass read at its last non-pad token; num_labels 2,
 * a missing score.weight and a causal folder are refused by name (and a classifier where a
 * causal LM is read); the backend scores the chat-template rendering of each response after
 * the conversation, or raw text when the folder has no template, and refuses what does not fit.
 * Against the independent PyTorch reference: tests/ref/seqcls_golden.py runs this binary as
 * `test_seqcls --golden DIR` (DIR/golden.json: {"sequences": [[ids]...]}; prints the scores). */
#include "tests/judge_testkit.h"

#include <math.h>

#include "common/config.h"
#include "common/hf_folder.h"
#include "common/lm.h"
#include "common/seqcls.h"

static const char *const s_families[] = {"llama", "qwen2", "qwen3"};

static hf_config_t s_tiny(const char *family) {
    hf_config_t c = {.arch = HF_LLAMA, .bos_id = -1, .eos = {TK_IM_END}, .n_eos = 1, .seqcls = 1, .num_labels = 1,
                     .pad_id = TK_EOT};
    c.llama = (llama_config_t){.n_layer = 2, .d_model = 32, .n_head = 4, .n_kv_head = 2, .head_dim = 8, .d_ff = 48,
                               .vocab = TK_VOCAB + 3, .ctx = 96, .rms_eps = 1e-5, .rope_theta = 10000};
    if (!strcmp(family, "qwen2")) c.arch = HF_QWEN2, c.llama.qkv_bias = 1;
    if (!strcmp(family, "qwen3")) c.arch = HF_QWEN3, c.llama.qk_norm = 1, c.llama.head_dim = 16;
    snprintf(c.architecture, sizeof c.architecture, "%s", hf_seqcls_name(c.arch));
    return c;
}

/* A tiny random classifier of the family at dir/NAME (tokenizer with or without a chat template). */
static char *s_make(const char *dir, const char *family, int chat, const char *name) {
    char *tok = xasprintf("%s/tok-%d", dir, chat), *out = xasprintf("%s/%s", dir, name), why[512];
    tk_write_tokenizer(tok, chat);
    hf_config_t c = s_tiny(family);
    seqcls_t *m = seqcls_new_random(&c, tok, 11, why, sizeof why);
    if (!m) fprintf(stderr, "seqcls_new_random: %s\n", why);
    assert_non_null(m);
    /* a head of unit-ish gain, so scores differ well beyond float rounding */
    rng_t r;
    rng_seed(&r, 5);
    for (int d = 0; d < c.llama.d_model; d++) seqcls_score_weight(m)[d] = (float)(rng_normal(&r) / sqrt(c.llama.d_model));
    if (seqcls_save_dir(m, out, why, sizeof why) != 0) fprintf(stderr, "seqcls_save_dir: %s\n", why);
    assert_int_equal(seqcls_save_dir(m, out, why, sizeof why), 0);
    seqcls_free(&m);
    free(tok);
    return out;
}

/* The score of ids alone: one unpacked forward pass, the hidden state at the last non-pad token. */
static double s_alone(seqcls_t *m, const int32_t *ids, int n) {
    const hf_config_t *c = seqcls_config(m);
    int *t = xmalloc(sizeof(int) * (size_t)n), at = n - 1;
    for (int i = 0; i < n; i++) t[i] = ids[i];
    while (c->pad_id >= 0 && at > 0 && ids[at] == c->pad_id) at--;
    assert_int_equal(llama_forward(seqcls_llama(m), t, NULL, NULL, 1, n), 0);
    const float *h = llama_hidden(seqcls_llama(m)) + (size_t)at * c->llama.d_model;
    double s = 0;
    for (int d = 0; d < c->llama.d_model; d++) s += (double)seqcls_score_weight(m)[d] * h[d];
    free(t);
    return s;
}

/* Each family: the folder reads back as written (config, weights); a batch of two groups with
 * shared prefixes, trailing pads and a pad inside scores as each sequence alone does. */
static void test_seqcls_families(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    for (size_t f = 0; f < sizeof s_families / sizeof *s_families; f++) {
        char *path = s_make(dir, s_families[f], 1, s_families[f]);
        seqcls_t *m = seqcls_load_dir(path, why, sizeof why);
        if (!m) fprintf(stderr, "%s: %s\n", s_families[f], why);
        assert_non_null(m);
        const hf_config_t *c = seqcls_config(m);
        assert_true(c->seqcls);
        assert_int_equal(c->num_labels, 1);
        assert_int_equal(c->pad_id, TK_EOT);
        assert_string_equal(c->architecture, hf_seqcls_name(c->arch));
        int32_t a[] = {TK_IM_START, 'u', 's', 'e', 'r', 10, 'h', 'i', TK_IM_END, 10, 'x', 'y'};
        int32_t b[] = {TK_IM_START, 'u', 's', 'e', 'r', 10, 'h', 'i', TK_IM_END, 10, 'q', TK_EOT, TK_EOT};
        int32_t d[] = {TK_IM_START, 'u', 's', 'e', 'r', 10, 'h', 'i', TK_IM_END, 10, 'x', TK_EOT, 'z', 'w'};
        int32_t e[] = {'o', 't', 'h', 'e', 'r'}, g[] = {'o', 't'};
        const int32_t *ids[] = {a, b, d, e, g};
        int len[] = {12, 13, 14, 5, 2}, group[] = {0, 0, 0, 1, 1};
        double got[5];
        assert_int_equal(seqcls_score_ids(m, ids, len, group, 5, got, why, sizeof why), 0);
        for (int i = 0; i < 5; i++) {
            double want = s_alone(m, ids[i], len[i]);
            assert_true(fabs(got[i] - want) <= 1e-5 * (1 + fabs(want)));
        }
        assert_true(fabs(got[0] - got[1]) > 1e-3); /* the responses are told apart */
        double one_group[3]; /* group NULL: all one group, sharing their common prefix */
        assert_int_equal(seqcls_score_ids(m, ids, len, NULL, 3, one_group, why, sizeof why), 0);
        for (int i = 0; i < 3; i++) assert_true(fabs(one_group[i] - got[i]) <= 1e-5 * (1 + fabs(got[i])));
        /* trailing pads do not move the score: b is q's score */
        int32_t b_short[] = {TK_IM_START, 'u', 's', 'e', 'r', 10, 'h', 'i', TK_IM_END, 10, 'q'};
        const int32_t *one[] = {b_short};
        int one_len[] = {11};
        double q;
        assert_int_equal(seqcls_score_ids(m, one, one_len, NULL, 1, &q, why, sizeof why), 0);
        assert_true(fabs(q - got[1]) <= 1e-5 * (1 + fabs(q)));
        /* too long for the context: refused, naming the sequence */
        int32_t *big = xcalloc(200, sizeof *big);
        const int32_t *bigs[] = {big};
        int big_len[] = {200};
        assert_int_equal(seqcls_score_ids(m, bigs, big_len, NULL, 1, &q, why, sizeof why), -1);
        assert_non_null(strstr(why, "context"));
        free(big);
        seqcls_free(&m);
        free(path);
    }
    tu_done(dir);
}

/* A JSON file's object, changed by edit, written back. */
static void s_edit_json(const char *path, const char *key, json_t *value) {
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    if (value) json_object_set_new(j, key, value);
    else json_object_del(j, key);
    assert_int_equal(json_dump_file(j, path, JSON_INDENT(2)), 0);
    json_decref(j);
}

/* Refused by name: num_labels 2 (as id2label or as num_labels), a missing score.weight, a causal
 * LM's folder; and a classifier's folder where a causal LM is read. */
static void test_seqcls_refusals(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    char *path = s_make(dir, "qwen2", 0, "two"), *cfg = xasprintf("%s/config.json", path);
    s_edit_json(cfg, "id2label", json_pack("{s:s, s:s}", "0", "LABEL_0", "1", "LABEL_1"));
    assert_null(seqcls_load_dir(path, why, sizeof why));
    assert_non_null(strstr(why, "num_labels 2"));
    s_edit_json(cfg, "id2label", NULL);
    s_edit_json(cfg, "label2id", NULL);
    s_edit_json(cfg, "num_labels", json_integer(3));
    assert_null(seqcls_load_dir(path, why, sizeof why));
    assert_non_null(strstr(why, "num_labels 3"));
    s_edit_json(cfg, "num_labels", NULL); /* absent: transformers' default, 2 */
    assert_null(seqcls_load_dir(path, why, sizeof why));
    assert_non_null(strstr(why, "num_labels 2"));
    free(cfg), free(path);

    /* the trunk's tensors alone: no score.weight */
    path = s_make(dir, "llama", 0, "ok");
    char *tok = xasprintf("%s/tok-0", dir), *noscore = xasprintf("%s/noscore", dir);
    seqcls_t *m = seqcls_load_dir(path, why, sizeof why);
    assert_non_null(m);
    llama_t *l = seqcls_llama(m);
    int nt = llama_n_tensors(l);
    hf_want_t *w = xcalloc((size_t)nt, sizeof *w);
    for (int i = 0; i < nt; i++) {
        const llama_tensor_t *t = llama_tensor(l, i);
        w[i] = (hf_want_t){t->name, t->ndim, t->shape, llama_params(l) + t->offset};
    }
    hf_file_t *files;
    int nf = hf_tokenizer_files_read(tok, &files, why, sizeof why);
    assert_true(nf >= 1);
    assert_int_equal(hf_write_folder(noscore, seqcls_config(m), w, nt, 0, NULL, NULL, 0, files, nf, why, sizeof why), 0);
    assert_null(seqcls_load_dir(noscore, why, sizeof why));
    assert_non_null(strstr(why, "score.weight missing"));
    /* a causal LM is not a reward model, nor a classifier a causal LM */
    hf_config_t causal = *seqcls_config(m);
    causal.seqcls = 0, causal.llama.tied = 1;
    snprintf(causal.architecture, sizeof causal.architecture, "%s", hf_arch_name(causal.arch));
    char *lmdir = xasprintf("%s/causal", dir);
    assert_int_equal(hf_write_folder(lmdir, &causal, w, nt, 0, NULL, NULL, 0, files, nf, why, sizeof why), 0);
    assert_null(seqcls_load_dir(lmdir, why, sizeof why));
    assert_non_null(strstr(why, "'LlamaForCausalLM' is not a sequence classifier"));
    lm_t *lm = lm_load_dir(path, NULL, why, sizeof why);
    assert_null(lm);
    assert_non_null(strstr(why, "'LlamaForSequenceClassification' is a sequence classifier"));
    assert_true(judge_checkpoint_is_seqcls(path));
    assert_false(judge_checkpoint_is_seqcls(lmdir));
    hf_files_free(files, nf);
    free(w);
    seqcls_free(&m);
    free(lmdir), free(noscore), free(tok), free(path);
    tu_done(dir);
}

static judge_backend_t *s_backend(const char *checkpoint, const char *task) {
    spar_config_t cfg;
    config_defaults(&cfg);
    char err[512], *a = xasprintf("judge.checkpoint=%s", checkpoint), *t = xasprintf("task.kind=%s", task);
    assert_int_equal(config_set(&cfg, "judge.kind=reward", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, a, err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, t, err, sizeof err), 0);
    judge_backend_t *b = NULL;
    assert_int_equal(judge_backend_from_config(&cfg, NULL, NULL, NULL, &b), 0);
    assert_non_null(b);
    free(a), free(t);
    return b;
}

/* The score of a text encoded as the backend should: chat (no special tokens) or raw (with). */
static double s_text_score(seqcls_t *m, const char *text, int add_special) {
    int32_t *ids;
    char why[256];
    int n = seqcls_encode(m, text, add_special, &ids, why, sizeof why);
    assert_true(n > 0);
    const int32_t *one[] = {ids};
    double s;
    assert_int_equal(seqcls_score_ids(m, one, &n, NULL, 1, &s, why, sizeof why), 0);
    free(ids);
    return s;
}

/* Through the backend table: with a chat template, a conversation (task prompts) and each
 * response rendered as ChatML; without one, prompt text + response text; two requests in one
 * call, a malformed conversation refused alone; rewards, not a matrix. */
static void test_seqcls_backend(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[256];
    char *chat = s_make(dir, "qwen3", 1, "chat"), *raw = s_make(dir, "llama", 0, "raw");
    const char *texts[] = {"Paris.", "It is Lyon", "ab12"};
    judge_backend_t *b = s_backend(chat, "prompts");
    assert_int_equal(b->rewards, 1);
    assert_non_null(strstr(b->version, "seqcls-"));
    tk_request_t q1, q2, *qs[] = {&q1, &q2};
    tk_request(&q1, 1, "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Capital of France?\"}]",
               texts, 3);
    tk_request(&q2, 2, "not json", texts, 2);
    tk_got_t got = {0};
    tk_judge(b, qs, 2, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.r[0].error, "");
    assert_int_equal(got.r[0].n_rewards, 3);
    assert_int_equal(got.r[0].n_preference, 0);
    assert_non_null(strstr(got.r[1].error, "not a conversation"));
    seqcls_t *m = seqcls_load_dir(chat, why, sizeof why);
    assert_non_null(m);
    for (int i = 0; i < 3; i++) {
        char *text = xasprintf("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n"
                               "<|im_start|>assistant\n%s<|im_end|>\n", texts[i]);
        double want = s_text_score(m, text, 0);
        assert_true(fabs(got.r[0].values[i] - want) <= 1e-5 * (1 + fabs(want)));
        free(text);
    }
    judge_stats_t st;
    judge_backend_stats(b, &st);
    assert_int_equal(st.pairs, 3);
    seqcls_free(&m);
    judge_backend_destroy(&b);

    /* no chat template; a plain-text task: the prompt is the user's message as it is */
    b = s_backend(raw, "styles");
    m = seqcls_load_dir(raw, why, sizeof why);
    tk_request(&q1, 3, "Say hi: ", texts, 2);
    memset(&got, 0, sizeof got);
    tk_judge(b, qs, 1, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.r[0].error, "");
    for (int i = 0; i < 2; i++) {
        char *text = xasprintf("Say hi: %s", texts[i]);
        double want = s_text_score(m, text, 1);
        assert_true(fabs(got.r[0].values[i] - want) <= 1e-5 * (1 + fabs(want)));
        free(text);
    }
    /* a response that does not fit the context is refused */
    char *long_text = xmalloc(400);
    memset(long_text, 'q', 399), long_text[399] = 0;
    const char *too_long[] = {"fine", long_text};
    tk_request(&q1, 4, "p", too_long, 2);
    memset(&got, 0, sizeof got);
    tk_judge(b, qs, 1, &got);
    assert_non_null(strstr(got.r[0].error, "context"));
    free(long_text);
    seqcls_free(&m);
    judge_backend_destroy(&b);
    free(chat), free(raw);
    tu_done(dir);
}

/* Qwen3's real tokenizer and chat template (when tests/tokenizer's packages are installed): a
 * tiny Qwen3ForSequenceClassification over its whole vocabulary rewards each response as the
 * template renders the conversation with it, <|endoftext|> as the pad token. */
static void test_seqcls_qwen3_tokenizer(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512], *tok = xasprintf("%s/tok", dir), *path = xasprintf("%s/qwen3", dir);
    if (!tk_qwen3_tokenizer(tok)) {
        tu_done(dir);
        free(tok), free(path);
        fprintf(stderr, "skipped: the Qwen3 tokenizer package is not installed (scripts/npm_deps.sh)\n");
        skip();
    }
    hf_config_t c = s_tiny("qwen3");
    c.llama = (llama_config_t){.n_layer = 1, .d_model = 16, .n_head = 2, .n_kv_head = 1, .head_dim = 8, .d_ff = 16,
                               .vocab = 151936, .ctx = 256, .rms_eps = 1e-6, .rope_theta = 1e6, .qk_norm = 1};
    c.pad_id = 151643, c.eos[0] = 151645;
    seqcls_t *m = seqcls_new_random(&c, tok, 3, why, sizeof why);
    if (!m) fprintf(stderr, "seqcls_new_random: %s\n", why);
    assert_non_null(m);
    assert_non_null(seqcls_template(m));
    assert_int_equal(seqcls_save_dir(m, path, why, sizeof why), 0);
    const char *conv = "[{\"role\":\"user\",\"content\":\"Quelle est la capitale de la France ?\"}]";
    const char *texts[] = {"Paris, évidemment.", "Lyon"};
    judge_backend_t *b = s_backend(path, "prompts");
    tk_request_t q, *qs[] = {&q};
    tk_request(&q, 1, conv, texts, 2);
    tk_got_t got = {0};
    tk_judge(b, qs, 1, &got);
    assert_string_equal(got.r[0].error, "");
    chat_t cv;
    assert_int_equal(chat_parse(conv, strlen(conv), &cv, why, sizeof why), 0);
    for (int i = 0; i < 2; i++) {
        chat_t full = {xcalloc(2, sizeof(chat_msg_t)), 2};
        full.msgs[0] = cv.msgs[0];
        full.msgs[1] = (chat_msg_t){"assistant", (char *)texts[i]};
        char *text = chat_template_render(seqcls_template(m), &full, 0, why, sizeof why);
        assert_non_null(text);
        assert_non_null(strstr(text, "<|im_start|>assistant\n"));
        double want = s_text_score(m, text, 0);
        assert_true(fabs(got.r[0].values[i] - want) <= 1e-5 * (1 + fabs(want)));
        free(text), free(full.msgs);
    }
    chat_free(&cv);
    seqcls_free(&m);
    judge_backend_destroy(&b);
    free(tok), free(path);
    tu_done(dir);
}

/* --golden DIR: the scores of DIR/golden.json's sequences (grouped as its "groups" says, when
 * it says), one JSON array on stdout. */
static int s_golden(const char *dir) {
    char why[512], *path = xasprintf("%s/golden.json", dir);
    json_t *j = json_load_file(path, 0, NULL), *seqs = json_object_get(j, "sequences");
    free(path);
    seqcls_t *m = seqcls_load_dir(dir, why, sizeof why);
    if (!m || !json_is_array(seqs)) {
        fprintf(stderr, "golden: %s\n", m ? "no sequences" : why);
        return 1;
    }
    int n = (int)json_array_size(seqs), *len = xcalloc((size_t)n + 1, sizeof *len), *group = NULL;
    json_t *groups = json_object_get(j, "groups");
    if (json_array_size(groups) == (size_t)n) {
        group = xcalloc((size_t)n + 1, sizeof *group);
        for (int i = 0; i < n; i++) group[i] = (int)json_integer_value(json_array_get(groups, (size_t)i));
    }
    int32_t **ids = xcalloc((size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_t *s = json_array_get(seqs, (size_t)i);
        len[i] = (int)json_array_size(s);
        ids[i] = xcalloc((size_t)len[i] + 1, sizeof **ids);
        for (int t = 0; t < len[i]; t++) ids[i][t] = (int32_t)json_integer_value(json_array_get(s, (size_t)t));
    }
    double *out = xcalloc((size_t)n + 1, sizeof *out);
    int rc = seqcls_score_ids(m, (const int32_t *const *)ids, len, group, n, out, why, sizeof why);
    if (rc != 0) fprintf(stderr, "golden: %s\n", why);
    for (int i = 0; i < n && rc == 0; i++) printf("%s%.17g", i ? ", " : "[", out[i]);
    if (rc == 0) printf("]\n");
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids), free(len), free(out), free(group);
    seqcls_free(&m);
    json_decref(j);
    return rc != 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--golden")) return s_golden(argv[2]);
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seqcls_families),
        cmocka_unit_test(test_seqcls_refusals),
        cmocka_unit_test(test_seqcls_backend),
        cmocka_unit_test(test_seqcls_qwen3_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
