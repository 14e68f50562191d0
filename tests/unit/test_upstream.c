/* tests/unit/test_upstream.c: the upstream HTTP/1.1 client against scripted
 * servers on 127.0.0.1:0, driven by a real libev loop.
 *
 * Each test starts a server thread whose per-connection handler (one thread
 * per accepted connection) plays a script: read a request, write bytes, stall,
 * close. Every wait is bounded (socket timeouts, polling with a stop flag,
 * loop guards), and teardown checks that no file descriptor leaked. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strcasestr */
#endif
#include "upstream/upstream.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- server */

typedef struct srv srv_t;

typedef struct sconn {
    srv_t *s;
    int fd;
    int idx; /* accept order, from 0 */
    char *buf;
    size_t len, cap;
} sconn_t;

typedef struct sreq {
    char head[16384];
    size_t head_len;
    char *body; /* malloc'd, body_len bytes */
    size_t body_len;
    long clen; /* -1 if absent */
} sreq_t;

typedef void (*srv_fn)(sconn_t *c);

#define SRV_MAX_CONNS 256

struct srv {
    int lfd;
    unsigned short port;
    pthread_t th;
    srv_fn fn;
    atomic_int stop;
    atomic_int nconn;
    atomic_int nreq;
    atomic_int saw_eof;
    atomic_int closed; /* connections the server has closed */
    atomic_int check_ok;
    atomic_int check_bad;
    pthread_mutex_t mu;
    char last_head[16384];
    pthread_t conns[SRV_MAX_CONNS];
    int nthreads;
    size_t param; /* handler-specific */
};

static void set_timeouts(int fd, int secs)
{
    struct timeval tv = { .tv_sec = secs, .tv_usec = 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int sc_fill(sconn_t *c)
{
    if (c->cap - c->len < 65536) {
        c->cap = c->cap ? c->cap * 2 : 131072;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (n > 0)
        c->len += (size_t)n;
    return (int)n;
}

static void sc_consume(sconn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static char *memfind(char *h, size_t hl, const char *n)
{
    return h ? memmem(h, hl, n, strlen(n)) : NULL;
}

/* 1: a request was read (body too when read_body), 0: EOF/error. */
static int sc_read_req(sconn_t *c, sreq_t *r, int read_body)
{
    char *end;
    while (!(end = memfind(c->buf, c->len, "\r\n\r\n"))) {
        if (sc_fill(c) <= 0)
            return 0;
    }
    r->head_len = (size_t)(end + 4 - c->buf);
    if (r->head_len >= sizeof(r->head))
        return 0;
    memcpy(r->head, c->buf, r->head_len);
    r->head[r->head_len] = '\0';
    sc_consume(c, r->head_len);
    r->clen = -1;
    char *cl = strcasestr(r->head, "\r\ncontent-length:");
    if (cl)
        r->clen = strtol(cl + 17, NULL, 10);
    r->body = NULL;
    r->body_len = 0;
    pthread_mutex_lock(&c->s->mu);
    memcpy(c->s->last_head, r->head, r->head_len + 1);
    pthread_mutex_unlock(&c->s->mu);
    atomic_fetch_add(&c->s->nreq, 1);
    if (!read_body || r->clen <= 0)
        return 1;
    while (c->len < (size_t)r->clen) {
        if (sc_fill(c) <= 0)
            return 0;
    }
    r->body = malloc((size_t)r->clen);
    memcpy(r->body, c->buf, (size_t)r->clen);
    r->body_len = (size_t)r->clen;
    sc_consume(c, r->body_len);
    return 1;
}

static int sc_write(sconn_t *c, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sc_puts(sconn_t *c, const char *s)
{
    return sc_write(c, s, strlen(s));
}

/* Writes in tiny pieces so the client sees heads split across reads. */
static void sc_write_slowly(sconn_t *c, const char *s, size_t piece)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += piece) {
        sc_write(c, s + i, n - i < piece ? n - i : piece);
        usleep(1000);
    }
}

/* Waits (bounded) until the client closes; records it in saw_eof. */
static void sc_wait_eof(sconn_t *c, int max_ms)
{
    char tmp[4096];
    for (int waited = 0; waited < max_ms && !atomic_load(&c->s->stop); waited += 20) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        ssize_t n = read(c->fd, tmp, sizeof(tmp));
        if (n <= 0) {
            atomic_store(&c->s->saw_eof, 1);
            return;
        }
    }
}

static void sc_sleep_ms(sconn_t *c, int ms)
{
    for (int i = 0; i < ms && !atomic_load(&c->s->stop); i += 5)
        usleep(5000);
}

typedef struct conn_arg {
    srv_t *s;
    int fd;
    int idx;
} conn_arg_t;

static void *srv_conn_main(void *p)
{
    conn_arg_t *a = p;
    sconn_t c = { .s = a->s, .fd = a->fd, .idx = a->idx };
    free(a);
    c.s->fn(&c);
    close(c.fd);
    atomic_fetch_add(&c.s->closed, 1);
    free(c.buf);
    return NULL;
}

static void *srv_main(void *p)
{
    srv_t *s = p;
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd == -1)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        set_timeouts(fd, 10);
        if (s->nthreads == SRV_MAX_CONNS) {
            close(fd);
            continue;
        }
        conn_arg_t *a = malloc(sizeof(*a));
        a->s = s;
        a->fd = fd;
        a->idx = atomic_fetch_add(&s->nconn, 1);
        pthread_create(&s->conns[s->nthreads++], NULL, srv_conn_main, a);
    }
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->conns[i], NULL);
    return NULL;
}

static int listen_local(int backlog, unsigned short *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

/* ::1, or -1 when the host has no IPv6 loopback. */
static int listen_local6(unsigned short *port)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
        close(fd);
        return -1;
    }
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin6_port);
    return fd;
}

