/* gateway/store/store.c: the pc_store_* plugin calls, dispatched to the memory
 * store or to Redis (contract in store.h and plugin.h).
 *
 * Memory: one pc_mstore_t shared by every worker of the process (it shards
 * and locks internally), so a limit counts every worker's requests. Its
 * answers are immediate: callbacks run before the call returns.
 *
 * Redis: limit checks go to gateway/store/store_check.c (leases, coalescing and
 * batching). Flags and counters here each become one command on the
 * calling worker's connection (or on the blocking connection when
 * w == NULL). A call's state (callback, key) lives in one malloc'd
 * st_req_t until its reply, because a fail_open fallback must be able to
 * redo the operation on the memory store. When the connection is down the
 * redis client answers at once, so a fail_open gateway without Redis costs
 * one memory-store call more than a memory-only one, never a wait. */
#include "store/store.h"
#include "store/store_int.h"
#include "base/log.h"
#include "store/ratelimit.h"
#include "store/redis.h"
#include "store/store_memory.h"
#include "base/util.h"
#include "lifecycle/worker_ctx.h"

#include <portcullis/plugin.h>

#include <hiredis/hiredis.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* The failure counter: the window opens at the first increment (INCR, then
 * PEXPIRE on the first one; a key that somehow lost its expiry gets one). */
static const char count_lua[] =
    "-- portcullis store: failure counter (gateway/store/store.c)\n"
    "local c = redis.call('INCR', KEYS[1])\n"
    "if c == 1 or redis.call('PTTL', KEYS[1]) < 0 then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "end\n"
    "return c\n";

pc_store_state_t pc_st;

/* ---- helpers ------------------------------------------------------------- */

/* Clock for the memory store: wall-clock milliseconds, the same base the
 * Redis script's TIME uses, so expiries mean the same thing everywhere. */
static uint64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void pc_st_add(pc_worker_t *w, unsigned kind, uint64_t n)
{
    if (w)
        pc_counter_add(&w->metrics.store[kind], n);
    else
        atomic_fetch_add_explicit(&pc_st.main_stats[kind], n, memory_order_relaxed);
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
        pc_st_count(w, map[stat]);
}

