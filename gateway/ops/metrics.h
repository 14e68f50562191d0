/* gateway/ops/metrics.h: the core's per-worker counters (requests, routes,
 * upstreams, connections), read by the admin thread. Counters of the store
 * and of plugins are registered instead (ops/metric.h).
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

/* Client deadlines that passed (portcullis_timeouts_total{phase}). */
enum { PC_TIMEOUT_HEADER = 0, PC_TIMEOUT_BODY, PC_TIMEOUT_PHASES };

enum { PC_UPERR_CONNECT = 0, PC_UPERR_TIMEOUT, PC_UPERR_RESET, PC_UPERR_PROTO, PC_UPERR_NONE_AVAILABLE, PC_UPERR_KINDS };

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
    pc_counter_t timeouts[PC_TIMEOUT_PHASES];
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

/* Admin thread: Prometheus text format, summed over the workers. The
 * metrics the store and the plugins registered follow (pc_metric_render). */
void pc_metrics_render(FILE *out, pc_metrics_t *const *workers, size_t nworkers,
                       unsigned generation);

#endif