static srv_t *srv_start_on(srv_fn fn, int lfd, unsigned short port)
{
    srv_t *s = calloc(1, sizeof(*s));
    s->fn = fn;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = lfd;
    s->port = port;
    pthread_create(&s->th, NULL, srv_main, s);
    return s;
}

static srv_t *srv_start(srv_fn fn)
{
    unsigned short port;
    int lfd = listen_local(64, &port);
    return srv_start_on(fn, lfd, port);
}

static void srv_stop(srv_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Waits (bounded) for a flag the server thread sets. */
static int wait_flag(atomic_int *f, int max_ms)
{
    for (int i = 0; i < max_ms && !atomic_load(f); i += 5)
        usleep(5000);
    return atomic_load(f);
}

static unsigned char pat(size_t i)
{
    return (unsigned char)('a' + (i * 7 + i / 251) % 26);
}

static char *pat_buf(size_t n)
{
    char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)pat(i);
    return b;
}

/* ------------------------------------------------------------- client */

typedef struct res {
    struct ev_loop *loop;
    pc_ux_t *x;
    int in_start, heads, done, bad, aborted;
    pc_uerr_t err;
    unsigned status;
    int64_t clen;
    char hdrs[8192];
    size_t hdrs_len;
    char *body;
    size_t body_len, body_cap;
    int keep_body, check_pattern;
    size_t pattern_err, max_chunk;
    /* flow control */
    size_t pause_every, since;
    int paused, npauses, body_while_paused;
    ev_timer resume_t;
    /* abort scripts */
    size_t abort_after; /* abort from on_body once this many bytes arrived */
    int abort_on_head;
    int pause_first; /* pause after the first on_body, never resume */
} res_t;

static void r_on_head(void *d, unsigned st, const pc_uhdr_t *h, size_t n, int64_t cl)
{
    res_t *r = d;
    if (r->done || r->heads || r->aborted || r->in_start)
        r->bad++;
    r->heads++;
    r->status = st;
    r->clen = cl;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(r->hdrs + r->hdrs_len, sizeof(r->hdrs) - r->hdrs_len, "%.*s: %.*s\n",
                         (int)h[i].name_len, h[i].name, (int)h[i].value_len, h[i].value);
        if (w > 0 && (size_t)w < sizeof(r->hdrs) - r->hdrs_len)
            r->hdrs_len += (size_t)w;
    }
    if (r->abort_on_head) {
        r->aborted = 1;
        pc_ux_abort(r->x);
    }
}

static int r_on_body(void *d, const char *p, size_t n)
{
    res_t *r = d;
    if (!r->heads || r->done || r->aborted || r->in_start)
        r->bad++;
    if (r->paused)
        r->body_while_paused++;
    if (n > r->max_chunk)
        r->max_chunk = n;
    if (r->check_pattern) {
        for (size_t i = 0; i < n; i++)
            r->pattern_err += (unsigned char)p[i] != pat(r->body_len + i);
    }
    if (r->keep_body) {
        if (r->body_len + n > r->body_cap) {
            r->body_cap = (r->body_len + n) * 2;
            r->body = realloc(r->body, r->body_cap);
        }
        memcpy(r->body + r->body_len, p, n);
    }
    r->body_len += n;
    if (r->abort_after && r->body_len >= r->abort_after) {
        r->aborted = 1;
        pc_ux_abort(r->x);
        return 0;
    }
    if (r->pause_first) {
        r->paused = 1;
        return 1;
    }
    if (r->pause_every) {
        r->since += n;
        if (r->since >= r->pause_every) {
            r->since = 0;
            r->paused = 1;
            r->npauses++;
            ev_timer_set(&r->resume_t, 0.001, 0);
            ev_timer_start(r->loop, &r->resume_t);
            return 1;
        }
    }
    return 0;
}

static void r_on_done(void *d, pc_uerr_t e)
{
    res_t *r = d;
    if (r->done || r->aborted || r->in_start)
        r->bad++;
    r->done++;
    r->err = e;
}

static const pc_ucb_t r_cb = { r_on_head, r_on_body, r_on_done };

static void r_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    res_t *r = w->data;
    r->paused = 0;
    pc_ux_resume(r->x);
}

typedef struct tctx {
    struct ev_loop *loop;
    pc_uclient_t *c;
    srv_t *s;
    pc_utarget_t t;
    int fds_before;
} tctx_t;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void target_local(pc_utarget_t *t, unsigned id, unsigned short port)
{
    memset(t, 0, sizeof(*t));
    struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->addrlen = sizeof(*a);
    t->id = id;
}

static void ctx_init(tctx_t *t, srv_fn fn, const pc_uclient_opts_t *o)
{
    memset(t, 0, sizeof(*t));
    t->fds_before = count_fds();
    t->loop = ev_loop_new(EVFLAG_AUTO);
    t->c = pc_uclient_new(t->loop, o);
    if (fn) {
        t->s = srv_start(fn);
        target_local(&t->t, 3, t->s->port);
    }
}

static void ctx_done(tctx_t *t)
{
    pc_uclient_free(t->c);
    if (t->s)
        srv_stop(t->s);
    ev_loop_destroy(t->loop);
    ck_assert_int_eq(count_fds(), t->fds_before);
}

static void res_init(res_t *r, tctx_t *t)
{
    memset(r, 0, sizeof(*r));
    r->loop = t->loop;
    r->clen = -2;
    r->keep_body = 1;
    ev_init(&r->resume_t, r_resume_cb);
    r->resume_t.data = r;
}

