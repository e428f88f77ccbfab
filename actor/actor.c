/* actor — see actor.h. State: one lease at a time, a task per prompt of it (waiting to be
 * judged, waiting for its ack), and at most one weight transfer. Timers drive everything that
 * can be lost: hello, work requests, judge requests, submissions and chunk fetches. */
#include "actor/actor.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "common/curve.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/rng.h"
#include "common/transfer.h"
#include "common/util.h"
#include "common/wire.h"
#include "common/wire_scan.h"

#include "actor/judge_pool.h"

#define HELLO_RETRY_MS 1000
#define REQUEST_RETRY_MS 2000
/* What a lease may ask of this process (a learner is a peer too): samples of one lease, tokens
 * they may hold, and the longest wait a learner may prescribe. */
#define ACTOR_MAX_LEASE_SAMPLES (1 << 20)
#define ACTOR_MAX_LEASE_TOKENS (1LL << 26)
#define ACTOR_MAX_NEW_TOKENS 65536
#define ACTOR_MAX_TOP_K (1 << 20)
#define ACTOR_MAX_RETRY_MS 10000

typedef enum { TASK_GENERATING, TASK_JUDGING, TASK_SUBMITTED } task_state_t;

typedef struct {
    task_state_t state;
    uint32_t prompt;
    char *prompt_text;
    uint64_t iteration, version, lease_id;
    int k;     /* responses: the K samples, then n_opp opponents */
    int n_opp;
    policy_sample_t *samples;
    double *P;       /* the judge's K x K matrix, or NULL when it gave rewards */
    double *rewards; /* the judge's K rewards (a reward model), or NULL */
    char judge_version[128];
    uint64_t request_id;
    uint64_t judge;                /* id in the judge pool of the judge asked last (0: none yet) */
    int attempts, failures;        /* judge requests sent; of them timed out, refused or malformed */
    int64_t sent_ms;                /* when the current judge request went out */
    double latency_ms;              /* of the request that was answered */
    int64_t due_ms; /* generating: ready time; judging: deadline; submitted: re-send time */
} task_t;


typedef struct {
    const spar_config_t *cfg;
    wire_t wire;
    void *zctx, *ctl, *sub;
    curve_t *curve; /* security.curve: every socket a CURVE client */
    int curve_failed; /* a judge socket could not be made a CURVE client */
    /* the config's judges and the learner's (judge_pool.h: verified, deduplicated, bounded) */
    judge_pool_t pool;
    zmq_pollitem_t *items;
    uint64_t *item_ids;
    int cap_items;
    int64_t no_judge_logged_ms;

    int welcomed;
    uint64_t seed;
    uint32_t prompts; /* the run's prompt ids are below this (Welcome; 0: not said) */
    int64_t hello_at, heartbeat_at, request_at;
    int request_outstanding;

    policy_t *policy;
    uint64_t have_version;
    int has_policy;
    policy_t *ref; /* version 0, for Nash-MD's mixture opponents */
    transfer_fetch_t fetch;

    /* the current lease, until its prompts are all submitted */
    int lease_open;
    uint64_t lease_id, lease_iteration, lease_version;
    uint32_t *lease_prompts;
    char **lease_texts; /* the prompts' texts */
    int lease_n, lease_k;
    policy_sample_opts_t lease_opts;
    double lease_mix; /* > 0: also sample opponents from pi^(1-mix) pi_ref^mix */

    task_t *tasks;
    int n_tasks, cap_tasks;
    uint64_t next_request_id;
    uint64_t groups_sent;
    int stop;
} actor_t;

/* ---- sending ---------------------------------------------------------------------------- */

static void s_to_learner(actor_t *A, Spar__Envelope *env) { wire_send(&A->wire, A->ctl, NULL, env); }

static void s_hello(actor_t *A) {
    Spar__Hello h = SPAR__HELLO__INIT;
    h.role = SPAR__ROLE__ROLE_ACTOR;
    h.pid = (uint32_t)getpid();
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    h.host = host;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    s_to_learner(A, &env);
    A->hello_at = util_now_ms() + HELLO_RETRY_MS;
}

static void s_heartbeat(actor_t *A) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_ACTOR;
    hb.policy_version = A->has_policy ? A->have_version : 0;
    hb.bad_messages = A->wire.bad_messages;
    hb.groups_sent = A->groups_sent;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    s_to_learner(A, &env);
    A->heartbeat_at = util_now_ms() + A->cfg->actor.heartbeat_ms;
}

static void s_request_work(actor_t *A) {
    Spar__WorkRequest r = SPAR__WORK_REQUEST__INIT;
    r.have_version = A->have_version;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WORK_REQUEST;
    env.work_request = &r;
    s_to_learner(A, &env);
    A->request_outstanding = 1;
    A->request_at = util_now_ms() + REQUEST_RETRY_MS;
}

