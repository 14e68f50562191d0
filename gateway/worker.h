/* gateway/worker.h: one worker thread = one libev loop driving its own
 * libmicrohttpd daemons (gateway/front/, external epoll mode, SO_REUSEPORT
 * listen socket per listener), its own upstream client and its own timers.
 * Nothing a worker does on a request takes a lock or blocks on the
 * network. The struct every layer sees is gateway/lifecycle/worker_ctx.h;
 * this is the thread's life: start, config pick-up, drain, stop. */
#ifndef PC_WORKER_H
#define PC_WORKER_H

#include "conf/conf.h"
#include "lifecycle/worker_ctx.h"

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

#endif
