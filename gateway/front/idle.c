/* gateway/front/idle.c: idle keep-alive connections held outside
 * libmicrohttpd (see front/idle.h for the contract, docs/architecture.md
 * "Idle connections" for the figures).
 *
 * MHD 0.9.75 has no call that gives a connection back to the application,
 * so the take-over works with what its source guarantees (checked against
 * 0.9.75 only, hence the version test in pc_idle_init):
 *  - with MHD_USE_TURBO, closing a connection is close(fd), never
 *    shutdown(): a dup of the socket outlives MHD's connection intact;
 *  - in epoll mode a connection's epoll data is the MHD_Connection itself.
 * We keep a dup of the socket, swap MHD's descriptor number for a socket
 * at end of stream (dup3) and register that one in MHD's epoll set in the
 * socket's place. MHD's next run reads 0 bytes, closes "its" connection
 * (freeing the pool) and removes the descriptor it knows from its epoll
 * set, which is the one we registered.
 *
 * Bytes MHD read but did not use would be lost with its pool. A connection
 * is taken over only when the kernel counted exactly the bytes that MHD's
 * finished requests used (TCP_INFO tcpi_bytes_received): nothing is
 * buffered in MHD and nothing waits in the kernel. Chunked bodies make the
 * count unknown; such a connection stays with MHD. */
#include "front/idle.h"
#include "base/log.h"
#include "base/util.h"
#include "front/connlimit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Silence after a request before the take-over: a client that sends its
 * next request sooner never pays for the hand-off (a few syscalls and a
 * new MHD connection). */
#define IDLE_GRACE_NS 1000000000ull
/* Below the kernel's 500 wake-up paths per file (see PC_IDLE_EOF_FILES). */
#define IDLE_EOF_MAX_USES 400u

/* One malloc_trim at a time in the process. glibc's sets glibc's malloc
 * up on its first call without a lock; when another allocator replaced
 * malloc (ASan's, a preloaded one) that first call comes late, from the
 * workers' sweeps, which tick together: two at once crashed a worker in
 * mtrim (SIGSEGV) or glibc's arena count at thread exit (SIGABRT). */
static pthread_mutex_t trim_lock = PTHREAD_MUTEX_INITIALIZER;

struct pc_idle_conn {
    pc_list_t link;                /* on idle->watch while silent */
    struct MHD_Connection *conn;
    uint64_t since_ns;             /* end of its last request */
    uint64_t consumed;             /* stream bytes that MHD's requests used */
    bool untracked;                /* consumed unknown: stays with MHD */
    bool handed_off;               /* MHD's close is our take-over */
    unsigned char eof_slot;        /* which eof_fd MHD holds then */
};

struct pc_idle_held {
    ev_io io;
    pc_list_t link;                /* on idle->held */
    pc_idle_t *idle;
    uint64_t deadline_ns;          /* the listener's idle timeout */
    uint64_t consumed;             /* carried over to MHD's next connection */
    bool announced;                /* MHD_add_connection got as far as STARTED */
    socklen_t alen;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
};

void pc_idle_init(pc_idle_t *idle, struct ev_loop *loop, struct MHD_Daemon *mhd,
                  unsigned max_connections, unsigned limit_per_ip, unsigned timeout_ms,
                  pc_counter_t *active)
{
    memset(idle, 0, sizeof(*idle));
    idle->loop = loop;
    idle->mhd = mhd;
    idle->max_connections = max_connections;
    idle->limit_per_ip = limit_per_ip;
    idle->timeout_ns = (uint64_t)timeout_ms * 1000000u;
    idle->active = active;
    pc_list_init(&idle->watch);
    pc_list_init(&idle->held);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || strcmp(MHD_get_version(), "0.9.75") != 0) {
        PC_LOG(PC_LOG_WARN, "libmicrohttpd %s: idle connections keep their MHD pool",
               MHD_get_version());
        return;
    }
    for (int i = 0; i < PC_IDLE_EOF_FILES; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
            while (i--)
                close(idle->eof_fd[i]);
            return;
        }
        close(sv[1]); /* sv[0] now reads end of stream, forever */
        idle->eof_fd[i] = sv[0];
    }
    idle->mhd_epfd = info->epoll_fd;
    idle->enabled = true;
}

