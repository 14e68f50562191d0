/* gateway/worker.c: worker threads, their loops, and config generations.
 *
 * The main thread publishes a generation (an atomic pointer holding one
 * reference) and wakes every worker. A worker wraps the conf in a pc_wgen
 * with its own mutable state; requests count themselves on the wgen they
 * started on, so a reload never disturbs a request in flight. When a
 * retired wgen drains, its conf reference goes back to the main thread,
 * which frees the conf once nobody holds it.
 */
#include "worker.h"
#include "front/mhd.h"
#include "lifecycle/chain.h"
#include "upstream/fetch.h"
#include "base/log.h"
#include "upstream/proxy.h"
#include "lifecycle/request.h"
#include "store/store.h"
#include "base/util.h"
#include "base/thread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- published generation -------------------------------------------------- */

static _Atomic(pc_conf_t *) current_conf;

pc_conf_t *pc_current_conf(void)
{
    return atomic_load_explicit(&current_conf, memory_order_acquire);
}

void pc_publish_conf(pc_conf_t *c)
{
    pc_conf_t *old = atomic_exchange_explicit(&current_conf, c, memory_order_acq_rel);
    if (old)
        pc_conf_release(old);
}

/* ---- per-worker generation --------------------------------------------------- */

static pc_wgen_t *wgen_new(pc_worker_t *w, pc_conf_t *c)
{
    pc_wgen_t *g = pc_xcalloc(1, sizeof(*g));
    g->conf = pc_conf_ref(c);
    g->lb_states = pc_xcalloc(c->nupstreams ? c->nupstreams : 1, sizeof(*g->lb_states));
    g->active = pc_xcalloc(c->nupstreams ? c->nupstreams : 1, sizeof(*g->active));
    for (size_t i = 0; i < c->nupstreams; i++) {
        g->lb_states[i] = pc_lb_state_new(c->upstreams[i].lb);
        pc_lb_state_seed(g->lb_states[i], w->id);
        g->active[i] = pc_xcalloc(c->upstreams[i].ntargets, sizeof(unsigned));
    }
    g->plugin_wstate = pc_xcalloc(c->nplugins ? c->nplugins : 1, sizeof(void *));
    for (size_t i = 0; i < c->nplugins; i++) {
        const pc_plugin_inst_t *p = &c->plugins[i];
        if (p->type->worker_init)
            g->plugin_wstate[i] = p->type->worker_init(p->conf, w);
    }
    return g;
}

/* Plugins' per-worker state goes first and on its own: at a worker's end
 * it must go while the requests its waiters point at still exist. */
static void wgen_free_plugin_state(pc_wgen_t *g)
{
    pc_conf_t *c = g->conf;
    for (size_t i = 0; g->plugin_wstate && i < c->nplugins; i++) {
        const pc_plugin_inst_t *p = &c->plugins[i];
        if (p->type->worker_free)
            p->type->worker_free(p->conf, g->plugin_wstate[i]);
    }
    free(g->plugin_wstate);
    g->plugin_wstate = NULL;
}

static void wgen_free(pc_worker_t *w, pc_wgen_t *g)
{
    pc_conf_t *c = g->conf;
    wgen_free_plugin_state(g);
    for (size_t i = 0; i < c->nupstreams; i++) {
        pc_lb_state_free(g->lb_states[i]);
        free(g->active[i]);
    }
    free(g->lb_states);
    free(g->active);
    free(g);
    pc_conf_release(c);
}

pc_wgen_t *pc_wgen_acquire(pc_worker_t *w)
{
    w->gen->inflight++;
    return w->gen;
}

void pc_wgen_release(pc_worker_t *w, pc_wgen_t *g)
{
    PC_ASSERT(g->inflight > 0);
    /* While destroying, pc_worker_destroy frees every wgen: a request
     * released by a plugin's worker_free must not free its wgen again. */
    if (--g->inflight > 0 || g == w->gen || w->destroying)
        return;
    for (pc_wgen_t **pp = &w->retired; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    wgen_free(w, g);
}

static void worker_take_current(pc_worker_t *w)
{
    pc_conf_t *c = pc_current_conf();
    if (!c || (w->gen && w->gen->conf == c))
        return;
    pc_wgen_t *old = w->gen;
    w->gen = wgen_new(w, c);
    if (!old)
        return;
    if (old->inflight == 0) {
        wgen_free(w, old);
    } else {
        old->next = w->retired;
        w->retired = old;
    }
}

uint64_t pc_worker_random(pc_worker_t *w)
{
    /* xorshift64*: request ids and balancer choices need spread, not secrecy */
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* ---- MHD on the loop ------------------------------------------------------------ */

static void daemon_run(pc_daemon_t *d)
{
    d->resume_pending = false;
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

/* While connections are parked (gateway/front/mhd.c), MHD always reports a zero
 * timeout: they sit in its ready list. Their handlers need a run only when
 * a resume is pending, and at this pace until they are suspended. */
#define PARKED_TICK 0.001

/* Before the loop blocks: let MHD's nearest timeout bound the wait. */
static void prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    pc_worker_t *w = p->data;
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        if (!d->mhd)
            continue;
        /* Run MHD here while it has work that needs no I/O (resumed
         * connections, buffered data: timeout 0), instead of paying one
         * more loop iteration and epoll_wait for it; bounded. */
        MHD_UNSIGNED_LONG_LONG to = 1;
        for (int k = 0; k < 8; k++) {
            bool ready = !d->nparked && MHD_get_timeout(d->mhd, &to) == MHD_YES && to == 0;
            if (!d->resume_pending && !ready)
                break;
            daemon_run(d);
        }
        double after = -1.;
        if (MHD_get_timeout(d->mhd, &to) == MHD_YES)
            after = (double)to / 1000.0;
        if (d->nparked && (after < PARKED_TICK))
            after = PARKED_TICK;
        if (after >= 0.) {
            ev_timer_stop(loop, &d->timer);
            ev_timer_set(&d->timer, after, 0.);
            ev_timer_start(loop, &d->timer);
        } else if (ev_is_active(&d->timer)) {
            ev_timer_stop(loop, &d->timer);
        }
    }
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
    if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng) || w->rng == 0)
        w->rng = pc_now_ns() | 1;
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

