/* gateway/store/store_check.c: rate-limit checks on the Redis store.
 *
 * A worker answers what it can from its lease table (gateway/store/lease.h):
 * requests admitted from a lease, or refused until a retry time. The
 * others wait on their key's entry, and the entry is queued for a check.
 * When requests wait, every queued check goes out right before the loop
 * blocks (a prepare watcher; a zero timer for checks queued after it
 * ran). Renewals of leases running low have no request waiting on them:
 * they wait up to STC_RENEW_DELAY_MS for company, so that they go out
 * many to a batch, or with the next urgent check. With "batch" on
 * (the default) as one EVALSHA of gateway/store/ratelimit.lua for all of them,
 * otherwise one EVALSHA each. While one batch is in flight the next one
 * gathers: it goes out when the reply comes (or the command times out).
 * Under load that makes batches larger, and each batch costs both sides a
 * write, a read and usually a wake-up, about as much as the checks it
 * carries; a check waits at most one extra round trip.
 *
 * When Redis cannot answer a check, each of its waiting requests gets the
 * store's on_error policy: the local memory store (fail_open) or an error
 * (fail_closed). */
#include "store/store_check.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/thread.h"
#include "base/util.h"
#include "store/lease.h"
#include "store/redis_reply.h"
#include "store/store_verdict.h"

#include <ev.h>

#include <hiredis/hiredis.h>

#include <string.h>

#define STC_RENEW_DELAY_MS 10      /* a lease renewal waits this long for others */
/* checks in one batch: its reply must stay within the reader's bounds */
#define STC_BATCH_MAX (PC_REDIS_REPLY_MAX_ELEMENTS / PC_STC_VALUES)

/* One worker's checks. */
typedef struct stc_worker {
    pc_store_t *st;
    unsigned id;
    struct ev_loop *loop;          /* NULL: this worker has no state (not started) */
    pc_lease_table_t *leases;
    ev_prepare prep;
    ev_timer kick;                 /* zero delay: see stc_queue */
    ev_timer renew;                /* STC_RENEW_DELAY_MS: renewals only */
    ev_timer sweep;
    pc_lease_t **q;                /* entries whose check waits to go out */
    size_t n, cap;
    bool urgent;                   /* a queued check has requests waiting */
    bool in_flight;                /* batch: a batch awaits its reply */
} stc_worker_t;

/* What one check sends: ratelimit.lua's per-check arguments. */
typedef struct stc_check {
    const unsigned char *key;
    size_t klen;
    const pc_rl_limit_t *limits;
    size_t n;
    uint64_t need, extra, give;
} stc_check_t;

static stc_check_t stc_check_of(const pc_lease_t *e)
{
    return (stc_check_t){e->key, e->klen, e->limits, e->n, e->sent_need, e->sent_extra,
                         e->sent_give};
}

/* ---- the command ---------------------------------------------------------- */

/* EVALSHA arguments: every check's keys, then now (empty: Redis TIME), then
 * per check n, need, extra, giveback and 4 per limit. */
typedef struct stc_cmd {
    const char **argv;
    size_t *len;
    int argc, nkeys;
    char *buf;
    size_t off, cap;
} stc_cmd_t;

static void stc_arg(stc_cmd_t *c, const char *s, size_t len)
{
    c->argv[c->argc] = s;
    c->len[c->argc++] = len;
}

static void stc_num(stc_cmd_t *c, unsigned long long v)
{
    char *p = c->buf + c->off;
    int n = snprintf(p, 24, "%llu", v);
    PC_ASSERT(n > 0 && c->off + (size_t)n + 1 <= c->cap);
    c->off += (size_t)n + 1;
    stc_arg(c, p, (size_t)n);
}

static void stc_build(const pc_store_t *st, stc_cmd_t *c, const stc_check_t *k, size_t nk)
{
    size_t nkeys = 0, nargs = 1, bytes = 64;
    for (size_t i = 0; i < nk; i++) {
        nkeys += k[i].n;
        nargs += 4 + 4 * k[i].n;
        bytes += k[i].n * (strlen(st->prefix) + 3 * k[i].klen + 8) + (4 * k[i].n + 4) * 24;
    }
    *c = (stc_cmd_t){pc_xmalloc((nkeys + nargs) * sizeof(char *)),
                     pc_xmalloc((nkeys + nargs) * sizeof(size_t)), 0, (int)nkeys,
                     pc_xmalloc(bytes), 0, bytes};
    for (size_t i = 0; i < nk; i++)
        for (size_t l = 0; l < k[i].n; l++) {
            char suffix[4] = {':', 'l', (char)('0' + l), '\0'};
            char *p = c->buf + c->off;
            size_t n = pc_store_redis_key(p, st->prefix, k[i].key, k[i].klen, suffix);
            c->off += n + 1;
            PC_ASSERT(c->off <= c->cap);
            stc_arg(c, p, n);
        }
    stc_arg(c, "", 0); /* now: Redis TIME */
    for (size_t i = 0; i < nk; i++) {
        stc_num(c, k[i].n);
        stc_num(c, k[i].need);
        stc_num(c, k[i].extra);
        stc_num(c, k[i].give);
        for (size_t l = 0; l < k[i].n; l++) {
            const pc_rl_limit_t *li = &k[i].limits[l];
            bool sliding = li->alg == PC_RL_SLIDING;
            stc_arg(c, sliding ? "sliding" : "gcra", sliding ? 7 : 4);
            stc_num(c, li->rate);
            stc_num(c, li->period_ms);
            stc_num(c, li->burst);
        }
    }
    PC_ASSERT((size_t)c->argc == nkeys + nargs);
}

