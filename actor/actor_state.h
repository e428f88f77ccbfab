/* actor_state — the actor's state: one struct whose parts belong to the files that change them
 * (link.c: the learner connection; weights.c: the policy and its fetch; work.c and lease.c: the
 * lease and its rollouts; judges.c: the judge-pool client). The shared services (config, wire,
 * sockets, loop) are set up and torn down by actor.c only. Not a public header: actor.h is. */
#ifndef SPAR_ACTOR_STATE_H
#define SPAR_ACTOR_STATE_H

#include <stdint.h>

#include "common/config.h"
#include "common/loop.h"
#include "common/wire.h"

#include "actor/judges.h"
#include "actor/link.h"
#include "actor/sockets.h"
#include "actor/weights.h"
#include "actor/work.h"

/* What a timer returns while it waits to be woken (loop_set_timer) by the part that owns it:
 * every actor timer checks its own deadline when it fires, so waking one early is harmless. */
#define ACTOR_PARKED INT64_MAX

struct actor {
    const spar_config_t *cfg;
    wire_t wire;
    actor_sockets_t sockets;
    loop_t *loop;
    link_t link;
    weights_t weights;
    work_t work;
    judges_t judges;
};

#endif
