/* loop — one event loop for a role, in the spirit of redis's ae.c: readable ZeroMQ sockets (or
 * plain fds) with a handler each, one-shot timers on a millisecond clock, and a hook that runs
 * before every wait. One pass polls with the nearest deadline as timeout, runs the handlers of
 * what is readable, then the timers that are due, in deadline order. The loop owns no socket
 * and never reads one itself; handlers drain what they want. Handlers and timers may add and
 * remove sockets and timers while the loop dispatches. Not thread-safe: one loop, one thread. */
#ifndef SPAR_LOOP_H
#define SPAR_LOOP_H

#include <stdint.h>

typedef struct loop loop_t;

/* A readable source: socket is the ZeroMQ socket given to loop_add_socket, NULL for an fd. */
typedef void (*loop_io_fn)(loop_t *loop, void *socket, void *arg);
/* A due timer, given the clock's time. Returns its next deadline (>= 0: the timer stays, with
 * the same id) or LOOP_TIMER_DONE (it is removed). A timer fires at most once per pass. */
typedef int64_t (*loop_timer_fn)(loop_t *loop, uint64_t id, int64_t now_ms, void *arg);
typedef int64_t (*loop_clock_fn)(void *arg);
typedef void (*loop_hook_fn)(loop_t *loop, void *arg);
/* Polled by loop_run once a pass; nonzero ends it (e.g. util_stop_requested). */
typedef int (*loop_check_fn)(void);

#define LOOP_TIMER_DONE (-1)
/* loop_run never waits longer than this, so a stop flag set by a signal that arrived just
 * before a wait (and so did not interrupt it) is still seen promptly. */
#define LOOP_MAX_WAIT_MS 200

loop_t *loop_new(void);
void loop_destroy(loop_t **loop);

/* Returns 0, or -1 when the socket (fd) is already in the loop. */
int loop_add_socket(loop_t *loop, void *socket, loop_io_fn fn, void *arg);
int loop_add_fd(loop_t *loop, int fd, loop_io_fn fn, void *arg);
/* Removing what is not in the loop does nothing. A removed source's handler is not called
 * again, even later in the pass that removed it. */
void loop_remove_socket(loop_t *loop, void *socket);
void loop_remove_fd(loop_t *loop, int fd);

/* A one-shot timer due at at_ms on the loop's clock. Returns its id (never 0). A timer added
 * while timers fire waits for the next pass. */
uint64_t loop_add_timer(loop_t *loop, int64_t at_ms, loop_timer_fn fn, void *arg);
/* Cancelling or moving an unknown (finished) id does nothing. Inside its own callback the
 * callback's return value decides the timer's next deadline, unless it cancelled itself. */
void loop_cancel_timer(loop_t *loop, uint64_t id);
void loop_set_timer(loop_t *loop, uint64_t id, int64_t at_ms);

/* The clock (default util_now_ms): injectable so that tests move time without sleeping. */
void loop_set_clock(loop_t *loop, loop_clock_fn fn, void *arg);
int64_t loop_now(const loop_t *loop);
/* Called before each wait: flush or announce what the handlers of the last pass produced. */
void loop_set_before_sleep(loop_t *loop, loop_hook_fn fn, void *arg);
void loop_set_stop_check(loop_t *loop, loop_check_fn fn);

/* One pass, waiting at most max_wait_ms (< 0: until a timer or a source; 0: not at all).
 * Returns the handlers and timers run, or -1 when zmq_poll failed (an interrupting signal,
 * EINTR, is not a failure: that pass just runs no handler). */
int loop_once(loop_t *loop, int64_t max_wait_ms);
/* Passes until loop_stop or the stop check says so. Returns 0, or -1 when zmq_poll failed.
 * loop_stop only sets a flag, so a handler, a timer or a signal handler may call it. */
int loop_run(loop_t *loop);
void loop_stop(loop_t *loop);

#endif
