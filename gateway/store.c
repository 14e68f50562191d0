/* gateway/store.c: the pc_store_* plugin calls, dispatched to the memory
 * store or to Redis (contract in store.h and plugin.h).
 *
 * Memory: one pc_mstore_t shared by every worker of the process (it shards
 * and locks internally), so a limit counts every worker's requests. Its
 * answers are immediate: callbacks run before the call returns.
 *
 * Redis: each call becomes one command on the calling worker's connection
 * (or on the blocking connection when w == NULL). A call's state (callback,
 * key, limits) lives in one malloc'd st_req_t until its reply, because a
 * fail_open fallback must be able to redo the operation on the memory
 * store. When the connection is down the redis client answers at once, so
 * a fail_open gateway without Redis costs one memory-store call more than
 * a memory-only one, never a wait.
 *
 * Batching ("batch": true, the default): a worker's limit checks are
 * queued during a loop iteration and sent by a prepare watcher, right
 * before the loop blocks, as one EVALSHA in ratelimit.lua's batch mode
 * (one check alone goes in single mode). A check queued after that watcher
 * ran (by another prepare watcher) arms a zero timer, so it never waits for
 * the next wake-up. While one batch is in flight the next one gathers: it
 * goes out when the reply comes (or the command times out). Under load
 * that makes batches several times larger, and each batch costs both
 * sides a write, a read and usually a wake-up, about as much as the checks
 * it carries; a check waits at most one extra round trip. Flags and
 * counters are not batched. */
#include "store.h"
#include "log.h"
#include "ratelimit.h"
#include "redis.h"
#include "store_memory.h"
#include "util.h"
#include "worker.h"

#include <portcullis/plugin.h>

#include <hiredis/hiredis.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>

enum { SCRIPT_LIMIT = 0, SCRIPT_COUNT, SCRIPT_N };

/* The failure counter: the window opens at the first increment (INCR, then
 * PEXPIRE on the first one; a key that somehow lost its expiry gets one). */
static const char count_lua[] =
    "-- portcullis store: failure counter (gateway/store.c)\n"
    "local c = redis.call('INCR', KEYS[1])\n"
    "if c == 1 or redis.call('PTTL', KEYS[1]) < 0 then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "end\n"
    "return c\n";

/* Limit checks a worker queued during one loop iteration (store.batch). */
typedef struct st_wbatch {
    struct pc_worker *w;
    ev_prepare prep;
    ev_timer timer;                /* zero delay: see st_batch_add */
    struct st_req **q;
    size_t n, cap;
    bool in_flight;                /* a batch awaits its reply */
} st_wbatch_t;

static struct store {
    pc_mstore_t *mem;
    bool redis;
    bool fail_open;
    char prefix[72];
    pc_redis_opts_t opts;          /* addr strings owned here */
    pc_redis_script_t scripts[SCRIPT_N];
    pc_redis_t **wconn;            /* by worker id */
    st_wbatch_t *wbatch;           /* by worker id, when batch */
    bool batch;
    char (*wname)[24];
    unsigned nworkers;
    pc_redis_sync_t *sync;         /* w == NULL */
    pc_counter_t main_stats[PC_SM_KINDS]; /* w == NULL: several threads, atomic adds */
    _Atomic uint64_t last_log_ms;
} st;

/* ---- helpers ------------------------------------------------------------- */

/* Clock for the memory store: wall-clock milliseconds, the same base the
 * Redis script's TIME uses, so expiries mean the same thing everywhere. */
static uint64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void st_count(pc_worker_t *w, unsigned kind)
{
    if (w)
        pc_counter_add(&w->metrics.store[kind], 1);
    else
        atomic_fetch_add_explicit(&st.main_stats[kind], 1, memory_order_relaxed);
}

void pc_stat_inc(pc_worker_t *w, unsigned stat)
{
    static const unsigned map[] = {
        [PC_STAT_RATELIMIT_LIMITED] = PC_SM_RL_LIMITED,
        [PC_STAT_BRUTEFORCE_FAILURE] = PC_SM_BF_FAILURES,
        [PC_STAT_BRUTEFORCE_LOCKOUT] = PC_SM_BF_LOCKOUTS,
        [PC_STAT_BRUTEFORCE_DENIED] = PC_SM_BF_DENIED,
    };
    if (stat < PC_ARRAY_LEN(map))
        st_count(w, map[stat]);
}

