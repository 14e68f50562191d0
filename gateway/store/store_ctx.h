/* gateway/store/store_ctx.h: the store's context object, and what the
 * store calls (store.c) and the Redis rate-limit checks (store_check.c)
 * both need: counting, the rate-limited "Redis cannot answer" log line, the
 * local memory store's limit check (fail_open), the reason of a bad reply.
 *
 * There is one pc_store_t per process (store.c owns it); every function
 * here takes it, so that no store module reaches into another's globals.
 * Only gateway/store/ includes this.
 */
#ifndef PC_STORE_CTX_H
#define PC_STORE_CTX_H

#include <portcullis/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>

#include "ops/metric.h"
#include "store/ratelimit.h"
#include "store/redis.h"
#include "store/redis_sync.h"
#include "store/store_memory.h"

enum { PC_ST_SCRIPT_LIMIT = 0, PC_ST_SCRIPT_COUNT, PC_ST_SCRIPT_N };

/* The store's metrics (registered by pc_st_metrics_register). */
enum {
    PC_SM_ERRORS = 0,      /* store calls Redis could not answer */
    PC_SM_TIMEOUTS,        /* Redis commands that missed command_timeout_ms */
    PC_SM_FALLBACKS,       /* fail_open answers from the local memory store */
    PC_SM_RECONNECTS,      /* Redis connections re-established */
    PC_SM_REDIS_UP,        /* gauge: worker connections up */
    PC_SM_CHECKS,          /* rate-limit checks sent to Redis */
    PC_SM_LEASE_ADMITTED,  /* requests admitted from a worker's lease, without Redis */
    PC_SM_LEASE_REFUSED,   /* requests refused locally within a Redis retry time */
    PC_SM_KINDS
};

struct stc_worker;

typedef struct pc_store {
    pc_mstore_t *mem;
    bool redis;
    bool fail_open;
    bool batch;                    /* the checks of a loop turn in one EVALSHA */
    unsigned lease_ms;             /* 0: every request is checked by Redis */
    char prefix[72];
    pc_redis_opts_t opts;          /* addr strings owned here */
    pc_redis_script_t scripts[PC_ST_SCRIPT_N];
    pc_redis_t **wconn;            /* by worker id */
    char (*wname)[24];
    unsigned nworkers;
    pc_redis_sync_t *sync;         /* threads that are no worker */
    struct stc_worker *stc;        /* store_check.c's per-worker state, by worker id */
    pc_metric_t *metric[PC_SM_KINDS];
    _Atomic uint64_t last_log_ms;
} pc_store_t;

/* Main thread, at init: registers the PC_SM_* metrics (idempotent). */
void pc_st_metrics_register(pc_store_t *st);
/* Counts on the calling thread's shard. Any thread. */
static inline void pc_st_add(pc_store_t *st, unsigned kind, uint64_t n)
{
    pc_metric_add(st->metric[kind], NULL, (int64_t)n);
}
static inline void pc_st_count(pc_store_t *st, unsigned kind)
{
    pc_st_add(st, kind, 1);
}
/* At most one line every 10 s for the whole process. */
void pc_st_log_unavailable(pc_store_t *st, const char *why);
/* Wall-clock milliseconds, the base Redis's TIME uses too, so expiries
 * mean the same thing in both stores. */
uint64_t pc_st_now_ms(void);
/* The local memory store's check (fail_open, and the memory store). */
int pc_st_mem_limit(pc_store_t *st, const void *key, size_t klen, const pc_rl_limit_t *l,
                    size_t n, pc_limit_result_t *out);
/* Why a reply is not an answer, for the log. */
void pc_st_why(const struct redisReply *rep, char *why, size_t len);

/* The Redis key of a store key: "<prefix>{<escaped key>}<suffix>" into out
 * (at least PC_STORE_RKEY_MAX bytes). Returns its length. Exposed for the
 * unit tests. */
#define PC_STORE_RKEY_MAX 1024
size_t pc_store_redis_key(char *out, const char *prefix, const void *key, size_t klen,
                          const char *suffix);

#endif
