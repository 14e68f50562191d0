/* gateway/upstream/upstream.c: non-blocking HTTP/1.1 client with per-target
 * keep-alive pools, on the worker's libev loop.
 *
 * Hot path (small request on a pooled connection): one sendmsg() from
 * pc_ux_start, one read() when the response arrives, no epoll_ctl: EV_READ
 * stays armed on a connection from the moment it is established until it is
 * closed (idle connections need it to notice EOF anyway), and EV_WRITE is
 * armed only after a write returned EAGAIN. Exchanges and connections come
 * from per-client free lists that keep their buffers, so a warm client does
 * not call malloc. Timers are lazy: progress only stores ev_now() and the
 * timer callback re-arms itself for the remainder, so a read does not touch
 * the timer heap. Idle connections of all targets share one timer, because
 * they all have the same lifetime and sit on one list in age order.
 *
 * Ownership: a connection belongs either to its target's pool (k->x == NULL)
 * or to exactly one exchange (k->x == x, x->conn == k). An exchange owns its
 * buffers; they survive recycling.
 */
#include "upstream/upstream.h"

#include "base/util.h"

#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define UC_DEF_MAX_IDLE 64u
#define UC_DEF_IDLE_MS 60000u
#define UC_DEF_READ_BUF 16384u
#define UC_DEF_MAX_HEAD 65536u
/* Free-list caps: a spike of concurrency should not pin its memory forever. */
#define UC_FREE_X_MAX 256u
#define UC_FREE_C_MAX 1024u
/* Reads per readiness event while the buffer keeps filling up: bounded so one
 * fast upstream cannot starve the other watchers of the loop. */
#define UC_READS_PER_EVENT 8
#define UC_HEAD_BUF_INIT 1024u
#define UC_HDRS_INIT 16u
#define UC_HEAD_BUF_KEEP 8192u /* larger head buffers are freed on recycle */
#define UC_MAX_TARGETS 65536u

typedef struct uc_conn uc_conn_t;

struct uc_conn {
    ev_io io;
    pc_uclient_t *c;
    pc_ux_t *x;              /* active exchange, NULL while pooled */
    uc_conn_t *pprev, *pnext; /* target pool (LIFO), or the free list */
    uc_conn_t *aprev, *anext; /* client-wide idle list, oldest first */
    ev_tstamp idle_since;
    unsigned target_id;
    unsigned gen;            /* pool generation at connect time */
    int fd;
    int events;              /* mask the io watcher is started with, 0 = stopped */
    unsigned connecting : 1;
    unsigned pooled : 1;     /* on its pool's list and the idle list */
    unsigned reused : 1;     /* came out of the pool at least once */
};

typedef struct uc_pool {
    uc_conn_t *head;
    unsigned count;
    unsigned gen; /* bumped when the target's address changed (config reload) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} uc_pool_t;

struct pc_uclient {
    struct ev_loop *loop;
    pc_uclient_opts_t o;
    uc_pool_t *pools;
    unsigned npools;
    uc_conn_t *age_head, *age_tail;
    ev_timer idle_timer;
    pc_ux_t *free_x;
    unsigned nfree_x;
    uc_conn_t *free_c;
    unsigned nfree_c;
    unsigned nactive; /* started and not yet released exchanges */
};

/* Header name/value position in the head buffer while it may still move. */
typedef struct uc_span {
    uint32_t name_off, name_len, value_off, value_len;
} uc_span_t;

enum uc_tphase { UC_T_NONE, UC_T_CONNECT, UC_T_RESPONSE };
enum uc_defer { UC_D_NONE, UC_D_FAIL, UC_D_RESUME };
/* ux_parse results */
enum uc_pr { UC_MORE, UC_PAUSED, UC_GONE };

struct pc_ux {
    http_parser parser; /* parser.data == this */
    pc_uclient_t *c;
    uc_conn_t *conn;
    const pc_utarget_t *t;
    pc_ucb_t cb;
    void *data;
    pc_ux_t *next_free;

