/* gateway/lifecycle/wait.h: the one way a request waits.
 *
 * A request waits on a plugin's token (gateway/lifecycle/chain.c) or on its
 * upstream (gateway/upstream/proxy.c). While it waits the front end must
 * not call its handler in vain, and something must bring it back:
 *
 *   parked     the front end keeps calling the handler on each of its runs
 *              (cheap for short waits: no system call), until PARK_LOOKS
 *              looks or PARK_SECONDS passed, then the request is suspended;
 *   suspended  the front end forgets the connection until it is resumed.
 *
 * pc_wait_resume() ends either kind of wait; it is safe to call when the
 * request does not wait (the front end calls it anyway). Every waiting
 * request is on its worker's `waiting` list, so shutdown and the
 * client-gone sweep find them.
 *
 * The front end (gateway/front/) registers a pc_front_ops_t per worker:
 * nothing here knows libmicrohttpd. All of this runs on the request's
 * worker thread, except pc_wake_signal (plugin.h), which any thread may call.
 */
#ifndef PC_WAIT_H
#define PC_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lifecycle/request.h"
#include "lifecycle/worker_ctx.h"

/* What the request layer asks of the front end, on the worker thread.
 * suspend and resume stop and restart the front end's calls for r's
 * connection; client_gone peeks at it: true when the client closed it. */
typedef struct pc_front_ops {
    void (*suspend)(pc_request_t *r);
    void (*resume)(pc_request_t *r);
    bool (*client_gone)(pc_request_t *r);
} pc_front_ops_t;

/* One per front-end listener (embedded in its daemon): requests parked on
 * it, and whether a resume asks the front end for a run. */
typedef struct pc_waitq {
    unsigned nparked;
    bool run_pending;
} pc_waitq_t;

/* Suspends r (which does not wait yet). */
void pc_wait_suspend(pc_request_t *r);
/* From the front end's handler only, at its final call (the whole request
 * received): parks r, or suspends it when r->wq has too many parked. */
void pc_wait_park(pc_request_t *r);
/* The front end called the handler of parked r, which still waits: stays
 * parked while the wait is short, suspended once it is not. */
void pc_wait_look(pc_request_t *r);
/* The front end completed parked r (client gone, its timeout): r stops
 * waiting without being resumed. */
void pc_wait_unpark(pc_request_t *r);
/* Ends r's wait, if any: the front end calls its handler again soon. */
void pc_wait_resume(pc_request_t *r);

/* The first waiting request of w, or NULL (shutdown answers them all). */
pc_request_t *pc_wait_first(pc_worker_t *w);
/* Once a second: for each request that waited more than a second, asks the
 * front end whether its client left, and if so calls gone(r), which must
 * end the wait (answer r and pc_wait_resume it). */
void pc_wait_sweep(pc_worker_t *w, uint64_t now_ns, void (*gone)(pc_request_t *r));

#endif
