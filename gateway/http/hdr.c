/* gateway/http/hdr.c: header field rules (see hdr.h). */
#include "http/hdr.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool pc_hdr_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!tchar((unsigned char)s[i]))
            return false;
    return true;
}

bool pc_hdr_value_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

bool pc_hdr_is(const char *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && pc_strncaseeq(name, lit, n);
}

bool pc_hdr_is_loose(const char *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)name[i], b = (unsigned char)lit[i];
        a = a == '_' ? '-' : (unsigned char)tolower(a);
        b = b == '_' ? '-' : (unsigned char)tolower(b);
        if (a != b)
            return false;
    }
    return true;
}

/* RFC 3986 unreserved and sub-delims: what a reg-name may hold here. */
static bool host_regname_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("-._~!$&'()*+,;=", c) != NULL);
}

static bool host_port_ok(const char *p, size_t n)
{
    if (n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535;
}

static bool host_ipv6_literal_ok(const char *s, size_t n)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[16];
    if (n < 2 || n - 2 > INET6_ADDRSTRLEN)
        return false;
    memcpy(buf, s + 1, n - 2);
    buf[n - 2] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
}

bool pc_host_ok(const char *s, size_t n)
{
    if (n > 255 + 6)
        return false;
    size_t host_end = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        host_end = (size_t)(close - s) + 1;
        if (!host_ipv6_literal_ok(s, host_end))
            return false;
        if (host_end == n)
            return true;
        return s[host_end] == ':' && host_port_ok(s + host_end + 1, n - host_end - 1);
    }
    const char *colon = memchr(s, ':', n);
    if (colon) {
        host_end = (size_t)(colon - s);
        if (!host_port_ok(colon + 1, n - host_end - 1))
            return false;
    }
    if (host_end > 255)
        return false;
    /* an IPv4address is a reg-name too, character-wise; nothing else is */
    for (size_t i = 0; i < host_end; i++)
        if (!host_regname_char((unsigned char)s[i]))
            return false;
    return true;
}

bool pc_hdr_hop_by_hop(const char *name, size_t len)
{
    static const char *const hop[] = {
        "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
        "upgrade", "trailer", "content-length", "expect", "http2-settings",
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(hop); i++)
        if (pc_hdr_is(name, len, hop[i]))
            return true;
    return false;
}

bool pc_hdr_listed(const char *list, const char *name, size_t len)
{
    const char *p = list;
    while (list && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (p > s && (size_t)(p - s) == len && pc_strncaseeq(s, name, len))
            return true;
    }
    return false;
}

bool pc_content_length_parse(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

const char *pc_hdr_check_framing(const pc_hdr_t *h, size_t n, pc_framing_t *out)
{
    const char *cl = NULL, *te = NULL;
    *out = (pc_framing_t){.content_length = -1};
    for (size_t i = 0; i < n; i++) {
        if (!pc_hdr_name_ok(h[i].name, h[i].name_len))
            return "request.bad_header_name";
        if (!pc_hdr_value_ok(h[i].value, h[i].value_len))
            return "request.bad_header_value";
        if (pc_hdr_is(h[i].name, h[i].name_len, "content-length")) {
            if (cl && strcmp(cl, h[i].value) != 0)
                return "request.conflicting_length";
            cl = h[i].value;
        } else if (pc_hdr_is(h[i].name, h[i].name_len, "transfer-encoding")) {
            if (te)
                return "request.bad_transfer_encoding";
            te = h[i].value;
        } else if (pc_hdr_is(h[i].name, h[i].name_len, "host")) {
            if (out->host)
                return "request.duplicate_host";
            out->host = h[i].value;
            out->host_len = h[i].value_len;
        }
    }
    if (cl && te)
        return "request.length_and_chunked";
    if (te) {
        if (strcasecmp(te, "chunked") != 0)
            return "request.bad_transfer_encoding";
        out->chunked = true;
    }
    if (cl && !pc_content_length_parse(cl, &out->content_length))
        return "request.bad_content_length";
    return NULL;
}

static bool id_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':';
}

bool pc_request_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 128 || !id_char_ok((unsigned char)s[n]))
            return false;
    return n >= 8;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool pc_traceparent_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    if (!is_lower_hex(s, 2) || !is_lower_hex(s + 3, 32) || !is_lower_hex(s + 36, 16) ||
        !is_lower_hex(s + 53, 2))
        return false;
    if (memcmp(s, "ff", 2) == 0 || (memcmp(s, "00", 2) == 0 && n != 55))
        return false;
    if (n > 55 && s[55] != '-')
        return false;
    return strspn(s + 3, "0") < 32 && strspn(s + 36, "0") < 16;
}

static bool ip_literal(const char *ip)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1;
}

bool pc_xff_client(const char *xff, bool (*trusted)(const char *ip, void *ctx), void *ctx,
                   char *out, size_t outlen)
{
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *p = end;
        while (p > xff && p[-1] != ',')
            p--;
        const char *s = p, *e = end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char ip[64];
        if (e - s <= 0 || (size_t)(e - s) >= sizeof(ip))
            return false;
        memcpy(ip, s, (size_t)(e - s));
        ip[e - s] = '\0';
        if (!ip_literal(ip))
            return false;
        if (!trusted(ip, ctx)) {
            snprintf(out, outlen, "%s", ip);
            return true;
        }
        end = p > xff ? p - 1 : xff;
    }
    return false;
}
