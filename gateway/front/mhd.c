/* gateway/front/mhd.c: the libmicrohttpd side of a request: its state
 * machine, responses, timeout and the front-end ops of lifecycle/wait.h
 * (reading the head is gateway/front/head.c; the deadlines MHD does not
 * keep, head and stalled body, are gateway/front/deadline.c).
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in, once per body chunk, once at the end, and once more after
 * every resume. r->state says where we are. A response can only be queued
 * on the first call or on the final one, so anything decided while the
 * body streams in waits for the final call.
 */
#include "front/mhd.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/problem.h"
#include "base/util.h"
#include "conf/budget.h"
#include "front/connlimit.h"
#include "front/head.h"
#include "front/relay.h"
#include "http/hdr.h"
#include "http/path.h"
#include "lifecycle/chain.h"
#include "lifecycle/generation.h"
#include "lifecycle/request.h"
#include "lifecycle/wait.h"
#include "ops/accesslog.h"
#include "upstream/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---- responses ------------------------------------------------------------------ */

static void stop_timer(pc_request_t *r);

/* Applies plugin edits: a set or remove of a name drops what came before. */
static void apply_response_ops(pc_request_t *r, struct MHD_Response *resp)
{
    for (const pc_hdr_op_t *op = r->resp_ops.head; op; op = op->next) {
        if (op->kind != PC_HOP_ADD) {
            while (MHD_get_response_header(resp, op->name)) {
                const char *v = MHD_get_response_header(resp, op->name);
                MHD_del_response_header(resp, op->name, v);
            }
        }
        if (op->kind != PC_HOP_REMOVE && pc_hdr_value_ok(op->value, strlen(op->value)))
            MHD_add_response_header(resp, op->name, op->value);
    }
}

static void add_common_headers(pc_request_t *r, struct MHD_Response *resp)
{
    if (r->request_id)
        MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (r->worker->draining)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

static enum MHD_Result queue_local_response(pc_request_t *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->resp_body_len, (void *)r->resp_body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (r->resp_content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp_content_type);
    if (r->status == 405 && r->match.allowed) {
        char allow[128];
        pc_methods_format(r->match.allowed, allow, sizeof(allow));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    add_common_headers(r, resp);
    apply_response_ops(r, resp);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->response_queued = true;
    r->state = PC_RS_RESPONDED;
    stop_timer(r);
    return ret;
}

static enum MHD_Result queue_upstream_response(pc_request_t *r)
{
    struct MHD_Response *resp = pc_relay_response(r);
    if (!resp) {
        pc_request_fail(r, 502, "upstream.bad_response", NULL);
        return queue_local_response(r);
    }
    add_common_headers(r, resp);
    pc_chain_on_response(r);
    apply_response_ops(r, resp);
    enum MHD_Result ret = MHD_queue_response(r->conn, r->up_status, resp);
    MHD_destroy_response(resp);
    r->status = (int)r->up_status;
    r->response_queued = true;
    stop_timer(r);
    return ret;
}

/* ---- waiting: the front-end side of gateway/lifecycle/wait.h ---------------- */

static void front_suspend(pc_request_t *r)
{
    MHD_suspend_connection(r->conn);
}

static void front_resume(pc_request_t *r)
{
    /* MHD processes it on its next run, which the loop's prepare step
     * does before blocking. */
    MHD_resume_connection(r->conn);
}

/* End of stream or an error on a peek means the client is gone. */
static bool front_client_gone(pc_request_t *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char b;
    ssize_t n = ci ? recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) : 0;
    return !(n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)));
}

static const pc_front_ops_t mhd_front_ops = {
    .suspend = front_suspend,
    .resume = front_resume,
    .client_gone = front_client_gone,
};

static void client_gone(pc_request_t *r)
{
    if (r->state == PC_RS_UPSTREAM)
        pc_proxy_abort(r, 499, "client.closed");
    else
        pc_chain_abandon(r, "client gone");
    pc_wait_resume(r);
}

