/* Judges and actors against hostile or missing peers, live: real spar processes on real sockets,
 * with the test playing the learner, a judge or an actor with raw ZeroMQ sockets. A judge refuses
 * requests whose K x K reply would not fit its bounds and holds a bounded reply backlog for a
 * peer that never reads; it keeps serving, and stops at once, while the learner's host name
 * cannot be resolved; an actor's judge pool uses only endpoints that answered as judges, counts a
 * judge reached twice once, is not filled up by dead endpoints, and survives a judge that answers
 * with two frames; the actor fetches large weights within a window; it bounds what a learner
 * sends and says Hello again when asked to. */
#include "tests/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "actor/judge_pool.h"
#include "common/digest.h"
#include "common/policy.h"
#include "common/util.h"
#include "common/wire.h"

/* ---- processes: a failing test's children are stopped by its teardown ------------------- */

static pid_t s_pids[32];
static int s_n_pids;

static pid_t s_track(pid_t pid) {
    if (s_n_pids < 32) s_pids[s_n_pids++] = pid;
    return pid;
}

static int s_teardown(void **state) {
    (void)state;
    for (int i = 0; i < s_n_pids; i++)
        if (waitpid(s_pids[i], NULL, WNOHANG) == 0) { /* still our running child */
            kill(s_pids[i], SIGKILL);
            waitpid(s_pids[i], NULL, 0);
        }
    s_n_pids = 0;
    return 0;
}

/* ---- the fake peers' wire ----------------------------------------------------------------- */

static void s_send_env(void *sock, const void *peer, size_t peer_len, Spar__Envelope *e, const char *sender) {
    e->protocol_version = WIRE_PROTOCOL_VERSION;
    e->run_id = e->run_id ? e->run_id : "";
    e->sender_id = (char *)sender;
    size_t len = spar__envelope__get_packed_size(e);
    uint8_t *buf = xmalloc(len);
    spar__envelope__pack(e, buf);
    if (peer) zmq_send(sock, peer, peer_len, ZMQ_SNDMORE);
    zmq_send(sock, buf, len, 0);
    free(buf);
}

/* One message from a DEALER (peer NULL) or ROUTER (its routing id into peer), decoded; NULL on
 * timeout or a frame that does not decode. */
static Spar__Envelope *s_recv(void *sock, int timeout_ms, zmq_msg_t *peer) {
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return NULL;
    if (peer) {
        zmq_msg_init(peer);
        zmq_msg_recv(peer, sock, 0);
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, sock, 0);
    while (zmq_msg_more(&m)) { /* the processes never send more; be safe */
        zmq_msg_close(&m);
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, 0);
    }
    char why[256];
    Spar__Envelope *e = wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), 1L << 30, why, sizeof why);
    zmq_msg_close(&m);
    return e;
}

static void *s_dealer(void *ctx, const char *ep) {
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    wire_socket_defaults(s, 1L << 30);
    zmq_connect(s, ep);
    return s;
}

/* A Heartbeat asked of a judge: its answer within timeout_ms (NULL: none). */
static Spar__Envelope *s_ping(void *s, int timeout_ms) {
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_TOOL;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT, e.heartbeat = &hb;
    s_send_env(s, NULL, 0, &e, "tester");
    int64_t end = util_now_ms() + timeout_ms;
    for (;;) {
        long left = (long)(end - util_now_ms());
        Spar__Envelope *r = s_recv(s, left > 0 ? (int)left : 0, NULL);
        if (!r || r->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) return r;
        wire_free(r); /* a late judge reply */
    }
}

static uint64_t s_bad_count(void *s) {
    Spar__Envelope *r = s_ping(s, 5000);
    assert_non_null(r);
    uint64_t n = r->heartbeat->bad_messages;
    wire_free(r);
    return n;
}

/* A JudgeRequest of k one-token responses (action `action` each) for game `prompt`. */
static void s_send_request(void *s, uint64_t id, uint32_t prompt, size_t k, uint32_t action) {
    Spar__Response *r = xcalloc(k, sizeof *r), **rp = xcalloc(k, sizeof *rp);
    uint32_t tok = action;
    for (size_t i = 0; i < k; i++) {
        spar__response__init(&r[i]);
        r[i].tokens = &tok, r[i].n_tokens = 1, r[i].logprob = -1.0;
        rp[i] = &r[i];
    }
    Spar__JudgeRequest jr = SPAR__JUDGE_REQUEST__INIT;
    jr.request_id = id, jr.prompt_id = prompt, jr.responses = rp, jr.n_responses = k;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REQUEST, e.judge_request = &jr;
    s_send_env(s, NULL, 0, &e, "tester");
    free(r), free(rp);
}

/* kB of a process's peak resident memory (VmHWM), 0 when unknown. */
static long s_vm_hwm_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    fclose(f);
    return kb;
}

/* ---- 1. the judge bounds K and what a silent peer holds ---------------------------------- */

/* With the default wire.max_frame_bytes a judge answers at most 361 responses (361^2 doubles
 * fit 1 MiB); a request for 1000 gets an error reply (once an 8 MB reply, and K = 6000 queued
 * 288 MB), counted as bad and logged once. A peer that sends 150 requests whose replies are
 * 1 MiB each and never reads makes the judge hold at most 64 of them. */
