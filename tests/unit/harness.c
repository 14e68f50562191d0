/* tests/unit/harness.c: the fake worker, config, front end, clock and
 * store of harness.h. */
#include "harness.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/util.h"
#include "conf/plugins.h"
#include "ops/metric.h"
#include "store/store.h"
#include "store/store_ns.h"

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
    case H_DENY_AUTH:
        return pc_deny(r, 401, "test.credential_refused", NULL);
    }
    return PC_ERROR;
}

static const pc_plugin_t h_plugin_type = {
    .abi = PC_PLUGIN_ABI,
    .name = "harness",
    .on_headers = h_on_headers,
};

/* The same hook, declared as an authenticating plugin (pc_request_stopped_by_auth). */
static const pc_plugin_t h_auth_plugin_type = {
    .abi = PC_PLUGIN_ABI,
    .name = "harness_auth",
    .flags = PC_PLUGIN_AUTHENTICATES,
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

/* ---- fake store ------------------------------------------------------------------- */

static h_store_call_t *h_store_record(h_store_op_t op, const pc_store_ns_t *ns, const void *key,
                                      size_t klen, void *data)
{
    h_store_t *st = &current->store;
    ck_assert_msg(st->ncalls < H_MAX_STORE_CALLS, "more than %d store calls",
                  H_MAX_STORE_CALLS);
    ck_assert_uint_lt(klen, H_STORE_KEY_MAX);
    h_store_call_t *c = &st->calls[st->ncalls++];
    memset(c, 0, sizeof(*c));
    c->op = op;
    c->ns = ns->name;
    memcpy(c->key, key, klen);
    c->klen = klen;
    c->data = data;
    return c;
}

/* at_once: answered inside the call, as the memory store does. */
static void h_store_called(void)
{
    h_store_t *st = &current->store;
    if (st->at_once)
        h_store_answer(current, st->ncalls - 1, &st->now);
}

static void h_st_limit(const pc_store_ns_t *ns, const void *key, size_t klen,
                       const pc_limit_spec_t *limits, size_t n, pc_store_limit_cb cb, void *data)
{
    h_store_call_t *c = h_store_record(H_ST_LIMIT, ns, key, klen, data);
    memcpy(c->limits, limits, n * sizeof(*limits));
    c->nlimits = n;
    c->cb.limit = cb;
    h_store_called();
}

static void h_st_flag_set(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t ttl_ms,
                          pc_store_done_cb cb, void *data)
{
    h_store_call_t *c = h_store_record(H_ST_FLAG_SET, ns, key, klen, data);
    c->arg = ttl_ms;
    c->cb.done = cb;
    h_store_called();
}

static void h_st_flag_check(const pc_store_ns_t *ns, const void *key, size_t klen,
                            pc_store_flag_cb cb, void *data)
{
    h_store_call_t *c = h_store_record(H_ST_FLAG_CHECK, ns, key, klen, data);
    c->cb.flag = cb;
    h_store_called();
}

static void h_st_count(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t window_ms,
                       pc_store_count_cb cb, void *data)
{
    h_store_call_t *c = h_store_record(H_ST_COUNT, ns, key, klen, data);
    c->arg = window_ms;
    c->cb.count = cb;
    h_store_called();
}

static const pc_store_backend_t h_store_backend = {
    .limit = h_st_limit,
    .flag_set = h_st_flag_set,
    .flag_check = h_st_flag_check,
    .count = h_st_count,
};

void h_store_answer(harness_t *h, size_t i, const h_answer_t *a)
{
    ck_assert_uint_lt(i, h->store.ncalls);
    h_store_call_t *c = &h->store.calls[i];
    ck_assert_msg(!c->answered, "store call %zu answered twice", i);
    c->answered = true; /* first: the callback may store again */
    static const pc_limit_result_t none; /* what the store gives with rc -1 */
    switch (c->op) {
    case H_ST_LIMIT:
        c->cb.limit(c->data, a->rc, a->rc == 0 ? &a->limit : &none);
        break;
    case H_ST_FLAG_SET:
        if (c->cb.done)
            c->cb.done(c->data, a->rc);
        break;
    case H_ST_FLAG_CHECK:
        c->cb.flag(c->data, a->rc, a->rc == 0 && a->present);
        break;
    case H_ST_COUNT:
        c->cb.count(c->data, a->rc, a->rc == 0 ? a->count : 0);
        break;
    }
}

size_t h_store_pending(const harness_t *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->store.ncalls; i++)
        n += !h->store.calls[i].answered;
    return n;
}

/* ---- metrics ------------------------------------------------------------------------- */

long long h_metric(const char *name)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    pc_metric_render(f);
    fclose(f);
    char pat[160];
    snprintf(pat, sizeof(pat), "\n%s ", name); /* a value line follows its # HELP line */
    const char *line = strstr(buf, pat);
    long long v = line ? strtoll(line + strlen(pat), NULL, 10) : -1;
    free(buf);
    return v;
}

