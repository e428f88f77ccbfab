/* sockets — see sockets.h. */
#include "actor/sockets.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "common/log.h"
#include "common/wire.h"

int actor_sockets_open(actor_sockets_t *S, const spar_config_t *cfg, const char *sender_id) {
    S->cfg = cfg;
    S->zctx = zmq_ctx_new();
    S->ctl = zmq_socket(S->zctx, ZMQ_DEALER);
    S->sub = zmq_socket(S->zctx, ZMQ_SUB);
    wire_socket_defaults(S->ctl, cfg->wire.max_frame_bytes);
    wire_socket_defaults(S->sub, cfg->wire.max_frame_bytes);
    zmq_setsockopt(S->ctl, ZMQ_ROUTING_ID, sender_id, strlen(sender_id));
    zmq_setsockopt(S->sub, ZMQ_SUBSCRIBE, "", 0);
    char err[1024];
    if (!(S->curve = curve_new(S->zctx, cfg, err, sizeof err))) {
        log_error("config error: %s", err);
        return -2;
    }
    if (curve_client(S->curve, S->ctl, CURVE_LEARNER, "learner.control") != 0 ||
        curve_client(S->curve, S->sub, CURVE_LEARNER, "learner.publish") != 0)
        return -2;
    if (zmq_connect(S->ctl, cfg->learner.control) != 0 || zmq_connect(S->sub, cfg->learner.publish) != 0) {
        log_error("cannot connect to the learner at %s / %s: %s", cfg->learner.control, cfg->learner.publish,
                  zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
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

void *actor_sockets_judge(actor_sockets_t *S, const char *endpoint) {
    char ep[512];
    s_resolve_endpoint(endpoint, ep, sizeof ep);
    void *s = zmq_socket(S->zctx, ZMQ_DEALER);
    wire_socket_defaults(s, S->cfg->wire.max_frame_bytes);
    if (curve_client(S->curve, s, CURVE_JUDGE, "judge") != 0) {
        S->curve_failed = 1;
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

void actor_sockets_close_judge(void *sock) { zmq_close(sock); }

void actor_sockets_close(actor_sockets_t *S, int ctl_linger_ms) {
    if (S->ctl && ctl_linger_ms >= 0) zmq_setsockopt(S->ctl, ZMQ_LINGER, &ctl_linger_ms, sizeof ctl_linger_ms);
    if (S->ctl) zmq_close(S->ctl);
    if (S->sub) zmq_close(S->sub);
    curve_destroy(&S->curve);
    if (S->zctx) zmq_ctx_term(S->zctx);
    memset(S, 0, sizeof *S);
}
