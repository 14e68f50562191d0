/* gateway/upstream/upstream.c: the non-blocking HTTP/1.1 client of a worker
 * (contract in upstream.h): exchanges, from start to on_done, on the
 * worker's libev loop. Connections and their keep-alive pools are pool.c,
 * the response parser response.c.
 *
 * Hot path (small request on a pooled connection): one sendmsg() from
 * pc_ux_start, one read() when the response arrives, no epoll_ctl: EV_READ
 * stays armed on a connection from the moment it is established until it is
 * closed (pool.h), and EV_WRITE is armed only after a write returned
 * EAGAIN. Exchanges and connections come from per-client free lists that
 * keep their buffers, so a warm client does not call malloc. Timers are
 * lazy: progress only stores ev_now() and the timer callback re-arms itself
 * for the remainder, so a read does not touch the timer heap.
 */
#include "upstream/upstream.h"
#include "upstream/exchange_state.h"
#include "upstream/pool.h"
#include "upstream/response.h"

#include "base/util.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define UC_DEF_MAX_IDLE 64u
#define UC_DEF_IDLE_MS 60000u
#define UC_DEF_READ_BUF 16384u
#define UC_DEF_MAX_HEAD 65536u
/* Free-list cap: a spike of concurrency should not pin its memory forever. */
#define UC_FREE_X_MAX 256u
/* Reads per readiness event while the buffer keeps filling up: bounded so one
 * fast upstream cannot starve the other watchers of the loop. */
#define UC_READS_PER_EVENT 8
#define UC_HEAD_BUF_KEEP 8192u /* larger head buffers are freed on recycle */

struct pc_uclient {
    struct ev_loop *loop;
    pc_uclient_opts_t o;
    pc_upool_t pool;
    pc_ux_t *free_x;
    unsigned nfree_x;
    unsigned nactive; /* started and not yet released exchanges */
};

static const char *const uc_errstr[] = {
    [PC_UX_OK] = "ok",
    [PC_UX_ECONNECT] = "upstream connect failed",
    [PC_UX_ECONNECT_TIMEOUT] = "upstream connect timeout",
    [PC_UX_ETIMEOUT] = "upstream response timeout",
    [PC_UX_ERESET] = "upstream connection closed",
    [PC_UX_EPROTO] = "upstream protocol error",
};

const char *pc_uerr_str(pc_uerr_t e)
{
    if ((unsigned)e >= PC_ARRAY_LEN(uc_errstr))
        return "unknown upstream error";
    return uc_errstr[e];
}

static void ux_finish(pc_ux_t *x, pc_uerr_t err);
static void ux_start_io(pc_ux_t *x);
static pc_uerr_t ux_connect(pc_ux_t *x);

/* ------------------------------------------------------------ exchanges */

static void ux_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void ux_defer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static pc_ux_t *ux_alloc(pc_uclient_t *c)
{
    pc_ux_t *x = c->free_x;
    if (x) {
        c->free_x = x->next_free;
        c->nfree_x--;
        return x;
    }
    x = pc_xcalloc(1, sizeof(*x));
    x->c = c;
    ev_init(&x->timer, ux_timer_cb);
    x->timer.data = x;
    ev_init(&x->defer, ux_defer_cb);
    x->defer.data = x;
    return x;
}

static void ux_free_bufs(pc_ux_t *x)
{
    free(x->wbuf);
    free(x->rbuf);
    free(x->hbuf);
    free(x->spans);
    free(x->hdrs);
}

/* Keeps the buffers for the next exchange, except a head buffer that a huge
 * response grew. */
static void ux_recycle(pc_uclient_t *c, pc_ux_t *x)
{
    c->nactive--;
    if (c->nfree_x >= UC_FREE_X_MAX) {
        ux_free_bufs(x);
        free(x);
        return;
    }
    if (x->hcap > UC_HEAD_BUF_KEEP) {
        free(x->hbuf);
        x->hbuf = NULL;
        x->hcap = 0;
    }
    x->next_free = c->free_x;
    c->free_x = x;
    c->nfree_x++;
}

