/* gateway/store/redis.c: asynchronous Redis connections on a libev loop
 * (contract in redis.h); the blocking client is redis_sync.c, addresses are
 * redis_url.c.
 *
 * Every command gets an rcmd_t holding its callback, its deadline and its
 * RESP bytes (kept for one NOSCRIPT retry). Commands of one connection are
 * sent, answered and timed out in order, and they all have the same
 * timeout, so their deadlines rise along the pending list: one ev_timer per
 * connection, armed for the first command still waiting, is enough. A
 * command whose deadline passed is answered with rc -1 at once and stays
 * in the list (marked expired) until hiredis hands back its late reply or
 * drops it with the connection; only then is it freed.
 *
 * Writing: hiredis arms a write watcher per command and writes on the next
 * loop iteration; a prepare watcher writes what was queued right before
 * the loop blocks instead, so the commands of one iteration leave in one
 * write(2) without the extra trip through epoll. If that write finds the
 * connection broken, the pending callbacks run inside the prepare watcher,
 * and a zero timer then keeps the loop from blocking before the worker's
 * own prepare watcher has run again (it resumes requests).
 *
 * hiredis 0.14 facts this relies on: pending reply callbacks run with a
 * NULL reply when a context is freed or lost, before the disconnect
 * callback; a command issued while the context is being torn down fails
 * (REDIS_ERR); redisAsyncFree() from inside a callback is deferred until
 * the callback returns; the connect callback with an error is followed by
 * hiredis freeing the context itself. */
#include "store/redis.h"
#include "store/redis_cmd.h"
#include "base/list.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/util.h"
#include "store/redis_reply.h"

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <ev.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- async connection ------------------------------------------------------------ */

typedef enum rd_state { RD_DOWN = 0, RD_CONNECTING, RD_UP, RD_CLOSED } rd_state_t;

typedef struct rcmd {
    pc_list_t link;                /* pending list, in send order */
    pc_redis_t *rd;
    pc_redis_cb cb;
    void *data;
    double deadline;               /* ev_now() based */
    int script;                    /* -1: not an EVALSHA */
    bool expired;                  /* cb already ran with -1 */
    bool retried;                  /* NOSCRIPT retry done */
    size_t len;
    char buf[];                    /* the RESP command */
} rcmd_t;

struct pc_redis {
    struct ev_loop *loop;
    pc_redis_opts_t o;
    redisAsyncContext *ac;         /* NULL unless CONNECTING or UP */
    rd_state_t state;
    unsigned hs_pending;           /* handshake replies still expected */
    pc_list_t pending;             /* every command hiredis still holds (rcmd_t.link) */
    rcmd_t *live;                  /* first one not expired yet, NULL if none */
    unsigned npending;
    ev_timer cmd_timer;            /* deadlines and the dead-connection check */
    double armed_at;               /* when cmd_timer fires, if active */
    ev_timer conn_timer;           /* connect + handshake deadline */
    ev_timer retry_timer;          /* backoff before the next connect */
    ev_prepare flusher;            /* writes queued commands before the loop blocks */
    ev_timer kick;                 /* zero delay: one more loop iteration (rd_flush_cb) */
    unsigned backoff_ms;           /* the next delay's upper bound */
    unsigned attempts;             /* failed connects since the last UP */
    bool ever_up;
    bool down_logged;
    double last_log;
    pc_rng_t rng;                  /* backoff jitter */
    pc_redis_bound_t bound;        /* the current context's reader */
    char where[160];               /* "127.0.0.1:6379/0", for logs */
};

static void rd_connect(pc_redis_t *rd);

static rcmd_t *rd_first(const pc_redis_t *rd)
{
    pc_list_t *n = pc_list_first(&rd->pending);
    return n ? pc_list_entry(n, rcmd_t, link) : NULL;
}

/* The command sent after c, or NULL. */
static rcmd_t *rd_next(const pc_redis_t *rd, const rcmd_t *c)
{
    return c->link.next == &rd->pending ? NULL : pc_list_entry(c->link.next, rcmd_t, link);
}


static void stat_set(pc_counter_t *c, uint64_t v)
{
    if (c)
        atomic_store_explicit(c, v, memory_order_relaxed);
}

static void stat_inc(pc_counter_t *c)
{
    if (c)
        pc_counter_add(c, 1);
}

static double rd_dead_after(const pc_redis_t *rd)
{
    unsigned ms = 4 * rd->o.command_timeout_ms;
    return (ms > PC_REDIS_DEAD_MS ? ms : PC_REDIS_DEAD_MS) / 1000.0;
}

