/* CURVE and ZAP (common/curve): key files and their errors, the start-up check of the security
 * section, and a real judge process with security.curve on: a client with an allowed key gets
 * its JudgeReply; a client whose key is not allowed, and a plain (non-CURVE) one, get nothing
 * and give nothing (the judge serves no request of theirs), and the judge's log names the
 * refused key by its short form. */
#include "tests/testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/util.h"
#include "common/wire.h"

#define GOOD_KEY "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7" /* 40 Z85 characters */

/* Expects curve_read_key to fail on a file holding `text`, with every `want` in the message. */
static void s_expect_key_error(const char *dir, const char *file, const char *text, const char *cfg_key,
                               const char *want1, const char *want2) {
    char *path = xasprintf("%s/%s", dir, file);
    if (text) tu_write(path, text);
    char z85[CURVE_Z85_LEN + 1], err[1024] = "";
    assert_int_equal(curve_read_key(path, cfg_key, z85, err, sizeof err), -1);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("error '%s' lacks '%s' / '%s'", err, want1, want2 ? want2 : "");
    free(path);
}

static void test_curve_key_file_errors(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *missing = xasprintf("%s/missing.key", dir);
    s_expect_key_error(dir, "missing.key", NULL, "security.key", missing, "security.key: cannot read");
    free(missing);
    /* the line of the bad key, the option, and never the secret itself */
    s_expect_key_error(dir, "short.key", "# a comment\nrq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\n", "security.key",
                       "short.key:2: security.key: not a CURVE key: 39 characters", NULL);
    s_expect_key_error(dir, "char.key", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y~7\n", "security.key",
                       "char.key:1: security.key: not a CURVE key: character 39 is not Z85", NULL);
    char *err_text = xasprintf("%s\n%s\n", GOOD_KEY, GOOD_KEY);
    s_expect_key_error(dir, "two.pub", err_text, "security.judge_public",
                       "two.pub:2: security.judge_public: a second key", NULL);
    free(err_text);
    s_expect_key_error(dir, "empty.pub", "# only a comment\n\n", "security.learner_public", "holds no key", NULL);
    s_expect_key_error(dir, "judge.pub", GOOD_KEY "\n", "security.key", "security.key: a public key", NULL);
    s_expect_key_error(dir, ".", NULL, "security.key", "not a regular file", NULL);

    /* a good file: comments, blanks, surrounding space and CRLF are fine; '#' may start a key */
    char *ok = xasprintf("%s/ok.pub", dir);
    tu_write(ok, "# spar CURVE public key\r\n\n  " GOOD_KEY "  \r\n");
    char z85[CURVE_Z85_LEN + 1], err[1024];
    assert_int_equal(curve_read_key(ok, "security.allowed", z85, err, sizeof err), 0);
    assert_string_equal(z85, GOOD_KEY);
    tu_write(ok, "#q:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n");
    assert_int_equal(curve_read_key(ok, "security.allowed", z85, err, sizeof err), 0);
    assert_int_equal(z85[0], '#');
    char shortk[9];
    curve_short(GOOD_KEY, shortk);
    assert_string_equal(shortk, "rq:rM>}U");
    free(ok);
    tu_done(dir);
}