static void res_free(res_t *r)
{
    ev_timer_stop(r->loop, &r->resume_t);
    free(r->body);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs the loop until *flag or secs elapsed; a ticking timer keeps
 * EVRUN_ONCE from blocking forever. */
static int run_until(tctx_t *t, const int *flag, double secs)
{
    ev_timer tick;
    ev_timer_init(&tick, tick_cb, 0.01, 0.01);
    ev_timer_start(t->loop, &tick);
    ev_tstamp end = ev_time() + secs;
    while (!*flag && ev_time() < end)
        ev_run(t->loop, EVRUN_ONCE);
    ev_timer_stop(t->loop, &tick);
    return *flag;
}

static void run_for(tctx_t *t, double secs)
{
    int never = 0;
    run_until(t, &never, secs);
}

/* Runs the loop until the target's idle count is want (bounded). */
static unsigned run_until_idle(tctx_t *t, unsigned want, double secs)
{
    ev_tstamp end = ev_time() + secs;
    while (pc_uclient_idle_count(t->c, t->t.id) != want && ev_time() < end)
        run_for(t, 0.01);
    return pc_uclient_idle_count(t->c, t->t.id);
}

typedef struct treq {
    const char *method, *path, *body;
    size_t body_len;
    int has_body, retry;
    unsigned conn_ms, resp_ms;
} treq_t;

static pc_ux_t *start(tctx_t *t, res_t *r, const treq_t *q)
{
    static const pc_uhdr_t hdrs[] = {
        { "Host", 4, "upstream.test", 13 },
        { "X-Req", 5, "1", 1 },
    };
    pc_ureq_t req = {
        .method = q->method ? q->method : "GET",
        .target = q->path ? q->path : "/",
        .target_len = strlen(q->path ? q->path : "/"),
        .headers = hdrs,
        .nheaders = PC_ARRAY_LEN(hdrs),
        .body = q->body,
        .body_len = q->body_len,
        .has_body = q->has_body,
        .connect_timeout_ms = q->conn_ms ? q->conn_ms : 2000,
        .response_timeout_ms = q->resp_ms ? q->resp_ms : 5000,
        .retry_on_stale = q->retry,
    };
    /* tests block outside the loop (usleep, filling backlogs); timeouts
     * count from the loop's cached time */
    ev_now_update(t->loop);
    r->in_start = 1;
    r->x = pc_ux_start(t->c, &t->t, &req, &r_cb, r);
    r->in_start = 0;
    return r->x;
}

/* One GET, run to completion. */
static void get(tctx_t *t, res_t *r, const char *method, const char *path)
{
    res_init(r, t);
    treq_t q = { .method = method, .path = path };
    start(t, r, &q);
    ck_assert_msg(run_until(t, &r->done, 10), "exchange did not finish");
    ck_assert_int_eq(r->bad, 0);
}

/* ------------------------------------------------------------- handlers */

static const char resp_hello[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";

/* Serves every request on the connection until EOF. */
static void h_hello(sconn_t *c)
{
    sreq_t r;
    while (sc_read_req(c, &r, 1)) {
        free(r.body);
        if (sc_puts(c, resp_hello))
            return;
    }
}

static void h_conn_close(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    sc_puts(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    sc_wait_eof(c, 3000);
}

static void h_chunked(sconn_t *c)
{
    sreq_t r;
    while (sc_read_req(c, &r, 1)) {
        sc_write_slowly(c,
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5;ext=1\r\nhello\r\n1\r\n \r\n",
                        5);
        sc_puts(c, "10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n");
    }
}

static void h_until_close(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    sc_puts(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ");
    usleep(20000);
    sc_puts(c, "close");
}

static void h_head(sconn_t *c)
{
    sreq_t r;
    while (sc_read_req(c, &r, 1)) {
        if (strncmp(r.head, "HEAD ", 5) == 0)
            sc_puts(c, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
        else
            sc_puts(c, resp_hello);
    }
}

static void h_204(sconn_t *c)
{
    sreq_t r;
    int n = 0;
    while (sc_read_req(c, &r, 1)) {
        if (n++ == 0)
            sc_puts(c, "HTTP/1.1 204 No Content\r\nX-N: 1\r\n\r\n");
        else
            sc_puts(c, resp_hello);
    }
}

static void h_continue(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    sc_puts(c, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n");
    usleep(10000);
    sc_puts(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: 1\r\n\r\nok");
    sc_wait_eof(c, 3000);
}

static void h_echo(sconn_t *c)
{
    sreq_t r;
    while (sc_read_req(c, &r, 1)) {
        char want[64];
        snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", c->s->param);
        int ok = strstr(r.head, want) && r.body_len == c->s->param;
        for (size_t i = 0; ok && i < r.body_len; i++)
            ok = (unsigned char)r.body[i] == pat(i);
        atomic_fetch_add(ok ? &c->s->check_ok : &c->s->check_bad, 1);
        char h[128];
        snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", r.body_len);
        sc_puts(c, h);
        sc_write(c, r.body, r.body_len);
        free(r.body);
    }
}

static void h_large(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    size_t n = c->s->param;
    char h[128];
    snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
    sc_puts(c, h);
    char *b = pat_buf(n);
    sc_write(c, b, n);
    free(b);
    sc_wait_eof(c, 5000);
}

/* Reads the request and never answers. */
static void h_silent(sconn_t *c)
{
    sreq_t r;
    if (sc_read_req(c, &r, 1))
        sc_wait_eof(c, 5000);
}

/* Head and part of the body, then silence. */
static void h_stall_body(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    sc_puts(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    char b[100];
    memset(b, 'z', sizeof(b));
    sc_write(c, b, sizeof(b));
    sc_wait_eof(c, 5000);
}

static const char *malformed[] = {
    "HTTP/1.1 2x0 OK\r\n\r\n",
    "SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
};

static void h_malformed(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    sc_puts(c, malformed[c->s->param]);
    sc_wait_eof(c, 3000);
}

static void h_big_head(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    sc_puts(c, "HTTP/1.1 200 OK\r\nX-Big: ");
    char b[1024];
    memset(b, 'h', sizeof(b));
    for (int i = 0; i < 70 && !atomic_load(&c->s->stop); i++)
        if (sc_write(c, b, sizeof(b)))
            break;
    sc_wait_eof(c, 3000);
}

static void h_endless_1xx(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    for (int i = 0; i < 100000 && !atomic_load(&c->s->stop); i++)
        if (sc_puts(c, "HTTP/1.1 100 Continue\r\n\r\n"))
            break;
}

static void h_reset_mid_body(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 1))
        return;
    sc_puts(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    char b[500];
    memset(b, 'q', sizeof(b));
    sc_write(c, b, sizeof(b));
}

/* First connection: one keep-alive response, then the server drops the idle
 * connection (50 ms later). Later connections: normal service. */
static void h_stale(sconn_t *c)
{
    sreq_t r;
    if (c->idx == 0) {
        if (sc_read_req(c, &r, 1))
            sc_puts(c, resp_hello);
        usleep(50000);
        return;
    }
    h_hello(c);
}

/* Answers 413 after the head, without reading the (large) body. */
static void h_early(sconn_t *c)
{
    sreq_t r;
    if (!sc_read_req(c, &r, 0))
        return;
    sc_puts(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbig!");
    shutdown(c->fd, SHUT_WR);
    sc_sleep_ms(c, 3000); /* no read: the client must not need the body gone */
}

static void h_split_head(sconn_t *c)
{
    sreq_t r;
    while (sc_read_req(c, &r, 1))
        sc_write_slowly(c,
                        "HTTP/1.1 200 OK\r\nX-Long-Header-Name: some fairly long value here\r\n"
                        "X-Two: 2\r\nContent-Length: 3\r\n\r\nabc",
                        3);
}

static void h_two_chunks(sconn_t *c)
{
    sreq_t r;
    while (sc_read_req(c, &r, 1))
        sc_puts(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
}

static void h_http10(sconn_t *c)
{
    sreq_t r;
    if (sc_read_req(c, &r, 1))
        sc_puts(c, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nv10");
    sc_wait_eof(c, 3000);
}

static void h_huge_length(sconn_t *c)
{
    sreq_t r;
    if (sc_read_req(c, &r, 1))
        sc_puts(c, "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\nx");
    sc_wait_eof(c, 3000);
}

static void h_space_in_name(sconn_t *c)
{
    sreq_t r;
    if (sc_read_req(c, &r, 1))
        sc_puts(c, "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello");
    sc_wait_eof(c, 3000);
}

static void h_ctl_in_value(sconn_t *c)
{
    sreq_t r;
    if (sc_read_req(c, &r, 1))
        sc_puts(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\x01b\r\n\r\nok");
    sc_wait_eof(c, 3000);
}

static void h_nul_in_value(sconn_t *c)
{
    sreq_t r;
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: a\0evil\r\n\r\nok";
    if (sc_read_req(c, &r, 1))
        sc_write(c, resp, sizeof(resp) - 1);
    sc_wait_eof(c, 3000);
}

static void h_slow_hello(sconn_t *c)
{
    sreq_t r;
    while (sc_read_req(c, &r, 1)) {
        usleep(30000);
        if (sc_puts(c, resp_hello))
            return;
    }
}

/* --------------------------------------------------------------- tests */

static int has_hdr(const res_t *r, const char *line)
{
    return strstr(r->hdrs, line) != NULL;
}

START_TEST(test_get_content_length)
{
    tctx_t t;
    ctx_init(&t, h_hello, NULL);
    res_t r;
    get(&t, &r, "GET", "/p/a?q=1");
    ck_assert_int_eq(r.err, PC_UX_OK);
    ck_assert_int_eq(r.heads, 1);
    ck_assert_uint_eq(r.status, 200);
    ck_assert_int_eq(r.clen, 5);
    ck_assert_uint_eq(r.body_len, 5);
    ck_assert(memcmp(r.body, "hello", 5) == 0);
    ck_assert(has_hdr(&r, "X-A: b\n"));
    ck_assert(has_hdr(&r, "Content-Length: 5\n"));
    ck_assert_str_eq(t.s->last_head, "GET /p/a?q=1 HTTP/1.1\r\nHost: upstream.test\r\nX-Req: 1\r\n\r\n");
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 2), 0);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 9999), 0);
    res_free(&r);
    ctx_done(&t);
}
END_TEST

/* ---- canned responses: one table -------------------------------------------
 * Each case runs `repeat` requests in a row on one client against one
 * canned upstream, and checks each outcome; `then_hello` sends one more GET
 * that must get resp_hello on the same connection (the client stayed in
 * sync with a response that had no body). */
typedef struct resp_case {
    const char *name;
    srv_fn handler;
    const pc_uclient_opts_t *opts;
    const char *method;        /* NULL: GET */
    int repeat;                /* 0: 1 */
    pc_uerr_t err;
    int heads;                 /* on_head calls */
    unsigned status;           /* 0: not checked */
    int check_clen;
    int64_t clen;
    const char *body;          /* the body starts with it; NULL: not checked */
    int check_len;
    size_t body_len;
    const char *has[3], *lacks[3]; /* "Name: value\n" lines of the head */
    unsigned idle;             /* target 3's idle connections after each request */
    int then_hello;
    int nconn;                 /* connections the upstream saw; 0: not checked */
    int saw_eof;               /* the upstream saw the client close */
} resp_case_t;

static const pc_uclient_opts_t small_head = { .max_head_bytes = 4096 };

static const resp_case_t resp_cases[] = {
    { .name = "keep-alive reuse", .handler = h_hello, .repeat = 3, .heads = 1, .status = 200,
      .body = "hello", .check_len = 1, .body_len = 5, .idle = 1, .nconn = 1 },
    { .name = "connection: close, not reused", .handler = h_conn_close, .repeat = 2, .heads = 1,
      .body = "ok", .idle = 0, .nconn = 2, .saw_eof = 1 },
    { .name = "chunked, extensions and trailers", .handler = h_chunked, .repeat = 2, .heads = 1,
      .check_clen = 1, .clen = -1, .body = "hello 0123456789abcdef", .check_len = 1,
      .body_len = 22, .lacks = { "X-Trailer" }, .idle = 1, .nconn = 1 },
    { .name = "read until close", .handler = h_until_close, .heads = 1, .check_clen = 1,
      .clen = -1, .body = "until close", .check_len = 1, .body_len = 11, .idle = 0 },
    { .name = "HEAD has no body", .handler = h_head, .method = "HEAD", .heads = 1,
      .check_clen = 1, .clen = 0, .check_len = 1, .body_len = 0,
      .has = { "Content-Length: 1234\n" }, .idle = 1, .then_hello = 1, .nconn = 1 },
    { .name = "204 has no body", .handler = h_204, .heads = 1, .status = 204, .check_clen = 1,
      .clen = 0, .check_len = 1, .body_len = 0, .idle = 1, .then_hello = 1, .nconn = 1 },
    { .name = "100 Continue skipped", .handler = h_continue, .heads = 1, .status = 200,
      .body = "ok", .has = { "X-Final: 1\n" }, .lacks = { "X-Interim", "Link" }, .idle = 1 },
    { .name = "head split across reads", .handler = h_split_head, .heads = 1,
      .body = "abc", .has = { "X-Long-Header-Name: some fairly long value here\n",
                              "X-Two: 2\n" }, .idle = 1 },
    { .name = "reset mid body", .handler = h_reset_mid_body, .err = PC_UX_ERESET, .heads = 1,
      .check_len = 1, .body_len = 500 },
    { .name = "HTTP/1.0 not reused", .handler = h_http10, .heads = 1, .body = "v10",
      .idle = 0, .saw_eof = 1 },
    { .name = "Content-Length beyond int64", .handler = h_huge_length, .err = PC_UX_EPROTO,
      .heads = 0 },
    { .name = "oversized head", .handler = h_big_head, .err = PC_UX_EPROTO, .heads = 0 },
    /* http_parser is lenient about these; the client is not (RFC 9112 §5) */
    { .name = "space in a field name", .handler = h_space_in_name, .err = PC_UX_EPROTO,
      .heads = 0 },
    { .name = "control byte in a value", .handler = h_ctl_in_value, .err = PC_UX_EPROTO,
      .heads = 0 },
    { .name = "NUL in a value", .handler = h_nul_in_value, .err = PC_UX_EPROTO, .heads = 0 },
    /* 1xx heads count against the limit too */
    { .name = "endless 1xx", .handler = h_endless_1xx, .opts = &small_head,
      .err = PC_UX_EPROTO, .heads = 0 },
};

static void resp_check(const resp_case_t *k, const res_t *r, tctx_t *t)
{
    ck_assert_msg(r->err == k->err, "%s: err %d, want %d", k->name, r->err, k->err);
    ck_assert_msg(r->heads == k->heads, "%s: %d heads", k->name, r->heads);
    ck_assert_msg(!k->status || r->status == k->status, "%s: status %u", k->name, r->status);
    ck_assert_msg(!k->check_clen || r->clen == k->clen, "%s: clen %lld", k->name,
                  (long long)r->clen);
    ck_assert_msg(!k->check_len || r->body_len == k->body_len, "%s: %zu body bytes", k->name,
                  r->body_len);
    ck_assert_msg(!k->body || (r->body_len >= strlen(k->body) &&
                               memcmp(r->body, k->body, strlen(k->body)) == 0),
                  "%s: body", k->name);
    for (size_t i = 0; i < PC_ARRAY_LEN(k->has) && k->has[i]; i++)
        ck_assert_msg(has_hdr(r, k->has[i]), "%s: no %s", k->name, k->has[i]);
    for (size_t i = 0; i < PC_ARRAY_LEN(k->lacks) && k->lacks[i]; i++)
        ck_assert_msg(!has_hdr(r, k->lacks[i]), "%s: has %s", k->name, k->lacks[i]);
    if (k->err == PC_UX_OK)
        ck_assert_msg(pc_uclient_idle_count(t->c, 3) == k->idle, "%s: %u idle", k->name,
                      pc_uclient_idle_count(t->c, 3));
    else
        ck_assert_msg(pc_uclient_idle_count(t->c, 3) == 0, "%s: failed, yet pooled", k->name);
}

START_TEST(test_canned_responses)
{
    const resp_case_t *k = &resp_cases[_i];
    tctx_t t;
    ctx_init(&t, k->handler, k->opts);
    for (int i = 0; i < (k->repeat ? k->repeat : 1); i++) {
        res_t r;
        get(&t, &r, k->method ? k->method : "GET", "/");
        resp_check(k, &r, &t);
        res_free(&r);
    }
    if (k->then_hello) {
        res_t r;
        get(&t, &r, "GET", "/");
        ck_assert_msg(r.err == PC_UX_OK && r.body_len == 5 && memcmp(r.body, "hello", 5) == 0,
                      "%s: out of sync afterwards", k->name);
        res_free(&r);
    }
    ck_assert_msg(!k->nconn || atomic_load(&t.s->nconn) == k->nconn, "%s: %d connections",
                  k->name, atomic_load(&t.s->nconn));
    ck_assert_msg(!k->saw_eof || wait_flag(&t.s->saw_eof, 2000), "%s: no EOF seen", k->name);
    ctx_done(&t);
}
END_TEST

START_TEST(test_post_echo)
{
    tctx_t t;
    ctx_init(&t, h_echo, NULL);
    size_t sizes[] = { 0, 11, 1 << 20 };
    for (size_t i = 0; i < PC_ARRAY_LEN(sizes); i++) {
        t.s->param = sizes[i];
        char *body = pat_buf(sizes[i]);
        res_t r;
        res_init(&r, &t);
        treq_t q = { .method = "POST", .path = "/echo", .body = sizes[i] ? body : NULL,
                     .body_len = sizes[i], .has_body = 1 };
        start(&t, &r, &q);
        ck_assert(run_until(&t, &r.done, 10));
        ck_assert_int_eq(r.bad, 0);
        ck_assert_int_eq(r.err, PC_UX_OK);
        ck_assert_uint_eq(r.body_len, sizes[i]);
        ck_assert(sizes[i] == 0 || memcmp(r.body, body, sizes[i]) == 0);
        res_free(&r);
        free(body);
    }
    ck_assert_int_eq(atomic_load(&t.s->check_ok), 3);
    ck_assert_int_eq(atomic_load(&t.s->check_bad), 0);
    ck_assert_int_eq(atomic_load(&t.s->nconn), 1);
    ctx_done(&t);
}
END_TEST

START_TEST(test_large_body_pause_resume)
{
    tctx_t t;
    pc_uclient_opts_t o = { .read_buf = 16384 };
    ctx_init(&t, h_large, &o);
    t.s->param = 8u << 20;
    res_t r;
    res_init(&r, &t);
    r.keep_body = 0;
    r.check_pattern = 1;
    r.pause_every = 64 * 1024;
    treq_t q = { .path = "/big" };
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.done, 30));
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(r.err, PC_UX_OK);
    ck_assert_int_eq(r.clen, 8 << 20);
    ck_assert_uint_eq(r.body_len, 8u << 20);
    ck_assert_uint_eq(r.pattern_err, 0);
    /* nothing is delivered while paused, and nothing is buffered beyond one
     * read buffer: chunks never exceed it */
    ck_assert_int_eq(r.body_while_paused, 0);
    ck_assert_uint_le(r.max_chunk, 16384);
    /* a pause after every >= 64 KiB, i.e. at most every 64 + 16 KiB */
    ck_assert_int_ge(r.npauses, (8 << 20) / (80 << 10));
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    res_free(&r);
    ctx_done(&t);
}
END_TEST

START_TEST(test_connect_refused)
{
    tctx_t t;
    ctx_init(&t, NULL, NULL);
    unsigned short port;
    int fd = listen_local(1, &port);
    close(fd); /* nobody listens there now */
    target_local(&t.t, 0, port);
    res_t r;
    get(&t, &r, "GET", "/");
    ck_assert_int_eq(r.err, PC_UX_ECONNECT);
    ck_assert_int_eq(r.heads, 0);
    ck_assert_str_eq(pc_uerr_str(r.err), "upstream connect failed");
    res_free(&r);
    ctx_done(&t);
}
END_TEST

/* A listener that never accepts, with its accept queue filled: further SYNs
 * are dropped, so connect() hangs. Loopback only. */
START_TEST(test_connect_timeout)
{
    tctx_t t;
    ctx_init(&t, NULL, NULL);
    unsigned short port;
    int lfd = listen_local(0, &port);
    int fillers[32], nf = 0, full = 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (nf < 32) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        fillers[nf++] = fd;
        connect(fd, (struct sockaddr *)&a, sizeof(a));
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, 100) == 0) {
            full = 1;
            break;
        }
    }
    if (full) {
        target_local(&t.t, 1, port);
        res_t r;
        res_init(&r, &t);
        treq_t q = { .conn_ms = 150 };
        ev_tstamp t0 = ev_time();
        start(&t, &r, &q);
        ck_assert(run_until(&t, &r.done, 5));
        ck_assert_int_eq(r.bad, 0);
        ck_assert_int_eq(r.err, PC_UX_ECONNECT_TIMEOUT);
        ck_assert(ev_time() - t0 >= 0.14);
        res_free(&r);
    } else {
        fprintf(stderr, "test_connect_timeout: accept queue never filled, skipped\n");
    }
    for (int i = 0; i < nf; i++)
        close(fillers[i]);
    close(lfd);
    ctx_done(&t);
}
END_TEST

START_TEST(test_response_timeout)
{
    tctx_t t;
    ctx_init(&t, h_silent, NULL);
    res_t r;
    res_init(&r, &t);
    treq_t q = { .resp_ms = 200 };
    ev_tstamp t0 = ev_time();
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.done, 5));
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(r.err, PC_UX_ETIMEOUT);
    ck_assert_int_eq(r.heads, 0);
    ck_assert(ev_time() - t0 >= 0.19);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 0);
    ck_assert(wait_flag(&t.s->saw_eof, 2000));
    res_free(&r);
    ctx_done(&t);
}
END_TEST