/* transfer's ask callback: one WeightsFetch. */
static void s_ask_chunk(void *arg, uint64_t version, uint32_t i) {
    actor_t *A = arg;
    Spar__WeightsFetch f = SPAR__WEIGHTS_FETCH__INIT;
    f.version = version;
    f.chunk_index = i;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_FETCH;
    env.weights_fetch = &f;
    s_to_learner(A, &env);
}

/* The task's K responses as protobuf messages, pointing into the task's samples; the caller
 * frees the block. Text is a printable rendering ("a3" for an action). */
typedef struct {
    Spar__Response *rs;
    Spar__Response **rp;
    char **text;
    int k;
} responses_t;

static void s_responses(const actor_t *A, const task_t *t, responses_t *out) {
    out->k = t->k;
    out->rs = xcalloc((size_t)t->k, sizeof *out->rs);
    out->rp = xcalloc((size_t)t->k, sizeof *out->rp);
    out->text = xcalloc((size_t)t->k, sizeof *out->text);
    for (int i = 0; i < t->k; i++) {
        const policy_sample_t *y = &t->samples[i];
        spar__response__init(&out->rs[i]);
        out->rs[i].tokens = y->tokens;
        out->rs[i].n_tokens = (size_t)y->n_tokens;
        out->rs[i].logprob = y->logprob;
        out->rs[i].token_logprobs = y->token_logprobs;
        out->rs[i].n_token_logprobs = (size_t)y->n_tokens;
        out->rs[i].text = out->text[i] = policy_response_text(A->policy, y->tokens, y->n_tokens);
        out->rp[i] = &out->rs[i];
    }
}

static void s_responses_free(responses_t *r) {
    for (int i = 0; i < r->k; i++) free(r->text[i]);
    free(r->rs);
    free(r->rp);
    free(r->text);
}

/* A tcp:// endpoint with a host name, resolved here to its IPv4 address. ZeroMQ resolves a name
 * on every reconnect, on the I/O thread that also serves the learner's and the other judges'
 * sockets: once a judge's name stops resolving (its container is gone and the resolver waits
 * on an upstream that does not answer), every socket of the actor would stall with it. Other
 * endpoints, and names that do not resolve now, are left as they are; a judge that comes back
 * at another address is found again through the learner's published pool. */
