/* The generative judge (common/gen_judge.h, judge.kind generative) on tiny random causal models
 * with a real byte-level BPE tokenizer: its matrices are preference matrices (P + P^T = 1,
 * diagonal 1/2), both orders average p_first(i, j) and 1 - p_first(j, i) and count the
 * position bias, one order reads p_first(i, j) alone; the shared-prefix packed pass equals each
 * comparison's own forward pass (Llama with a ChatML template, and GPT-2 as raw text); labels
 * that begin with the same token and templates without a placeholder are refused by name; and
 * the backend answers JudgeRequests through the table, a conversation prompt included. */
#include "tests/judge_testkit.h"

#include <math.h>

#include "common/chat_text.h"
#include "common/config.h"
#include "common/folder_template.h"
#include "common/gen_judge.h"
#include "common/lm.h"
#include "common/prefix_pack.h"

static hf_config_t s_tiny(const char *family) {
    hf_config_t c = {.arch = HF_LLAMA, .bos_id = -1, .eos = {TK_IM_END}, .n_eos = 1};
    c.llama = (llama_config_t){.n_layer = 2, .d_model = 32, .n_head = 4, .n_kv_head = 2, .head_dim = 8, .d_ff = 48,
                               .vocab = TK_VOCAB + 3, .ctx = 384, .rms_eps = 1e-5, .rope_theta = 10000};
    if (!strcmp(family, "gpt2"))
        c.arch = HF_GPT2, c.gpt = (gpt_config_t){.n_layer = 2, .n_head = 4, .d_model = 32, .ctx = 384, .vocab = TK_VOCAB};
    snprintf(c.architecture, sizeof c.architecture, "%s", hf_arch_name(c.arch));
    return c;
}

/* A tiny random causal model folder at dir/NAME; chat: its tokenizer carries the ChatML template.
 * The weights are scaled up so the judge's answers are far from 1/2. */
static char *s_make(const char *dir, const char *family, int chat, const char *name) {
    char *tok = xasprintf("%s/tok-%d", dir, chat), *out = xasprintf("%s/%s", dir, name), why[512];
    tk_write_tokenizer(tok, chat);
    hf_config_t c = s_tiny(family);
    lm_t *m = lm_new_random(&c, tok, 3, why, sizeof why);
    if (!m) fprintf(stderr, "lm_new_random: %s\n", why);
    assert_non_null(m);
    float *p = lm_params(m);
    for (size_t i = 0; i < lm_n_params(m); i++) p[i] *= 4.0f;
    assert_int_equal(lm_save_dir(m, out, 0, 0, why, sizeof why), 0);
    lm_free(&m);
    free(tok);
    return out;
}

static const char *const s_responses[] = {"Paris is the capital.", "It is Lyon, I think", "ab12ab", "No idea."};

static void s_check_matrix(const double *P, int k) {
    for (int i = 0; i < k; i++) {
        assert_true(P[i * k + i] == 0.5);
        for (int j = 0; j < k; j++) {
            assert_true(P[i * k + j] >= 0 && P[i * k + j] <= 1);
            assert_true(fabs(P[i * k + j] + P[j * k + i] - 1) <= 1e-12);
        }
    }
}

/* p_first of one comparison by its own forward pass: no packing, no segments. */
static double s_alone(gen_judge_t *g, const int32_t *ids, int n) {
    lm_t *m = gen_judge_lm(g);
    int *t = xmalloc(sizeof(int) * (size_t)n), at = n - 1, a, b;
    for (int i = 0; i < n; i++) t[i] = ids[i];
    assert_int_equal(lm_forward(m, t, NULL, NULL, 1, n), 0);
    float *z = xmalloc(sizeof(float) * (size_t)lm_vocab(m));
    lm_logits_at(m, &at, 1, z);
    gen_judge_label_ids(g, &a, &b);
    double p = exp((double)z[a]) / (exp((double)z[a]) + exp((double)z[b]));
    free(z), free(t);
    return p;
}

/* Each family: the matrix is a preference matrix; both orders and one order are what the
 * single comparisons say; the packed pass shares a real prefix and equals the unpacked one. */