    ev_timer timer;  /* connect or response timeout */
    /* 0-second timer for work that must not run inside the API call that
     * caused it. Not ev_feed_event: a fed event does not wake a loop that is
     * about to block in poll when the call came from outside a callback. */
    ev_timer defer;
    ev_tstamp last_act;
    unsigned connect_ms, response_ms;
    enum uc_tphase tphase;
    enum uc_defer defer_op;
    pc_uerr_t defer_err;

    /* request: serialized head + referenced body */
    char *wbuf;
    size_t wcap, wlen;
    const char *body;
    size_t body_len;
    struct iovec iov[2];
    int iovn, iovi;

    /* response */
    char *rbuf; /* read_buf bytes; [rpos, rlen) not parsed yet */
    size_t rpos, rlen;
    char *hbuf; /* copied header names and values */
    size_t hcap, hlen;
    uc_span_t *spans;
    pc_uhdr_t *hdrs;
    size_t nspans, spancap;
    size_t head_raw;   /* raw head bytes parsed so far, 1xx included */
    uint64_t rx_bytes; /* any response byte: rules out a stale retry */

    unsigned is_head : 1;     /* HEAD request: response has no body */
    unsigned head_done : 1;   /* final (>= 200) head seen */
    unsigned in_value : 1;    /* last header callback was a value */
    unsigned msg_done : 1;    /* final response complete */
    unsigned keep_alive : 1;  /* http_should_keep_alive at completion */
    unsigned paused : 1;      /* on_body returned 1 */
    unsigned busy : 1;        /* inside http_parser_execute (user callbacks) */
    unsigned aborted : 1;     /* no more callbacks */
    unsigned done : 1;        /* on_done running */
    unsigned wdone : 1;       /* request fully written */
    unsigned wfailed : 1;     /* write error: the read side decides the outcome */
    unsigned eof : 1;
    unsigned retry_ok : 1;
    unsigned retried : 1;
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

/* ---------------------------------------------------------------- lists */

static void uc_age_unlink(pc_uclient_t *c, uc_conn_t *k)
{
    if (k->aprev)
        k->aprev->anext = k->anext;
    else
        c->age_head = k->anext;
    if (k->anext)
        k->anext->aprev = k->aprev;
    else
        c->age_tail = k->aprev;
    k->aprev = k->anext = NULL;
}

static void uc_age_append(pc_uclient_t *c, uc_conn_t *k)
{
    k->anext = NULL;
    k->aprev = c->age_tail;
    if (c->age_tail)
        c->age_tail->anext = k;
    else
        c->age_head = k;
    c->age_tail = k;
}

static void uc_pool_unlink(uc_pool_t *p, uc_conn_t *k)
{
    if (k->pprev)
        k->pprev->pnext = k->pnext;
    else
        p->head = k->pnext;
    if (k->pnext)
        k->pnext->pprev = k->pprev;
    k->pprev = k->pnext = NULL;
    p->count--;
    k->pooled = 0;
}

static void uc_pool_push(uc_pool_t *p, uc_conn_t *k)
{
    k->pprev = NULL;
    k->pnext = p->head;
    if (p->head)
        p->head->pprev = k;
    p->head = k;
    p->count++;
    k->pooled = 1;
}

/* ---------------------------------------------------------- connections */

static void uc_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static uc_conn_t *uc_conn_alloc(pc_uclient_t *c)
{
    uc_conn_t *k = c->free_c;
    if (k) {
        c->free_c = k->pnext;
        c->nfree_c--;
    } else {
        k = pc_xmalloc(sizeof(*k));
    }
    memset(k, 0, sizeof(*k));
    k->c = c;
    k->fd = -1;
    ev_init(&k->io, uc_io_cb);
    k->io.data = k;
    return k;
}

static void uc_conn_free(pc_uclient_t *c, uc_conn_t *k)
{
    if (c->nfree_c >= UC_FREE_C_MAX) {
        free(k);
        return;
    }
    k->pnext = c->free_c;
    c->free_c = k;
    c->nfree_c++;
}

/* Changes the io watcher only when the mask really changes: each change is
 * an epoll_ctl on the next loop iteration. */
static void uc_conn_want(uc_conn_t *k, int events)
{
    if (k->events == events)
        return;
    ev_io_stop(k->c->loop, &k->io);
    if (events) {
        ev_io_set(&k->io, k->fd, events);
        ev_io_start(k->c->loop, &k->io);
    }
    k->events = events;
}

static void uc_conn_close(pc_uclient_t *c, uc_conn_t *k)
{
    if (k->pooled) {
        uc_pool_unlink(&c->pools[k->target_id], k);
        uc_age_unlink(c, k);
    }
    ev_io_stop(c->loop, &k->io);
    close(k->fd);
    uc_conn_free(c, k);
}

static void uc_idle_arm(pc_uclient_t *c)
{
    if (ev_is_active(&c->idle_timer) || !c->age_head)
        return;
    ev_tstamp left = c->age_head->idle_since + c->o.idle_timeout_ms / 1000.0 - ev_now(c->loop);
    ev_timer_set(&c->idle_timer, left > 0 ? left : 0, 0);
    ev_timer_start(c->loop, &c->idle_timer);
}

static void uc_idle_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    PC_UNUSED(revents);
    pc_uclient_t *c = w->data;
    ev_tstamp cutoff = ev_now(loop) - c->o.idle_timeout_ms / 1000.0;
    while (c->age_head && c->age_head->idle_since <= cutoff)
        uc_conn_close(c, c->age_head);
    uc_idle_arm(c);
}