static void test_pool_judge_bounds_k_and_backlog(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *log = xasprintf("%s/judge.log", dir), *ep = xasprintf("ipc://%s/judge", dir);
    char *bind = xasprintf("judge.bind=%s", ep);
#ifdef __SANITIZE_ADDRESS__
    /* AddressSanitizer keeps freed blocks (256 MB) before reusing them: the peak would measure
     * that, not the judge */
    const char *was = getenv("ASAN_OPTIONS");
    char *opts = xasprintf("%s%squarantine_size_mb=0", was ? was : "", was && was[0] ? ":" : "");
    char *saved = was ? xstrdup(was) : NULL;
    setenv("ASAN_OPTIONS", opts, 1);
#endif
    pid_t pid = s_track(tu_spawn(NULL, log, SPAR_BIN, "judge", "--set", bind, NULL));
#ifdef __SANITIZE_ADDRESS__
    if (saved) setenv("ASAN_OPTIONS", saved, 1);
    else unsetenv("ASAN_OPTIONS");
    free(opts), free(saved);
#endif
    void *ctx = zmq_ctx_new(), *s = s_dealer(ctx, ep);
    assert_int_equal(s_bad_count(s), 0); /* and it is up */
    for (int rep = 0; rep < 3; rep++) s_send_request(s, 100 + (uint64_t)rep, 0, 1000, 0);
    for (int rep = 0; rep < 3; rep++) {
        Spar__Envelope *r = s_recv(s, 5000, NULL);
        assert_non_null(r);
        assert_int_equal(r->body_case, SPAR__ENVELOPE__BODY_JUDGE_REPLY);
        assert_int_equal(r->judge_reply->request_id, 100 + (uint64_t)rep);
        assert_true(r->judge_reply->error && strstr(r->judge_reply->error, "at most 361"));
        assert_int_equal(r->judge_reply->n_preference, 0);
        wire_free(r);
    }
    assert_int_equal(s_bad_count(s), 3);
    s_send_request(s, 7, 0, 361, 0); /* the largest K is answered */
    Spar__Envelope *r = s_recv(s, 10000, NULL);
    assert_non_null(r);
    assert_true(!r->judge_reply->error || !r->judge_reply->error[0]);
    assert_int_equal(r->judge_reply->n_preference, 361 * 361);
    wire_free(r);

    long before = s_vm_hwm_kb(pid);
    void *silent = zmq_socket(ctx, ZMQ_DEALER);
    int one = 1;
    zmq_setsockopt(silent, ZMQ_RCVHWM, &one, sizeof one);
    zmq_connect(silent, ep);
    for (int i = 0; i < 150; i++) s_send_request(silent, 1000 + (uint64_t)i, 0, 361, 0);
    uint64_t served = 0; /* the judge has answered (or dropped) all of them */
    for (int64_t end = util_now_ms() + 30000; util_now_ms() < end && served < 150 + 1;) {
        Spar__Envelope *h = s_ping(s, 5000);
        assert_non_null(h);
        served = h->heartbeat->requests_served;
        wire_free(h);
        util_sleep_ms(100);
    }
    assert_true(served >= 150 + 1);
    long after = s_vm_hwm_kb(pid);
    fprintf(stderr, "judge peak RSS %ld kB before, %ld kB after 150 unread 1 MiB replies\n", before, after);
    assert_true(before > 0);
    assert_true(after - before < (64 + 24) * 1024); /* 64 queued replies of 1 MiB, and slack */
    zmq_close(silent);
    zmq_close(s);
    zmq_ctx_term(ctx);
    kill(pid, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(pid, 10000)), 0);
    assert_true(tu_file_contains(log, "answers at most 361"));
    free(log), free(ep), free(bind);
    tu_done(dir);
}

/* ---- 2. a judge whose learner's name does not resolve ------------------------------------ */

/* The judge runs in a mount namespace of its own whose /etc/resolv.conf names a DNS server on a
 * loopback address that the test binds and never answers (as a resolver behaves when the
 * learner's container is gone): every resolve of the learner's name takes the resolver's
 * timeout. The judge must answer pings all along and stop within 1 s of SIGTERM. */
static void test_pool_judge_serves_while_learner_unresolvable(void **state) {
    (void)state;
    if (geteuid() != 0 || access("/usr/bin/unshare", X_OK) != 0 ||
        system("/usr/bin/unshare -m /bin/true >/dev/null 2>&1") != 0) {
        fprintf(stderr, "skipped: needs root and unshare -m (a private /etc/resolv.conf)\n");
        tu_skip();
    }
    char *dir = tu_tmpdir(), *log = xasprintf("%s/judge.log", dir), *ep = xasprintf("ipc://%s/judge", dir);
    char dns[32];
    snprintf(dns, sizeof dns, "127.53.%d.%d", (int)((getpid() >> 8) & 255), (int)(getpid() & 255));
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
    inet_pton(AF_INET, dns, &a.sin_addr);
    assert_int_equal(bind(udp, (struct sockaddr *)&a, sizeof a), 0);
    char *rc = xasprintf("%s/resolv.conf", dir), *rctext = xasprintf("nameserver %s\noptions timeout:5 attempts:2\n", dns);
    tu_write(rc, rctext);
    char *script = xasprintf("mount --bind %s /etc/resolv.conf && exec %s judge --set judge.bind=%s --set "
                             "learner.control=tcp://name-that-does-not-resolve.invalid:5555 --set actor.heartbeat_ms=100",
                             rc, SPAR_BIN, ep);
    pid_t pid = s_track(tu_spawn(NULL, log, "/usr/bin/unshare", "-m", "/bin/sh", "-c", script, NULL));
    void *ctx = zmq_ctx_new(), *s = s_dealer(ctx, ep);
    Spar__Envelope *up = s_ping(s, 10000);
    assert_non_null(up); /* it started */
    wire_free(up);
    int answered = 0, queries = 0;
    long worst = 0;
    for (int i = 0; i < 12; i++) { /* 6 s: longer than one resolve's timeout */
        int64_t t0 = util_now_ms();
        Spar__Envelope *h = s_ping(s, 1000);
        long took = (long)(util_now_ms() - t0);
        if (took > worst) worst = took;
        if (h) answered++;
        wire_free(h);
        char buf[512];
        while (recv(udp, buf, sizeof buf, MSG_DONTWAIT) > 0) queries++;
        util_sleep_ms(400);
    }
    char buf[512];
    while (recv(udp, buf, sizeof buf, MSG_DONTWAIT) > 0) queries++;
    fprintf(stderr, "%d of 12 pings answered (slowest %ld ms); %d DNS queries for the learner's name\n", answered,
            worst, queries);
    assert_true(queries > 0); /* the judge was resolving the whole time */
    assert_int_equal(answered, 12);
    int64_t t0 = util_now_ms();
    kill(pid, SIGTERM);
    int st = tu_wait(pid, 15000);
    long stop_ms = (long)(util_now_ms() - t0);
    fprintf(stderr, "judge stopped %ld ms after SIGTERM\n", stop_ms);
    assert_int_equal(tu_exit_code(st), 0);
    assert_true(stop_ms < 1000);
    close(udp);
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(log), free(ep), free(rc), free(rctext), free(script);
    tu_done(dir);
}

