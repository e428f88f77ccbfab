/* log — one line per event on stderr: time, process name, level, message.
 * The launcher stores each child's stderr in the run's logs/ folder. */
#ifndef SPAR_LOG_H
#define SPAR_LOG_H

void log_set_name(const char *name);
const char *log_name(void);
void log_set_quiet(int quiet); /* 1: only warnings and errors */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