/* Suspended connections would keep MHD from stopping: answer them. */
static void worker_release_suspended(pc_worker_t *w)
{
    while (w->suspended_head) {
        pc_request_t *r = w->suspended_head;
        pc_chain_abandon(r, "shutdown");
        if (r->suspended || r->parked) {
            pc_proxy_abort(r, 503, "gateway.shutdown");
            pc_worker_resume(r);
        }
    }
}

static void worker_stop_daemons(pc_worker_t *w)
{
    worker_release_suspended(w);
    for (size_t i = 0; i < w->ndaemons; i++)
        if (w->daemons[i].mhd)
            MHD_run(w->daemons[i].mhd);
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        if (!d->mhd)
            continue;
        ev_io_stop(w->loop, &d->io);
        ev_timer_stop(w->loop, &d->timer);
        MHD_stop_daemon(d->mhd);
        d->mhd = NULL;
    }
    ev_ref(w->loop);
    ev_timer_stop(w->loop, &w->sweep);
    ev_prepare_stop(w->loop, &w->prepare);
    ev_timer_stop(w->loop, &w->drain_timer);
    ev_async_stop(w->loop, &w->wake);
}

void pc_worker_check_drained(pc_worker_t *w)
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
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        if (!d->mhd)
            continue;
        MHD_socket fd = MHD_quiesce_daemon(d->mhd);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        d->listen_fd = -1;
    }
    unsigned ms = w->gen ? w->gen->conf->drain_timeout_ms : 10000;
    ev_timer_init(&w->drain_timer, drain_timeout_cb, ms / 1000.0, 0.);
    w->drain_timer.data = w;
    ev_timer_start(w->loop, &w->drain_timer);
    pc_worker_check_drained(w);
}

static void sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_http_sweep_gone(t->data, pc_now_ns());
}

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    pc_worker_t *w = a->data;
    worker_take_current(w);
    if (atomic_load(&w->want_stop))
        worker_begin_drain(w);
}

/* ---- thread ------------------------------------------------------------------------ */

static int worker_start_daemons(pc_worker_t *w)
{
    for (size_t i = 0; i < w->ndaemons; i++) {
        pc_daemon_t *d = &w->daemons[i];
        d->mhd = pc_http_daemon_start(d, d->listen_fd, d->listener);
        if (!d->mhd)
            return -1;
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

static void *worker_main(void *arg)
{
    pc_worker_t *w = arg;
    pc_thread_set_worker(w->id); /* the store and metric shards of this thread */
    ev_run(w->loop, 0);
    /* Past the drain: anything still suspended is abandoned so MHD can stop. */
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
    worker_take_current(w);
    /* Idle keep-alive connections kept per target: as many as a burst of
     * slow requests needs, or every wave reconnects (nginx's bench peer
     * keeps 1024). */
    const pc_uclient_opts_t uopts = {.max_idle_per_target = 1024};
    w->uclient = pc_uclient_new(w->loop, &uopts);
    pc_store_worker_start(w->id, w->loop);
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
    if (worker_start_daemons(w) != 0) {
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
    for (pc_wgen_t *g = w->retired; g; g = g->next)
        wgen_free_plugin_state(g);
    if (w->gen)
        wgen_free_plugin_state(w->gen);
    pc_chain_free_abandoned(w); /* tokens no plugin ended: their requests go now */
    if (w->uclient)
        pc_uclient_free(w->uclient);
    while (w->retired) {
        pc_wgen_t *g = w->retired;
        w->retired = g->next;
        wgen_free(w, g);
    }
    if (w->gen)
        wgen_free(w, w->gen);
    w->gen = NULL;
    for (size_t i = 0; i < w->ndaemons; i++)
        if (w->daemons[i].listen_fd >= 0)
            close(w->daemons[i].listen_fd);
    free(w->daemons);
    if (w->loop)
        ev_loop_destroy(w->loop);
    pc_metrics_free(&w->metrics);
}