/* At most one line every 10 s for the whole process. */
static void st_log_unavailable(const char *why)
{
    uint64_t now = pc_now_ms(), last = atomic_load_explicit(&st.last_log_ms, memory_order_relaxed);
    if (last && now - last < 10000)
        return;
    if (!atomic_compare_exchange_strong(&st.last_log_ms, &last, now))
        return;
    if (st.fail_open)
        pc_log_write(PC_LOG_WARN,
                     "store: redis cannot answer (%s): answering from this gateway's memory store "
                     "(on_error fail_open; limits are per gateway until redis is back)",
                     why);
    else
        pc_log_write(PC_LOG_WARN,
                     "store: redis cannot answer (%s): store calls fail (on_error fail_closed)",
                     why);
}

size_t pc_store_redis_key(char *out, const char *prefix, const void *key, size_t klen,
                          const char *suffix)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *k = key;
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    out[n++] = '{';
    for (size_t i = 0; i < klen && i < PC_MSTORE_MAX_KEY; i++) {
        unsigned char c = k[i];
        if (c == '{' || c == '}' || c == '%') {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '}';
    size_t s = strlen(suffix);
    memcpy(out + n, suffix, s);
    n += s;
    out[n] = '\0';
    return n;
}

/* ---- memory operations ----------------------------------------------------------- */

static void rl_limits(const pc_limit_spec_t *in, size_t n, pc_rl_limit_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (pc_rl_limit_t){in[i].period_ms, in[i].rate, in[i].burst,
                                 in[i].alg == PC_RL_ALG_SLIDING ? PC_RL_SLIDING : PC_RL_GCRA};
}

static int mem_limit(const void *key, size_t klen, const pc_rl_limit_t *l, size_t n,
                     pc_limit_result_t *out)
{
    pc_rl_result_t res = {0};
    int rc = st.mem ? pc_mstore_limit(st.mem, key, klen, l, n, store_now_ms(), &res) : -1;
    *out = (pc_limit_result_t){res.allowed, res.limit, res.remaining, res.reset_ms,
                               res.retry_after_ms, 0};
    return rc == 0 ? 0 : -1;
}

static int mem_flag_set(const void *key, size_t klen, uint64_t ttl_ms)
{
    uint64_t now = store_now_ms();
    return st.mem && pc_mstore_set_flag(st.mem, key, klen, now + ttl_ms, now) == 0 ? 0 : -1;
}

static int mem_flag_check(const void *key, size_t klen, int *present)
{
    int rc = st.mem ? pc_mstore_has_flag(st.mem, key, klen, store_now_ms()) : -1;
    *present = rc == 1;
    return rc < 0 ? -1 : 0;
}

static int mem_count(const void *key, size_t klen, uint64_t window_ms, uint64_t *count)
{
    *count = 0;
    return st.mem && pc_mstore_incr_window(st.mem, key, klen, window_ms, store_now_ms(), count) == 0
               ? 0
               : -1;
}

/* ---- redis operations --------------------------------------------------------------- */

enum { OP_LIMIT, OP_FLAG_SET, OP_FLAG_CHECK, OP_COUNT };

typedef struct st_req {
    pc_worker_t *w;
    int op;
    union {
        pc_store_limit_cb limit;
        pc_store_done_cb done;
        pc_store_flag_cb flag;
        pc_store_count_cb count;
    } cb;
    void *data;
    uint64_t arg;                  /* ttl or window */
    pc_rl_limit_t limits[PC_RL_MAX_LIMITS];
    size_t n;
    size_t klen;
    unsigned char key[PC_MSTORE_MAX_KEY];
} st_req_t;

/* Redis could not answer: the configured policy. */
static void st_fail(st_req_t *q, const char *why)
{
    st_count(q->w, PC_SM_ERRORS);
    st_log_unavailable(why);
    int rc = -1;
    if (!st.fail_open) {
        switch (q->op) {
        case OP_LIMIT: {
            pc_limit_result_t zero = {0};
            q->cb.limit(q->data, -1, &zero);
            break;
        }
        case OP_FLAG_SET:
            if (q->cb.done)
                q->cb.done(q->data, -1);
            break;
        case OP_FLAG_CHECK:
            q->cb.flag(q->data, -1, 0);
            break;
        case OP_COUNT:
            q->cb.count(q->data, -1, 0);
            break;
        }
        return;
    }
    st_count(q->w, PC_SM_FALLBACKS);
    switch (q->op) {
    case OP_LIMIT: {
        pc_limit_result_t res;
        rc = mem_limit(q->key, q->klen, q->limits, q->n, &res);
        res.local = 1;
        q->cb.limit(q->data, rc, &res);
        break;
    }
    case OP_FLAG_SET:
        rc = mem_flag_set(q->key, q->klen, q->arg);
        if (q->cb.done)
            q->cb.done(q->data, rc);
        break;
    case OP_FLAG_CHECK: {
        int present = 0;
        rc = mem_flag_check(q->key, q->klen, &present);
        q->cb.flag(q->data, rc, present);
        break;
    }
    case OP_COUNT: {
        uint64_t count = 0;
        rc = mem_count(q->key, q->klen, q->arg, &count);
        q->cb.count(q->data, rc, count);
        break;
    }
    }
}

static int rep_int(const redisReply *r, long long lo, long long hi, long long *out)
{
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < lo || r->integer > hi)
        return -1;
    *out = r->integer;
    return 0;
}

