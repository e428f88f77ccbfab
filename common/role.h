/* role — what every role process (learner, actor, judge) does first: its name in the log, its
 * identity on the wire ("BASE.PID@HOST", util_process_id) and the stop signals (SIGINT, SIGTERM
 * end the loop through util_stop_requested). Not the role's sockets or state. */
#ifndef SPAR_ROLE_H
#define SPAR_ROLE_H

#include "common/wire.h"

/* id: the name asked for (--id), or NULL/"" for `role` itself. Initialises w (wire_fini frees). */
void role_start(wire_t *w, const char *role, const char *id, long max_frame_bytes);

#endif