static void test_curve_keygen_writes_private_pairs(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), err[1024];
    assert_int_equal(curve_keygen(dir, "learner", err, sizeof err), 0);
    char *key = xasprintf("%s/learner.key", dir), *pub = xasprintf("%s/learner.pub", dir);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char sec[CURVE_Z85_LEN + 1], pk[CURVE_Z85_LEN + 1], derived[CURVE_Z85_LEN + 1];
    assert_int_equal(curve_read_key(key, "security.key", sec, err, sizeof err), 0);
    assert_int_equal(curve_read_key(pub, "security.allowed", pk, err, sizeof err), 0);
    assert_int_equal(zmq_curve_public(derived, sec), 0);
    assert_string_equal(derived, pk); /* the pair belongs together */
    /* never over an existing key; names are plain */
    assert_int_equal(curve_keygen(dir, "learner", err, sizeof err), -1);
    assert_non_null(strstr(err, "exists"));
    assert_int_equal(curve_keygen(dir, "../up", err, sizeof err), -1);
    assert_int_equal(curve_keygen(dir, "", err, sizeof err), -1);
    free(key), free(pub);

    /* spar run's keys: one pair per role under RUN/keys, kept when the run resumes */
    spar_config_t cfg;
    config_defaults(&cfg);
    char *run = xasprintf("%s/run", dir), *lpub = xasprintf("%s/run/keys/learner.pub", dir);
    assert_int_equal(curve_keys_for_run(&cfg, run, err, sizeof err), 0);
    assert_string_equal(cfg.security.learner_public, lpub);
    assert_int_equal(curve_read_key(lpub, "security.learner_public", pk, err, sizeof err), 0);
    config_defaults(&cfg);
    assert_int_equal(curve_keys_for_run(&cfg, run, err, sizeof err), 0);
    assert_int_equal(curve_read_key(cfg.security.learner_public, "security.allowed", derived, err, sizeof err), 0);
    assert_string_equal(derived, pk);
    cfg.security.curve = 1;
    snprintf(cfg.security.key, sizeof cfg.security.key, "%s/run/keys/judge.key", dir);
    assert_int_equal(curve_check_config(&cfg, "judge", err, sizeof err), 0);
    free(run), free(lpub);
    tu_done(dir);
}

/* A config with the security section of `yaml`, validated; then curve_check_config for role. */
static int s_check(const char *yaml, const char *role, char *err, size_t errlen) {
    spar_config_t cfg;
    config_defaults(&cfg);
    if (config_load_string(&cfg, "test.yaml", yaml, err, errlen) != 0) return -2;
    if (config_validate(&cfg, err, errlen) != 0) return -2;
    return curve_check_config(&cfg, role, err, errlen);
}

static void test_curve_config_check(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), err[1024];
    assert_int_equal(curve_keygen(dir, "judge", err, sizeof err), 0);
    assert_int_equal(curve_keygen(dir, "actor", err, sizeof err), 0);
    char *empty = xasprintf("%s/empty", dir);
    assert_int_equal(util_mkdirs(empty), 0);
    char *yaml;
    /* off: nothing is read or needed */
    assert_int_equal(s_check("security:\n  curve: false\n  key: /nonexistent.key\n", "judge", err, sizeof err), 0);
    assert_int_equal(s_check("security:\n  curve: maybe\n", "judge", err, sizeof err), -2);
    assert_non_null(strstr(err, "test.yaml:2: security.curve: expected true or false"));
    /* on: the role's files are required, and each file named must parse */
    assert_int_equal(s_check("security:\n  curve: true\n", "judge", err, sizeof err), -1);
    assert_non_null(strstr(err, "security.key: the judge needs it"));
    yaml = xasprintf("security:\n  curve: true\n  key: %s/judge.key\n", dir);
    assert_int_equal(s_check(yaml, "judge", err, sizeof err), -1);
    assert_non_null(strstr(err, "security.allowed: the judge needs it"));
    assert_int_equal(s_check(yaml, "run", err, sizeof err), 0); /* the launcher makes its own keys */
    free(yaml);
    yaml = xasprintf("security:\n  curve: true\n  key: %s/judge.key\n  allowed: %s\n", dir, empty);
    assert_int_equal(s_check(yaml, "judge", err, sizeof err), -1);
    assert_non_null(strstr(err, "security.allowed: the folder holds no .pub file"));
    free(yaml);
    yaml = xasprintf("security:\n  curve: true\n  key: %s/judge.key\n  allowed: %s\n", dir, dir);
    assert_int_equal(s_check(yaml, "judge", err, sizeof err), 0);
    free(yaml);
    yaml = xasprintf("judge:\n  kind: remote\n  remote: ipc://x\nsecurity:\n  curve: true\n  key: %s/judge.key\n"
                     "  allowed: %s\n", dir, dir);
    assert_int_equal(s_check(yaml, "judge", err, sizeof err), -1);
    assert_non_null(strstr(err, "security.remote_public"));
    free(yaml);
    yaml = xasprintf("security:\n  curve: true\n  key: %s/actor.key\n  learner_public: %s/judge.pub\n", dir, dir);
    assert_int_equal(s_check(yaml, "actor", err, sizeof err), -1);
    assert_non_null(strstr(err, "security.judge_public: the actor needs it"));
    free(yaml);
    yaml = xasprintf("security:\n  curve: true\n  key: %s/actor.key\n  learner_public: %s/judge.pub\n"
                     "  judge_public: %s/nope.pub\n", dir, dir, dir);
    assert_int_equal(s_check(yaml, "actor", err, sizeof err), -1);
    assert_non_null(strstr(err, "nope.pub: security.judge_public: cannot read"));
    free(yaml);
    /* the resolved config prints the switch as YAML reads it back */
    spar_config_t cfg;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "security.curve=true", err, sizeof err), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_write_yaml(&cfg, f);
    fclose(f);
    assert_non_null(strstr(buf, "security:\n  curve: true\n"));
    spar_config_t back;
    config_defaults(&back);
    assert_int_equal(config_load_string(&back, "printed", buf, err, sizeof err), 0);
    assert_int_equal(back.security.curve, 1);
    free(buf);
    free(empty);
    tu_done(dir);
}

