/* gateway/store/store_int.h: what gateway/store/store.c (the store calls, flags,
 * counters, lifecycle) shares with gateway/store/store_check.c (rate-limit
 * checks on Redis). Only those two include it. */
#ifndef PC_STORE_INT_H
#define PC_STORE_INT_H

#include <portcullis/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>

#include "store/ratelimit.h"
#include "store/redis.h"
#include "store/store_memory.h"

enum { PC_ST_SCRIPT_LIMIT = 0, PC_ST_SCRIPT_COUNT, PC_ST_SCRIPT_N };

typedef struct pc_store_state {
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
    pc_redis_sync_t *sync;         /* w == NULL */
    pc_counter_t main_stats[PC_SM_KINDS]; /* w == NULL: several threads, atomic adds */
    _Atomic uint64_t last_log_ms;
} pc_store_state_t;

extern pc_store_state_t pc_st;

/* store.c */
void pc_st_add(pc_worker_t *w, unsigned kind, uint64_t n);
static inline void pc_st_count(pc_worker_t *w, unsigned kind)
{
    pc_st_add(w, kind, 1);
}
/* At most one line every 10 s for the whole process. */
void pc_st_log_unavailable(const char *why);
/* The local memory store's check (fail_open, and the memory store). */
int pc_st_mem_limit(const void *key, size_t klen, const pc_rl_limit_t *l, size_t n,
                    pc_limit_result_t *out);
/* Why a reply is not an answer, for the log. */
void pc_st_why(const struct redisReply *rep, char *why, size_t len);

/* store_check.c */
/* start: main thread, before the worker runs. drain: sends what is
 * queued, before the connection closes. stop: after it closed (wconn
 * NULL): answers what is left, frees the worker's table. */
void pc_stc_worker_start(pc_worker_t *w);
void pc_stc_worker_drain(pc_worker_t *w);
void pc_stc_worker_stop(pc_worker_t *w);
void pc_stc_shutdown(void);
/* A limit check on Redis, for the store calls of plugin.h: limits valid,
 * n and klen in range. */
void pc_stc_limit(pc_worker_t *w, const void *key, size_t klen, const pc_rl_limit_t *l, size_t n,
                  pc_store_limit_cb cb, void *data);

#endif