static uc_pool_t *uc_pool_get(pc_uclient_t *c, unsigned id)
{
    PC_ASSERT(id < UC_MAX_TARGETS);
    if (id >= c->npools) {
        unsigned n = c->npools ? c->npools : 8;
        while (n <= id)
            n *= 2;
        c->pools = pc_xrealloc(c->pools, n * sizeof(*c->pools));
        memset(c->pools + c->npools, 0, (n - c->npools) * sizeof(*c->pools));
        c->npools = n;
    }
    return &c->pools[id];
}

/* Pools are keyed by id; if a reload gave the id a new address, connections to
 * the old one must not serve it. */
static uc_pool_t *uc_pool_for(pc_uclient_t *c, const pc_utarget_t *t)
{
    uc_pool_t *p = uc_pool_get(c, t->id);
    if (PC_LIKELY(p->addrlen == t->addrlen && memcmp(&p->addr, &t->addr, t->addrlen) == 0))
        return p;
    while (p->head)
        uc_conn_close(c, p->head);
    p->gen++;
    memcpy(&p->addr, &t->addr, t->addrlen);
    p->addrlen = t->addrlen;
    return p;
}

/* Most recently used first: its socket is warm and the oldest ones age out. */
static uc_conn_t *uc_pool_take(pc_uclient_t *c, uc_pool_t *p)
{
    uc_conn_t *k;
    while ((k = p->head) != NULL) {
        uc_pool_unlink(p, k);
        uc_age_unlink(c, k);
        /* A pending event on an idle connection is EOF or bytes nobody asked
         * for; parsing them as the next response would desynchronize. */
        if (!ev_is_pending(&k->io))
            return k;
        uc_conn_close(c, k);
    }
    return NULL;
}

static void uc_pool_put(pc_uclient_t *c, uc_conn_t *k)
{
    uc_pool_t *p = &c->pools[k->target_id];
    k->x = NULL;
    if (p->count >= c->o.max_idle_per_target || k->gen != p->gen) {
        uc_conn_close(c, k);
        return;
    }
    uc_conn_want(k, EV_READ);
    uc_pool_push(p, k);
    k->idle_since = ev_now(c->loop);
    uc_age_append(c, k);
    uc_idle_arm(c);
}

