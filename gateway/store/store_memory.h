/* gateway/store/store_memory.h: the embedded store ("store": {"type": "memory"}).
 * One instance per process, shared by every worker thread: each operation
 * locks one of 64 shards, so a limit of 100/min is 100 in total across
 * workers. The Redis store offers the same operations for a fleet.
 *
 * Memory is bounded: pc_mstore_bytes() never exceeds max_bytes. It counts
 * the store itself, every shard's bucket table (allocated up front) and
 * every entry at its real allocation size (malloc_usable_size plus the
 * allocator's chunk header); allocator fragmentation is not counted.
 * When a shard is full it first sweeps its table for expired entries,
 * then evicts with CLOCK (second chance; an entry earns its bit by being
 * used again, so a flood of one-off keys evicts itself before it evicts
 * regular clients). Lookups also drop the expired entries they pass.
 * Expired entries are otherwise kept (and counted) until then.
 *
 * Flags (revoked jti, lockouts) are never evicted while they are live: a
 * revocation that silently disappears is a security hole. When a shard is
 * full of live flags, operations that need a new entry fail with -1 and
 * the caller applies its failure policy. Evicting a limit or a counter only
 * resets it (the key starts afresh): size max_bytes for the working set.
 *
 * Keys are byte strings of at most PC_MSTORE_MAX_KEY bytes in one
 * namespace; callers prefix them per purpose ("rl:", "jti:", "fail:"). An
 * operation of another kind on an existing key replaces that entry. All
 * times are ms on the caller's clock (pc_now_ms()); expiry is inclusive:
 * an entry with expires_at_ms <= now_ms is gone. Each shard uses the
 * latest now_ms it has seen, so time never goes back inside the store
 * (workers read the clock before they take the lock); a bogus far-future
 * now_ms would therefore freeze that shard's time until the clock caught up.
 *
 * Thread-safe, non-blocking apart from the shard mutex (held for a hash
 * lookup and O(1) amortised work), safe to call from any event loop. */
#ifndef PC_STORE_MEMORY_H
#define PC_STORE_MEMORY_H

#include "store/ratelimit.h"

#include <stddef.h>
#include <stdint.h>

#define PC_MSTORE_MAX_KEY 256
#define PC_MSTORE_MIN_BYTES (256u * 1024) /* below this create fails */

typedef struct pc_mstore pc_mstore_t;

typedef struct pc_mstore_stats {
    size_t max_bytes;
    size_t bytes;      /* what pc_mstore_bytes() returns */
    size_t entries;
    uint64_t evicted;  /* live entries dropped for room */
    uint64_t expired;  /* expired entries dropped */
    uint64_t full;     /* operations refused: shard full of live flags */
} pc_mstore_stats_t;

/* NULL if max_bytes < PC_MSTORE_MIN_BYTES. Aborts on OOM. */
pc_mstore_t *pc_mstore_new(size_t max_bytes);
void pc_mstore_free(pc_mstore_t *st);

/* Atomic multi-limit check (pc_rl_check() under the shard lock) of the
 * request identified by key; the state of all n limits lives in one entry.
 * 0 with *res filled, or -1 (*res zeroed) if an argument is invalid (key
 * too long, n not in 1..PC_RL_MAX_LIMITS, a limit failing
 * pc_rl_limit_check()) or the request was admitted but its state could
 * not be stored (shard full of live flags): treat -1 as a store error.
 * Changing n for a key restarts its state. */
int pc_mstore_limit(pc_mstore_t *st, const void *key, size_t klen,
                    const pc_rl_limit_t *limits, size_t n, uint64_t now_ms,
                    pc_rl_result_t *res);

/* Sets (or moves) the flag's expiry, like SET key 1 PXAT expires_at_ms:
 * a time <= now_ms removes the flag. 0, or -1 (bad key, now_ms >=
 * PC_RL_MAX_NOW_MS, or shard full). */
int pc_mstore_set_flag(pc_mstore_t *st, const void *key, size_t klen,
                       uint64_t expires_at_ms, uint64_t now_ms);
/* 1 if a live flag is set, 0 if not, -1 if the key or now_ms is invalid:
 * callers must treat -1 as "cannot tell" and fail closed. */
int pc_mstore_has_flag(pc_mstore_t *st, const void *key, size_t klen, uint64_t now_ms);

/* Removes the entry of any kind (admin unlock). 1 if one was there, else 0. */
int pc_mstore_del(pc_mstore_t *st, const void *key, size_t klen);

/* Failure counter for brute-force lockout: the window opens at the first
 * increment and lasts window_ms (like INCR + PEXPIRE on the first INCR in
 * Redis); *count is the count including this one. 0, or -1 (bad argument,
 * window_ms not in 1..PC_RL_MAX_PERIOD_MS, or shard full). */
int pc_mstore_incr_window(pc_mstore_t *st, const void *key, size_t klen,
                          uint64_t window_ms, uint64_t now_ms, uint64_t *count);

/* Metrics; each takes the 64 shard locks in turn (not for the hot path). */
size_t pc_mstore_bytes(pc_mstore_t *st);
size_t pc_mstore_entries(pc_mstore_t *st);
void pc_mstore_stats(pc_mstore_t *st, pc_mstore_stats_t *out);

#endif
