/* backend — what a judge answers with, behind one table of operations: a batch of JudgeRequests
 * in, for each a K x K preference matrix, K rewards or an error out (through a sink, so a
 * backend never touches the judge's socket), the counters a heartbeat reports, and teardown.
 * Local backends (matrix, rule, reward, preference) answer before judge returns; remote answers
 * later, from its own socket (socket, pump) or at its deadlines (expire). Not the wire checks. */
#ifndef SPAR_JUDGE_BACKEND_H
#define SPAR_JUDGE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "common/chat.h"
#include "common/config.h"
#include "common/curve.h"
#include "common/judge_model.h"
#include "common/strmap.h"
#include "common/task.h"
#include "common/wire.h"

/* The most requests a backend takes in one judge call (a learned judge embeds them together). */
#define JUDGE_BATCH_MAX 64

/* One request, and the actor that asked. */
typedef struct {
    wire_peer_t from;
    const char *sender; /* its sender id, for the log of refusals */
    const Spar__JudgeRequest *request;
} judge_call_t;

/* Where answers go: reply(ctx, to, rep) sends rep to the actor `to`. */
typedef struct {
    void (*reply)(void *ctx, const wire_peer_t *to, Spar__JudgeReply *rep);
    void *ctx;
} judge_sink_t;

/* What a heartbeat reports of the backend. */
typedef struct {
    uint64_t pairs, ties;              /* pairs i < j answered, and those at P = 1/2 (equal rewards) */
    uint64_t cache_hits, cache_misses; /* a learned judge's embedding cache */
    /* a generative judge asking both orders: the sum over its pairs of
     * p_first(i, j) + p_first(j, i) - 1 (> 0: it favours the first position), and the pairs */
    double position_bias_sum;
    uint64_t order_pairs;
} judge_stats_t;

typedef struct judge_backend judge_backend_t;

typedef struct {
    /* Answers the n requests of calls (n <= the backend's batch) through sink. */
    void (*judge)(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink);
    void (*stats)(const judge_backend_t *b, judge_stats_t *out);
    /* Logs its own closing counters (caches) and frees b. */
    void (*destroy)(judge_backend_t *b);
    /* An asynchronous backend's socket to poll, what relays its answers, and what answers the
     * requests past their time at now_ms, returning when to call it again (NULL when local). */
    void *(*socket)(judge_backend_t *b);
    void (*pump)(judge_backend_t *b, const judge_sink_t *sink);
    int64_t (*expire)(judge_backend_t *b, int64_t now_ms, const judge_sink_t *sink);
} judge_backend_ops_t;

/* The part every backend shares (the first member of each backend's own struct). */
struct judge_backend {
    const judge_backend_ops_t *ops;
    char version[96];      /* the judge_version of its answers (remote relays its remote's) */
    char serving[256];     /* what it serves, for the start-up log */
    int rewards;           /* answers K rewards (a reward model), not a K x K matrix */
    int batch;             /* requests per judge call, 1..JUDGE_BATCH_MAX */
    judge_stats_t counted; /* pairs and ties answered so far */
    strmap_t *refused;     /* "sender reason" of the refusals logged (each once) */
};

/* The backend judge.kind names, logged and 0, or (why logged) the exit status: 2 for a config
 * that names something unusable, 1 when the remote judge cannot be connected. zctx, curve and
 * wire are the judge's (a remote backend's socket lives on them). */
int judge_backend_from_config(const spar_config_t *cfg, void *zctx, curve_t *curve, wire_t *wire,
                              judge_backend_t **out);

/* Each backend's constructor. NULL (why in why, or logged for remote) when it cannot be built. */
judge_backend_t *judge_backend_matrix(const spar_config_t *cfg, char *why, size_t whylen);
judge_backend_t *judge_backend_rule(const task_t *task);
judge_backend_t *judge_backend_remote(const spar_config_t *cfg, void *zctx, curve_t *curve, wire_t *wire);
/* Take m (which must be of their kind: NULL otherwise, m untouched); source names it in the log.
 * cache_entries: embeddings kept (0: none). */
judge_backend_t *judge_backend_reward(judge_model_t *m, uint32_t cache_entries, const char *source);
judge_backend_t *judge_backend_preference(judge_model_t *m, uint32_t cache_entries, const char *source);
/* judge.kind reward on a Hugging Face *ForSequenceClassification folder (judge.checkpoint):
 * common/seqcls.h's rewards of each response appended to the conversation. */
judge_backend_t *judge_backend_seqcls(const spar_config_t *cfg, char *why, size_t whylen);
/* judge.kind generative: common/gen_judge.h's pairwise LLM judge of a causal model folder. */
judge_backend_t *judge_backend_generative(const spar_config_t *cfg, char *why, size_t whylen);
/* Is DIR a Hugging Face sequence classifier's folder (config.json naming a
 * *ForSequenceClassification), rather than a spar judge-train folder? */
int judge_checkpoint_is_seqcls(const char *dir);

/* The table, called through. For a local backend socket is NULL, pump does nothing and expire
 * returns -1 (nothing is ever due). */
void judge_backend_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink);
void judge_backend_stats(const judge_backend_t *b, judge_stats_t *out);
void *judge_backend_socket(judge_backend_t *b);
void judge_backend_pump(judge_backend_t *b, const judge_sink_t *sink);
int64_t judge_backend_expire(judge_backend_t *b, int64_t now_ms, const judge_sink_t *sink);
void judge_backend_destroy(judge_backend_t **b);

/* For the local backends: answers call with P (K x K) or rewards (K), or when rc != 0 with the
 * error why (logged once per sender and reason, its figures aside), counting pairs and ties. */
void judge_backend_answer(judge_backend_t *b, const judge_call_t *call, const judge_sink_t *sink, const double *P,
                          const double *rewards, int rc, const char *why);
/* Answers each call with one(b, request, P, why, whylen) -> 0 or -1: a K x K matrix each. */
typedef int (*judge_one_fn)(judge_backend_t *b, const Spar__JudgeRequest *r, double *P, char *why, size_t whylen);
void judge_backend_each(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink,
                        judge_one_fn one);
/* The counted pairs and ties alone: the stats of a backend without a cache. */
void judge_backend_counted(const judge_backend_t *b, judge_stats_t *out);
/* The responses' texts (malloc'd): byte tokens up to end-of-text; free with judge_free_texts. */
char **judge_request_texts(const Spar__JudgeRequest *r);
void judge_free_texts(char **texts, size_t k);
/* The responses' texts as the actor rendered them (Response.text), for judges that read text
 * with a tokenizer of their own; a response without text falls back to its byte tokens as
 * judge_request_texts reads them. Free with judge_free_texts. */
char **judge_request_response_texts(const Spar__JudgeRequest *r);
/* The request's conversation: with chat_prompts (task.kind prompts) its prompt is a JSON
 * conversation (common/chat.h), else plain text, one user message. 0 or -1 with why. */
int judge_request_conversation(const Spar__JudgeRequest *r, int chat_prompts, chat_t *out, char *why, size_t whylen);

/* The closing log line of a backend's cache: "judge: WHAT cache H hits, M misses, hit rate R". */
void judge_backend_log_cache(const char *what, uint64_t hits, uint64_t misses);

#endif
