/* gateway/store/store.c: the pc_store_* plugin calls, dispatched to the memory
 * store or to Redis (contract in store.h and plugin.h), and the store's
 * lifecycle. It owns the process's store context (store_ctx.h).
 *
 * Every call first turns (namespace, key) into the entry's store key
 * (store_ns.h). Memory: one pc_mstore_t shared by every worker of the
 * process (it shards and locks internally), so a limit counts every
 * worker's requests. Its answers are immediate: callbacks run before the
 * call returns.
 *
 * Redis: limit checks go to gateway/store/store_check.c (leases, coalescing
 * and batching). Flags and counters here each become one command on the
 * calling worker's connection (or on the blocking connection on a thread
 * that is no worker). A call's state (callback, key) lives in one malloc'd
 * st_req_t until its reply, because a fail_open fallback must be able to
 * redo the operation on the memory store. When the connection is down the
 * redis client answers at once, so a fail_open gateway without Redis costs
 * one memory-store call more than a memory-only one, never a wait.
 *
 * Unit tests replace both with a backend of their own (store.h's test
 * seam): one load and one never-taken branch per call in production. */
#include "store/store.h"
#include "store/store_check.h"
#include "store/store_ctx.h"
#include "store/store_ns.h"
#include "base/log.h"
#include "base/thread.h"
#include "base/util.h"
#include "ops/metric.h"

#include <portcullis/plugin.h>

#include <hiredis/hiredis.h>

#include <string.h>

/* The failure counter: the window opens at the first increment (INCR, then
 * PEXPIRE on the first one; a key that somehow lost its expiry gets one). */
static const char count_lua[] =
    "-- portcullis store: failure counter (gateway/store/store.c)\n"
    "local c = redis.call('INCR', KEYS[1])\n"
    "if c == 1 or redis.call('PTTL', KEYS[1]) < 0 then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "end\n"
    "return c\n";

/* The process's store: set by pc_store_init, read by every call. */
static pc_store_t store;

/* Tests only (store.h): when set, the calls go there instead. */
static const pc_store_backend_t *test_backend;

void pc_store_set_test_backend(const pc_store_backend_t *b)
{
    test_backend = b;
}

/* ---- memory operations ----------------------------------------------------------- */

static void rl_limits(const pc_limit_spec_t *in, size_t n, pc_rl_limit_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (pc_rl_limit_t){in[i].period_ms, in[i].rate, in[i].burst,
                                 in[i].alg == PC_LIMIT_ALG_SLIDING ? PC_RL_SLIDING : PC_RL_GCRA};
}

static int mem_flag_set(pc_store_t *st, const void *key, size_t klen, uint64_t ttl_ms)
{
    uint64_t now = pc_st_now_ms();
    return st->mem && pc_mstore_set_flag(st->mem, key, klen, now + ttl_ms, now) == 0 ? 0 : -1;
}

static int mem_flag_check(pc_store_t *st, const void *key, size_t klen, int *present)
{
    int rc = st->mem ? pc_mstore_has_flag(st->mem, key, klen, pc_st_now_ms()) : -1;
    *present = rc == 1;
    return rc < 0 ? -1 : 0;
}

static int mem_count(pc_store_t *st, const void *key, size_t klen, uint64_t window_ms,
                     uint64_t *count)
{
    *count = 0;
    return st->mem &&
                   pc_mstore_incr_window(st->mem, key, klen, window_ms, pc_st_now_ms(), count) == 0
               ? 0
               : -1;
}

/* ---- redis operations --------------------------------------------------------------- */

enum { OP_FLAG_SET, OP_FLAG_CHECK, OP_COUNT };

typedef struct st_req {
    pc_store_t *st;
    unsigned worker;               /* the calling thread's, or PC_THREAD_NO_WORKER */
    int op;
    union {
        pc_store_done_cb done;
        pc_store_flag_cb flag;
        pc_store_count_cb count;
    } cb;
    void *data;
    uint64_t arg;                  /* ttl or window */
    size_t klen;
    unsigned char key[PC_STORE_KEY_MAX];
} st_req_t;

/* The operation on the memory store: the memory store itself, or the
 * fail_open answer when Redis could not. */
static void st_mem_answer(st_req_t *q)
{
    int rc;
    switch (q->op) {
    case OP_FLAG_SET:
        rc = mem_flag_set(q->st, q->key, q->klen, q->arg);
        if (q->cb.done)
            q->cb.done(q->data, rc);
        break;
    case OP_FLAG_CHECK: {
        int present = 0;
        rc = mem_flag_check(q->st, q->key, q->klen, &present);
        q->cb.flag(q->data, rc, present);
        break;
    }
    case OP_COUNT: {
        uint64_t count = 0;
        rc = mem_count(q->st, q->key, q->klen, q->arg, &count);
        q->cb.count(q->data, rc, count);
        break;
    }
    }
}

