/* gateway/front/head.c: a request's head, read from libmicrohttpd on the
 * first access-handler call: the headers (and what MHD's parse hides), the
 * request id and trace context, the client address behind trusted
 * proxies, the limits and framing checks, the canonical path. */
#include "front/head.h"
#include "base/problem.h"
#include "base/util.h"
#include "http/hdr.h"
#include "http/path.h"
#include "lifecycle/worker_ctx.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- request id and trace context ------------------------------------------ */

void pc_head_new_id(pc_rng_t *rng, char id[33])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = pc_rng_next(rng), b = pc_rng_next(rng);
    for (int i = 0; i < 16; i++) {
        id[i] = hex[(a >> (i * 4)) & 15];
        id[16 + i] = hex[(b >> (i * 4)) & 15];
    }
    id[32] = '\0';
}

static void request_make_id(pc_request_t *r)
{
    char *id = pc_arena_alloc(r->arena, 33);
    pc_head_new_id(&r->worker->rng, id);
    r->request_id = id;
}

/* ---- headers ------------------------------------------------------------------ */

typedef struct hdr_collect {
    pc_request_t *r;
    size_t cap;
    size_t bytes;
    bool bad;
} hdr_collect_t;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    hdr_collect_t *hc = cls;
    pc_request_t *r = hc->r;
    if (!value) {
        value = "";
        value_size = 0;
    }
    if (r->nheaders == hc->cap) {
        size_t ncap = hc->cap ? hc->cap * 2 : 32;
        r->headers = pc_arena_realloc(r->arena, r->headers, hc->cap * sizeof(pc_hdr_t),
                                      ncap * sizeof(pc_hdr_t));
        hc->cap = ncap;
    }
    /* MHD hands over NUL-terminated strings; a NUL inside a value shows up
     * as a length mismatch. */
    if (strlen(key) != key_size || strlen(value) != value_size)
        hc->bad = true;
    r->headers[r->nheaders++] = (pc_hdr_t){key, key_size, value, value_size};
    hc->bytes += key_size + value_size + 4;
    return MHD_YES;
}

/* Refuses every shape that two parsers could read differently. */
int pc_head_check_framing(pc_request_t *r)
{
    pc_framing_t f;
    const char *why = pc_hdr_check_framing(r->headers, r->nheaders, &f);
    if (why)
        return pc_request_fail(r, 400, why, NULL), -1;
    r->content_length = f.content_length;
    r->chunked = f.chunked;
    r->host = f.host;
    r->host_len = f.host_len;
    if (r->version && strcmp(r->version, "HTTP/1.1") == 0 && !r->host)
        return pc_request_fail(r, 400, "request.missing_host", NULL), -1;
    /* It becomes X-Forwarded-Host, which backends build links and cache
     * keys from: only a uri-host and a port (RFC 9112 §3.2). */
    if (r->host && !pc_host_ok(r->host, r->host_len))
        return pc_request_fail(r, 400, "request.bad_host", NULL), -1;
    return 0;
}

/* MHD parses the request line in place and hides a NUL in it: "GET\0DELETE
 * /x" reads as method "GET", and a target cut at a NUL as its prefix. In
 * its read buffer the line is method "\0" target "\0" version (the spaces
 * become NULs; the query is split off after the URI callback, which saw the
 * target whole: raw_uri_len). So the line is what the strings show only if
 * each piece ends exactly where the next begins. Depends on MHD's in-place
 * parsing, like header_block_layout_ok() below; checked by tests/e2e/test_rfc.py. */
int pc_head_check_line(pc_request_t *r, const char *method, const char *url, const char *version)
{
    size_t mlen = strlen(method);
    if (!pc_hdr_name_ok(method, mlen))
        return pc_request_fail(r, 400, "request.bad_method", NULL), -1;
    if (!url || !version || method + mlen + 1 != url || url + r->raw_uri_len + 1 != version)
        return pc_request_fail(r, 400, "request.bad_request_line", NULL), -1;
    return 0;
}

