/* gateway/front/deadline.c: the head and body deadlines that libmicrohttpd
 * does not keep (see front/deadline.h for why a 408 goes out on the socket
 * itself). A slow client is cut at the deadline whether or not it keeps
 * sending, and it is logged and counted as a timeout, never as an abort. */
#include "front/deadline.h"
#include "base/problem.h"
#include "base/util.h"
#include "front/head.h"
#include "ops/accesslog.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct pc_fconn {
    ev_timer timer;                /* the head deadline */
    pc_deadlines_t *d;
    struct MHD_Connection *conn;
    pc_request_t *req;             /* from its request line to its completion */
    pc_fconn_t *next_free;
    ev_tstamp since;               /* when the head deadline started */
    bool expired;                  /* answered: no request may start */
};

/* ---- the answer ----------------------------------------------------------------- */

/* Writes a whole 408 problem+json and shuts the socket down both ways.
 * MHD has sent nothing of a response on conn (its head or body is still
 * being read), and it closes the connection when it reads end of stream.
 * Returns the body length. Timeout path only. */
static size_t answer_408(struct MHD_Connection *conn, const char *reason, const char *id)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return 0;
    char body[768], head[256];
    size_t blen = pc_problem_render(body, sizeof(body), 408, reason, NULL, id);
    int hlen = snprintf(head, sizeof(head),
                        "HTTP/1.1 408 Request Timeout\r\n"
                        "Content-Type: application/problem+json\r\n"
                        "Content-Length: %zu\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n",
                        blen, id);
    struct iovec iov[2] = {{head, (size_t)hlen}, {body, blen}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    /* A fresh reply on a socket whose send buffer MHD left empty: one call
     * is enough, and a client that no longer reads loses nothing it wanted. */
    (void)sendmsg(ci->connect_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(ci->connect_fd, SHUT_RDWR);
    return blen;
}

static void count(pc_worker_t *w, int phase)
{
    pc_counter_add(&w->metrics.timeouts[phase], 1);
}

/* ---- the head deadline ------------------------------------------------------------ */

/* No request line yet: nothing else will log this connection's end. */
static void log_headless(pc_fconn_t *c, const char *id, size_t bytes)
{
    pc_worker_t *w = c->d->worker;
    uint64_t ns = (uint64_t)((ev_now(w->loop) - c->since) * 1e9);
    char ip[64];
    pc_head_peer_ip(c->conn, ip, sizeof(ip));
    const pc_access_rec_t rec = {
        .request_id = id,
        .client = ip,
        .status = 408,
        .bytes = bytes,
        .total_ns = ns,
        .reason = "request.header_timeout",
    };
    if (pc_access_log && !pc_accesslog_write(pc_access_log, w->id, &rec))
        pc_counter_add(&w->metrics.access_log_dropped, 1);
    pc_metrics_request(&w->metrics, 0, 408, ns / 1000);
}

static void head_expired(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_fconn_t *c = t->data;
    pc_worker_t *w = c->d->worker;
    c->expired = true;
    count(w, PC_TIMEOUT_HEADER);
    pc_request_t *r = c->req;
    if (!r) {
        char id[33];
        pc_head_new_id(&w->rng, id);
        log_headless(c, id, answer_408(c->conn, "request.header_timeout", id));
        return;
    }
    /* The request line is in, the header block is not: on_completed logs. */
    if (!r->request_id) {
        char *id = pc_arena_alloc(r->arena, 33);
        pc_head_new_id(&w->rng, id);
        r->request_id = id;
    }
    pc_head_peer_ip(c->conn, r->client_ip, sizeof(r->client_ip));
    r->status = 408;
    r->reason = "request.header_timeout";
    r->answered_raw = true;
    r->bytes_out = answer_408(c->conn, r->reason, r->request_id);
}

static void head_arm(pc_fconn_t *c)
{
    struct ev_loop *loop = c->d->worker->loop;
    c->since = ev_now(loop);
    ev_timer_set(&c->timer, c->d->header_timeout_ms / 1000.0, 0.);
    ev_timer_start(loop, &c->timer);
}

pc_fconn_t *pc_deadline_conn_open(pc_deadlines_t *d, struct MHD_Connection *conn)
{
    pc_fconn_t *c = d->free_conns;
    if (c)
        d->free_conns = c->next_free;
    else
        c = pc_xmalloc(sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->conn = conn;
    ev_init(&c->timer, head_expired);
    c->timer.data = c;
    head_arm(c);
    return c;
}

void pc_deadline_conn_close(pc_deadlines_t *d, pc_fconn_t *c)
{
    if (!c)
        return;
    ev_timer_stop(d->worker->loop, &c->timer);
    if (c->req)
        c->req->fconn = NULL;
    c->next_free = d->free_conns;
    d->free_conns = c;
}

void pc_deadline_free_all(pc_deadlines_t *d)
{
    while (d->free_conns) {
        pc_fconn_t *c = d->free_conns;
        d->free_conns = c->next_free;
        free(c);
    }
}

bool pc_deadline_expired(const pc_fconn_t *c)
{
    return !c || c->expired;
}

void pc_deadline_request_start(pc_fconn_t *c, pc_request_t *r)
{
    c->req = r;
    r->fconn = c;
}

void pc_deadline_head_done(pc_request_t *r)
{
    if (r->fconn)
        ev_timer_stop(r->worker->loop, &r->fconn->timer);
}

void pc_deadline_request_end(pc_request_t *r, bool ok)
{
    pc_fconn_t *c = r->fconn;
    if (!c)
        return;
    c->req = NULL;
    r->fconn = NULL;
    ev_timer_stop(r->worker->loop, &c->timer);
    if (ok && !r->answered_raw)
        head_arm(c); /* kept alive: the next head is due within the deadline */
}

/* ---- the body deadline ------------------------------------------------------------ */

void pc_deadline_body_expired(pc_request_t *r)
{
    count(r->worker, PC_TIMEOUT_BODY);
    r->status = 408;
    r->reason = "request.timeout";
    r->answered_raw = true;
    r->bytes_out = answer_408(r->conn, r->reason, r->request_id);
}
