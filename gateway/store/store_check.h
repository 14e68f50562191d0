/* gateway/store/store_check.h: rate-limit checks on the Redis store, for
 * the store calls of store.c (leases, coalescing and batching: see the
 * top of store_check.c). Every function takes the store context. */
#ifndef PC_STORE_CHECK_H
#define PC_STORE_CHECK_H

#include "store/store_ctx.h"

struct ev_loop;

/* start: main thread, before the worker runs. drain: sends what is
 * queued, before the connection closes. stop: after it closed (wconn
 * NULL): answers what is left, frees the worker's table. */
void pc_stc_worker_start(pc_store_t *st, unsigned id, struct ev_loop *loop);
void pc_stc_worker_drain(pc_store_t *st, unsigned id);
void pc_stc_worker_stop(pc_store_t *st, unsigned id);
void pc_stc_shutdown(pc_store_t *st);
/* A limit check on Redis for worker id (PC_THREAD_NO_WORKER: on the
 * blocking connection, answered before return); limits valid, n and klen
 * in range, key the entry's store key. */
void pc_stc_limit(pc_store_t *st, unsigned id, const void *key, size_t klen,
                  const pc_rl_limit_t *l, size_t n, pc_store_limit_cb cb, void *data);

#endif
