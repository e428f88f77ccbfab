/* hf_write — a Hugging Face model folder written whole or not at all: every file goes into a
 * temporary folder beside DIR, fsynced, and that folder takes DIR's place in one rename (an
 * existing DIR is exchanged with it atomically, then removed), so a reader or a crash sees the
 * old folder or the new one, never a mix. */
/* renameat2 needs _GNU_SOURCE, which the build defines */
#include "common/hf_folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static const char *const s_tokenizer_files[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "tokenizer.model", "vocab.json",           "merges.txt",
};

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* rm -r, not following symbolic links out of the tree. */
static void s_rmtree(const char *path) { nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int s_fsync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Writes text to dir/name and fsyncs it. */
static int s_put(const char *dir, const char *name, const void *data, size_t len, char *why, size_t wl) {
    char *path = xasprintf("%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = fd < 0 ? -errno : 0;
    const char *p = data;
    while (rc == 0 && len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) rc = -errno;
        else p += w, len -= (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = -errno;
    if (rc != 0) snprintf(why, wl, "%s: cannot write: %s", path, strerror(-rc));
    free(path);
    return rc;
}

/* May DIR be replaced? Only a folder that is empty or holds a model (config.json): a typo that
 * names someone's home folder must not delete it. 1 yes, 0 no such path, -1 refused (why). */
static int s_replaceable(const char *dir, char *why, size_t wl) {
    struct stat st;
    if (lstat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return util_refuse(why, wl, "%s exists and is not a folder; not replacing it", dir);
    char *cfg = xasprintf("%s/config.json", dir);
    int model = util_file_exists(cfg), empty = 1;
    free(cfg);
    DIR *d = model ? NULL : opendir(dir);
    for (struct dirent *e; d && empty && (e = readdir(d));) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    if (d) closedir(d);
    if (!model && !empty) return util_refuse(why, wl, "%s is not empty and holds no config.json; not replacing it", dir);
    return 1;
}

/* Puts the finished folder tmp at dir. */
static int s_install(const char *tmp, const char *dir, int exists, char *why, size_t wl) {
    if (!exists) {
        if (rename(tmp, dir) != 0) return -errno;
        return 0;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        s_rmtree(tmp); /* now the old folder */
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) return -errno;
    /* a file system without RENAME_EXCHANGE: move the old folder aside first (a crash between
     * the two renames leaves it there, named, and DIR absent; never a mix) */
    char *old = xasprintf("%s.old-%d", dir, (int)getpid());
    int rc = 0;
    if (rename(dir, old) != 0) rc = -errno;
    else if (rename(tmp, dir) != 0) {
        rc = -errno;
        rename(old, dir);
    } else {
        s_rmtree(old);
    }
    (void)why, (void)wl;
    free(old);
    return rc;
}

int hf_tokenizer_files_read(const char *dir, hf_file_t **files, char *why, size_t wl) {
    int n = 0, cap = (int)(sizeof s_tokenizer_files / sizeof *s_tokenizer_files);
    *files = xcalloc((size_t)cap, sizeof **files);
    for (int i = 0; i < cap; i++) {
        char *src = xasprintf("%s/%s", dir, s_tokenizer_files[i]);
        size_t len;
        char *data = util_read_file(src, &len);
        if (!data && errno != ENOENT) {
            snprintf(why, wl, "%s: cannot read: %s", src, strerror(errno));
            free(src);
            hf_files_free(*files, n);
            *files = NULL;
            return -1;
        }
        free(src);
        if (data) (*files)[n++] = (hf_file_t){xstrdup(s_tokenizer_files[i]), data, len};
    }
    return n;
}

const hf_file_t *hf_file_find(const hf_file_t *files, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(files[i].name, name)) return &files[i];
    return NULL;
}

void hf_files_free(hf_file_t *files, int n) {
    for (int i = 0; i < n; i++) free(files[i].name), free(files[i].data);
    free(files);
}

int hf_write_folder(const char *dir_in, const hf_config_t *c, const hf_want_t *tensors, int n, int bf16,
                    const char *const *meta_keys, const char *const *meta_values, int n_meta,
                    const hf_file_t *files, int n_files, char *why, size_t wl) {
    if (hf_config_check(c, why, wl) != 0) return -EINVAL;
    char *dir = xstrdup(dir_in);
    for (size_t k = strlen(dir); k > 1 && dir[k - 1] == '/'; k--) dir[k - 1] = '\0';
    int rc = 0;
    st_tensor_t *ts = xcalloc(n ? (size_t)n : 1, sizeof *ts);
    for (int i = 0; i < n && rc == 0; i++) {
        const hf_want_t *w = &tensors[i];
        size_t count = 1;
        for (int d = 0; d < w->ndim; d++) count *= (size_t)w->shape[d];
        if (strlen(w->name) >= sizeof ts[i].name || w->ndim > ST_MAX_DIMS || !w->data)
            rc = util_refuse(why, wl, "tensor %s cannot be written (name too long, too many dimensions or no data)", w->name);
        for (int k = 0; k < i && rc == 0; k++)
            if (!strcmp(tensors[k].name, w->name)) rc = util_refuse(why, wl, "tensor %s given twice", w->name);
        snprintf(ts[i].name, sizeof ts[i].name, "%s", w->name);
        snprintf(ts[i].dtype, sizeof ts[i].dtype, "F32");
        ts[i].ndim = w->ndim;
        for (int d = 0; d < w->ndim && d < ST_MAX_DIMS; d++) ts[i].shape[d] = w->shape[d];
        ts[i].data = w->data;
        ts[i].nbytes = count * sizeof(float);
    }
    int exists = rc == 0 ? s_replaceable(dir, why, wl) : 0;
    if (rc != 0 || exists < 0) {
        free(ts);
        free(dir);
        return -EINVAL;
    }
    char *parent = xstrdup(dir), *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = '\0';
    else snprintf(parent, strlen(parent) + 1, "%s", slash ? "/" : ".");
    char *tmp = xasprintf("%s.tmp-XXXXXX", dir);
    if ((rc = util_mkdirs(parent)) != 0 || !mkdtemp(tmp)) {
        rc = rc ? rc : -errno;
        snprintf(why, wl, "%s: cannot create the temporary folder: %s", tmp, strerror(-rc));
        free(tmp), free(parent), free(ts), free(dir);
        return rc;
    }
    chmod(tmp, 0755); /* mkdtemp makes it 0700; a model folder is as readable as any other */
    /* the safetensors metadata: "format": "pt" (transformers refuses a file without it), then the caller's */
    const char **keys = xcalloc((size_t)n_meta + 1, sizeof *keys), **vals = xcalloc((size_t)n_meta + 1, sizeof *vals);
    int nk = 0;
    keys[nk] = "format", vals[nk++] = "pt";
    for (int i = 0; i < n_meta; i++)
        if (strcmp(meta_keys[i], "format") != 0) keys[nk] = meta_keys[i], vals[nk++] = meta_values[i];
    char *path = xasprintf("%s/model.safetensors", tmp);
    rc = st_write(path, ts, n, keys, vals, nk, bf16, why, wl);
    free(path);
    free(keys), free(vals), free(ts);
    char *text = rc == 0 ? hf_config_json(c, bf16 ? "bfloat16" : "float32") : NULL;
    if (rc == 0) rc = s_put(tmp, "config.json", text, strlen(text), why, wl);
    free(text);
    text = rc == 0 ? hf_generation_config_json(c) : NULL;
    if (rc == 0) rc = s_put(tmp, "generation_config.json", text, strlen(text), why, wl);
    free(text);
    for (int i = 0; rc == 0 && i < n_files; i++) rc = s_put(tmp, files[i].name, files[i].data, files[i].len, why, wl);
    if (rc == 0 && (rc = s_fsync_path(tmp)) != 0) snprintf(why, wl, "%s: fsync: %s", tmp, strerror(-rc));
    if (rc == 0 && (rc = s_install(tmp, dir, exists, why, wl)) != 0)
        snprintf(why, wl, "%s: cannot move %s into place: %s", dir, tmp, strerror(-rc));
    if (rc == 0) s_fsync_path(parent); /* the rename itself made durable */
    else s_rmtree(tmp);
    free(tmp), free(parent), free(dir);
    return rc;
}