/* ---- MHD's connections -------------------------------------------------------- */

bool pc_idle_accept(pc_idle_t *idle, bool *readd)
{
    *readd = idle->readding != NULL;
    if (*readd || !idle->nheld)
        return true;
    return idle->nmhd + idle->nheld < idle->max_connections;
}

pc_idle_conn_t *pc_idle_conn_start(pc_idle_t *idle, struct MHD_Connection *conn, bool *readd)
{
    pc_idle_conn_t *c = pc_xcalloc(1, sizeof(*c));
    pc_list_init(&c->link);
    c->conn = conn;
    *readd = idle->readding != NULL;
    if (*readd) {
        c->consumed = idle->readding->consumed;
        idle->readding->announced = true;
    }
    idle->nmhd++;
    return c;
}

bool pc_idle_conn_closed(pc_idle_t *idle, pc_idle_conn_t *c)
{
    if (!c)
        return false;
    idle->nmhd--;
    pc_list_remove(&c->link);
    bool ours = c->handed_off;
    if (ours)
        idle->eof_uses[c->eof_slot]--;
    free(c);
    return ours;
}

void pc_idle_busy(pc_idle_conn_t *c)
{
    if (c)
        pc_list_remove(&c->link);
}

void pc_idle_done(pc_idle_t *idle, pc_idle_conn_t *c, int64_t body_bytes, uint64_t now_ns)
{
    if (!c || c->untracked || !idle->enabled)
        return;
    const union MHD_ConnectionInfo *hs =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    pc_list_remove(&c->link);
    if (!hs || body_bytes < 0) {
        c->untracked = true;
        return;
    }
    c->consumed += hs->header_size + (uint64_t)body_bytes;
    c->since_ns = now_ns;
    pc_list_push_back(&idle->watch, &c->link);
}

/* ---- the sockets we hold ------------------------------------------------------- */

static void held_close(pc_idle_t *idle, pc_idle_held_t *h)
{
    ev_io_stop(idle->loop, &h->io);
    close(h->io.fd);
    pc_connlimit_release(idle->limit_per_ip, &h->addr.sa);
    pc_counter_sub(idle->active, 1);
    pc_list_remove(&h->link);
    idle->nheld--;
    free(h);
}

/* The client spoke: MHD gets the socket back, as a new connection that
 * reads the bytes waiting in the kernel. A client that closed is closed
 * here, without an MHD connection. */
static void held_readable(struct ev_loop *loop, ev_io *io, int revents)
{
    pc_idle_held_t *h = io->data;
    pc_idle_t *idle = h->idle;
    char b;
    ssize_t n = recv(io->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        held_close(idle, h);
        return;
    }
    ev_io_stop(loop, io);
    pc_list_remove(&h->link);
    idle->nheld--;
    idle->readding = h;
    enum MHD_Result ok = MHD_add_connection(idle->mhd, io->fd, &h->addr.sa, h->alen);
    idle->readding = NULL;
    if (ok != MHD_YES && !h->announced) {
        /* MHD closed the socket without announcing it (once announced,
         * its CLOSED notice drops the counts): they are ours to drop. */
        pc_connlimit_release(idle->limit_per_ip, &h->addr.sa);
        pc_counter_sub(idle->active, 1);
    }
    free(h);
}

/* True when MHD holds no unread bytes of fd and none wait in the kernel. */
static bool stream_drained(int fd, uint64_t consumed)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
        return false;
    return ti.tcpi_bytes_received == consumed;
}

/* Swaps MHD's descriptor fd for the end-of-stream socket (see the top of
 * this file); returns our dup of the real socket, or -1 with nothing
 * changed. */