/* Arms the command timer for the earliest of: the first live deadline, and
 * the moment the oldest command makes the connection count as dead. */
static void rd_arm(pc_redis_t *rd)
{
    const rcmd_t *first = rd_first(rd);
    if (!first)
        return;
    double at = first->deadline - rd->o.command_timeout_ms / 1000.0 + rd_dead_after(rd);
    if (rd->live && rd->live->deadline < at)
        at = rd->live->deadline;
    if (ev_is_active(&rd->cmd_timer)) {
        if (rd->armed_at <= at)
            return; /* fires early enough; it re-arms itself when it does */
        ev_timer_stop(rd->loop, &rd->cmd_timer);
    }
    rd->armed_at = at;
    double in = at - ev_now(rd->loop);
    ev_timer_set(&rd->cmd_timer, in > 0.0005 ? in : 0.0005, 0.);
    ev_timer_start(rd->loop, &rd->cmd_timer);
}

static void rd_unlink(pc_redis_t *rd, rcmd_t *c)
{
    if (rd->live == c)
        rd->live = rd_next(rd, c);
    pc_list_remove(&c->link);
    rd->npending--;
}

static void rd_log(pc_redis_t *rd, int level, bool force, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void rd_log(pc_redis_t *rd, int level, bool force, const char *fmt, ...)
{
    double now = ev_now(rd->loop);
    if (!force && now - rd->last_log < 10.0)
        return;
    rd->last_log = now;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pc_log_write(level, "store: redis %s (%s): %s", rd->where, rd->o.name ? rd->o.name : "-",
                 msg);
}

/* Waits, then connects again. */
static void rd_schedule(pc_redis_t *rd)
{
    if (rd->state == RD_CLOSED)
        return;
    unsigned d = rd->backoff_ms;
    unsigned wait = d / 2 + (unsigned)(pc_rng_next(&rd->rng) % (d / 2 + 1));
    rd->backoff_ms = d * 2 > PC_REDIS_BACKOFF_MAX_MS ? PC_REDIS_BACKOFF_MAX_MS : d * 2;
    ev_timer_stop(rd->loop, &rd->retry_timer);
    ev_timer_set(&rd->retry_timer, wait / 1000.0, 0.);
    ev_timer_start(rd->loop, &rd->retry_timer);
}

/* The context ac is gone or going (hiredis frees it, or the caller is
 * about to): forget it, and come back later. Idempotent per context. */
static void rd_lost(pc_redis_t *rd, const redisAsyncContext *ac, const char *why)
{
    if (!rd->ac || rd->ac != ac)
        return;
    bool was_up = rd->state == RD_UP;
    rd->ac = NULL;
    ev_timer_stop(rd->loop, &rd->conn_timer);
    stat_set(rd->o.stat_up, 0);
    if (rd->state == RD_CLOSED)
        return;
    rd->state = RD_DOWN;
    if (!was_up)
        rd->attempts++;
    if (was_up) {
        rd_log(rd, PC_LOG_WARN, true, "connection lost (%s); reconnecting with backoff", why);
        rd->down_logged = true;
    } else {
        rd_log(rd, PC_LOG_WARN, !rd->down_logged, "cannot connect (%s); retrying with backoff",
               why);
        rd->down_logged = true;
    }
    rd_schedule(rd);
}

/* Why ac is lost: a reader bound it crossed (hiredis says "Out of memory"
 * then), else hiredis's error, else dflt. */
static const char *rd_why(const pc_redis_t *rd, const redisAsyncContext *ac, const char *dflt)
{
    return rd->bound.why ? rd->bound.why : ac->errstr[0] ? ac->errstr : dflt;
}

/* Closes the current context on our own initiative. */
static void rd_drop(pc_redis_t *rd, const char *why)
{
    redisAsyncContext *ac = rd->ac;
    if (!ac)
        return;
    rd_lost(rd, ac, why);
    redisAsyncFree(ac); /* pending callbacks run now (or after the current one) */
}

static void rd_up(pc_redis_t *rd)
{
    ev_timer_stop(rd->loop, &rd->conn_timer);
    rd->state = RD_UP;
    rd->backoff_ms = PC_REDIS_BACKOFF_MIN_MS;
    stat_set(rd->o.stat_up, 1);
    if (rd->ever_up)
        stat_inc(rd->o.stat_reconnects);
    if (rd->ever_up && rd->down_logged)
        rd_log(rd, PC_LOG_INFO, true, "connection restored (%u failed attempt%s)", rd->attempts,
               rd->attempts == 1 ? "" : "s");
    else if (!rd->ever_up)
        rd_log(rd, PC_LOG_INFO, true, "connected%s", rd->attempts ? " (after failed attempts)" : "");
    rd->ever_up = true;
    rd->down_logged = false;
    rd->attempts = 0;
}

/* ---- handshake ---- */

enum { HS_AUTH = 1, HS_SELECT, HS_PING, HS_LOAD0 };

static void rd_hs_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    pc_redis_t *rd = ac->data;
    redisReply *rep = reply;
    unsigned step = (unsigned)(uintptr_t)privdata;
    if (ac != rd->ac || rd->state != RD_CONNECTING)
        return;
    if (!rep) {
        rd_lost(rd, ac, rd_why(rd, ac, "connection closed during the handshake"));
        return;
    }
    char why[256];
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, sizeof(why), "%s refused: %.200s",
                 step == HS_AUTH ? "AUTH" : step == HS_SELECT ? "SELECT" : step == HS_PING ? "PING"
                                                                                           : "SCRIPT LOAD",
                 rep->str);
        rd_drop(rd, why);
        return;
    }
    if (step >= HS_LOAD0) {
        const pc_redis_script_t *s = &rd->o.scripts[step - HS_LOAD0];
        if (rep->type != REDIS_REPLY_STRING || rep->len != 40 || memcmp(rep->str, s->sha, 40)) {
            rd_drop(rd, "SCRIPT LOAD answered an unexpected SHA1");
            return;
        }
    }
    if (--rd->hs_pending == 0)
        rd_up(rd);
}

