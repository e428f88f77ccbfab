/* conn_guard — a cap on the connections a server socket accepts, so that descriptors stay for
 * the process's own files (checkpoints, records, logs). ZeroMQ accepts every connection it can;
 * when the process runs out of descriptors, the next file it opens fails instead. The guard
 * watches the socket's monitor events (accepted, disconnected, closed), counts the accepted
 * connections still open, and shuts down each one past the cap at once (ZeroMQ then closes it),
 * logging the refusal once. It also raises the open-file limit to its hard maximum.
 * One guard per server socket; the owner polls conn_guard_socket() and calls
 * conn_guard_handle() when it is readable. */
#ifndef SPAR_CONN_GUARD_H
#define SPAR_CONN_GUARD_H

#include <stdint.h>

typedef struct conn_guard conn_guard_t;

/* Raises RLIMIT_NOFILE's soft limit to its hard one; returns the soft limit now in force. */
long conn_guard_raise_nofile(void);

/* Watches sock (a bound ROUTER) on zctx; at most max_conns accepted connections stay open.
 * Returns the guard, or NULL (logged) when the monitor cannot start: the socket then has no cap. */
conn_guard_t *conn_guard_new(void *zctx, void *sock, const char *label, long max_conns);

/* The monitor socket to poll for ZMQ_POLLIN (NULL for a NULL guard). */
void *conn_guard_socket(const conn_guard_t *g);

/* Reads every waiting event, refusing connections past the cap. */
void conn_guard_handle(conn_guard_t *g);

/* Connections open now, and refused so far. */
long conn_guard_open(const conn_guard_t *g);
uint64_t conn_guard_refused(const conn_guard_t *g);

/* Stops and closes the monitor; safe on NULL and twice. Call before closing the watched socket. */
void conn_guard_destroy(conn_guard_t **g);

#endif