START_TEST(test_body_idle_timeout)
{
    tctx_t t;
    ctx_init(&t, h_stall_body, NULL);
    res_t r;
    res_init(&r, &t);
    treq_t q = { .resp_ms = 200 };
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.done, 5));
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(r.heads, 1);
    ck_assert_uint_eq(r.body_len, 100);
    ck_assert_int_eq(r.err, PC_UX_ETIMEOUT);
    res_free(&r);
    ctx_done(&t);
}
END_TEST

START_TEST(test_malformed)
{
    for (size_t i = 0; i < PC_ARRAY_LEN(malformed); i++) {
        tctx_t t;
        ctx_init(&t, h_malformed, NULL);
        t.s->param = i;
        res_t r;
        get(&t, &r, "GET", "/");
        ck_assert_msg(r.err == PC_UX_EPROTO, "case %zu: err %d", i, r.err);
        ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 0);
        res_free(&r);
        ctx_done(&t);
    }
}
END_TEST

static void stale_case(int retry)
{
    tctx_t t;
    ctx_init(&t, h_stale, NULL);
    res_t r;
    get(&t, &r, "GET", "/");
    ck_assert_int_eq(r.err, PC_UX_OK);
    res_free(&r);
    /* let the server drop the idle connection while the loop is not looking */
    ck_assert(wait_flag(&t.s->closed, 5000));
    usleep(20000);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    res_init(&r, &t);
    treq_t q = { .retry = retry };
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.done, 5));
    ck_assert_int_eq(r.bad, 0);
    if (retry) {
        ck_assert_int_eq(r.err, PC_UX_OK);
        ck_assert(memcmp(r.body, "hello", 5) == 0);
        ck_assert_int_eq(atomic_load(&t.s->nconn), 2);
        ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    } else {
        ck_assert_int_eq(r.err, PC_UX_ERESET);
        ck_assert_int_eq(r.heads, 0);
    }
    res_free(&r);
    ctx_done(&t);
}

