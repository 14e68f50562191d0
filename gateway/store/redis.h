/* gateway/store/redis.h: the Redis client behind the store (gateway/store/store.c).
 *
 * Two clients with one contract:
 *
 *   pc_redis_t       asynchronous, one per worker, on the worker's libev
 *                    loop (hiredis 0.14 and its libev adapter). Nothing
 *                    here blocks: connect is non-blocking, every command
 *                    has a deadline, and a connection that is down answers
 *                    at once.
 *   pc_redis_sync_t  blocking, for callers that are not workers (the admin
 *                    thread, the main thread at startup), serialised by a
 *                    mutex, with the same timeouts. Never used on a worker.
 *                    Declared in redis_sync.h.
 *
 * Connection life (async): DOWN -> CONNECTING (non-blocking connect, then a
 * pipelined handshake: AUTH [user] password, SELECT db, SCRIPT LOAD of
 * every script) -> UP. The handshake must finish within connect_timeout_ms.
 * A lost connection, a failed handshake or a connection that stops
 * answering (no reply to its oldest command for PC_REDIS_DEAD_MS or four
 * command timeouts, whichever is longer) goes back to DOWN and is retried
 * after an exponential backoff with jitter (PC_REDIS_BACKOFF_MIN_MS doubling
 * up to PC_REDIS_BACKOFF_MAX_MS, each delay drawn from [d/2, d]); a
 * successful handshake resets it. No restart is ever needed.
 *
 * Commands: the callback runs exactly once, on the loop's thread. rc is 0
 * with a reply that is not an error reply, or -1 with reply NULL (DOWN,
 * deadline passed, connection lost, too many commands in flight) or with
 * the error reply (reply->type == REDIS_REPLY_ERROR). When the connection
 * is not UP the callback runs before the call returns. When the deadline
 * passes, the callback runs then with rc -1 and the late reply is dropped.
 * The reply is valid only during the callback.
 *
 * Scripts: registered at creation, loaded with SCRIPT LOAD at every
 * handshake and called with EVALSHA; a NOSCRIPT answer (SCRIPT FLUSH, a
 * failover to a replica that never saw the script) reloads the script and
 * retries the command once on the same connection, within the original
 * deadline.
 *
 * hiredis types are only forward-declared here; callers that read replies
 * include <hiredis/hiredis.h> themselves.
 */
#ifndef PC_REDIS_H
#define PC_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/metrics.h"
#include "store/redis_cmd.h"
#include "store/redis_url.h"

struct redisReply;
struct ev_loop;

#define PC_REDIS_BACKOFF_MIN_MS 100u
#define PC_REDIS_BACKOFF_MAX_MS 5000u
#define PC_REDIS_DEAD_MS 1000u
#define PC_REDIS_MAX_PENDING 65536u    /* commands in flight per connection */
#define PC_REDIS_MAX_SCRIPTS 4

typedef struct pc_redis_opts {
    pc_redis_addr_t addr;
    unsigned connect_timeout_ms;   /* connect + handshake */
    unsigned command_timeout_ms;   /* per command */
    const pc_redis_script_t *scripts; /* array, kept by the caller for the client's life */
    size_t nscripts;               /* <= PC_REDIS_MAX_SCRIPTS */
    const char *name;              /* for log lines, e.g. "worker 0" */
    /* Optional counters (the worker's metrics), written on the loop thread. */
    pc_counter_t *stat_timeouts;   /* commands that missed their deadline */
    pc_counter_t *stat_reconnects; /* successful handshakes after the first */
    pc_counter_t *stat_up;         /* gauge: 1 while UP */
} pc_redis_opts_t;

typedef void (*pc_redis_cb)(void *data, int rc, const struct redisReply *reply);

typedef struct pc_redis pc_redis_t;

/* Starts connecting at once. opts is copied (not the strings or scripts it
 * points to). Loop thread (or before the loop runs). */
pc_redis_t *pc_redis_new(struct ev_loop *loop, const pc_redis_opts_t *opts);
/* Closes the connection: every pending callback runs with rc -1 before it
 * returns. Loop thread, never from inside a callback of this client. */
void pc_redis_free(pc_redis_t *rd);
bool pc_redis_is_up(const pc_redis_t *rd);

/* A command as an argument vector (binary-safe). */
void pc_redis_command(pc_redis_t *rd, pc_redis_cb cb, void *data, int argc, const char **argv,
                      const size_t *argvlen);
/* EVALSHA of script `script` (index into opts.scripts): argv holds the
 * nkeys keys, then the arguments (argc in all). */
void pc_redis_evalsha(pc_redis_t *rd, pc_redis_cb cb, void *data, unsigned script, int nkeys,
                      int argc, const char **argv, const size_t *argvlen);

/* Writes the commands queued so far now, if the connection is up (a
 * prepare watcher also does it before the loop blocks). Loop thread, not
 * from inside a callback of this client. */
void pc_redis_flush(pc_redis_t *rd);

#endif
