/* actor — see actor.h. The role's main, as a table of contents: arguments, sockets, the parts of
 * the state (actor_state.h) on one loop, the loop, teardown in reverse. Everything that can be
 * lost (hello, work requests, judge requests, submissions, chunk fetches) is a timer of the
 * part that owns it; no message is handled here. */
#include "actor/actor.h"

#include <string.h>
#include <zmq.h>

#include "common/gpt.h"
#include "common/log.h"
#include "common/role.h"
#include "common/util.h"

#include "actor/actor_state.h"
#include "actor/send.h"

/* Sockets, then the parts on a new loop. Returns the exit status: 0, 1 (cannot connect) or 2
 * (a key the config names cannot be read). */
static int s_open(actor_t *A) {
    int rc = actor_sockets_open(&A->sockets, A->cfg, A->wire.sender_id);
    if (rc == 0) {
        A->loop = loop_new();
        loop_set_stop_check(A->loop, util_stop_requested);
        link_start(A);
        weights_start(A);
        work_start(A);
        rc = judges_start(A);
    }
    if (rc == 0)
        log_info("actor %s: learner %s, %d judge(s) in its config", A->wire.sender_id, A->cfg->learner.control,
                 judges_count(A));
    return rc == 0 ? 0 : rc == -2 ? 2 : 1;
}

static int s_run(actor_t *A) {
    if (loop_run(A->loop) == 0) return 0;
    log_error("actor loop: %s", zmq_strerror(zmq_errno()));
    return 1;
}

static void s_close(actor_t *A) {
    log_info("actor stopping: %llu groups sent, %llu bad messages", (unsigned long long)work_groups_sent(A),
             (unsigned long long)A->wire.bad_messages);
    /* stopped by a signal: tell the learner, so it re-issues our lease now */
    int goodbye = A->sockets.ctl && link_welcomed(A) && !A->link.shut_down;
    if (goodbye) send_goodbye(&A->wire, A->sockets.ctl, "actor stopping");
    judges_free(A); /* its sockets leave the loop as they close */
    work_free(A);
    weights_free(A);
    link_free(A);
    loop_destroy(&A->loop);
    actor_sockets_close(&A->sockets, goodbye ? 500 : -1); /* 500 ms: let the goodbye leave */
    wire_fini(&A->wire);
}

int actor_main(const spar_config_t *cfg, const char *id) {
    static actor_t A;
    memset(&A, 0, sizeof A);
    A.cfg = cfg;
    role_start(&A.wire, "actor", id, cfg->wire.max_frame_bytes);
    if (cfg->policy.kind == POLICY_GPT) gpt_set_threads((int)cfg->gpt.threads);
    int status = s_open(&A);
    if (status == 0) status = s_run(&A);
    s_close(&A);
    return status;
}