/* A limit result: the script's five integers. -1 if they do not fit. */
static int st_deliver_limit(st_req_t *q, redisReply *const *el)
{
    long long v[5];
    for (size_t i = 0; i < 5; i++)
        if (rep_int(el[i], 0, (long long)1 << 53, &v[i]) != 0)
            return -1;
    if (v[0] > 1 || (size_t)v[4] >= q->n)
        return -1;
    pc_limit_result_t res = {(int)v[0], (unsigned)v[4], (uint64_t)v[1], (uint64_t)v[2],
                             (uint64_t)v[3], 0};
    q->cb.limit(q->data, 0, &res);
    return 0;
}

/* A reply of the expected shape: deliver it. -1 otherwise. */
static int st_deliver(st_req_t *q, const redisReply *rep)
{
    long long v[5];
    switch (q->op) {
    case OP_LIMIT:
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 5)
            return -1;
        return st_deliver_limit(q, rep->element);
    case OP_FLAG_SET:
        if (rep->type != REDIS_REPLY_STATUS && rep->type != REDIS_REPLY_INTEGER)
            return -1;
        if (q->cb.done)
            q->cb.done(q->data, 0);
        return 0;
    case OP_FLAG_CHECK:
        if (rep_int(rep, 0, 1, &v[0]) != 0)
            return -1;
        q->cb.flag(q->data, 0, (int)v[0]);
        return 0;
    case OP_COUNT:
        if (rep_int(rep, 1, (long long)1 << 53, &v[0]) != 0)
            return -1;
        q->cb.count(q->data, 0, (uint64_t)v[0]);
        return 0;
    }
    return -1;
}

static void st_why(const redisReply *rep, char *why, size_t len)
{
    if (rep && rep->type == REDIS_REPLY_ERROR)
        snprintf(why, len, "error reply: %.120s", rep->str);
    else if (rep)
        snprintf(why, len, "unexpected reply type %d", rep->type);
    else
        snprintf(why, len, "unreachable, or slower than command_timeout_ms");
}

static void st_reply(void *data, int rc, const redisReply *rep)
{
    st_req_t *q = data;
    if (rc == 0 && rep && st_deliver(q, rep) == 0) {
        free(q);
        return;
    }
    char why[160];
    st_why(rep, why, sizeof(why));
    st_fail(q, why);
    free(q);
}

static st_req_t *st_req_new(pc_worker_t *w, int op, void *data, const void *key, size_t klen)
{
    st_req_t *q = pc_xmalloc(offsetof(st_req_t, key) + klen);
    q->w = w;
    q->op = op;
    q->data = data;
    q->arg = 0;
    q->n = 0;
    q->klen = klen;
    memcpy(q->key, key, klen);
    return q;
}