START_TEST(test_stale_retry)
{
    stale_case(1);
    stale_case(0);
}
END_TEST

START_TEST(test_idle_close_detected)
{
    tctx_t t;
    ctx_init(&t, h_stale, NULL);
    res_t r;
    get(&t, &r, "GET", "/");
    ck_assert_int_eq(r.err, PC_UX_OK);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    res_free(&r);
    ck_assert_uint_eq(run_until_idle(&t, 0, 5), 0);
    ck_assert_int_eq(atomic_load(&t.s->nconn), 1);
    ctx_done(&t);
}
END_TEST

START_TEST(test_idle_timeout)
{
    tctx_t t;
    pc_uclient_opts_t o = { .idle_timeout_ms = 300 };
    ctx_init(&t, h_hello, &o);
    res_t r;
    get(&t, &r, "GET", "/");
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    res_free(&r);
    ev_tstamp t0 = ev_time();
    run_for(&t, 0.05);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    ck_assert_uint_eq(run_until_idle(&t, 0, 5), 0);
    ck_assert(ev_time() - t0 >= 0.25);
    ck_assert(wait_flag(&t.s->closed, 2000)); /* the server saw it closed */
    ctx_done(&t);
}
END_TEST

START_TEST(test_max_idle)
{
    tctx_t t;
    pc_uclient_opts_t o = { .max_idle_per_target = 2 };
    ctx_init(&t, h_slow_hello, &o);
    res_t r[5];
    for (int i = 0; i < 5; i++) {
        res_init(&r[i], &t);
        treq_t q = { 0 };
        start(&t, &r[i], &q);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert(run_until(&t, &r[i].done, 10));
        ck_assert_int_eq(r[i].err, PC_UX_OK);
        ck_assert_int_eq(r[i].bad, 0);
    }
    ck_assert_int_eq(atomic_load(&t.s->nconn), 5);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 2);
    for (int i = 0; i < 5; i++)
        res_free(&r[i]);
    ctx_done(&t);
}
END_TEST

