/* conn_guard — see conn_guard.h. A monitor event is two frames: 6 bytes (uint16 event, uint32
 * value: the descriptor for the events watched here) and the endpoint. */
#include "common/conn_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zmq.h>

#include "common/log.h"
#include "common/util.h"

struct conn_guard {
    void *sock; /* the watched socket */
    void *mon;
    char label[64];
    long max_conns, open;
    uint64_t refused;
    uint8_t *is_open; /* by descriptor: an accepted connection not yet closed */
    long n_fds;
};

long conn_guard_raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &r) != 0) getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur == RLIM_INFINITY || r.rlim_cur > (1L << 20) ? 1L << 20 : (long)r.rlim_cur;
}

conn_guard_t *conn_guard_new(void *zctx, void *sock, const char *label, long max_conns) {
    static int serial;
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://spar-conn-guard-%d", ++serial);
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) != 0) {
        log_warn("%s: no connection cap (monitor: %s)", label, zmq_strerror(zmq_errno()));
        return NULL;
    }
    conn_guard_t *g = xcalloc(1, sizeof *g);
    g->mon = zmq_socket(zctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt(g->mon, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(g->mon, ep) != 0) {
        log_warn("%s: no connection cap (monitor: %s)", label, zmq_strerror(zmq_errno()));
        zmq_close(g->mon);
        free(g);
        return NULL;
    }
    g->sock = sock;
    snprintf(g->label, sizeof g->label, "%s", label);
    g->max_conns = max_conns;
    g->n_fds = conn_guard_raise_nofile();
    g->is_open = xcalloc((size_t)g->n_fds, 1);
    return g;
}

void *conn_guard_socket(const conn_guard_t *g) { return g ? g->mon : NULL; }

static void s_event(conn_guard_t *g, uint16_t event, uint32_t fd) {
    if (fd >= (uint32_t)g->n_fds) return;
    if (event == ZMQ_EVENT_ACCEPTED) {
        if (g->is_open[fd]) return;
        g->is_open[fd] = 1;
        if (++g->open <= g->max_conns) return;
        /* past the cap: end it now; ZeroMQ sees the shutdown and closes the descriptor */
        shutdown((int)fd, SHUT_RDWR);
        if (g->refused++ == 0)
            log_warn("%s: %ld connections open, the cap for this process's descriptors: refusing new ones "
                     "(logged once; counted in the status)",
                     g->label, g->max_conns);
    } else if (g->is_open[fd]) { /* disconnected or closed: one of them comes first */
        g->is_open[fd] = 0;
        g->open--;
    }
}

void conn_guard_handle(conn_guard_t *g) {
    if (!g) return;
    for (;;) {
        zmq_msg_t head, ep;
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, g->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            return;
        }
        int more = zmq_msg_more(&head);
        if (more) { /* the endpoint frame */
            zmq_msg_init(&ep);
            zmq_msg_recv(&ep, g->mon, ZMQ_DONTWAIT);
            zmq_msg_close(&ep);
        }
        if (zmq_msg_size(&head) >= 6) {
            const uint8_t *d = zmq_msg_data(&head);
            uint16_t event;
            uint32_t value;
            memcpy(&event, d, 2);
            memcpy(&value, d + 2, 4);
            s_event(g, event, value);
        }
        zmq_msg_close(&head);
    }
}

long conn_guard_open(const conn_guard_t *g) { return g ? g->open : 0; }
uint64_t conn_guard_refused(const conn_guard_t *g) { return g ? g->refused : 0; }

void conn_guard_destroy(conn_guard_t **gp) {
    if (!gp || !*gp) return;
    conn_guard_t *g = *gp;
    /* stop the monitor and read what it still sent: events left in its pipe would outlive the
     * context (their endpoint strings leak) */
    zmq_socket_monitor(g->sock, NULL, 0);
    zmq_pollitem_t it = {g->mon, 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&it, 1, 10) > 0) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, g->mon, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
        if (rc < 0) break;
    }
    zmq_close(g->mon);
    free(g->is_open);
    free(g);
    *gp = NULL;
}