/* ---- a live judge ----------------------------------------------------------------------- */

typedef struct {
    void *ctx, *sock;
    curve_t *curve;
    wire_t wire;
} client_t;

/* A DEALER to ep with routing id rid (NULL: ZeroMQ's): a CURVE client with key_file trusting
 * server_pub as the `peer` server (the public key its config key names), or plain when key_file
 * is NULL. */
static void s_client_as(client_t *c, const char *ep, const char *key_file, const char *server_pub, curve_peer_t peer,
                        const char *rid) {
    memset(c, 0, sizeof *c);
    c->ctx = zmq_ctx_new();
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    wire_socket_defaults(c->sock, 64 << 20);
    if (rid) zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, rid, strlen(rid));
    wire_init(&c->wire, rid ? rid : key_file ? "client" : "plain", 1 << 20);
    if (key_file) {
        spar_config_t cfg;
        config_defaults(&cfg);
        cfg.security.curve = 1;
        snprintf(cfg.security.key, sizeof cfg.security.key, "%s", key_file);
        char *pub = peer == CURVE_LEARNER ? cfg.security.learner_public : cfg.security.judge_public;
        snprintf(pub, sizeof cfg.security.judge_public, "%s", server_pub);
        char err[1024];
        c->curve = curve_new(c->ctx, &cfg, err, sizeof err);
        if (!c->curve) fail_msg("%s", err);
        assert_int_equal(curve_client(c->curve, c->sock, peer, "test"), 0);
    }
    assert_int_equal(zmq_connect(c->sock, ep), 0);
}

/* A DEALER to a judge at ep: a CURVE client with key_file trusting judge_pub, or plain. */
static void s_client(client_t *c, const char *ep, const char *key_file, const char *judge_pub) {
    s_client_as(c, ep, key_file, judge_pub, CURVE_JUDGE, NULL);
}

static void s_client_close(client_t *c) {
    zmq_close(c->sock);
    curve_destroy(&c->curve);
    curve_destroy(&c->curve); /* safe twice */
    zmq_ctx_term(c->ctx);
}

/* Sends a JudgeRequest for game 0 (actions 0 and 1) and waits up to wait_ms for the reply.
 * Returns the envelope (caller frees) or NULL. */