void pc_st_log_unavailable(const char *why)
{
    uint64_t now = pc_now_ms(), last = atomic_load_explicit(&pc_st.last_log_ms, memory_order_relaxed);
    if (last && now - last < 10000)
        return;
    if (!atomic_compare_exchange_strong(&pc_st.last_log_ms, &last, now))
        return;
    if (pc_st.fail_open)
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

int pc_st_mem_limit(const void *key, size_t klen, const pc_rl_limit_t *l, size_t n,
                    pc_limit_result_t *out)
{
    pc_rl_result_t res = {0};
    int rc = pc_st.mem ? pc_mstore_limit(pc_st.mem, key, klen, l, n, store_now_ms(), &res) : -1;
    *out = (pc_limit_result_t){res.allowed, res.limit, res.remaining, res.reset_ms,
                               res.retry_after_ms, 0};
    return rc == 0 ? 0 : -1;
}

static int mem_flag_set(const void *key, size_t klen, uint64_t ttl_ms)
{
    uint64_t now = store_now_ms();
    return pc_st.mem && pc_mstore_set_flag(pc_st.mem, key, klen, now + ttl_ms, now) == 0 ? 0 : -1;
}

static int mem_flag_check(const void *key, size_t klen, int *present)
{
    int rc = pc_st.mem ? pc_mstore_has_flag(pc_st.mem, key, klen, store_now_ms()) : -1;
    *present = rc == 1;
    return rc < 0 ? -1 : 0;
}

static int mem_count(const void *key, size_t klen, uint64_t window_ms, uint64_t *count)
{
    *count = 0;
    return pc_st.mem && pc_mstore_incr_window(pc_st.mem, key, klen, window_ms, store_now_ms(), count) == 0
               ? 0
               : -1;
}

/* ---- redis operations --------------------------------------------------------------- */

enum { OP_FLAG_SET, OP_FLAG_CHECK, OP_COUNT };

typedef struct st_req {
    pc_worker_t *w;
    int op;
    union {
        pc_store_done_cb done;
        pc_store_flag_cb flag;
        pc_store_count_cb count;
    } cb;
    void *data;
    uint64_t arg;                  /* ttl or window */
    size_t klen;
    unsigned char key[PC_MSTORE_MAX_KEY];
} st_req_t;

/* Redis could not answer: the configured policy. */
static void st_fail(st_req_t *q, const char *why)
{
    pc_st_count(q->w, PC_SM_ERRORS);
    pc_st_log_unavailable(why);
    int rc = -1;
    if (!pc_st.fail_open) {
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
        return;
    }
    pc_st_count(q->w, PC_SM_FALLBACKS);
    switch (q->op) {
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

/* A reply of the expected shape: deliver it. -1 otherwise. */
static int st_deliver(st_req_t *q, const redisReply *rep)
{
    long long v[5];
    switch (q->op) {
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

void pc_st_why(const redisReply *rep, char *why, size_t len)
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
    pc_st_why(rep, why, sizeof(why));
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
    q->klen = klen;
    memcpy(q->key, key, klen);
    return q;
}

static void st_send(st_req_t *q, int script, int nkeys, int argc, const char **argv,
                    const size_t *len)
{
    pc_worker_t *w = q->w;
    if (w && w->id < pc_st.nworkers && pc_st.wconn[w->id]) {
        if (script >= 0)
            pc_redis_evalsha(pc_st.wconn[w->id], st_reply, q, (unsigned)script, nkeys, argc, argv,
                             len);
        else
            pc_redis_command(pc_st.wconn[w->id], st_reply, q, argc, argv, len);
    } else if (!w) {
        if (script >= 0)
            pc_redis_sync_evalsha(pc_st.sync, st_reply, q, (unsigned)script, nkeys, argc, argv, len);
        else
            pc_redis_sync_command(pc_st.sync, st_reply, q, argc, argv, len);
    } else {
        st_reply(q, -1, NULL); /* a worker without a connection (not started) */
    }
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
    if (!pc_st.redis) {
        int rc = pc_st_mem_limit(key, klen, l, n, &out);
        cb(data, rc, &out);
        return;
    }
    pc_stc_limit(w, key, klen, l, n, cb, data);
}

void pc_store_flag_set(pc_worker_t *w, const void *key, size_t klen, uint64_t ttl_ms,
                       pc_store_done_cb cb, void *data)
{
    if (klen > PC_MSTORE_MAX_KEY || ttl_ms > PC_RL_MAX_PERIOD_MS) {
        if (cb)
            cb(data, -1);
        return;
    }
    if (!pc_st.redis) {
        int rc = mem_flag_set(key, klen, ttl_ms);
        if (cb)
            cb(data, rc);
        return;
    }
    st_req_t *q = st_req_new(w, OP_FLAG_SET, data, key, klen);
    q->cb.done = cb;
    q->arg = ttl_ms;
    char rkey[PC_STORE_RKEY_MAX], ttl[24];
    size_t klen2 = pc_store_redis_key(rkey, pc_st.prefix, key, klen, ":f");
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
    if (!pc_st.redis) {
        int present = 0;
        int rc = mem_flag_check(key, klen, &present);
        cb(data, rc, present);
        return;
    }
    st_req_t *q = st_req_new(w, OP_FLAG_CHECK, data, key, klen);
    q->cb.flag = cb;
    char rkey[PC_STORE_RKEY_MAX];
    const char *argv[2] = {"EXISTS", rkey};
    size_t len[2] = {6, pc_store_redis_key(rkey, pc_st.prefix, key, klen, ":f")};
    st_send(q, -1, 0, 2, argv, len);
}

void pc_store_count(pc_worker_t *w, const void *key, size_t klen, uint64_t window_ms,
                    pc_store_count_cb cb, void *data)
{
    if (klen > PC_MSTORE_MAX_KEY || window_ms < 1 || window_ms > PC_RL_MAX_PERIOD_MS) {
        cb(data, -1, 0);
        return;
    }
    if (!pc_st.redis) {
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
    size_t len[2] = {pc_store_redis_key(rkey, pc_st.prefix, key, klen, ":c"),
                     (size_t)snprintf(win, sizeof(win), "%llu", (unsigned long long)window_ms)};
    st_send(q, PC_ST_SCRIPT_COUNT, 1, 2, argv, len);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int pc_store_init(const pc_conf_t *c)
{
    memset(&pc_st, 0, sizeof(pc_st));
    pc_st.mem = pc_mstore_new(c->store_max_bytes ? c->store_max_bytes : (64u << 20));
    if (!pc_st.mem)
        return -1;
    if (!c->store_type || strcmp(c->store_type, "redis") != 0)
        return 0;
    pc_st.redis = true;
    pc_st.fail_open = c->store_on_error && strcmp(c->store_on_error, "fail_open") == 0;
    snprintf(pc_st.prefix, sizeof(pc_st.prefix), "%s", c->store_prefix ? c->store_prefix : "pc:");
    pc_redis_script_init(&pc_st.scripts[PC_ST_SCRIPT_LIMIT], pc_ratelimit_lua, pc_ratelimit_lua_len);
    pc_redis_script_init(&pc_st.scripts[PC_ST_SCRIPT_COUNT], count_lua, sizeof(count_lua) - 1);
    pc_redis_opts_t *o = &pc_st.opts;
    o->addr.host = c->store_host ? pc_xstrdup(c->store_host) : NULL;
    o->addr.port = c->store_port;
    o->addr.unix_path = c->store_unix_path ? pc_xstrdup(c->store_unix_path) : NULL;
    o->addr.db = c->store_db;
    o->addr.username = c->store_username ? pc_xstrdup(c->store_username) : NULL;
    o->addr.password = c->store_password ? pc_xstrdup(c->store_password) : NULL;
    o->connect_timeout_ms = c->store_connect_timeout_ms;
    o->command_timeout_ms = c->store_command_timeout_ms;
    o->scripts = pc_st.scripts;
    o->nscripts = PC_ST_SCRIPT_N;
    o->name = "main";
    o->stat_timeouts = &pc_st.main_stats[PC_SM_TIMEOUTS];
    if (!o->addr.host && !o->addr.unix_path)
        return -1;
    pc_st.nworkers = c->workers;
    pc_st.wconn = pc_xcalloc(pc_st.nworkers ? pc_st.nworkers : 1, sizeof(*pc_st.wconn));
    pc_st.wname = pc_xcalloc(pc_st.nworkers ? pc_st.nworkers : 1, sizeof(*pc_st.wname));
    pc_st.batch = c->store_batch;
    pc_st.lease_ms = c->store_lease_ms;
    pc_st.sync = pc_redis_sync_new(o);
    pc_log_write(PC_LOG_INFO,
                 "store: redis (on_error %s, prefix \"%s\", timeouts %u/%u ms, batch %s, "
                 "lease %u ms)",
                 pc_st.fail_open ? "fail_open" : "fail_closed", pc_st.prefix, o->connect_timeout_ms,
                 o->command_timeout_ms, pc_st.batch ? "on" : "off", pc_st.lease_ms);
    return 0;
}

void pc_store_shutdown(void)
{
    for (unsigned i = 0; i < pc_st.nworkers; i++)
        PC_ASSERT(pc_st.wconn[i] == NULL);
    pc_redis_sync_free(pc_st.sync);
    pc_stc_shutdown();
    free(pc_st.wconn);
    free(pc_st.wname);
    if (pc_st.opts.addr.password)
        explicit_bzero(pc_st.opts.addr.password, strlen(pc_st.opts.addr.password));
    pc_redis_addr_clear(&pc_st.opts.addr);
    pc_mstore_free(pc_st.mem);
    memset(&pc_st, 0, sizeof(pc_st));
}

void pc_store_worker_start(pc_worker_t *w)
{
    if (!pc_st.redis || w->id >= pc_st.nworkers || pc_st.wconn[w->id])
        return;
    pc_redis_opts_t o = pc_st.opts;
    snprintf(pc_st.wname[w->id], sizeof(pc_st.wname[w->id]), "worker %u", w->id);
    o.name = pc_st.wname[w->id];
    o.stat_timeouts = &w->metrics.store[PC_SM_TIMEOUTS];
    o.stat_reconnects = &w->metrics.store[PC_SM_RECONNECTS];
    o.stat_up = &w->metrics.store[PC_SM_REDIS_UP];
    pc_st.wconn[w->id] = pc_redis_new(w->loop, &o);
    pc_stc_worker_start(w);
}

void pc_store_worker_stop(pc_worker_t *w)
{
    if (!pc_st.redis || w->id >= pc_st.nworkers || !pc_st.wconn[w->id])
        return;
    pc_stc_worker_drain(w); /* answered below, with the connection's end */
    pc_redis_t *rd = pc_st.wconn[w->id];
    pc_st.wconn[w->id] = NULL; /* callbacks that store again now fail over at once */
    pc_redis_free(rd);
    pc_stc_worker_stop(w); /* ... and anything they queued meanwhile */
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
        [PC_SM_CHECKS] = {"portcullis_store_redis_checks_total", "counter",
                          "Rate-limit checks sent to Redis (one key each, several per batch)."},
        [PC_SM_LEASE_ADMITTED] = {"portcullis_ratelimit_lease_admitted_total", "counter",
                                  "Requests admitted from a worker's lease, without a Redis "
                                  "round trip."},
        [PC_SM_LEASE_REFUSED] = {"portcullis_ratelimit_lease_refused_total", "counter",
                                 "Requests refused locally, within the retry time Redis gave."},
    };
    for (unsigned k = 0; k < PC_SM_KINDS; k++) {
        uint64_t sum = k == PC_SM_REDIS_UP ? 0 : pc_counter_get(&pc_st.main_stats[k]);
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
            pc_st.redis ? "redis" : "memory",
            pc_st.redis ? (pc_st.fail_open ? "fail_open" : "fail_closed") : "none",
            pc_st.redis ? pc_st.nworkers : 0);
    if (!pc_st.mem)
        return;
    pc_mstore_stats_t ms;
    pc_mstore_stats(pc_st.mem, &ms);
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