void pc_http_sweep_gone(pc_worker_t *w, uint64_t now_ns)
{
    pc_wait_sweep(w, now_ns, client_gone);
    for (size_t i = 0; i < w->ndaemons; i++)
        if (w->daemons[i].mhd)
            pc_idle_sweep(&w->daemons[i].idle, now_ns);
}

/* ---- request timeout -------------------------------------------------------------- */

static void request_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_request_t *r = t->data;
    r->timed_out = true;
    switch (r->state) {
    case PC_RS_HEADERS:
    case PC_RS_BODY_CHAIN:
        pc_chain_abandon(r, "request timeout");
        break;
    case PC_RS_UPSTREAM:
        pc_proxy_abort(r, 504, "request.timeout");
        pc_wait_resume(r);
        break;
    case PC_RS_BODY:
        pc_deadline_body_expired(r); /* MHD cannot answer mid-body */
        break;
    default:
        break;
    }
}

static void start_timer(pc_request_t *r, unsigned ms)
{
    ev_timer_init(&r->timer, request_timeout_cb, ms / 1000.0, 0.);
    r->timer.data = r;
    ev_timer_start(r->worker->loop, &r->timer);
    r->timer_armed = true;
}

static void stop_timer(pc_request_t *r)
{
    if (r->timer_armed) {
        ev_timer_stop(r->worker->loop, &r->timer);
        r->timer_armed = false;
    }
}

/* ---- the stages -------------------------------------------------------------------- */

/* MHD closes the connection when a response is queued before the body
 * phase. A request without a body loses nothing by waiting for the final
 * call, which comes right away, so its connection stays alive. */
static enum MHD_Result respond_now(pc_request_t *r)
{
    if (r->in_headers_phase && r->bodyless) {
        r->state = PC_RS_RESPONDED;
        return MHD_YES;
    }
    return queue_local_response(r);
}

static enum MHD_Result start_upstream(pc_request_t *r)
{
    if (!r->route->upstream) {
        pc_request_fail(r, 500, "route.no_upstream", NULL);
        return respond_now(r);
    }
    r->state = PC_RS_UPSTREAM;
    if (pc_proxy_start(r) != 0)
        return respond_now(r);
    if (!r->up_done && !r->response_set)
        pc_wait_park(r);
    return MHD_YES;
}

static enum MHD_Result after_body_chain(pc_request_t *r, pc_chain_result_t res)
{
    if (res == PC_CHAIN_SUSPENDED) {
        pc_wait_suspend(r);
        return MHD_YES;
    }
    if (res == PC_CHAIN_RESPONDED)
        return respond_now(r);
    return start_upstream(r);
}

static enum MHD_Result end_of_body(pc_request_t *r)
{
    if (r->body_too_large) {
        pc_request_fail(r, 413, "request.body_too_large", NULL);
        return respond_now(r);
    }
    if (!r->route->needs_body)
        return start_upstream(r);
    r->state = PC_RS_BODY_CHAIN;
    return after_body_chain(r, pc_chain_run(r, PC_PHASE_BODY));
}