START_TEST(test_early_response)
{
    tctx_t t;
    ctx_init(&t, h_early, NULL);
    size_t n = 16u << 20;
    char *body = pat_buf(n);
    res_t r;
    res_init(&r, &t);
    treq_t q = { .method = "POST", .body = body, .body_len = n, .has_body = 1 };
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.done, 10));
    ck_assert_int_eq(r.bad, 0);
    ck_assert_int_eq(r.err, PC_UX_OK);
    ck_assert_uint_eq(r.status, 413);
    ck_assert(memcmp(r.body, "big!", 4) == 0);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 0);
    res_free(&r);
    free(body);
    ctx_done(&t);
}
END_TEST

START_TEST(test_abort_in_body)
{
    tctx_t t;
    ctx_init(&t, h_stall_body, NULL);
    res_t r;
    res_init(&r, &t);
    r.abort_after = 1;
    treq_t q = { 0 };
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.aborted, 5));
    run_for(&t, 0.1);
    ck_assert_int_eq(r.done, 0);
    ck_assert_int_eq(r.bad, 0);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 0);
    ck_assert(wait_flag(&t.s->saw_eof, 2000));
    res_free(&r);
    ctx_done(&t);
}
END_TEST

START_TEST(test_abort_in_head)
{
    tctx_t t;
    ctx_init(&t, h_hello, NULL);
    res_t r;
    res_init(&r, &t);
    r.abort_on_head = 1;
    treq_t q = { 0 };
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.aborted, 5));
    run_for(&t, 0.05);
    ck_assert_int_eq(r.done, 0);
    ck_assert_uint_eq(r.body_len, 0);
    ck_assert_int_eq(r.bad, 0);
    /* the whole response was in hand: the connection stays usable */
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    res_free(&r);
    get(&t, &r, "GET", "/");
    ck_assert_int_eq(r.err, PC_UX_OK);
    ck_assert_int_eq(atomic_load(&t.s->nconn), 1);
    res_free(&r);
    ctx_done(&t);
}
END_TEST

