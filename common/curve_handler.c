/* curve_handler — the ZAP handler thread of a process's curve_t (see curve.h, curve_state.h): it
 * answers ZeroMQ's ZAP requests, admitting only the CURVE keys in security.allowed, and reads the
 * socket monitors that report failed handshakes, logging each refused key or kind of failure once
 * and counting refusals. The role's thread talks to it over an inproc PAIR. Not the key files
 * (curve_keys.c) nor the socket options (curve.c). */
#include "common/curve_state.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/log.h"
#include "common/wire.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

/* Remembers a key in a log-once table; 1 when it is new (and should be logged). Past the
 * table's size, one more key is logged, then none. */
static int s_first_time(uint8_t table[][32], int *n, const uint8_t *key) {
    for (int i = 0; i < *n && i < CURVE_MAX_LOGGED; i++)
        if (!memcmp(table[i], key, 32)) return 0;
    if (*n < CURVE_MAX_LOGGED) memcpy(table[*n], key, 32);
    return *n <= CURVE_MAX_LOGGED ? ((*n)++, 1) : 0;
}

static void s_send_str(void *sock, const char *s, int more) {
    zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0);
}

/* Receives one frame into m (closed again when none came). Returns 0 or -1. */
static int s_recv_frame(void *sock, zmq_msg_t *m) {
    zmq_msg_init(m);
    if (zmq_msg_recv(m, sock, 0) >= 0) return 0;
    zmq_msg_close(m);
    return -1;
}

/* Receives a whole message into up to max frames (extra frames are dropped). Returns the
 * number kept. */
static int s_recv_frames(void *sock, zmq_msg_t *part, int max) {
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        if (s_recv_frame(sock, &m) != 0) break;
        more = zmq_msg_more(&m);
        if (n < max) part[n++] = m;
        else zmq_msg_close(&m);
    }
    return n;
}

typedef struct {
    const char *status, *text, *user;
} zap_verdict_t;

/* A CURVE client's key: admitted when security.allowed holds it (its name becomes the
 * connection's User-Id), else refused and counted. Each key is logged once. */
static zap_verdict_t s_verdict_on_key(curve_t *c, const uint8_t *key, zmq_msg_t *address) {
    zap_verdict_t v = {"400", "key not allowed", ""};
    int found = -1;
    for (int i = 0; i < c->n_allowed && found < 0; i++)
        if (!memcmp(c->allowed[i].key, key, 32)) found = i;
    char z85[CURVE_Z85_LEN + 1], shortk[9];
    zmq_z85_encode(z85, key, 32);
    curve_short(z85, shortk);
    char addr[64];
    snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(address), (const char *)zmq_msg_data(address));
    if (found >= 0) {
        v = (zap_verdict_t){"200", "OK", c->allowed[found].name};
        if (s_first_time(c->logged_accepted, &c->n_logged_accepted, key))
            log_info("curve: admitted key %s (%s.pub)%s%s", shortk, v.user, addr[0] ? " from " : "", addr);
    } else {
        atomic_fetch_add(&c->refused, 1);
        if (s_first_time(c->logged_refused, &c->n_logged_refused, key))
            log_warn("curve: refused key %s%s%s: not in security.allowed %s (logged once per key)", shortk,
                     addr[0] ? " from " : "", addr, c->allowed_path);
    }
    return v;
}

/* One ZAP request (RFC 27): version, request id, domain, address, routing id, mechanism,
 * credentials; answered 200 for an allowed CURVE key, else 400. */