bool h_loop_alive(harness_t *h)
{
    return ev_run(h->w.loop, EVRUN_NOWAIT) != 0; /* libev: true while active watchers remain */
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
    h->gen.plugin_wstate = h->wstate;
    h->w.gen = &h->gen;
    h->route.name = "r";
    h->route.chain = h->chain;
    for (size_t i = 0; i < n; i++)
        h_add_scripted(h, modes[i]);
    pc_store_set_test_backend(&h_store_backend);
    return h;
}

static pc_plugin_inst_t *h_add(harness_t *h, const pc_plugin_t *type, const char *name,
                               void *conf)
{
    size_t i = h->route.nchain;
    ck_assert_uint_lt(i, H_MAX_PLUGINS);
    h->insts[i] = (pc_plugin_inst_t){.name = (char *)name, .type = type, .conf = conf,
                                     .index = (unsigned)i};
    h->chain[i] = &h->insts[i];
    h->route.nchain++;
    if (type->flags & PC_PLUGIN_AUTHENTICATES)
        h->route.authenticated = true;
    return &h->insts[i];
}

size_t h_add_scripted(harness_t *h, h_mode_t mode)
{
    size_t i = h->route.nchain;
    h->plugins[i].mode = mode;
    const pc_plugin_t *type = mode == H_DENY_AUTH ? &h_auth_plugin_type : &h_plugin_type;
    h_add(h, type, type->name, &h->plugins[i]);
    return i;
}

size_t h_add_plugin(harness_t *h, const pc_plugin_t *type, const char *json)
{
    json_error_t je;
    json_t *node = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(node != NULL, "bad test JSON: %s: %s", json, je.text);
    pc_diag_t d = {0};
    pc_err_t err = {&d, type->name, 0};
    void *conf = NULL;
    int rc = type->conf_create(node, &conf, &err);
    json_decref(node);
    ck_assert_msg(rc == 0, "%s: %s", json, d.nerrors ? d.errors[0] : "?");
    struct pc_env env = {.workers = 1, .generation = 1};
    rc = type->start ? type->start(conf, &env, &err) : 0;
    ck_assert_msg(rc == 0, "%s start: %s", type->name, d.nerrors ? d.errors[0] : "?");
    pc_diag_free(&d);
    pc_plugin_inst_t *inst = h_add(h, type, type->name, conf);
    inst->started = true;
    if (type->worker_init)
        h->wstate[inst->index] = type->worker_init(conf, &h->w);
    return inst->index;
}

/* As at unload: worker_free, stop, conf_free, for the real plugins. */
static void h_free_plugins(harness_t *h)
{
    for (size_t i = 0; i < h->route.nchain; i++) {
        const pc_plugin_inst_t *inst = &h->insts[i];
        if (inst->conf == &h->plugins[i])
            continue; /* scripted */
        if (inst->type->worker_free)
            inst->type->worker_free(inst->conf, h->wstate[i]);
        if (inst->type->stop)
            inst->type->stop(inst->conf);
        if (inst->type->conf_free)
            inst->type->conf_free(inst->conf);
    }
}

void h_free(harness_t *h)
{
    ck_assert_uint_eq(h->gen.inflight, 0);
    ck_assert(pc_list_empty(&h->w.waiting));
    ck_assert(pc_list_empty(&h->w.abandoned));
    ck_assert_msg(h_store_pending(h) == 0, "%zu store calls never answered", h_store_pending(h));
    pc_store_set_test_backend(NULL);
    h_free_plugins(h);
    ev_loop_destroy(h->w.loop);
    pc_clock_override(NULL, NULL);
    current = NULL;
    free(h);
}

pc_request_t *h_request(harness_t *h)
{
    ev_now_update(h->w.loop); /* as a loop that just woke up: timers count from here */
    pc_request_t *r = pc_request_new(&h->w);
    r->gen = pc_wgen_acquire(&h->w);
    r->conf = &h->conf;
    r->route = &h->route;
    r->wq = &h->wq;
    r->request_id = "test";
    snprintf(r->client_ip, sizeof(r->client_ip), "%s", H_CLIENT_IP);
    h->w.live_requests++;
    return r;
}

void h_header(pc_request_t *r, const char *name, const char *value)
{
    pc_hdr_t *v = pc_arena_alloc(r->arena, (r->nheaders + 1) * sizeof(*v));
    if (r->nheaders)
        memcpy(v, r->headers, r->nheaders * sizeof(*v));
    v[r->nheaders++] = (pc_hdr_t){pc_arena_strdup(r->arena, name), strlen(name),
                                  pc_arena_strdup(r->arena, value), strlen(value)};
    r->headers = v;
}

void h_complete(harness_t *h, pc_request_t *r)
{
    pc_chain_on_log(r);
    pc_request_completed(r);
    pc_request_unref(r);
}

const char *h_response_header(const pc_request_t *r, const char *name)
{
    const char *v = NULL;
    size_t n = strlen(name);
    for (const pc_hdr_op_t *op = r->resp_ops.head; op; op = op->next) {
        if (strlen(op->name) != n || !pc_strncaseeq(op->name, name, n))
            continue;
        if (op->kind == PC_HOP_SET || (op->kind == PC_HOP_ADD && !v))
            v = op->value;
        else if (op->kind == PC_HOP_REMOVE)
            v = NULL;
    }
    return v;
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