static void st_send(st_req_t *q, int script, int nkeys, int argc, const char **argv,
                    const size_t *len)
{
    pc_worker_t *w = q->w;
    if (w && w->id < st.nworkers && st.wconn[w->id]) {
        if (script >= 0)
            pc_redis_evalsha(st.wconn[w->id], st_reply, q, (unsigned)script, nkeys, argc, argv,
                             len);
        else
            pc_redis_command(st.wconn[w->id], st_reply, q, argc, argv, len);
    } else if (!w) {
        if (script >= 0)
            pc_redis_sync_evalsha(st.sync, st_reply, q, (unsigned)script, nkeys, argc, argv, len);
        else
            pc_redis_sync_command(st.sync, st_reply, q, argc, argv, len);
    } else {
        st_reply(q, -1, NULL); /* a worker without a connection (not started) */
    }
}

/* ---- limit checks: single and batched EVALSHA ----------------------------------------- */

/* The EVALSHA arguments of nq limit checks: the keys of every check, then
 * ARGV (single: now, 4 per limit; batch: "batch", now, then per check its
 * limit count and 4 per limit; see gateway/ratelimit.lua). */
typedef struct st_cmd {
    const char **argv;
    size_t *len;
    int argc, nkeys;
    char *buf;
    size_t off, cap;
} st_cmd_t;

static const char *st_num(st_cmd_t *c, unsigned long long v, size_t *len)
{
    char *p = c->buf + c->off;
    int n = snprintf(p, 24, "%llu", v);
    PC_ASSERT(n > 0 && c->off + (size_t)n + 1 <= c->cap);
    c->off += (size_t)n + 1;
    *len = (size_t)n;
    return p;
}

static void st_build(st_cmd_t *c, st_req_t *const *qs, size_t nq)
{
    size_t nkeys = 0, nargs = nq > 1 ? 2 : 1, bytes = 64;
    for (size_t i = 0; i < nq; i++) {
        nkeys += qs[i]->n;
        nargs += (nq > 1) + 4 * qs[i]->n;
        bytes += qs[i]->n * (strlen(st.prefix) + 3 * qs[i]->klen + 8) + (4 * qs[i]->n + 1) * 25;
    }
    c->argc = 0;
    c->nkeys = (int)nkeys;
    c->argv = pc_xmalloc((nkeys + nargs) * sizeof(*c->argv));
    c->len = pc_xmalloc((nkeys + nargs) * sizeof(*c->len));
    c->buf = pc_xmalloc(bytes);
    c->off = 0;
    c->cap = bytes;
    for (size_t i = 0; i < nq; i++)
        for (size_t k = 0; k < qs[i]->n; k++) {
            char suffix[8] = {':', 'l', (char)('0' + k), '\0'};
            char *p = c->buf + c->off;
            size_t n = pc_store_redis_key(p, st.prefix, qs[i]->key, qs[i]->klen, suffix);
            c->off += n + 1;
            PC_ASSERT(c->off <= c->cap);
            c->argv[c->argc] = p;
            c->len[c->argc++] = n;
        }
    if (nq > 1) {
        c->argv[c->argc] = "batch";
        c->len[c->argc++] = 5;
    }
    c->argv[c->argc] = ""; /* now: redis TIME */
    c->len[c->argc++] = 0;
    for (size_t i = 0; i < nq; i++) {
        if (nq > 1) {
            c->argv[c->argc] = st_num(c, qs[i]->n, &c->len[c->argc]);
            c->argc++;
        }
        for (size_t k = 0; k < qs[i]->n; k++) {
            const pc_rl_limit_t *li = &qs[i]->limits[k];
            c->argv[c->argc] = li->alg == PC_RL_SLIDING ? "sliding" : "gcra";
            c->len[c->argc] = li->alg == PC_RL_SLIDING ? 7 : 4;
            c->argc++;
            c->argv[c->argc] = st_num(c, li->rate, &c->len[c->argc]);
            c->argc++;
            c->argv[c->argc] = st_num(c, li->period_ms, &c->len[c->argc]);
            c->argc++;
            c->argv[c->argc] = st_num(c, li->burst, &c->len[c->argc]);
            c->argc++;
        }
    }
    PC_ASSERT((size_t)c->argc == nkeys + nargs);
}

static void st_cmd_free(st_cmd_t *c)
{
    free(c->argv);
    free(c->len);
    free(c->buf);
}

