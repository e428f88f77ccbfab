/* curve — see curve.h. Sections: key files, the object, the ZAP handler thread (ZAP requests,
 * socket-monitor events), sockets, the start-up check, keygen. */
#include "common/curve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/log.h"
#include "common/util.h"
#include "common/wire.h"

#define KEY_FILE_MAX 4096 /* a key file is a key and a comment or two */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "spar"
#define MAX_MONITORS 80
#define MAX_LOGGED 64
/* A draft option (libzmq >= 4.3 built with drafts): without a ZAP handler, refuse instead of
 * admitting. Elsewhere setting it fails harmlessly; the handler is up before any bind anyway. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

static const char s_z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/* ---- key files -------------------------------------------------------------------------- */

/* Reads at most KEY_FILE_MAX bytes of a regular file (never blocks on a FIFO or a device). */
static char *s_read_small(const char *path, const char *cfg_key, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s: cannot read: %s", path, cfg_key, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        snprintf(err, errlen, "%s: %s: %s", path, cfg_key,
                 S_ISREG(st.st_mode) ? "too large for a key file" : "not a regular file");
        close(fd);
        return NULL;
    }
    char *buf = xmalloc(KEY_FILE_MAX + 1);
    ssize_t n = read(fd, buf, KEY_FILE_MAX);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s: cannot read: %s", path, cfg_key, strerror(errno));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int s_is_key(const char *line, size_t len) {
    if (len != CURVE_Z85_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!line[i] || !strchr(s_z85, line[i])) return 0;
    return 1;
}

int curve_read_key(const char *path, const char *cfg_key, char z85[CURVE_Z85_LEN + 1], char *err,
                   size_t errlen) {
    size_t plen = strlen(path);
    if (!strcmp(cfg_key, "security.key") && plen > 4 && !strcmp(path + plen - 4, ".pub")) {
        snprintf(err, errlen, "%s: %s: a public key; give the secret NAME.key beside it", path, cfg_key);
        return -1;
    }
    char *text = s_read_small(path, cfg_key, err, errlen);
    if (!text) return -1;
    int found = 0, rc = 0, line_no = 0;
    for (char *line = text, *next; line && rc == 0; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = '\0';
        while (*line == ' ' || *line == '\t') line++, len--;
        /* '#' is a Z85 character too: a key line is exactly 40 of them, comments hold spaces */
        if (s_is_key(line, len)) {
            if (found) {
                snprintf(err, errlen, "%s:%d: %s: a second key; a key file holds one", path, line_no, cfg_key);
                rc = -1;
            } else {
                memcpy(z85, line, CURVE_Z85_LEN + 1);
                found = 1;
            }
        } else if (len && line[0] != '#') { /* never echo the line: it may be a secret */
            size_t bad = strspn(line, s_z85);
            if (len != CURVE_Z85_LEN)
                snprintf(err, errlen, "%s:%d: %s: not a CURVE key: %zu characters, a Z85 key has %d (spar keygen "
                         "writes them)", path, line_no, cfg_key, len, CURVE_Z85_LEN);
            else
                snprintf(err, errlen, "%s:%d: %s: not a CURVE key: character %zu is not Z85", path, line_no,
                         cfg_key, bad + 1);
            rc = -1;
        }
    }
    explicit_bzero(text, KEY_FILE_MAX + 1); /* it may have held a secret key */
    free(text);
    if (rc == 0 && !found) {
        snprintf(err, errlen, "%s: %s: holds no key (spar keygen writes them)", path, cfg_key);
        rc = -1;
    }
    return rc;
}

void curve_short(const char *z85, char out[9]) { snprintf(out, 9, "%.8s", z85); }

/* ---- the object ------------------------------------------------------------------------- */

typedef struct {
    uint8_t key[32];
    char name[64]; /* the .pub file's name without .pub */
} allowed_t;