typedef struct abort_timer {
    ev_timer w;
    res_t *r;
} abort_timer_t;

static void abort_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    abort_timer_t *a = (abort_timer_t *)w;
    a->r->aborted = 1;
    pc_ux_abort(a->r->x);
}

START_TEST(test_abort_waiting)
{
    tctx_t t;
    ctx_init(&t, h_silent, NULL);
    res_t r;
    res_init(&r, &t);
    treq_t q = { 0 };
    start(&t, &r, &q);
    abort_timer_t a = { .r = &r };
    ev_timer_init(&a.w, abort_cb, 0.05, 0);
    ev_timer_start(t.loop, &a.w);
    ck_assert(run_until(&t, &r.aborted, 5));
    run_for(&t, 0.1);
    ck_assert_int_eq(r.done, 0);
    ck_assert_int_eq(r.bad, 0);
    ck_assert(wait_flag(&t.s->saw_eof, 2000));
    res_free(&r);
    ctx_done(&t);
}
END_TEST

/* Abort before the loop ever ran: nothing was sent, no callback follows. */
START_TEST(test_abort_immediately)
{
    tctx_t t;
    ctx_init(&t, h_hello, NULL);
    res_t r;
    res_init(&r, &t);
    treq_t q = { 0 };
    start(&t, &r, &q);
    r.aborted = 1;
    pc_ux_abort(r.x);
    run_for(&t, 0.05);
    ck_assert_int_eq(r.done + r.heads, 0);
    /* and an immediately failing exchange aborted before its deferred on_done */
    ctx_done(&t);
    ctx_init(&t, NULL, NULL);
    unsigned short port;
    close(listen_local(1, &port));
    target_local(&t.t, 0, port);
    res_init(&r, &t);
    start(&t, &r, &q);
    r.aborted = 1;
    pc_ux_abort(r.x);
    run_for(&t, 0.05);
    ck_assert_int_eq(r.done, 0);
    ctx_done(&t);
}
END_TEST