/* Releases a connection an exchange is done with. */
static void uc_conn_release(pc_uclient_t *c, uc_conn_t *k, int reuse)
{
    if (reuse)
        uc_pool_put(c, k);
    else
        uc_conn_close(c, k);
}

/* 0 and *k set, or -1 (connect failed at once). *in_progress says whether to
 * wait for writability. */
static int uc_conn_open(pc_uclient_t *c, const pc_utarget_t *t, uc_conn_t **out,
                        int *in_progress)
{
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int one = 1;
    /* The request goes out in one sendmsg(); Nagle would only delay it. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *in_progress = 0;
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) == -1) {
        /* EINTR: the connect continues asynchronously, like EINPROGRESS. */
        if (errno != EINPROGRESS && errno != EINTR) {
            close(fd);
            return -1;
        }
        *in_progress = 1;
    }
    uc_conn_t *k = uc_conn_alloc(c);
    k->fd = fd;
    k->target_id = t->id;
    k->gen = c->pools[t->id].gen;
    k->connecting = (unsigned)*in_progress;
    *out = k;
    return 0;
}

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
    http_parser_init(&x->parser, HTTP_RESPONSE);
    x->parser.data = x;
    x->rpos = x->rlen = 0;
    x->hlen = 0;
    x->nspans = 0;
    x->head_raw = 0;
    x->rx_bytes = 0;
    x->head_done = x->in_value = x->msg_done = x->keep_alive = 0;
    x->paused = x->eof = x->wdone = x->wfailed = 0;
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
        uc_conn_t *k = x->conn;
        x->conn = NULL;
        uc_conn_release(c, k, ux_reusable(x));
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
    uc_conn_want(x->conn, r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

/* ---------------------------------------------------------- response head */

static void ux_hbuf_append(pc_ux_t *x, const char *at, size_t len)
{
    if (x->hlen + len > x->hcap) {
        size_t n = x->hcap ? x->hcap : UC_HEAD_BUF_INIT;
        while (n < x->hlen + len)
            n *= 2;
        x->hbuf = pc_xrealloc(x->hbuf, n);
        x->hcap = n;
    }
    memcpy(x->hbuf + x->hlen, at, len);
    x->hlen += len;
}

static void ux_span_new(pc_ux_t *x)
{
    if (x->nspans == x->spancap) {
        size_t n = x->spancap ? x->spancap * 2 : UC_HDRS_INIT;
        x->spans = pc_xrealloc(x->spans, n * sizeof(*x->spans));
        x->hdrs = pc_xrealloc(x->hdrs, n * sizeof(*x->hdrs));
        x->spancap = n;
    }
    uc_span_t *s = &x->spans[x->nspans++];
    s->name_off = (uint32_t)x->hlen;
    s->name_len = s->value_off = s->value_len = 0;
}

static int ux_on_message_begin(http_parser *p)
{
    pc_ux_t *x = p->data;
    /* A new head after a 1xx: forget the interim headers. */
    x->nspans = 0;
    x->hlen = 0;
    x->in_value = 0;
    return 0;
}

/* Names and values may arrive in pieces (split across reads): consecutive
 * pieces of one string are contiguous in hbuf because field and value
 * callbacks alternate. Trailers (after the final head) are dropped. The copy
 * is bounded by max_head_bytes because ux_parse never feeds more raw head
 * bytes than that. */
static int ux_on_header_field(http_parser *p, const char *at, size_t len)
{
    pc_ux_t *x = p->data;
    if (x->head_done)
        return 0;
    if (x->in_value || x->nspans == 0) {
        ux_span_new(x);
        x->in_value = 0;
    }
    x->spans[x->nspans - 1].name_len += (uint32_t)len;
    ux_hbuf_append(x, at, len);
    return 0;
}

static int ux_on_header_value(http_parser *p, const char *at, size_t len)
{
    pc_ux_t *x = p->data;
    if (x->head_done)
        return 0;
    if (x->nspans == 0)
        return -1; /* the parser never does this; be safe anyway */
    uc_span_t *s = &x->spans[x->nspans - 1];
    if (!x->in_value) {
        s->value_off = (uint32_t)x->hlen;
        x->in_value = 1;
    }
    s->value_len += (uint32_t)len;
    ux_hbuf_append(x, at, len);
    return 0;
}

static int64_t ux_body_length(const pc_ux_t *x, unsigned status)
{
    const http_parser *p = &x->parser;
    if (x->is_head || status == 204 || status == 304)
        return 0;
    if ((p->flags & F_CHUNKED) || p->content_length == UINT64_MAX)
        return -1;
    return (int64_t)p->content_length;
}

static void ux_deliver_head(pc_ux_t *x, unsigned status, int64_t clen)
{
    for (size_t i = 0; i < x->nspans; i++) {
        const uc_span_t *s = &x->spans[i];
        x->hdrs[i].name = x->hbuf + s->name_off;
        x->hdrs[i].name_len = s->name_len;
        x->hdrs[i].value = x->hbuf + s->value_off;
        x->hdrs[i].value_len = s->value_len;
    }
    if (x->cb.on_head)
        x->cb.on_head(x->data, status, x->hdrs, x->nspans, clen);
}

/* Returns 1 (no body) for 1xx, HEAD, 204 and 304, so the parser ignores a
 * Content-Length or chunked framing they may announce. */
static int ux_on_headers_complete(http_parser *p)
{
    pc_ux_t *x = p->data;
    unsigned status = p->status_code;
    if (status == 101 || p->upgrade)
        return -1; /* we never ask to switch protocols */
    if (status < 200)
        return 1;
    /* A length the int64_t of on_head cannot carry is not a real response. */
    if (!(p->flags & F_CHUNKED) && p->content_length != UINT64_MAX &&
        p->content_length > (uint64_t)INT64_MAX)
        return -1;
    x->head_done = 1;
    int64_t clen = ux_body_length(x, status);
    if (!x->aborted)
        ux_deliver_head(x, status, clen);
    return clen == 0 ? 1 : 0;
}

static int ux_on_body(http_parser *p, const char *at, size_t len)
{
    pc_ux_t *x = p->data;
    if (x->aborted || !x->cb.on_body)
        return 0;
    if (x->cb.on_body(x->data, at, len) && !x->aborted) {
        x->paused = 1;
        http_parser_pause(p, 1);
    }
    return 0;
}

/* Pauses the parser so that execute returns right after the final message:
 * bytes after it are a protocol violation and make the connection unusable. */
static int ux_on_message_complete(http_parser *p)
{
    pc_ux_t *x = p->data;
    if (!x->head_done)
        return 0; /* end of a 1xx: the real response follows */
    x->msg_done = 1;
    x->keep_alive = http_should_keep_alive(p) ? 1 : 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings uc_settings = {
    .on_message_begin = ux_on_message_begin,
    .on_header_field = ux_on_header_field,
    .on_header_value = ux_on_header_value,
    .on_headers_complete = ux_on_headers_complete,
    .on_body = ux_on_body,
    .on_message_complete = ux_on_message_complete,
};

/* ------------------------------------------------------------- parsing */

static size_t ux_execute(pc_ux_t *x, const char *p, size_t n)
{
    x->busy = 1;
    size_t used = http_parser_execute(&x->parser, &uc_settings, p, n);
    x->busy = 0;
    return used;
}

/* Finishes an exchange whose parser stopped. An abort (from a callback) lets
 * the parser run on silently over the bytes already read: if that completes
 * the response cleanly, the connection is still reusable. */
static enum uc_pr ux_parse_stopped(pc_ux_t *x, enum http_errno e)
{
    if (e == HPE_PAUSED && x->msg_done) {
        ux_finish(x, PC_UX_OK);
        return UC_GONE;
    }
    if (e == HPE_PAUSED && !x->aborted)
        return UC_PAUSED;
    if (e == HPE_PAUSED) {
        /* defensive: on_body never pauses once aborted; keep draining */
        x->paused = 0;
        http_parser_pause(&x->parser, 0);
        return UC_MORE;
    }
    ux_finish(x, PC_UX_EPROTO);
    return UC_GONE;
}

/* Feeds [rpos, rlen) to the parser. While the head is incomplete at most
 * max_head_bytes raw bytes (1xx heads included) are ever fed, which bounds
 * both the copy and an endless stream of 1xx. */
static enum uc_pr ux_parse(pc_ux_t *x)
{
    size_t max_head = x->c->o.max_head_bytes;
    while (x->rpos < x->rlen) {
        size_t n = x->rlen - x->rpos;
        if (!x->head_done && n > max_head - x->head_raw)
            n = max_head - x->head_raw;
        size_t used = ux_execute(x, x->rbuf + x->rpos, n);
        x->rpos += used;
        if (!x->head_done)
            x->head_raw += used;
        enum http_errno e = HTTP_PARSER_ERRNO(&x->parser);
        if (e != HPE_OK) {
            enum uc_pr r = ux_parse_stopped(x, e);
            if (r != UC_MORE)
                return r;
            continue;
        }
        if (!x->head_done && x->head_raw >= max_head) {
            ux_finish(x, PC_UX_EPROTO);
            return UC_GONE;
        }
    }
    if (x->aborted) {
        /* the rest of the response is not here: give up the connection */
        ux_finish(x, PC_UX_ERESET);
        return UC_GONE;
    }
    return UC_MORE;
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
    uc_conn_t *k = x->conn;
    x->conn = NULL;
    uc_conn_release(c, k, 0);
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
        ux_execute(x, NULL, 0);
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
                uc_conn_want(x->conn, 0);
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
    uc_conn_t *k;
    int in_progress;
    if (uc_conn_open(c, x->t, &k, &in_progress) == -1)
        return PC_UX_ECONNECT;
    k->x = x;
    x->conn = k;
    if (!in_progress) {
        ux_start_io(x);
        return PC_UX_OK;
    }
    uc_conn_want(k, EV_WRITE);
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

static void uc_idle_readable(pc_uclient_t *c, uc_conn_t *k)
{
    /* EOF or unsolicited bytes: either way it cannot carry a request. */
    uc_conn_close(c, k);
}

static void uc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    PC_UNUSED(loop);
    uc_conn_t *k = w->data;
    pc_ux_t *x = k->x;
    if (!x) {
        uc_idle_readable(k->c, k);
        return;
    }
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
    uc_conn_want(x->conn, x->wdone || x->wfailed ? EV_READ : EV_READ | EV_WRITE);
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
    ev_init(&c->idle_timer, uc_idle_timer_cb);
    c->idle_timer.data = c;
    return c;
}

void pc_uclient_free(pc_uclient_t *c)
{
    if (!c)
        return;
    PC_ASSERT(c->nactive == 0);
    while (c->age_head)
        uc_conn_close(c, c->age_head);
    ev_timer_stop(c->loop, &c->idle_timer);
    while (c->free_x) {
        pc_ux_t *x = c->free_x;
        c->free_x = x->next_free;
        ux_free_bufs(x);
        free(x);
    }
    while (c->free_c) {
        uc_conn_t *k = c->free_c;
        c->free_c = k->pnext;
        free(k);
    }
    free(c->pools);
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

    uc_conn_t *k = uc_pool_take(c, uc_pool_for(c, t));
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
    uc_conn_want(x->conn, x->wdone || x->wfailed ? EV_READ : EV_READ | EV_WRITE);
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
    return target_id < c->npools ? c->pools[target_id].count : 0;
}