typedef struct {
    void *sock; /* the handler's PAIR to the socket's monitor */
    char label[CFG_STR];
    int server;
    char peer_key[32]; /* a client's: the option naming the server's key */
    unsigned logged; /* failure kinds logged since the last success */
} monitor_t;

struct curve {
    int on;
    void *zctx;
    char secret[CURVE_Z85_LEN + 1], public_[CURVE_Z85_LEN + 1];
    char peer[3][CURVE_Z85_LEN + 1]; /* learner, judge, remote: "" when not configured */
    char allowed_path[CFG_STR];
    allowed_t *allowed;
    int n_allowed;
    /* the handler: a thread with the ZAP socket, the monitors and the other end of `pipe` */
    pthread_t thread;
    int running;
    void *pipe;
    int n_monitors;
    atomic_uint_fast64_t refused;
    /* handler thread only */
    void *zap;
    monitor_t monitors[MAX_MONITORS];
    uint8_t logged_refused[MAX_LOGGED][32], logged_accepted[MAX_LOGGED][32];
    int n_logged_refused, n_logged_accepted;
};

static const char *s_peer_key[3] = {"security.learner_public", "security.judge_public", "security.remote_public"};

static int s_has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int s_pub_filter(const struct dirent *e) { return e->d_name[0] != '.' && s_has_suffix(e->d_name, ".pub"); }

static int s_add_allowed(curve_t *c, const char *path, const char *file, char *err, size_t errlen) {
    char z85[CURVE_Z85_LEN + 1];
    if (curve_read_key(path, "security.allowed", z85, err, errlen) != 0) return -1;
    c->allowed = xrealloc(c->allowed, sizeof *c->allowed * (size_t)(c->n_allowed + 1));
    allowed_t *a = &c->allowed[c->n_allowed++];
    zmq_z85_decode(a->key, z85);
    snprintf(a->name, sizeof a->name, "%.*s", (int)(strlen(file) - 4), file);
    return 0;
}

/* security.allowed: a folder of *.pub files, or one .pub file. */
static int s_load_allowed(curve_t *c, const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: security.allowed: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        const char *slash = strrchr(path, '/');
        const char *file = slash ? slash + 1 : path;
        return s_add_allowed(c, path, s_has_suffix(file, ".pub") ? file : "key.pub", err, errlen);
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, s_pub_filter, alphasort), rc = 0;
    if (n < 0) {
        snprintf(err, errlen, "%s: security.allowed: cannot list: %s", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char *full = xasprintf("%s/%s", path, names[i]->d_name);
        if (rc == 0) rc = s_add_allowed(c, full, names[i]->d_name, err, errlen);
        free(full);
        free(names[i]);
    }
    free(names);
    if (rc == 0 && c->n_allowed == 0) {
        snprintf(err, errlen, "%s: security.allowed: the folder holds no .pub file (spar keygen writes them)", path);
        rc = -1;
    }
    return rc;
}