static enum MHD_Result body_chunk(pc_request_t *r, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (r->timed_out)
        return MHD_NO; /* a client that trickles its body past the deadline */
    const size_t max = r->route->limits.max_body_bytes;
    if (r->body_too_large || r->body_len + n > max) {
        /* MHD 0.9.75 queues a response only on the first or the final
         * call, so the rest of the body is read and dropped (no copy) and
         * the 413 goes out at its end. Bounded by the request timeout,
         * like any slow body. */
        r->body_too_large = true;
        r->body_discarded += n;
        return MHD_YES;
    }
    if (r->body_len + n > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < r->body_len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        r->body = pc_arena_realloc(r->arena, r->body, r->body_cap, cap);
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    return MHD_YES;
}

static enum MHD_Result after_headers_chain(pc_request_t *r, pc_chain_result_t res)
{
    if (res == PC_CHAIN_SUSPENDED) {
        if (r->in_headers_phase && r->bodyless) {
            /* MHD makes its final call right away: wait there, parked. */
            r->final_wait = true;
            return MHD_YES;
        }
        pc_wait_suspend(r);
        return MHD_YES;
    }
    if (res == PC_CHAIN_RESPONDED)
        return respond_now(r);
    r->state = PC_RS_BODY;
    r->in_headers_phase = false;
    return MHD_YES; /* MHD calls again with the body, then with size 0 */
}

/* MHD's final call for a bodyless request whose headers chain waits (or
 * has just finished waiting). */
static enum MHD_Result headers_at_final_call(pc_request_t *r)
{
    r->in_headers_phase = false; /* a response now goes out at once */
    pc_chain_result_t res = r->async ? PC_CHAIN_SUSPENDED : pc_chain_resume(r, PC_PHASE_HEADERS);
    if (res == PC_CHAIN_SUSPENDED) {
        pc_wait_park(r);
        return MHD_YES;
    }
    if (res == PC_CHAIN_RESPONDED)
        return queue_local_response(r);
    r->state = PC_RS_BODY;
    return end_of_body(r);
}

static int route_request(pc_request_t *r)
{
    const pc_conf_t *c = r->conf;
    pc_router_match(c->router, r->host, r->host_len, r->path, r->path_len, r->method_bit,
                    &r->match);
    if (r->match.status == PC_ROUTE_NOT_FOUND)
        return pc_request_fail(r, 404, "route.not_found", NULL), -1;
    if (r->match.status == PC_ROUTE_METHOD_NOT_ALLOWED)
        return pc_request_fail(r, 405, "route.method_not_allowed", NULL), -1;
    r->route = r->match.route;
    return 0;
}

static enum MHD_Result first_call(pc_request_t *r, const char *method, const char *url,
                                  const char *version)
{
    bool malformed = false;
    size_t bytes = pc_head_read(r, method, version, &malformed);
    pc_deadline_head_done(r);
    start_timer(r, r->listener->limits.request_timeout_ms);
    if (pc_head_check_line(r, method, url, version) != 0)
        return respond_now(r);
    if (malformed) {
        pc_request_fail(r, 400, "request.malformed_header_block", NULL);
        return respond_now(r);
    }
    if (pc_head_check_limits(r, &r->listener->limits, bytes) != 0 ||
        pc_head_check_framing(r) != 0)
        return respond_now(r);
    r->in_headers_phase = true;
    r->bodyless = r->content_length <= 0 && !r->chunked;
    if (pc_head_canonicalize(r) != 0 || route_request(r) != 0 ||
        pc_head_check_route_path(r) != 0)
        return respond_now(r);
    const pc_limits_t *lim = &r->route->limits;
    if (pc_head_check_limits(r, lim, bytes) != 0)
        return respond_now(r);
    if (r->content_length > 0 && (uint64_t)r->content_length > lim->max_body_bytes) {
        pc_request_fail(r, 413, "request.body_too_large", NULL);
        return respond_now(r);
    }
    if (lim->request_timeout_ms != r->listener->limits.request_timeout_ms) {
        stop_timer(r);
        start_timer(r, lim->request_timeout_ms);
    }
    r->state = PC_RS_HEADERS;
    return after_headers_chain(r, pc_chain_run(r, PC_PHASE_HEADERS));
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_size, void **req_cls)
{
    pc_request_t *r = *req_cls;
    if (!r)
        return MHD_NO;
    r->conn = conn;
    if (r->answered_raw)
        return MHD_NO; /* a deadline answered: nothing more may start */
    if (r->response_queued)
        return MHD_YES;
    if (r->parked) {
        pc_wait_look(r); /* still waiting */
        return MHD_YES;
    }
    switch (r->state) {
    case PC_RS_NEW:
        return first_call(r, method, url, version);
    case PC_RS_HEADERS:
        if (r->final_wait)
            return headers_at_final_call(r);
        return after_headers_chain(r, pc_chain_resume(r, PC_PHASE_HEADERS));
    case PC_RS_BODY:
        if (*upload_size)
            return body_chunk(r, upload_data, upload_size);
        return end_of_body(r);
    case PC_RS_BODY_CHAIN:
        return after_body_chain(r, pc_chain_resume(r, PC_PHASE_BODY));
    case PC_RS_UPSTREAM:
        if (r->response_set)
            return respond_now(r);
        if (!r->up_head_seen) {
            pc_wait_suspend(r); /* spurious wake-up: keep waiting */
            return MHD_YES;
        }
        r->state = PC_RS_STREAMING;
        return queue_upstream_response(r);
    case PC_RS_STREAMING:
    case PC_RS_RESPONDED:
        if (r->response_set)
            return queue_local_response(r);
        return MHD_YES;
    }
    return MHD_NO;
}

/* ---- request start and end ---------------------------------------------------------- */

/* MHD's socket context of a connection: the records of the two modules that
 * follow a connection across its requests. */
typedef struct mhd_conn {
    pc_idle_conn_t *idle;          /* gateway/front/idle.c */
    pc_fconn_t *deadline;          /* gateway/front/deadline.c: the head deadline */
} mhd_conn_t;

static mhd_conn_t *mhd_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    pc_daemon_t *d = cls;
    pc_worker_t *w = d->worker;
    mhd_conn_t *x = mhd_conn_of(conn);
    pc_fconn_t *fc = x && !pc_deadline_expired(x->deadline) ? x->deadline : NULL;
    if (!fc)
        return NULL; /* the head deadline passed and was answered */
    pc_request_t *r = pc_request_new(w);
    pc_deadline_request_start(fc, r);
    r->gen = pc_wgen_acquire(w);
    r->conf = r->gen->conf;
    r->listener = &r->conf->listeners[d->listener_index];
    r->conn = conn;
    r->wq = &d->wq;
    r->raw_uri_len = strlen(uri);
    r->raw_uri = pc_arena_strndup(r->arena, uri, r->raw_uri_len);
    pc_idle_busy(x->idle);
    w->live_requests++;
    pc_counter_add(&w->metrics.requests_active, 1);
    return r;
}

