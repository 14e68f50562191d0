/* gateway/lifecycle/worker_ctx.h: what every layer below the worker sees of
 * a worker thread: its loop, its metrics, its generation, its random
 * generator and the lists of requests that wait.
 *
 * The thread itself (start, drain, stop) is gateway/worker.c, at the top of
 * the dependency order; this struct sits below it so that requests, the
 * chain, the proxy, the store and the fetcher reach their thread's state
 * without depending on worker.c. Every field belongs to the worker's
 * thread; nothing here takes a lock.
 */
#ifndef PC_WORKER_CTX_H
#define PC_WORKER_CTX_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/list.h"
#include "base/rng.h"
#include "ops/metrics.h"
#include "upstream/upstream.h"

struct pc_daemon;
struct pc_fetcher;
struct pc_front_ops;
struct pc_wgen;

typedef struct pc_worker {
    unsigned id;
    pthread_t thread;
    struct ev_loop *loop;
    struct pc_daemon *daemons;     /* one per listener (gateway/front/mhd.h) */
    size_t ndaemons;
    const struct pc_front_ops *front; /* set by the front end (gateway/lifecycle/wait.h) */
    pc_uclient_t *uclient;
    struct pc_fetcher *fetcher;    /* pc_fetch for plugins (gateway/upstream/fetch.h) */
    struct pc_wgen *gen;           /* current (gateway/lifecycle/generation.h) */
    struct pc_wgen *retired;
    ev_async wake;                 /* new config or shutdown */
    ev_prepare prepare;            /* re-arms the front end's timers before the loop blocks */
    ev_timer drain_timer;
    ev_timer sweep;                /* clients that left waiting requests */
    atomic_bool want_stop;
    bool draining;
    bool stopping_daemons;
    unsigned live_requests;        /* started and not yet completed by the front end */
    /* Called when live_requests drops to 0 (gateway/worker.c: the drain). */
    void (*on_idle)(struct pc_worker *w);
    pc_list_t waiting;             /* parked and suspended requests (lifecycle/wait.c) */
    pc_list_t abandoned;           /* timed-out tokens not yet ended (lifecycle/chain.c) */
    pc_metrics_t metrics;
    pc_rng_t rng;
    bool destroying;               /* pc_worker_destroy runs: it frees every wgen itself */
} pc_worker_t;

#endif