static void s_resolve_endpoint(const char *ep, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", ep);
    if (strncmp(ep, "tcp://", 6) != 0) return;
    const char *host = ep + 6, *colon = strrchr(host, ':');
    if (!colon || host[0] == '[' || host[0] == '*' || colon == host) return;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(colon - host), host);
    struct in_addr a;
    if (inet_pton(AF_INET, name, &a) == 1) return; /* already an address */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(name, NULL, &hints, &res) != 0 || !res) return;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((const struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
    freeaddrinfo(res);
    snprintf(out, outlen, "tcp://%s%s", ip, colon);
    log_info("judge %s is %s", ep, out);
}

/* The judge pool's sockets: a DEALER per judge endpoint. */
static void *s_judge_open(void *ctx, const char *endpoint) {
    actor_t *A = ctx;
    char ep[512];
    s_resolve_endpoint(endpoint, ep, sizeof ep);
    void *s = zmq_socket(A->zctx, ZMQ_DEALER);
    wire_socket_defaults(s, A->cfg->wire.max_frame_bytes);
    if (curve_client(A->curve, s, CURVE_JUDGE, "judge") != 0) {
        A->curve_failed = 1;
        zmq_close(s);
        return NULL;
    }
    if (zmq_connect(s, ep) != 0) {
        log_error("cannot connect to judge %s: %s", ep, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static void s_judge_close(void *ctx, void *sock) {
    (void)ctx;
    zmq_close(sock);
}

/* A Heartbeat to a judge the pool has not verified yet: its answer says what it is. */
static void s_probe(actor_t *A, int j) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_ACTOR;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    (void)wire_send(&A->wire, A->pool.e[j].sock, NULL, &env);
    jp_probe_sent(&A->pool, j, util_now_ms());
}

static const char *s_judge_name(const actor_t *A, uint64_t id) {
    int j = jp_find(&A->pool, id);
    return j >= 0 ? A->pool.e[j].endpoint : "(gone)";
}

static void s_send_judge(actor_t *A, task_t *t) {
    responses_t resp;
    s_responses(A, t, &resp);
    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = t->request_id = ++A->next_request_id;
    jr.prompt_id = t->prompt;
    jr.prompt = t->prompt_text;
    jr.responses = resp.rp;
    jr.n_responses = (size_t)t->k;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST;
    env.judge_request = &jr;
    int64_t now = util_now_ms();
    int last = t->attempts > 0 ? jp_find(&A->pool, t->judge) : -1; /* a retry goes to another judge */
    int j = jp_pick(&A->pool, last, now);
    if (j == -2) { /* every judge has its window full: the next reply makes room */
        t->due_ms = now + 5;
        s_responses_free(&resp);
        return;
    }
    if (j < 0) { /* no judge verified yet: wait for one */
        if (now >= A->no_judge_logged_ms) {
            log_info("no judge to ask yet (waiting for one to answer as a judge)");
            A->no_judge_logged_ms = now + 10000;
        }
        t->due_ms = now + 100;
        s_responses_free(&resp);
        return;
    }
    t->judge = A->pool.e[j].id;
    A->pool.e[j].in_flight++;
    wire_send(&A->wire, A->pool.e[j].sock, NULL, &env);
    t->attempts++;
    t->sent_ms = util_now_ms();
    t->state = TASK_JUDGING;
    t->due_ms = util_now_ms() + A->cfg->judge.timeout_ms;
    s_responses_free(&resp);
}

static void s_submit(actor_t *A, task_t *t) {
    responses_t resp;
    s_responses(A, t, &resp);
    Spar__RolloutGroup g = SPAR__ROLLOUT_GROUP__INIT;
    g.lease_id = t->lease_id;
    g.iteration = t->iteration;
    g.prompt_id = t->prompt;
    g.policy_version = t->version;
    g.prompt = t->prompt_text;
    g.responses = resp.rp;
    g.n_responses = (size_t)t->k;
    if (t->P) {
        g.preference = t->P;
        g.n_preference = (size_t)t->k * t->k;
    } else {
        g.rewards = t->rewards;
        g.n_rewards = (size_t)t->k;
    }
    g.judge_version = t->judge_version;
    g.actor_id = A->wire.sender_id;
    g.judge_attempts = (uint32_t)t->attempts;
    g.judge_latency_ms = t->latency_ms;
    g.judge_failures = (uint32_t)t->failures;
    g.n_opponents = (uint32_t)t->n_opp;
    Spar__Envelope env = SPAR__ENVELOPE__INIT;
    env.body_case = SPAR__ENVELOPE__BODY_ROLLOUT_GROUP;
    env.rollout_group = &g;
    s_to_learner(A, &env);
    if (t->state != TASK_SUBMITTED) A->groups_sent++;
    t->state = TASK_SUBMITTED;
    t->due_ms = util_now_ms() + A->cfg->actor.resend_ms;
    s_responses_free(&resp);
}

/* ---- tasks ------------------------------------------------------------------------------ */

static void s_task_free(task_t *t) {
    for (int i = 0; t->samples && i < t->k; i++) policy_sample_free(&t->samples[i]);
    free(t->samples);
    free(t->prompt_text);
    free(t->rewards);
    free(t->P);
}

static void s_task_remove(actor_t *A, int i) {
    s_task_free(&A->tasks[i]);
    A->tasks[i] = A->tasks[--A->n_tasks];
}

/* The lease's version is loaded: sample every prompt (the seed of each sample depends only on
 * run seed, iteration, prompt and sample index, so any actor draws the same responses), all
 * prompts' samples in one batch. */
static void s_start_lease(actor_t *A) {
    int64_t now = util_now_ms();
    int first = A->n_tasks, K = A->lease_k;
    for (int j = 0; j < A->lease_n; j++) {
        if (A->n_tasks == A->cap_tasks) {
            A->cap_tasks = A->cap_tasks ? 2 * A->cap_tasks : 16;
            A->tasks = xrealloc(A->tasks, sizeof(task_t) * (size_t)A->cap_tasks);
        }
        task_t *t = &A->tasks[A->n_tasks++];
        memset(t, 0, sizeof *t);
        t->prompt = A->lease_prompts[j];
        t->iteration = A->lease_iteration;
        t->version = A->lease_version;
        t->lease_id = A->lease_id;
        t->n_opp = A->lease_mix > 0 ? A->lease_k : 0;
        t->k = A->lease_k + t->n_opp;
        t->prompt_text = xstrdup(A->lease_texts[j]);
        t->samples = xcalloc((size_t)t->k, sizeof *t->samples);
        t->state = TASK_GENERATING;
        t->due_ms = now + A->cfg->actor.delay_ms * (j + 1);
    }
    /* samples 0..K-1 from the policy; with a mixture, K opponents K..2K-1 from pi^(1-mix) pi_ref^mix */
    int per = A->lease_mix > 0 ? 2 * K : K, n = A->lease_n * per;
    policy_seq_t *q = xcalloc((size_t)n, sizeof *q);
    rng_t *rngs = xmalloc(sizeof(rng_t) * (size_t)n);
    policy_sample_t *out = xcalloc((size_t)n, sizeof *out);
    for (int j = 0; j < A->lease_n; j++)
        for (int i = 0; i < per; i++) { /* samples of all prompts first, then all opponents */
            task_t *t = &A->tasks[first + j];
            int at = i < K ? j * K + i : A->lease_n * K + j * K + (i - K);
            q[at] = (policy_seq_t){(int)t->prompt, t->prompt_text, NULL, 0};
            rng_stream(&rngs[at], A->seed, t->iteration, t->prompt, (uint64_t)i);
        }
    int nk = A->lease_n * K, rc = policy_generate(A->policy, q, nk, rngs, &A->lease_opts, out);
    if (rc == 0 && per > K)
        rc = policy_generate_mixture(A->policy, A->ref, A->lease_mix, q + nk, nk, rngs + nk, &A->lease_opts, out + nk);
    if (rc != 0) {
        /* a prompt this policy cannot answer: the lease expires and the learner re-issues it */
        log_error("cannot sample lease %llu: a prompt does not fit the policy", (unsigned long long)A->lease_id);
        for (int i = 0; i < n; i++) policy_sample_free(&out[i]);
        for (int j = A->lease_n - 1; j >= 0; j--) s_task_remove(A, first + j);
    } else {
        for (int j = 0; j < A->lease_n; j++)
            for (int i = 0; i < per; i++)
                A->tasks[first + j].samples[i] = out[i < K ? j * K + i : nk + j * K + (i - K)];
    }
    free(q), free(rngs), free(out);
    A->lease_open = 0;
}

/* ---- handlers --------------------------------------------------------------------------- */

/* Starts a transfer (ask: its first chunks are asked for now). Returns 0, or -1 (a size no
 * weights have: counted as a bad message, a learner is a peer like any other; or out of memory). */
static int s_start_fetch(actor_t *A, uint64_t version, uint32_t n_chunks, uint64_t total, const uint8_t *digest,
                         int ask) {
    char why[160];
    int rc = transfer_fetch_start(&A->fetch, version, n_chunks, total, digest, ask, util_now_ms(), why, sizeof why);
    if (rc == -1) wire_count_bad(&A->wire, "learner", why);
    return rc < 0 ? -1 : 0;
}

/* Starts the open lease once every policy it needs is here, or fetches what is missing: pi_ref
 * (version 0) for a lease with mixture opponents, then the lease's version. */
static void s_lease_ready(actor_t *A) {
    if (!A->lease_open) return;
    uint64_t need = A->lease_version;
    if (A->lease_mix > 0 && !A->ref) need = 0;
    else if (A->has_policy && A->have_version == A->lease_version) {
        s_start_lease(A);
        return;
    }
    if (!A->fetch.active || A->fetch.version != need) (void)s_start_fetch(A, need, 1, 0, NULL, 1); /* size from the first chunk */
}

/* A verified blob: loaded, checked to be the version it claims, and run if it is newer or the
 * open lease's. */
static void s_fetch_done(actor_t *A, uint64_t version, uint8_t *blob, size_t len) {
    char why[256];
    uint64_t v = 0;
    policy_t *p = policy_load(blob, len, &v, why, sizeof why);
    if (!p || v != version) {
        log_warn("weights v%llu unusable: %s", (unsigned long long)version, p ? "version mismatch" : why);
        policy_destroy(&p);
        return;
    }
    if (v == 0) { /* pi_ref, whatever else it is */
        policy_destroy(&A->ref);
        A->ref = policy_clone(p);
    }
    if (!A->has_policy || v >= A->have_version || (A->lease_open && v == A->lease_version)) {
        policy_destroy(&A->policy);
        A->policy = p;
        A->have_version = v;
        A->has_policy = 1;
        log_info("running weights v%llu", (unsigned long long)v);
    } else {
        policy_destroy(&p);
    }
    s_lease_ready(A);
}

static void s_on_chunk(actor_t *A, const Spar__WeightsChunk *c) {
    char why[160];
    int64_t now = util_now_ms();
    switch (transfer_fetch_accept(&A->fetch, c, now, why, sizeof why)) {
    case TRANSFER_BAD: wire_count_bad(&A->wire, "learner", why); break;
    case TRANSFER_REFUSED:
        if (!A->request_outstanding) A->request_at = now;
        break;
    case TRANSFER_COMPLETE: {
        size_t len;
        uint64_t version = A->fetch.version;
        uint8_t *blob = transfer_fetch_take(&A->fetch, &len);
        s_fetch_done(A, version, blob, len);
        free(blob);
        break;
    }
    default: break;
    }
}

static void s_free_texts(actor_t *A) {
    for (int i = 0; A->lease_texts && i < A->lease_n; i++) free(A->lease_texts[i]);
    free(A->lease_texts);
    A->lease_texts = NULL;
}

/* The counts of a grant checked against what this run and this process can hold (wire checked
 * the message's own consistency). Returns 1 with why when the grant is refused. */
static int s_grant_out_of_range(const actor_t *A, const Spar__WorkGrant *g, char *why, size_t wl) {
    for (size_t i = 0; A->prompts && i < g->n_prompt_ids; i++)
        if (g->prompt_ids[i] >= A->prompts) {
            snprintf(why, wl, "work grant names prompt %u of a run of %u prompts", g->prompt_ids[i], A->prompts);
            return 1;
        }
    int mix = g->opponent_mix > 0 && g->opponent_mix <= 1;
    uint64_t per = (uint64_t)g->samples_per_prompt * (mix ? 2 : 1), samples = per * g->n_prompt_ids;
    uint64_t max_new = g->max_new ? g->max_new : 1;
    if (per > WIRE_MAX_RESPONSES || samples > ACTOR_MAX_LEASE_SAMPLES || max_new > ACTOR_MAX_NEW_TOKENS ||
        samples * max_new > (uint64_t)ACTOR_MAX_LEASE_TOKENS || g->top_k > ACTOR_MAX_TOP_K) {
        snprintf(why, wl, "work grant of %zu prompts x %llu responses x %llu tokens (top_k %u) exceeds what an actor holds",
                 g->n_prompt_ids, (unsigned long long)per, (unsigned long long)max_new, g->top_k);
        return 1;
    }
    return 0;
}

static void s_on_grant(actor_t *A, const Spar__WorkGrant *g) {
    A->request_outstanding = 0;
    A->request_at = util_now_ms(); /* the next request goes out once this work is done */
    if (g->hello_first) { /* the learner does not know this connection (it restarted): Hello again */
        if (A->welcomed) log_info("the learner asks for a Hello (it restarted?): saying hello again");
        A->welcomed = 0;
        A->hello_at = util_now_ms();
        return;
    }
    if (g->n_prompt_ids > 0 && g->lease_id == A->lease_id && g->iteration == A->lease_iteration)
        return; /* the same lease again (a repeated request): already being answered */
    if (g->n_prompt_ids == 0) {
        uint32_t wait = g->retry_ms ? g->retry_ms : 50;
        A->request_at = util_now_ms() + (wait < ACTOR_MAX_RETRY_MS ? wait : ACTOR_MAX_RETRY_MS);
        return;
    }
    char why[200];
    if (s_grant_out_of_range(A, g, why, sizeof why)) { /* refused: ask again later */
        wire_count_bad(&A->wire, "learner", why);
        A->request_at = util_now_ms() + REQUEST_RETRY_MS;
        return;
    }
    free(A->lease_prompts);
    A->lease_prompts = xmalloc(sizeof(uint32_t) * g->n_prompt_ids);
    memcpy(A->lease_prompts, g->prompt_ids, sizeof(uint32_t) * g->n_prompt_ids);
    s_free_texts(A);
    A->lease_texts = xcalloc(g->n_prompt_ids, sizeof(char *));
    for (size_t i = 0; i < g->n_prompt_ids; i++) /* matrix games carry no text: name them */
        A->lease_texts[i] = g->n_prompts ? xstrdup(g->prompts[i]) : xasprintf("game-%u", g->prompt_ids[i]);
    A->lease_opts = (policy_sample_opts_t){g->temperature, (int)g->top_k, g->top_p > 0 ? g->top_p : 1.0,
                                           g->max_new ? (int)g->max_new : 1};
    A->lease_n = (int)g->n_prompt_ids;
    A->lease_id = g->lease_id;
    A->lease_iteration = g->iteration;
    A->lease_version = g->policy_version;
    A->lease_k = (int)g->samples_per_prompt;
    A->lease_mix = g->opponent_mix > 0 && g->opponent_mix <= 1 ? g->opponent_mix : 0;
    A->lease_open = 1;
    s_lease_ready(A);
}

static void s_on_ack(actor_t *A, const Spar__RolloutAck *a) {
    for (int i = 0; i < A->n_tasks; i++) {
        task_t *t = &A->tasks[i];
        if (t->state != TASK_SUBMITTED || t->iteration != a->iteration || t->prompt != a->prompt_id) continue;
        if (a->status == SPAR__ACK_STATUS__ACK_STALE || a->status == SPAR__ACK_STATUS__ACK_REJECTED)
            log_warn("group for prompt %u of iteration %llu was %s", a->prompt_id, (unsigned long long)a->iteration,
                     a->status == SPAR__ACK_STATUS__ACK_STALE ? "stale" : "rejected");
        s_task_remove(A, i);
        return;
    }
}

/* The task's request is over (answered, refused, timed out): room in its judge's window. */
static void s_request_over(actor_t *A, const task_t *t) {
    int j = jp_find(&A->pool, t->judge);
    if (j >= 0 && A->pool.e[j].in_flight > 0) A->pool.e[j].in_flight--;
}

/* A judge request failed (timed out, refused, or answered with something else): ask again, the
 * next judge in turn, after a backoff that doubles with each attempt (50 ms .. 3.2 s). */
static void s_judge_failed(actor_t *A, task_t *t, const char *why) {
    s_request_over(A, t);
    int64_t backoff = (int64_t)50 << (t->attempts < 6 ? t->attempts : 6);
    t->failures++;
    log_warn("judge %s failed on prompt %u (%s); asking again in %lld ms", s_judge_name(A, t->judge), t->prompt, why,
             (long long)backoff);
    t->state = TASK_GENERATING; /* the timer re-sends it */
    t->due_ms = util_now_ms() + backoff;
}

static void s_on_judge_reply(actor_t *A, uint64_t judge, const Spar__JudgeReply *r) {
    for (int i = 0; i < A->n_tasks; i++) {
        task_t *t = &A->tasks[i];
        /* only the judge asked may answer (request ids are no secret) */
        if (t->state != TASK_JUDGING || t->request_id != r->request_id || t->judge != judge) continue;
        int refused = r->error && r->error[0];
        int matrix = r->n_preference == (size_t)t->k * t->k, rewards = !matrix && r->n_rewards == (size_t)t->k;
        if (refused || r->k != (uint32_t)t->k || (!matrix && !rewards)) {
            if (!refused) A->wire.bad_messages++; /* a valid frame, but not an answer to this request */
            s_judge_failed(A, t, refused ? r->error : "reply does not match the request");
            return;
        }
        s_request_over(A, t);
        t->latency_ms = (double)(util_now_ms() - t->sent_ms);
        if (matrix) {
            t->P = xmalloc(sizeof(double) * r->n_preference);
            memcpy(t->P, r->preference, sizeof(double) * r->n_preference);
        } else { /* the learner turns rewards into Bradley-Terry preferences */
            t->rewards = xmalloc(sizeof(double) * r->n_rewards);
            memcpy(t->rewards, r->rewards, sizeof(double) * r->n_rewards);
        }
        snprintf(t->judge_version, sizeof t->judge_version, "%s", r->judge_version);
        s_submit(A, t);
        return;
    }
    /* A reply to a request already answered by another judge: nothing to do. */
}

static void s_on_learner(actor_t *A, Spar__Envelope *in) {
    switch (in->body_case) {
    case SPAR__ENVELOPE__BODY_WELCOME:
        if (!A->welcomed) log_info("joined run %s (learner at v%llu)", in->welcome->run_id,
                                   (unsigned long long)in->welcome->current_version);
        A->welcomed = 1;
        A->request_at = util_now_ms();
        A->seed = in->welcome->seed;
        A->prompts = in->welcome->prompts;
        if (in->welcome->n_judges) jp_published(&A->pool, in->welcome->judges, in->welcome->n_judges, util_now_ms());
        snprintf(A->wire.run_id, sizeof A->wire.run_id, "%s", in->welcome->run_id);
        break;
    case SPAR__ENVELOPE__BODY_WORK_GRANT: s_on_grant(A, in->work_grant); break;
    case SPAR__ENVELOPE__BODY_ROLLOUT_ACK: s_on_ack(A, in->rollout_ack); break;
    case SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK: s_on_chunk(A, in->weights_chunk); break;
    case SPAR__ENVELOPE__BODY_HEARTBEAT:
        if (in->heartbeat->hello_first && A->welcomed) { /* the learner no longer knows this connection */
            log_info("the learner asks for a Hello (it restarted?): saying hello again");
            A->welcomed = 0;
            A->hello_at = util_now_ms();
        }
        break;
    case SPAR__ENVELOPE__BODY_SHUTDOWN:
        log_info("learner says: %s", in->shutdown->reason);
        A->stop = 1;
        break;
    default:
        A->wire.bad_messages++;
        log_warn("dropped %s from the learner: not a message for an actor", wire_body_name(in));
    }
}

static void s_on_broadcast(actor_t *A, Spar__Envelope *in) {
    if (in->body_case == SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE) {
        const Spar__WeightsAvailable *w = in->weights_available;
        int have = A->has_policy && A->have_version == w->version;
        int getting = A->fetch.active && A->fetch.version == w->version;
        if (A->welcomed && !have && !getting)
            (void)s_start_fetch(A, w->version, w->n_chunks, w->total_bytes, w->digest.data, 1);
    } else if (in->body_case == SPAR__ENVELOPE__BODY_SHUTDOWN) {
        log_info("learner broadcast: %s", in->shutdown->reason);
        A->stop = 1;
    } else if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_POOL) {
        jp_published(&A->pool, in->judge_pool->endpoints, in->judge_pool->n_endpoints, util_now_ms());
    }
}

/* ---- timers ----------------------------------------------------------------------------- */

static int64_t s_timers(actor_t *A) {
    int64_t now = util_now_ms(), next = now + 200;
#define NEXT(t) do { if ((t) < next) next = (t); } while (0)
    if (!A->welcomed) {
        if (now >= A->hello_at) s_hello(A);
        NEXT(A->hello_at);
        return next;
    }
    if (now >= A->heartbeat_at) s_heartbeat(A);
    NEXT(A->heartbeat_at);
    jp_tick(&A->pool, now);
    for (int j = 0; j < A->pool.n; j++)
        if (jp_probe_due(&A->pool, j, now)) s_probe(A, j);
    NEXT(jp_next_ms(&A->pool, now));
    if (A->fetch.active) NEXT(transfer_fetch_tick(&A->fetch, now));
    int busy = A->lease_open;
    for (int i = 0; i < A->n_tasks; i++) {
        task_t *t = &A->tasks[i];
        if (t->state != TASK_SUBMITTED) busy = 1;
        if (now < t->due_ms) {
            NEXT(t->due_ms);
            continue;
        }
        if (t->state == TASK_GENERATING) s_send_judge(A, t);
        else if (t->state == TASK_JUDGING) {
            int j = jp_find(&A->pool, t->judge);
            if (j >= 0) jp_strike(&A->pool, j, now);
            s_judge_failed(A, t, "no reply before judge.timeout_ms");
        }
        else s_submit(A, t);
        NEXT(t->due_ms);
    }
    /* request_at: an unanswered request is sent again then, and an empty grant's retry_ms is
     * honoured (it was not: an idle actor asked again at once, as fast as the learner answered) */
    if (!busy && now >= A->request_at) s_request_work(A);
    if (!busy) NEXT(A->request_at);
#undef NEXT
    return next;
}

/* ---- setup and main --------------------------------------------------------------------- */

/* Returns 0, -1 (cannot connect) or -2 (a key the config names cannot be read). */
static int s_connect(actor_t *A) {
    A->zctx = zmq_ctx_new();
    A->ctl = zmq_socket(A->zctx, ZMQ_DEALER);
    A->sub = zmq_socket(A->zctx, ZMQ_SUB);
    wire_socket_defaults(A->ctl, A->cfg->wire.max_frame_bytes);
    wire_socket_defaults(A->sub, A->cfg->wire.max_frame_bytes);
    zmq_setsockopt(A->ctl, ZMQ_ROUTING_ID, A->wire.sender_id, strlen(A->wire.sender_id));
    zmq_setsockopt(A->sub, ZMQ_SUBSCRIBE, "", 0);
    char err[1024];
    if (!(A->curve = curve_new(A->zctx, A->cfg, err, sizeof err))) {
        log_error("config error: %s", err);
        return -2;
    }
    if (curve_client(A->curve, A->ctl, CURVE_LEARNER, "learner.control") != 0 ||
        curve_client(A->curve, A->sub, CURVE_LEARNER, "learner.publish") != 0)
        return -2;
    if (zmq_connect(A->ctl, A->cfg->learner.control) != 0 || zmq_connect(A->sub, A->cfg->learner.publish) != 0) {
        log_error("cannot connect to the learner at %s / %s: %s", A->cfg->learner.control, A->cfg->learner.publish,
                  zmq_strerror(zmq_errno()));
        return -1;
    }
    jp_init(&A->pool, &(jp_io_t){s_judge_open, s_judge_close, A}, A->cfg->judge.timeout_ms);
    char list[sizeof A->cfg->judge.endpoints];
    snprintf(list, sizeof list, "%s", A->cfg->judge.endpoints);
    int64_t now = util_now_ms();
    for (char *save = NULL, *ep = strtok_r(list, ", ", &save); ep; ep = strtok_r(NULL, ", ", &save))
        if (jp_add_config(&A->pool, ep, now) < 0) {
            if (A->curve_failed) return -2;
            if (A->pool.n >= JP_MAX_ENTRIES) break;
            return -1;
        }
    if (A->pool.n == 0) {
        log_error("judge.endpoints names no judge");
        return -1;
    }
    return 0;
}

/* Bad messages from a judge's socket (two frames, garbage): a strike, and the requests waiting
 * on it are asked elsewhere now rather than after their timeout. */
static void s_judge_misbehaved(actor_t *A, int j) {
    uint64_t id = A->pool.e[j].id;
    jp_strike(&A->pool, j, util_now_ms());
    for (int i = 0; i < A->n_tasks; i++)
        if (A->tasks[i].state == TASK_JUDGING && A->tasks[i].judge == id) s_judge_failed(A, &A->tasks[i], "bad message");
}

/* Everything waiting on judge j's socket. */
static void s_drain_judge(actor_t *A, uint64_t id) {
    for (;;) {
        int j = jp_find(&A->pool, id); /* a heartbeat may have made it an alias or evicted it */
        if (j < 0 || !A->pool.e[j].sock || !wire_readable(A->pool.e[j].sock)) return;
        uint64_t bad = A->wire.bad_messages;
        Spar__Envelope *in = wire_recv(&A->wire, A->pool.e[j].sock, 0, NULL);
        if (!in) {
            if (A->wire.bad_messages != bad) s_judge_misbehaved(A, j);
            continue;
        }
        if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REPLY) {
            if (jp_usable(&A->pool, j)) {
                jp_alive(&A->pool, j);
                s_on_judge_reply(A, id, in->judge_reply);
            } else { /* an endpoint not verified as a judge was never asked */
                wire_count_bad(&A->wire, A->pool.e[j].endpoint, "judge reply from an endpoint not verified as a judge");
            }
        } else if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
            if (jp_on_heartbeat(&A->pool, j, in->heartbeat->role == SPAR__ROLE__ROLE_JUDGE, in->sender_id,
                                util_now_ms()) == JP_HB_NOT_JUDGE)
                wire_count_bad(&A->wire, in->sender_id, "heartbeat from a judge endpoint, not as a judge");
        } else {
            char why[96];
            snprintf(why, sizeof why, "%s from a judge: not a judge reply", wire_body_name(in));
            wire_count_bad(&A->wire, in->sender_id, why);
            if ((j = jp_find(&A->pool, id)) >= 0) s_judge_misbehaved(A, j);
        }
        wire_free(in);
    }
}