static void write_access_log(pc_request_t *r, uint64_t now_ns)
{
    const pc_access_rec_t rec = {
        .request_id = r->request_id,
        .client = r->client_ip,
        .method = r->method,
        .path = r->path ? r->path : r->raw_uri,
        .route = r->route ? r->route->name : NULL,
        .status = r->status,
        .bytes = r->response_queued ? r->bytes_out : 0,
        .upstream = r->target ? r->target->authority : NULL,
        .upstream_ns = r->upstream_end_ns > r->upstream_start_ns
                           ? r->upstream_end_ns - r->upstream_start_ns
                           : 0,
        .total_ns = now_ns - r->start_ns,
        .reason = r->reason,
    };
    if (!pc_accesslog_write(pc_access_log, r->worker->id, &rec))
        pc_counter_add(&r->worker->metrics.access_log_dropped, 1);
}

/* What MHD's finished request used of the stream, for gateway/front/idle.c:
 * the head (counted by MHD) and a Content-Length body; a chunked one is
 * unknown (-1). */
static void note_idle(pc_daemon_t *d, struct MHD_Connection *conn, pc_request_t *r,
                      uint64_t now)
{
    int64_t body = r->state == PC_RS_NEW || r->chunked ? -1
                   : r->content_length > 0            ? (int64_t)r->content_length
                                                      : 0;
    mhd_conn_t *x = mhd_conn_of(conn);
    pc_idle_done(&d->idle, x ? x->idle : NULL, body, now);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    pc_request_t *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    if (r->parked) {
        pc_wait_unpark(r); /* MHD ended it: the client left, or a timeout */
        pc_chain_abandon(r, "client gone");
    }
    stop_timer(r);
    pc_proxy_finish(r);
    if (r->answered_raw) {
        /* a deadline answered 408 itself: status and reason are set */
    } else if (!r->response_queued) {
        /* MHD refused the request itself, or the client went away. */
        r->status = r->state == PC_RS_NEW ? 400 : 499;
        if (!r->reason)
            r->reason = r->state == PC_RS_NEW ? "request.malformed" : "client.closed";
    } else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->reason) {
        r->reason = "client.closed";
    }
    pc_deadline_request_end(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    pc_chain_on_log(r);
    uint64_t now = pc_clock_mono_ns();
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        note_idle(cls, conn, r, now);
    if (pc_access_log)
        write_access_log(r, now);
    pc_metrics_request(&r->worker->metrics, r->route ? r->route->metrics_id : 0, r->status,
                       (now - r->start_ns) / 1000);
    pc_request_completed(r);
    pc_request_unref(r);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
    pc_daemon_t *d = cls;
    pc_metrics_t *m = &d->worker->metrics;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        bool readd;
        mhd_conn_t *x = pc_xcalloc(1, sizeof(*x));
        x->idle = pc_idle_conn_start(&d->idle, conn, &readd);
        /* a socket coming back from idle.c gets a fresh head deadline too:
         * bytes trickled after a silence are a slow head like any other */
        x->deadline = pc_deadline_conn_open(&d->deadlines, conn);
        *socket_ctx = x;
        if (readd)
            return; /* one of ours coming back (gateway/front/idle.c): counted */
        pc_counter_add(&m->connections_active, 1);
        pc_counter_add(&m->connections_total, 1);
    } else {
        mhd_conn_t *x = *socket_ctx;
        *socket_ctx = NULL;
        bool held = false;
        if (x) {
            pc_deadline_conn_close(&d->deadlines, x->deadline);
            held = pc_idle_conn_closed(&d->idle, x->idle);
            free(x);
        }
        if (held)
            return; /* its socket lives on, held by gateway/front/idle.c */
        pc_counter_sub(&m->connections_active, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        pc_connlimit_release(d->max_conn_per_ip, ci ? ci->client_addr : NULL);
    }
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    pc_daemon_t *d = cls;
    bool readd;
    if (!pc_idle_accept(&d->idle, &readd))
        return MHD_NO;
    if (readd)
        return MHD_YES; /* counted when it first came */
    return pc_connlimit_acquire(d->max_conn_per_ip, addr) == 0 ? MHD_YES : MHD_NO;
}