static Spar__Envelope *s_ask(client_t *c, uint64_t id, int wait_ms) {
    uint32_t t0 = 0, t1 = 1;
    Spar__Response r0 = SPAR__RESPONSE__INIT, r1 = SPAR__RESPONSE__INIT;
    r0.tokens = &t0, r0.n_tokens = 1;
    r1.tokens = &t1, r1.n_tokens = 1;
    Spar__Response *rs[2] = {&r0, &r1};
    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = id, jr.prompt_id = 0, jr.prompt = "", jr.responses = rs, jr.n_responses = 2;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST, e.judge_request = &jr;
    wire_send(&c->wire, c->sock, NULL, &e); /* queued until the connection is up, if ever */
    int64_t end = util_now_ms() + wait_ms;
    for (;;) {
        long left = (long)(end - util_now_ms());
        if (left <= 0) return NULL;
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left) != 1) continue;
        Spar__Envelope *in = wire_recv(&c->wire, c->sock, 0, NULL);
        if (in) return in;
    }
}

static void test_curve_judge_admits_only_allowed_keys(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *keys = xasprintf("%s/keys", dir), *rogue = xasprintf("%s/rogue", dir);
    char *klog = xasprintf("%s/keygen.log", dir), *jlog = xasprintf("%s/judge.log", dir);
    /* spar keygen: the allowed pairs in keys/, one more elsewhere (not allowed) */
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, klog, SPAR_BIN, "keygen", "--out", keys, "judge", "client",
                                                   "front", NULL), 10000)), 0);
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, klog, SPAR_BIN, "keygen", "--out", rogue, "rogue", NULL),
                                          10000)), 0);
    char *ep = xasprintf("ipc://%s/judge", dir), *cfg = xasprintf("%s/cfg.yaml", dir);
    char *judge_key = xasprintf("%s/judge.key", keys), *judge_pub = xasprintf("%s/judge.pub", keys);
    char *client_key = xasprintf("%s/client.key", keys), *rogue_key = xasprintf("%s/rogue.key", rogue);
    char *yaml = xasprintf("task:\n  kind: game\ngame:\n  family: cyclic\n  n: 3\njudge:\n  bind: %s\n"
                           "security:\n  curve: true\n  allowed: %s\n  judge_public: %s\n", ep, keys, judge_pub);
    tu_write(cfg, yaml);
    char *set_key = xasprintf("security.key=%s", judge_key);
    pid_t judge = tu_spawn(NULL, jlog, SPAR_BIN, "judge", "--config", cfg, "--id", "judge", "--set", set_key, NULL);

    /* an allowed key: a reply (the first try may race the judge's bind; DEALER reconnects) */
    client_t ok;
    s_client(&ok, ep, client_key, judge_pub);
    Spar__Envelope *rep = s_ask(&ok, 1, 10000);
    if (!rep) tu_dump(jlog);
    assert_non_null(rep);
    assert_int_equal(rep->body_case, SPAR__ENVELOPE__BODY_JUDGE_REPLY);
    assert_int_equal(rep->judge_reply->request_id, 1);
    assert_int_equal(rep->judge_reply->n_preference, 4);
    wire_free(rep);

    /* a key not in security.allowed: nothing back, and the judge serves nothing of it */
    client_t bad;
    s_client(&bad, ep, rogue_key, judge_pub);
    assert_null(s_ask(&bad, 2, 1500));
    s_client_close(&bad);
    /* no CURVE at all: the same */
    client_t plain;
    s_client(&plain, ep, NULL, NULL);
    assert_null(s_ask(&plain, 3, 1000));
    s_client_close(&plain);

    /* the allowed client is still served */
    rep = s_ask(&ok, 4, 5000);
    assert_non_null(rep);
    assert_int_equal(rep->judge_reply->request_id, 4);
    wire_free(rep);
    s_client_close(&ok);

    /* a judge of kind remote in front of it: a CURVE server to its clients and a CURVE client
     * (key front, trusting security.remote_public) to the judge behind */
    char *front_ep = xasprintf("ipc://%s/front", dir), *flog = xasprintf("%s/front.log", dir);
    char *fset[4] = {xasprintf("judge.bind=%s", front_ep), xasprintf("judge.remote=%s", ep),
                     xasprintf("security.key=%s/front.key", keys), xasprintf("security.remote_public=%s", judge_pub)};
    pid_t front = tu_spawn(NULL, flog, SPAR_BIN, "judge", "--config", cfg, "--id", "front", "--set", fset[0], "--set",
                           fset[1], "--set", fset[2], "--set", fset[3], "--set", "judge.kind=remote", NULL);
    char *front_pub = xasprintf("%s/front.pub", keys); /* the front serves with its own key */
    s_client(&ok, front_ep, client_key, front_pub);
    free(front_pub);
    rep = s_ask(&ok, 5, 10000);
    if (!rep) tu_dump(flog);
    assert_non_null(rep);
    assert_int_equal(rep->judge_reply->request_id, 5);
    assert_int_equal(rep->judge_reply->n_preference, 4);
    wire_free(rep);
    s_client_close(&ok);
    kill(front, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(front, 10000)), 0);
    for (int i = 0; i < 4; i++) free(fset[i]);
    free(front_ep), free(flog);

    /* spar ping with an allowed key answers; with the rogue key it does not */
    char *plog = xasprintf("%s/ping.log", dir), *ping_ok = xasprintf("security.key=%s", client_key);
    char *ping_bad = xasprintf("security.key=%s", rogue_key);
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, plog, SPAR_BIN, "ping", ep, "--judge", "--config", cfg,
                                                   "--set", ping_ok, NULL), 10000)), 0);
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, plog, SPAR_BIN, "ping", ep, "--judge", "--config", cfg,
                                                   "--set", ping_bad, "--timeout-ms", "700", NULL), 10000)), 1);
    assert_true(tu_file_contains(plog, "the server refused this process's key"));

    kill(judge, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(judge, 10000)), 0);
    /* the refusal is logged with the key's short form; only the allowed clients' requests were
     * served */
    char rogue_pub[CURVE_Z85_LEN + 1], err[1024], shortk[9];
    char *rogue_pub_path = xasprintf("%s/rogue.pub", rogue);
    assert_int_equal(curve_read_key(rogue_pub_path, "security.allowed", rogue_pub, err, sizeof err), 0);
    curve_short(rogue_pub, shortk);
    char *want = xasprintf("curve: refused key %s", shortk);
    if (!tu_file_contains(jlog, want) || !tu_file_contains(jlog, "judge stopping: 4 requests served")) tu_dump(jlog);
    assert_true(tu_file_contains(jlog, want));
    assert_true(tu_file_contains(jlog, "(client.pub)"));
    /* 1 and 4, and 5 twice through the front (it asks in both orders) */
    assert_true(tu_file_contains(jlog, "judge stopping: 4 requests served"));
    assert_true(tu_file_contains(jlog, "(front.pub)"));
    char *log = util_read_file(jlog, NULL);
    const char *at = strstr(log, "judge: ");
    unsigned long refused = 0;
    for (; at; at = strstr(at + 1, "judge: "))
        if (sscanf(at, "judge: %lu connections refused", &refused) == 1) break;
    assert_true(refused >= 2); /* at least the rogue key and the plain client */
    free(log);

    free(want), free(rogue_pub_path), free(plog), free(ping_ok), free(ping_bad);
    free(keys), free(rogue), free(klog), free(jlog), free(ep), free(cfg), free(judge_key), free(judge_pub);
    free(client_key), free(rogue_key), free(yaml), free(set_key);
    tu_done(dir);
}

