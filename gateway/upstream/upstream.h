/* gateway/upstream/upstream.h: the upstream HTTP/1.1 client of one worker thread.
 *
 * Non-blocking, driven by the worker's libev loop. Each target (an already
 * resolved address) has a LIFO pool of idle keep-alive connections. An
 * exchange sends one buffered request and streams the response back through
 * three callbacks, with flow control (on_body may pause reading).
 *
 * Threading: a pc_uclient_t and everything started from it belong to the
 * thread that runs its loop. Nothing here is thread-safe or needs to be.
 *
 * Lifecycle of an exchange, from the caller's point of view:
 *
 *   pc_ux_start ─► [on_head] ─► [on_body]* ─► on_done        (success)
 *   pc_ux_start ─► [on_head] ─► [on_body]* ─► on_done(err)   (failure, at any point)
 *   pc_ux_start ─► ... pc_ux_abort                           (no further callbacks)
 *
 * Guarantees:
 * - on_done runs exactly once per exchange unless the caller aborted it
 *   first, and it is the last callback. It never runs from inside
 *   pc_ux_start or pc_ux_resume: those only schedule work on the loop, so a
 *   caller never sees a callback before the call that started it returned.
 * - on_head runs at most once, before any on_body. A response that fails
 *   before its head completed gets on_done(err) without on_head.
 * - Callbacks of one exchange never nest inside callbacks of another.
 *
 * What may be called from inside a callback of exchange x:
 * - on_head / on_body: pc_ux_abort(x) (takes effect when the callback returns:
 *   no further callbacks), pc_ux_start, pc_ux_abort/pc_ux_resume of other
 *   exchanges.
 * - on_done: pc_ux_start (a new exchange to the same target reuses the
 *   connection just released), and anything on other exchanges. Not
 *   pc_ux_abort(x) or pc_ux_resume(x): x is finished.
 * - Never pc_uclient_free.
 */
#ifndef PC_UPSTREAM_H
#define PC_UPSTREAM_H

#include <ev.h>
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

/* opts may be NULL. The loop must outlive the client. Never NULL. */
pc_uclient_t *pc_uclient_new(struct ev_loop *loop, const pc_uclient_opts_t *opts);

/* Closes all pooled connections and frees the client. Every exchange must have
 * finished (on_done ran) or been aborted: that is asserted. */
void pc_uclient_free(pc_uclient_t *c);

/* Starts an exchange and returns at once; never NULL, never calls a callback
 * synchronously (errors such as an immediately refused connect are reported
 * by on_done from the loop). Copies method, target and headers; req->body is
 * referenced (see pc_ureq_t). t must stay valid until on_done ran or
 * pc_ux_abort returned. cb is copied; data is passed back untouched.
 * On a pooled connection the request is written right away. */
pc_ux_t *pc_ux_start(pc_uclient_t *c, const pc_utarget_t *t, const pc_ureq_t *req,
                     const pc_ucb_t *cb, void *data);

/* Continues after on_body returned 1. Only valid in that paused state (asserted).
 * Bytes already read are delivered from the loop, not from inside this call. */
void pc_ux_resume(pc_ux_t *x);

/* The caller gives up (client went away, gateway timeout): no more callbacks,
 * x is invalid once this returns (inside x's own on_head/on_body: once that
 * callback returns). The connection goes back to the pool only if the bytes
 * already read complete the response cleanly (e.g. abort while paused near
 * its end); otherwise it is closed, since more of the response may still
 * arrive on it. Nothing is read from the socket to find out. Not valid after
 * or inside on_done. */
void pc_ux_abort(pc_ux_t *x);

/* Idle pooled connections of a target (tests, metrics). */
unsigned pc_uclient_idle_count(const pc_uclient_t *c, unsigned target_id);

#endif
