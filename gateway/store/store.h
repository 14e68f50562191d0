/* gateway/store/store.h: the process's store behind the pc_store_* calls of
 * plugin.h (rate limits, brute-force lockouts, the token revocation list).
 *
 * "store": {"type": "memory"} is the embedded store (store_memory.c): one
 * pc_mstore_t shared by every worker of the process, answers at once.
 *
 * "store": {"type": "redis"} shares state across a fleet of gateways. Each
 * worker has its own asynchronous connection on its own loop (redis.c);
 * callers that are not workers (w == NULL: the admin thread, the main
 * thread) use one blocking connection serialised by a mutex, which is why
 * no worker ever calls with w == NULL. Every operation is one atomic round
 * trip: the multi-limit check is gateway/store/ratelimit.lua (embedded in the
 * binary at build time, loaded with SCRIPT LOAD, called with EVALSHA), the
 * failure counter a two-line script, flags plain SET PX / EXISTS.
 *
 * Redis keys are "<prefix>{<key>}:<kind>" (kind l0..l7 for the limits of
 * one check, f for a flag, c for a counter): the braces are a Redis Cluster
 * hash tag, so every key of one check lives in one slot. '{', '}' and '%'
 * inside a key are written as %7B, %7D and %25 so that the tag is always
 * exactly the key.
 *
 * When Redis cannot answer (down, reconnecting, slower than
 * command_timeout_ms, an error), "on_error" decides: "fail_open" answers
 * from the local memory store (limits then count this gateway's requests
 * only; the result carries local = 1; counted in
 * portcullis_store_fallbacks_total and logged at most every 10 s), and
 * "fail_closed" answers rc = -1 (the plugin's on_error then applies:
 * rate_limit and brute_force deny with 503 by default).
 */
#ifndef PC_STORE_H
#define PC_STORE_H

#include <stddef.h>
#include <stdio.h>

#include "conf/conf.h"
#include "ops/metrics.h"

struct pc_worker;

/* Main thread, at startup: creates the process-wide store from the first
 * generation's "store" section. The store is fixed for the process's life
 * (a reload may not change it: pc_conf_reload_compatible refuses). Copies
 * what it needs from c. */
int pc_store_init(const pc_conf_t *c);
void pc_store_shutdown(void);

/* Per worker (no-ops for the memory store). start: main thread, after the
 * worker's loop exists and before its thread runs; opens the connection.
 * stop: the worker's thread once its daemons are stopped (or the main
 * thread if the thread never ran); every pending store callback runs
 * (rc -1, or the fail_open local answer) before it returns. Idempotent. */
void pc_store_worker_start(struct pc_worker *w);
void pc_store_worker_stop(struct pc_worker *w);

/* pc_store_metrics_render (declared in metrics.h), admin thread: the
 * store's part of /metrics: the PC_SM_* counters summed over the workers
 * plus the non-worker calls, the memory store's size, Redis connections up. */

/* gateway/store/ratelimit.lua, embedded at build time (generated ratelimit_lua.c). */
extern const char pc_ratelimit_lua[];
extern const size_t pc_ratelimit_lua_len;

/* The Redis key of a store key: "<prefix>{<escaped key>}<suffix>" into out
 * (at least PC_STORE_RKEY_MAX bytes). Returns its length. Exposed for the
 * unit tests. */
#define PC_STORE_RKEY_MAX 1024
size_t pc_store_redis_key(char *out, const char *prefix, const void *key, size_t klen,
                          const char *suffix);

#endif