/* A bad key file stops a role before it starts: exit 2, the file, line and option named. */
static void test_curve_bad_key_file_exits_2(void **state) {
    (void)state;
    char *dir = tu_tmpdir();
    char *bad = xasprintf("%s/bad.key", dir), *log = xasprintf("%s/judge.log", dir);
    tu_write(bad, "# not really a key\nabc\n");
    char *set_key = xasprintf("security.key=%s", bad), *set_allowed = xasprintf("security.allowed=%s", dir);
    pid_t p = tu_spawn(NULL, log, SPAR_BIN, "judge", "--set", "security.curve=true", "--set", set_key, "--set",
                       set_allowed, "--check", NULL);
    assert_int_equal(tu_exit_code(tu_wait(p, 10000)), 2);
    char *want = xasprintf("%s:2: security.key: not a CURVE key", bad);
    if (!tu_file_contains(log, want)) tu_dump(log);
    assert_true(tu_file_contains(log, want));
    free(bad), free(log), free(set_key), free(set_allowed), free(want);
    tu_done(dir);
}

/* A whole run with CURVE: learner, judge and two actors each with its own key pair (as on a
 * cluster), and a rogue actor whose key is not allowed. The run completes with nothing lost; the
 * rogue gets no work and gives nothing (the learner never counts it as a peer, no group of it is
 * recorded), and the learner logs its key's refusal. Then `spar run` with curve on, keys made
 * per run. */
