/* gateway/store/redis_url.c: Redis addresses: parsing the store's "url"
 * and naming an address in logs (contract in redis_url.h). */
#include "store/redis_url.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pc_redis_addr_clear(pc_redis_addr_t *a)
{
    free(a->host);
    free(a->unix_path);
    free(a->username);
    free(a->password);
    memset(a, 0, sizeof(*a));
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or NUL. */
static char *url_decode(const char *s, size_t n)
{
    char *out = pc_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h = i + 2 < n ? pc_hex_digit((unsigned char)s[i + 1]) : -1;
            int l = i + 2 < n ? pc_hex_digit((unsigned char)s[i + 2]) : -1;
            if (h < 0 || l < 0) {
                free(out);
                return NULL;
            }
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0) {
            free(out);
            return NULL;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

static int url_uint(const char *s, size_t n, unsigned max, unsigned *out)
{
    unsigned long v = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

#define URL_FAIL(...)                                                          \
    do {                                                                       \
        snprintf(err, errlen, __VA_ARGS__);                                    \
        pc_redis_addr_clear(out);                                              \
        return -1;                                                             \
    } while (0)

static int url_parse_unix(const char *p, pc_redis_addr_t *out, char *err, size_t errlen)
{
    const char *q = strchr(p, '?');
    size_t plen = q ? (size_t)(q - p) : strlen(p);
    if (plen < 2 || p[0] != '/')
        URL_FAIL("unix: URL needs an absolute socket path (unix:///run/redis.sock)");
    if (plen > 107)
        URL_FAIL("unix socket path longer than 107 bytes");
    out->unix_path = url_decode(p, plen);
    if (!out->unix_path)
        URL_FAIL("bad percent-escape in the socket path");
    if (q) {
        const char *v = q + 1;
        if (strncmp(v, "db=", 3) != 0 || url_uint(v + 3, strlen(v + 3), 1000000, &out->db) != 0)
            URL_FAIL("unix: URL query must be db=N");
    }
    return 0;
}

int pc_redis_url_parse(const char *url, pc_redis_addr_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(url, "unix://", 7) == 0)
        return url_parse_unix(url + 7, out, err, errlen);
    if (strncmp(url, "rediss://", 9) == 0)
        URL_FAIL("rediss:// (TLS) is not supported: use redis:// on a trusted network or a "
                 "unix socket");
    if (strncmp(url, "redis://", 8) != 0)
        URL_FAIL("must start with redis:// or unix://");
    const char *p = url + 8;
    const char *end = p + strcspn(p, "/?#");
    if (strpbrk(p, "?#"))
        URL_FAIL("query strings and fragments are not supported in redis:// URLs");
    /* userinfo: the last '@' before the path */
    const char *at = NULL;
    for (const char *s = p; s < end; s++)
        if (*s == '@')
            at = s;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            URL_FAIL("userinfo must be user:password or :password");
        if (colon > p) {
            out->username = url_decode(p, (size_t)(colon - p));
            if (!out->username)
                URL_FAIL("bad percent-escape in the user name");
        }
        if (at - colon - 1 > 0) {
            out->password = url_decode(colon + 1, (size_t)(at - colon - 1));
            if (!out->password)
                URL_FAIL("bad percent-escape in the password");
        } else if (out->username) {
            URL_FAIL("a user name needs a password");
        }
        p = at + 1;
    }
    const char *hs = p, *he, *port = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            URL_FAIL("unterminated [IPv6] address");
        hs = p + 1;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                URL_FAIL("junk after the [IPv6] address");
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        he = colon ? colon : end;
        if (colon)
            port = colon + 1;
    }
    if (he == hs)
        URL_FAIL("missing host");
    if (he - hs > 253)
        URL_FAIL("host name too long");
    out->host = pc_xstrndup(hs, (size_t)(he - hs));
    for (const char *s = out->host; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == ':' || *s == '_'))
            URL_FAIL("bad character in the host");
    out->port = 6379;
    if (port && url_uint(port, (size_t)(end - port), 65535, &out->port) != 0)
        URL_FAIL("port must be a number between 1 and 65535");
    if (out->port == 0)
        URL_FAIL("port must be a number between 1 and 65535");
    if (*end == '/' && end[1] && url_uint(end + 1, strlen(end + 1), 1000000, &out->db) != 0)
        URL_FAIL("the path must be a database number (redis://host:6379/0)");
    return 0;
}

#undef URL_FAIL


void pc_redis_addr_text(const pc_redis_addr_t *a, char *buf, size_t len)
{
    if (a->unix_path)
        snprintf(buf, len, "unix:%s db %u", a->unix_path, a->db);
    else if (a->host && strchr(a->host, ':'))
        snprintf(buf, len, "[%s]:%u db %u", a->host, a->port, a->db);
    else
        snprintf(buf, len, "%s:%u db %u", a->host ? a->host : "?", a->port, a->db);
}