static void stc_cmd_free(stc_cmd_t *c)
{
    free(c->argv);
    free(c->len);
    free(c->buf);
}

/* Sends the checks as one EVALSHA on worker id's connection (the blocking
 * one for PC_THREAD_NO_WORKER); cb(data, ...) gets the reply. */
static void stc_send(pc_store_t *st, unsigned id, const stc_check_t *k, size_t nk, pc_redis_cb cb,
                     void *data)
{
    stc_cmd_t c;
    stc_build(st, &c, k, nk);
    if (id < st->nworkers && st->wconn[id])
        pc_redis_evalsha(st->wconn[id], cb, data, PC_ST_SCRIPT_LIMIT, c.nkeys, c.argc, c.argv,
                         c.len);
    else if (id == PC_THREAD_NO_WORKER)
        pc_redis_sync_evalsha(st->sync, cb, data, PC_ST_SCRIPT_LIMIT, c.nkeys, c.argc, c.argv,
                              c.len);
    else
        cb(data, -1, NULL); /* a worker without a connection (stopping) */
    stc_cmd_free(&c);
}

/* ---- failures ----------------------------------------------------------------- */

/* Redis could not answer for this request: the store's on_error policy. */
static void stc_fail_one(pc_store_t *st, const void *key, size_t klen, const pc_rl_limit_t *l,
                         size_t n, pc_store_limit_cb cb, void *data, const char *why)
{
    pc_limit_result_t res = {0};
    pc_st_count(st, PC_SM_ERRORS);
    pc_st_log_unavailable(st, why);
    if (!st->fail_open) {
        cb(data, -1, &res);
        return;
    }
    pc_st_count(st, PC_SM_FALLBACKS);
    int rc = pc_st_mem_limit(st, key, klen, l, n, &res);
    res.local = 1;
    cb(data, rc, &res);
}

static void stc_fail_waiters(pc_store_t *st, const pc_lease_t *e, pc_lease_waiter_t *list,
                             const char *why)
{
    while (list) {
        pc_lease_waiter_t *wt = list;
        list = wt->next;
        stc_fail_one(st, e->key, e->klen, e->limits, e->n, wt->cb, wt->data, why);
        free(wt);
    }
}

static void stc_deliver(pc_lease_waiter_t *wt, const pc_limit_result_t *res)
{
    pc_store_limit_cb cb = wt->cb;
    void *data = wt->data;
    free(wt);
    cb(data, 0, res);
}

/* ---- the queue ---------------------------------------------------------------- */

/* Arms the renewal timer. A one-shot timer that fired keeps a relative
 * time of about 0 in libev: it must be set again before each start. */
static void stc_renew_arm(stc_worker_t *sw)
{
    if (ev_is_active(&sw->renew))
        return;
    ev_timer_set(&sw->renew, STC_RENEW_DELAY_MS / 1000., 0.);
    ev_timer_start(sw->loop, &sw->renew);
}

/* Queues e's check. An urgent one (requests wait on it) goes out from the
 * prepare watcher, before the loop blocks; one queued after that watcher
 * ran (by another prepare watcher) arms the zero timer, so the loop does
 * not block with it queued. The others wait for the renewal timer or for
 * the next urgent check, whichever comes first. */
static void stc_queue(stc_worker_t *sw, pc_lease_t *e, bool urgent)
{
    if (urgent) {
        sw->urgent = true;
        if (!ev_is_active(&sw->kick))
            ev_timer_start(sw->loop, &sw->kick);
    } else {
        stc_renew_arm(sw);
    }
    if (e->queued || e->in_flight)
        return;
    if (sw->n == sw->cap) {
        sw->cap = sw->cap ? 2 * sw->cap : 16;
        sw->q = pc_xrealloc(sw->q, sw->cap * sizeof(sw->q[0]));
    }
    sw->q[sw->n++] = e;
    e->queued = true;
}

static void stc_give(void *arg, pc_lease_t *e)
{
    stc_queue(arg, e, false);
}

