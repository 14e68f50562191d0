/* plugins/schema/formats_int.h: the per-format checks behind
 * pc_format_check (formats.h), shared between the format files because
 * email and uri embed hosts and IP addresses. Same contract: the whole of
 * s[0..len) must match. */
#ifndef PC_FORMATS_INT_H
#define PC_FORMATS_INT_H

#include <stdbool.h>
#include <stddef.h>

/* ASCII classes: no locale, no table (isdigit() would take the locale). */
static inline bool pc_fmt_is_digit(char c) { return c >= '0' && c <= '9'; }

static inline bool pc_fmt_is_alpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

static inline bool pc_fmt_is_hex(char c)
{
    return pc_fmt_is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

bool pc_fmt_date_time(const char *s, size_t len);
bool pc_fmt_date(const char *s, size_t len);
bool pc_fmt_time(const char *s, size_t len);
bool pc_fmt_duration(const char *s, size_t len);
bool pc_fmt_ipv4(const char *s, size_t len);
bool pc_fmt_ipv6(const char *s, size_t len);
bool pc_fmt_hostname(const char *s, size_t len);
bool pc_fmt_email(const char *s, size_t len);
bool pc_fmt_uri(const char *s, size_t len);
bool pc_fmt_uri_reference(const char *s, size_t len);

#endif