/* Reads every key the config names; `warn`: log a secret key file others can read. */
static curve_t *s_load(void *zctx, const spar_config_t *cfg, int warn, char *err, size_t errlen) {
    curve_t *c = xcalloc(1, sizeof *c);
    c->zctx = zctx;
    c->on = cfg->security.curve != 0;
    if (!c->on) return c;
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "security.curve: this libzmq was built without CURVE (libsodium); rebuild it with "
                 "CURVE or set security.curve false");
        goto fail;
    }
    const char *key = cfg->security.key;
    if (key[0]) {
        if (curve_read_key(key, "security.key", c->secret, err, errlen) != 0) goto fail;
        if (zmq_curve_public(c->public_, c->secret) != 0) {
            snprintf(err, errlen, "%s: security.key: cannot derive its public key: %s", key, zmq_strerror(zmq_errno()));
            goto fail;
        }
        struct stat st;
        if (warn && stat(key, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
            log_warn("%s: security.key: a secret key others can read (mode %03o); chmod 600 it", key,
                     (unsigned)(st.st_mode & 0777));
    }
    const char *peers[3] = {cfg->security.learner_public, cfg->security.judge_public, cfg->security.remote_public};
    for (int p = 0; p < 3; p++)
        if (peers[p][0] && curve_read_key(peers[p], s_peer_key[p], c->peer[p], err, errlen) != 0) goto fail;
    snprintf(c->allowed_path, sizeof c->allowed_path, "%s", cfg->security.allowed);
    if (c->allowed_path[0] && s_load_allowed(c, c->allowed_path, err, errlen) != 0) goto fail;
    return c;
fail:
    explicit_bzero(c->secret, sizeof c->secret);
    free(c->allowed);
    free(c);
    return NULL;
}

curve_t *curve_new(void *zctx, const spar_config_t *cfg, char *err, size_t errlen) {
    return s_load(zctx, cfg, 1, err, errlen);
}

uint64_t curve_refused(const curve_t *c) { return c ? atomic_load(&((curve_t *)c)->refused) : 0; }

/* ---- the handler thread ----------------------------------------------------------------- */

/* Remembers a key in a log-once table; 1 when it is new (and should be logged). Past the
 * table's size, one more key is logged, then none. */
static int s_first_time(uint8_t table[][32], int *n, const uint8_t *key) {
    for (int i = 0; i < *n && i < MAX_LOGGED; i++)
        if (!memcmp(table[i], key, 32)) return 0;
    if (*n < MAX_LOGGED) memcpy(table[*n], key, 32);
    return *n <= MAX_LOGGED ? ((*n)++, 1) : 0;
}

static void s_send_str(void *sock, const char *s, int more) {
    zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0);
}

/* One ZAP request (RFC 27): version, request id, domain, address, routing id, mechanism,
 * credentials; answered 200 for an allowed CURVE key, else 400. */
static void s_on_zap(curve_t *c) {
    zmq_msg_t part[8];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->zap, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 8) part[n++] = m;
        else zmq_msg_close(&m);
    }
    if (n == 0) return;
    const char *status = "400", *text = "malformed ZAP request", *user = "";
    if (n == 7 && zmq_msg_size(&part[5]) == 5 && !memcmp(zmq_msg_data(&part[5]), "CURVE", 5) &&
        zmq_msg_size(&part[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&part[6]);
        int found = -1;
        for (int i = 0; i < c->n_allowed && found < 0; i++)
            if (!memcmp(c->allowed[i].key, key, 32)) found = i;
        char z85[CURVE_Z85_LEN + 1], shortk[9];
        zmq_z85_encode(z85, key, 32);
        curve_short(z85, shortk);
        char addr[64];
        snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&part[3]), (const char *)zmq_msg_data(&part[3]));
        if (found >= 0) {
            status = "200", text = "OK", user = c->allowed[found].name;
            if (s_first_time(c->logged_accepted, &c->n_logged_accepted, key))
                log_info("curve: admitted key %s (%s.pub)%s%s", shortk, user, addr[0] ? " from " : "", addr);
        } else {
            text = "key not allowed";
            atomic_fetch_add(&c->refused, 1);
            if (s_first_time(c->logged_refused, &c->n_logged_refused, key))
                log_warn("curve: refused key %s%s%s: not in security.allowed %s (logged once per key)", shortk,
                         addr[0] ? " from " : "", addr, c->allowed_path);
        }
    } else if (n >= 6) {
        text = "only CURVE is admitted";
        atomic_fetch_add(&c->refused, 1);
    }
    s_send_str(c->zap, "1.0", 1);
    if (n >= 2) zmq_send(c->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    else s_send_str(c->zap, "", 1);
    s_send_str(c->zap, status, 1);
    s_send_str(c->zap, text, 1);
    s_send_str(c->zap, user, 1);
    s_send_str(c->zap, "", 0);
    for (int i = 0; i < n; i++) zmq_msg_close(&part[i]);
}