/* Checks in flight: their entries, in the order of the reply. */
typedef struct stc_sent {
    stc_worker_t *sw;
    bool batch;
    size_t n;
    pc_lease_t *e[];
} stc_sent_t;

static void stc_reply(void *data, int rc, const redisReply *rep)
{
    stc_sent_t *sent = data;
    stc_worker_t *sw = sent->sw;
    bool ok = rc == 0 && pc_stc_reply_shaped(rep, sent->n);
    char why[160] = "unexpected reply";
    if (!ok)
        pc_st_why(rep, why, sizeof(why));
    if (sent->batch) {
        /* the next batch goes out before the loop blocks, or with the
         * renewal timer if it holds only renewals */
        sw->in_flight = false;
        if (sw->n)
            stc_renew_arm(sw);
    }
    uint64_t now = pc_clock_mono_ms();
    for (size_t i = 0; i < sent->n; i++) {
        pc_lease_t *e = sent->e[i];
        stc_check_t k = stc_check_of(e);
        uint64_t granted;
        pc_limit_result_t res, over;
        int again;
        if (ok && pc_stc_verdict(rep->element + PC_STC_VALUES * i, k.need + k.extra, k.n,
                                 &granted, &res, &over) == 0) {
            again = pc_lease_granted(sw->leases, e, now, granted, &res, &over, stc_deliver);
        } else {
            pc_lease_waiter_t *failed;
            again = pc_lease_failed(e, &failed);
            stc_fail_waiters(sw->st, e, failed, why);
        }
        if (again)
            stc_queue(sw, e, true);
        pc_lease_settle(sw->leases, e);
    }
    free(sent);
}

static void stc_flush(stc_worker_t *sw)
{
    if (ev_is_active(&sw->kick))
        ev_timer_stop(sw->loop, &sw->kick);
    size_t n = sw->n;
    pc_store_t *st = sw->st;
    if (!n || (st->batch && sw->in_flight))
        return;
    if (ev_is_active(&sw->renew))
        ev_timer_stop(sw->loop, &sw->renew);
    if (n > STC_BATCH_MAX)
        n = STC_BATCH_MAX; /* the rest goes with the next batch, as urgent as it was */
    else
        sw->urgent = false;
    uint64_t now = pc_clock_mono_ms();
    size_t nsend = st->batch ? 1 : n, per = st->batch ? n : 1;
    stc_check_t *k = pc_xmalloc(n * sizeof(*k));
    pc_lease_t **q = pc_xmalloc(n * sizeof(*q));
    memcpy(q, sw->q, n * sizeof(*q));
    sw->n -= n; /* callbacks that run now may queue again */
    memmove(sw->q, sw->q + n, sw->n * sizeof(*q));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        pc_lease_t *e = q[i];
        e->queued = false;
        pc_lease_plan(sw->leases, e, now);
        if (e->sent_need || e->sent_extra || e->sent_give) {
            q[m++] = e;
            continue;
        }
        e->in_flight = false; /* nothing left to ask (a giveback went with a check) */
        pc_lease_settle(sw->leases, e);
    }
    n = m;
    if (!n)
        goto out;
    nsend = st->batch ? 1 : n;
    per = st->batch ? n : 1;
    pc_st_add(st, PC_SM_CHECKS, n);
    for (size_t s = 0; s < nsend; s++) {
        stc_sent_t *sent = pc_xmalloc(sizeof(*sent) + per * sizeof(sent->e[0]));
        *sent = (stc_sent_t){sw, st->batch, per};
        for (size_t i = 0; i < per; i++) {
            sent->e[i] = q[s * per + i];
            k[i] = stc_check_of(sent->e[i]);
        }
        if (st->batch)
            sw->in_flight = true;
        stc_send(st, sw->id, k, per, stc_reply, sent);
    }
out:
    free(k);
    free(q);
    pc_redis_t *rd = st->wconn[sw->id];
    if (rd)
        pc_redis_flush(rd);
    /* Without a connection the callbacks ran just now, and may have resumed
     * requests: from a prepare watcher, whose resumes the worker's own
     * prepare may have missed, the loop must not block before running
     * again. The zero timer sees to it (it finds nothing left to send). */
    if (!rd || !pc_redis_is_up(rd))
        ev_timer_start(sw->loop, &sw->kick);
}

static void stc_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    stc_worker_t *sw = p->data;
    if (sw->urgent)
        stc_flush(sw);
}

static void stc_kick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    stc_flush(t->data);
}

static void stc_sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    stc_worker_t *sw = t->data;
    pc_lease_sweep(sw->leases, pc_clock_mono_ms());
}

/* ---- entry points ----------------------------------------------------------------- */

/* A thread that is no worker: one check on the blocking connection, answered
 * before return. */