static void rd_hs_send(pc_redis_t *rd, unsigned step, int argc, const char **argv,
                       const size_t *len)
{
    if (redisAsyncCommandArgv(rd->ac, rd_hs_cb, (void *)(uintptr_t)step, argc, argv, len) ==
        REDIS_OK)
        rd->hs_pending++;
}

static void rd_handshake(pc_redis_t *rd)
{
    const pc_redis_addr_t *a = &rd->o.addr;
    if (a->password) {
        const char *argv[3] = {"AUTH", a->username ? a->username : a->password, a->password};
        size_t len[3] = {4, strlen(argv[1]), strlen(a->password)};
        rd_hs_send(rd, HS_AUTH, a->username ? 3 : 2, argv, len);
    }
    if (a->db) {
        char db[16];
        snprintf(db, sizeof(db), "%u", a->db);
        const char *argv[2] = {"SELECT", db};
        size_t len[2] = {6, strlen(db)};
        rd_hs_send(rd, HS_SELECT, 2, argv, len);
    }
    for (size_t i = 0; i < rd->o.nscripts; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", rd->o.scripts[i].src};
        size_t len[3] = {6, 4, rd->o.scripts[i].len};
        rd_hs_send(rd, HS_LOAD0 + (unsigned)i, 3, argv, len);
    }
    if (!rd->o.nscripts) {
        const char *argv[1] = {"PING"};
        size_t len[1] = {4};
        rd_hs_send(rd, HS_PING, 1, argv, len);
    }
}

static void rd_connect_cb(const redisAsyncContext *ac, int status)
{
    pc_redis_t *rd = ac->data;
    if (status != REDIS_OK)
        rd_lost(rd, ac, ac->errstr[0] ? ac->errstr : "connect failed"); /* hiredis frees ac */
}

static void rd_disconnect_cb(const redisAsyncContext *ac, int status)
{
    pc_redis_t *rd = ac->data;
    rd_lost(rd, ac, rd_why(rd, ac, "closed by the server"));
}

static void rd_conn_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_redis_t *rd = t->data;
    if (rd->state == RD_CONNECTING)
        rd_drop(rd, "connect timeout");
}

static void rd_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    rd_connect(t->data);
}

/* hiredis's libev read callback, and then the reader's bounds: an
 * announced bulk is buffered until it is complete, so its size is caught
 * here, between reads. */
static void rd_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    redisLibevEvents *e = io->data;
    redisAsyncContext *ac = e->context;
    pc_redis_t *rd = ac->data;
    redisAsyncHandleRead(ac);
    if (rd->ac != ac)
        return; /* lost (and freed) while reading */
    const char *why = pc_redis_bound_check(ac->c.reader, &rd->bound);
    if (why)
        rd_drop(rd, why);
}