/* Receives a whole message into up to n NUL-terminated strings (longer frames are cut, extra
 * frames dropped). Returns the number of frames, or -1. */
static int s_recv_strings(void *sock, char **dst, const size_t *cap, int n) {
    int got = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
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
    while (i < MAX_MONITORS && c->monitors[i].sock) i++;
    if (i == MAX_MONITORS) return 0;
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
        zmq_pollitem_t items[2 + MAX_MONITORS];
        int n = 0;
        items[n++] = (zmq_pollitem_t){pipe, 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){c->zap, 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < MAX_MONITORS && c->monitors[i].sock; i++)
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
    for (int i = 0; i < MAX_MONITORS && c->monitors[i].sock; i++) zmq_close(c->monitors[i].sock);
    zmq_close(c->zap);
    zmq_close(pipe);
    return NULL;
}

/* Binds the ZAP endpoint and starts the handler; a no-op once it runs. */
static int s_start(curve_t *c) {
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

void curve_destroy(curve_t **cp) {
    if (!cp || !*cp) return;
    curve_t *c = *cp;
    if (c->running) {
        s_send_str(c->pipe, "STOP", 0);
        pthread_join(c->thread, NULL);
        zmq_close(c->pipe);
    }
    explicit_bzero(c->secret, sizeof c->secret);
    free(c->allowed);
    free(c);
    *cp = NULL;
}

/* ---- sockets ---------------------------------------------------------------------------- */

/* Asks the handler to log the socket's failed handshakes. Logs help; they are not needed, so
 * a monitor that cannot start is skipped. */
static void s_monitor(curve_t *c, void *sock, const char *label, int server, const char *peer_key) {
    if (c->n_monitors == MAX_MONITORS) return;
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

int curve_server(curve_t *c, void *sock, const char *label) {
    if (!c || !c->on) return 0;
    if (!c->secret[0] || c->n_allowed == 0) {
        log_error("curve: %s: a CURVE server needs security.key and security.allowed", label);
        return -1;
    }
    if (s_start(c) != 0) return -1;
    int one = 1;
    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one); /* see its #define */
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret, sizeof c->secret) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0) {
        log_error("curve: %s: cannot make it a CURVE server: %s", label, zmq_strerror(zmq_errno()));
        return -1;
    }
    s_monitor(c, sock, label, 1, NULL);
    log_info("curve: %s is a CURVE server admitting %d key(s) of %s", label, c->n_allowed, c->allowed_path);
    return 0;
}

int curve_client(curve_t *c, void *sock, curve_peer_t peer, const char *label) {
    if (!c || !c->on) return 0;
    if (!c->secret[0] || !c->peer[peer][0]) {
        log_error("curve: %s: a CURVE client needs security.key and %s", label, s_peer_key[peer]);
        return -1;
    }
    if (s_start(c) != 0) return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->peer[peer], sizeof c->peer[peer]) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->public_, sizeof c->public_) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret, sizeof c->secret) != 0) {
        log_error("curve: %s: cannot make it a CURVE client: %s", label, zmq_strerror(zmq_errno()));
        return -1;
    }
    s_monitor(c, sock, label, 0, s_peer_key[peer]);
    return 0;
}

/* ---- the start-up check ----------------------------------------------------------------- */

