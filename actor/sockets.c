/* sockets — see sockets.h. */
#include "actor/sockets.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "common/log.h"
#include "common/wire_socket.h"

int actor_sockets_open(actor_sockets_t *S, const spar_config_t *cfg, const char *sender_id) {
    S->cfg = cfg;
    S->zctx = zmq_ctx_new();
    char err[1024];
    if (!(S->curve = curve_new(S->zctx, cfg, err, sizeof err))) {
        log_error("config error: %s", err);
        return -2;
    }
    long max = cfg->wire.max_frame_bytes;
    S->ctl = wire_socket_open(S->zctx, &(wire_socket_opts_t){.label = "learner.control", .type = ZMQ_DEALER,
        .endpoint = cfg->learner.control, .max_frame_bytes = max, .curve = S->curve,
        .curve_peer = CURVE_LEARNER, .routing_id = sender_id});
    S->sub = wire_socket_open(S->zctx, &(wire_socket_opts_t){.label = "learner.publish", .type = ZMQ_SUB,
        .endpoint = cfg->learner.publish, .max_frame_bytes = max, .curve = S->curve, .curve_peer = CURVE_LEARNER});
    return S->ctl && S->sub ? 0 : -1;
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
    return wire_socket_open(S->zctx, &(wire_socket_opts_t){.label = "judge", .type = ZMQ_DEALER, .endpoint = ep,
        .max_frame_bytes = S->cfg->wire.max_frame_bytes, .curve = S->curve, .curve_peer = CURVE_JUDGE});
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