/* Redis could not answer: the configured policy. */
static void st_fail(st_req_t *q, const char *why)
{
    pc_st_count(q->st, PC_SM_ERRORS);
    pc_st_log_unavailable(q->st, why);
    if (q->st->fail_open) {
        pc_st_count(q->st, PC_SM_FALLBACKS);
        st_mem_answer(q);
        return;
    }
    switch (q->op) {
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
}

static int rep_int(const redisReply *r, long long lo, long long hi, long long *out)
{
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < lo || r->integer > hi)
        return -1;
    *out = r->integer;
    return 0;
}

/* A reply of the expected shape: deliver it. -1 otherwise. */
static int st_deliver(st_req_t *q, const redisReply *rep)
{
    long long v;
    switch (q->op) {
    case OP_FLAG_SET:
        if (rep->type != REDIS_REPLY_STATUS && rep->type != REDIS_REPLY_INTEGER)
            return -1;
        if (q->cb.done)
            q->cb.done(q->data, 0);
        return 0;
    case OP_FLAG_CHECK:
        if (rep_int(rep, 0, 1, &v) != 0)
            return -1;
        q->cb.flag(q->data, 0, (int)v);
        return 0;
    case OP_COUNT:
        if (rep_int(rep, 1, (long long)1 << 53, &v) != 0)
            return -1;
        q->cb.count(q->data, 0, (uint64_t)v);
        return 0;
    }
    return -1;
}

static void st_reply(void *data, int rc, const redisReply *rep)
{
    st_req_t *q = data;
    if (rc == 0 && rep && st_deliver(q, rep) == 0) {
        free(q);
        return;
    }
    char why[160];
    pc_st_why(rep, why, sizeof(why));
    st_fail(q, why);
    free(q);
}

/* The request of one call: on the stack for the memory store, which
 * answers at once, malloc'd for Redis (st_send takes it). */
static void st_req_init(st_req_t *q, int op, void *data, const pc_store_ns_t *ns, const void *key,
                        size_t klen)
{
    q->st = &store;
    q->worker = pc_thread_worker();
    q->op = op;
    q->data = data;
    q->arg = 0;
    q->klen = pc_store_ns_key(ns, key, klen, (char *)q->key);
}

static void st_send(st_req_t *stack, int script, int nkeys, int argc, const char **argv,
                    const size_t *len)
{
    pc_store_t *st = stack->st;
    st_req_t *q = pc_xmalloc(sizeof(*q));
    *q = *stack;
    unsigned w = q->worker;
    if (w < st->nworkers && st->wconn[w]) {
        if (script >= 0)
            pc_redis_evalsha(st->wconn[w], st_reply, q, (unsigned)script, nkeys, argc, argv, len);
        else
            pc_redis_command(st->wconn[w], st_reply, q, argc, argv, len);
    } else if (w == PC_THREAD_NO_WORKER) {
        if (script >= 0)
            pc_redis_sync_evalsha(st->sync, st_reply, q, (unsigned)script, nkeys, argc, argv, len);
        else
            pc_redis_sync_command(st->sync, st_reply, q, argc, argv, len);
    } else {
        st_reply(q, -1, NULL); /* a worker without a connection (not started) */
    }
}

/* ---- the plugin API ------------------------------------------------------------------ */

void pc_store_limit(const pc_store_ns_t *ns, const void *key, size_t klen,
                    const pc_limit_spec_t *limits, size_t n, pc_store_limit_cb cb, void *data)
{
    pc_rl_limit_t l[PC_RL_MAX_LIMITS];
    pc_limit_result_t out = {0};
    char k[PC_STORE_KEY_MAX];
    if (!ns || n == 0 || n > PC_RL_MAX_LIMITS) {
        cb(data, -1, &out);
        return;
    }
    rl_limits(limits, n, l);
    for (size_t i = 0; i < n; i++)
        if (pc_rl_limit_check(&l[i], NULL) != 0) {
            cb(data, -1, &out);
            return;
        }
    if (PC_UNLIKELY(test_backend != NULL)) {
        test_backend->limit(ns, key, klen, limits, n, cb, data);
        return;
    }
    size_t kn = pc_store_ns_key(ns, key, klen, k);
    if (!store.redis) {
        int rc = pc_st_mem_limit(&store, k, kn, l, n, &out);
        cb(data, rc, &out);
        return;
    }
    pc_stc_limit(&store, pc_thread_worker(), k, kn, l, n, cb, data);
}

