/* plugins/schema/format_uri.c: the uri and uri-reference formats, RFC 3986
 * section 3 and 4.1 (contract in formats.h). ASCII only: an IRI is a
 * different format. Hosts are checked as the grammar says: an IP literal
 * must be a real IPv6 address (or IPvFuture), while "999.999.999.999" is a
 * valid reg-name and so a valid host. */
#include "formats_int.h"

#include <string.h>

static bool is_unreserved(char c)
{
    return pc_fmt_is_alpha(c) || pc_fmt_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(char c) { return c && strchr("!$&'()*+,;=", c) != NULL; }

/* Every byte of s[0..len) is unreserved, sub-delims, a valid
 * pct-encoded triplet, or one of extra. */
static bool all_of(const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (len - i < 3 || !pc_fmt_is_hex(s[i + 1]) || !pc_fmt_is_hex(s[i + 2]))
                return false;
            i += 2;
        } else if (!is_unreserved(c) && !is_sub_delim(c) && !(c && strchr(extra, c))) {
            return false;
        }
    }
    return true;
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]", brackets stripped */
static bool ip_literal(const char *s, size_t len)
{
    if (len > 0 && (s[0] | 0x20) == 'v') {
        size_t i = 1;
        while (i < len && pc_fmt_is_hex(s[i]))
            i++;
        return i > 1 && i < len && s[i] == '.' && i + 1 < len &&
               all_of(s + i + 1, len - i - 1, ":");
    }
    return pc_fmt_ipv6(s, len);
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static bool authority(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (at) {
        if (!all_of(s, (size_t)(at - s), ":"))
            return false;
        len -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    size_t host;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || !ip_literal(s + 1, (size_t)(close - s - 1)))
            return false;
        host = (size_t)(close + 1 - s);
    } else {
        const char *colon = memchr(s, ':', len);
        host = colon ? (size_t)(colon - s) : len;
        if (!all_of(s, host, ""))
            return false;
    }
    if (host == len)
        return true;
    if (s[host] != ':')
        return false;
    for (size_t i = host + 1; i < len; i++)
        if (!pc_fmt_is_digit(s[i]))
            return false;
    return true;
}

/* Offset of the first byte of s[0..len) that is in set, or len. */
static size_t span_until(const char *s, size_t len, const char *set)
{
    size_t i = 0;
    while (i < len && !(s[i] && strchr(set, s[i])))
        i++;
    return i;
}

/* relative-part / hier-part, then [ "?" query ] [ "#" fragment ].
 * noscheme: the first path segment may not hold ':' (path-noscheme). */
static bool after_scheme(const char *s, size_t len, bool noscheme)
{
    size_t path_end = span_until(s, len, "?#");
    size_t i = 0;
    if (path_end >= 2 && s[0] == '/' && s[1] == '/') {
        size_t a = 2 + span_until(s + 2, path_end - 2, "/");
        if (!authority(s + 2, a - 2))
            return false;
        i = a;
    } else if (noscheme && span_until(s, path_end, ":") < span_until(s, path_end, "/")) {
        return false;
    }
    if (!all_of(s + i, path_end - i, ":@/"))
        return false;
    if (path_end == len)
        return true;
    size_t q_end = path_end;
    if (s[path_end] == '?') {
        q_end = path_end + 1 + span_until(s + path_end + 1, len - path_end - 1, "#");
        if (!all_of(s + path_end + 1, q_end - path_end - 1, ":@/?"))
            return false;
    }
    return q_end == len || all_of(s + q_end + 1, len - q_end - 1, ":@/?");
}

/* Length of "scheme:" at s, 0 when s does not start with one. */
static size_t scheme_len(const char *s, size_t len)
{
    if (len == 0 || !pc_fmt_is_alpha(s[0]))
        return 0;
    size_t i = 1;
    while (i < len && (pc_fmt_is_alpha(s[i]) || pc_fmt_is_digit(s[i]) || s[i] == '+' || s[i] == '-' ||
                       s[i] == '.'))
        i++;
    return i < len && s[i] == ':' ? i + 1 : 0;
}

/* URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ] */
bool pc_fmt_uri(const char *s, size_t len)
{
    size_t n = scheme_len(s, len);
    return n > 0 && after_scheme(s + n, len - n, false);
}

/* URI-reference = URI / relative-ref: a string that starts with a valid
 * scheme is a URI; any other is read as a relative reference, whose first
 * segment then may not hold ':'. */
bool pc_fmt_uri_reference(const char *s, size_t len)
{
    size_t n = scheme_len(s, len);
    if (n > 0)
        return after_scheme(s + n, len - n, false);
    return after_scheme(s, len, true);
}