static void ux_timer_stop(pc_ux_t *x)
{
    ev_timer_stop(x->c->loop, &x->timer);
    x->tphase = UC_T_NONE;
}

static void ux_timer_start(pc_ux_t *x, enum uc_tphase ph, unsigned ms)
{
    ev_timer_stop(x->c->loop, &x->timer);
    x->tphase = ph;
    if (!ms)
        return;
    ev_timer_set(&x->timer, ms / 1000.0, 0);
    ev_timer_start(x->c->loop, &x->timer);
}

static void ux_defer(pc_ux_t *x, enum uc_defer op, pc_uerr_t err)
{
    x->defer_op = op;
    x->defer_err = err;
    ev_timer_set(&x->defer, 0., 0.);
    ev_timer_start(x->c->loop, &x->defer);
}

/* Parser and read state for a (re)sent request; the serialized request stays. */
static void ux_reset_response(pc_ux_t *x)
{
    pc_uresp_reset(x);
    x->wdone = x->wfailed = 0;
    x->iov[0].iov_base = x->wbuf;
    x->iov[0].iov_len = x->wlen;
    x->iov[1].iov_base = (void *)x->body;
    x->iov[1].iov_len = x->body_len;
    x->iovn = x->body_len ? 2 : 1;
    x->iovi = 0;
}

static int ux_reusable(const pc_ux_t *x)
{
    return x->msg_done && x->keep_alive && x->wdone && !x->wfailed && !x->eof &&
           x->rpos == x->rlen;
}

/* Releases the connection and the exchange. The connection goes back to the
 * pool before on_done, so an exchange started from on_done reuses it. */
static void ux_finish(pc_ux_t *x, pc_uerr_t err)
{
    pc_uclient_t *c = x->c;
    ux_timer_stop(x);
    ev_timer_stop(c->loop, &x->defer);
    x->defer_op = UC_D_NONE;
    if (x->conn) {
        pc_uconn_t *k = x->conn;
        x->conn = NULL;
        pc_upool_release(&c->pool, k, ux_reusable(x));
    }
    if (!x->aborted) {
        x->done = 1;
        x->cb.on_done(x->data, err);
    }
    ux_recycle(c, x);
}

/* ------------------------------------------------------------- request */