static void test_curve_learner_run_refuses_rogue_actor(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *keys = xasprintf("%s/keys", dir), *rogue = xasprintf("%s/rogue", dir);
    char *klog = xasprintf("%s/keygen.log", dir);
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, klog, SPAR_BIN, "keygen", "--out", keys, "learner", "judge",
                                                   "actor-a", "actor-b", NULL), 10000)), 0);
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, klog, SPAR_BIN, "keygen", "--out", rogue, "rogue", NULL),
                                          10000)), 0);
    char *cfg = xasprintf("%s/cfg.yaml", dir), *run = xasprintf("%s/run", dir);
    char *yaml = xasprintf("run:\n  dir: %s\n  iterations: 6\nrollout:\n  samples_per_prompt: 16\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n  lease_timeout_ms: 1000\n"
                           "actor:\n  delay_ms: 20\njudge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n"
                           "security:\n  curve: true\n  allowed: %s\n  learner_public: %s/learner.pub\n"
                           "  judge_public: %s/judge.pub\n",
                           run, dir, dir, dir, dir, keys, keys, keys);
    tu_write(cfg, yaml);
    const char *names[5] = {"learner", "judge", "actor-a", "actor-b", "rogue"};
    char *logs[5], *sets[5];
    pid_t pids[5];
    for (int i = 0; i < 5; i++) {
        logs[i] = xasprintf("%s/%s.log", dir, names[i]);
        sets[i] = xasprintf("security.key=%s/%s.key", i == 4 ? rogue : keys, names[i]);
        const char *role = i == 0 ? "learner" : i == 1 ? "judge" : "actor";
        pids[i] = tu_spawn(NULL, logs[i], SPAR_BIN, role, "--config", cfg, "--id", names[i], "--set", sets[i], NULL);
    }
    int st = tu_wait(pids[0], 120000);
    if (tu_exit_code(st) != 0)
        for (int i = 0; i < 5; i++) tu_dump(logs[i]);
    assert_int_equal(tu_exit_code(st), 0);
    for (int i = 1; i < 5; i++) {
        kill(pids[i], SIGTERM);
        tu_wait(pids[i], 20000);
    }
    char *jsonl = xasprintf("%s/iterations.jsonl", run);
    json_t *lines = tu_read_jsonl(jsonl);
    assert_int_equal(json_array_size(lines), 7);
    for (size_t i = 0; i < 7; i++) assert_int_equal(json_integer_value(json_object_get(json_array_get(lines, i), "lost")), 0);
    json_decref(lines);
    assert_true(tu_file_contains(logs[0], "peer actor-a"));
    assert_true(tu_file_contains(logs[0], "peer actor-b"));
    assert_false(tu_file_contains(logs[0], "peer rogue"));   /* never a peer */
    assert_true(tu_file_contains(logs[0], "curve: refused key")); /* the learner's ZAP said no */
    assert_true(tu_file_contains(logs[2], "joined run"));      /* an allowed actor is welcomed ... */
    assert_false(tu_file_contains(logs[4], "joined run"));     /* ... the rogue never */
    assert_false(tu_file_contains(logs[4], "fetching weights")); /* and gets no weights */
    char *rec = xasprintf("%s/records/groups.pb", run);
    assert_false(tu_file_contains(rec, "rogue"));              /* and gave nothing */

    /* spar run makes a key pair per role of the run and completes */
    char *rlog = xasprintf("%s/run.log", dir), *rdir = xasprintf("run.dir=%s/launched", dir);
    st = tu_wait(tu_spawn(dir, rlog, SPAR_BIN, "run", "--set", "security.curve=true", "--set", "run.iterations=3",
                          "--set", rdir, NULL), 120000);
    if (tu_exit_code(st) != 0) tu_dump(rlog);
    assert_int_equal(tu_exit_code(st), 0);
    char *lk = xasprintf("%s/launched/keys/learner.key", dir);
    assert_true(util_file_exists(lk));
    for (int i = 0; i < 5; i++) free(logs[i]), free(sets[i]);
    free(lk), free(rlog), free(rdir), free(rec), free(jsonl), free(yaml), free(run), free(cfg), free(klog), free(rogue), free(keys);
    tu_done(dir);
}

