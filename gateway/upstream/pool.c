/* gateway/upstream/pool.c: the upstream client's connections and keep-alive
 * pools (contract in pool.h). */
#include "upstream/pool.h"
#include "base/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#define UP_FREE_C_MAX 1024u        /* a spike of connections does not pin memory forever */
#define UP_MAX_TARGETS 65536u

static pc_uconn_t *conn_of(pc_list_t *n, int age)
{
    return age ? pc_list_entry(n, pc_uconn_t, alink) : pc_list_entry(n, pc_uconn_t, plink);
}

static void upool_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static pc_uconn_t *upool_conn_alloc(pc_upool_t *p)
{
    pc_list_t *n = pc_list_first(&p->free_c);
    pc_uconn_t *k;
    if (n) {
        pc_list_remove(n);
        p->nfree_c--;
        k = conn_of(n, 0);
    } else {
        k = pc_xmalloc(sizeof(*k));
    }
    memset(k, 0, sizeof(*k));
    k->p = p;
    k->fd = -1;
    pc_list_init(&k->plink);
    pc_list_init(&k->alink);
    ev_init(&k->io, upool_io_cb);
    k->io.data = k;
    return k;
}

static void upool_conn_free(pc_upool_t *p, pc_uconn_t *k)
{
    if (p->nfree_c >= UP_FREE_C_MAX) {
        free(k);
        return;
    }
    pc_list_push_front(&p->free_c, &k->plink);
    p->nfree_c++;
}

static void upool_unpool(pc_upool_t *p, pc_uconn_t *k)
{
    pc_list_remove(&k->plink);
    pc_list_remove(&k->alink);
    p->targets[k->target_id].count--;
    k->pooled = 0;
}

static void upool_close(pc_upool_t *p, pc_uconn_t *k)
{
    if (k->pooled)
        upool_unpool(p, k);
    ev_io_stop(p->loop, &k->io);
    close(k->fd);
    upool_conn_free(p, k);
}

void pc_uconn_want(pc_uconn_t *k, int events)
{
    if (k->events == events)
        return;
    ev_io_stop(k->p->loop, &k->io);
    if (events) {
        ev_io_set(&k->io, k->fd, events);
        ev_io_start(k->p->loop, &k->io);
    }
    k->events = events;
}

/* ---- idle connections ------------------------------------------------------ */

static void upool_idle_arm(pc_upool_t *p)
{
    pc_list_t *oldest = pc_list_first(&p->age);
    if (ev_is_active(&p->idle_timer) || !oldest)
        return;
    ev_tstamp left =
        conn_of(oldest, 1)->idle_since + p->idle_timeout_ms / 1000.0 - ev_now(p->loop);
    ev_timer_set(&p->idle_timer, left > 0 ? left : 0, 0);
    ev_timer_start(p->loop, &p->idle_timer);
}

static void upool_idle_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    PC_UNUSED(revents);
    pc_upool_t *p = w->data;
    ev_tstamp cutoff = ev_now(loop) - p->idle_timeout_ms / 1000.0;
    pc_list_t *n;
    while ((n = pc_list_first(&p->age)) && conn_of(n, 1)->idle_since <= cutoff)
        upool_close(p, conn_of(n, 1));
    upool_idle_arm(p);
}

/* An idle connection became readable: EOF or bytes nobody asked for, so it
 * cannot carry a request. A held one: the exchange's business. */
static void upool_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    PC_UNUSED(loop);
    pc_uconn_t *k = w->data;
    if (!k->x) {
        upool_close(k->p, k);
        return;
    }
    k->p->on_io(k->x, k, revents);
}

/* ---- targets ------------------------------------------------------------------- */

static pc_upool_target_t *upool_target(pc_upool_t *p, unsigned id)
{
    PC_ASSERT(id < UP_MAX_TARGETS);
    if (id >= p->ntargets) {
        unsigned n = p->ntargets ? p->ntargets : 8;
        while (n <= id)
            n *= 2;
        p->targets = pc_xrealloc(p->targets, n * sizeof(*p->targets));
        memset(p->targets + p->ntargets, 0, (n - p->ntargets) * sizeof(*p->targets));
        for (unsigned i = 0; i < p->ntargets; i++) {
            /* the heads moved with the array: relink their neighbours */
            pc_list_t *h = &p->targets[i].idle;
            if (p->targets[i].count) {
                h->next->prev = h;
                h->prev->next = h;
            } else {
                pc_list_init(h);
            }
        }
        for (unsigned i = p->ntargets; i < n; i++)
            pc_list_init(&p->targets[i].idle);
        p->ntargets = n;
    }
    return &p->targets[id];
}

