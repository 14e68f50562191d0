/* gateway/lifecycle/wait.c: parking, suspension, resume, the client-gone
 * sweep, and the wake-ups of plugin.h (see wait.h).
 *
 * Why park first: suspending costs three system calls per request in
 * libmicrohttpd 0.9.75 (epoll_ctl DEL, then ADD after the resume, and a
 * recv that can only fail with EAGAIN because resuming marks the socket
 * readable), about a tenth of a proxied request's CPU. Most upstreams (and
 * stores) answer within a few loop iterations, so a request is parked
 * first, and suspended only when its wait turns out to be long: after
 * PARK_LOOKS calls, or PARK_SECONDS. The number parked per listener is
 * bounded, since every front-end run calls each parked handler once.
 */
#include "lifecycle/wait.h"
#include "base/log.h"
#include "base/util.h"
#include "upstream/fetch.h"

#define PARK_MAX 64
#define PARK_LOOKS 8
#define PARK_SECONDS 0.002

static void waiting_link(pc_request_t *r)
{
    pc_list_push_front(&r->worker->waiting, &r->wait_link);
}

void pc_wait_suspend(pc_request_t *r)
{
    PC_ASSERT(!r->suspended && !r->parked);
    r->worker->front->suspend(r);
    r->suspended = true;
    waiting_link(r);
}

void pc_wait_park(pc_request_t *r)
{
    PC_ASSERT(!r->suspended && !r->parked);
    if (r->wq->nparked >= PARK_MAX) {
        pc_wait_suspend(r);
        return;
    }
    r->parked = true;
    r->park_looks = 0;
    r->park_since = ev_now(r->worker->loop);
    r->wq->nparked++;
    waiting_link(r);
}

void pc_wait_unpark(pc_request_t *r)
{
    r->parked = false;
    r->wq->nparked--;
    pc_list_remove(&r->wait_link);
}

void pc_wait_look(pc_request_t *r)
{
    if (++r->park_looks < PARK_LOOKS &&
        ev_now(r->worker->loop) - r->park_since < PARK_SECONDS)
        return;
    pc_wait_unpark(r);
    pc_wait_suspend(r);
}

void pc_wait_resume(pc_request_t *r)
{
    if (r->parked) {
        pc_wait_unpark(r); /* the front end calls its handler on its next run */
        r->wq->run_pending = true;
        return;
    }
    if (!r->suspended)
        return;
    r->suspended = false;
    pc_list_remove(&r->wait_link);
    r->worker->front->resume(r);
    /* The front end runs before the loop blocks: one run for all the
     * resumes of an iteration. */
    r->wq->run_pending = true;
}

pc_request_t *pc_wait_first(pc_worker_t *w)
{
    pc_list_t *n = pc_list_first(&w->waiting);
    return n ? pc_list_entry(n, pc_request_t, wait_link) : NULL;
}

/* A suspended connection is invisible to the front end: a client that
 * gives up while its request waits on an upstream or a plugin would hold
 * both until their timeouts. Waits shorter than a second cost nothing. */
void pc_wait_sweep(pc_worker_t *w, uint64_t now_ns, void (*gone)(pc_request_t *r))
{
    pc_list_t *it, *tmp;
    pc_list_foreach_safe(it, tmp, &w->waiting) {
        pc_request_t *r = pc_list_entry(it, pc_request_t, wait_link);
        if (now_ns - r->start_ns < 1000000000ull || r->response_queued)
            continue;
        if (!w->front->client_gone(r))
            continue;
        pc_rlog(r, PC_LOG_INFO, "client went away while the request waited");
        r->reason = "client.closed";
        gone(r); /* ends r's wait only: tmp stays linked */
    }
}

/* ---- wake-ups (plugin.h) -------------------------------------------------------
 *
 * An ev_async on the owner's loop: ev_async_send is the one libev call that
 * is safe from any thread, and several signals before the loop looks
 * coalesce into one call of fn. */

struct pc_wake {
    ev_async async;
    struct ev_loop *loop;
    void (*fn)(void *);
    void *data;
};

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    pc_wake_t *k = a->data;
    k->fn(k->data);
}

pc_wake_t *pc_wake_new(pc_worker_t *w, void (*fn)(void *), void *data)
{
    struct ev_loop *loop = w ? w->loop : pc_main_loop();
    if (!loop)
        return NULL;
    pc_wake_t *k = pc_xcalloc(1, sizeof(*k));
    k->loop = loop;
    k->fn = fn;
    k->data = data;
    ev_async_init(&k->async, wake_cb);
    k->async.data = k;
    ev_async_start(loop, &k->async);
    /* A wake-up alone must not keep a loop from ending (the main loop ends
     * by itself at shutdown). */
    ev_unref(loop);
    return k;
}

void pc_wake_signal(pc_wake_t *k)
{
    ev_async_send(k->loop, &k->async);
}

void pc_wake_free(pc_wake_t *k)
{
    if (!k)
        return;
    ev_ref(k->loop);
    ev_async_stop(k->loop, &k->async);
    free(k);
}