static size_t uc_utoa(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

static char *uc_put(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return d + n;
}

/* "METHOD target HTTP/1.1\r\n" headers [Content-Length] "\r\n" into x->wbuf.
 * One copy of the head lets a single sendmsg() carry head and body. */
static void ux_serialize(pc_ux_t *x, const pc_ureq_t *r)
{
    static const char cl[] = "Content-Length: ";
    size_t mlen = strlen(r->method);
    size_t need = mlen + 1 + r->target_len + sizeof(" HTTP/1.1\r\n") - 1 + 2;
    for (size_t i = 0; i < r->nheaders; i++)
        need += r->headers[i].name_len + 2 + r->headers[i].value_len + 2;
    if (r->has_body)
        need += sizeof(cl) - 1 + 20 + 2;
    if (need > x->wcap) {
        free(x->wbuf);
        x->wcap = need < 512 ? 512 : need;
        x->wbuf = pc_xmalloc(x->wcap);
    }
    char *d = x->wbuf;
    d = uc_put(d, r->method, mlen);
    *d++ = ' ';
    d = uc_put(d, r->target, r->target_len);
    d = uc_put(d, " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < r->nheaders; i++) {
        const pc_uhdr_t *h = &r->headers[i];
        d = uc_put(d, h->name, h->name_len);
        d = uc_put(d, ": ", 2);
        d = uc_put(d, h->value, h->value_len);
        d = uc_put(d, "\r\n", 2);
    }
    if (r->has_body) {
        d = uc_put(d, cl, sizeof(cl) - 1);
        d += uc_utoa(d, r->body_len);
        d = uc_put(d, "\r\n", 2);
    }
    d = uc_put(d, "\r\n", 2);
    x->wlen = (size_t)(d - x->wbuf);
}

/* 0: all written, 1: EAGAIN, -1: failed. sendmsg rather than writev only for
 * MSG_NOSIGNAL: a library must not depend on SIGPIPE being ignored. */
static int ux_write(pc_ux_t *x)
{
    while (x->iovi < x->iovn) {
        struct msghdr m = { 0 };
        m.msg_iov = x->iov + x->iovi;
        m.msg_iovlen = (size_t)(x->iovn - x->iovi);
        ssize_t n = sendmsg(x->conn->fd, &m, MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            x->wfailed = 1;
            return -1;
        }
        size_t left = (size_t)n;
        while (x->iovi < x->iovn && left >= x->iov[x->iovi].iov_len)
            left -= x->iov[x->iovi++].iov_len;
        if (left) {
            x->iov[x->iovi].iov_base = (char *)x->iov[x->iovi].iov_base + left;
            x->iov[x->iovi].iov_len -= left;
        }
        x->last_act = ev_now(x->c->loop);
    }
    x->wdone = 1;
    return 0;
}

/* Writes what it can and keeps EV_READ armed throughout, so an early
 * response (say a 413 before the body was sent) is read while writing. A
 * write error is not final: the upstream may have answered and closed, so
 * the read side (EOF, reset, or a response) decides. */
static void ux_write_step(pc_ux_t *x)
{
    int r = ux_write(x);
    pc_uconn_want(x->conn, r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/* ------------------------------------------------------------- reading */

/* Runs the parser over what was read; finishes the exchange when it ends. */
static enum uc_pr ux_parse(pc_ux_t *x)
{
    pc_uerr_t err = PC_UX_OK;
    enum uc_pr r = pc_uresp_parse(x, x->c->o.max_head_bytes, &err);
    if (r == UC_GONE)
        ux_finish(x, err);
    return r;
}

static int ux_may_retry(const pc_ux_t *x)
{
    return x->retry_ok && !x->retried && x->conn->reused && x->rx_bytes == 0;
}

/* A pooled connection died before answering: send again on a fresh one. No
 * callback has run (no response byte), so the caller cannot tell. */
static void ux_retry(pc_ux_t *x)
{
    pc_uclient_t *c = x->c;
    pc_uconn_t *k = x->conn;
    x->conn = NULL;
    pc_upool_release(&c->pool, k, 0);
    x->retried = 1;
    ux_reset_response(x);
    pc_uerr_t err = ux_connect(x);
    if (err != PC_UX_OK)
        ux_finish(x, err);
}

/* The upstream closed (or reset) its side. A read-until-close body ends here;
 * anything else unfinished is a reset. */
static void ux_on_eof(pc_ux_t *x, int reset)
{
    x->eof = 1;
    if (ux_may_retry(x)) {
        ux_retry(x);
        return;
    }
    if (!reset && x->rx_bytes) {
        pc_uresp_execute(x, NULL, 0);
        if (x->msg_done) {
            ux_finish(x, PC_UX_OK);
            return;
        }
    }
    ux_finish(x, PC_UX_ERESET);
}

/* One read() per event unless the buffer came back full (more is likely
 * queued): saves the EAGAIN round trip for small responses. */
static void ux_read(pc_ux_t *x)
{
    size_t cap = x->c->o.read_buf;
    PC_ASSERT(x->rpos == x->rlen && !x->paused);
    if (!x->rbuf)
        x->rbuf = pc_xmalloc(cap);
    for (int i = 0; i < UC_READS_PER_EVENT; i++) {
        ssize_t n = read(x->conn->fd, x->rbuf, cap);
        if (n > 0) {
            x->rpos = 0;
            x->rlen = (size_t)n;
            x->rx_bytes += (uint64_t)n;
            x->last_act = ev_now(x->c->loop);
            enum uc_pr r = ux_parse(x);
            if (r == UC_PAUSED) {
                pc_uconn_want(x->conn, 0);
                ux_timer_stop(x);
            }
            if (r != UC_MORE || (size_t)n < cap)
                return;
            continue;
        }
        if (n == 0) {
            ux_on_eof(x, 0);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            ux_on_eof(x, 1);
        return;
    }
}

/* ----------------------------------------------------------- connecting */

static void ux_connected(pc_ux_t *x)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(x->conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
        ux_finish(x, PC_UX_ECONNECT);
        return;
    }
    x->conn->connecting = 0;
    ux_start_io(x);
}

/* Opens a fresh connection for x. Returns PC_UX_ECONNECT if that failed at
 * once; the caller reports it (deferred when called from pc_ux_start). */
static pc_uerr_t ux_connect(pc_ux_t *x)
{
    pc_uclient_t *c = x->c;
    pc_uconn_t *k;
    int in_progress;
    if (pc_upool_open(&c->pool, x->t->id, &x->t->addr, x->t->addrlen, &k, &in_progress) == -1)
        return PC_UX_ECONNECT;
    k->x = x;
    x->conn = k;
    if (!in_progress) {
        ux_start_io(x);
        return PC_UX_OK;
    }
    pc_uconn_want(k, EV_WRITE);
    ux_timer_start(x, UC_T_CONNECT, x->connect_ms);
    return PC_UX_OK;
}

/* Connected (fresh or pooled): write at once, arm the response timeout. */
static void ux_start_io(pc_ux_t *x)
{
    x->last_act = ev_now(x->c->loop);
    ux_timer_start(x, UC_T_RESPONSE, x->response_ms);
    ux_write_step(x);
}

/* ------------------------------------------------------------ callbacks */

/* Readiness of the connection x holds (pool.c calls it). */
static void ux_io(pc_ux_t *x, pc_uconn_t *k, int revents)
{
    if (k->connecting) {
        ux_connected(x);
        return;
    }
    if ((revents & EV_WRITE) && !x->wdone && !x->wfailed)
        ux_write_step(x);
    if (revents & EV_READ)
        ux_read(x);
}

static void ux_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    PC_UNUSED(revents);
    pc_ux_t *x = w->data;
    if (x->tphase == UC_T_CONNECT) {
        ux_finish(x, PC_UX_ECONNECT_TIMEOUT);
        return;
    }
    /* Lazy idle-gap timer: progress only moved last_act. */
    ev_tstamp left = x->last_act + x->response_ms / 1000.0 - ev_now(loop);
    if (left > 0.0005) {
        ev_timer_set(w, left, 0);
        ev_timer_start(loop, w);
        return;
    }
    ux_finish(x, PC_UX_ETIMEOUT);
}

/* Continue after a pause: parse the bytes kept back, then read again. */
static void ux_resume_now(pc_ux_t *x)
{
    if (ux_parse(x) != UC_MORE)
        return;
    pc_uconn_want(x->conn, x->wdone || x->wfailed ? EV_READ : EV_READ | EV_WRITE);
    x->last_act = ev_now(x->c->loop);
    ux_timer_start(x, UC_T_RESPONSE, x->response_ms);
}

static void ux_defer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    PC_UNUSED(loop);
    PC_UNUSED(revents);
    pc_ux_t *x = w->data;
    enum uc_defer op = x->defer_op;
    x->defer_op = UC_D_NONE;
    if (op == UC_D_FAIL)
        ux_finish(x, x->defer_err);
    else if (op == UC_D_RESUME)
        ux_resume_now(x);
}

/* ----------------------------------------------------------------- API */

pc_uclient_t *pc_uclient_new(struct ev_loop *loop, const pc_uclient_opts_t *opts)
{
    pc_uclient_t *c = pc_xcalloc(1, sizeof(*c));
    c->loop = loop;
    if (opts)
        c->o = *opts;
    if (!c->o.max_idle_per_target)
        c->o.max_idle_per_target = UC_DEF_MAX_IDLE;
    if (!c->o.idle_timeout_ms)
        c->o.idle_timeout_ms = UC_DEF_IDLE_MS;
    if (!c->o.read_buf)
        c->o.read_buf = UC_DEF_READ_BUF;
    if (!c->o.max_head_bytes)
        c->o.max_head_bytes = UC_DEF_MAX_HEAD;
    pc_upool_init(&c->pool, loop, c->o.max_idle_per_target, c->o.idle_timeout_ms, ux_io);
    return c;
}

void pc_uclient_free(pc_uclient_t *c)
{
    if (!c)
        return;
    PC_ASSERT(c->nactive == 0);
    pc_upool_fini(&c->pool);
    while (c->free_x) {
        pc_ux_t *x = c->free_x;
        c->free_x = x->next_free;
        ux_free_bufs(x);
        free(x);
    }
    free(c);
}

pc_ux_t *pc_ux_start(pc_uclient_t *c, const pc_utarget_t *t, const pc_ureq_t *req,
                     const pc_ucb_t *cb, void *data)
{
    PC_ASSERT(cb && cb->on_done && req && req->method && t);
    PC_ASSERT(req->body || req->body_len == 0);
    PC_ASSERT(t->addrlen <= sizeof(t->addr));
    pc_ux_t *x = ux_alloc(c);
    c->nactive++;
    x->conn = NULL;
    x->t = t;
    x->cb = *cb;
    x->data = data;
    x->connect_ms = req->connect_timeout_ms;
    x->response_ms = req->response_timeout_ms;
    x->tphase = UC_T_NONE;
    x->defer_op = UC_D_NONE;
    x->body = req->body;
    x->body_len = req->body_len;
    x->is_head = strcmp(req->method, "HEAD") == 0;
    x->retry_ok = req->retry_on_stale ? 1 : 0;
    x->retried = x->aborted = x->done = x->busy = 0;
    ux_serialize(x, req);
    ux_reset_response(x);

    pc_uconn_t *k = pc_upool_take(&c->pool, t->id, &t->addr, t->addrlen);
    if (k) {
        k->x = x;
        k->reused = 1;
        x->conn = k;
        ux_start_io(x);
        return x;
    }
    pc_uerr_t err = ux_connect(x);
    if (err != PC_UX_OK)
        ux_defer(x, UC_D_FAIL, err);
    return x;
}

void pc_ux_resume(pc_ux_t *x)
{
    PC_ASSERT(x->paused && !x->busy && !x->aborted && !x->done);
    x->paused = 0;
    http_parser_pause(&x->parser, 0);
    if (x->rpos < x->rlen) {
        ux_defer(x, UC_D_RESUME, PC_UX_OK); /* callbacks only from the loop */
        return;
    }
    pc_uconn_want(x->conn, x->wdone || x->wfailed ? EV_READ : EV_READ | EV_WRITE);
    x->last_act = ev_now(x->c->loop);
    ux_timer_start(x, UC_T_RESPONSE, x->response_ms);
}

void pc_ux_abort(pc_ux_t *x)
{
    PC_ASSERT(!x->done && !x->aborted);
    x->aborted = 1;
    if (x->busy)
        return; /* ux_parse finishes it when the parser returns */
    if (x->conn && x->head_done && !x->msg_done) {
        /* Paused with bytes in hand: they may complete the response. */
        x->paused = 0;
        http_parser_pause(&x->parser, 0);
        if (ux_parse(x) == UC_GONE)
            return;
    }
    ux_finish(x, PC_UX_ERESET);
}

unsigned pc_uclient_idle_count(const pc_uclient_t *c, unsigned target_id)
{
    return pc_upool_idle_count(&c->pool, target_id);
}
