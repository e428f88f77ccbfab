/* util — allocation that aborts on out-of-memory, clocks, small file helpers.
 * Everything here either succeeds or ends the process (allocation) / returns a negative
 * error (files); nothing here touches the network. */
#ifndef SPAR_UTIL_H
#define SPAR_UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes a reason into err and returns -1, for `return util_refuse(err, len, "...", ...)`. */
int util_refuse(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Monotonic milliseconds (for timeouts) and wall-clock Unix milliseconds (for the wire). */
int64_t util_now_ms(void);
int64_t util_unix_ms(void);
double util_now_s(void);
void util_sleep_ms(int ms);

/* Reads a whole file into a NUL-terminated buffer (caller frees). NULL on error, errno set. */
char *util_read_file(const char *path, size_t *len_out);
/* Writes data atomically: temp file in the same folder, fsync, rename, fsync the folder.
 * Returns 0 or -errno. */
int util_write_atomic(const char *path, const void *data, size_t len);
/* util_write_atomic of the concatenation of n_parts buffers, without making it in memory. */
int util_write_atomic_parts(const char *path, const void *const *parts, const size_t *lens, int n_parts);
/* The same without the fsyncs: readers never see a partial file, but a crash may lose it (for
 * files rewritten every second, like status.json). */
int util_write_replace(const char *path, const void *data, size_t len);
/* mkdir -p. Returns 0 or -errno. */
int util_mkdirs(const char *path);
int util_file_exists(const char *path);

/* SIGINT/SIGTERM set a flag that main loops poll (the handler does nothing else). */
void util_install_stop_signals(void);
int util_stop_requested(void);

/* This process's identity on the wire: "BASE.PID@HOST". Unique in any deployment (two copies of
 * one container image differ by host name, two processes on a host by pid) and stable for the
 * process's life. Truncated to fit outlen. */
void util_process_id(const char *base, char *out, size_t outlen);

/* Starts argv[0] with argv as a child process, in dir (NULL: here), its stdout and stderr
 * appended to log (NULL: /dev/null). Returns its pid, or -1 when fork fails; a child that
 * cannot change to dir exits 126, one that cannot exec exits 127. */
pid_t util_spawn(const char *dir, const char *log, char *const argv[]);

#endif