/* Sends nq checks as one EVALSHA; cb(data, ...) gets the reply. */
static void st_send_limits(st_req_t *const *qs, size_t nq, pc_redis_cb cb, void *data)
{
    st_cmd_t c;
    pc_worker_t *w = qs[0]->w;
    st_build(&c, qs, nq);
    if (w && w->id < st.nworkers && st.wconn[w->id])
        pc_redis_evalsha(st.wconn[w->id], cb, data, SCRIPT_LIMIT, c.nkeys, c.argc, c.argv, c.len);
    else if (!w)
        pc_redis_sync_evalsha(st.sync, cb, data, SCRIPT_LIMIT, c.nkeys, c.argc, c.argv, c.len);
    else
        cb(data, -1, NULL); /* a worker without a connection (not started) */
    st_cmd_free(&c);
}

/* A batch in flight. */
typedef struct st_sent {
    st_wbatch_t *b;
    size_t n;
    st_req_t *q[];
} st_sent_t;

static void st_batch_reply(void *data, int rc, const redisReply *rep)
{
    st_sent_t *sent = data;
    /* single mode (one check) and batch mode reply alike: 5 values a check */
    bool ok = rc == 0 && rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 5 * sent->n;
    char why[160] = "";
    if (!ok)
        st_why(rep, why, sizeof(why));
    sent->b->in_flight = false; /* the next batch goes out before the loop blocks */
    for (size_t i = 0; i < sent->n; i++) {
        st_req_t *q = sent->q[i];
        if (!ok || st_deliver_limit(q, rep->element + 5 * i) != 0)
            st_fail(q, ok ? "unexpected reply" : why);
        free(q);
    }
    free(sent);
}

/* Sends what the worker queued while no batch was in flight. */
static void st_batch_flush(st_wbatch_t *b)
{
    if (ev_is_active(&b->timer))
        ev_timer_stop(b->w->loop, &b->timer);
    size_t n = b->n;
    if (!n || b->in_flight)
        return;
    b->n = 0; /* callbacks that run now may queue again */
    st_sent_t *sent = pc_xmalloc(sizeof(*sent) + n * sizeof(sent->q[0]));
    sent->b = b;
    sent->n = n;
    memcpy(sent->q, b->q, n * sizeof(b->q[0]));
    b->in_flight = true;
    st_send_limits(sent->q, n, st_batch_reply, sent);
    pc_redis_t *rd = st.wconn[b->w->id];
    if (rd)
        pc_redis_flush(rd);
    /* Without a connection the callbacks ran just now, and may have resumed
     * requests: from a prepare watcher, whose resumes the worker's own
     * prepare may have missed, the loop must not block before running
     * again. The zero timer sees to it (it finds nothing left to send). */
    if (!rd || !pc_redis_is_up(rd))
        ev_timer_start(b->w->loop, &b->timer);
}

static void st_batch_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    st_batch_flush(p->data);
}

static void st_batch_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    st_batch_flush(t->data);
}

/* Queues q. The prepare watcher sends the batch before the loop blocks; a
 * check queued after it ran (by another prepare watcher) arms the zero
 * timer, so the loop does not block with it queued. */
static void st_batch_add(st_wbatch_t *b, st_req_t *q)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->q = pc_xrealloc(b->q, b->cap * sizeof(b->q[0]));
    }
    b->q[b->n++] = q;
    if (!ev_is_active(&b->timer))
        ev_timer_start(b->w->loop, &b->timer);
}

/* ---- the plugin API ------------------------------------------------------------------ */

void pc_store_limit(pc_worker_t *w, const void *key, size_t klen, const pc_limit_spec_t *limits,
                    size_t n, pc_store_limit_cb cb, void *data)
{
    pc_rl_limit_t l[PC_RL_MAX_LIMITS];
    pc_limit_result_t out = {0};
    if (n == 0 || n > PC_RL_MAX_LIMITS || klen > PC_MSTORE_MAX_KEY) {
        cb(data, -1, &out);
        return;
    }
    rl_limits(limits, n, l);
    for (size_t i = 0; i < n; i++)
        if (pc_rl_limit_check(&l[i], NULL) != 0) {
            cb(data, -1, &out);
            return;
        }
    if (!st.redis) {
        int rc = mem_limit(key, klen, l, n, &out);
        cb(data, rc, &out);
        return;
    }
    st_req_t *q = st_req_new(w, OP_LIMIT, data, key, klen);
    q->cb.limit = cb;
    q->n = n;
    memcpy(q->limits, l, n * sizeof(l[0]));
    if (w && st.batch && w->id < st.nworkers && st.wbatch[w->id].w) {
        st_batch_add(&st.wbatch[w->id], q); /* sent before the loop blocks */
        return;
    }
    st_send_limits(&q, 1, st_reply, q);
}

