/* ping — see ping.h. */
#include "cli/ping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/wire.h"

static const char *s_role(Spar__Role r) {
    switch (r) {
    case SPAR__ROLE__ROLE_LEARNER: return "learner";
    case SPAR__ROLE__ROLE_ACTOR: return "actor";
    case SPAR__ROLE__ROLE_JUDGE: return "judge";
    default: return "peer";
    }
}

int ping_main(int argc, char **argv) {
    const char *ep = NULL;
    long timeout = 2000;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: spar ping ENDPOINT [--timeout-ms N]\n\nSends a Heartbeat to a learner or judge and "
                   "prints its answer; exit 0 when it answers, 1 when it does not in time.\n");
            return 0;
        } else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) {
            timeout = atol(argv[++i]);
        } else if (argv[i][0] != '-' && !ep) {
            ep = argv[i];
        } else {
            fprintf(stderr, "spar ping: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!ep) {
        fprintf(stderr, "usage: spar ping ENDPOINT [--timeout-ms N]\n");
        return 2;
    }
    char id[64];
    snprintf(id, sizeof id, "ping.%d", (int)getpid());
    wire_t w;
    wire_init(&w, id, 1 << 20);
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    wire_socket_defaults(s);
    int status = 1;
    if (zmq_connect(s, ep) != 0) {
        fprintf(stderr, "spar ping: cannot connect to %s: %s\n", ep, zmq_strerror(zmq_errno()));
        status = 2;
    } else {
        Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
        hb.role = SPAR__ROLE__ROLE_TOOL;
        Spar__Envelope env = SPAR__ENVELOPE__INIT;
        env.body_case = SPAR__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        int64_t left = timeout;
        /* the DEALER queues the frame until the connection is up */
        if (wire_send(&w, s, NULL, &env) != 0) usleep(100000), wire_send(&w, s, NULL, &env);
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
    zmq_close(s);
    zmq_ctx_term(ctx);
    return status;
}
