/* gateway/front/mhd.h: the libmicrohttpd request handler of a worker, and
 * the daemon it serves (one per listener per worker). Worker thread. */
#ifndef PC_HTTP_H
#define PC_HTTP_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "front/deadline.h"
#include "front/idle.h"
#include "lifecycle/wait.h"
#include "lifecycle/worker_ctx.h"

struct MHD_Daemon;

typedef struct pc_daemon {
    pc_worker_t *worker;
    const pc_listener_conf_t *listener; /* startup generation: valid only until the daemon runs */
    unsigned max_conn_per_ip;      /* copied: listeners are fixed at startup */
    unsigned listener_index;
    struct MHD_Daemon *mhd;
    int listen_fd;
    ev_io io;                      /* MHD's epoll fd */
    ev_timer timer;                /* MHD's own timeouts */
    pc_waitq_t wq;                 /* its parked requests, and whether a resume wants a run */
    pc_idle_t idle;                /* idle keep-alive sockets held outside MHD (front/idle.h) */
    pc_deadlines_t deadlines;      /* head deadlines of its connections */
} pc_daemon_t;

/* Worker thread: starts the daemon of one listener on an already bound,
 * listening socket, in external epoll mode, and registers the front-end
 * ops of gateway/lifecycle/wait.h on d's worker. */
struct MHD_Daemon *pc_http_daemon_start(pc_daemon_t *d, int listen_fd,
                                        const pc_listener_conf_t *l);
/* Once a second: answers requests whose client left while they waited;
 * takes idle connections over from MHD (gateway/front/idle.h). */
void pc_http_sweep_gone(pc_worker_t *w, uint64_t now_ns);

#endif
