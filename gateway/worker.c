/* gateway/worker.c: worker threads and their loops.
 *
 * A worker takes the published config generation when woken
 * (gateway/lifecycle/generation.c), serves its listeners through the front
 * end (gateway/front/daemon.c) and, when told to stop, drains: it stops
 * accepting, lets the requests in flight finish within the drain timeout,
 * answers whatever still waits, and ends its loop.
 */
#include "worker.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/util.h"
#include "base/thread.h"
#include "front/daemon.h"
#include "lifecycle/chain.h"
#include "lifecycle/generation.h"
#include "lifecycle/request.h"
#include "lifecycle/wait.h"
#include "store/store.h"
#include "upstream/fetch.h"
#include "upstream/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Before the loop blocks: let the front end's nearest timeout bound the wait. */
static void prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    pc_daemons_prepare(p->data);
}

/* ---- listen sockets ------------------------------------------------------------ */

static int listen_socket(const pc_listener_conf_t *l)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, l->address, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)l->port);
        len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, l->address, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)l->port);
        len = sizeof(*s6);
    } else {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 4096) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int pc_worker_init(pc_worker_t *w, unsigned id, pc_conf_t *conf)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    pc_rng_seed(&w->rng);
    pc_list_init(&w->waiting);
    pc_list_init(&w->abandoned);
    w->ndaemons = conf->nlisteners;
    w->daemons = pc_xcalloc(w->ndaemons, sizeof(*w->daemons));
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        d->worker = w;
        d->listener_index = (unsigned)i;
        d->listener = &conf->listeners[i];
        d->max_conn_per_ip = d->listener->limits.max_connections_per_ip;
        d->listen_fd = listen_socket(d->listener);
        if (d->listen_fd < 0) {
            pc_log_write(PC_LOG_ERROR, "listen[%zu]: cannot listen on %s:%u: %s", i,
                         d->listener->address, d->listener->port, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---- drain and stop ---------------------------------------------------------------- */

/* Waiting requests would keep the front end from stopping: answer them. */
static void worker_release_suspended(pc_worker_t *w)
{
    pc_request_t *r;
    while ((r = pc_wait_first(w))) {
        pc_chain_abandon(r, "shutdown");
        if (r->suspended || r->parked) {
            pc_proxy_abort(r, 503, "gateway.shutdown");
            pc_wait_resume(r);
        }
    }
}

static void worker_stop_daemons(pc_worker_t *w)
{
    worker_release_suspended(w);
    pc_daemons_stop(w);
    ev_ref(w->loop);
    ev_timer_stop(w->loop, &w->sweep);
    ev_prepare_stop(w->loop, &w->prepare);
    ev_timer_stop(w->loop, &w->drain_timer);
    ev_async_stop(w->loop, &w->wake);
}

static void worker_check_drained(pc_worker_t *w)
{
    if (w->draining && w->live_requests == 0 && !w->stopping_daemons) {
        w->stopping_daemons = true;
        ev_break(w->loop, EVBREAK_ALL);
    }
}

/* The drain deadline: whatever still waits is answered and the loop ends. */
static void drain_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_worker_t *w = t->data;
    pc_log_write(PC_LOG_WARN, "worker %u: drain timeout with %u requests in flight", w->id,
                 w->live_requests);
    ev_break(loop, EVBREAK_ALL);
}

static void worker_begin_drain(pc_worker_t *w)
{
    if (w->draining)
        return;
    w->draining = true;
    pc_daemons_quiesce(w);
    unsigned ms = w->gen ? w->gen->conf->drain_timeout_ms : 10000;
    ev_timer_init(&w->drain_timer, drain_timeout_cb, ms / 1000.0, 0.);
    w->drain_timer.data = w;
    ev_timer_start(w->loop, &w->drain_timer);
    worker_check_drained(w);
}

static void sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_http_sweep_gone(t->data, pc_clock_mono_ns());
}

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    pc_worker_t *w = a->data;
    pc_wgen_take_current(w);
    if (atomic_load(&w->want_stop))
        worker_begin_drain(w);
}

/* ---- thread ------------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    pc_worker_t *w = arg;
    pc_thread_set_worker(w->id); /* the store and metric shards of this thread */
    ev_run(w->loop, 0);
    /* Past the drain: anything still waiting is abandoned so the front end can stop. */
    worker_stop_daemons(w);
    /* Then the store connection: its pending callbacks end their tokens. */
    pc_store_worker_stop(w->id);
    return NULL;
}

int pc_worker_start(pc_worker_t *w)
{
    w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!w->loop)
        return -1;
    w->fetcher = pc_fetcher_new(w->loop);
    if (!w->fetcher)
        pc_log_write(PC_LOG_WARN, "worker %u: no HTTP client for plugins (libcurl)", w->id);
    pc_wgen_take_current(w);
    /* Idle keep-alive connections kept per target: as many as a burst of
     * slow requests needs, or every wave reconnects (nginx's bench peer
     * keeps 1024). */
    const pc_uclient_opts_t uopts = {.max_idle_per_target = 1024};
    w->uclient = pc_uclient_new(w->loop, &uopts);
    pc_store_worker_start(w->id, w->loop);
    w->on_idle = worker_check_drained;
    ev_async_init(&w->wake, wake_cb);
    w->wake.data = w;
    ev_async_start(w->loop, &w->wake);
    ev_timer_init(&w->sweep, sweep_cb, 1., 1.);
    w->sweep.data = w;
    ev_timer_start(w->loop, &w->sweep);
    ev_unref(w->loop); /* the sweep alone does not keep the loop alive */
    ev_prepare_init(&w->prepare, prepare_cb);
    w->prepare.data = w;
    ev_prepare_start(w->loop, &w->prepare);
    if (pc_daemons_start(w) != 0) {
        pc_log_write(PC_LOG_ERROR, "worker %u: cannot start the HTTP daemon", w->id);
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

void pc_worker_notify(pc_worker_t *w)
{
    if (!w->loop)
        return; /* not started yet: it takes the current generation at start */
    ev_async_send(w->loop, &w->wake);
}

void pc_worker_stop(pc_worker_t *w)
{
    atomic_store(&w->want_stop, true);
    ev_async_send(w->loop, &w->wake);
}

void pc_worker_join(pc_worker_t *w)
{
    pthread_join(w->thread, NULL);
}

void pc_worker_destroy(pc_worker_t *w)
{
    w->destroying = true;
    /* First: fetch callbacks still end their requests' tokens, which needs
     * the wgens and the loop. */
    pc_fetcher_free(w->fetcher);
    w->fetcher = NULL;
    pc_store_worker_stop(w->id); /* normally done by the thread already */
    pc_wgen_free_plugin_states(w);
    pc_chain_free_abandoned(w); /* tokens no plugin ended: their requests go now */
    if (w->uclient)
        pc_uclient_free(w->uclient);
    pc_wgen_free_all(w);
    for (size_t i = 0; i < w->ndaemons; i++)
        if (w->daemons[i].listen_fd >= 0)
            close(w->daemons[i].listen_fd);
    free(w->daemons);
    if (w->loop)
        ev_loop_destroy(w->loop);
    pc_metrics_free(&w->metrics);
}
