/* gateway/base/log.c: the error log. One line per event, written with a single
 * write(2) so that lines from different threads never interleave. */
#include "base/log.h"
#include "base/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int pc_log_level = PC_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void log_vwrite(int level, const char *prefix, const char *fmt, va_list ap)
{
    char line[2048];
    struct tm tm;
    uint64_t now_ms = pc_clock_wall_ms();
    time_t secs = (time_t)(now_ms / 1000);
    gmtime_r(&secs, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] %s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(now_ms % 1000), level_names[level], prefix ? prefix : "");
    if (n < 0)
        return;
    if ((size_t)n < sizeof(line)) {
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void pc_log_write(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, NULL, fmt, ap);
    va_end(ap);
}

void pc_log(int level, const char *fmt, ...)
{
    if (level > pc_log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, NULL, fmt, ap);
    va_end(ap);
}

void pc_log_vwrite_prefixed(int level, const char *prefix, const char *fmt, va_list ap)
{
    log_vwrite(level, prefix, fmt, ap);
}

int pc_log_level_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}
