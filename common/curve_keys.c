/* curve_keys — spar's CURVE key files (see curve.h): reading NAME.key and NAME.pub (one Z85 key
 * of 40 characters after any '#' comment lines), spar keygen's new pairs and a one-machine run's
 * keys. Not the ZAP handler (curve_handler.c), nor the sockets or the start-up check (curve.c);
 * nothing here touches a socket. */
#include "common/curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/util.h"

#define KEY_FILE_MAX 4096 /* a key file is a key and a comment or two */

static const char s_z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/* ---- reading ---------------------------------------------------------------------------- */

/* Reads at most KEY_FILE_MAX bytes of a regular file (never blocks on a FIFO or a device). */
static char *s_read_small(const char *path, const char *cfg_key, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s: cannot read: %s", path, cfg_key, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        snprintf(err, errlen, "%s: %s: %s", path, cfg_key,
                 S_ISREG(st.st_mode) ? "too large for a key file" : "not a regular file");
        close(fd);
        return NULL;
    }
    char *buf = xmalloc(KEY_FILE_MAX + 1);
    ssize_t n = read(fd, buf, KEY_FILE_MAX);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s: cannot read: %s", path, cfg_key, strerror(errno));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int s_is_key(const char *line, size_t len) {
    if (len != CURVE_Z85_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!line[i] || !strchr(s_z85, line[i])) return 0;
    return 1;
}

int curve_read_key(const char *path, const char *cfg_key, char z85[CURVE_Z85_LEN + 1], char *err,
                   size_t errlen) {
    size_t plen = strlen(path);
    if (!strcmp(cfg_key, "security.key") && plen > 4 && !strcmp(path + plen - 4, ".pub")) {
        snprintf(err, errlen, "%s: %s: a public key; give the secret NAME.key beside it", path, cfg_key);
        return -1;
    }
    char *text = s_read_small(path, cfg_key, err, errlen);
    if (!text) return -1;
    int found = 0, rc = 0, line_no = 0;
    for (char *line = text, *next; line && rc == 0; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = '\0';
        while (*line == ' ' || *line == '\t') line++, len--;
        /* '#' is a Z85 character too: a key line is exactly 40 of them, comments hold spaces */
        if (s_is_key(line, len)) {
            if (found) {
                snprintf(err, errlen, "%s:%d: %s: a second key; a key file holds one", path, line_no, cfg_key);
                rc = -1;
            } else {
                memcpy(z85, line, CURVE_Z85_LEN + 1);
                found = 1;
            }
        } else if (len && line[0] != '#') { /* never echo the line: it may be a secret */
            size_t bad = strspn(line, s_z85);
            if (len != CURVE_Z85_LEN)
                snprintf(err, errlen, "%s:%d: %s: not a CURVE key: %zu characters, a Z85 key has %d (spar keygen "
                         "writes them)", path, line_no, cfg_key, len, CURVE_Z85_LEN);
            else
                snprintf(err, errlen, "%s:%d: %s: not a CURVE key: character %zu is not Z85", path, line_no,
                         cfg_key, bad + 1);
            rc = -1;
        }
    }
    explicit_bzero(text, KEY_FILE_MAX + 1); /* it may have held a secret key */
    free(text);
    if (rc == 0 && !found) {
        snprintf(err, errlen, "%s: %s: holds no key (spar keygen writes them)", path, cfg_key);
        rc = -1;
    }
    return rc;
}

void curve_short(const char *z85, char out[9]) { snprintf(out, 9, "%.8s", z85); }

/* ---- keygen ----------------------------------------------------------------------------- */

/* Creates path (never over an existing file) with exactly `mode` and the text. Returns 0 or -errno. */
static int s_write_new(const char *path, mode_t mode, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return -errno;
    size_t len = strlen(text), off = 0;
    int rc = fchmod(fd, mode) == 0 ? 0 : -errno;
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno != EINTR) rc = -errno;
        else if (n > 0) off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc != 0) unlink(path);
    return rc;
}

int curve_keygen(const char *dir, const char *name, char *err, size_t errlen) {
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (!name[0] || name[0] == '.' || strspn(name, ok) != strlen(name)) {
        snprintf(err, errlen, "'%s': a key name is letters, digits, '.', '_' and '-' (not first '.')", name);
        return -1;
    }
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq was built without CURVE (libsodium): it cannot make keys");
        return -1;
    }
    char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a key pair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    char *kpath = xasprintf("%s/%s.key", dir, name), *ppath = xasprintf("%s/%s.pub", dir, name);
    char *ktext = xasprintf("# spar CURVE secret key \"%s\": keep it on its machine, private (mode 0600)\n%s\n",
                            name, sec);
    char *ptext = xasprintf("# spar CURVE public key \"%s\": for security.allowed, or a client's "
                            "security.*_public\n%s\n", name, pub);
    int rc = 0;
    if (util_file_exists(kpath) || util_file_exists(ppath)) {
        snprintf(err, errlen, "%s: exists; remove %s.key and %s.pub first to replace the key pair",
                 util_file_exists(kpath) ? kpath : ppath, name, name);
        rc = -1;
    } else if ((rc = s_write_new(kpath, 0600, ktext)) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", kpath, strerror(-rc));
    } else if ((rc = s_write_new(ppath, 0644, ptext)) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", ppath, strerror(-rc));
        unlink(kpath);
    }
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(ktext, strlen(ktext));
    free(kpath), free(ppath), free(ktext), free(ptext);
    return rc == 0 ? 0 : -1;
}

int curve_keys_for_run(spar_config_t *cfg, const char *dir, char *err, size_t errlen) {
    char *keys = xasprintf("%s/keys", dir);
    int rc = util_mkdirs(keys);
    if (rc != 0) snprintf(err, errlen, "%s: cannot make: %s", keys, strerror(-rc));
    static const char *roles[] = {"learner", "judge", "actor"};
    for (int i = 0; rc == 0 && i < 3; i++) {
        char *key = xasprintf("%s/%s.key", keys, roles[i]);
        if (!util_file_exists(key)) rc = curve_keygen(keys, roles[i], err, errlen);
        free(key);
    }
    if (rc == 0) {
        snprintf(cfg->security.allowed, sizeof cfg->security.allowed, "%s", keys);
        snprintf(cfg->security.learner_public, sizeof cfg->security.learner_public, "%s/learner.pub", keys);
        snprintf(cfg->security.judge_public, sizeof cfg->security.judge_public, "%s/judge.pub", keys);
        if (strlen(keys) + strlen("/learner.pub") >= sizeof cfg->security.learner_public) {
            snprintf(err, errlen, "%s: too long a path for the security.* options", keys);
            rc = -1;
        }
    }
    free(keys);
    return rc == 0 ? 0 : -1;
}