void pc_store_flag_set(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t ttl_ms,
                       pc_store_done_cb cb, void *data)
{
    if (!ns || ttl_ms > PC_RL_MAX_PERIOD_MS) {
        if (cb)
            cb(data, -1);
        return;
    }
    if (PC_UNLIKELY(test_backend != NULL)) {
        test_backend->flag_set(ns, key, klen, ttl_ms, cb, data);
        return;
    }
    st_req_t q;
    st_req_init(&q, OP_FLAG_SET, data, ns, key, klen);
    q.cb.done = cb;
    q.arg = ttl_ms;
    if (!store.redis) {
        st_mem_answer(&q);
        return;
    }
    char rkey[PC_STORE_RKEY_MAX], ttl[24];
    size_t rlen = pc_store_redis_key(rkey, store.prefix, q.key, q.klen, ":f");
    if (ttl_ms == 0) {
        const char *argv[2] = {"DEL", rkey};
        size_t len[2] = {3, rlen};
        st_send(&q, -1, 0, 2, argv, len);
        return;
    }
    const char *argv[5] = {"SET", rkey, "1", "PX", ttl};
    size_t len[5] = {3, rlen, 1, 2,
                     (size_t)snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms)};
    st_send(&q, -1, 0, 5, argv, len);
}

void pc_store_flag_check(const pc_store_ns_t *ns, const void *key, size_t klen,
                         pc_store_flag_cb cb, void *data)
{
    if (!ns) {
        cb(data, -1, 0);
        return;
    }
    if (PC_UNLIKELY(test_backend != NULL)) {
        test_backend->flag_check(ns, key, klen, cb, data);
        return;
    }
    st_req_t q;
    st_req_init(&q, OP_FLAG_CHECK, data, ns, key, klen);
    q.cb.flag = cb;
    if (!store.redis) {
        st_mem_answer(&q);
        return;
    }
    char rkey[PC_STORE_RKEY_MAX];
    const char *argv[2] = {"EXISTS", rkey};
    size_t len[2] = {6, pc_store_redis_key(rkey, store.prefix, q.key, q.klen, ":f")};
    st_send(&q, -1, 0, 2, argv, len);
}

void pc_store_count(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t window_ms,
                    pc_store_count_cb cb, void *data)
{
    if (!ns || window_ms < 1 || window_ms > PC_RL_MAX_PERIOD_MS) {
        cb(data, -1, 0);
        return;
    }
    if (PC_UNLIKELY(test_backend != NULL)) {
        test_backend->count(ns, key, klen, window_ms, cb, data);
        return;
    }
    st_req_t q;
    st_req_init(&q, OP_COUNT, data, ns, key, klen);
    q.cb.count = cb;
    q.arg = window_ms;
    if (!store.redis) {
        st_mem_answer(&q);
        return;
    }
    char rkey[PC_STORE_RKEY_MAX], win[24];
    const char *argv[2] = {rkey, win};
    size_t len[2] = {pc_store_redis_key(rkey, store.prefix, q.key, q.klen, ":c"),
                     (size_t)snprintf(win, sizeof(win), "%llu", (unsigned long long)window_ms)};
    st_send(&q, PC_ST_SCRIPT_COUNT, 1, 2, argv, len);
}

/* ---- threads that are no worker ------------------------------------------------------- */

static void sync_done(void *data, int rc)
{
    *(int *)data = rc;
}

