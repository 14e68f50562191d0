/* gateway/conf/validate.c: small validators shared by the sections: names,
 * RFC 9110 tokens, host names, numeric addresses and listener overlaps. */
#include "conf/conf_int.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <string.h>

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CONF_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool pc_ld_name(ld_t *l, const char *path, const char *s)
{
    if (name_ok(s))
        return true;
    char b[SHOW_LEN];
    pc_ld_err(l, path, "\"%s\" is not a valid name: 1 to %d of A-Z a-z 0-9 _ . -",
              pc_ld_esc(b, sizeof(b), s, SHOW_MAX), CONF_MAX_NAME);
    return false;
}

/* RFC 9110 token characters (header names). */
bool pc_ld_token_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* Lower-case host name: dot-separated labels of [a-z0-9_-], 1..63 bytes
 * each, at most 253 in all. */
bool pc_ld_hostname_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* A name whose last label is numeric (or hex) would be read as an IPv4
 * address by inet_aton-style resolvers ("127.1", "010.0.0.1",
 * "0x7f.1"): refused, only the plain dotted quad is an address. */
bool pc_ld_looks_numeric(const char *s)
{
    const char *last = strrchr(s, '.');
    last = last ? last + 1 : s;
    if (last[0] == '0' && last[1] == 'x')
        return true;
    for (const char *p = last; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

void pc_ld_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

bool pc_ld_ip_parse(const char *s, ipaddr_t *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, ip->a) == 1) {
        ip->family = AF_INET6;
        return true;
    }
    return false;
}

bool pc_ld_ip_is_loopback(const ipaddr_t *ip)
{
    static const unsigned char v6lo[16] = {[15] = 1};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (ip->family == AF_INET)
        return ip->a[0] == 127;
    if (memcmp(ip->a, v6lo, 16) == 0)
        return true;
    return memcmp(ip->a, mapped, 12) == 0 && ip->a[12] == 127;
}

static bool ip_is_any(const ipaddr_t *ip)
{
    static const unsigned char zero[16];
    return memcmp(ip->a, zero, ip->family == AF_INET ? 4 : 16) == 0;
}

/* Two sockets that could not both be bound: same port, same family, and
 * the same address or a wildcard on either side. */
bool pc_ld_endpoints_clash(const ipaddr_t *a, unsigned pa, const ipaddr_t *b, unsigned pb)
{
    if (pa != pb || a->family != b->family)
        return false;
    return ip_is_any(a) || ip_is_any(b) || memcmp(a->a, b->a, 16) == 0;
}

char *pc_ld_ip_format(const ipaddr_t *ip)
{
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(ip->family, ip->a, buf, sizeof(buf));
    return pc_xstrdup(buf);
}
