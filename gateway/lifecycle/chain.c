/* gateway/lifecycle/chain.c: the plugin chain runner and async tokens. */
#include "lifecycle/chain.h"
#include "base/log.h"
#include "base/util.h"
#include "lifecycle/generation.h"
#include "lifecycle/wait.h"

#include <string.h>

static void async_arm(pc_async_t *a);

typedef pc_status_t (*phase_hook_t)(pc_request_t *, void *, void *);

static phase_hook_t chain_hook(const pc_plugin_t *p, pc_phase_t phase)
{
    return phase == PC_PHASE_HEADERS ? p->on_headers : p->on_body;
}

static void *chain_ctx(pc_request_t *r, size_t i)
{
    const pc_plugin_inst_t *inst = r->route->chain[i];
    if (!r->plugin_ctx) {
        r->plugin_ctx = pc_arena_calloc(r->arena, r->route->nchain * sizeof(void *));
    }
    if (!r->plugin_ctx[i] && inst->type->req_ctx_size)
        r->plugin_ctx[i] = pc_arena_calloc(r->arena, inst->type->req_ctx_size);
    return r->plugin_ctx[i];
}

/* Turns a verdict into the chain's next step; the position points at the
 * plugin that produced it. */
static int chain_apply(pc_request_t *r, pc_status_t st)
{
    const pc_plugin_inst_t *inst = r->route->chain[r->chain_pos];
    switch (st) {
    case PC_CONTINUE:
        return 0;
    case PC_RESPOND:
        if (!r->response_set) {
            pc_rlog(r, PC_LOG_ERROR, "plugin responded without setting a response");
            pc_request_fail(r, 500, "plugin.error", NULL);
        }
        r->stopped_by = inst->name;
        return 1;
    case PC_ERROR:
    default:
        pc_rlog(r, PC_LOG_ERROR, "plugin failed");
        pc_request_fail(r, 500, "plugin.error", NULL);
        r->stopped_by = inst->name;
        return 1;
    }
}

pc_chain_result_t pc_chain_run(pc_request_t *r, pc_phase_t phase)
{
    const pc_route_conf_t *rt = r->route;
    for (; r->chain_pos < rt->nchain; r->chain_pos++) {
        const pc_plugin_inst_t *inst = rt->chain[r->chain_pos];
        phase_hook_t hook = chain_hook(inst->type, phase);
        if (!hook)
            continue;
        r->in_hook = true;
        r->async_sync_done = false;
        pc_status_t st = hook(r, inst->conf, chain_ctx(r, r->chain_pos));
        r->in_hook = false;
        /* A token still open after the hook means the plugin must suspend;
         * only then does the wait cost a timer. */
        PC_ASSERT(r->async == NULL || st == PC_SUSPEND);
        if (r->async) {
            async_arm(r->async);
            return PC_CHAIN_SUSPENDED;
        }
        if (st == PC_SUSPEND) {
            PC_ASSERT(r->async_sync_done); /* suspended without a token */
            st = r->async_verdict;
        }
        r->async_sync_done = false;
        if (chain_apply(r, st))
            return PC_CHAIN_RESPONDED;
    }
    r->chain_pos = 0;
    return PC_CHAIN_DONE;
}

pc_chain_result_t pc_chain_resume(pc_request_t *r, pc_phase_t phase)
{
    pc_status_t st = r->async_verdict;
    if (chain_apply(r, st))
        return PC_CHAIN_RESPONDED;
    r->chain_pos++;
    return pc_chain_run(r, phase);
}

void pc_chain_on_response(pc_request_t *r)
{
    const pc_route_conf_t *rt = r->route;
    for (size_t i = 0; rt && i < rt->nchain; i++) {
        const pc_plugin_inst_t *inst = rt->chain[i];
        if (inst->type->on_response)
            inst->type->on_response(r, inst->conf, chain_ctx(r, i));
    }
}

void pc_chain_on_log(pc_request_t *r)
{
    const pc_route_conf_t *rt = r->route;
    for (size_t i = 0; rt && i < rt->nchain; i++) {
        const pc_plugin_inst_t *inst = rt->chain[i];
        if (inst->type->on_log)
            inst->type->on_log(r, inst->conf, chain_ctx(r, i));
    }
}