static void test_judge_generative_matrix(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512];
    const char *families[] = {"llama", "gpt2"};
    for (int f = 0; f < 2; f++) {
        char *path = s_make(dir, families[f], f == 0, families[f]);
        gen_judge_t *g = gen_judge_load(path, NULL, "A,B", why, sizeof why);
        if (!g) fprintf(stderr, "%s: %s\n", families[f], why);
        assert_non_null(g);
        chat_t c;
        chat_single_user(&c, "What is the capital of France?");
        int k = 4, n = k * (k - 1);
        /* the comparisons (i, j) for i != j, and their p_first one at a time */
        int32_t *ids[12];
        int len[12], q = 0;
        double alone[4][4];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                if (i == j) continue;
                len[q] = gen_judge_comparison_ids(g, &c, s_responses[i], s_responses[j], &ids[q], why, sizeof why);
                assert_true(len[q] > 20);
                alone[i][j] = s_alone(g, ids[q], len[q]);
                q++;
            }
        /* they share a prefix of more than the template's header */
        int shared = 0;
        while (shared < len[0] && ids[0][shared] == ids[n - 1][shared]) shared++;
        assert_true(shared > 20);
        if (f == 0) assert_int_equal(ids[0][0], TK_IM_START); /* the chat template rendered it */
        double packed[12];
        assert_int_equal(gen_judge_p_first(g, (const int32_t *const *)ids, len, n, packed, why, sizeof why), 0);
        q = 0;
        double spread = 0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                if (i == j) continue;
                assert_true(fabs(packed[q] - alone[i][j]) <= 1e-5);
                spread = fmax(spread, fabs(alone[i][j] - 0.5));
                q++;
            }
        assert_true(spread > 0.01); /* the comparisons are not all coin flips */
        double P[16], P1[16], bias = 0;
        uint64_t pairs = 0;
        assert_int_equal(gen_judge_matrix(g, &c, s_responses, k, 1, P, &bias, &pairs, why, sizeof why), 0);
        s_check_matrix(P, k);
        assert_int_equal(pairs, 6);
        double want_bias = 0;
        for (int i = 0; i < k; i++)
            for (int j = i + 1; j < k; j++) {
                assert_true(fabs(P[i * k + j] - (alone[i][j] + 1 - alone[j][i]) / 2) <= 1e-5);
                want_bias += alone[i][j] + alone[j][i] - 1;
            }
        assert_true(fabs(bias - want_bias) <= 1e-4);
        double b1 = 0;
        uint64_t p1 = 0;
        assert_int_equal(gen_judge_matrix(g, &c, s_responses, k, 0, P1, &b1, &p1, why, sizeof why), 0);
        s_check_matrix(P1, k);
        assert_int_equal(p1, 0);
        for (int i = 0; i < k; i++)
            for (int j = i + 1; j < k; j++) assert_true(fabs(P1[i * k + j] - alone[i][j]) <= 1e-5);
        for (int i = 0; i < n; i++) free(ids[i]);
        chat_free(&c);
        gen_judge_free(&g);
        free(path);
    }
    tu_done(dir);
}

/* Many comparisons (K 7, both orders: 42 of ~250 tokens, laid out in more rows than one forward
 * pass takes): the matrix is still what each comparison alone says. */