/* ---- 3. the judge pool's logic, with a fake clock and fake sockets ------------------------ */

static int s_open_count, s_close_count;
static void *s_fake_open(void *ctx, const char *ep) {
    (void)ctx, (void)ep;
    s_open_count++;
    return xmalloc(1);
}
static void s_fake_close(void *ctx, void *sock) {
    (void)ctx;
    s_close_count++;
    free(sock);
}

static int s_waiting(const judge_pool_t *p) {
    int n = 0;
    for (int i = 0; i < p->n; i++) n += p->e[i].state == JP_WAITING && !p->e[i].from_config;
    return n;
}

static int s_index_of(const judge_pool_t *p, const char *ep) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->e[i].endpoint, ep)) return i;
    return -1;
}

/* Probes every entry that is due, as the actor does, at time now. */
static void s_probe_all(judge_pool_t *p, int64_t now) {
    jp_tick(p, now);
    for (int i = 0; i < p->n; i++)
        if (jp_probe_due(p, i, now)) jp_probe_sent(p, i, now);
}

static void test_pool_logic_dead_endpoints_never_block_a_judge(void **state) {
    (void)state;
    judge_pool_t p;
    jp_init(&p, &(jp_io_t){s_fake_open, s_fake_close, NULL}, 500);
    int64_t now = 1000;
    assert_int_equal(jp_pick(&p, -1, now), -1);
    char *eps[66];
    for (int i = 0; i < 64; i++) eps[i] = xasprintf("tcp://dead-%d:5557", i);
    jp_published(&p, eps, 64, now);
    assert_int_equal(s_waiting(&p), JP_MAX_WAITING); /* bounded */
    assert_int_equal(jp_n_usable(&p), 0);            /* none answered: none used */
    for (int t = 0; t < 3; t++) s_probe_all(&p, now += JP_PROBE_MS);
    /* a real judge joins now: it gets a place at once, ahead of the dead ones still untried */
    eps[64] = xstrdup("tcp://real:5557");
    jp_published(&p, eps, 65, now);
    int r = s_index_of(&p, "tcp://real:5557");
    assert_true(r >= 0);
    assert_int_equal(jp_on_heartbeat(&p, r, 1, "judge.7@real", now), JP_HB_VERIFIED);
    assert_int_equal(jp_n_usable(&p), 1);
    r = jp_pick(&p, -1, now);
    assert_string_equal(p.e[r].endpoint, "tcp://real:5557");
    /* a minute on, every dead endpoint failed and is out for its backoff; the table stays small */
    for (int t = 0; t < 120; t++) {
        s_probe_all(&p, now += JP_PROBE_MS);
        assert_true(s_waiting(&p) <= JP_MAX_WAITING);
    }
    assert_int_equal(jp_n_usable(&p), 1);
    /* an endpoint that answers as something else is evicted and never used */
    eps[65] = xstrdup("tcp://liar:5557");
    jp_published(&p, eps, 66, now);
    int l = s_index_of(&p, "tcp://liar:5557");
    assert_true(l >= 0);
    assert_int_equal(jp_on_heartbeat(&p, l, 0, "actor.3@liar", now), JP_HB_NOT_JUDGE);
    assert_int_equal(s_index_of(&p, "tcp://liar:5557"), -1);
    assert_int_equal(jp_n_usable(&p), 1);
    /* the judge leaves the published list: retired at once, evicted after the grace */
    jp_published(&p, eps, 64, now);
    assert_int_equal(jp_n_usable(&p), 0);
    jp_tick(&p, now + 1001);
    assert_int_equal(s_index_of(&p, "tcp://real:5557"), -1);
    jp_free(&p);
    assert_int_equal(s_open_count, s_close_count); /* every socket closed */
    for (int i = 0; i < 66; i++) free(eps[i]);
}

