/* ping — see ping.h. */
#include "cli/ping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "cli/args.h"
#include "common/curve.h"
#include "common/msg.h"
#include "common/wire_socket.h"

#define USAGE "usage: spar ping ENDPOINT [--timeout-ms N] [--config FILE] [--set key=value]... [--judge]\n"

static const char *s_role(Spar__Role r) {
    switch (r) {
    case SPAR__ROLE__ROLE_LEARNER: return "learner";
    case SPAR__ROLE__ROLE_ACTOR: return "actor";
    case SPAR__ROLE__ROLE_JUDGE: return "judge";
    default: return "peer";
    }
}

typedef struct {
    const char *ep, *cfg_path, *sets[256];
    int n_sets, judge;
    long timeout;
} ping_opts_t;

/* The options from argv; returns -1 to go on, else the exit status (0 after --help, 2 on an
 * error, said on stderr). */
static int s_parse(int argc, char **argv, ping_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->timeout = 2000;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf(USAGE "\nSends a Heartbeat to a learner or judge and prints its answer; exit 0 when it answers,\n"
                   "1 when it does not in time.\n\n"
                   "options:\n"
                   "  --timeout-ms N    how long to wait (default 2000)\n"
                   "  --config FILE     with security.curve true: ping is a CURVE client with security.key\n"
                   "  --set KEY=VALUE   override one option; repeatable\n"
                   "  --judge           the endpoint is a judge: trust security.judge_public (default: the\n"
                   "                    learner, security.learner_public)\n");
            return 0;
        } else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) {
            o->timeout = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            o->cfg_path = argv[++i];
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc && o->n_sets < 256) {
            o->sets[o->n_sets++] = argv[++i];
        } else if (!strcmp(argv[i], "--judge")) {
            o->judge = 1;
        } else if (argv[i][0] != '-' && !o->ep) {
            o->ep = argv[i];
        } else {
            fprintf(stderr, "spar ping: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!o->ep) {
        fprintf(stderr, USAGE);
        return 2;
    }
    return -1;
}

static void s_print_answer(const char *ep, const Spar__Envelope *in) {
    const Spar__Heartbeat *r = in->heartbeat;
    printf("%s %s: %s, policy version %llu, %llu bad messages, %llu requests served\n", ep, in->sender_id,
           s_role(r->role), (unsigned long long)r->policy_version, (unsigned long long)r->bad_messages,
           (unsigned long long)r->requests_served);
}

/* Sends a heartbeat and prints the answer; 0 when one came within the timeout, else 1. */
static int s_ask(wire_t *w, void *s, const ping_opts_t *o) {
    msg_heartbeat_t tool = {.role = SPAR__ROLE__ROLE_TOOL};
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int64_t left = o->timeout;
    int status = 1;
    /* the DEALER queues the frame until the connection is up */
    if (msg_send_heartbeat(w, s, NULL, &tool) != 0) usleep(100000), msg_send_heartbeat(w, s, NULL, &tool);
    while (left > 0 && zmq_poll(&it, 1, left) == 1) {
        Spar__Envelope *in = wire_recv(w, s, 0, NULL);
        if (in && in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
            s_print_answer(o->ep, in);
            status = 0;
            wire_free(in);
            break;
        }
        wire_free(in);
        left = 0; /* one answer is all it waits for */
    }
    if (status != 0) fprintf(stderr, "spar ping: no answer from %s within %ld ms\n", o->ep, o->timeout);
    return status;
}

int ping_main(int argc, char **argv) {
    ping_opts_t o;
    int rc = s_parse(argc, argv, &o);
    if (rc >= 0) return rc;
    static spar_config_t cfg;
    if (args_tool_config(&cfg, "ping", o.cfg_path, o.sets, o.n_sets, o.judge) != 0) return 2;
    char id[64];
    snprintf(id, sizeof id, "ping.%d", (int)getpid());
    wire_t w;
    wire_init(&w, id, 1 << 20);
    void *ctx = zmq_ctx_new(), *s = NULL;
    char err[1024];
    curve_t *curve = curve_new(ctx, &cfg, err, sizeof err);
    wire_socket_opts_t so = {.label = "spar ping", .type = ZMQ_DEALER, .endpoint = o.ep, .max_frame_bytes = 1 << 20,
                             .curve = curve, .curve_peer = o.judge ? CURVE_JUDGE : CURVE_LEARNER};
    int status = 2;
    if (!curve) fprintf(stderr, "spar ping: config error: %s\n", err);
    else if ((s = wire_socket_open(ctx, &so))) status = s_ask(&w, s, &o);
    if (s) zmq_close(s);
    curve_destroy(&curve);
    zmq_ctx_term(ctx);
    wire_fini(&w);
    return status;
}
