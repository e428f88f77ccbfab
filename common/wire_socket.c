/* wire_socket — see wire_socket.h. Options go in the order ZeroMQ needs them: every option and
 * the CURVE keys before bind or connect, since a connection takes the options the socket had
 * when it was made. Not a pool or a reconnect policy: ZeroMQ reconnects by itself. */
#include "common/wire_socket.h"

#include <string.h>
#include <zmq.h>

#include "common/log.h"
#include "common/wire.h"

static int s_secure(const wire_socket_opts_t *o, void *sock) {
    if (!o->curve) return 0;
    return o->bind ? curve_server(o->curve, sock, o->label) : curve_client(o->curve, sock, o->curve_peer, o->label);
}

void *wire_socket_open(void *zctx, const wire_socket_opts_t *o) {
    void *sock = zmq_socket(zctx, o->type);
    if (!sock) {
        log_error("%s: cannot make a socket for %s: %s", o->label, o->endpoint, zmq_strerror(zmq_errno()));
        return NULL;
    }
    wire_socket_defaults(sock, o->max_frame_bytes);
    if (o->sndhwm > 0) zmq_setsockopt(sock, ZMQ_SNDHWM, &o->sndhwm, sizeof o->sndhwm);
    if (o->routing_id) zmq_setsockopt(sock, ZMQ_ROUTING_ID, o->routing_id, strlen(o->routing_id));
    if (o->type == ZMQ_SUB) zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
    if (s_secure(o, sock) != 0) { /* curve.h said why */
        zmq_close(sock);
        return NULL;
    }
    if ((o->bind ? zmq_bind(sock, o->endpoint) : zmq_connect(sock, o->endpoint)) != 0) {
        if (!o->quiet)
                log_error("%s: cannot %s %s: %s", o->label, o->bind ? "bind" : "connect to", o->endpoint,
                      zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}