typedef struct stc_sync {
    pc_store_t *st;
    stc_check_t k;
    pc_store_limit_cb cb;
    void *data;
} stc_sync_t;

static void stc_sync_reply(void *data, int rc, const redisReply *rep)
{
    stc_sync_t *s = data;
    uint64_t granted;
    pc_limit_result_t res, over;
    if (rc == 0 && pc_stc_reply_shaped(rep, 1) &&
        pc_stc_verdict(rep->element, s->k.need + s->k.extra, s->k.n, &granted, &res, &over) == 0) {
        s->cb(s->data, 0, &res);
        return;
    }
    char why[160];
    pc_st_why(rep, why, sizeof(why));
    stc_fail_one(s->st, s->k.key, s->k.klen, s->k.limits, s->k.n, s->cb, s->data, why);
}

void pc_stc_limit(pc_store_t *st, unsigned id, const void *key, size_t klen,
                  const pc_rl_limit_t *l, size_t n, pc_store_limit_cb cb, void *data)
{
    if (id == PC_THREAD_NO_WORKER) {
        stc_sync_t s = {st, {key, klen, l, n, 1, 0, 0}, cb, data};
        stc_send(st, id, &s.k, 1, stc_sync_reply, &s);
        return;
    }
    stc_worker_t *sw = st->stc && id < st->nworkers && st->stc[id].loop ? &st->stc[id] : NULL;
    if (!sw) {
        stc_fail_one(st, key, klen, l, n, cb, data, "this worker has no Redis connection");
        return;
    }
    uint64_t now = pc_clock_mono_ms();
    pc_lease_t *e = pc_lease_get(sw->leases, key, klen, l, n, now);
    pc_limit_result_t res;
    int how = pc_lease_local(sw->leases, e, now, &res);
    if (how != PC_LEASE_WAIT) {
        if (how == PC_LEASE_RENEW)
            stc_queue(sw, e, false);
        pc_st_count(st, res.allowed ? PC_SM_LEASE_ADMITTED : PC_SM_LEASE_REFUSED);
        cb(data, 0, &res);
        return;
    }
    pc_lease_waiter_t *wt = pc_xmalloc(sizeof(*wt));
    wt->cb = cb;
    wt->data = data;
    pc_lease_wait(e, wt);
    stc_queue(sw, e, true);
}

void pc_stc_worker_start(pc_store_t *st, unsigned id, struct ev_loop *loop)
{
    if (!st->stc)
        st->stc = pc_xcalloc(st->nworkers ? st->nworkers : 1, sizeof(*st->stc));
    stc_worker_t *sw = &st->stc[id];
    sw->st = st;
    sw->id = id;
    sw->loop = loop;
    sw->leases = pc_lease_table_new(st->lease_ms, stc_give, sw);
    ev_prepare_init(&sw->prep, stc_prepare_cb);
    sw->prep.data = sw;
    ev_prepare_start(loop, &sw->prep);
    ev_unref(loop); /* it alone does not keep the loop running */
    ev_timer_init(&sw->kick, stc_kick_cb, 0., 0.);
    sw->kick.data = sw;
    ev_timer_init(&sw->renew, stc_kick_cb, STC_RENEW_DELAY_MS / 1000., 0.);
    sw->renew.data = sw;
    ev_timer_init(&sw->sweep, stc_sweep_cb, PC_LEASE_SWEEP_MS / 1000., PC_LEASE_SWEEP_MS / 1000.);
    sw->sweep.data = sw;
    ev_timer_start(loop, &sw->sweep);
    ev_unref(loop);
}

void pc_stc_worker_drain(pc_store_t *st, unsigned id)
{
    if (st->stc && id < st->nworkers && st->stc[id].loop)
        stc_flush(&st->stc[id]); /* answered with the connection's end */
}

void pc_stc_worker_stop(pc_store_t *st, unsigned id)
{
    if (!st->stc || id >= st->nworkers || !st->stc[id].loop)
        return;
    stc_worker_t *sw = &st->stc[id];
    struct ev_loop *loop = sw->loop;
    PC_ASSERT(st->wconn[id] == NULL);
    /* Without a connection every check fails at once; callbacks that check
     * again are answered too, a bounded number of rounds. */
    for (int round = 0; round < 1000 && sw->n; round++)
        stc_flush(sw);
    ev_ref(loop);
    ev_prepare_stop(loop, &sw->prep);
    ev_ref(loop);
    ev_timer_stop(loop, &sw->sweep);
    ev_timer_stop(loop, &sw->kick);
    ev_timer_stop(loop, &sw->renew);
    pc_lease_table_free(sw->leases);
    free(sw->q);
    memset(sw, 0, sizeof(*sw));
}

void pc_stc_shutdown(pc_store_t *st)
{
    free(st->stc);
    st->stc = NULL;
}