/* ---- keys bind roles and identities at the learner ----------------------------------------- */

/* A DEALER to the learner's control socket with key_file (trusting learner_pub) and routing id rid. */
static void s_learner_client(client_t *c, const char *ep, const char *key_file, const char *learner_pub,
                             const char *rid) {
    s_client_as(c, ep, key_file, learner_pub, CURVE_LEARNER, rid);
}

/* Sends env and returns the first reply within wait_ms (caller frees), or NULL. */
static Spar__Envelope *s_exchange(client_t *c, Spar__Envelope *env, int wait_ms) {
    wire_send(&c->wire, c->sock, NULL, env);
    int64_t end = util_now_ms() + wait_ms;
    for (long left; (left = (long)(end - util_now_ms())) > 0;) {
        zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left) != 1) continue;
        Spar__Envelope *in = wire_recv(&c->wire, c->sock, 0, NULL);
        if (in) return in;
    }
    return NULL;
}

static Spar__Envelope *s_hello_as(client_t *c, Spar__Role role, const char *endpoint, int wait_ms) {
    Spar__Hello h = SPAR__HELLO__INIT;
    h.role = role, h.endpoint = (char *)endpoint;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_HELLO, e.hello = &h;
    return s_exchange(c, &e, wait_ms);
}

/* The number of prompts a WorkRequest gets, or -1 without an answer within wait_ms. */
static int s_work(client_t *c, int wait_ms) {
    Spar__WorkRequest wr = SPAR__WORK_REQUEST__INIT;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_WORK_REQUEST, e.work_request = &wr;
    Spar__Envelope *in = s_exchange(c, &e, wait_ms);
    int n = in && in->body_case == SPAR__ENVELOPE__BODY_WORK_GRANT ? (int)in->work_grant->n_prompt_ids : -1;
    wire_free(in);
    return n;
}

/* With CURVE, a key's name gives its role (actor*, judge*, anything else a tool) and the
 * identities it may use (its name, or its name and a separator): an allowed tool key cannot join
 * the judge pool, an actor key cannot register a judge or act as another actor, a judge key
 * cannot take leases; the rightful ones can. */
