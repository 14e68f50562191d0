/* gateway/http/hdr.h: the rules for request and response header fields, kept
 * apart from the MHD glue so they can be tested and fuzzed alone. Every
 * function is pure and takes untrusted bytes. */
#ifndef PC_HDR_H
#define PC_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pc_hdr {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} pc_hdr_t;

/* RFC 9110 field-name: a non-empty token. */
bool pc_hdr_name_ok(const char *s, size_t n);
/* Field value: visible characters, SP and HTAB only (no CR, LF, NUL or
 * other controls: bare CR and obs-fold leftovers end up here). */
bool pc_hdr_value_ok(const char *s, size_t n);
/* Case-insensitive name comparison with a literal. */
bool pc_hdr_is(const char *name, size_t len, const char *lit);
/* pc_hdr_is, where '_' and '-' are also the same character. CGI, WSGI, PHP
 * and some Node servers read "X_Auth_Subject" as "X-Auth-Subject", so every
 * such spelling of a header the gateway sets must go before the upstream. */
bool pc_hdr_is_loose(const char *name, size_t len, const char *lit);

/* RFC 9112 §3.2 Host: uri-host [":" port], where uri-host is an IP-literal
 * ("[" IPv6address "]"; no zone, no IPvFuture), an IPv4address or a
 * reg-name of unreserved and sub-delims characters, and port is at most 5
 * digits up to 65535. Stricter than the grammar in one way: a reg-name with
 * percent-encoding is refused (no DNS name needs it; a decoder downstream
 * could turn it into '/', '@' or a space). The empty value is valid
 * (RFC 9112 §3.2: an empty authority). At most 255 + 6 bytes. */
bool pc_host_ok(const char *s, size_t n);
/* Hop-by-hop (RFC 9110 §7.6.1) plus the framing headers the gateway always
 * rewrites itself (Content-Length, Expect, ...). */
bool pc_hdr_hop_by_hop(const char *name, size_t len);
/* Is `name` one of the comma-separated tokens of a Connection value? */
bool pc_hdr_listed(const char *list, const char *name, size_t len);

/* Decimal Content-Length without sign, spaces or overflow. */
bool pc_content_length_parse(const char *s, int64_t *out);

/* What the framing headers of a request say, or why they are refused. */
typedef struct pc_framing {
    int64_t content_length;        /* -1: none */
    bool chunked;
    const char *host;              /* NULL: none */
    size_t host_len;
} pc_framing_t;

/* Returns NULL if the header set is unambiguous, else a reason code
 * ("request.length_and_chunked", ...). Refused: bad names or values, CL
 * together with TE, differing CLs, a TE other than exactly "chunked", two
 * TE or two Host fields. Identical duplicate CLs are accepted. */
const char *pc_hdr_check_framing(const pc_hdr_t *h, size_t n, pc_framing_t *out);

/* X-Request-Id we keep: 8..128 of [A-Za-z0-9._:-]. */
bool pc_request_id_ok(const char *s);
/* W3C traceparent, version 00 exactly 55 bytes; later versions may add
 * fields; all-zero ids and version ff are invalid. */
bool pc_traceparent_ok(const char *s);

/* The client behind trusted proxies: walks X-Forwarded-For from the right,
 * skipping entries for which trusted(ip) is true, and copies the first
 * other entry to out if it is a valid IP literal. Returns false (out
 * untouched) if there is none or an entry is malformed. */
bool pc_xff_client(const char *xff, bool (*trusted)(const char *ip, void *ctx), void *ctx,
                   char *out, size_t outlen);

#endif
