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

int ping_main(int argc, char **argv) {
    const char *ep = NULL, *cfg_path = NULL, *sets[256];
    long timeout = 2000;
    int n_sets = 0, judge = 0;
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
            timeout = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            cfg_path = argv[++i];
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_sets < 256) {
            sets[n_sets++] = argv[++i];
        } else if (!strcmp(argv[i], "--judge")) {
            judge = 1;
        } else if (argv[i][0] != '-' && !ep) {
            ep = argv[i];
        } else {
            fprintf(stderr, "spar ping: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!ep) {
        fprintf(stderr, USAGE);
        return 2;
    }
    static spar_config_t cfg;
    if (args_tool_config(&cfg, "ping", cfg_path, sets, n_sets, judge) != 0) return 2;
    char id[64];
    snprintf(id, sizeof id, "ping.%d", (int)getpid());
    wire_t w;
    wire_init(&w, id, 1 << 20);
    void *ctx = zmq_ctx_new(), *s = NULL;
    int status = 1;
    char err[1024];
    curve_t *curve = curve_new(ctx, &cfg, err, sizeof err);
    wire_socket_opts_t o = {.label = "spar ping", .type = ZMQ_DEALER, .endpoint = ep, .max_frame_bytes = 1 << 20,
                            .curve = curve, .curve_peer = judge ? CURVE_JUDGE : CURVE_LEARNER};
    if (!curve) {
        fprintf(stderr, "spar ping: config error: %s\n", err);
        status = 2;
    } else if (!(s = wire_socket_open(ctx, &o))) {
        status = 2;
    } else {
        msg_heartbeat_t tool = {.role = SPAR__ROLE__ROLE_TOOL};
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        int64_t left = timeout;
        /* the DEALER queues the frame until the connection is up */
        if (msg_send_heartbeat(&w, s, NULL, &tool) != 0) usleep(100000), msg_send_heartbeat(&w, s, NULL, &tool);
        while (left > 0 && zmq_poll(&it, 1, left) == 1) {
            Spar__Envelope *in = wire_recv(&w, s, 0, NULL);
            if (in && in->body_case == SPAR__ENVELOPE__BODY_HEARTBEAT) {
                const Spar__Heartbeat *r = in->heartbeat;
                printf("%s %s: %s, policy version %llu, %llu bad messages, %llu requests served\n", ep, in->sender_id,
                       s_role(r->role), (unsigned long long)r->policy_version, (unsigned long long)r->bad_messages,
                       (unsigned long long)r->requests_served);
                status = 0;
                wire_free(in);
                break;
            }
            wire_free(in);
            left = 0; /* one answer is all it waits for */
        }
        if (status != 0) fprintf(stderr, "spar ping: no answer from %s within %ld ms\n", ep, timeout);
    }
    if (s) zmq_close(s);
    curve_destroy(&curve);
    zmq_ctx_term(ctx);
    wire_fini(&w);
    return status;
}