static void test_judge_generative_many(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512], *path = s_make(dir, "llama", 1, "m");
    gen_judge_t *g = gen_judge_load(path, NULL, "A,B", why, sizeof why);
    assert_non_null(g);
    enum { K = 7 };
    char *texts[K];
    for (int i = 0; i < K; i++)
        texts[i] = xasprintf("Response %d: the capital is %s, surely.", i,
                             i % 2 ? "Paris" : "Lyon");
    chat_t c;
    chat_single_user(&c, "What is the capital of France, and why?");
    double P[K * K], bias = 0;
    uint64_t pairs = 0;
    assert_int_equal(gen_judge_matrix(g, &c, (const char *const *)texts, K, 1, P, &bias, &pairs, why, sizeof why), 0);
    s_check_matrix(P, K);
    int32_t *ids[K * (K - 1)];
    int len[K * (K - 1)], q = 0;
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++, q += 2) {
            len[q] = gen_judge_comparison_ids(g, &c, texts[i], texts[j], &ids[q], why, sizeof why);
            len[q + 1] = gen_judge_comparison_ids(g, &c, texts[j], texts[i], &ids[q + 1], why, sizeof why);
            double want = (s_alone(g, ids[q], len[q]) + 1 - s_alone(g, ids[q + 1], len[q + 1])) / 2;
            assert_true(fabs(P[i * K + j] - want) <= 1e-5);
        }
    /* the layout gen_judge_p_first uses (rows of min(512, pass) tokens) needs two passes */
    prefix_pack_t pk;
    int pass = prefix_pack_pass_tokens(2, 32, 48);
    prefix_pack((const int32_t *const *)ids, len, NULL, q, 1, pass < 512 ? pass : 512, 0, &pk);
    assert_true(pk.B > prefix_pack_rows_per_pass(&pk, 4, (size_t)pass, (size_t)512 << 20));
    prefix_pack_free(&pk);
    for (int i = 0; i < q; i++) free(ids[i]);
    for (int i = 0; i < K; i++) free(texts[i]);
    chat_free(&c);
    gen_judge_free(&g);
    free(path);
    tu_done(dir);
}

/* The comparison text: the template's placeholders filled once (a response holding "{b}" stays
 * as it is), a conversation of several turns as User/Assistant paragraphs. */
static void test_judge_generative_fill(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512], *path = s_make(dir, "llama", 0, "raw");
    char *tmpl = xasprintf("%s/t.txt", dir);
    tu_write(tmpl, "Q: {prompt}\n1: {a}\n2: {b}\n{label_a} or {label_b}?");
    gen_judge_t *g = gen_judge_load(path, tmpl, "1,2", why, sizeof why);
    assert_non_null(g);
    chat_t c;
    assert_int_equal(chat_parse("[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"},"
                                "{\"role\":\"user\",\"content\":\"Capital?\"}]",
                                strlen("[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Hello\"},"
                                       "{\"role\":\"user\",\"content\":\"Capital?\"}]"),
                                &c, why, sizeof why),
                     0);
    char *text = gen_judge_fill(g, &c, "x {b} y", "Paris");
    assert_string_equal(text, "Q: User: Hi\n\nAssistant: Hello\n\nUser: Capital?\n1: x {b} y\n2: Paris\n1 or 2?");
    /* no chat template: the text itself, with the tokenizer's special tokens */
    int32_t *ids, *want;
    int n = gen_judge_comparison_ids(g, &c, "x {b} y", "Paris", &ids, why, sizeof why);
    int m = lm_encode_prompt(gen_judge_lm(g), text, &want, why, sizeof why);
    assert_int_equal(n, m);
    assert_memory_equal(ids, want, sizeof(int32_t) * (size_t)n);
    free(ids), free(want), free(text);
    chat_free(&c);
    gen_judge_free(&g);
    free(tmpl), free(path);
    tu_done(dir);
}

/* Refused by name: labels whose first tokens are equal, labels that are not two, a template
 * without {prompt}, {a} or {b}, a template file that is not there. */
static void test_judge_generative_refusals(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512], *path = s_make(dir, "llama", 1, "m");
    assert_null(gen_judge_load(path, NULL, "Ax,Ay", why, sizeof why));
    assert_non_null(strstr(why, "both labels begin with token"));
    assert_null(gen_judge_load(path, NULL, "A", why, sizeof why));
    assert_non_null(strstr(why, "not two labels"));
    assert_null(gen_judge_load(path, NULL, "A,B,C", why, sizeof why));
    assert_non_null(strstr(why, "not two labels"));
    const char *missing[] = {"{prompt}", "{a}", "{b}"};
    const char *tmpls[] = {"{a} vs {b}", "{prompt}: {b}", "{prompt}: {a} or {B}"};
    for (int i = 0; i < 3; i++) {
        char *t = xasprintf("%s/t%d.txt", dir, i);
        tu_write(t, tmpls[i]);
        assert_null(gen_judge_load(path, t, "A,B", why, sizeof why));
        assert_non_null(strstr(why, missing[i]));
        assert_non_null(strstr(why, t));
        free(t);
    }
    char *none = xasprintf("%s/absent.txt", dir);
    assert_null(gen_judge_load(path, none, "A,B", why, sizeof why));
    assert_non_null(strstr(why, "absent.txt"));
    /* multi-token labels: the first tokens, when they differ, are read */
    gen_judge_t *g = gen_judge_load(path, NULL, "Yes,No", why, sizeof why);
    assert_non_null(g);
    int a, b;
    gen_judge_label_ids(g, &a, &b);
    assert_int_equal(a, 'Y');
    assert_int_equal(b, 'N');
    gen_judge_free(&g);
    free(none), free(path);
    tu_done(dir);
}