static void rd_connect(pc_redis_t *rd)
{
    if (rd->state != RD_DOWN)
        return;
    const pc_redis_addr_t *a = &rd->o.addr;
    redisAsyncContext *ac = a->unix_path ? redisAsyncConnectUnix(a->unix_path)
                                         : redisAsyncConnect(a->host, (int)a->port);
    if (!ac) {
        rd->attempts++;
        rd_log(rd, PC_LOG_WARN, false, "cannot connect (%s)", "out of memory");
        rd_schedule(rd);
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        rd->attempts++;
        rd_log(rd, PC_LOG_WARN, !rd->down_logged, "cannot connect (%s); retrying with backoff",
               why);
        rd->down_logged = true;
        rd_schedule(rd);
        return;
    }
    ac->data = rd;
    pc_redis_bound_reader(ac->c.reader, &rd->bound);
    redisLibevAttach(rd->loop, ac);
    ev_set_cb(&((redisLibevEvents *)ac->ev.data)->rev, rd_read_cb);
    redisAsyncSetConnectCallback(ac, rd_connect_cb);
    redisAsyncSetDisconnectCallback(ac, rd_disconnect_cb);
    rd->ac = ac;
    rd->state = RD_CONNECTING;
    rd->hs_pending = 0;
    rd_handshake(rd);
    ev_timer_set(&rd->conn_timer, rd->o.connect_timeout_ms / 1000.0, 0.);
    ev_timer_start(rd->loop, &rd->conn_timer);
}

/* ---- commands ---- */

static void rd_finish(rcmd_t *c, int rc, const redisReply *rep)
{
    if (!c->expired) {
        c->expired = true;
        c->cb(c->data, rc, rc == 0 ? rep : (rep && rep->type == REDIS_REPLY_ERROR ? rep : NULL));
    }
}

static void rd_reload_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    /* The retried EVALSHA that follows reports any failure. */
}

static void rd_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
    rcmd_t *c = privdata;
    pc_redis_t *rd = c->rd;
    redisReply *rep = reply;
    if (!rep) {
        /* The context is being torn down: this is how a lost connection
         * shows first. */
        rd_lost(rd, ac, rd_why(rd, ac, "connection closed"));
    } else if (rep->type == REDIS_REPLY_ERROR && c->script >= 0 && !c->retried &&
               rep->len >= 8 && memcmp(rep->str, "NOSCRIPT", 8) == 0 && ac == rd->ac &&
               rd->state == RD_UP) {
        const pc_redis_script_t *s = &rd->o.scripts[c->script];
        const char *argv[3] = {"SCRIPT", "LOAD", s->src};
        size_t len[3] = {6, 4, s->len};
        c->retried = true;
        if (redisAsyncCommandArgv(ac, rd_reload_cb, NULL, 3, argv, len) == REDIS_OK &&
            redisAsyncFormattedCommand(ac, rd_reply_cb, c, c->buf, c->len) == REDIS_OK)
            return; /* still pending, same place in the list */
    }
    rd_unlink(rd, c);
    rd_finish(c, rep && rep->type != REDIS_REPLY_ERROR ? 0 : -1, rep);
    free(c);
}

static void rd_cmd_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_redis_t *rd = t->data;
    double now = ev_now(loop);
    while (rd->live && rd->live->deadline <= now + 0.0005) {
        rcmd_t *c = rd->live;
        rd->live = rd_next(rd, c);
        stat_inc(rd->o.stat_timeouts);
        rd_finish(c, -1, NULL);
    }
    const rcmd_t *first = rd_first(rd);
    if (first && first->deadline - rd->o.command_timeout_ms / 1000.0 + rd_dead_after(rd) <= now) {
        char why[96];
        snprintf(why, sizeof(why), "no reply for %.0f ms", rd_dead_after(rd) * 1000);
        rd_drop(rd, why);
        return;
    }
    rd_arm(rd);
}

static void rd_send(pc_redis_t *rd, pc_redis_cb cb, void *data, int script, int npre,
                    const char **pre, const size_t *prelen, int argc, const char **argv,
                    const size_t *argvlen)
{
    if (rd->state != RD_UP || rd->npending >= PC_REDIS_MAX_PENDING) {
        cb(data, -1, NULL);
        return;
    }
    size_t n = pc_redis_format(NULL, npre, pre, prelen, argc, argv, argvlen);
    rcmd_t *c = pc_xmalloc(sizeof(*c) + n + 1);
    c->len = pc_redis_format(c->buf, npre, pre, prelen, argc, argv, argvlen);
    PC_ASSERT(c->len == n);
    c->rd = rd;
    c->cb = cb;
    c->data = data;
    c->script = script;
    c->expired = c->retried = false;
    c->deadline = ev_now(rd->loop) + rd->o.command_timeout_ms / 1000.0;
    if (redisAsyncFormattedCommand(rd->ac, rd_reply_cb, c, c->buf, c->len) != REDIS_OK) {
        free(c);
        cb(data, -1, NULL);
        return;
    }
    pc_list_push_back(&rd->pending, &c->link);
    if (!rd->live)
        rd->live = c;
    rd->npending++;
    rd_arm(rd);
}