static void s_poll(actor_t *A, int64_t until) {
    if (A->cap_items < 2 + A->pool.n) {
        A->cap_items = 2 + A->pool.n + 16;
        A->items = xrealloc(A->items, sizeof *A->items * (size_t)A->cap_items);
        A->item_ids = xrealloc(A->item_ids, sizeof *A->item_ids * (size_t)A->cap_items);
    }
    zmq_pollitem_t *items = A->items;
    int n = 0;
    items[n++] = (zmq_pollitem_t){A->ctl, 0, ZMQ_POLLIN, 0};
    items[n++] = (zmq_pollitem_t){A->sub, 0, ZMQ_POLLIN, 0};
    for (int j = 0; j < A->pool.n; j++)
        if (A->pool.e[j].sock) {
            A->item_ids[n] = A->pool.e[j].id;
            items[n++] = (zmq_pollitem_t){A->pool.e[j].sock, 0, ZMQ_POLLIN, 0};
        }
    long wait = (long)(until - util_now_ms());
    if (zmq_poll(items, n, wait < 0 ? 0 : wait) <= 0) return;
    Spar__Envelope *in;
    while (wire_readable(A->ctl))
        if ((in = wire_recv(&A->wire, A->ctl, 0, NULL))) {
            s_on_learner(A, in);
            wire_free(in);
        }
    while (wire_readable(A->sub))
        if ((in = wire_recv(&A->wire, A->sub, 0, NULL))) {
            s_on_broadcast(A, in);
            wire_free(in);
        }
    for (int i = 2; i < n; i++)
        if (items[i].revents & ZMQ_POLLIN) s_drain_judge(A, A->item_ids[i]);
}

