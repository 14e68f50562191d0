/* gateway/store.c: dispatch of the pc_store_* plugin calls.
 *
 * The embedded memory store is one pc_mstore_t shared by every worker of
 * the process (it shards and locks internally), so a limit counts every
 * worker's requests. Its answers are immediate: callbacks run before the
 * call returns, which the async token API allows. */
#include "store.h"
#include "ratelimit.h"
#include "store_memory.h"
#include "util.h"

#include <portcullis/plugin.h>

#include <time.h>

static pc_mstore_t *mem_store;

int pc_store_init(const pc_conf_t *c)
{
    mem_store = pc_mstore_new(c->store_max_bytes ? c->store_max_bytes : (64u << 20));
    return mem_store ? 0 : -1;
}

void pc_store_shutdown(void)
{
    pc_mstore_free(mem_store);
    mem_store = NULL;
}

/* Clock for the store: wall-clock milliseconds, the same base a Redis
 * TIME-based store uses, so expiries mean the same thing everywhere. */
static uint64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void pc_store_limit(pc_worker_t *w, const void *key, size_t klen, const pc_limit_spec_t *limits,
                    size_t n, pc_store_limit_cb cb, void *data)
{
    pc_rl_limit_t l[8];
    pc_rl_result_t res = {0};
    pc_limit_result_t out = {0};
    if (!mem_store || n == 0 || n > PC_ARRAY_LEN(l)) {
        cb(data, -1, &out);
        return;
    }
    for (size_t i = 0; i < n; i++)
        l[i] = (pc_rl_limit_t){limits[i].period_ms, limits[i].rate, limits[i].burst,
                               limits[i].alg == PC_RL_ALG_SLIDING ? PC_RL_SLIDING : PC_RL_GCRA};
    int rc = pc_mstore_limit(mem_store, key, klen, l, n, store_now_ms(), &res);
    out = (pc_limit_result_t){res.allowed, res.limit, res.remaining, res.reset_ms,
                              res.retry_after_ms, 0};
    cb(data, rc == 0 ? 0 : -1, &out);
}

void pc_store_flag_set(pc_worker_t *w, const void *key, size_t klen, uint64_t ttl_ms,
                       pc_store_done_cb cb, void *data)
{
    uint64_t now = store_now_ms();
    int rc = mem_store ? pc_mstore_set_flag(mem_store, key, klen, now + ttl_ms, now) : -1;
    if (cb)
        cb(data, rc == 0 ? 0 : -1);
}

void pc_store_flag_check(pc_worker_t *w, const void *key, size_t klen, pc_store_flag_cb cb,
                         void *data)
{
    int rc = mem_store ? pc_mstore_has_flag(mem_store, key, klen, store_now_ms()) : -1;
    cb(data, rc < 0 ? -1 : 0, rc == 1);
}

void pc_store_count(pc_worker_t *w, const void *key, size_t klen, uint64_t window_ms,
                    pc_store_count_cb cb, void *data)
{
    uint64_t count = 0;
    int rc = mem_store ? pc_mstore_incr_window(mem_store, key, klen, window_ms, store_now_ms(),
                                               &count)
                       : -1;
    cb(data, rc == 0 ? 0 : -1, count);
}