/* Paused with the rest of the response already read, then aborted: the
 * leftover completes the message silently and the connection is pooled. */
START_TEST(test_abort_paused_reuses)
{
    tctx_t t;
    ctx_init(&t, h_two_chunks, NULL);
    res_t r;
    res_init(&r, &t);
    r.pause_first = 1;
    treq_t q = { 0 };
    start(&t, &r, &q);
    ck_assert(run_until(&t, &r.paused, 5));
    run_for(&t, 0.05);
    ck_assert_uint_eq(r.body_len, 3);
    r.aborted = 1;
    pc_ux_abort(r.x);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    run_for(&t, 0.05);
    ck_assert_int_eq(r.done, 0);
    res_free(&r);
    get(&t, &r, "GET", "/");
    ck_assert_int_eq(r.err, PC_UX_OK);
    ck_assert(memcmp(r.body, "abcde", 5) == 0);
    ck_assert_int_eq(atomic_load(&t.s->nconn), 1);
    res_free(&r);
    ctx_done(&t);
}
END_TEST

/* Starting the next exchange from on_done reuses the connection just freed. */
typedef struct chain {
    tctx_t *t;
    int left, done_all, errs;
    res_t r;
} chain_t;

static void chain_done(void *d, pc_uerr_t e);
static const pc_ucb_t chain_cb = { NULL, NULL, chain_done };

static void chain_next(chain_t *ch)
{
    static const pc_uhdr_t h[] = { { "Host", 4, "x", 1 } };
    pc_ureq_t req = { .method = "GET", .target = "/", .target_len = 1, .headers = h,
                      .nheaders = 1, .response_timeout_ms = 5000, .connect_timeout_ms = 1000 };
    pc_ux_start(ch->t->c, &ch->t->t, &req, &chain_cb, ch);
}

static void chain_done(void *d, pc_uerr_t e)
{
    chain_t *ch = d;
    ch->errs += e != PC_UX_OK;
    if (--ch->left > 0)
        chain_next(ch);
    else
        ch->done_all = 1;
}

START_TEST(test_start_from_on_done)
{
    tctx_t t;
    ctx_init(&t, h_hello, NULL);
    chain_t ch = { .t = &t, .left = 50 };
    chain_next(&ch);
    ck_assert(run_until(&t, &ch.done_all, 10));
    ck_assert_int_eq(ch.errs, 0);
    ck_assert_int_eq(atomic_load(&t.s->nconn), 1);
    ck_assert_int_eq(atomic_load(&t.s->nreq), 50);
    ctx_done(&t);
}
END_TEST

/* A reload that gives the same id another address must not reuse the pool. */
START_TEST(test_target_address_change)
{
    tctx_t t;
    ctx_init(&t, h_hello, NULL);
    res_t r;
    get(&t, &r, "GET", "/");
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 3), 1);
    res_free(&r);
    srv_t *s2 = srv_start(h_hello);
    target_local(&t.t, 3, s2->port);
    get(&t, &r, "GET", "/");
    ck_assert_int_eq(r.err, PC_UX_OK);
    ck_assert_int_eq(atomic_load(&s2->nconn), 1);
    ck_assert_int_eq(atomic_load(&t.s->nconn), 1);
    res_free(&r);
    /* close the pooled connection to s2 before stopping it */
    pc_uclient_free(t.c);
    t.c = pc_uclient_new(t.loop, NULL);
    srv_stop(s2);
    ctx_done(&t);
}
END_TEST

START_TEST(test_ipv6)
{
    tctx_t t;
    ctx_init(&t, NULL, NULL);
    unsigned short port;
    int lfd = listen_local6(&port);
    if (lfd == -1) {
        fprintf(stderr, "test_ipv6: no ::1, skipped\n");
        ctx_done(&t);
        return;
    }
    t.s = srv_start_on(h_hello, lfd, port);
    memset(&t.t, 0, sizeof(t.t));
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&t.t.addr;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(port);
    t.t.addrlen = sizeof(*a);
    t.t.id = 7;
    for (int i = 0; i < 2; i++) {
        res_t r;
        get(&t, &r, "GET", "/v6");
        ck_assert_int_eq(r.err, PC_UX_OK);
        ck_assert(memcmp(r.body, "hello", 5) == 0);
        res_free(&r);
    }
    ck_assert_int_eq(atomic_load(&t.s->nconn), 1);
    ck_assert_uint_eq(pc_uclient_idle_count(t.c, 7), 1);
    ctx_done(&t);
}
END_TEST

static Suite *upstream_suite(void)
{
    Suite *s = suite_create("upstream");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_get_content_length);
    tcase_add_loop_test(tc, test_canned_responses, 0, (int)PC_ARRAY_LEN(resp_cases));
    tcase_add_test(tc, test_post_echo);
    tcase_add_test(tc, test_large_body_pause_resume);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_connect_timeout);
    tcase_add_test(tc, test_response_timeout);
    tcase_add_test(tc, test_body_idle_timeout);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_stale_retry);
    tcase_add_test(tc, test_idle_close_detected);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_max_idle);
    tcase_add_test(tc, test_early_response);
    tcase_add_test(tc, test_abort_in_body);
    tcase_add_test(tc, test_abort_in_head);
    tcase_add_test(tc, test_abort_waiting);
    tcase_add_test(tc, test_abort_immediately);
    tcase_add_test(tc, test_abort_paused_reuses);
    tcase_add_test(tc, test_start_from_on_done);
    tcase_add_test(tc, test_target_address_change);
    tcase_add_test(tc, test_ipv6);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(upstream_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