/* What libmicrohttpd 0.9.75 hides: it folds obs-fold continuation lines
 * into the *name* of the previous field, truncates a value at a NUL, and
 * silently drops a line with an empty name. None of that is visible in the
 * parsed strings, but all of it breaks the layout MHD leaves in its read
 * buffer, where the fields are parsed in place: after the version,
 * "\0\0" (CRLF), then per field: name, "\0" (the colon), optional
 * whitespace, value, "\0\0"; the empty line adds "\0\0". So the header
 * block is accepted only if every field sits exactly where the previous
 * line ended. This also refuses bare-LF line endings (RFC 9112 allows a
 * recipient to, and two parsers disagreeing on line ends is how requests
 * are smuggled). Depends on MHD's in-place parsing, checked by the e2e
 * smuggling tests. */
static bool header_block_layout_ok(const char *version, const pc_hdr_t *h, size_t n)
{
    if (!version)
        return false;
    const char *end = version + strlen(version);
    for (size_t i = 0; i < n; i++) {
        if (end[0] != '\0' || end[1] != '\0' || h[i].name != end + 2)
            return false;
        const char *p = h[i].name + h[i].name_len;
        if (*p != '\0' || h[i].value < p + 1 || h[i].value > p + 1 + 256)
            return false;
        for (p++; p < h[i].value; p++)
            if (*p != ' ' && *p != '\t')
                return false;
        end = h[i].value + h[i].value_len;
    }
    return end[0] == '\0' && end[1] == '\0' && end[2] == '\0' && end[3] == '\0';
}

int pc_head_check_limits(pc_request_t *r, const pc_limits_t *lim, size_t bytes)
{
    if (r->nheaders > lim->max_headers)
        return pc_request_fail(r, 431, "request.too_many_headers", NULL), -1;
    if (bytes > lim->max_header_bytes)
        return pc_request_fail(r, 431, "request.headers_too_large", NULL), -1;
    return 0;
}

/* ---- client address ------------------------------------------------------------ */

/* Dotted quad without stdio: this runs on every request. */
static void ipv4_format(const unsigned char *a, char *buf)
{
    char *p = buf;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
}

static void sockaddr_ip(const struct sockaddr *sa, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!sa || len < INET6_ADDRSTRLEN)
        return;
    if (sa->sa_family == AF_INET) {
        ipv4_format((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr, buf);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            ipv4_format(&a->s6_addr[12], buf);
        else
            inet_ntop(AF_INET6, a, buf, (socklen_t)len);
    }
}

static bool ip_text_trusted(const char *ip, void *ctx)
{
    const pc_listener_conf_t *l = ctx;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        return false;
    return pc_cidr_contains(l->trusted_proxies, l->ntrusted_proxies, (struct sockaddr *)&ss);
}

void pc_head_peer_ip(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sockaddr_ip(ci ? ci->client_addr : NULL, buf, len);
}

/* The client is the rightmost X-Forwarded-For entry that is not one of our
 * trusted proxies; the header only counts when the peer itself is trusted. */
static void resolve_client_ip(pc_request_t *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sockaddr_ip(ci ? ci->client_addr : NULL, r->peer_ip, sizeof(r->peer_ip));
    snprintf(r->client_ip, sizeof(r->client_ip), "%s", r->peer_ip);
    const pc_listener_conf_t *l = r->listener;
    if (!l->ntrusted_proxies || !ci)
        return;
    r->peer_trusted = pc_cidr_contains(l->trusted_proxies, l->ntrusted_proxies, ci->client_addr);
    const char *xff = r->peer_trusted ? pc_request_header(r, "X-Forwarded-For") : NULL;
    if (xff && pc_request_header_count(r, "X-Forwarded-For") == 1)
        pc_xff_client(xff, ip_text_trusted, (void *)l, r->client_ip, sizeof(r->client_ip));
}

/* Length of an absolute-form target's "http://" or "https://" (any case), or 0. */
static size_t scheme_len(const char *uri, size_t len)
{
    if (len >= 7 && pc_strncaseeq(uri, "http://", 7))
        return 7;
    if (len >= 8 && pc_strncaseeq(uri, "https://", 8))
        return 8;
    return 0;
}