static void test_pool_logic_one_judge_two_endpoints_counts_once(void **state) {
    (void)state;
    judge_pool_t p;
    jp_init(&p, &(jp_io_t){s_fake_open, s_fake_close, NULL}, 500);
    int64_t now = 1000;
    assert_int_equal(jp_add_config(&p, "tcp://judge:5557", now), 0);
    assert_int_equal(jp_n_usable(&p), 1); /* the config's judge: trusted before it answers */
    char *eps[1] = {"tcp://172.18.0.5:5557"};
    jp_published(&p, eps, 1, now);
    int pub = s_index_of(&p, eps[0]);
    assert_int_equal(jp_n_usable(&p), 1); /* the published one waits for its answer */
    assert_int_equal(jp_on_heartbeat(&p, pub, 1, "judge.41@judge", now), JP_HB_VERIFIED);
    assert_int_equal(jp_n_usable(&p), 2);
    /* the config's endpoint answers with the same identity: one judge, the config's endpoint kept */
    assert_int_equal(jp_on_heartbeat(&p, s_index_of(&p, "tcp://judge:5557"), 1, "judge.41@judge", now), JP_HB_ALIAS);
    assert_int_equal(jp_n_usable(&p), 1);
    int kept = jp_pick(&p, -1, now);
    assert_string_equal(p.e[kept].endpoint, "tcp://judge:5557");
    assert_int_equal(p.e[s_index_of(&p, eps[0])].state, JP_ALIAS);
    jp_published(&p, eps, 1, now); /* published again: not added twice */
    assert_int_equal(p.n, 2);
    /* two config endpoints answering with one id stay two (the operator named both) */
    int second = jp_add_config(&p, "tcp://judge-2:5557", now);
    assert_int_equal(jp_on_heartbeat(&p, second, 1, "judge.41@judge", now), JP_HB_VERIFIED);
    assert_int_equal(jp_n_usable(&p), 2);
    kept = s_index_of(&p, "tcp://judge:5557");
    /* strikes bench a judge; any answer clears them */
    jp_strike(&p, kept, now);
    assert_true(p.e[kept].benched_until_ms == now + 500);
    jp_strike(&p, kept, now);
    assert_true(p.e[kept].benched_until_ms == now + 1000);
    second = s_index_of(&p, "tcp://judge-2:5557");
    assert_int_equal(jp_pick(&p, -1, now), second); /* the one not benched */
    jp_strike(&p, second, now);
    assert_true(jp_pick(&p, -1, now) >= 0); /* all benched: one of them all the same */
    jp_alive(&p, kept);
    assert_int_equal(p.e[kept].strikes, 0);
    jp_free(&p);
}

/* ---- 3. the actor's judge pool ---------------------------------------------------------- */

static char *s_run_yaml(const char *dir, const char *run, const char *endpoints) {
    return xasprintf("run:\n  dir: %s\n  iterations: 6\ntask:\n  prompts: 4\nrollout:\n  samples_per_prompt: 4\n"
                     "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n  lease_timeout_ms: 3000\n"
                     "  prompts_per_lease: 2\nactor:\n  delay_ms: 20\n  heartbeat_ms: 100\n"
                     "judge:\n  endpoints: %s\n  timeout_ms: 500\n",
                     run, dir, dir, endpoints);
}

/* A process that exited by now: its status, else -1 (still running). */
static int s_exited(pid_t pid) {
    int st;
    return waitpid(pid, &st, WNOHANG) == pid ? st : -1;
}

/* A fake judge endpoint the test serves: a ROUTER that answers heartbeats with `role` and sender
 * id `id`; JudgeRequests are counted and, when two_frames, answered with a two-frame message. */
typedef struct {
    void *sock;
    const char *id;
    Spar__Role role;
    int two_frames;
    int requests;
} fake_judge_t;

static void s_fake_judge_serve(fake_judge_t *f) {
    zmq_msg_t peer;
    Spar__Envelope *in;
    while ((in = s_recv(f->sock, 0, &peer))) {
        const void *pid = zmq_msg_data(&peer);
        size_t plen = zmq_msg_size(&peer);
        if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
            Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
            hb.role = f->role;
            Spar__Envelope e = SPAR__ENVELOPE__INIT;
            e.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT, e.heartbeat = &hb;
            s_send_env(f->sock, pid, plen, &e, f->id);
        } else if (in->body_case == SPAR__ENVELOPE__BODY_JUDGE_REQUEST) {
            f->requests++;
            if (f->two_frames) { /* a valid-looking reply, then a second frame */
                size_t k = in->judge_request->n_responses;
                double *P = xcalloc(k * k, sizeof *P);
                for (size_t i = 0; i < k * k; i++) P[i] = 0.5;
                Spar__JudgeReply rep = SPAR__JUDGE_REPLY__INIT;
                rep.request_id = in->judge_request->request_id, rep.k = (uint32_t)k, rep.judge_version = "two-frames";
                rep.preference = P, rep.n_preference = k * k;
                Spar__Envelope e = SPAR__ENVELOPE__INIT;
                e.body_case = SPAR__ENVELOPE__BODY_JUDGE_REPLY, e.judge_reply = &rep;
                e.protocol_version = WIRE_PROTOCOL_VERSION, e.run_id = "", e.sender_id = (char *)f->id;
                size_t len = spar__envelope__get_packed_size(&e);
                uint8_t *buf = xmalloc(len);
                spar__envelope__pack(&e, buf);
                zmq_send(f->sock, pid, plen, ZMQ_SNDMORE);
                zmq_send(f->sock, buf, len, ZMQ_SNDMORE);
                zmq_send(f->sock, "extra", 5, 0);
                free(buf), free(P);
            }
        }
        wire_free(in);
        zmq_msg_close(&peer);
    }
}

/* The actor's config names a fake judge that answers every request with a two-frame message
 * (this once hung every actor) and judge C, which the learner's pool also publishes at a second
 * endpoint (a symlink to its socket): the actor counts the fake judge's replies bad, asks C
 * instead, and counts C once. */
