/* curve — ZeroMQ CURVE encryption and ZAP authentication for spar's sockets (security.curve).
 * Key files are spar keygen's: NAME.key holds a Z85 secret key, NAME.pub its public key, each
 * one line of 40 characters after any '#' comment lines. A process's curve_t holds its key pair
 * and the public keys it may need; the first server socket starts a ZAP handler thread on the
 * process's ZeroMQ context that admits only the client keys in security.allowed, logs each
 * refused key once (by its short form) and counts every refusal. Each role calls one function
 * per socket; with security.curve false they all do nothing. Not for keys held anywhere but
 * files, nor for any mechanism but CURVE. */
#ifndef SPAR_CURVE_H
#define SPAR_CURVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define CURVE_Z85_LEN 40 /* a 32-byte key in Z85 */

typedef struct curve curve_t;

/* The servers a client socket may connect to: which security.*_public key it needs. */
typedef enum { CURVE_LEARNER, CURVE_JUDGE, CURVE_REMOTE } curve_peer_t;

/* Reads the keys the config names (the ones set) for sockets on zctx. Returns the object (an
 * inert one when security.curve is false), or NULL with "FILE:LINE: KEY: what is wrong" in err.
 * Warns when the secret key file is readable by group or others. */
curve_t *curve_new(void *zctx, const spar_config_t *cfg, char *err, size_t errlen);

/* Makes sock a CURVE server with this process's key, authenticated by the ZAP handler (started
 * here the first time). Call before zmq_bind. `label` names the socket in logs (e.g.
 * "judge.bind"). Returns 0, or -1 after logging why (a key the config does not name). */
int curve_server(curve_t *c, void *sock, const char *label);

/* Makes sock a CURVE client with this process's key pair that trusts only `peer`'s public key.
 * Call before zmq_connect. Returns 0, or -1 after logging why. */
int curve_client(curve_t *c, void *sock, curve_peer_t peer, const char *label);

/* Connections refused so far: keys not allowed, and peers that do not speak CURVE. */
uint64_t curve_refused(const curve_t *c);

/* Stops the ZAP handler and frees. Call after closing the sockets, before zmq_ctx_term (the
 * handler's sockets would hold the term up). Safe on NULL and twice. */
void curve_destroy(curve_t **c);

/* Before anything starts (args_parse): with security.curve on, checks that libzmq has CURVE,
 * that every key file the config names parses, and that `role` ("learner", "judge", "actor";
 * any other: none) has the files it needs. Returns 0 or -1 with the message in err. */
int curve_check_config(const spar_config_t *cfg, const char *role, char *err, size_t errlen);

/* Reads one key file into z85 (NUL-terminated). cfg_key names the option in errors. Returns 0,
 * or -1 with "FILE[:LINE]: CFG_KEY: what is wrong" in err. */
int curve_read_key(const char *path, const char *cfg_key, char z85[CURVE_Z85_LEN + 1], char *err,
                   size_t errlen);

/* Writes DIR/NAME.key (mode 0600) and DIR/NAME.pub, a new key pair; refuses to overwrite.
 * Returns 0 or -1 with the reason in err. */
int curve_keygen(const char *dir, const char *name, char *err, size_t errlen);

/* For a run on one machine (spar run): makes DIR/keys/{learner,judge,actor}.key and .pub where
 * missing (a resumed run keeps its keys) and points security.allowed, learner_public and
 * judge_public at them; each child then sets security.key=DIR/keys/ROLE.key. Returns 0 or -1
 * with the reason in err. */
int curve_keys_for_run(spar_config_t *cfg, const char *dir, char *err, size_t errlen);

/* The first 8 characters of a Z85 key, how logs name it. */
void curve_short(const char *z85, char out[9]);

#endif
