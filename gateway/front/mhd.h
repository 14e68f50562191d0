/* gateway/front/mhd.h: the libmicrohttpd request handler of a worker. */
#ifndef PC_HTTP_H
#define PC_HTTP_H

#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "worker.h"

struct MHD_Daemon;
struct MHD_Connection;

/* Worker thread: starts the daemon of one listener on an already bound,
 * listening socket, in external epoll mode. */
struct MHD_Daemon *pc_http_daemon_start(pc_daemon_t *d, int listen_fd,
                                        const pc_listener_conf_t *l);
void pc_http_stop_timer(pc_request_t *r);
void pc_http_resume_request(pc_request_t *r);

/* Per-client-IP connection limit, shared by every worker (gateway/front/connlimit.c). */
int pc_connlimit_acquire(pc_daemon_t *d, const struct sockaddr *addr);
void pc_connlimit_release(pc_daemon_t *d, struct MHD_Connection *conn);

void pc_worker_check_drained(pc_worker_t *w);
/* Once a second: answers requests whose client left while they waited. */
void pc_http_sweep_gone(pc_worker_t *w, uint64_t now_ns);

#endif