int curve_check_config(const spar_config_t *cfg, const char *role, char *err, size_t errlen) {
    if (!cfg->security.curve) return 0;
    curve_t *c = s_load(NULL, cfg, 0, err, errlen);
    if (!c) return -1;
    curve_destroy(&c);
    const spar_config_t *k = cfg;
    int learner = !strcmp(role, "learner"), judge = !strcmp(role, "judge"), actor = !strcmp(role, "actor");
    const char *missing = NULL;
    if ((learner || judge || actor) && !k->security.key[0]) missing = "security.key";
    else if ((learner || judge) && !k->security.allowed[0]) missing = "security.allowed";
    else if (actor && !k->security.learner_public[0]) missing = "security.learner_public";
    else if (actor && !k->security.judge_public[0]) missing = "security.judge_public";
    else if (judge && k->judge.kind == JUDGE_REMOTE && !k->security.remote_public[0])
        missing = "security.remote_public";
    if (missing) {
        snprintf(err, errlen, "%s: the %s needs it when security.curve is true (spar keygen writes the keys; README: "
                 "Security)", missing, role);
        return -1;
    }
    return 0;
}

/* ---- keygen ----------------------------------------------------------------------------- */

/* Creates path (never over an existing file) with exactly `mode` and the text. Returns 0 or -errno. */
static int s_write_new(const char *path, mode_t mode, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return -errno;
    size_t len = strlen(text), off = 0;
    int rc = fchmod(fd, mode) == 0 ? 0 : -errno;
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno != EINTR) rc = -errno;
        else if (n > 0) off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc != 0) unlink(path);
    return rc;
}

int curve_keygen(const char *dir, const char *name, char *err, size_t errlen) {
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (!name[0] || name[0] == '.' || strspn(name, ok) != strlen(name)) {
        snprintf(err, errlen, "'%s': a key name is letters, digits, '.', '_' and '-' (not first '.')", name);
        return -1;
    }
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq was built without CURVE (libsodium): it cannot make keys");
        return -1;
    }
    char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a key pair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    char *kpath = xasprintf("%s/%s.key", dir, name), *ppath = xasprintf("%s/%s.pub", dir, name);
    char *ktext = xasprintf("# spar CURVE secret key \"%s\": keep it on its machine, private (mode 0600)\n%s\n",
                            name, sec);
    char *ptext = xasprintf("# spar CURVE public key \"%s\": for security.allowed, or a client's "
                            "security.*_public\n%s\n", name, pub);
    int rc = 0;
    if (util_file_exists(kpath) || util_file_exists(ppath)) {
        snprintf(err, errlen, "%s: exists; remove %s.key and %s.pub first to replace the key pair",
                 util_file_exists(kpath) ? kpath : ppath, name, name);
        rc = -1;
    } else if ((rc = s_write_new(kpath, 0600, ktext)) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", kpath, strerror(-rc));
    } else if ((rc = s_write_new(ppath, 0644, ptext)) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", ppath, strerror(-rc));
        unlink(kpath);
    }
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(ktext, strlen(ktext));
    free(kpath), free(ppath), free(ktext), free(ptext);
    return rc == 0 ? 0 : -1;
}

int curve_keys_for_run(spar_config_t *cfg, const char *dir, char *err, size_t errlen) {
    char *keys = xasprintf("%s/keys", dir);
    int rc = util_mkdirs(keys);
    if (rc != 0) snprintf(err, errlen, "%s: cannot make: %s", keys, strerror(-rc));
    static const char *roles[] = {"learner", "judge", "actor"};
    for (int i = 0; rc == 0 && i < 3; i++) {
        char *key = xasprintf("%s/%s.key", keys, roles[i]);
        if (!util_file_exists(key)) rc = curve_keygen(keys, roles[i], err, errlen);
        free(key);
    }
    if (rc == 0) {
        snprintf(cfg->security.allowed, sizeof cfg->security.allowed, "%s", keys);
        snprintf(cfg->security.learner_public, sizeof cfg->security.learner_public, "%s/learner.pub", keys);
        snprintf(cfg->security.judge_public, sizeof cfg->security.judge_public, "%s/judge.pub", keys);
        if (strlen(keys) + strlen("/learner.pub") >= sizeof cfg->security.learner_public) {
            snprintf(err, errlen, "%s: too long a path for the security.* options", keys);
            rc = -1;
        }
    }
    free(keys);
    return rc == 0 ? 0 : -1;
}
