/* gateway/base/log.h: the error log (stderr), with a level check before any
 * formatting. The access log and the audit trail are separate sinks. */
#ifndef PC_LOG_H
#define PC_LOG_H

#include <stdarg.h>

#include <portcullis/plugin.h>

extern int pc_log_level;

void pc_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define PC_LOG(level, ...)                                                     \
    do {                                                                       \
        if ((level) <= pc_log_level)                                           \
            pc_log_write((level), __VA_ARGS__);                                \
    } while (0)

int pc_log_level_parse(const char *s);
/* For pc_rlog: prefix is request context such as "req=... route=... ". */
void pc_log_vwrite_prefixed(int level, const char *prefix, const char *fmt, va_list ap);

#endif