/* The raw target is what we canonicalise: MHD must not decode it first. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    if (pc_log_level >= PC_LOG_DEBUG) {
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        pc_log_write(PC_LOG_DEBUG, "libmicrohttpd: %s", buf);
    }
}

struct MHD_Daemon *pc_http_daemon_start(pc_daemon_t *d, int listen_fd,
                                        const pc_listener_conf_t *l)
{
    /* MHD zeroes its per-connection pool between requests: keep it just big
     * enough that our own limits (431/414, as problem+json) trip first for
     * heads near them; idle connections give it back (gateway/front/idle.h).
     * Not bigger: MHD 0.9.75 maps a pool over 32 KiB with mmap, so every
     * connection would pay an mmap and a munmap (seen with strace -c). A
     * head far beyond the limits gets MHD's own HTML answer
     * (docs/architecture.md, "Errors the gateway cannot word"). */
    size_t mem = pc_budget_pool_bytes(&l->limits);
    unsigned idle_s = (l->limits.client_idle_timeout_ms + 999) / 1000;
    d->worker->front = &mhd_front_ops;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
                     MHD_USE_ERROR_LOG;
    return MHD_start_daemon(
        flags, 0, on_accept, d, on_access, d, MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, d, MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, d, MHD_OPTION_UNESCAPE_CALLBACK,
        no_unescape, NULL, MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
        MHD_OPTION_CONNECTION_LIMIT, l->max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        mem, MHD_OPTION_STRICT_FOR_CLIENT, 0 /* see canonicalize() and check_framing() */,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_END);
}
