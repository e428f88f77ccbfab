/* judge — see judge.h. The role's main, as a table of contents: the process's name and wire, the
 * context and its CURVE keys, the backend judge.kind picks (judge/backend.h), the bound ROUTER,
 * one loop with serving (judge/serve.h) and the pool membership (judge/presence.h) on it, the
 * loop, and teardown in reverse. No message is handled here; what an answer is is the backend's. */
#include "judge/judge.h"

#include <string.h>
#include <zmq.h>

#include "common/curve.h"
#include "common/log.h"
#include "common/role.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/wire.h"
#include "common/wire_socket.h"
#include "judge/backend.h"
#include "judge/presence.h"
#include "judge/serve.h"

typedef struct {
    const spar_config_t *cfg;
    wire_t wire;
    void *zctx, *router;
    curve_t *curve;           /* security.curve: the ZAP handler admitting only security.allowed keys */
    judge_backend_t *backend; /* what answers the requests */
    loop_t *loop;
    serve_t serve;            /* the ROUTER's traffic, on the loop */
    presence_t *presence;     /* in the learner's judge pool, or NULL */
} judge_t;

/* The context, its CURVE keys, the backend, then the bound ROUTER; says what it serves. Returns
 * 0, or the exit status (why logged): 2 for a config naming something unusable, 1 when a socket
 * cannot be bound or connected. */
static int s_open(judge_t *J) {
    char why[512];
    J->zctx = zmq_ctx_new();
    if (!(J->curve = curve_new(J->zctx, J->cfg, why, sizeof why))) {
        log_error("config error: %s", why);
        return 2;
    }
    int status = judge_backend_from_config(J->cfg, J->zctx, J->curve, &J->wire, &J->backend);
    if (status != 0) return status;
    wire_socket_opts_t o = {.label = "judge.bind", .type = ZMQ_ROUTER, .endpoint = J->cfg->judge.bind, .bind = 1,
                            .max_frame_bytes = J->cfg->wire.max_frame_bytes, .curve = J->curve};
    if (!(J->router = wire_socket_open(J->zctx, &o))) return 1;
    log_info("judge %s %s on %s", J->backend->version, J->backend->serving, J->cfg->judge.bind);
    return 0;
}

/* Serving and the membership on a new loop that stops at SIGINT / SIGTERM. */
static void s_start(judge_t *J) {
    size_t max_k = wire_judge_max_k(J->cfg->wire.max_frame_bytes, J->backend->rewards);
    log_info("judge answers requests of at most %zu responses", max_k);
    J->loop = loop_new();
    loop_set_stop_check(J->loop, util_stop_requested);
    serve_start(&J->serve, J->loop, &J->wire, J->router, J->backend, max_k);
    J->presence = presence_new(J->cfg, &J->wire, J->loop, serve_counts, &J->serve);
    if (J->presence) {
        J->serve.busy = presence_busy;
        J->serve.busy_ctx = J->presence;
    }
}

static int s_run(judge_t *J) {
    if (loop_run(J->loop) == 0) return 0;
    log_error("judge loop: %s", zmq_strerror(zmq_errno()));
    return 1;
}

static void s_log_totals(const judge_t *J) {
    log_info("judge stopping: %llu requests served, %llu bad messages", (unsigned long long)J->serve.served,
             (unsigned long long)J->wire.bad_messages);
    judge_stats_t st = {0};
    if (J->backend) judge_backend_stats(J->backend, &st);
    if (st.pairs && st.order_pairs) /* asked in both orders: how much the first position is favoured */
        log_info("judge: %llu pairs judged, tie rate %.4f, position bias %+.4f over %llu pairs asked both ways",
                 (unsigned long long)st.pairs, (double)st.ties / (double)st.pairs,
                 st.position_bias_sum / (double)st.order_pairs, (unsigned long long)st.order_pairs);
    else if (st.pairs)
        log_info("judge: %llu pairs judged, tie rate %.4f, position bias 0 (an answer's score never depends on its "
                 "position)", (unsigned long long)st.pairs, (double)st.ties / (double)st.pairs);
}

/* Teardown in reverse of s_open and s_start; each part may be missing (a start that failed). */
static void s_close(judge_t *J) {
    s_log_totals(J);
    presence_destroy(&J->presence); /* its socket leaves the loop as it closes */
    loop_destroy(&J->loop);
    if (J->router) zmq_close(J->router);
    judge_backend_destroy(&J->backend); /* logs its caches */
    if (J->curve && J->cfg->security.curve)
        log_info("judge: %llu connections refused (CURVE)", (unsigned long long)curve_refused(J->curve));
    curve_destroy(&J->curve);
    zmq_ctx_term(J->zctx);
    wire_fini(&J->wire);
}

int judge_main(const spar_config_t *cfg, const char *id) {
    judge_t J;
    memset(&J, 0, sizeof J);
    J.cfg = cfg;
    role_start(&J.wire, "judge", id, cfg->wire.max_frame_bytes);
    int status = s_open(&J);
    if (status == 0) {
        s_start(&J);
        status = s_run(&J);
    }
    s_close(&J);
    return status;
}
