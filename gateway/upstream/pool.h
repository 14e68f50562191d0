/* gateway/upstream/pool.h: the upstream client's connections and its
 * per-target keep-alive pools.
 *
 * A connection belongs either to its target's pool (x == NULL: idle, on the
 * target's LIFO list and on the pool-wide age list, oldest first) or to
 * exactly one exchange (x set by the exchange that took or opened it).
 * EV_READ stays armed on a connection from the moment it is established
 * until it is closed: an idle one needs it to notice EOF, which closes it.
 * Events of a connection that an exchange holds go to on_io. Idle
 * connections of all targets share one timer, since they all live equally
 * long and sit on one list in age order. Closed connections go to a free
 * list, so a warm pool does not call malloc.
 *
 * Threading: the loop's thread only, like the client that owns the pool.
 */
#ifndef PC_UPSTREAM_POOL_H
#define PC_UPSTREAM_POOL_H

#include <ev.h>
#include <sys/socket.h>

#include "base/list.h"

struct pc_ux;
typedef struct pc_uconn pc_uconn_t;
typedef struct pc_upool pc_upool_t;

/* The exchange side of a connection's readiness event. */
typedef void (*pc_uconn_io_cb)(struct pc_ux *x, pc_uconn_t *k, int revents);

struct pc_uconn {
    ev_io io;
    pc_upool_t *p;
    struct pc_ux *x;         /* the exchange holding it; NULL while pooled */
    pc_list_t plink;         /* its target's idle list (LIFO), or the free list */
    pc_list_t alink;         /* the pool-wide idle list, oldest first */
    ev_tstamp idle_since;
    unsigned target_id;
    unsigned gen;            /* the target's generation at connect time */
    int fd;
    int events;              /* mask the io watcher is started with, 0 = stopped */
    unsigned connecting : 1;
    unsigned pooled : 1;     /* on its target's list and the age list */
    unsigned reused : 1;     /* came out of the pool at least once */
};

typedef struct pc_upool_target {
    pc_list_t idle;          /* pc_uconn_t.plink, most recently used first */
    unsigned count;
    unsigned gen;            /* bumped when the target's address changed (config reload) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} pc_upool_target_t;

struct pc_upool {
    struct ev_loop *loop;
    unsigned max_idle_per_target;
    unsigned idle_timeout_ms;
    pc_uconn_io_cb on_io;
    pc_upool_target_t *targets;  /* by target id */
    unsigned ntargets;
    pc_list_t age;           /* pc_uconn_t.alink, oldest first */
    ev_timer idle_timer;
    pc_list_t free_c;        /* pc_uconn_t.plink */
    unsigned nfree_c;
};

void pc_upool_init(pc_upool_t *p, struct ev_loop *loop, unsigned max_idle_per_target,
                   unsigned idle_timeout_ms, pc_uconn_io_cb on_io);
/* Closes every idle connection and frees the pool's memory. No connection
 * may be held by an exchange. */
void pc_upool_fini(pc_upool_t *p);

/* An idle connection to target id at addr, most recently used first, or
 * NULL. If a reload gave the id a new address, the connections to the old
 * one are closed first: they must not serve it. */
pc_uconn_t *pc_upool_take(pc_upool_t *p, unsigned id, const struct sockaddr_storage *addr,
                          socklen_t addrlen);
/* A new non-blocking connection to target id: 0 with *out set, or -1 when
 * the connect failed at once. *in_progress: wait for writability. */
int pc_upool_open(pc_upool_t *p, unsigned id, const struct sockaddr_storage *addr,
                  socklen_t addrlen, pc_uconn_t **out, int *in_progress);
/* An exchange is done with k: back to its target's pool if reuse (and
 * there is room, and the target's address did not change), else closed. */
void pc_upool_release(pc_upool_t *p, pc_uconn_t *k, int reuse);
/* Sets the io watcher's mask; touches the watcher (an epoll_ctl on the next
 * loop iteration) only when the mask really changes. */
void pc_uconn_want(pc_uconn_t *k, int events);

unsigned pc_upool_idle_count(const pc_upool_t *p, unsigned target_id);

#endif
