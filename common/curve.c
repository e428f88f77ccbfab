/* curve — a process's curve_t (see curve.h): the keys the config names, read at start, the
 * options that make a socket a CURVE server or client, and the start-up check of args_parse. Not
 * the key-file format or keygen (curve_keys.c), nor the ZAP handler thread that authenticates
 * clients and logs failed handshakes (curve_handler.c). */
#include "common/curve.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "common/curve_state.h"
#include "common/log.h"
#include "common/util.h"

#define ZAP_DOMAIN "spar"
/* A draft option (libzmq >= 4.3 built with drafts): without a ZAP handler, refuse instead of
 * admitting. Elsewhere setting it fails harmlessly; the handler is up before any bind anyway. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

/* ---- the object ------------------------------------------------------------------------- */

static const char *s_peer_key[3] = {"security.learner_public", "security.judge_public", "security.remote_public"};

static int s_has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int s_pub_filter(const struct dirent *e) { return e->d_name[0] != '.' && s_has_suffix(e->d_name, ".pub"); }

static int s_add_allowed(curve_t *c, const char *path, const char *file, char *err, size_t errlen) {
    char z85[CURVE_Z85_LEN + 1];
    if (curve_read_key(path, "security.allowed", z85, err, errlen) != 0) return -1;
    c->allowed = xrealloc(c->allowed, sizeof *c->allowed * (size_t)(c->n_allowed + 1));
    allowed_t *a = &c->allowed[c->n_allowed++];
    zmq_z85_decode(a->key, z85);
    snprintf(a->name, sizeof a->name, "%.*s", (int)(strlen(file) - 4), file);
    return 0;
}

/* security.allowed: a folder of *.pub files, or one .pub file. */
static int s_load_allowed(curve_t *c, const char *path, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: security.allowed: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        const char *slash = strrchr(path, '/');
        const char *file = slash ? slash + 1 : path;
        return s_add_allowed(c, path, s_has_suffix(file, ".pub") ? file : "key.pub", err, errlen);
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, s_pub_filter, alphasort), rc = 0;
    if (n < 0) {
        snprintf(err, errlen, "%s: security.allowed: cannot list: %s", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char *full = xasprintf("%s/%s", path, names[i]->d_name);
        if (rc == 0) rc = s_add_allowed(c, full, names[i]->d_name, err, errlen);
        free(full);
        free(names[i]);
    }
    free(names);
    if (rc == 0 && c->n_allowed == 0) {
        snprintf(err, errlen, "%s: security.allowed: the folder holds no .pub file (spar keygen writes them)", path);
        rc = -1;
    }
    return rc;
}

/* Reads every key the config names; `warn`: log a secret key file others can read. */
static curve_t *s_load(void *zctx, const spar_config_t *cfg, int warn, char *err, size_t errlen) {
    curve_t *c = xcalloc(1, sizeof *c);
    c->zctx = zctx;
    c->on = cfg->security.curve != 0;
    if (!c->on) return c;
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "security.curve: this libzmq was built without CURVE (libsodium); rebuild it with "
                 "CURVE or set security.curve false");
        goto fail;
    }
    const char *key = cfg->security.key;
    if (key[0]) {
        if (curve_read_key(key, "security.key", c->secret, err, errlen) != 0) goto fail;
        if (zmq_curve_public(c->public_, c->secret) != 0) {
            snprintf(err, errlen, "%s: security.key: cannot derive its public key: %s", key, zmq_strerror(zmq_errno()));
            goto fail;
        }
        struct stat st;
        if (warn && stat(key, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
            log_warn("%s: security.key: a secret key others can read (mode %03o); chmod 600 it", key,
                     (unsigned)(st.st_mode & 0777));
    }
    const char *peers[3] = {cfg->security.learner_public, cfg->security.judge_public, cfg->security.remote_public};
    for (int p = 0; p < 3; p++)
        if (peers[p][0] && curve_read_key(peers[p], s_peer_key[p], c->peer[p], err, errlen) != 0) goto fail;
    snprintf(c->allowed_path, sizeof c->allowed_path, "%s", cfg->security.allowed);
    if (c->allowed_path[0] && s_load_allowed(c, c->allowed_path, err, errlen) != 0) goto fail;
    return c;
fail:
    explicit_bzero(c->secret, sizeof c->secret);
    free(c->allowed);
    free(c);
    return NULL;
}

curve_t *curve_new(void *zctx, const spar_config_t *cfg, char *err, size_t errlen) {
    return s_load(zctx, cfg, 1, err, errlen);
}

uint64_t curve_refused(const curve_t *c) { return c ? atomic_load(&((curve_t *)c)->refused) : 0; }

void curve_destroy(curve_t **cp) {
    if (!cp || !*cp) return;
    curve_t *c = *cp;
    curve_handler_stop(c);
    explicit_bzero(c->secret, sizeof c->secret);
    free(c->allowed);
    free(c);
    *cp = NULL;
}

/* ---- sockets ---------------------------------------------------------------------------- */

int curve_server(curve_t *c, void *sock, const char *label) {
    if (!c || !c->on) return 0;
    if (!c->secret[0] || c->n_allowed == 0) {
        log_error("curve: %s: a CURVE server needs security.key and security.allowed", label);
        return -1;
    }
    if (curve_handler_start(c) != 0) return -1;
    int one = 1;
    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one); /* see its #define */
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret, sizeof c->secret) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0) {
        log_error("curve: %s: cannot make it a CURVE server: %s", label, zmq_strerror(zmq_errno()));
        return -1;
    }
    curve_handler_watch(c, sock, label, 1, NULL);
    log_info("curve: %s is a CURVE server admitting %d key(s) of %s", label, c->n_allowed, c->allowed_path);
    return 0;
}

int curve_client(curve_t *c, void *sock, curve_peer_t peer, const char *label) {
    if (!c || !c->on) return 0;
    if (!c->secret[0] || !c->peer[peer][0]) {
        log_error("curve: %s: a CURVE client needs security.key and %s", label, s_peer_key[peer]);
        return -1;
    }
    if (curve_handler_start(c) != 0) return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, c->peer[peer], sizeof c->peer[peer]) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, c->public_, sizeof c->public_) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, c->secret, sizeof c->secret) != 0) {
        log_error("curve: %s: cannot make it a CURVE client: %s", label, zmq_strerror(zmq_errno()));
        return -1;
    }
    curve_handler_watch(c, sock, label, 0, s_peer_key[peer]);
    return 0;
}

/* ---- the start-up check ----------------------------------------------------------------- */

int curve_check_config(const spar_config_t *cfg, const char *role, char *err, size_t errlen) {
    if (!cfg->security.curve) return 0;
    curve_t *c = s_load(NULL, cfg, 0, err, errlen);
    if (!c) return -1;
    curve_destroy(&c);
    const spar_config_t *k = cfg;
    int learner = !strcmp(role, "learner"), judge = !strcmp(role, "judge"), actor = !strcmp(role, "actor");
    const char *missing = NULL;
    if ((learner || judge || actor) && !k->security.key[0]) missing = "security.key";
    else if ((learner || judge) && !k->security.allowed[0]) missing = "security.allowed";
    else if (actor && !k->security.learner_public[0]) missing = "security.learner_public";
    else if (actor && !k->security.judge_public[0]) missing = "security.judge_public";
    else if (judge && k->judge.kind == JUDGE_REMOTE && !k->security.remote_public[0])
        missing = "security.remote_public";
    if (missing) {
        snprintf(err, errlen, "%s: the %s needs it when security.curve is true (spar keygen writes the keys; README: "
                 "Security)", missing, role);
        return -1;
    }
    return 0;
}
