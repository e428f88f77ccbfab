/* role — see role.h. */
#include "common/role.h"

#include "common/log.h"
#include "common/util.h"

void role_start(wire_t *w, const char *role, const char *id, long max_frame_bytes) {
    const char *base = id && id[0] ? id : role;
    char sender[128]; /* fits a routing id (at most 255 bytes) with room to spare */
    util_process_id(base, sender, sizeof sender);
    wire_init(w, sender, max_frame_bytes);
    log_set_name(base);
    util_install_stop_signals();
}
