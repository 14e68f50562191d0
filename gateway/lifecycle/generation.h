/* gateway/lifecycle/generation.h: config generations, from publication by
 * the main thread to their release when the last request that started on
 * them ends.
 *
 * The main thread publishes a generation (an atomic pointer holding one
 * reference) and wakes every worker. A worker wraps the conf in a pc_wgen
 * with its own mutable state; requests count themselves on the wgen they
 * started on, so a reload never disturbs a request in flight. When a
 * retired wgen drains, its conf reference goes back to the main thread,
 * which frees the conf once nobody holds it.
 */
#ifndef PC_GENERATION_H
#define PC_GENERATION_H

#include "conf/conf.h"
#include "lifecycle/worker_ctx.h"
#include "upstream/lb.h"

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

/* The published generation, read by workers with acquire ordering. */
pc_conf_t *pc_current_conf(void);
/* Main thread: c (one reference, handed over) becomes current. */
void pc_publish_conf(pc_conf_t *c);
/* Any thread: drops a reference; the last one queues c for the main
 * thread, which frees it in pc_generation_free_released. */
void pc_conf_release(pc_conf_t *c);
/* Main thread: notify(data) is called (from any thread) when a conf was
 * queued; it only wakes the main loop. NULL: nobody is told. */
void pc_generation_on_release(void (*notify)(void *), void *data);
/* Main thread: frees the queued confs. */
void pc_generation_free_released(void);

/* Worker thread: makes the published generation w's current one; the
 * previous one retires until its requests are gone. */
void pc_wgen_take_current(pc_worker_t *w);
/* Worker thread: a request starts on (acquire) or leaves (release) g. */
pc_wgen_t *pc_wgen_acquire(pc_worker_t *w);
void pc_wgen_release(pc_worker_t *w, pc_wgen_t *g);
/* Worker end: plugins' per-worker state of every wgen first (their waiters
 * may still point at requests), then the wgens themselves. */
void pc_wgen_free_plugin_states(pc_worker_t *w);
void pc_wgen_free_all(pc_worker_t *w);

#endif