void *pc_worker_state(pc_request_t *r, const void *conf)
{
    const pc_route_conf_t *rt = r->route;
    for (size_t i = 0; rt && i < rt->nchain; i++)
        if (rt->chain[i]->conf == conf)
            return r->gen->plugin_wstate ? r->gen->plugin_wstate[rt->chain[i]->index] : NULL;
    return NULL;
}

/* ---- async tokens --------------------------------------------------------
 *
 * A token holds a reference on its request until the plugin ends it: the
 * plugin's per-request state lives in the request's arena, and so does the
 * token, and a late completion may still read both. A token that times
 * out (or is cut by shutdown) is abandoned: the request is answered and
 * completes, it no longer counts as in flight, and its memory waits for
 * the late pc_async_end. A plugin that never ends a token therefore holds
 * only that request's memory, freed at the worker's end
 * (pc_chain_free_abandoned).
 *
 * pc_async_begin costs no malloc and no system call (the token is a few
 * bytes of the arena): the timer is armed by the chain runner, and only
 * when the hook returns with the token still open. A token ended inside
 * its hook (the memory store answers at once) never arms a timer. */

static void async_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents);

pc_async_t *pc_async_begin(pc_request_t *r, unsigned timeout_ms, int timeout_status)
{
    PC_ASSERT(r->in_hook && r->async == NULL);
    pc_async_t *a = pc_arena_alloc(r->arena, sizeof(*a));
    a->r = r;
    a->owner = r;
    pc_list_init(&a->link);
    a->timeout_ms = timeout_ms ? timeout_ms : 1000;
    a->timeout_status = timeout_status >= 400 && timeout_status <= 599 ? timeout_status : 503;
    a->ended = false;
    ev_timer_init(&a->timer, async_timeout_cb, a->timeout_ms / 1000.0, 0.);
    a->timer.data = a;
    r->async = a;
    pc_request_ref(r);
    return a;
}

static void async_arm(pc_async_t *a)
{
    ev_timer_start(a->owner->worker->loop, &a->timer);
}

pc_request_t *pc_async_request(pc_async_t *a)
{
    return a->r;
}

/* Resumes r with a verdict, from a token or its timeout. */
static void async_deliver(pc_request_t *r, pc_status_t verdict)
{
    r->async = NULL;
    r->async_verdict = verdict;
    if (r->in_hook) {
        r->async_sync_done = true;
        return;
    }
    pc_wait_resume(r);
}

void pc_async_end(pc_async_t *a, pc_status_t verdict)
{
    PC_ASSERT(!a->ended);
    a->ended = true;
    pc_request_t *owner = a->owner;
    ev_timer_stop(owner->worker->loop, &a->timer);
    if (a->r) {
        a->r = NULL;
        if (verdict == PC_SUSPEND)
            verdict = PC_ERROR;
        async_deliver(owner, verdict);
    } else {
        pc_list_remove(&a->link);
    }
    pc_request_unref(owner); /* may free a with the arena */
}

static void async_abandon(pc_async_t *a, const char *why)
{
    pc_request_t *r = a->r;
    pc_worker_t *w = r->worker;
    a->r = NULL;
    ev_timer_stop(w->loop, &a->timer);
    pc_list_push_front(&w->abandoned, &a->link);
    pc_rlog(r, PC_LOG_WARN, "plugin did not answer in time (%s)", why);
    pc_request_fail(r, a->timeout_status, "plugin.timeout", NULL);
    if (r->route && r->chain_pos < r->route->nchain)
        r->stopped_by = r->route->chain[r->chain_pos]->name;
    async_deliver(r, PC_RESPOND);
}

static void async_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_async_t *a = t->data;
    if (a->r)
        async_abandon(a, "timeout");
}

void pc_chain_abandon(pc_request_t *r, const char *why)
{
    if (r->async && r->async->r)
        async_abandon(r->async, why);
}

void pc_chain_free_abandoned(pc_worker_t *w)
{
    pc_list_t *n;
    while ((n = pc_list_first(&w->abandoned))) {
        pc_async_t *a = pc_list_entry(n, pc_async_t, link);
        pc_list_remove(n);
        pc_request_unref(a->owner);
    }
}