/* Qwen3's real tokenizer and chat template (when tests/tokenizer's packages are installed): the
 * comparison is the template's rendering of one user message with the generation prompt, the
 * labels A and B are single tokens, and the packed pass equals the unpacked one. */
static void test_judge_generative_qwen3_tokenizer(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512], *tok = xasprintf("%s/tok", dir);
    if (!tk_qwen3_tokenizer(tok)) {
        tu_done(dir);
        free(tok);
        fprintf(stderr, "skipped: the Qwen3 tokenizer package is not installed (scripts/npm_deps.sh)\n");
        skip();
    }
    hf_config_t c = {.arch = HF_QWEN3, .bos_id = -1, .eos = {151645}, .n_eos = 1};
    snprintf(c.architecture, sizeof c.architecture, "%s", hf_arch_name(c.arch));
    c.llama = (llama_config_t){.n_layer = 1, .d_model = 16, .n_head = 2, .n_kv_head = 1, .head_dim = 8, .d_ff = 16,
                               .vocab = 151936, .ctx = 512, .rms_eps = 1e-6, .rope_theta = 1e6, .qk_norm = 1, .tied = 1};
    lm_t *m = lm_new_random(&c, tok, 9, why, sizeof why);
    assert_non_null(m);
    chat_template_t *chat = NULL;
    if (folder_chat_template(tok, &chat, why, sizeof why) != 1) fprintf(stderr, "Qwen3's chat template: %s\n", why);
    assert_non_null(chat);
    gen_judge_t *g = gen_judge_new(m, chat, NULL, NULL, "A,B", why, sizeof why);
    if (!g) fprintf(stderr, "gen_judge_load: %s\n", why);
    assert_non_null(g);
    int a, b;
    gen_judge_label_ids(g, &a, &b);
    assert_int_equal(a, 32); /* "A" and "B" in Qwen's vocabulary */
    assert_int_equal(b, 33);
    chat_t cv;
    chat_single_user(&cv, "Quelle est la capitale de la France ?");
    int32_t *ids[2];
    int len[2];
    len[0] = gen_judge_comparison_ids(g, &cv, "Paris, évidemment.", "Lyon", &ids[0], why, sizeof why);
    len[1] = gen_judge_comparison_ids(g, &cv, "Lyon", "Paris, évidemment.", &ids[1], why, sizeof why);
    assert_true(len[0] > 20 && len[1] > 20);
    assert_int_equal(ids[0][0], 151644); /* <|im_start|> */
    double p[2];
    assert_int_equal(gen_judge_p_first(g, (const int32_t *const *)ids, len, 2, p, why, sizeof why), 0);
    for (int i = 0; i < 2; i++) assert_true(fabs(p[i] - s_alone(g, ids[i], len[i])) <= 1e-5);
    free(ids[0]), free(ids[1]);
    chat_free(&cv);
    gen_judge_free(&g);
    free(tok);
    tu_done(dir);
}

static judge_backend_t *s_backend(const char *checkpoint, const char *task, int both) {
    spar_config_t cfg;
    config_defaults(&cfg);
    char err[512], *a = xasprintf("judge.checkpoint=%s", checkpoint), *t = xasprintf("task.kind=%s", task),
                   *o = xasprintf("judge.both_orders=%d", both);
    assert_int_equal(config_set(&cfg, "judge.kind=generative", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, a, err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, t, err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, o, err, sizeof err), 0);
    judge_backend_t *b = NULL;
    assert_int_equal(judge_backend_from_config(&cfg, NULL, NULL, NULL, &b), 0);
    assert_non_null(b);
    free(a), free(t), free(o);
    return b;
}

