/* gateway/ops/accesslog.h: one JSON line per request, written by a dedicated
 * thread. A worker only copies the line into its own single-producer ring;
 * if the writer falls behind, the line is dropped and counted, never
 * waited for. */
#ifndef PC_ACCESSLOG_H
#define PC_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/metrics.h"

typedef struct pc_accesslog pc_accesslog_t;

/* path: "stderr", "stdout" or a file opened in append mode. Reopened on
 * SIGHUP (pc_accesslog_reopen) for log rotation. */
pc_accesslog_t *pc_accesslog_open(const char *path, unsigned nproducers, size_t ring_bytes);
int pc_accesslog_reopen(pc_accesslog_t *al);
/* Worker `producer` only. Returns false if the line was dropped. */
bool pc_accesslog_push(pc_accesslog_t *al, unsigned producer, const char *line, size_t len);
/* What one access-log line says about a request: a view the front end
 * fills, so the format lives here and knows no HTTP library. Strings may be
 * NULL (written as ""); reason NULL leaves the key out. */
typedef struct pc_access_rec {
    const char *request_id;
    const char *client;
    const char *method;
    const char *path;
    const char *route;
    int status;
    uint64_t bytes;            /* body bytes sent */
    const char *upstream;      /* the target's authority */
    uint64_t upstream_ns;      /* 0 when there was no upstream exchange */
    uint64_t total_ns;
    const char *reason;
} pc_access_rec_t;

/* Worker `producer` only: formats rec as one JSON line, stamped with the
 * wall clock, and queues it. Returns false if the line was dropped. */
bool pc_accesslog_write(pc_accesslog_t *al, unsigned producer, const pc_access_rec_t *rec);
/* Flushes what is queued, stops the thread, closes the file. */
void pc_accesslog_close(pc_accesslog_t *al);

/* The process-wide log, or NULL when access logging is off. */
extern pc_accesslog_t *pc_access_log;

#endif
