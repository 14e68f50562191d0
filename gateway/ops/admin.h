/* gateway/ops/admin.h: the admin listener (loopback by default, never the
 * public port): /healthz, /readyz, /metrics, /config. */
#ifndef PC_ADMIN_H
#define PC_ADMIN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "worker.h"

typedef struct pc_admin pc_admin_t;

typedef struct pc_admin_view {
    pc_worker_t *workers;
    unsigned nworkers;
    atomic_bool ready;
    _Atomic unsigned generation;
    const char *config_path;
} pc_admin_view_t;

pc_admin_t *pc_admin_start(const char *address, unsigned port, pc_admin_view_t *view);
void pc_admin_stop(pc_admin_t *a);

#endif