static void s_on_zap(curve_t *c) {
    zmq_msg_t part[8];
    int n = s_recv_frames(c->zap, part, 8);
    if (n == 0) return;
    zap_verdict_t v = {"400", "malformed ZAP request", ""};
    if (n == 7 && zmq_msg_size(&part[5]) == 5 && !memcmp(zmq_msg_data(&part[5]), "CURVE", 5) &&
        zmq_msg_size(&part[6]) == 32) {
        v = s_verdict_on_key(c, zmq_msg_data(&part[6]), &part[3]);
    } else if (n >= 6) {
        v.text = "only CURVE is admitted";
        atomic_fetch_add(&c->refused, 1);
    }
    s_send_str(c->zap, "1.0", 1);
    if (n >= 2) zmq_send(c->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    else s_send_str(c->zap, "", 1);
    s_send_str(c->zap, v.status, 1);
    s_send_str(c->zap, v.text, 1);
    s_send_str(c->zap, v.user, 1);
    s_send_str(c->zap, "", 0);
    for (int i = 0; i < n; i++) zmq_msg_close(&part[i]);
}

/* Receives a whole message into up to n NUL-terminated strings (longer frames are cut, extra
 * frames dropped). Returns the number of frames, or -1. */
static int s_recv_strings(void *sock, char **dst, const size_t *cap, int n) {
    int got = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        if (s_recv_frame(sock, &m) != 0) return -1;
        if (got < n) {
            size_t len = zmq_msg_size(&m) < cap[got] - 1 ? zmq_msg_size(&m) : cap[got] - 1;
            memcpy(dst[got], zmq_msg_data(&m), len);
            dst[got][len] = '\0';
        }
        got++;
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return got;
}

/* A socket-monitor event. A server logs each kind of failed handshake once and counts them as
 * refusals (ZAP refusals are logged by s_on_zap); a client logs each kind once until one
 * succeeds again. */
static void s_on_monitor(curve_t *c, monitor_t *m) {
    char head[7], addr[256];
    char *dst[2] = {head, addr};
    size_t cap[2] = {sizeof head, sizeof addr};
    addr[0] = '\0';
    if (s_recv_strings(m->sock, dst, cap, 2) < 1) return;
    uint16_t event;
    uint32_t value;
    memcpy(&event, head, 2); /* frame 1: the event (16 bits) and its value (32 bits) */
    memcpy(&value, head + 2, 4);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        if (m->server) return;
        if (m->logged) log_info("curve: %s %s: the CURVE handshake succeeded", m->label, addr);
        m->logged = 0;
        return;
    }
    unsigned kind;
    const char *what;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        kind = 1, what = "the server refused this process's key (is its .pub in the server's security.allowed?)";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        kind = 2, what = m->server ? "refused a peer that does not speak CURVE" : "the server does not speak CURVE";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        kind = 4, what = m->server ? "a peer's CURVE handshake failed (it trusts another server key?)"
                                   : "the CURVE handshake failed: is the server's key the one in";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        /* a side that finds the mismatch hangs up: the other sees only a broken handshake */
        kind = 8, what = m->server ? "a peer broke off the handshake (a client without CURVE, or one that trusts "
                                     "another server key?)"
                                   : "the server broke off the handshake: does it speak CURVE with the key in";
    else
        return;
    if (m->server) atomic_fetch_add(&c->refused, 1);
    if (m->logged & kind) return;
    m->logged |= kind;
    if (m->server)
        log_warn("curve: %s %s: %s (logged once)", m->label, addr, what);
    else if (kind == 1 || kind == 2)
        log_warn("curve: %s %s: %s (logged once until a handshake succeeds)", m->label, addr, what);
    else
        log_warn("curve: %s %s: %s %s? (logged once until a handshake succeeds)", m->label, addr, what, m->peer_key);
}

/* A command from the role's thread: "STOP", or "MONITOR" endpoint label (server | the option
 * naming the server's key).
 * Returns 1 on STOP. */
