/* gateway/ops/metric.h: metrics registered by the store and by plugins,
 * rendered on /metrics by whoever asks, without the renderer knowing them.
 *
 * A metric is a family: a name, help text, a kind (counter or gauge) and up
 * to PC_METRIC_MAX_LABELS label names. Its series (one per tuple of label
 * values) are created on first use, at most PC_METRIC_MAX_SERIES of them:
 * adds to a series beyond that are dropped (and logged once), so a label
 * fed from request data cannot grow memory without bound.
 *
 * Each series has one cell per worker (a row per worker, a cache line
 * apart from the others), written by that worker alone with a relaxed
 * load and store, never a locked instruction; threads that are no worker
 * (main, admin) and workers beyond PC_METRIC_WORKER_SHARDS share one more
 * row with atomic adds. Rendering sums the rows. Adding to an existing
 * series allocates nothing and takes no lock.
 *
 * Registration happens at load time (main thread, pc_store_init, plugin
 * start()) and is idempotent: the same name with the same kind and labels
 * returns the same metric, so counters survive config reloads. Metrics
 * live as long as the process.
 */
#ifndef PC_METRIC_H
#define PC_METRIC_H

#include <portcullis/plugin.h>

#include <stdio.h>

#include "ops/metrics.h"

#define PC_METRIC_MAX_LABELS 4
#define PC_METRIC_MAX_SERIES 64
#define PC_METRIC_WORKER_SHARDS 64
#define PC_METRIC_MAX 128          /* metrics and collectors together */

enum { PC_METRIC_COUNTER = 0, PC_METRIC_GAUGE };

/* Main thread. labels: NULL or a NULL-terminated list of label names.
 * Returns the metric, or NULL (logged) when the name or a label is not a
 * valid Prometheus name, the name is registered with another kind or other
 * labels, or the registry is full. */
pc_metric_t *pc_metric_register(int kind, const char *name, const char *help,
                                 const char *const *labels);

/* The cell of one series for one worker (PC_THREAD_NO_WORKER: the shared
 * row, which only one thread may write this way), for code that keeps a
 * counter pointer (the Redis client's statistics). NULL when the series
 * table is full. values: one per label, NULL without labels. */
pc_counter_t *pc_metric_cell(pc_metric_t *m, unsigned worker, const char *const *values);

/* For what is computed when rendering rather than counted (the store's
 * configuration and size): fn(out, data) writes complete Prometheus lines
 * on the admin thread. Registered again with the same fn, only data is
 * replaced. Main thread. */
void pc_metric_collector(void (*fn)(FILE *out, void *data), void *data);

/* Admin thread: every registered metric and collector, in the order of
 * registration. */
void pc_metric_render(FILE *out);

/* Tests only: forget every metric (handles become invalid). */
void pc_metric_reset(void);

#endif