int actor_main(const spar_config_t *cfg, const char *id) {
    static actor_t A;
    memset(&A, 0, sizeof A);
    A.cfg = cfg;
    transfer_fetch_init(&A.fetch, s_ask_chunk, &A);
    char sid[128];
    util_process_id(id && id[0] ? id : "actor", sid, sizeof sid);
    wire_init(&A.wire, sid, cfg->wire.max_frame_bytes);
    log_set_name(id && id[0] ? id : "actor");
    util_install_stop_signals();
    if (cfg->policy.kind == POLICY_GPT) gpt_set_threads((int)cfg->gpt.threads);
    int status = 0, rc = s_connect(&A);
    if (rc != 0) status = rc == -2 ? 2 : 1;
    else log_info("actor %s: learner %s, %d judge(s) in its config", sid, cfg->learner.control, A.pool.n);
    while (status == 0 && !A.stop && !util_stop_requested()) {
        int64_t next = s_timers(&A);
        s_poll(&A, next);
    }
    log_info("actor stopping: %llu groups sent, %llu bad messages", (unsigned long long)A.groups_sent,
             (unsigned long long)A.wire.bad_messages);
    if (A.ctl && A.welcomed && !A.stop) { /* stopped by a signal: tell the learner, so it re-issues our lease now */
        int linger = 500; /* let the goodbye leave before the socket closes */
        zmq_setsockopt(A.ctl, ZMQ_LINGER, &linger, sizeof linger);
        (void)wire_send_shutdown(&A.wire, A.ctl, NULL, "actor stopping");
    }
    for (int i = 0; i < A.n_tasks; i++) s_task_free(&A.tasks[i]);
    free(A.tasks);
    s_free_texts(&A);
    free(A.lease_prompts);
    transfer_fetch_free(&A.fetch);
    policy_destroy(&A.policy);
    policy_destroy(&A.ref);
    jp_free(&A.pool);
    free(A.items);
    free(A.item_ids);
    if (A.ctl) zmq_close(A.ctl);
    if (A.sub) zmq_close(A.sub);
    curve_destroy(&A.curve);
    if (A.zctx) zmq_ctx_term(A.zctx);
    wire_fini(&A.wire);
    return status;
}