void pc_store_flag_set(pc_worker_t *w, const void *key, size_t klen, uint64_t ttl_ms,
                       pc_store_done_cb cb, void *data)
{
    if (klen > PC_MSTORE_MAX_KEY || ttl_ms > PC_RL_MAX_PERIOD_MS) {
        if (cb)
            cb(data, -1);
        return;
    }
    if (!st.redis) {
        int rc = mem_flag_set(key, klen, ttl_ms);
        if (cb)
            cb(data, rc);
        return;
    }
    st_req_t *q = st_req_new(w, OP_FLAG_SET, data, key, klen);
    q->cb.done = cb;
    q->arg = ttl_ms;
    char rkey[PC_STORE_RKEY_MAX], ttl[24];
    size_t klen2 = pc_store_redis_key(rkey, st.prefix, key, klen, ":f");
    if (ttl_ms == 0) {
        const char *argv[2] = {"DEL", rkey};
        size_t len[2] = {3, klen2};
        st_send(q, -1, 0, 2, argv, len);
        return;
    }
    const char *argv[5] = {"SET", rkey, "1", "PX", ttl};
    size_t len[5] = {3, klen2, 1, 2,
                     (size_t)snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms)};
    st_send(q, -1, 0, 5, argv, len);
}

void pc_store_flag_check(pc_worker_t *w, const void *key, size_t klen, pc_store_flag_cb cb,
                         void *data)
{
    if (klen > PC_MSTORE_MAX_KEY) {
        cb(data, -1, 0);
        return;
    }
    if (!st.redis) {
        int present = 0;
        int rc = mem_flag_check(key, klen, &present);
        cb(data, rc, present);
        return;
    }
    st_req_t *q = st_req_new(w, OP_FLAG_CHECK, data, key, klen);
    q->cb.flag = cb;
    char rkey[PC_STORE_RKEY_MAX];
    const char *argv[2] = {"EXISTS", rkey};
    size_t len[2] = {6, pc_store_redis_key(rkey, st.prefix, key, klen, ":f")};
    st_send(q, -1, 0, 2, argv, len);
}