static void test_pool_actor_survives_two_frame_judge_and_dedupes(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir), *run = xasprintf("%s/run", dir);
    char *eps = xasprintf("ipc://%s/bad,ipc://%s/judge-c", dir, dir), *yaml = s_run_yaml(dir, run, eps);
    tu_write(cfg, yaml);
    char *llog = xasprintf("%s/learner.log", dir), *alog = xasprintf("%s/actor.log", dir), *clog = xasprintf("%s/c.log", dir);
    char *bind_c = xasprintf("judge.bind=ipc://%s/judge-c", dir), *adv_c = xasprintf("judge.advertise=ipc://%s/judge-c2", dir);
    char *sock_c = xasprintf("%s/judge-c", dir), *link_c = xasprintf("%s/judge-c2", dir);
    assert_int_equal(symlink(sock_c, link_c), 0);
    void *ctx = zmq_ctx_new();
    fake_judge_t bad = {zmq_socket(ctx, ZMQ_ROUTER), "two-frame-judge", SPAR__ROLE__ROLE_JUDGE, 1, 0};
    wire_socket_defaults(bad.sock, 1L << 30);
    char *bad_ep = xasprintf("ipc://%s/bad", dir);
    assert_int_equal(zmq_bind(bad.sock, bad_ep), 0);
    pid_t learner = s_track(tu_spawn(NULL, llog, SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL));
    pid_t c = s_track(tu_spawn(NULL, clog, SPAR_BIN, "judge", "--config", cfg, "--id", "judge-c", "--set", bind_c, "--set", adv_c,
                       NULL));
    util_sleep_ms(500); /* C in the learner's pool before the actor's Welcome */
    pid_t actor = s_track(tu_spawn(NULL, alog, SPAR_BIN, "actor", "--config", cfg, "--id", "actor", NULL));
    int st = -1;
    int64_t start = util_now_ms(), end = start + 90000;
    while (util_now_ms() < end && (st = s_exited(learner)) == -1) {
        s_fake_judge_serve(&bad);
        util_sleep_ms(5);
    }
    if (tu_exit_code(st) != 0) tu_dump(alog), tu_dump(llog);
    assert_int_equal(tu_exit_code(st), 0);
    assert_int_equal(tu_exit_code(tu_wait(actor, 20000)), 0);
    kill(c, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(c, 10000)), 0);
    fprintf(stderr, "run done in %.1f s; the two-frame judge got %d requests\n", (double)(util_now_ms() - start) / 1000,
            bad.requests);
    assert_true(bad.requests >= 1);
    assert_true(tu_file_contains(alog, "unexpected extra frames"));
    assert_true(tu_file_contains(alog, "failed on prompt"));
    assert_true(tu_file_contains(alog, "counted once"));
    assert_int_equal(tu_check_records(run, 6, 4, 1), 6 * 4);
    zmq_close(bad.sock);
    zmq_ctx_term(ctx);
    free(cfg), free(run), free(eps), free(yaml), free(llog), free(alog), free(clog), free(bind_c), free(adv_c);
    free(sock_c), free(link_c), free(bad_ep);
    tu_done(dir);
}

/* One actor, one judge, a lease of 256 prompts judged at once: the judge's ROUTER queues 64
 * replies per peer and drops the rest, so the actor keeps at most JP_WINDOW requests in flight
 * per judge; with judge.timeout_ms at a minute, one dropped reply would stall the run for that
 * minute. */
static void test_pool_actor_bursts_stay_within_judge_window(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), *cfg = xasprintf("%s/cfg.yaml", dir), *run = xasprintf("%s/run", dir);
    char *yaml = xasprintf("run:\n  dir: %s\n  iterations: 3\ntask:\n  prompts: 256\nrollout:\n  samples_per_prompt: 4\n"
                           "learner:\n  control: ipc://%s/ctl\n  publish: ipc://%s/pub\n  lease_timeout_ms: 120000\n"
                           "  prompts_per_lease: 256\nactor:\n  delay_ms: 0\n  heartbeat_ms: 100\n"
                           "judge:\n  bind: ipc://%s/judge\n  endpoints: ipc://%s/judge\n  timeout_ms: 60000\n",
                           run, dir, dir, dir, dir);
    tu_write(cfg, yaml);
    char *llog = xasprintf("%s/learner.log", dir), *alog = xasprintf("%s/actor.log", dir), *jlog = xasprintf("%s/judge.log", dir);
    int64_t t0 = util_now_ms();
    pid_t learner = s_track(tu_spawn(NULL, llog, SPAR_BIN, "learner", "--config", cfg, "--id", "learner", NULL));
    pid_t judge = s_track(tu_spawn(NULL, jlog, SPAR_BIN, "judge", "--config", cfg, "--id", "judge", NULL));
    pid_t actor = s_track(tu_spawn(NULL, alog, SPAR_BIN, "actor", "--config", cfg, "--id", "actor", NULL));
    int st = tu_wait(learner, 40000);
    double took = (double)(util_now_ms() - t0) / 1000;
    fprintf(stderr, "3 iterations of 256 prompts in one lease: %.1f s\n", took);
    if (tu_exit_code(st) != 0) tu_dump(alog), tu_dump(llog);
    assert_int_equal(tu_exit_code(st), 0);
    assert_int_equal(tu_exit_code(tu_wait(actor, 20000)), 0);
    kill(judge, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(judge, 10000)), 0);
    assert_false(tu_file_contains(alog, "no reply before judge.timeout_ms"));
    assert_int_equal(tu_check_records(run, 3, 256, 1), 3 * 256);
    free(cfg), free(run), free(yaml), free(llog), free(alog), free(jlog);
    tu_done(dir);
}

/* ---- 4, 5. the actor against a fake learner --------------------------------------------- */

typedef struct {
    char *dir, *log;
    void *ctx, *router, *pub;
    pid_t actor;
} fake_learner_t;

static void s_fake_learner_start(fake_learner_t *L) {
    L->dir = tu_tmpdir();
    L->log = xasprintf("%s/actor.log", L->dir);
    char *ctl_ep = xasprintf("ipc://%s/ctl", L->dir), *pub_ep = xasprintf("ipc://%s/pub", L->dir);
    char *ctl = xasprintf("learner.control=%s", ctl_ep), *pub = xasprintf("learner.publish=%s", pub_ep);
    char *judge = xasprintf("judge.endpoints=ipc://%s/judge", L->dir);
    L->ctx = zmq_ctx_new();
    L->router = zmq_socket(L->ctx, ZMQ_ROUTER);
    L->pub = zmq_socket(L->ctx, ZMQ_PUB);
    wire_socket_defaults(L->router, 1L << 30); /* a learner's ROUTER: 64 messages per peer at most */
    wire_socket_defaults(L->pub, 1L << 30);
    assert_int_equal(zmq_bind(L->router, ctl_ep), 0);
    assert_int_equal(zmq_bind(L->pub, pub_ep), 0);
    L->actor = s_track(tu_spawn(NULL, L->log, SPAR_BIN, "actor", "--set", ctl, "--set", pub, "--set", judge, "--set",
                        "actor.heartbeat_ms=50", "--id", "actor", NULL));
    free(ctl_ep), free(pub_ep), free(ctl), free(pub), free(judge);
}

