/* gateway/worker.h: one worker thread = one libev loop driving its own
 * libmicrohttpd daemon (external epoll mode, SO_REUSEPORT listen socket per
 * listener), its own upstream client and its own timers. Nothing a worker
 * does on a request takes a lock or blocks on the network. */
#ifndef PC_WORKER_H
#define PC_WORKER_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "conf/conf.h"
#include "upstream/lb.h"
#include "ops/metrics.h"
#include "upstream/upstream.h"

struct MHD_Daemon;
typedef struct pc_request pc_request_t;

/* A worker's view of one config generation: per-worker mutable state that
 * belongs with an immutable conf (balancer state, in-flight counts, plugin
 * worker state). Retired when a newer one is current and no request that
 * started on it is left. */
typedef struct pc_wgen {
    pc_conf_t *conf;
    unsigned inflight;
    pc_lb_state_t **lb_states;     /* per upstream */
    unsigned **active;             /* per upstream, per target */
    void **plugin_wstate;          /* per plugin instance */
    struct pc_wgen *next;          /* retired list */
} pc_wgen_t;

typedef struct pc_daemon {
    struct pc_worker *worker;
    const pc_listener_conf_t *listener; /* startup generation: valid only until the daemon runs */
    unsigned max_conn_per_ip;      /* copied: listeners are fixed at startup */
    unsigned listener_index;
    struct MHD_Daemon *mhd;
    int listen_fd;
    ev_io io;                      /* MHD's epoll fd */
    ev_timer timer;                /* MHD's own timeouts */
    bool resume_pending;           /* a connection was resumed outside MHD_run */
    unsigned nparked;              /* parked connections (gateway/front/mhd.c) */
} pc_daemon_t;

typedef struct pc_worker {
    unsigned id;
    pthread_t thread;
    struct ev_loop *loop;
    pc_daemon_t *daemons;
    size_t ndaemons;
    pc_uclient_t *uclient;
    struct pc_fetcher *fetcher;    /* pc_fetch for plugins (gateway/upstream/fetch.h) */
    pc_wgen_t *gen;                /* current */
    pc_wgen_t *retired;
    ev_async wake;                 /* new config or shutdown */
    ev_prepare prepare;            /* re-arms MHD timers before the loop blocks */
    ev_timer drain_timer;
    ev_timer sweep;                /* clients that left suspended requests */
    atomic_bool want_stop;
    bool draining;
    bool stopping_daemons;
    unsigned live_requests;
    pc_request_t *suspended_head;  /* requests waiting on async work: suspended or parked */
    struct pc_async *abandoned;    /* tokens timed out, not yet ended by their plugin */
    pc_metrics_t metrics;
    uint64_t rng;
    bool destroying;               /* pc_worker_destroy runs: it frees every wgen itself */
} pc_worker_t;

/* Main thread: create sockets for every listener (SO_REUSEPORT) and the
 * daemons, before privileges are dropped. */
int pc_worker_init(pc_worker_t *w, unsigned id, pc_conf_t *conf);
int pc_worker_start(pc_worker_t *w);
/* Main thread: a new generation is current; each worker picks it up. */
void pc_worker_notify(pc_worker_t *w);
/* Main thread: stop accepting, finish in-flight requests within the drain
 * timeout, then the thread exits. */
void pc_worker_stop(pc_worker_t *w);
void pc_worker_join(pc_worker_t *w);
void pc_worker_destroy(pc_worker_t *w);

/* Worker thread. */
pc_wgen_t *pc_wgen_acquire(pc_worker_t *w);
void pc_wgen_release(pc_worker_t *w, pc_wgen_t *g);
uint64_t pc_worker_random(pc_worker_t *w);
/* Resume a suspended MHD connection for r (worker thread only). */
void pc_worker_resume(pc_request_t *r);
void pc_worker_suspend(pc_request_t *r);

/* The published generation, read by workers with acquire ordering. */
pc_conf_t *pc_current_conf(void);
void pc_publish_conf(pc_conf_t *c);   /* main thread */
/* Workers hand the last reference of a generation to the main thread. */
void pc_conf_release(pc_conf_t *c);

#endif