static void test_curve_keys_bind_roles_and_identities(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *keys = xasprintf("%s/keys", dir), *klog = xasprintf("%s/keygen.log", dir);
    assert_int_equal(tu_exit_code(tu_wait(tu_spawn(NULL, klog, SPAR_BIN, "keygen", "--out", keys, "learner", "judge",
                                                   "actor-a", "mallory", NULL), 10000)), 0);
    char *ep = xasprintf("ipc://%s/ctl", dir), *ctl = xasprintf("learner.control=%s", ep);
    char *pub = xasprintf("learner.publish=ipc://%s/pub", dir), *rd = xasprintf("run.dir=%s/run", dir);
    char *allowed = xasprintf("security.allowed=%s", keys), *key = xasprintf("security.key=%s/learner.key", keys);
    char *log = xasprintf("%s/learner.log", dir);
    pid_t pid = tu_spawn(NULL, log, SPAR_BIN, "learner", "--set", ctl, "--set", pub, "--set", rd, "--set",
                         "security.curve=true", "--set", allowed, "--set", key, NULL);
    char *lpub = xasprintf("%s/learner.pub", keys), *mk = xasprintf("%s/mallory.key", keys);
    char *ak = xasprintf("%s/actor-a.key", keys), *jk = xasprintf("%s/judge.key", keys);
    client_t tool, spoof, actor, judge;

    s_learner_client(&tool, ep, mk, lpub, "mallory.1@h"); /* an allowed key, but no role */
    assert_null(s_hello_as(&tool, SPAR__ROLE__ROLE_JUDGE, "tcp://10.9.9.9:5557", 1500)); /* dropped, counted */
    assert_int_equal(s_work(&tool, 1000), -1);

    s_learner_client(&spoof, ep, ak, lpub, "actor-b.1@h"); /* actor-a's key as another actor */
    assert_null(s_hello_as(&spoof, SPAR__ROLE__ROLE_ACTOR, "", 1000));
    assert_int_equal(s_work(&spoof, 1000), -1);

    s_learner_client(&actor, ep, ak, lpub, "actor-a.7@h"); /* the rightful actor, but not as a judge */
    assert_null(s_hello_as(&actor, SPAR__ROLE__ROLE_JUDGE, "tcp://10.9.9.8:5557", 1000));

    s_learner_client(&judge, ep, jk, lpub, "judge.1@h"); /* a judge key may register, not take leases */
    Spar__Envelope *w = s_hello_as(&judge, SPAR__ROLE__ROLE_JUDGE, "ipc:///nonexistent/judge", 5000);
    assert_non_null(w);
    wire_free(w);
    assert_int_equal(s_work(&judge, 1000), -1);

    w = s_hello_as(&actor, SPAR__ROLE__ROLE_ACTOR, "", 5000);
    assert_non_null(w);
    assert_int_equal(w->body_case, SPAR__ENVELOPE__BODY_WELCOME);
    assert_int_equal(w->welcome->n_judges, 1); /* only the judge key's endpoint is in the pool */
    assert_string_equal(w->welcome->judges[0], "ipc:///nonexistent/judge");
    wire_free(w);
    assert_true(s_work(&actor, 5000) > 0);

    s_client_close(&tool), s_client_close(&spoof), s_client_close(&judge), s_client_close(&actor);
    kill(pid, SIGTERM);
    tu_wait(pid, 10000);
    assert_true(tu_file_contains(log, "may not send hello as judge"));
    assert_true(tu_file_contains(log, "may not act as another identity"));
    assert_true(tu_file_contains(log, "may not send work_request as actor"));
    wire_fini(&tool.wire), wire_fini(&spoof.wire), wire_fini(&judge.wire), wire_fini(&actor.wire);
    free(lpub), free(mk), free(ak), free(jk), free(log), free(key), free(allowed), free(rd), free(pub), free(ctl);
    free(ep), free(klog), free(keys);
    tu_done(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_key_file_errors),
        cmocka_unit_test(test_curve_keygen_writes_private_pairs),
        cmocka_unit_test(test_curve_config_check),
        cmocka_unit_test(test_curve_judge_admits_only_allowed_keys),
        cmocka_unit_test(test_curve_bad_key_file_exits_2),
        cmocka_unit_test(test_curve_learner_run_refuses_rogue_actor),
        cmocka_unit_test(test_curve_keys_bind_roles_and_identities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
