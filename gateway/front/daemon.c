/* gateway/front/daemon.c: libmicrohttpd in external epoll mode on a
 * worker's libev loop: MHD's epoll fd is one ev_io, its timeouts one
 * ev_timer, and the loop's prepare step runs it for work that needs no
 * I/O (resumed connections, buffered data). */
#include "front/daemon.h"
#include "base/log.h"

#include <microhttpd.h>
#include <unistd.h>

static void daemon_run(pc_daemon_t *d)
{
    d->wq.run_pending = false;
    MHD_run(d->mhd);
}

static void mhd_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    daemon_run(io->data);
}

static void mhd_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    daemon_run(t->data);
}

int pc_daemons_start(pc_worker_t *w)
{
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        d->deadlines.worker = w;
        d->deadlines.header_timeout_ms = d->listener->limits.header_timeout_ms;
        d->mhd = pc_http_daemon_start(d, d->listen_fd, d->listener);
        if (!d->mhd)
            return -1;
        pc_idle_init(&d->idle, w->loop, d->mhd, d->listener->max_connections,
                     d->max_conn_per_ip, d->listener->limits.client_idle_timeout_ms,
                     &w->metrics.connections_active);
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
            return -1;
        ev_io_init(&d->io, mhd_io_cb, info->epoll_fd, EV_READ);
        d->io.data = d;
        /* After the upstream callbacks of the same iteration: one MHD run
         * then reads new requests and answers the ones they completed. */
        ev_set_priority(&d->io, -1);
        ev_io_start(w->loop, &d->io);
        ev_timer_init(&d->timer, mhd_timer_cb, 1., 0.);
        d->timer.data = d;
        d->listener = NULL;
    }
    return 0;
}

/* While connections are parked (gateway/lifecycle/wait.h), MHD always
 * reports a zero timeout: they sit in its ready list. Their handlers need
 * a run only when a resume is pending, and at this pace until they are
 * suspended. */
#define PARKED_TICK 0.001

static void daemon_prepare(struct ev_loop *loop, pc_daemon_t *d)
{
    /* Run MHD here while it has work that needs no I/O (resumed
     * connections, buffered data: timeout 0), instead of paying one more
     * loop iteration and epoll_wait for it; bounded. */
    MHD_UNSIGNED_LONG_LONG to = 1;
    for (int k = 0; k < 8; k++) {
        bool ready = !d->wq.nparked && MHD_get_timeout(d->mhd, &to) == MHD_YES && to == 0;
        if (!d->wq.run_pending && !ready)
            break;
        daemon_run(d);
    }
    double after = -1.;
    if (MHD_get_timeout(d->mhd, &to) == MHD_YES)
        after = (double)to / 1000.0;
    if (d->wq.nparked && (after < PARKED_TICK))
        after = PARKED_TICK;
    if (after >= 0.) {
        ev_timer_stop(loop, &d->timer);
        ev_timer_set(&d->timer, after, 0.);
        ev_timer_start(loop, &d->timer);
    } else if (ev_is_active(&d->timer)) {
        ev_timer_stop(loop, &d->timer);
    }
}

void pc_daemons_prepare(pc_worker_t *w)
{
    for (size_t i = 0; i < w->ndaemons; i++)
        if (w->daemons[i].mhd)
            daemon_prepare(w->loop, &w->daemons[i]);
}

void pc_daemons_quiesce(pc_worker_t *w)
{
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        if (!d->mhd)
            continue;
        pc_idle_close_all(&d->idle);
        MHD_socket fd = MHD_quiesce_daemon(d->mhd);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        d->listen_fd = -1;
    }
}

void pc_daemons_stop(pc_worker_t *w)
{
    for (size_t i = 0; i < w->ndaemons; i++)
        if (w->daemons[i].mhd)
            MHD_run(w->daemons[i].mhd);
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        if (!d->mhd)
            continue;
        ev_io_stop(w->loop, &d->io);
        ev_timer_stop(w->loop, &d->timer);
        pc_idle_stop(&d->idle);
        MHD_stop_daemon(d->mhd);
        d->mhd = NULL;
        pc_deadline_free_all(&d->deadlines);
    }
}