/* Through the backend table: K x K matrices for a plain-text prompt and for a conversation
 * (task prompts), the same as gen_judge_matrix gives; a malformed conversation refused; pairs
 * and the position bias counted (both orders) or not (one order); a bad config exits 2. */
static void test_judge_generative_backend(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), why[512], *path = s_make(dir, "llama", 1, "m");
    const char *conv = "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Capital?\"}]";
    judge_backend_t *b = s_backend(path, "prompts", 1);
    assert_int_equal(b->rewards, 0);
    assert_non_null(strstr(b->version, "generative-"));
    tk_request_t q1, q2, *qs[] = {&q1, &q2};
    tk_request(&q1, 1, conv, s_responses, 3);
    tk_request(&q2, 2, "[{\"role\":\"user\"}]", s_responses, 2);
    tk_got_t got = {0};
    tk_judge(b, qs, 2, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.r[0].error, "");
    assert_int_equal(got.r[0].n_preference, 9);
    s_check_matrix(got.r[0].values, 3);
    assert_non_null(strstr(got.r[1].error, "not a conversation"));
    gen_judge_t *g = gen_judge_load(path, NULL, "A,B", why, sizeof why);
    chat_t c;
    assert_int_equal(chat_parse(conv, strlen(conv), &c, why, sizeof why), 0);
    double P[9], bias = 0;
    uint64_t pairs = 0;
    assert_int_equal(gen_judge_matrix(g, &c, s_responses, 3, 1, P, &bias, &pairs, why, sizeof why), 0);
    for (int i = 0; i < 9; i++) assert_true(fabs(P[i] - got.r[0].values[i]) <= 1e-9);
    judge_stats_t st;
    judge_backend_stats(b, &st);
    assert_int_equal(st.pairs, 3);
    assert_int_equal(st.order_pairs, 3);
    assert_true(fabs(st.position_bias_sum - bias) <= 1e-9);
    chat_free(&c);
    judge_backend_destroy(&b);

    /* one order, plain text */
    b = s_backend(path, "styles", 0);
    tk_request(&q1, 3, "What is the capital of France?", s_responses, 4);
    memset(&got, 0, sizeof got);
    tk_judge(b, qs, 1, &got);
    assert_string_equal(got.r[0].error, "");
    chat_single_user(&c, "What is the capital of France?");
    double P4[16];
    assert_int_equal(gen_judge_matrix(g, &c, s_responses, 4, 0, P4, &bias, &pairs, why, sizeof why), 0);
    for (int i = 0; i < 16; i++) assert_true(fabs(P4[i] - got.r[0].values[i]) <= 1e-9);
    judge_backend_stats(b, &st);
    assert_int_equal(st.pairs, 6);
    assert_int_equal(st.order_pairs, 0);
    chat_free(&c);
    gen_judge_free(&g);
    judge_backend_destroy(&b);

    /* a config that names something unusable: exit status 2, nothing built */
    spar_config_t cfg;
    config_defaults(&cfg);
    char err[256];
    assert_int_equal(config_set(&cfg, "judge.kind=generative", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "judge.labels=A,A", err, sizeof err), 0);
    char *a = xasprintf("judge.checkpoint=%s", path);
    assert_int_equal(config_set(&cfg, a, err, sizeof err), 0);
    assert_int_equal(judge_backend_from_config(&cfg, NULL, NULL, NULL, &b), 2);
    assert_null(b);
    free(a), free(path);
    tu_done(dir);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judge_generative_matrix),
        cmocka_unit_test(test_judge_generative_many),
        cmocka_unit_test(test_judge_generative_fill),
        cmocka_unit_test(test_judge_generative_refusals),
        cmocka_unit_test(test_judge_generative_backend),
        cmocka_unit_test(test_judge_generative_qwen3_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