static void s_fake_learner_stop(fake_learner_t *L) {
    kill(L->actor, SIGTERM);
    int st = tu_wait(L->actor, 10000);
    if (tu_exit_code(st) != 0) tu_dump(L->log);
    assert_int_equal(tu_exit_code(st), 0);
    zmq_close(L->router);
    zmq_close(L->pub);
    zmq_ctx_term(L->ctx);
    free(L->log);
    tu_done(L->dir);
}

static void s_welcome(fake_learner_t *L, zmq_msg_t *peer) {
    Spar__Welcome w = SPAR__WELCOME__INIT;
    w.run_id = "test-run", w.seed = 1, w.prompts = 4, w.policy_kind = "tabular";
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_WELCOME, e.welcome = &w, e.run_id = "test-run";
    s_send_env(L->router, zmq_msg_data(peer), zmq_msg_size(peer), &e, "learner");
}

static void s_grant(fake_learner_t *L, zmq_msg_t *peer, Spar__WorkGrant *g) {
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_WORK_GRANT, e.work_grant = g, e.run_id = "test-run";
    s_send_env(L->router, zmq_msg_data(peer), zmq_msg_size(peer), &e, "learner");
}

/* The weights chunk of a one-chunk blob. */
static void s_send_blob(fake_learner_t *L, zmq_msg_t *peer, uint64_t version, const uint8_t *blob, size_t len) {
    uint8_t d[DIGEST_BYTES];
    digest_compute(blob, len, d);
    Spar__WeightsChunk wc = SPAR__WEIGHTS_CHUNK__INIT;
    wc.version = version, wc.chunk_index = 0, wc.n_chunks = 1, wc.total_bytes = len;
    wc.data.data = (uint8_t *)blob, wc.data.len = len;
    wc.digest.data = d, wc.digest.len = DIGEST_BYTES, wc.chunk_digest.data = d, wc.chunk_digest.len = DIGEST_BYTES;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK, e.weights_chunk = &wc, e.run_id = "test-run";
    s_send_env(L->router, zmq_msg_data(peer), zmq_msg_size(peer), &e, "learner");
}

#define N_CLAIMS 64
#define N_LIARS 4

/* The learner's judge pool names 64 endpoints (60 with nothing there, 4 that answer as an
 * actor; a learner checks what it publishes, but an actor does not take that on trust) and the
 * config names a judge that does not exist. The actor must never ask a liar, and judge B, which
 * the pool names 4 s later (once the dead ones were given up on), must be used: the lease's
 * groups can only be judged by it. */
static void test_pool_actor_uses_only_verified_judges(void **state) {
    (void)state;
    fake_learner_t L;
    s_fake_learner_start(&L);
    char *eps[N_CLAIMS + 1];
    fake_judge_t liars[N_LIARS];
    for (int i = 0; i < N_CLAIMS; i++) {
        eps[i] = xasprintf("ipc://%s/claim-%d", L.dir, i);
        if (i < N_LIARS) {
            liars[i] = (fake_judge_t){zmq_socket(L.ctx, ZMQ_ROUTER), "liar", SPAR__ROLE__ROLE_ACTOR, 0, 0};
            wire_socket_defaults(liars[i].sock, 1L << 30);
            assert_int_equal(zmq_bind(liars[i].sock, eps[i]), 0);
        }
    }
    eps[N_CLAIMS] = xasprintf("ipc://%s/judge-b", L.dir);
    char *blog = xasprintf("%s/b.log", L.dir), *bind_b = xasprintf("judge.bind=%s", eps[N_CLAIMS]);
    char *b_ctl = xasprintf("learner.control=ipc://%s/nobody", L.dir);
    pid_t b = s_track(tu_spawn(NULL, blog, SPAR_BIN, "judge", "--set", bind_b, "--set", b_ctl, "--id", "judge-b", NULL));
    policy_t *pol = policy_tabular_new(4, 3);
    size_t len;
    uint8_t *blob = policy_serialize(pol, 0, &len);
    policy_destroy(&pol);
    int groups = 0, granted = 0;
    char judged_by[128] = "";
    int64_t start = util_now_ms(), end = start + 30000, announce = start + 4000;
    while (util_now_ms() < end && groups < 2) {
        if (util_now_ms() >= announce) { /* a broadcast: said again, a subscriber may miss one */
            Spar__JudgePool jp = SPAR__JUDGE_POOL__INIT;
            jp.endpoints = eps, jp.n_endpoints = N_CLAIMS + 1;
            Spar__Envelope e = SPAR__ENVELOPE__INIT;
            e.body_case = SPAR__ENVELOPE__BODY_JUDGE_POOL, e.judge_pool = &jp, e.run_id = "test-run";
            s_send_env(L.pub, NULL, 0, &e, "learner");
            announce = util_now_ms() + 500;
        }
        for (int i = 0; i < N_LIARS; i++) s_fake_judge_serve(&liars[i]);
        zmq_msg_t peer;
        Spar__Envelope *in = s_recv(L.router, 10, &peer);
        if (!in) continue;
        if (in->body_case == SPAR__ENVELOPE__BODY_HELLO) {
            Spar__Welcome w = SPAR__WELCOME__INIT;
            w.run_id = "test-run", w.seed = 1, w.prompts = 4, w.policy_kind = "tabular";
            w.judges = eps, w.n_judges = N_CLAIMS; /* B not yet */
            Spar__Envelope e = SPAR__ENVELOPE__INIT;
            e.body_case = SPAR__ENVELOPE__BODY_WELCOME, e.welcome = &w, e.run_id = "test-run";
            s_send_env(L.router, zmq_msg_data(&peer), zmq_msg_size(&peer), &e, "learner");
        } else if (in->body_case == SPAR__ENVELOPE__BODY_WORK_REQUEST) {
            uint32_t prompts[2] = {0, 1};
            Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
            g.lease_id = 1, g.iteration = 1, g.policy_version = 0, g.samples_per_prompt = 2;
            if (!granted) g.prompt_ids = prompts, g.n_prompt_ids = 2;
            else g.retry_ms = 100;
            granted = 1;
            s_grant(&L, &peer, &g);
        } else if (in->body_case == SPAR__ENVELOPE__BODY_WEIGHTS_FETCH) {
            s_send_blob(&L, &peer, 0, blob, len);
        } else if (in->body_case == SPAR__ENVELOPE__BODY_ROLLOUT_GROUP) {
            const Spar__RolloutGroup *g = in->rollout_group;
            groups++;
            snprintf(judged_by, sizeof judged_by, "%s", g->judge_version);
            Spar__RolloutAck a = SPAR__ROLLOUT_ACK__INIT;
            a.iteration = g->iteration, a.prompt_id = g->prompt_id, a.status = SPAR__ACK_STATUS__ACK_ACCEPTED;
            Spar__Envelope e = SPAR__ENVELOPE__INIT;
            e.body_case = SPAR__ENVELOPE__BODY_ROLLOUT_ACK, e.rollout_ack = &a, e.run_id = "test-run";
            s_send_env(L.router, zmq_msg_data(&peer), zmq_msg_size(&peer), &e, "learner");
        }
        wire_free(in);
        zmq_msg_close(&peer);
    }
    fprintf(stderr, "%d groups in %.1f s, judged by %s\n", groups, (double)(util_now_ms() - start) / 1000, judged_by);
    assert_int_equal(groups, 2);
    assert_true(util_now_ms() - start >= 4000); /* only B could judge them */
    assert_true(!strncmp(judged_by, "matrix-", 7));
    for (int i = 0; i < N_LIARS; i++) assert_int_equal(liars[i].requests, 0);
    assert_true(tu_file_contains(L.log, "did not answer as a judge"));
    assert_true(tu_file_contains(L.log, "answered as something other than a judge"));
    kill(b, SIGTERM);
    assert_int_equal(tu_exit_code(tu_wait(b, 10000)), 0);
    assert_false(tu_file_contains(blog, "judge stopping: 0 requests served"));
    for (int i = 0; i < N_LIARS; i++) zmq_close(liars[i].sock); /* before the context ends */
    s_fake_learner_stop(&L);
    for (int i = 0; i <= N_CLAIMS; i++) free(eps[i]);
    free(blog), free(bind_b), free(b_ctl), free(blob);
}

