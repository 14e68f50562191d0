/* tests/unit/harness.c: the fake worker, config, front end and clock of
 * harness.h. */
#include "harness.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* ---- scripted plugins ------------------------------------------------------- */

static pc_status_t h_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    h_plugin_t *p = conf;
    p->calls++;
    pc_async_t *a;
    switch (p->mode) {
    case H_CONTINUE:
        return PC_CONTINUE;
    case H_DENY:
        return pc_deny(r, 429, "test.deny", NULL);
    case H_SUSPEND:
        p->pending = p->last = pc_async_begin(r, p->timeout_ms, p->timeout_status);
        return PC_SUSPEND;
    case H_SYNC_CONTINUE:
        a = p->last = pc_async_begin(r, p->timeout_ms, p->timeout_status);
        pc_async_end(a, PC_CONTINUE);
        return PC_SUSPEND;
    case H_SYNC_DENY:
        a = p->last = pc_async_begin(r, p->timeout_ms, p->timeout_status);
        pc_deny(r, 403, "test.sync_deny", NULL);
        pc_async_end(a, PC_RESPOND);
        return PC_SUSPEND;
    case H_END_TWICE:
        a = p->last = pc_async_begin(r, p->timeout_ms, p->timeout_status);
        pc_request_ref(r); /* keeps r alive for the second, fatal, end */
        pc_async_end(a, PC_CONTINUE);
        pc_async_end(a, PC_CONTINUE);
        return PC_SUSPEND;
    case H_OPEN_CONTINUE:
        p->pending = p->last = pc_async_begin(r, p->timeout_ms, p->timeout_status);
        return PC_CONTINUE;
    }
    return PC_ERROR;
}

static const pc_plugin_t h_plugin_type = {
    .abi = PC_PLUGIN_ABI,
    .name = "harness",
    .on_headers = h_on_headers,
};

/* ---- fake front end ------------------------------------------------------------ */

static harness_t *current; /* the ops get only the request */

static void h_front_suspend(pc_request_t *r)
{
    current->front.suspends++;
}

static void h_front_resume(pc_request_t *r)
{
    current->front.resumes++;
}

static bool h_front_client_gone(pc_request_t *r)
{
    return current->front.client_gone;
}

static const pc_front_ops_t h_front_ops = {
    .suspend = h_front_suspend,
    .resume = h_front_resume,
    .client_gone = h_front_client_gone,
};

/* ---- clock ----------------------------------------------------------------------- */

static uint64_t h_clock(void *ctx, int wall)
{
    harness_t *h = ctx;
    return wall ? 1700000000000ull + h->now_ns / 1000000u : h->now_ns;
}

void h_clock_step(harness_t *h, uint64_t ns)
{
    h->now_ns += ns;
}

/* ---- harness ------------------------------------------------------------------------ */

harness_t *h_new(size_t n, const h_mode_t *modes)
{
    ck_assert(n <= H_MAX_PLUGINS && current == NULL);
    harness_t *h = calloc(1, sizeof(*h));
    ck_assert_ptr_nonnull(h);
    current = h;
    h->now_ns = 1000000000000ull;
    pc_clock_override(h_clock, h);
    h->w.loop = ev_loop_new(0);
    pc_list_init(&h->w.waiting);
    pc_list_init(&h->w.abandoned);
    pc_rng_seed(&h->w.rng);
    h->w.front = &h_front_ops;
    h->gen.conf = &h->conf;
    h->w.gen = &h->gen;
    for (size_t i = 0; i < n; i++) {
        h->plugins[i].mode = modes[i];
        h->insts[i] = (pc_plugin_inst_t){.name = "harness", .type = &h_plugin_type,
                                         .conf = &h->plugins[i], .index = (unsigned)i};
        h->chain[i] = &h->insts[i];
    }
    h->route.name = "r";
    h->route.chain = h->chain;
    h->route.nchain = n;
    return h;
}

void h_free(harness_t *h)
{
    ck_assert_uint_eq(h->gen.inflight, 0);
    ck_assert(pc_list_empty(&h->w.waiting));
    ck_assert(pc_list_empty(&h->w.abandoned));
    ev_loop_destroy(h->w.loop);
    pc_clock_override(NULL, NULL);
    current = NULL;
    free(h);
}

pc_request_t *h_request(harness_t *h)
{
    pc_request_t *r = pc_request_new(&h->w);
    r->gen = pc_wgen_acquire(&h->w);
    r->conf = &h->conf;
    r->route = &h->route;
    r->wq = &h->wq;
    r->request_id = "test";
    h->w.live_requests++;
    return r;
}

void h_complete(harness_t *h, pc_request_t *r)
{
    pc_request_completed(r);
    pc_request_unref(r);
}

void h_run_once(harness_t *h)
{
    ev_run(h->w.loop, EVRUN_ONCE);
}

size_t h_waiting(const harness_t *h)
{
    size_t n = 0;
    for (const pc_list_t *it = h->w.waiting.next; it != &h->w.waiting; it = it->next)
        n++;
    return n;
}
