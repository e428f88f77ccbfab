/* curve_state — the inside of curve_t, shared by curve.c (the object, the sockets) and
 * curve_handler.c (the ZAP handler thread, which reads the allowed keys and counts refusals).
 * Not a public interface: roles include curve.h only. The handler's calls are declared here, at
 * the end. */
#ifndef SPAR_CURVE_STATE_H
#define SPAR_CURVE_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/config.h"
#include "common/curve.h"

#define CURVE_MAX_MONITORS 80
#define CURVE_MAX_LOGGED 64

typedef struct {
    uint8_t key[32];
    char name[64]; /* the .pub file's name without .pub */
} allowed_t;

typedef struct {
    void *sock; /* the handler's PAIR to the socket's monitor */
    char label[CFG_STR];
    int server;
    char peer_key[32]; /* a client's: the option naming the server's key */
    unsigned logged; /* failure kinds logged since the last success */
} monitor_t;

struct curve {
    int on;
    void *zctx;
    char secret[CURVE_Z85_LEN + 1], public_[CURVE_Z85_LEN + 1];
    char peer[3][CURVE_Z85_LEN + 1]; /* learner, judge, remote: "" when not configured */
    char allowed_path[CFG_STR];
    allowed_t *allowed;
    int n_allowed;
    /* the handler: a thread with the ZAP socket, the monitors and the other end of `pipe` */
    pthread_t thread;
    int running;
    void *pipe;
    int n_monitors;
    atomic_uint_fast64_t refused;
    /* handler thread only */
    void *zap;
    monitor_t monitors[CURVE_MAX_MONITORS];
    uint8_t logged_refused[CURVE_MAX_LOGGED][32], logged_accepted[CURVE_MAX_LOGGED][32];
    int n_logged_refused, n_logged_accepted;
};

/* Binds the ZAP endpoint and starts the handler thread; a no-op once it runs. Returns 0, or -1
 * after logging why. */
int curve_handler_start(curve_t *c);

/* Stops the handler thread (when it runs) and closes its sockets. */
void curve_handler_stop(curve_t *c);

/* Asks the handler to log the socket's failed handshakes: `server`, or a client whose server's
 * key is in the option `peer_key`. Logs help; they are not needed, so a monitor that cannot start
 * is skipped. */
void curve_handler_watch(curve_t *c, void *sock, const char *label, int server, const char *peer_key);

#endif
