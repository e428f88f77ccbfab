/* backend_remote — judge.kind remote behind the backend table: requests go on to judge.remote
 * (judge/remote.h, which keeps them pending and answers them later, from its socket or at their
 * deadline, or from its verdict cache at once). Its replies carry the remote's own version; it counts no pairs itself.
 * Not the forwarding, which is remote.c's. */
#include "judge/backend.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "judge/remote.h"

typedef struct {
    judge_backend_t base;
    remote_t *remote;
    int both_orders;
} forward_t;

static void s_judge(judge_backend_t *b, const judge_call_t *calls, int n, const judge_sink_t *sink) {
    for (int q = 0; q < n; q++) remote_forward(((forward_t *)b)->remote, &calls[q].from, calls[q].request, sink->reply, sink->ctx);
}

static void *s_socket(judge_backend_t *b) { return remote_socket(((forward_t *)b)->remote); }

static void s_pump(judge_backend_t *b, const judge_sink_t *sink) {
    remote_pump(((forward_t *)b)->remote, sink->reply, sink->ctx);
}

static int64_t s_expire(judge_backend_t *b, int64_t now_ms, const judge_sink_t *sink) {
    return remote_expire(((forward_t *)b)->remote, now_ms, sink->reply, sink->ctx);
}

static void s_destroy(judge_backend_t *b) {
    forward_t *f = (forward_t *)b;
    uint64_t h, m;
    remote_cache_stats(f->remote, &h, &m);
    judge_backend_log_cache("verdict", h, m);
    if (f->both_orders)
        log_info("judge: the remote judge's position bias (mean |P - P'| between the two orders) %.4f",
                 remote_position_bias(f->remote));
    remote_destroy(&f->remote);
    free(f);
}

static const judge_backend_ops_t s_ops = {s_judge, judge_backend_counted, s_destroy, s_socket, s_pump, s_expire};

judge_backend_t *judge_backend_remote(const spar_config_t *cfg, void *zctx, curve_t *curve, wire_t *wire) {
    remote_t *r = remote_new(zctx, curve, cfg->judge.remote, wire, cfg->judge.timeout_ms, (int)cfg->judge.both_orders,
                             (uint32_t)cfg->judge.cache_entries);
    if (!r) return NULL;
    forward_t *f = xcalloc(1, sizeof *f);
    f->base = (judge_backend_t){.ops = &s_ops, .batch = 1};
    f->remote = r;
    f->both_orders = (int)cfg->judge.both_orders;
    snprintf(f->base.version, sizeof f->base.version, "remote");
    snprintf(f->base.serving, sizeof f->base.serving, "forwarding to the remote judge %s", cfg->judge.remote);
    return &f->base;
}
