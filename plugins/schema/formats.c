/* plugins/schema/formats.c: format names, dispatch, and the formats that
 * are about time (RFC 3339 date, time, date-time, duration) plus uuid.
 * Network formats are in format_net.c, URIs in format_uri.c. */
#include "formats.h"
#include "formats_int.h"
#include "regex.h"

#include <string.h>

static const struct {
    const char *name;
    pc_format_t f;
} names[] = {
    {"date-time", PC_FORMAT_DATE_TIME}, {"date", PC_FORMAT_DATE},
    {"time", PC_FORMAT_TIME},           {"duration", PC_FORMAT_DURATION},
    {"email", PC_FORMAT_EMAIL},         {"hostname", PC_FORMAT_HOSTNAME},
    {"ipv4", PC_FORMAT_IPV4},           {"ipv6", PC_FORMAT_IPV6},
    {"uri", PC_FORMAT_URI},             {"uri-reference", PC_FORMAT_URI_REFERENCE},
    {"uuid", PC_FORMAT_UUID},           {"regex", PC_FORMAT_REGEX},
};

pc_format_t pc_format_lookup(const char *name)
{
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].f;
    return PC_FORMAT_UNKNOWN;
}

/* n ASCII digits at s as a number; -1 when any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!pc_fmt_is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int month_days(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* full-date = date-fullyear "-" date-month "-" date-mday */
bool pc_fmt_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    return y >= 0 && m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m);
}

/* full-time = partial-time time-offset, with a leap second allowed only
 * where the time is 23:59:60 in UTC once the offset is taken off. */
bool pc_fmt_time(const char *s, size_t len)
{
    if (len < 9 || s[2] != ':' || s[5] != ':')
        return false;
    int h = digits(s, 2), m = digits(s + 3, 2), sec = digits(s + 6, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
        return false;
    size_t i = 8;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && pc_fmt_is_digit(s[i]))
            i++;
        if (i == start)
            return false;
    }
    if (i >= len)
        return false;
    int off = 0;   /* minutes east of UTC */
    if ((s[i] | 0x20) == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if (len - i != 6 || s[i + 3] != ':')
            return false;
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        off = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
        i += 6;
    } else {
        return false;
    }
    if (i != len)
        return false;
    if (sec == 60) {
        int utc = ((h * 60 + m - off) % 1440 + 1440) % 1440;
        return utc == 23 * 60 + 59;
    }
    return true;
}

bool pc_fmt_date_time(const char *s, size_t len)
{
    return len > 11 && (s[10] | 0x20) == 't' && pc_fmt_date(s, 10) &&
           pc_fmt_time(s + 11, len - 11);
}

/* Components "1*DIGIT unit" whose units are a run of consecutive letters
 * of order (dur-year [dur-month [dur-day]] and the like). Returns how many
 * were read; -1 on a digit run without a valid unit. */
static int dur_run(const char *s, size_t len, size_t *i, const char *order)
{
    int n = 0, prev = -1;
    while (*i < len && pc_fmt_is_digit(s[*i])) {
        while (*i < len && pc_fmt_is_digit(s[*i]))
            (*i)++;
        const char *u = *i < len && s[*i] ? strchr(order, s[*i]) : NULL;
        int idx = u ? (int)(u - order) : -1;
        if (idx < 0 || (prev >= 0 && idx != prev + 1))
            return -1;
        prev = idx;
        (*i)++;
        n++;
    }
    return n;
}

/* RFC 3339 appendix A: "P" (dur-date / dur-time / dur-week). */
bool pc_fmt_duration(const char *s, size_t len)
{
    if (len < 3 || s[0] != 'P')
        return false;
    size_t i = 1;
    while (i < len && pc_fmt_is_digit(s[i]))
        i++;
    if (i > 1 && i + 1 == len && s[i] == 'W')
        return true;
    i = 1;
    int date = dur_run(s, len, &i, "YMD");
    if (date < 0)
        return false;
    if (i < len && s[i] == 'T') {
        i++;
        int time = dur_run(s, len, &i, "HMS");
        if (time <= 0)
            return false;
    } else if (date == 0) {
        return false;
    }
    return i == len;
}

static bool uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !pc_fmt_is_hex(s[i]))
            return false;
    }
    return true;
}

bool pc_format_check(pc_format_t f, const char *s, size_t len)
{
    if (!s)
        s = "";
    switch (f) {
    case PC_FORMAT_DATE_TIME: return pc_fmt_date_time(s, len);
    case PC_FORMAT_DATE: return pc_fmt_date(s, len);
    case PC_FORMAT_TIME: return pc_fmt_time(s, len);
    case PC_FORMAT_DURATION: return pc_fmt_duration(s, len);
    case PC_FORMAT_EMAIL: return pc_fmt_email(s, len);
    case PC_FORMAT_HOSTNAME: return pc_fmt_hostname(s, len);
    case PC_FORMAT_IPV4: return pc_fmt_ipv4(s, len);
    case PC_FORMAT_IPV6: return pc_fmt_ipv6(s, len);
    case PC_FORMAT_URI: return pc_fmt_uri(s, len);
    case PC_FORMAT_URI_REFERENCE: return pc_fmt_uri_reference(s, len);
    case PC_FORMAT_UUID: return uuid(s, len);
    case PC_FORMAT_REGEX: return pc_regex_valid(s, len);
    case PC_FORMAT_UNKNOWN: break;
    }
    return true;
}
