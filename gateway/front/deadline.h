/* gateway/front/deadline.h: deadlines that libmicrohttpd does not keep:
 * the request head (header_timeout_ms, from accept or from the end of the
 * previous response to the end of the header block) and the body
 * (request_timeout_ms while the body is still being received).
 *
 * MHD gives no callback before a request line is complete and none while a
 * body stalls, and it cannot queue a response in either state. So a
 * deadline answers on the socket itself: MHD has written nothing of a
 * response yet, the 408 (problem+json, Connection: close) goes out whole,
 * then both directions are shut down and MHD, seeing end of stream, closes
 * the connection. Worker thread; every function runs in an MHD callback
 * of d's daemon or in a timer of its worker's loop. Nothing here runs per request
 * beyond starting and stopping one ev_timer (no syscall, no allocation:
 * connection records are recycled per daemon).
 */
#ifndef PC_FRONT_DEADLINE_H
#define PC_FRONT_DEADLINE_H

#include "lifecycle/request.h"
#include "lifecycle/worker_ctx.h"

struct MHD_Connection;
typedef struct pc_fconn pc_fconn_t;

/* One per daemon (listener), inside its pc_daemon_t. */
typedef struct pc_deadlines {
    pc_worker_t *worker;
    unsigned header_timeout_ms;    /* copied: listeners are fixed at startup */
    pc_fconn_t *free_conns;        /* recycled connection records */
} pc_deadlines_t;

/* Connection accepted: a record for it (recycled from d's free list),
 * with the head deadline armed. */
pc_fconn_t *pc_deadline_conn_open(pc_deadlines_t *d, struct MHD_Connection *conn);
/* Connection closed: disarms and recycles c (NULL is ignored). */
void pc_deadline_conn_close(pc_deadlines_t *d, pc_fconn_t *c);
/* Frees d's recycled records once its daemon has stopped. */
void pc_deadline_free_all(pc_deadlines_t *d);

/* True when c's head deadline has passed (answered: no request may start
 * on its connection any more), or c is NULL. */
bool pc_deadline_expired(const pc_fconn_t *c);
/* The request line of r is in: r takes c's head deadline over. */
void pc_deadline_request_start(pc_fconn_t *c, pc_request_t *r);
/* The header block of r is in: the head deadline stops. */
void pc_deadline_head_done(pc_request_t *r);
/* r was completed by MHD (ok: its response went out whole): a kept-alive
 * connection waits for its next head from now. */
void pc_deadline_request_end(pc_request_t *r, bool ok);

/* request_timeout_ms passed while r's body was still coming: answers 408
 * on the socket, counts it and marks r (r->answered_raw). */
void pc_deadline_body_expired(pc_request_t *r);

#endif
