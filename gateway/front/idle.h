/* gateway/front/idle.h: idle keep-alive connections held by the gateway
 * instead of libmicrohttpd, so that one costs a small record instead of
 * MHD's whole per-connection pool (which MHD 0.9.75 zeroes, and so makes
 * resident, after every request). docs/architecture.md, "Idle
 * connections", has the figures and the reasons.
 *
 * A connection that finished a request and stayed silent for a second is
 * taken from MHD (MHD frees its pool); its socket waits on the worker's
 * loop, and is handed back to MHD with MHD_add_connection as soon as the
 * client sends again. Busy connections never pay for it: nothing here
 * makes a syscall or allocates per request.
 *
 * Everything runs on the daemon's worker thread, from MHD's callbacks
 * (gateway/front/mhd.c) or the worker's once-a-second sweep. */
#ifndef PC_IDLE_H
#define PC_IDLE_H

#include "base/list.h"
#include "ops/metrics.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct MHD_Connection;
struct MHD_Daemon;

/* MHD's socket context of one connection (allocated when MHD announces
 * it, freed when MHD closes it). */
typedef struct pc_idle_conn pc_idle_conn_t;
typedef struct pc_idle_held pc_idle_held_t;

/* Linux refuses to watch one file through a nested epoll set from more
 * than 500 places at once, so the end-of-stream sockets come in a few. */
#define PC_IDLE_EOF_FILES 8

typedef struct pc_idle {
    struct ev_loop *loop;
    struct MHD_Daemon *mhd;
    int mhd_epfd;
    bool enabled;               /* false: MHD keeps every connection */
    int eof_fd[PC_IDLE_EOF_FILES];       /* sockets at end of stream */
    unsigned eof_uses[PC_IDLE_EOF_FILES]; /* take-overs MHD has not closed yet */
    unsigned max_connections;   /* MHD's and ours together */
    unsigned limit_per_ip;      /* as given to gateway/front/connlimit.h */
    uint64_t timeout_ns;        /* the listener's client_idle_timeout_ms */
    pc_counter_t *active;       /* the worker's connections_active */
    pc_list_t watch;            /* MHD's, done with a request, silent since: oldest first */
    pc_list_t held;             /* ours: oldest first, so also by deadline */
    size_t nheld;
    size_t nmhd;                /* MHD's connections */
    pc_idle_held_t *readding;   /* while MHD_add_connection runs */
    bool closing;               /* draining: no more take-overs */
    bool trim_pending;          /* pools freed since the last sweep */
} pc_idle_t;

/* After MHD_start_daemon: hand-off is on only with the libmicrohttpd whose
 * internals it relies on (0.9.75, MHD_USE_TURBO, external epoll). */
void pc_idle_init(pc_idle_t *idle, struct ev_loop *loop, struct MHD_Daemon *mhd,
                  unsigned max_connections, unsigned limit_per_ip, unsigned timeout_ms,
                  pc_counter_t *active);
/* Accept policy: false when MHD's and our connections reach the limit.
 * *readd is true for a socket we are handing back (already counted). */
bool pc_idle_accept(pc_idle_t *idle, bool *readd);
/* MHD announced a connection: its record (front/mhd.c keeps it in the
 * connection's socket context), and whether it is one
 * of ours coming back (already counted). */
pc_idle_conn_t *pc_idle_conn_start(pc_idle_t *idle, struct MHD_Connection *conn, bool *readd);
/* MHD closed it: frees c; true when the socket lives on, held by us (its
 * counts stay). c may be NULL. */
bool pc_idle_conn_closed(pc_idle_t *idle, pc_idle_conn_t *c);
/* A request begins on c: it is busy. */
void pc_idle_busy(pc_idle_conn_t *c);
/* A request on c was answered in full; its body had body_bytes bytes on
 * the wire (-1: unknown, e.g. chunked: c is then never handed off). */
void pc_idle_done(pc_idle_t *idle, pc_idle_conn_t *c, int64_t body_bytes, uint64_t now_ns);
/* Once a second: takes over connections silent for a second, closes the
 * held ones past their idle timeout. */
void pc_idle_sweep(pc_idle_t *idle, uint64_t now_ns);
/* Drain: closes every held socket (they are idle: nothing lost) and
 * takes over no more. */
void pc_idle_close_all(pc_idle_t *idle);
/* Before MHD_stop_daemon: the same, and releases what init took. */
void pc_idle_stop(pc_idle_t *idle);
/* How many sockets are held (tests, metrics). */
size_t pc_idle_held_count(const pc_idle_t *idle);

#endif
