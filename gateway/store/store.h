/* gateway/store/store.h: the process's store behind the pc_store_* calls of
 * plugin.h (rate limits, brute-force lockouts, the token revocation list).
 *
 * "store": {"type": "memory"} is the embedded store (store_memory.c): one
 * pc_mstore_t shared by every worker of the process, answers at once.
 *
 * "store": {"type": "redis"} shares state across a fleet of gateways. Each
 * worker has its own asynchronous connection on its own loop (redis.c);
 * threads that are no worker (the admin thread, the main thread: see
 * base/thread.h) use one blocking connection serialised by a mutex, through
 * pc_store_sync_flag_set below. Every operation is one atomic round
 * trip: the multi-limit check is gateway/store/ratelimit.lua (embedded in the
 * binary at build time, loaded with SCRIPT LOAD, called with EVALSHA), the
 * failure counter a two-line script, flags plain SET PX / EXISTS.
 *
 * An entry's key is "<namespace>:<key>" or a hash of it (store_ns.h).
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
#include <stdint.h>

#include <portcullis/plugin.h>

#include "conf/conf.h"

struct ev_loop;

/* Main thread, at startup: creates the process-wide store from the first
 * generation's "store" section and registers its metrics (ops/metric.h).
 * The store is fixed for the process's life (a reload may not change it:
 * pc_conf_reload_compatible refuses). Copies what it needs from c. */
int pc_store_init(const pc_conf_t *c);
void pc_store_shutdown(void);

/* Per worker (no-ops for the memory store). start: main thread, after the
 * worker's loop exists and before its thread runs; opens the connection.
 * stop: the worker's thread once its daemons are stopped (or the main
 * thread if the thread never ran); every pending store callback runs
 * (rc -1, or the fail_open local answer) before it returns. Idempotent. */
void pc_store_worker_start(unsigned id, struct ev_loop *loop);
void pc_store_worker_stop(unsigned id);

/* pc_store_flag_set for a thread that is no worker (the admin thread's
 * POST /revocations): blocks until the store answered (Redis: at most about
 * connect_timeout_ms + command_timeout_ms) and returns its rc. */
int pc_store_sync_flag_set(const pc_store_ns_t *ns, const void *key, size_t klen,
                           uint64_t ttl_ms);

/* ---- a seam for unit tests ------------------------------------------------
 *
 * The four store calls of plugin.h as a table of functions, with the
 * arguments of plugin.h. While a backend is set, every call that passed
 * the argument checks (those answer rc -1 at once, as always) goes to it
 * instead of the memory store or Redis, unchanged: the namespace, the key
 * before namespacing, the limits, the callback and its data. The backend
 * answers inside the call, later, or never, exactly as the contract of
 * plugin.h allows the real stores to; nothing of the store (metrics,
 * fail_open fallback) runs meanwhile.
 *
 * For tests only (tests/unit/harness.c is the fake store that uses it).
 * pc_store_set_test_backend(b): b is borrowed and must outlive its use;
 * NULL restores the configured store. Not synchronised: set it on the
 * thread that makes the calls, while no worker thread runs. In production
 * it stays NULL, and each call pays one load and one branch that is never
 * taken, next to the call's own hashing and locking (or Redis round trip).
 */
typedef struct pc_store_backend {
    void (*limit)(const pc_store_ns_t *ns, const void *key, size_t klen,
                  const pc_limit_spec_t *limits, size_t n, pc_store_limit_cb cb, void *data);
    void (*flag_set)(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t ttl_ms,
                     pc_store_done_cb cb, void *data);
    void (*flag_check)(const pc_store_ns_t *ns, const void *key, size_t klen,
                       pc_store_flag_cb cb, void *data);
    void (*count)(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t window_ms,
                  pc_store_count_cb cb, void *data);
} pc_store_backend_t;

void pc_store_set_test_backend(const pc_store_backend_t *b);

/* gateway/store/ratelimit.lua, embedded at build time (generated ratelimit_lua.c). */
extern const char pc_ratelimit_lua[];
extern const size_t pc_ratelimit_lua_len;

#endif
