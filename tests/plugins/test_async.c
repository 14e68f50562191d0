/* tests/plugins/test_async.c: a test-only plugin that exercises the async
 * API. Compiled only into tests/portcullis-test.
 *
 *   {"type": "test_async", "delay_ms": 200, "verdict": "continue"|"deny",
 *    "status": 429, "sync": false, "never_end": false, "timeout_ms": 5000,
 *    "phase": "headers"|"body"}
 */
#include <portcullis/plugin.h>

#include <stdlib.h>
#include <string.h>

typedef struct ta_conf {
    unsigned delay_ms, timeout_ms;
    int deny, status, sync, never_end, body;
} ta_conf_t;

typedef struct ta_wait {
    pc_timer_t *timer;
    pc_async_t *a;
    const ta_conf_t *c;
    struct ta_worker *tw;
    struct ta_wait *prev, *next;
} ta_wait_t;

/* Per worker: the pending waits, so a worker that stops with requests
 * still waiting frees them (their tokens were abandoned by the core). */
typedef struct ta_worker {
    pc_worker_t *w;
    ta_wait_t *head;
} ta_worker_t;

static void ta_unlink(ta_wait_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->tw->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static int ta_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    ta_conf_t *c = calloc(1, sizeof(*c));
    *conf = c;
    c->status = 403;
    c->timeout_ms = 5000;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)node, k, v) {
        if (!strcmp(k, "delay_ms") && json_is_integer(v))
            c->delay_ms = (unsigned)json_integer_value(v);
        else if (!strcmp(k, "timeout_ms") && json_is_integer(v))
            c->timeout_ms = (unsigned)json_integer_value(v);
        else if (!strcmp(k, "status") && json_is_integer(v))
            c->status = (int)json_integer_value(v);
        else if (!strcmp(k, "verdict") && json_is_string(v))
            c->deny = !strcmp(json_string_value(v), "deny");
        else if (!strcmp(k, "sync") && json_is_boolean(v))
            c->sync = json_is_true(v);
        else if (!strcmp(k, "never_end") && json_is_boolean(v))
            c->never_end = json_is_true(v);
        else if (!strcmp(k, "phase") && json_is_string(v))
            c->body = !strcmp(json_string_value(v), "body");
        else
            return pc_err_set(err, k, "unknown key or wrong type");
    }
    return 0;
}

static void ta_conf_free(void *conf)
{
    free(conf);
}

static void ta_finish(pc_async_t *a, const ta_conf_t *c)
{
    pc_request_t *r = pc_async_request(a);
    if (!r) {
        pc_async_end(a, PC_CONTINUE); /* abandoned: only drop the reference */
        return;
    }
    if (c->deny) {
        pc_deny(r, c->status, "test.denied", "denied by test_async");
        pc_async_end(a, PC_RESPOND);
    } else {
        pc_upstream_header_set(r, "X-Test-Async", "resumed");
        pc_async_end(a, PC_CONTINUE);
    }
}

static void ta_timer_cb(void *data)
{
    ta_wait_t *w = data;
    ta_unlink(w);
    ta_finish(w->a, w->c);
    pc_timer_free(w->timer);
    free(w);
}

static pc_status_t ta_run(pc_request_t *r, const ta_conf_t *c, ta_worker_t *tw)
{
    pc_async_t *a = pc_async_begin(r, c->timeout_ms, 503);
    if (c->never_end)
        return PC_SUSPEND; /* the core's timer must rescue the request */
    if (c->sync) {
        ta_finish(a, c);
        return PC_SUSPEND;
    }
    ta_wait_t *w = calloc(1, sizeof(*w));
    w->a = a;
    w->c = c;
    w->tw = tw;
    w->next = tw->head;
    if (tw->head)
        tw->head->prev = w;
    tw->head = w;
    w->timer = pc_timer_new(tw->w, ta_timer_cb, w);
    pc_timer_start(w->timer, c->delay_ms, 0);
    return PC_SUSPEND;
}

static void *ta_worker_init(void *conf, pc_worker_t *w)
{
    ta_worker_t *tw = calloc(1, sizeof(*tw));
    tw->w = w;
    return tw;
}

static void ta_worker_free(void *conf, void *wstate)
{
    ta_worker_t *tw = wstate;
    while (tw->head) {
        ta_wait_t *w = tw->head;
        tw->head = w->next;
        pc_timer_free(w->timer);
        free(w);
    }
    free(tw);
}

static pc_status_t ta_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const ta_conf_t *c = conf;
    return c->body ? PC_CONTINUE : ta_run(r, c, pc_worker_state(r, conf));
}

static pc_status_t ta_on_body(pc_request_t *r, void *conf, void *ctx)
{
    const ta_conf_t *c = conf;
    return c->body ? ta_run(r, c, pc_worker_state(r, conf)) : PC_CONTINUE;
}

const pc_plugin_t pc_plugin_test_async = {
    .abi = PC_PLUGIN_ABI,
    .name = "test_async",
    .flags = PC_PLUGIN_NEEDS_BODY,
    .conf_create = ta_conf_create,
    .conf_free = ta_conf_free,
    .worker_init = ta_worker_init,
    .worker_free = ta_worker_free,
    .on_headers = ta_on_headers,
    .on_body = ta_on_body,
};
