/* log — see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char s_name[64] = "spar";
static int s_quiet;

void log_set_name(const char *name) { snprintf(s_name, sizeof s_name, "%s", name); }
const char *log_name(void) { return s_name; }
void log_set_quiet(int quiet) { s_quiet = quiet; }

static void s_log(const char *level, const char *fmt, va_list ap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, s_name, level, msg);
    fflush(stderr);
}

void log_info(const char *fmt, ...) {
    if (s_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    s_log("info", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    s_log("warn", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    s_log("error", fmt, ap);
    va_end(ap);
}