int pc_store_sync_flag_set(const pc_store_ns_t *ns, const void *key, size_t klen,
                           uint64_t ttl_ms)
{
    PC_ASSERT(pc_thread_worker() == PC_THREAD_NO_WORKER);
    int rc = -1;
    pc_store_flag_set(ns, key, klen, ttl_ms, sync_done, &rc); /* answers before it returns */
    return rc;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void store_render(FILE *out, void *data);

static int store_init_redis(pc_store_t *st, const pc_conf_t *c)
{
    st->redis = true;
    st->fail_open = c->store_on_error && strcmp(c->store_on_error, "fail_open") == 0;
    snprintf(st->prefix, sizeof(st->prefix), "%s", c->store_prefix ? c->store_prefix : "pc:");
    pc_redis_script_init(&st->scripts[PC_ST_SCRIPT_LIMIT], pc_ratelimit_lua, pc_ratelimit_lua_len);
    pc_redis_script_init(&st->scripts[PC_ST_SCRIPT_COUNT], count_lua, sizeof(count_lua) - 1);
    pc_redis_opts_t *o = &st->opts;
    o->addr.host = c->store_host ? pc_xstrdup(c->store_host) : NULL;
    o->addr.port = c->store_port;
    o->addr.unix_path = c->store_unix_path ? pc_xstrdup(c->store_unix_path) : NULL;
    o->addr.db = c->store_db;
    o->addr.username = c->store_username ? pc_xstrdup(c->store_username) : NULL;
    o->addr.password = c->store_password ? pc_xstrdup(c->store_password) : NULL;
    o->connect_timeout_ms = c->store_connect_timeout_ms;
    o->command_timeout_ms = c->store_command_timeout_ms;
    o->scripts = st->scripts;
    o->nscripts = PC_ST_SCRIPT_N;
    o->name = "main";
    o->stat_timeouts = pc_metric_cell(st->metric[PC_SM_TIMEOUTS], PC_THREAD_NO_WORKER, NULL);
    if (!o->addr.host && !o->addr.unix_path)
        return -1;
    st->nworkers = c->workers;
    st->wconn = pc_xcalloc(st->nworkers ? st->nworkers : 1, sizeof(*st->wconn));
    st->wname = pc_xcalloc(st->nworkers ? st->nworkers : 1, sizeof(*st->wname));
    st->batch = c->store_batch;
    st->lease_ms = c->store_lease_ms;
    st->sync = pc_redis_sync_new(o);
    pc_log_write(PC_LOG_INFO,
                 "store: redis (on_error %s, prefix \"%s\", timeouts %u/%u ms, batch %s, "
                 "lease %u ms)",
                 st->fail_open ? "fail_open" : "fail_closed", st->prefix, o->connect_timeout_ms,
                 o->command_timeout_ms, st->batch ? "on" : "off", st->lease_ms);
    return 0;
}

int pc_store_init(const pc_conf_t *c)
{
    pc_store_t *st = &store;
    memset(st, 0, sizeof(*st));
    pc_st_metrics_register(st);
    pc_metric_collector(store_render, st);
    st->mem = pc_mstore_new(c->store_max_bytes ? c->store_max_bytes : (64u << 20));
    if (!st->mem)
        return -1;
    if (!c->store_type || strcmp(c->store_type, "redis") != 0)
        return 0;
    return store_init_redis(st, c);
}

void pc_store_shutdown(void)
{
    pc_store_t *st = &store;
    for (unsigned i = 0; i < st->nworkers; i++)
        PC_ASSERT(st->wconn[i] == NULL);
    pc_redis_sync_free(st->sync);
    pc_stc_shutdown(st);
    free(st->wconn);
    free(st->wname);
    if (st->opts.addr.password)
        explicit_bzero(st->opts.addr.password, strlen(st->opts.addr.password));
    pc_redis_addr_clear(&st->opts.addr);
    pc_mstore_free(st->mem);
    pc_metric_t *metric[PC_SM_KINDS];
    memcpy(metric, st->metric, sizeof(metric));
    memset(st, 0, sizeof(*st));
    memcpy(st->metric, metric, sizeof(metric)); /* the registry keeps them: /metrics still renders */
}

void pc_store_worker_start(unsigned id, struct ev_loop *loop)
{
    pc_store_t *st = &store;
    if (!st->redis || id >= st->nworkers || st->wconn[id])
        return;
    pc_redis_opts_t o = st->opts;
    snprintf(st->wname[id], sizeof(st->wname[id]), "worker %u", id);
    o.name = st->wname[id];
    o.stat_timeouts = pc_metric_cell(st->metric[PC_SM_TIMEOUTS], id, NULL);
    o.stat_reconnects = pc_metric_cell(st->metric[PC_SM_RECONNECTS], id, NULL);
    o.stat_up = pc_metric_cell(st->metric[PC_SM_REDIS_UP], id, NULL);
    st->wconn[id] = pc_redis_new(loop, &o);
    pc_stc_worker_start(st, id, loop);
}

void pc_store_worker_stop(unsigned id)
{
    pc_store_t *st = &store;
    if (!st->redis || id >= st->nworkers || !st->wconn[id])
        return;
    pc_stc_worker_drain(st, id); /* answered below, with the connection's end */
    pc_redis_t *rd = st->wconn[id];
    st->wconn[id] = NULL; /* callbacks that store again now fail over at once */
    pc_redis_free(rd);
    pc_stc_worker_stop(st, id); /* ... and anything they queued meanwhile */
}

/* ---- metrics ------------------------------------------------------------------------- */

/* What /metrics shows of the store beyond its counters: computed when
 * rendering (registered with pc_metric_collector). Admin thread. */
static void store_render(FILE *out, void *data)
{
    pc_store_t *st = data;
    fprintf(out,
            "# HELP portcullis_store_info The configured store.\n"
            "# TYPE portcullis_store_info gauge\n"
            "portcullis_store_info{type=\"%s\",on_error=\"%s\"} 1\n"
            "# HELP portcullis_store_redis_connections Worker connections to Redis configured.\n"
            "# TYPE portcullis_store_redis_connections gauge\n"
            "portcullis_store_redis_connections %u\n",
            st->redis ? "redis" : "memory",
            st->redis ? (st->fail_open ? "fail_open" : "fail_closed") : "none",
            st->redis ? st->nworkers : 0);
    if (!st->mem)
        return;
    pc_mstore_stats_t ms;
    pc_mstore_stats(st->mem, &ms);
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
