/* gateway/lifecycle/request.c: request lifetime and the accessors of plugin.h. */
#include "lifecycle/request.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/problem.h"
#include "base/util.h"
#include "lifecycle/generation.h"
#include "lifecycle/worker_ctx.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

pc_request_t *pc_request_new(pc_worker_t *w)
{
    pc_arena_t *a = pc_arena_new(4096);
    pc_request_t *r = pc_arena_calloc(a, sizeof(*r));
    r->arena = a;
    r->worker = w;
    r->refs = 1;
    r->content_length = -1;
    r->up_content_length = -1;
    r->target_index = -1;
    r->start_ns = pc_clock_mono_ns();
    return r;
}

void pc_request_ref(pc_request_t *r)
{
    r->refs++;
}

static void request_drop_claims(void *p)
{
    json_decref(p);
}

/* In flight is what the front end has not completed: a request answered
 * while an abandoned token still holds its memory does not delay a drain. */
void pc_request_completed(pc_request_t *r)
{
    pc_worker_t *w = r->worker;
    r->completed = true;
    w->live_requests--;
    pc_counter_sub(&w->metrics.requests_active, 1);
    if (w->live_requests == 0 && w->on_idle)
        w->on_idle(w);
}

void pc_request_unref(pc_request_t *r)
{
    PC_ASSERT(r->refs > 0);
    if (--r->refs > 0)
        return;
    pc_worker_t *w = r->worker;
    if (!r->completed) {
        /* Never completed by the front end (a worker stopping): stop
         * counting it. */
        w->live_requests--;
        pc_counter_sub(&w->metrics.requests_active, 1);
    }
    if (r->gen)
        pc_wgen_release(w, r->gen);
    pc_arena_free(r->arena);
}

/* ---- reading ------------------------------------------------------------ */

const char *pc_request_method(const pc_request_t *r) { return r->method; }
const char *pc_request_path(const pc_request_t *r) { return r->path; }
const char *pc_request_query(const pc_request_t *r) { return r->query; }
const char *pc_request_route(const pc_request_t *r) { return r->route ? r->route->name : NULL; }
const char *pc_request_id(const pc_request_t *r) { return r->request_id; }
const char *pc_request_client_ip(const pc_request_t *r) { return r->client_ip; }
int pc_request_status(const pc_request_t *r) { return r->status; }
const char *pc_request_subject(const pc_request_t *r) { return r->subject; }
const json_t *pc_request_claims(const pc_request_t *r) { return r->claims; }

const char *pc_request_header(const pc_request_t *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == n && pc_strncaseeq(r->headers[i].name, name, n))
            return r->headers[i].value;
    return NULL;
}

unsigned pc_request_header_count(const pc_request_t *r, const char *name)
{
    size_t n = strlen(name);
    unsigned count = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == n && pc_strncaseeq(r->headers[i].name, name, n))
            count++;
    return count;
}

const char *pc_request_param(const pc_request_t *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->match.nparams; i++) {
        const pc_route_param_t *p = &r->match.params[i];
        if (p->name_len == n && memcmp(p->name, name, n) == 0)
            return pc_arena_strndup(r->arena, p->value, p->value_len);
    }
    return NULL;
}

const void *pc_request_body(const pc_request_t *r, size_t *len)
{
    *len = r->body_len;
    return r->body;
}

void pc_response_body_keep(pc_request_t *r)
{
    if (r->route && r->route->sees_response_body)
        r->cap_wanted = true;
}

const void *pc_response_body(const pc_request_t *r, size_t *len, bool *truncated)
{
    bool relayed = r->cap_wanted && r->up_head_seen && !r->response_set;
    *len = relayed ? r->cap_len : 0;
    /* With a Content-Length the client can have the whole body (and on_log
     * run) before the upstream exchange has finished: the length says the
     * copy is whole. Without one, the exchange must have ended well. */
    bool whole = r->up_content_length >= 0 ? r->cap_len == (size_t)r->up_content_length
                                            : r->up_done && r->up_err == PC_UX_OK;
    if (truncated)
        *truncated = relayed && (r->cap_truncated || !whole);
    return relayed ? (r->cap_data ? r->cap_data : "") : NULL;
}