static int take_over(pc_idle_t *idle, struct MHD_Connection *conn, int fd, int eof)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLET,
                             .data.ptr = conn};
    int keep = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (keep == -1)
        return -1;
    if (epoll_ctl(idle->mhd_epfd, EPOLL_CTL_DEL, fd, NULL) != 0) {
        close(keep); /* not in the set: MHD is about to read it anyway */
        return -1;
    }
    if (dup3(eof, fd, O_CLOEXEC) != -1) {
        if (epoll_ctl(idle->mhd_epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
            return keep;
        /* Put the real socket back where MHD left it; MHD would abort
         * later on a descriptor missing from its set, so do it now. */
        PC_ASSERT(dup3(keep, fd, O_CLOEXEC) != -1);
    }
    PC_ASSERT(epoll_ctl(idle->mhd_epfd, EPOLL_CTL_ADD, fd, &ev) == 0);
    close(keep);
    return -1;
}

/* An end-of-stream socket with room for one more take-over, or -1. */
static int eof_slot(pc_idle_t *idle)
{
    for (int i = 0; i < PC_IDLE_EOF_FILES; i++)
        if (idle->eof_uses[i] < IDLE_EOF_MAX_USES)
            return i;
    return -1;
}

static void hand_off(pc_idle_t *idle, pc_idle_conn_t *c, int slot)
{
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!fi || !ai || !ai->client_addr || !stream_drained(fi->connect_fd, c->consumed))
        return;
    socklen_t alen = ai->client_addr->sa_family == AF_INET    ? sizeof(struct sockaddr_in)
                     : ai->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                              : 0;
    if (!alen)
        return;
    int keep = take_over(idle, c->conn, fi->connect_fd, idle->eof_fd[slot]);
    if (keep == -1)
        return;
    idle->eof_uses[slot]++;
    c->eof_slot = (unsigned char)slot;
    pc_idle_held_t *h = pc_xcalloc(1, sizeof(*h));
    h->idle = idle;
    h->deadline_ns = c->since_ns + idle->timeout_ns;
    h->consumed = c->consumed;
    h->alen = alen;
    memcpy(&h->addr, ai->client_addr, alen);
    c->handed_off = true;
    ev_io_init(&h->io, held_readable, keep, EV_READ);
    h->io.data = h;
    ev_io_start(idle->loop, &h->io);
    pc_list_push_back(&idle->held, &h->link);
    idle->nheld++;
}

void pc_idle_sweep(pc_idle_t *idle, uint64_t now_ns)
{
    pc_list_t *it, *tmp;
    pc_list_foreach_safe(it, tmp, &idle->held) {
        pc_idle_held_t *h = pc_list_entry(it, pc_idle_held_t, link);
        if (h->deadline_ns > now_ns)
            break;
        held_close(idle, h);
    }
    if (!idle->enabled || idle->closing)
        return;
    if (idle->trim_pending) {
        /* MHD freed the pools of the last sweep's take-overs since. */
        pthread_mutex_lock(&trim_lock);
        malloc_trim(0);
        pthread_mutex_unlock(&trim_lock);
        idle->trim_pending = false;
    }
    size_t before = idle->nheld;
    pc_list_foreach_safe(it, tmp, &idle->watch) {
        pc_idle_conn_t *c = pc_list_entry(it, pc_idle_conn_t, link);
        int slot = eof_slot(idle);
        if (c->since_ns + IDLE_GRACE_NS > now_ns || slot < 0)
            break; /* no slot: MHD closes the last ones first, next sweep */
        pc_list_remove(&c->link);
        hand_off(idle, c, slot);
    }
    idle->trim_pending = idle->nheld != before;
}

void pc_idle_close_all(pc_idle_t *idle)
{
    idle->closing = true;
    pc_list_t *it, *tmp;
    pc_list_foreach_safe(it, tmp, &idle->held)
        held_close(idle, pc_list_entry(it, pc_idle_held_t, link));
}

void pc_idle_stop(pc_idle_t *idle)
{
    pc_idle_close_all(idle);
    for (int i = 0; idle->enabled && i < PC_IDLE_EOF_FILES; i++)
        close(idle->eof_fd[i]);
    idle->enabled = false;
}

size_t pc_idle_held_count(const pc_idle_t *idle)
{
    return idle->nheld;
}