/* A 64 MiB policy blob fetched in 256 chunks of 256 KiB: the fake learner answers the fetches
 * that arrived whenever none came for 100 ms; the actor never has more than WIRE_FETCH_WINDOW
 * outstanding (it asked for all 256 at once, and a learner queues 64 per peer), and the whole
 * blob arrives and loads. */
static void test_pool_actor_fetches_within_a_window(void **state) {
    (void)state;
    policy_t *pol = policy_tabular_new(4096, 2048);
    size_t len;
    uint8_t *blob = policy_serialize(pol, 1, &len);
    policy_destroy(&pol);
    assert_true(len >= 64u << 20);
    const size_t chunk = 256u << 10;
    uint32_t n_chunks = (uint32_t)((len + chunk - 1) / chunk);
    uint8_t digest[DIGEST_BYTES];
    digest_compute(blob, len, digest);
    fake_learner_t L;
    s_fake_learner_start(&L);
    uint32_t *asked = xcalloc(n_chunks + 1024, sizeof *asked);
    int n_asked = 0, max_batch = 0, batches = 0, granted = 0;
    uint64_t fetches = 0;
    int64_t quiet_since = util_now_ms(), end = util_now_ms() + 60000, t0 = 0, done_ms = 0;
    while (util_now_ms() < end && !done_ms) {
        zmq_msg_t peer;
        Spar__Envelope *in = s_recv(L.router, 10, &peer);
        static zmq_msg_t actor_id;
        static int have_id;
        if (in) {
            if (!have_id) {
                zmq_msg_init(&actor_id);
                zmq_msg_copy(&actor_id, &peer);
                have_id = 1;
            }
            if (in->body_case == SPAR__ENVELOPE__BODY_HELLO) s_welcome(&L, &peer);
            else if (in->body_case == SPAR__ENVELOPE__BODY_WORK_REQUEST && !granted) {
                uint32_t prompts[1] = {0};
                Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
                g.lease_id = 1, g.iteration = 1, g.policy_version = 1, g.prompt_ids = prompts, g.n_prompt_ids = 1;
                g.samples_per_prompt = 2;
                s_grant(&L, &peer, &g);
                granted = 1;
                t0 = util_now_ms();
            } else if (in->body_case == SPAR__ENVELOPE__BODY_WEIGHTS_FETCH) {
                asked[n_asked++] = in->weights_fetch->chunk_index;
                fetches++;
                quiet_since = util_now_ms();
            }
            wire_free(in);
            zmq_msg_close(&peer);
        }
        if (n_asked && util_now_ms() - quiet_since >= 100) { /* answer the batch */
            if (n_asked > max_batch) max_batch = n_asked;
            batches++;
            for (int i = 0; i < n_asked; i++) {
                uint32_t c = asked[i];
                size_t off = (size_t)c * chunk, n = len - off < chunk ? len - off : chunk;
                uint8_t cd[DIGEST_BYTES];
                digest_compute(blob + off, n, cd);
                Spar__WeightsChunk wc = SPAR__WEIGHTS_CHUNK__INIT;
                wc.version = 1, wc.chunk_index = c, wc.n_chunks = n_chunks, wc.total_bytes = len, wc.offset = off;
                wc.data.data = blob + off, wc.data.len = n;
                wc.digest.data = digest, wc.digest.len = DIGEST_BYTES;
                wc.chunk_digest.data = cd, wc.chunk_digest.len = DIGEST_BYTES;
                Spar__Envelope e = SPAR__ENVELOPE__INIT;
                e.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_CHUNK, e.weights_chunk = &wc, e.run_id = "test-run";
                s_send_env(L.router, zmq_msg_data(&actor_id), zmq_msg_size(&actor_id), &e, "learner");
            }
            n_asked = 0;
        }
        if (granted && tu_file_contains(L.log, "running weights v1")) done_ms = util_now_ms();
    }
    fprintf(stderr, "64 MiB in %u chunks: %llu fetches, batches of at most %d, %d batches, loaded in %lld ms\n",
            n_chunks, (unsigned long long)fetches, max_batch, batches, (long long)(done_ms - t0));
    assert_true(done_ms > 0);
    assert_true(max_batch <= WIRE_FETCH_WINDOW);
    assert_true(fetches <= (uint64_t)n_chunks + WIRE_FETCH_WINDOW); /* no round asked again */
    s_fake_learner_stop(&L);
    free(asked), free(blob);
}

