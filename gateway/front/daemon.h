/* gateway/front/daemon.h: a worker's libmicrohttpd daemons on its libev
 * loop. Worker thread, except where noted. */
#ifndef PC_DAEMON_H
#define PC_DAEMON_H

#include "front/mhd.h"

/* Starts every daemon of w on w's loop: -1 if one cannot start. */
int pc_daemons_start(pc_worker_t *w);
/* Before w's loop blocks: runs the daemons that have work without I/O and
 * lets their nearest timeout bound the wait. */
void pc_daemons_prepare(pc_worker_t *w);
/* Drain: stops accepting; requests in flight go on. */
void pc_daemons_quiesce(pc_worker_t *w);
/* One last run of each daemon (to deliver the answers of the requests
 * just resumed), then stops them. */
void pc_daemons_stop(pc_worker_t *w);

#endif