pc_uconn_t *pc_upool_take(pc_upool_t *p, unsigned id, const struct sockaddr_storage *addr,
                          socklen_t addrlen)
{
    pc_upool_target_t *t = upool_target(p, id);
    pc_list_t *n;
    if (PC_UNLIKELY(t->addrlen != addrlen || memcmp(&t->addr, addr, addrlen) != 0)) {
        while ((n = pc_list_first(&t->idle)))
            upool_close(p, conn_of(n, 0));
        t->gen++;
        memcpy(&t->addr, addr, addrlen);
        t->addrlen = addrlen;
        return NULL;
    }
    while ((n = pc_list_first(&t->idle))) {
        pc_uconn_t *k = conn_of(n, 0);
        upool_unpool(p, k);
        /* A pending event on an idle connection is EOF or bytes nobody asked
         * for; parsing them as the next response would desynchronize. */
        if (!ev_is_pending(&k->io))
            return k;
        upool_close(p, k);
    }
    return NULL;
}

int pc_upool_open(pc_upool_t *p, unsigned id, const struct sockaddr_storage *addr,
                  socklen_t addrlen, pc_uconn_t **out, int *in_progress)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int one = 1;
    /* The request goes out in one sendmsg(); Nagle would only delay it. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *in_progress = 0;
    if (connect(fd, (const struct sockaddr *)addr, addrlen) == -1) {
        /* EINTR: the connect continues asynchronously, like EINPROGRESS. */
        if (errno != EINPROGRESS && errno != EINTR) {
            close(fd);
            return -1;
        }
        *in_progress = 1;
    }
    pc_uconn_t *k = upool_conn_alloc(p);
    k->fd = fd;
    k->target_id = id;
    k->gen = upool_target(p, id)->gen;
    k->connecting = (unsigned)*in_progress;
    *out = k;
    return 0;
}

void pc_upool_release(pc_upool_t *p, pc_uconn_t *k, int reuse)
{
    pc_upool_target_t *t = &p->targets[k->target_id];
    k->x = NULL;
    if (!reuse || t->count >= p->max_idle_per_target || k->gen != t->gen) {
        upool_close(p, k);
        return;
    }
    pc_uconn_want(k, EV_READ);
    pc_list_push_front(&t->idle, &k->plink);
    t->count++;
    k->pooled = 1;
    k->idle_since = ev_now(p->loop);
    pc_list_push_back(&p->age, &k->alink);
    upool_idle_arm(p);
}

unsigned pc_upool_idle_count(const pc_upool_t *p, unsigned target_id)
{
    return target_id < p->ntargets ? p->targets[target_id].count : 0;
}

/* ---- life ------------------------------------------------------------------------ */

void pc_upool_init(pc_upool_t *p, struct ev_loop *loop, unsigned max_idle_per_target,
                   unsigned idle_timeout_ms, pc_uconn_io_cb on_io)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->max_idle_per_target = max_idle_per_target;
    p->idle_timeout_ms = idle_timeout_ms;
    p->on_io = on_io;
    pc_list_init(&p->age);
    pc_list_init(&p->free_c);
    ev_init(&p->idle_timer, upool_idle_timer_cb);
    p->idle_timer.data = p;
}

void pc_upool_fini(pc_upool_t *p)
{
    pc_list_t *n;
    while ((n = pc_list_first(&p->age)))
        upool_close(p, conn_of(n, 1));
    ev_timer_stop(p->loop, &p->idle_timer);
    while ((n = pc_list_first(&p->free_c))) {
        pc_list_remove(n);
        free(conn_of(n, 0));
    }
    free(p->targets);
    p->targets = NULL;
    p->ntargets = 0;
}
