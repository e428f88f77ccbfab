/* presence — see presence.h. The membership as two parts of the judge's loop: the DEALER to
 * learner.control, whose replies only say whether the learner knows us, and a heartbeat timer
 * (a hello first while it does not). Its socket lives on a context of its own, ended within a
 * bound at teardown. Not the judge's serving: its counters come through a callback. */
#include "judge/presence.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/keepalive.h"
#include "common/util.h"
#include "common/wire_socket.h"

struct presence {
    void *zctx;     /* its own: its I/O thread resolves learner.control's host name */
    curve_t *curve; /* CURVE client keys for that context */
    void *sock;
    wire_t *wire;
    loop_t *loop;
    uint64_t heartbeat_timer;
    presence_counts_fn counts; /* the judge's counters, for each heartbeat */
    void *counts_ctx;
    char endpoint[512];
    long heartbeat_ms;
    int answered; /* the learner has replied once: no more hellos needed */
    keepalive_t *keepalive;
};

/* The first IPv4 address of this host that is not loopback, or 127.0.0.1. */
static void s_ip(char *out, size_t outlen) {
    snprintf(out, outlen, "127.0.0.1");
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(a->sin_addr.s_addr) >> 24) == 127) continue;
        inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)outlen);
        break;
    }
    freeifaddrs(ifs);
}

int presence_endpoint(const spar_config_t *cfg, char *out, size_t outlen) {
    const char *src = cfg->judge.advertise;
    if (!src[0]) {
        src = cfg->judge.bind;
        if (strchr(src, '*') || strstr(src, "0.0.0.0")) return -1; /* which address? the operator says */
    }
    char host[256] = "", ip[64] = "";
    gethostname(host, sizeof host - 1);
    s_ip(ip, sizeof ip);
    size_t n = 0;
    for (const char *c = src; *c && n + 1 < outlen;) {
        const char *with = !strncmp(c, "{host}", 6) ? host : !strncmp(c, "{ip}", 4) ? ip : NULL;
        if (with) {
            n += (size_t)snprintf(out + n, outlen - n, "%s", with);
            c += with == host ? 6 : 4;
        } else {
            out[n++] = *c++;
        }
    }
    out[n < outlen ? n : outlen - 1] = '\0';
    return out[0] ? 0 : -1;
}

/* A full queue (no learner listening yet) drops a hello or a heartbeat: the next one follows. */
static void s_hello(presence_t *p) {
    (void)msg_send_hello(p->wire, p->sock, NULL, SPAR__ROLE__ROLE_JUDGE, NULL, (uint32_t)getpid(), p->endpoint);
}

/* Welcome / Heartbeat replies: the learner knows us, unless it says it does not (it restarted):
 * then hello again at the next heartbeat. */
static void s_on_learner(loop_t *loop, void *socket, void *arg) {
    (void)loop;
    presence_t *p = arg;
    while (wire_readable(socket)) {
        Spar__Envelope *in = wire_recv(p->wire, socket, 0, NULL);
        if (in) p->answered = !(in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT && in->heartbeat->hello_first);
        wire_free(in);
    }
}

static int64_t s_heartbeat_timer(loop_t *loop, uint64_t id, int64_t now_ms, void *arg) {
    (void)loop, (void)id;
    presence_t *p = arg;
    if (!p->answered) s_hello(p); /* a learner that started after us, or restarted */
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_JUDGE, .bad_messages = p->wire->bad_messages};
    p->counts(p->counts_ctx, &hb.requests_served, &hb.pairs_judged);
    (void)msg_send_heartbeat(p->wire, p->sock, NULL, &hb);
    return now_ms + p->heartbeat_ms;
}

/* Its context and keys, then the DEALER to learner.control. Returns 0, or -1 (logged). */
static int s_connect(presence_t *p, const spar_config_t *cfg) {
    char why[512];
    /* ZeroMQ resolves a connect's host name on its context's I/O thread, synchronously, and again
     * on every reconnect: with the learner gone, a resolver that takes seconds would stall every
     * socket of that context. On a context of its own it stalls only this one, never the judge's
     * ROUTER. */
    p->zctx = zmq_ctx_new();
    if (!(p->curve = curve_new(p->zctx, cfg, why, sizeof why))) {
        log_warn("not joining the judge pool: %s", why);
        return -1;
    }
    wire_socket_opts_t o = {.label = "learner.control (judge pool)", .type = ZMQ_DEALER,
                            .endpoint = cfg->learner.control, .max_frame_bytes = cfg->wire.max_frame_bytes,
                            .curve = p->curve, .curve_peer = CURVE_LEARNER,
                            .routing_id = p->wire->sender_id, /* the learner knows a peer by it */
                            .sndhwm = 16}; /* while no learner listens, keep a few messages, not a backlog */
    return (p->sock = wire_socket_open(p->zctx, &o)) ? 0 : -1;
}