/* Grows by doubling in the arena (at most twice the final size wasted); a
 * known Content-Length is allocated once. */
void pc_request_capture(pc_request_t *r, const char *p, size_t len)
{
    size_t room = PC_RESPONSE_CAPTURE_MAX - r->cap_len;
    if (len > room) {
        r->cap_truncated = true;
        len = room;
    }
    if (!len)
        return;
    if (r->cap_len + len > r->cap_cap) {
        size_t want = r->cap_cap ? r->cap_cap * 2 : 4096;
        if (!r->cap_cap && r->up_content_length > 0)
            want = (size_t)r->up_content_length;
        while (want < r->cap_len + len)
            want *= 2;
        if (want > PC_RESPONSE_CAPTURE_MAX)
            want = PC_RESPONSE_CAPTURE_MAX;
        char *d = pc_arena_alloc(r->arena, want);
        if (r->cap_len)
            memcpy(d, r->cap_data, r->cap_len);
        r->cap_data = d;
        r->cap_cap = want;
    }
    memcpy(r->cap_data + r->cap_len, p, len);
    r->cap_len += len;
}

void pc_request_set_identity(pc_request_t *r, const char *subject, json_t *claims)
{
    r->subject = subject ? pc_arena_strdup(r->arena, subject) : NULL;
    if (claims) {
        r->claims = json_incref(claims);
        pc_arena_on_cleanup(r->arena, request_drop_claims, claims);
    }
}

/* ---- acting --------------------------------------------------------------- */

void pc_hdr_ops_push(pc_request_t *r, pc_hdr_ops_t *ops, pc_hdr_op_kind_t kind, const char *name,
                     const char *value)
{
    pc_hdr_op_t *op = pc_arena_alloc(r->arena, sizeof(*op));
    op->next = NULL;
    op->kind = kind;
    op->name = pc_arena_strdup(r->arena, name);
    op->value = value ? pc_arena_strdup(r->arena, value) : NULL;
    if (ops->tail)
        ops->tail->next = op;
    else
        ops->head = op;
    ops->tail = op;
}

void pc_upstream_header_set(pc_request_t *r, const char *n, const char *v) { pc_hdr_ops_push(r, &r->up_ops, PC_HOP_SET, n, v); }
void pc_upstream_header_add(pc_request_t *r, const char *n, const char *v) { pc_hdr_ops_push(r, &r->up_ops, PC_HOP_ADD, n, v); }
void pc_upstream_header_remove(pc_request_t *r, const char *n) { pc_hdr_ops_push(r, &r->up_ops, PC_HOP_REMOVE, n, NULL); }
void pc_response_header_set(pc_request_t *r, const char *n, const char *v) { pc_hdr_ops_push(r, &r->resp_ops, PC_HOP_SET, n, v); }
void pc_response_header_add(pc_request_t *r, const char *n, const char *v) { pc_hdr_ops_push(r, &r->resp_ops, PC_HOP_ADD, n, v); }
void pc_response_header_remove(pc_request_t *r, const char *n) { pc_hdr_ops_push(r, &r->resp_ops, PC_HOP_REMOVE, n, NULL); }

void pc_request_fail(pc_request_t *r, int status, const char *reason, const char *detail)
{
    char buf[1024];
    size_t n = pc_problem_render(buf, sizeof(buf), status, reason, detail, r->request_id);
    r->status = status;
    r->reason = reason;
    r->resp_content_type = "application/problem+json";
    r->resp_body = pc_arena_strndup(r->arena, buf, n);
    r->resp_body_len = n;
    r->response_set = true;
}

pc_status_t pc_deny(pc_request_t *r, int status, const char *reason, const char *detail)
{
    if (status < 400 || status > 599)
        status = 500;
    pc_request_fail(r, status, reason ? pc_arena_strdup(r->arena, reason) : "denied", detail);
    return PC_RESPOND;
}

/* Members the core writes itself, which extra may not replace. */
static bool problem_std_member(const char *k)
{
    static const char *const std[] = {"type", "title", "status", "detail", "instance", "request_id"};
    for (size_t i = 0; i < PC_ARRAY_LEN(std); i++)
        if (strcmp(k, std[i]) == 0)
            return true;
    return false;
}

