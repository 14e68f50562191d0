/* gateway/store/redis_sync.h: the blocking Redis client, for threads that
 * are no worker (the admin thread's revocations, the main thread). Same
 * options, callbacks and scripts as the asynchronous client (redis.h). */
#ifndef PC_REDIS_SYNC_H
#define PC_REDIS_SYNC_H

#include "store/redis.h"

typedef struct pc_redis_sync pc_redis_sync_t;

pc_redis_sync_t *pc_redis_sync_new(const pc_redis_opts_t *opts);
void pc_redis_sync_free(pc_redis_sync_t *rs);
/* Same contract as the async calls, but the callback runs before the call
 * returns, on the calling thread. Waits at most about connect_timeout_ms +
 * 2 * command_timeout_ms; after a failed connect, calls fail at once until
 * the backoff has passed. Thread-safe. */
void pc_redis_sync_command(pc_redis_sync_t *rs, pc_redis_cb cb, void *data, int argc,
                           const char **argv, const size_t *argvlen);
void pc_redis_sync_evalsha(pc_redis_sync_t *rs, pc_redis_cb cb, void *data, unsigned script,
                           int nkeys, int argc, const char **argv, const size_t *argvlen);

#endif
