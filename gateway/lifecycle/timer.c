/* gateway/lifecycle/timer.c: the timers of plugin.h, on a worker's loop or
 * on the main thread's. A plugin never sees libev. */
#include <portcullis/plugin.h>

#include "base/util.h"
#include "lifecycle/worker_ctx.h"
#include "upstream/fetch.h"

struct pc_timer {
    ev_timer timer;
    struct ev_loop *loop;
    void (*fn)(void *);
    void *data;
};

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_timer_t *pt = t->data;
    pt->fn(pt->data);
}

pc_timer_t *pc_timer_new(pc_worker_t *w, void (*fn)(void *), void *data)
{
    struct ev_loop *loop = w ? w->loop : pc_main_loop();
    if (!loop)
        return NULL;
    pc_timer_t *t = pc_xcalloc(1, sizeof(*t));
    t->loop = loop;
    t->fn = fn;
    t->data = data;
    ev_timer_init(&t->timer, timer_cb, 0., 0.);
    t->timer.data = t;
    return t;
}

void pc_timer_start(pc_timer_t *t, uint64_t after_ms, uint64_t repeat_ms)
{
    ev_timer_stop(t->loop, &t->timer);
    ev_timer_set(&t->timer, (double)after_ms / 1000.0, (double)repeat_ms / 1000.0);
    ev_timer_start(t->loop, &t->timer);
}

void pc_timer_stop(pc_timer_t *t)
{
    ev_timer_stop(t->loop, &t->timer);
}

bool pc_timer_active(const pc_timer_t *t)
{
    return ev_is_active(&t->timer);
}

void pc_timer_free(pc_timer_t *t)
{
    if (!t)
        return;
    ev_timer_stop(t->loop, &t->timer);
    free(t);
}
