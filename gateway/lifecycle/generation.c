/* gateway/lifecycle/generation.c: publication, per-worker views and release
 * of config generations (see generation.h). */
#include "lifecycle/generation.h"
#include "base/log.h"
#include "base/util.h"

#include <pthread.h>
#include <stdatomic.h>

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

/* ---- release to the main thread ---------------------------------------------- */

/* Generations whose last reference was dropped on a worker. */
static pthread_mutex_t release_lock = PTHREAD_MUTEX_INITIALIZER;
static pc_conf_t **release_queue;
static size_t release_len, release_cap;
static void (*release_notify)(void *);
static void *release_notify_data;

void pc_generation_on_release(void (*notify)(void *), void *data)
{
    pthread_mutex_lock(&release_lock);
    release_notify = notify;
    release_notify_data = data;
    pthread_mutex_unlock(&release_lock);
}

void pc_conf_release(pc_conf_t *c)
{
    if (!pc_conf_unref_is_last(c))
        return;
    pthread_mutex_lock(&release_lock);
    if (release_len == release_cap) {
        release_cap = release_cap ? release_cap * 2 : 8;
        release_queue = pc_xrealloc(release_queue, release_cap * sizeof(*release_queue));
    }
    release_queue[release_len++] = c;
    void (*notify)(void *) = release_notify;
    void *data = release_notify_data;
    pthread_mutex_unlock(&release_lock);
    if (notify)
        notify(data);
}

void pc_generation_free_released(void)
{
    pthread_mutex_lock(&release_lock);
    pc_conf_t **q = release_queue;
    size_t n = release_len;
    release_queue = NULL;
    release_len = release_cap = 0;
    pthread_mutex_unlock(&release_lock);
    for (size_t i = 0; i < n; i++) {
        PC_LOG(PC_LOG_INFO, "config generation %u released", q[i]->generation);
        pc_conf_free(q[i]);
    }
    free(q);
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

static void wgen_free(pc_wgen_t *g)
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
    wgen_free(g);
}

void pc_wgen_take_current(pc_worker_t *w)
{
    pc_conf_t *c = pc_current_conf();
    if (!c || (w->gen && w->gen->conf == c))
        return;
    pc_wgen_t *old = w->gen;
    w->gen = wgen_new(w, c);
    if (!old)
        return;
    if (old->inflight == 0) {
        wgen_free(old);
    } else {
        old->next = w->retired;
        w->retired = old;
    }
}

void pc_wgen_free_plugin_states(pc_worker_t *w)
{
    for (pc_wgen_t *g = w->retired; g; g = g->next)
        wgen_free_plugin_state(g);
    if (w->gen)
        wgen_free_plugin_state(w->gen);
}

void pc_wgen_free_all(pc_worker_t *w)
{
    while (w->retired) {
        pc_wgen_t *g = w->retired;
        w->retired = g->next;
        wgen_free(g);
    }
    if (w->gen)
        wgen_free(w->gen);
    w->gen = NULL;
}
