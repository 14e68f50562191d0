/* gateway/base/thread.h: which worker the calling thread is.
 *
 * The store's connections and the metric shards are per worker. Every
 * per-request call runs on the thread of the worker that owns the request
 * (plugin.h's threading rule), so the calling thread names its worker and
 * callers need not pass one, nor can they pass a wrong one. A worker
 * thread says who it is once, first thing; every other thread (main,
 * admin, tests) is "no worker".
 */
#ifndef PC_THREAD_H
#define PC_THREAD_H

#include <limits.h>

#define PC_THREAD_NO_WORKER UINT_MAX

/* The worker's own thread, before it runs anything else; once. Tests that
 * play a worker on their own thread call it too (PC_THREAD_NO_WORKER to
 * stop playing). */
void pc_thread_set_worker(unsigned id);

/* The calling thread's worker id, or PC_THREAD_NO_WORKER. */
unsigned pc_thread_worker(void);

#endif