pc_status_t pc_deny_json(pc_request_t *r, int status, const char *reason, const char *detail,
                         const json_t *extra)
{
    pc_deny(r, status, reason, detail);
    if (!json_is_object(extra) || json_object_size(extra) == 0 || !r->resp_body_len ||
        r->resp_body[r->resp_body_len - 1] != '}')
        return PC_RESPOND;
    json_t *add = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)extra, k, v)
        if (!problem_std_member(k))
            json_object_set(add, k, v);
    char *more = json_object_size(add) ? json_dumps(add, JSON_COMPACT) : NULL;
    json_decref(add);
    if (!more)
        return PC_RESPOND;
    /* The rendered body ends with '}'; more is "{...}": splice it in. */
    size_t n = r->resp_body_len, m = strlen(more);
    char *body = pc_arena_alloc(r->arena, n + m + 1);
    memcpy(body, r->resp_body, n - 1);
    body[n - 1] = ',';
    memcpy(body + n, more + 1, m - 1);
    body[n + m - 1] = '\0';
    free(more);
    r->resp_body = body;
    r->resp_body_len = n + m - 1;
    return PC_RESPOND;
}

pc_status_t pc_deny_unavailable(pc_request_t *r, const char *reason, const char *detail)
{
    pc_response_header_set(r, "Retry-After", "1");
    return pc_deny(r, 503, reason, detail);
}

pc_status_t pc_respond(pc_request_t *r, int status, const char *content_type, const void *body,
                       size_t len)
{
    if (status < 200 || status > 599)
        status = 500;
    r->status = status;
    r->reason = "plugin.response";
    r->resp_content_type = content_type ? pc_arena_strdup(r->arena, content_type) : NULL;
    char *copy = pc_arena_alloc(r->arena, len + 1);
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    r->resp_body = copy;
    r->resp_body_len = len;
    r->response_set = true;
    return PC_RESPOND;
}

/* ---- memory and logging ----------------------------------------------------- */

void *pc_alloc(pc_request_t *r, size_t n) { return pc_arena_alloc(r->arena, n); }
char *pc_strdup(pc_request_t *r, const char *s) { return pc_arena_strdup(r->arena, s); }
void pc_on_cleanup(pc_request_t *r, void (*fn)(void *), void *data) { pc_arena_on_cleanup(r->arena, fn, data); }
pc_worker_t *pc_request_worker(pc_request_t *r) { return r->worker; }

/* ---- outcome ------------------------------------------------------------------ */

const char *pc_request_reason(const pc_request_t *r) { return r->reason; }
const char *pc_request_stopped_by(const pc_request_t *r) { return r->stopped_by; }

int pc_request_stopped_by_auth(const pc_request_t *r)
{
    if (!r->stopped_by || !r->route)
        return 0;
    for (size_t i = 0; i < r->route->nchain; i++) {
        const pc_plugin_inst_t *inst = r->route->chain[i];
        if (inst->name == r->stopped_by)
            return (inst->type->flags & PC_PLUGIN_AUTHENTICATES) != 0;
    }
    return 0;
}

int pc_request_upstream_status(const pc_request_t *r)
{
    return r->up_head_seen && !r->response_set ? (int)r->up_status : 0;
}

bool pc_log_every(_Atomic long *last, unsigned seconds)
{
    long now = (long)time(NULL), prev = atomic_load(last);
    return now - prev >= (long)seconds && atomic_compare_exchange_strong(last, &prev, now);
}

void pc_rlog(pc_request_t *r, int level, const char *fmt, ...)
{
    if (level > pc_log_level)
        return;
    char prefix[256];
    const char *plugin = NULL;
    if (r->route && r->chain_pos < r->route->nchain)
        plugin = r->route->chain[r->chain_pos]->name;
    snprintf(prefix, sizeof(prefix), "req=%s client=%s route=%s plugin=%s: ",
             r->request_id ? r->request_id : "-", r->client_ip[0] ? r->client_ip : "-",
             r->route ? r->route->name : "-", plugin ? plugin : "-");
    va_list ap;
    va_start(ap, fmt);
    pc_log_vwrite_prefixed(level, prefix, fmt, ap);
    va_end(ap);
}