/* RFC 9112 §3.2.2: a server MUST accept the absolute form. Its authority
 * replaces Host (for routing and X-Forwarded-Host); what follows is the
 * origin form ("/" when empty). 0, or -1 with 400 set. */
static int take_absolute_form(pc_request_t *r, const char **uri, size_t *len)
{
    size_t s = scheme_len(*uri, *len);
    if (!s)
        return 0; /* not absolute-form: the path rules refuse it */
    const char *a = *uri + s, *end = *uri + *len;
    const char *p = a;
    while (p < end && *p != '/' && *p != '?')
        p++;
    if (p == a || !pc_host_ok(a, (size_t)(p - a)))
        return pc_request_fail(r, 400, "request.bad_authority", NULL), -1;
    r->host = pc_arena_strndup(r->arena, a, (size_t)(p - a));
    r->host_len = (size_t)(p - a);
    if (p == end || *p == '?') {
        /* "http://h" or "http://h?q": the path is "/" */
        size_t rest = (size_t)(end - p);
        char *o = pc_arena_alloc(r->arena, rest + 2);
        o[0] = '/';
        memcpy(o + 1, p, rest);
        o[rest + 1] = '\0';
        *uri = o;
        *len = rest + 1;
        return 0;
    }
    *uri = p;
    *len = (size_t)(end - p);
    return 0;
}

int pc_head_canonicalize(pc_request_t *r)
{
    const char *uri = r->raw_uri;
    size_t len = r->raw_uri_len;
    if (len > r->listener->limits.max_url_bytes)
        return pc_request_fail(r, 414, "request.uri_too_long", NULL), -1;
    /* libmicrohttpd runs permissive (its own strict errors come out
     * malformed): a target with whitespace or controls is not one. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)uri[i] <= 0x20 || uri[i] == 0x7f)
            return pc_request_fail(r, 400, "request.bad_target", NULL), -1;
    if (len && uri[0] != '/' && take_absolute_form(r, &uri, &len) != 0)
        return -1;
    size_t plen = pc_path_split_query(uri, len);
    if (plen < len)
        r->query = pc_arena_strndup(r->arena, uri + plen + 1, len - plen - 1);
    r->path = pc_arena_alloc(r->arena, PC_PATH_OUT_SIZE(plen));
    pc_path_err_t e = pc_path_canonicalize(uri, plen, r->path, &r->path_len);
    if (e != PC_PATH_OK)
        return pc_request_fail(r, 400, "request.bad_path", pc_path_strerror(e)), -1;
    if (r->query && !pc_hdr_value_ok(r->query, strlen(r->query)))
        return pc_request_fail(r, 400, "request.bad_query", NULL), -1;
    return 0;
}

int pc_head_check_route_path(pc_request_t *r)
{
    if (!r->route->allow_double_encoding && pc_path_double_encoded(r->path, r->path_len))
        return pc_request_fail(r, 400, "request.double_encoded",
                               "percent-encoded '%' before two hex digits in path"), -1;
    return 0;
}

static void take_ids(pc_request_t *r)
{
    const char *id = pc_request_header(r, "X-Request-Id");
    if (id && pc_request_id_ok(id))
        r->request_id = id;
    else
        request_make_id(r);
    const char *tp = pc_request_header(r, "traceparent");
    if (tp && pc_request_header_count(r, "traceparent") == 1 && pc_traceparent_ok(tp))
        r->traceparent = tp;
}

size_t pc_head_read(pc_request_t *r, const char *method, const char *version, bool *malformed)
{
    r->method = method;
    r->method_bit = pc_method_bit(method);
    r->version = version;
    hdr_collect_t hc = {.r = r};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, collect_header, &hc);
    take_ids(r);
    resolve_client_ip(r);
    *malformed = hc.bad || !header_block_layout_ok(version, r->headers, r->nheaders);
    return hc.bytes;
}