void pc_store_count(pc_worker_t *w, const void *key, size_t klen, uint64_t window_ms,
                    pc_store_count_cb cb, void *data)
{
    if (klen > PC_MSTORE_MAX_KEY || window_ms < 1 || window_ms > PC_RL_MAX_PERIOD_MS) {
        cb(data, -1, 0);
        return;
    }
    if (!st.redis) {
        uint64_t count = 0;
        int rc = mem_count(key, klen, window_ms, &count);
        cb(data, rc, count);
        return;
    }
    st_req_t *q = st_req_new(w, OP_COUNT, data, key, klen);
    q->cb.count = cb;
    q->arg = window_ms;
    char rkey[PC_STORE_RKEY_MAX], win[24];
    const char *argv[2] = {rkey, win};
    size_t len[2] = {pc_store_redis_key(rkey, st.prefix, key, klen, ":c"),
                     (size_t)snprintf(win, sizeof(win), "%llu", (unsigned long long)window_ms)};
    st_send(q, SCRIPT_COUNT, 1, 2, argv, len);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int pc_store_init(const pc_conf_t *c)
{
    memset(&st, 0, sizeof(st));
    st.mem = pc_mstore_new(c->store_max_bytes ? c->store_max_bytes : (64u << 20));
    if (!st.mem)
        return -1;
    if (!c->store_type || strcmp(c->store_type, "redis") != 0)
        return 0;
    st.redis = true;
    st.fail_open = c->store_on_error && strcmp(c->store_on_error, "fail_open") == 0;
    snprintf(st.prefix, sizeof(st.prefix), "%s", c->store_prefix ? c->store_prefix : "pc:");
    pc_redis_script_init(&st.scripts[SCRIPT_LIMIT], pc_ratelimit_lua, pc_ratelimit_lua_len);
    pc_redis_script_init(&st.scripts[SCRIPT_COUNT], count_lua, sizeof(count_lua) - 1);
    pc_redis_opts_t *o = &st.opts;
    o->addr.host = c->store_host ? pc_xstrdup(c->store_host) : NULL;
    o->addr.port = c->store_port;
    o->addr.unix_path = c->store_unix_path ? pc_xstrdup(c->store_unix_path) : NULL;
    o->addr.db = c->store_db;
    o->addr.username = c->store_username ? pc_xstrdup(c->store_username) : NULL;
    o->addr.password = c->store_password ? pc_xstrdup(c->store_password) : NULL;
    o->connect_timeout_ms = c->store_connect_timeout_ms;
    o->command_timeout_ms = c->store_command_timeout_ms;
    o->scripts = st.scripts;
    o->nscripts = SCRIPT_N;
    o->name = "main";
    o->stat_timeouts = &st.main_stats[PC_SM_TIMEOUTS];
    if (!o->addr.host && !o->addr.unix_path)
        return -1;
    st.nworkers = c->workers;
    st.wconn = pc_xcalloc(st.nworkers ? st.nworkers : 1, sizeof(*st.wconn));
    st.wname = pc_xcalloc(st.nworkers ? st.nworkers : 1, sizeof(*st.wname));
    st.batch = c->store_batch;
    st.wbatch = pc_xcalloc(st.nworkers ? st.nworkers : 1, sizeof(*st.wbatch));
    st.sync = pc_redis_sync_new(o);
    pc_log_write(PC_LOG_INFO,
                 "store: redis (on_error %s, prefix \"%s\", timeouts %u/%u ms, batch %s)",
                 st.fail_open ? "fail_open" : "fail_closed", st.prefix, o->connect_timeout_ms,
                 o->command_timeout_ms, st.batch ? "on" : "off");
    return 0;
}

void pc_store_shutdown(void)
{
    for (unsigned i = 0; i < st.nworkers; i++)
        PC_ASSERT(st.wconn[i] == NULL);
    pc_redis_sync_free(st.sync);
    for (unsigned i = 0; st.wbatch && i < st.nworkers; i++) {
        PC_ASSERT(st.wbatch[i].n == 0);
        free(st.wbatch[i].q);
    }
    free(st.wbatch);
    free(st.wconn);
    free(st.wname);
    if (st.opts.addr.password)
        explicit_bzero(st.opts.addr.password, strlen(st.opts.addr.password));
    pc_redis_addr_clear(&st.opts.addr);
    pc_mstore_free(st.mem);
    memset(&st, 0, sizeof(st));
}

void pc_store_worker_start(pc_worker_t *w)
{
    if (!st.redis || w->id >= st.nworkers || st.wconn[w->id])
        return;
    pc_redis_opts_t o = st.opts;
    snprintf(st.wname[w->id], sizeof(st.wname[w->id]), "worker %u", w->id);
    o.name = st.wname[w->id];
    o.stat_timeouts = &w->metrics.store[PC_SM_TIMEOUTS];
    o.stat_reconnects = &w->metrics.store[PC_SM_RECONNECTS];
    o.stat_up = &w->metrics.store[PC_SM_REDIS_UP];
    st.wconn[w->id] = pc_redis_new(w->loop, &o);
    if (st.batch) {
        st_wbatch_t *b = &st.wbatch[w->id];
        b->w = w;
        ev_prepare_init(&b->prep, st_batch_prepare_cb);
        b->prep.data = b;
        ev_prepare_start(w->loop, &b->prep);
        ev_unref(w->loop); /* it alone does not keep the loop running */
        ev_timer_init(&b->timer, st_batch_timer_cb, 0., 0.);
        b->timer.data = b;
    }
}

void pc_store_worker_stop(pc_worker_t *w)
{
    if (!st.redis || w->id >= st.nworkers || !st.wconn[w->id])
        return;
    if (st.batch) {
        st_wbatch_t *b = &st.wbatch[w->id];
        st_batch_flush(b); /* answered below, with the connection's end */
        ev_ref(w->loop);
        ev_prepare_stop(w->loop, &b->prep);
        ev_timer_stop(w->loop, &b->timer);
    }
    pc_redis_t *rd = st.wconn[w->id];
    st.wconn[w->id] = NULL; /* callbacks that store again now fail over at once */
    pc_redis_free(rd);
    if (st.batch) /* ... and anything they queued meanwhile */
        st_batch_flush(&st.wbatch[w->id]);
}

/* ---- metrics ------------------------------------------------------------------------- */

void pc_store_metrics_render(FILE *out, pc_metrics_t *const *w, size_t nw)
{
    static const struct {
        const char *name, *type, *help;
    } m[PC_SM_KINDS] = {
        [PC_SM_ERRORS] = {"portcullis_store_errors_total", "counter",
                          "Store calls Redis could not answer (store.on_error then applied)."},
        [PC_SM_TIMEOUTS] = {"portcullis_store_redis_timeouts_total", "counter",
                            "Redis commands that missed store.command_timeout_ms."},
        [PC_SM_FALLBACKS] = {"portcullis_store_fallbacks_total", "counter",
                             "Store calls answered from the local memory store (fail_open)."},
        [PC_SM_RECONNECTS] = {"portcullis_store_redis_reconnects_total", "counter",
                              "Redis connections re-established after a loss."},
        [PC_SM_REDIS_UP] = {"portcullis_store_redis_connections_up", "gauge",
                            "Worker connections to Redis that are up."},
        [PC_SM_RL_LIMITED] = {"portcullis_ratelimit_limited_total", "counter",
                              "Requests refused by rate_limit (429)."},
        [PC_SM_BF_FAILURES] = {"portcullis_bruteforce_failures_total", "counter",
                               "Failed authentications counted by brute_force."},
        [PC_SM_BF_LOCKOUTS] = {"portcullis_bruteforce_lockouts_total", "counter",
                               "Lockouts started by brute_force."},
        [PC_SM_BF_DENIED] = {"portcullis_bruteforce_denied_total", "counter",
                             "Requests refused during a lockout (429)."},
    };
    for (unsigned k = 0; k < PC_SM_KINDS; k++) {
        uint64_t sum = k == PC_SM_REDIS_UP ? 0 : pc_counter_get(&st.main_stats[k]);
        for (size_t i = 0; i < nw; i++)
            sum += pc_counter_get(&w[i]->store[k]);
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[k].name, m[k].help, m[k].name,
                m[k].type, m[k].name, (unsigned long long)sum);
    }
    fprintf(out,
            "# HELP portcullis_store_info The configured store.\n"
            "# TYPE portcullis_store_info gauge\n"
            "portcullis_store_info{type=\"%s\",on_error=\"%s\"} 1\n"
            "# HELP portcullis_store_redis_connections Worker connections to Redis configured.\n"
            "# TYPE portcullis_store_redis_connections gauge\n"
            "portcullis_store_redis_connections %u\n",
            st.redis ? "redis" : "memory",
            st.redis ? (st.fail_open ? "fail_open" : "fail_closed") : "none",
            st.redis ? st.nworkers : 0);
    if (!st.mem)
        return;
    pc_mstore_stats_t ms;
    pc_mstore_stats(st.mem, &ms);
    fprintf(out,
            "# HELP portcullis_store_memory_bytes Bytes used by the memory store (bounded by "
            "store.max_bytes).\n"
            "# TYPE portcullis_store_memory_bytes gauge\n"
            "portcullis_store_memory_bytes %zu\n"
            "# HELP portcullis_store_memory_max_bytes The memory store's bound (store.max_bytes).\n"
            "# TYPE portcullis_store_memory_max_bytes gauge\n"
            "portcullis_store_memory_max_bytes %zu\n"
            "# HELP portcullis_store_memory_entries Entries in the memory store.\n"
            "# TYPE portcullis_store_memory_entries gauge\n"
            "portcullis_store_memory_entries %zu\n"
            "# HELP portcullis_store_memory_evicted_total Live entries evicted for room.\n"
            "# TYPE portcullis_store_memory_evicted_total counter\n"
            "portcullis_store_memory_evicted_total %llu\n"
            "# HELP portcullis_store_memory_expired_total Expired entries dropped.\n"
            "# TYPE portcullis_store_memory_expired_total counter\n"
            "portcullis_store_memory_expired_total %llu\n"
            "# HELP portcullis_store_memory_full_total Operations refused: shard full of live "
            "flags.\n"
            "# TYPE portcullis_store_memory_full_total counter\n"
            "portcullis_store_memory_full_total %llu\n",
            ms.bytes, ms.max_bytes, ms.entries, (unsigned long long)ms.evicted,
            (unsigned long long)ms.expired, (unsigned long long)ms.full);
}
