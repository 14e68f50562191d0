/* gateway/upstream/lb.h: load balancers that pick one target of an upstream.
 *
 * Threading model. A pc_lb_t belongs to a config generation: it is built
 * once on the main thread, never changes afterwards and is shared read-only
 * by every worker. Each worker owns a pc_lb_state_t for it (the smooth
 * round-robin counters), so picking needs neither locks nor atomics. The
 * state must not outlive its balancer and must not be shared between
 * threads.
 *
 * Per-request inputs come from the caller, which keeps this module free of
 * clocks, RNGs and health checks:
 *   active[i]  requests in flight to target i on this worker
 *              (required by least_conn and random_two, ignored otherwise);
 *   usable[i]  0 = skip target i (down or ejected); NULL = all usable;
 *   hash       64-bit hash of the request key (hash only), e.g. pc_hash64();
 *              it is re-mixed here, so a weak hash is fine;
 *   rnd        64-bit random value (random_two only); it is re-mixed too,
 *              so a counter works but an attacker-known sequence does not
 *              matter either: it can only choose between two targets.
 *
 * Costs per pick: O(n) for round_robin, least_conn and random_two; O(log P)
 * for hash (P ring points, at most PC_LB_HASH_POINTS_MAX * n) plus a ring walk
 * while the chosen target is unusable. */
#ifndef PC_LB_H
#define PC_LB_H

#include <stddef.h>
#include <stdint.h>

typedef enum pc_lb_kind {
    PC_LB_ROUND_ROBIN = 0, /* smooth weighted round robin (nginx) */
    PC_LB_LEAST_CONN,      /* fewest active / weight, ties by SWRR */
    PC_LB_HASH,            /* consistent hash ring with virtual nodes */
    PC_LB_RANDOM_TWO,      /* power of two weighted random choices */
} pc_lb_kind_t;

#define PC_LB_WEIGHT_MAX 1000u
#define PC_LB_TARGETS_MAX 65536u
/* Consistent hash ring points of the lightest target; heavier targets get
 * proportionally more, at most PC_LB_HASH_POINTS_MAX (see lb_hash_points).
 * 1024 keeps a target's key share within a few percent of its weight
 * share: the relative std is about 1/sqrt(points). */
#define PC_LB_HASH_POINTS 1024u
#define PC_LB_HASH_POINTS_MAX 16384u

typedef struct pc_lb pc_lb_t;             /* immutable, shared by workers */
typedef struct pc_lb_state pc_lb_state_t; /* mutable, one per worker */

/* "round_robin", "least_conn", "hash", "random_two" -> 0; anything else
 * (including NULL) -> -1 and *out untouched. */
int pc_lb_kind_parse(const char *s, pc_lb_kind_t *out);
/* The config spelling of kind (for logs and -t output). */
const char *pc_lb_kind_name(pc_lb_kind_t kind);

/* Main thread, config load. Copies what it needs; the caller keeps
 * ownership of weights and keys.
 *   n        1 .. PC_LB_TARGETS_MAX targets;
 *   weights  each 1 .. PC_LB_WEIGHT_MAX, or NULL for all 1;
 *   keys     stable identity of each target (e.g. "10.0.0.5:8080"):
 *            required, non-empty and distinct for PC_LB_HASH, because ring
 *            positions derive from them (not from the index), so adding or
 *            removing a target moves only the keys it gains or loses, and
 *            reordering targets in the config moves nothing. Ignored by the
 *            other kinds and may be NULL for them.
 * Returns NULL with errno = EINVAL on invalid arguments; the config layer
 * is expected to have reported a precise error already. */
pc_lb_t *pc_lb_new(pc_lb_kind_t kind, size_t n, const unsigned *weights,
                   const char *const *keys);
/* Main thread, once no worker uses the balancer any more. NULL is a no-op. */
void pc_lb_free(pc_lb_t *lb);

pc_lb_kind_t pc_lb_kind(const pc_lb_t *lb);
size_t pc_lb_size(const pc_lb_t *lb);

/* Worker state for lb, which must outlive it. Never NULL. */
pc_lb_state_t *pc_lb_state_new(const pc_lb_t *lb);
/* Desynchronises workers: without it every worker's round robin starts on
 * the same target, so right after a reload the first request of each of W
 * workers lands on one target. Advances the sequence by a seed-derived
 * number of picks below the total weight (capped at 4096), keeping the
 * exact smooth pattern. Call before the first pick. Optional; only
 * round_robin (and least_conn tie-breaks) use the counters. */
void pc_lb_state_seed(pc_lb_state_t *st, uint64_t seed);
/* NULL is a no-op. */
void pc_lb_state_free(pc_lb_state_t *st);

/* Worker thread, per request. Returns the index of the chosen target, or -1
 * if no target is usable. st must come from pc_lb_state_new(lb) (asserted);
 * active must be non-NULL for least_conn and random_two (asserted). */
int pc_lb_pick(const pc_lb_t *lb, pc_lb_state_t *st, uint64_t hash, uint64_t rnd,
               const unsigned *active, const unsigned char *usable);

#endif