/* The fake learner sends what no learner should: a prompt id past the run's prompts, more
 * responses than a group may hold, a token budget no actor holds, weights announced in 2^30
 * chunks; then a grant with hello_first. The actor refuses each (counted, as its heartbeats
 * say), says Hello again, and keeps asking for work. */
static void test_pool_actor_bounds_what_the_learner_sends(void **state) {
    (void)state;
    fake_learner_t L;
    s_fake_learner_start(&L);
    int hellos = 0, requests = 0, after_second_hello = 0;
    uint64_t reported_bad = 0;
    int64_t end = util_now_ms() + 30000;
    while (util_now_ms() < end && !(after_second_hello >= 3 && reported_bad >= 4)) {
        zmq_msg_t peer;
        Spar__Envelope *in = s_recv(L.router, 100, &peer);
        if (!in) continue;
        if (in->body_case == SPAR__ENVELOPE__BODY_HELLO) {
            hellos++;
            s_welcome(&L, &peer);
            if (hellos == 2) { /* weights in more chunks than an actor holds */
                uint8_t d[DIGEST_BYTES] = {0};
                Spar__WeightsAvailable w = SPAR__WEIGHTS_AVAILABLE__INIT;
                w.version = 9, w.n_chunks = 1u << 30, w.total_bytes = 1u << 31, w.digest.data = d, w.digest.len = DIGEST_BYTES;
                Spar__Envelope e = SPAR__ENVELOPE__INIT;
                e.body_case = SPAR__ENVELOPE__BODY_WEIGHTS_AVAILABLE, e.weights_available = &w, e.run_id = "test-run";
                s_send_env(L.pub, NULL, 0, &e, "learner"); /* its subscription is old by now */
            }
        } else if (in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
            reported_bad = in->heartbeat->bad_messages;
        } else if (in->body_case == SPAR__ENVELOPE__BODY_WORK_REQUEST) {
            requests++;
            uint32_t far[1] = {99}, two[2] = {0, 1};
            Spar__WorkGrant g = SPAR__WORK_GRANT__INIT;
            g.lease_id = (uint64_t)requests, g.iteration = 1, g.policy_version = 0, g.samples_per_prompt = 2;
            if (hellos >= 2) {
                after_second_hello++;
                g.retry_ms = 20; /* no work */
            } else if (requests == 1) {
                g.prompt_ids = far, g.n_prompt_ids = 1;
            } else if (requests == 2) {
                g.prompt_ids = two, g.n_prompt_ids = 2, g.samples_per_prompt = 4096, g.opponent_mix = 0.5;
            } else if (requests == 3) {
                g.prompt_ids = two, g.n_prompt_ids = 2, g.max_new = 1000000000u;
            } else {
                g.hello_first = 1;
            }
            s_grant(&L, &peer, &g);
        }
        wire_free(in);
        zmq_msg_close(&peer);
    }
    fprintf(stderr, "%d hellos, %d work requests, %llu bad messages reported\n", hellos, requests,
            (unsigned long long)reported_bad);
    assert_int_equal(hellos, 2);
    assert_true(after_second_hello >= 3);
    assert_int_equal(reported_bad, 4);
    assert_true(tu_file_contains(L.log, "prompt 99 of a run of 4 prompts"));
    assert_true(tu_file_contains(L.log, "exceeds what an actor holds"));
    assert_true(tu_file_contains(L.log, "chunks"));
    assert_true(tu_file_contains(L.log, "saying hello again"));
    s_fake_learner_stop(&L);
}

int main(int argc, char **argv) {
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pool_judge_bounds_k_and_backlog, s_teardown),
        cmocka_unit_test_teardown(test_pool_judge_serves_while_learner_unresolvable, s_teardown),
        cmocka_unit_test_teardown(test_pool_logic_dead_endpoints_never_block_a_judge, s_teardown),
        cmocka_unit_test_teardown(test_pool_logic_one_judge_two_endpoints_counts_once, s_teardown),
        cmocka_unit_test_teardown(test_pool_actor_uses_only_verified_judges, s_teardown),
        cmocka_unit_test_teardown(test_pool_actor_survives_two_frame_judge_and_dedupes, s_teardown),
        cmocka_unit_test_teardown(test_pool_actor_bursts_stay_within_judge_window, s_teardown),
        cmocka_unit_test_teardown(test_pool_actor_fetches_within_a_window, s_teardown),
        cmocka_unit_test_teardown(test_pool_actor_bounds_what_the_learner_sends, s_teardown),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
