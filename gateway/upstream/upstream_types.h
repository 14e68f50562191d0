/* gateway/upstream/upstream_types.h: the types of the upstream client's API
 * (upstream.h), apart from its functions, so that the client's private
 * headers can use them without an include cycle (HAProxy's -t.h split). */
#ifndef PC_UPSTREAM_TYPES_H
#define PC_UPSTREAM_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct pc_uclient pc_uclient_t; /* one per worker thread; never shared */
typedef struct pc_ux pc_ux_t;           /* one request/response exchange */

typedef struct pc_uhdr {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} pc_uhdr_t;

typedef struct pc_utarget { /* immutable, owned by the config */
    unsigned id; /* stable small integer (< 65536): index of this target's pool */
    struct sockaddr_storage addr; /* already resolved, IPv4 or IPv6 */
    socklen_t addrlen;
} pc_utarget_t;

/* Zero (or a NULL opts pointer) selects the default of a field. */
typedef struct pc_uclient_opts {
    unsigned max_idle_per_target; /* idle keep-alive conns kept per target, default 64 */
    unsigned idle_timeout_ms;     /* pooled conn lifetime when idle, default 60000 */
    size_t read_buf;              /* bytes per read(); one buffer per active exchange, default 16384 */
    size_t max_head_bytes;        /* response head limit incl. any 1xx heads, default 65536
                                   * (http_parser also enforces its own 80 KiB per head) */
} pc_uclient_opts_t;

typedef struct pc_ureq {
    const char *method;          /* "GET" etc.; CONNECT and Upgrade are not supported */
    const char *target;          /* origin-form: path plus optional ?query */
    size_t target_len;
    /* Complete, already filtered by the caller, including Host; the client adds
     * only Content-Length (when has_body) and nothing else. The caller guarantees
     * that no name, value, method or target contains CR, LF or NUL. */
    const pc_uhdr_t *headers;
    size_t nheaders;
    /* Whole request body, already buffered. NOT copied: it must stay valid and
     * unchanged until on_done ran or pc_ux_abort returned (a stale-connection
     * retry sends it again). May be NULL when body_len is 0. */
    const char *body;
    size_t body_len;
    int has_body;                 /* send Content-Length: body_len (also when 0) */
    /* Timeouts count from ev_now(loop), the time cached at the start of the
     * loop iteration, like every libev timer: call ev_now_update() first if
     * starting after blocking outside the loop. */
    unsigned connect_timeout_ms;  /* new connections; 0 = none */
    /* Longest gap without progress once connected: while writing the request,
     * from request sent to response head, and between body reads. Paused time
     * (on_body returned 1) does not count. 0 = none. */
    unsigned response_timeout_ms;
    /* The request is idempotent: a reused keep-alive connection that fails
     * (EOF, reset) before any response byte arrived is retried once on a fresh
     * connection. Timeouts are never retried. */
    int retry_on_stale;
} pc_ureq_t;

typedef enum pc_uerr {
    PC_UX_OK = 0,
    PC_UX_ECONNECT,         /* connect() failed (refused, unreachable, ...) */
    PC_UX_ECONNECT_TIMEOUT, /* connect_timeout_ms elapsed */
    PC_UX_ETIMEOUT,         /* response_timeout_ms without progress */
    PC_UX_ERESET,           /* closed/reset before the response completed */
    PC_UX_EPROTO,           /* malformed or oversized response */
} pc_uerr_t;

/* Static string, e.g. "upstream connect timeout". */
const char *pc_uerr_str(pc_uerr_t e);

typedef struct pc_ucb {
    /* Response head: status >= 200 (1xx heads are skipped; 101 is EPROTO).
     * hdrs (in wire order, duplicates kept) are valid only during the call.
     * content_length is the number of body bytes that on_body will deliver:
     * 0 for HEAD, 204 and 304 (even if the head announces a length, which
     * stays visible in hdrs), the Content-Length for identity bodies, and -1
     * for chunked or read-until-close bodies. May be NULL. */
    void (*on_head)(void *data, unsigned status, const pc_uhdr_t *hdrs, size_t n,
                    int64_t content_length);
    /* Decoded body bytes (chunked is decoded, trailers are dropped), at most
     * read_buf per call, valid only during the call. Return 1 to pause
     * reading from the upstream until pc_ux_resume(), 0 to keep going.
     * May be NULL (body discarded). */
    int (*on_body)(void *data, const char *p, size_t len);
    /* Exactly once per exchange that was not aborted, last. PC_UX_OK means
     * the whole body was delivered. After it returns, x is invalid. Required. */
    void (*on_done)(void *data, pc_uerr_t err);
} pc_ucb_t;

#endif