static int s_on_command(curve_t *c, void *pipe) {
    char cmd[16] = "", ep[128] = "", label[CFG_STR] = "", side[32] = "";
    char *dst[4] = {cmd, ep, label, side};
    size_t cap[4] = {sizeof cmd, sizeof ep, sizeof label, sizeof side};
    if (s_recv_strings(pipe, dst, cap, 4) < 0 || !strcmp(cmd, "STOP")) return 1;
    if (strcmp(cmd, "MONITOR") != 0) return 0;
    int i = 0;
    while (i < CURVE_MAX_MONITORS && c->monitors[i].sock) i++;
    if (i == CURVE_MAX_MONITORS) return 0;
    monitor_t *m = &c->monitors[i];
    m->sock = zmq_socket(c->zctx, ZMQ_PAIR);
    zmq_connect(m->sock, ep);
    snprintf(m->label, sizeof m->label, "%s", label);
    m->server = !strcmp(side, "server");
    snprintf(m->peer_key, sizeof m->peer_key, "%s", side);
    return 0;
}

static void s_pipe_endpoint(const curve_t *c, char *out, size_t len) {
    snprintf(out, len, "inproc://spar-curve-%p", (const void *)c);
}

static void *s_handler(void *arg) {
    curve_t *c = arg;
    void *pipe = zmq_socket(c->zctx, ZMQ_PAIR);
    char ep[64];
    s_pipe_endpoint(c, ep, sizeof ep);
    zmq_connect(pipe, ep);
    for (;;) {
        zmq_pollitem_t items[2 + CURVE_MAX_MONITORS];
        int n = 0;
        items[n++] = (zmq_pollitem_t){pipe, 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){c->zap, 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < CURVE_MAX_MONITORS && c->monitors[i].sock; i++)
            items[n++] = (zmq_pollitem_t){c->monitors[i].sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, n, -1) < 0) {
            if (zmq_errno() == EINTR) continue;
            break; /* ETERM: the context is ending */
        }
        if ((items[0].revents & ZMQ_POLLIN) && s_on_command(c, pipe)) break;
        if (items[1].revents & ZMQ_POLLIN) s_on_zap(c);
        for (int i = 2; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN) s_on_monitor(c, &c->monitors[i - 2]);
    }
    for (int i = 0; i < CURVE_MAX_MONITORS && c->monitors[i].sock; i++) zmq_close(c->monitors[i].sock);
    zmq_close(c->zap);
    zmq_close(pipe);
    return NULL;
}

int curve_handler_start(curve_t *c) {
    if (c->running) return 0;
    c->zap = zmq_socket(c->zctx, ZMQ_REP);
    wire_socket_defaults(c->zap, 1 << 20);
    if (zmq_bind(c->zap, ZAP_ENDPOINT) != 0) {
        log_error("curve: cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        zmq_close(c->zap);
        return -1;
    }
    char ep[64];
    s_pipe_endpoint(c, ep, sizeof ep);
    c->pipe = zmq_socket(c->zctx, ZMQ_PAIR);
    wire_socket_defaults(c->pipe, 1 << 20);
    zmq_bind(c->pipe, ep);
    /* signals stay with the role's thread, whose loop checks for them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&c->thread, NULL, s_handler, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("curve: cannot start the ZAP handler thread: %s", strerror(rc));
        zmq_close(c->zap);
        zmq_close(c->pipe);
        return -1;
    }
    c->running = 1;
    return 0;
}

void curve_handler_stop(curve_t *c) {
    if (!c->running) return;
    s_send_str(c->pipe, "STOP", 0);
    pthread_join(c->thread, NULL);
    zmq_close(c->pipe);
    c->running = 0;
}

void curve_handler_watch(curve_t *c, void *sock, const char *label, int server, const char *peer_key) {
    if (c->n_monitors == CURVE_MAX_MONITORS) return;
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://spar-curve-%p-monitor-%d", (void *)c, c->n_monitors++);
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 (server ? 0 : ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    if (zmq_socket_monitor(sock, ep, events) != 0) return;
    s_send_str(c->pipe, "MONITOR", 1);
    s_send_str(c->pipe, ep, 1);
    s_send_str(c->pipe, label, 1);
    s_send_str(c->pipe, server ? "server" : peer_key, 0);
}