presence_t *presence_new(const spar_config_t *cfg, wire_t *wire, loop_t *loop, presence_counts_fn counts,
                         void *ctx) {
    char ep[512];
    if (presence_endpoint(cfg, ep, sizeof ep) != 0) {
        log_info("judge.bind %s is a wildcard and judge.advertise is empty: not joining the learner's judge pool "
                 "(actors reach this judge through their judge.endpoints only)", cfg->judge.bind);
        return NULL;
    }
    presence_t *p = xcalloc(1, sizeof *p);
    *p = (presence_t){.wire = wire, .loop = loop, .counts = counts, .counts_ctx = ctx,
                      .heartbeat_ms = cfg->actor.heartbeat_ms};
    snprintf(p->endpoint, sizeof p->endpoint, "%s", ep);
    if (s_connect(p, cfg) != 0) {
        curve_destroy(&p->curve);
        zmq_ctx_term(p->zctx);
        free(p);
        return NULL;
    }
    s_hello(p);
    p->keepalive = keepalive_new(wire, p->sock, p->heartbeat_ms);
    loop_add_socket(loop, p->sock, s_on_learner, p);
    p->heartbeat_timer = loop_add_timer(loop, loop_now(loop) + p->heartbeat_ms, s_heartbeat_timer, p);
    log_info("joining the judge pool of the learner at %s as %s", cfg->learner.control, ep);
    return p;
}

/* Ending the context waits for its I/O thread, which may sit in the resolver: it ends on a
 * thread of its own, waited for the goodbye's linger and PRESENCE_TERM_SLACK_MS more at most;
 * past that the process exits without it. */
#define PRESENCE_TERM_SLACK_MS 200

typedef struct {
    void *zctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, abandoned;
} term_t;

static void *s_term(void *arg) {
    term_t *t = arg;
    zmq_ctx_term(t->zctx);
    pthread_mutex_lock(&t->mu);
    t->done = 1;
    int abandoned = t->abandoned;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (abandoned) free(t); /* the waiter gave up: this thread owns it */
    return NULL;
}

static void s_term_bounded(void *zctx, long wait_ms) {
    static term_t *left_behind; /* a term still waiting when the process exits stays reachable */
    term_t *t = xcalloc(1, sizeof *t);
    t->zctx = zctx;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay with the judge's thread */
    pthread_t th;
    int rc = pthread_create(&th, NULL, s_term, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) { /* no thread: leave the context to the process's exit */
        free(t);
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += wait_ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&t->mu);
    while (!t->done && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0) {}
    int done = t->done;
    if (!done) t->abandoned = 1;
    pthread_mutex_unlock(&t->mu);
    if (done) {
        pthread_join(th, NULL);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
    } else {
        pthread_detach(th);
        left_behind = t;
        (void)left_behind;
        log_info("judge pool: the learner's address is still being resolved; not waiting for it");
    }
}

void presence_busy(void *ctx, int busy) {
    presence_t *p = ctx;
    if (!p) return;
    if (!busy) {
        keepalive_end(p->keepalive);
        return;
    }
    msg_heartbeat_t hb = {.role = SPAR__ROLE__ROLE_JUDGE, .bad_messages = p->wire->bad_messages};
    p->counts(p->counts_ctx, &hb.requests_served, &hb.pairs_judged);
    keepalive_begin(p->keepalive, &hb);
}

void presence_destroy(presence_t **pp) {
    presence_t *p = *pp;
    if (!p) return;
    keepalive_free(&p->keepalive);
    int linger = p->answered ? 300 : 0; /* a goodbye to a learner that is there */
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    (void)msg_send_shutdown(p->wire, p->sock, NULL, "judge stopping");
    loop_remove_socket(p->loop, p->sock);
    loop_cancel_timer(p->loop, p->heartbeat_timer);
    zmq_close(p->sock);
    curve_destroy(&p->curve);
    s_term_bounded(p->zctx, linger + PRESENCE_TERM_SLACK_MS);
    free(p);
    *pp = NULL;
}