void pc_redis_command(pc_redis_t *rd, pc_redis_cb cb, void *data, int argc, const char **argv,
                      const size_t *argvlen)
{
    rd_send(rd, cb, data, -1, 0, NULL, NULL, argc, argv, argvlen);
}

void pc_redis_evalsha(pc_redis_t *rd, pc_redis_cb cb, void *data, unsigned script, int nkeys,
                      int argc, const char **argv, const size_t *argvlen)
{
    PC_ASSERT(script < rd->o.nscripts);
    char nk[16];
    const char *pre[3] = {"EVALSHA", rd->o.scripts[script].sha, nk};
    size_t prelen[3] = {7, 40, (size_t)snprintf(nk, sizeof(nk), "%d", nkeys)};
    rd_send(rd, cb, data, (int)script, 3, pre, prelen, argc, argv, argvlen);
}

void pc_redis_flush(pc_redis_t *rd)
{
    redisAsyncContext *ac = rd->ac;
    if (ac && (ac->c.flags & REDIS_CONNECTED) && sdslen(ac->c.obuf) > 0)
        redisAsyncHandleWrite(ac);
}

/* Commands issued while the loop ran go out now, in one write, instead of
 * after one more trip through epoll for the write watcher hiredis arms. */
static void rd_flush_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    pc_redis_t *rd = p->data;
    bool up = rd->state == RD_UP;
    pc_redis_flush(rd);
    /* A failed write dropped the connection and ran the pending callbacks
     * here, before the loop blocks: make it not block, so that what they
     * resumed runs (see the zero timer). */
    if (up && rd->state != RD_UP && !ev_is_active(&rd->kick))
        ev_timer_start(loop, &rd->kick);
}

static void rd_kick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
}

pc_redis_t *pc_redis_new(struct ev_loop *loop, const pc_redis_opts_t *opts)
{
    PC_ASSERT(opts->nscripts <= PC_REDIS_MAX_SCRIPTS);
    pc_redis_t *rd = pc_xcalloc(1, sizeof(*rd));
    rd->loop = loop;
    rd->o = *opts;
    if (!rd->o.connect_timeout_ms)
        rd->o.connect_timeout_ms = 500;
    if (!rd->o.command_timeout_ms)
        rd->o.command_timeout_ms = 200;
    rd->backoff_ms = PC_REDIS_BACKOFF_MIN_MS;
    rd->last_log = -1e9;
    pc_list_init(&rd->pending);
    pc_rng_seed(&rd->rng);
    pc_redis_addr_text(&rd->o.addr, rd->where, sizeof(rd->where));
    ev_timer_init(&rd->cmd_timer, rd_cmd_timer_cb, 1., 0.);
    ev_timer_init(&rd->conn_timer, rd_conn_timeout_cb, 1., 0.);
    ev_timer_init(&rd->retry_timer, rd_retry_cb, 1., 0.);
    rd->cmd_timer.data = rd->conn_timer.data = rd->retry_timer.data = rd;
    ev_timer_init(&rd->kick, rd_kick_cb, 0., 0.);
    ev_prepare_init(&rd->flusher, rd_flush_cb);
    rd->flusher.data = rd;
    ev_prepare_start(loop, &rd->flusher);
    ev_unref(loop); /* the flusher alone does not keep the loop running */
    stat_set(rd->o.stat_up, 0);
    rd_connect(rd);
    return rd;
}

void pc_redis_free(pc_redis_t *rd)
{
    if (!rd)
        return;
    rd->state = RD_CLOSED;
    if (rd->ac) {
        redisAsyncContext *ac = rd->ac;
        rd->ac = NULL;
        redisAsyncFree(ac); /* every pending callback runs, with rc -1 */
    }
    PC_ASSERT(pc_list_empty(&rd->pending));
    ev_timer_stop(rd->loop, &rd->cmd_timer);
    ev_timer_stop(rd->loop, &rd->conn_timer);
    ev_timer_stop(rd->loop, &rd->retry_timer);
    ev_timer_stop(rd->loop, &rd->kick);
    ev_ref(rd->loop);
    ev_prepare_stop(rd->loop, &rd->flusher);
    stat_set(rd->o.stat_up, 0);
    free(rd);
}

bool pc_redis_is_up(const pc_redis_t *rd)
{
    return rd && rd->state == RD_UP;
}
