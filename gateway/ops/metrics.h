/* gateway/ops/metrics.h: per-worker counters, read by the admin thread.
 *
 * Each counter has exactly one writer (its worker), so an increment is a
 * relaxed load and store, never a locked instruction. Per-route and
 * per-upstream counters are keyed by stable ids (pc_stable_id), so they
 * survive a config reload; their storage comes in chunks that the main
 * thread allocates before publishing a generation that uses them. */
#ifndef PC_METRICS_H
#define PC_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PC_METRIC_CHUNK 256u
#define PC_METRIC_CHUNKS 256u      /* 65536 names per space */
#define PC_LAT_BUCKETS 14u
#define PC_STATUS_SLOTS 48u         /* 5 per-class "other" slots + common codes */

enum { PC_UPERR_CONNECT = 0, PC_UPERR_TIMEOUT, PC_UPERR_RESET, PC_UPERR_PROTO, PC_UPERR_NONE_AVAILABLE, PC_UPERR_KINDS };

/* Store, rate-limit and brute-force counters (pc_metrics_t.store), rendered
 * by pc_store_metrics_render (gateway/store/store.c). PC_SM_REDIS_UP is a gauge. */
enum {
    PC_SM_ERRORS = 0,      /* store calls Redis could not answer */
    PC_SM_TIMEOUTS,        /* Redis commands that missed command_timeout_ms */
    PC_SM_FALLBACKS,       /* fail_open answers from the local memory store */
    PC_SM_RECONNECTS,      /* Redis connections re-established */
    PC_SM_REDIS_UP,        /* gauge: 1 while this worker's connection is up */
    PC_SM_RL_LIMITED,      /* requests refused by rate_limit (429) */
    PC_SM_BF_FAILURES,     /* failed authentications counted by brute_force */
    PC_SM_BF_LOCKOUTS,     /* lockouts started */
    PC_SM_BF_DENIED,       /* requests refused during a lockout (429) */
    PC_SM_CHECKS,          /* rate-limit checks sent to Redis */
    PC_SM_LEASE_ADMITTED,  /* requests admitted from a worker's lease, without Redis */
    PC_SM_LEASE_REFUSED,   /* requests refused locally within a Redis retry time */
    PC_SM_KINDS
};

typedef _Atomic uint64_t pc_counter_t;

typedef struct pc_route_stats {
    pc_counter_t status[PC_STATUS_SLOTS]; /* see pc_status_slot() */
    pc_counter_t latency[PC_LAT_BUCKETS]; /* cumulative buckets are built when rendering */
    pc_counter_t latency_sum_us;
} pc_route_stats_t;

typedef struct pc_upstream_stats {
    pc_counter_t requests;
    pc_counter_t errors[PC_UPERR_KINDS];
} pc_upstream_stats_t;

typedef struct pc_metrics {
    _Atomic(pc_route_stats_t *) routes[PC_METRIC_CHUNKS];
    _Atomic(pc_upstream_stats_t *) upstreams[PC_METRIC_CHUNKS];
    pc_counter_t connections_active;
    pc_counter_t connections_total;
    pc_counter_t requests_active;
    pc_counter_t access_log_dropped;
    pc_counter_t store[PC_SM_KINDS];  /* PC_SM_* */
} pc_metrics_t;

static inline void pc_counter_add(pc_counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void pc_counter_sub(pc_counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

static inline uint64_t pc_counter_get(pc_counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Stable ids for names, per space ("route", "upstream", "target"); ids
 * start at 1 (0 means "none"). Thread-safe; ids are never reused. */
unsigned pc_stable_id(const char *space, const char *name);
const char *pc_stable_name(const char *space, unsigned id); /* NULL if unknown */
/* Tests and fuzzers only: forget every name. */
void pc_stable_ids_reset(void);

/* Main thread, before publishing: make sure storage exists for id. */
void pc_metrics_ensure_route(pc_metrics_t *m, unsigned id);
void pc_metrics_ensure_upstream(pc_metrics_t *m, unsigned id);
void pc_metrics_free(pc_metrics_t *m);

/* Worker thread. */
void pc_metrics_request(pc_metrics_t *m, unsigned route_id, int status, uint64_t latency_us);
void pc_metrics_upstream(pc_metrics_t *m, unsigned upstream_id, int err_kind /* -1 = ok */);

/* Admin thread: Prometheus text format, summed over the workers. */
void pc_metrics_render(FILE *out, pc_metrics_t *const *workers, size_t nworkers,
                       unsigned generation);
/* The store's part of the rendering (defined in gateway/store/store.c). */
void pc_store_metrics_render(FILE *out, pc_metrics_t *const *workers, size_t nworkers);

#endif
