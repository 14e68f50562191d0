/* gateway/upstream/proxy.c: the upstream leg of a request.
 *
 * What an upstream sees is rebuilt from the parsed request, never copied
 * from the wire: hop-by-hop headers are dropped both ways, forwarding
 * headers are the gateway's own, and plugin edits are applied last.
 */
#include "upstream/proxy.h"
#include "http/hdr.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/problem.h"
#include "base/util.h"
#include "lifecycle/generation.h"
#include "lifecycle/wait.h"

#include <string.h>

/* ---- headers ------------------------------------------------------------------ */

bool pc_proxy_hop_by_hop(const char *name, size_t len)
{
    return pc_hdr_hop_by_hop(name, len);
}

/* Headers the gateway sets itself for the upstream; client copies go. */
static bool gateway_owned(const pc_request_t *r, const char *name, size_t len)
{
    return pc_hdr_is(name, len, "host") || pc_hdr_is(name, len, "x-forwarded-for") ||
           pc_hdr_is(name, len, "x-forwarded-proto") || pc_hdr_is(name, len, "x-forwarded-host") ||
           pc_hdr_is(name, len, "x-request-id") || pc_hdr_is(name, len, "traceparent") ||
           (!r->peer_trusted && pc_hdr_is(name, len, "forwarded"));
}

/* A client name with '_' is dropped unless the listener allows it (as
 * nginx does): CGI, WSGI, PHP and some Node servers read "X_Request_Id" as
 * "X-Request-Id", so such a name can impersonate a header the gateway
 * vouches for. Where it is allowed, the '_' spellings of the headers the
 * gateway sets, and of the method-override headers frameworks act on,
 * still go (plugin-set names: see build_headers). */
static bool underscore_refused(const pc_request_t *r, const char *name, size_t len)
{
    static const char *const vouched[] = {
        "host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id",
        "traceparent", "forwarded", "x-http-method-override", "x-http-method",
        "x-method-override",
    };
    if (!memchr(name, '_', len))
        return false;
    if (!r->listener->underscores_in_headers)
        return true;
    for (size_t i = 0; i < PC_ARRAY_LEN(vouched); i++)
        if (pc_hdr_is_loose(name, len, vouched[i]))
            return true;
    return false;
}

typedef struct hdr_list {
    pc_uhdr_t *h;
    size_t n, cap;
} hdr_list_t;

static void hl_add(pc_request_t *r, hdr_list_t *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap * 2 + 8;
        l->h = pc_arena_realloc(r->arena, l->h, l->cap * sizeof(*l->h), cap * sizeof(*l->h));
        l->cap = cap;
    }
    l->h[l->n++] = (pc_uhdr_t){name, strlen(name), value, strlen(value)};
}

/* Removes every spelling of name ('_' for '-' too), or with
 * only_underscored just the spellings that hold a '_'. */
static void hl_remove(hdr_list_t *l, const char *name, bool only_underscored)
{
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++) {
        const pc_uhdr_t *h = &l->h[i];
        bool drop = pc_hdr_is_loose(h->name, h->name_len, name) &&
                    (!only_underscored || memchr(h->name, '_', h->name_len));
        if (!drop)
            l->h[o++] = l->h[i];
    }
    l->n = o;
}

static void add_forwarding(pc_request_t *r, hdr_list_t *l)
{
    const pc_upstream_conf_t *up = r->route->upstream;
    const char *host = up->pass_host && r->host ? r->host : r->target->authority;
    hl_add(r, l, "Host", host);
    const char *xff = r->peer_trusted ? pc_request_header(r, "X-Forwarded-For") : NULL;
    if (xff) {
        size_t a = strlen(xff), b = strlen(r->peer_ip);
        char *v = pc_arena_alloc(r->arena, a + b + 3);
        memcpy(v, xff, a);
        memcpy(v + a, ", ", 2);
        memcpy(v + a + 2, r->peer_ip, b + 1);
        hl_add(r, l, "X-Forwarded-For", v);
    } else {
        hl_add(r, l, "X-Forwarded-For", r->peer_ip);
    }
    const char *proto = r->peer_trusted ? pc_request_header(r, "X-Forwarded-Proto") : NULL;
    hl_add(r, l, "X-Forwarded-Proto", proto && (!strcmp(proto, "http") || !strcmp(proto, "https"))
                                          ? proto
                                          : "http");
    const char *fhost = r->peer_trusted ? pc_request_header(r, "X-Forwarded-Host") : NULL;
    if (!fhost)
        fhost = r->host;
    if (fhost)
        hl_add(r, l, "X-Forwarded-Host", fhost);
    hl_add(r, l, "X-Request-Id", r->request_id);
    if (r->traceparent)
        hl_add(r, l, "traceparent", r->traceparent);
}

static void build_headers(pc_request_t *r, hdr_list_t *l)
{
    const char *conn = pc_request_header(r, "Connection");
    l->cap = r->nheaders + 8;
    l->h = pc_arena_alloc(r->arena, l->cap * sizeof(*l->h));
    for (size_t i = 0; i < r->nheaders; i++) {
        const pc_hdr_t *h = &r->headers[i];
        if (pc_proxy_hop_by_hop(h->name, h->name_len) || gateway_owned(r, h->name, h->name_len) ||
            underscore_refused(r, h->name, h->name_len) ||
            pc_hdr_listed(conn, h->name, h->name_len))
            continue;
        l->h[l->n++] = (pc_uhdr_t){h->name, h->name_len, h->value, h->value_len};
    }
    add_forwarding(r, l);
    for (const pc_hdr_op_t *op = r->up_ops.head; op; op = op->next) {
        /* Framing and hop-by-hop fields are the gateway's alone: a plugin
         * that sets Content-Length or Transfer-Encoding would desync the
         * upstream connection. */
        size_t nlen = strlen(op->name);
        if (pc_hdr_hop_by_hop(op->name, nlen) || pc_hdr_is(op->name, nlen, "host") ||
            !pc_hdr_name_ok(op->name, nlen)) {
            pc_rlog(r, PC_LOG_WARN, "plugin edit of upstream header %s ignored", op->name);
            continue;
        }
        /* A name a plugin sets is one the upstream will trust (jwt's
         * claims_to_headers): no client spelling of it may stay beside. */
        hl_remove(l, op->name, op->kind == PC_HOP_ADD);
        if (op->kind != PC_HOP_REMOVE && pc_hdr_value_ok(op->value, strlen(op->value)))
            hl_add(r, l, op->name, op->value);
    }
}

char *pc_proxy_upstream_path(pc_request_t *r)
{
    const pc_route_conf_t *rt = r->route;
    if (!rt->rewrite_prefix || rt->kind != PC_MATCH_PREFIX)
        return r->path;
    size_t plen = strlen(rt->path);
    if (plen > 1 && rt->path[plen - 1] == '/')
        plen--;
    const char *rest = r->path_len >= plen ? r->path + plen : "";
    const char *pre = rt->rewrite_prefix;
    size_t prelen = strlen(pre);
    if (prelen && pre[prelen - 1] == '/' && rest[0] == '/')
        prelen--;
    size_t n = prelen + strlen(rest) + 2;
    char *out = pc_arena_alloc(r->arena, n);
    snprintf(out, n, "%.*s%s", (int)prelen, pre, rest);
    if (out[0] != '/') {
        memmove(out + 1, out, strlen(out) + 1);
        out[0] = '/';
    }
    return out;
}

/* ---- balancing ------------------------------------------------------------------ */

static uint64_t balance_hash(pc_request_t *r, const pc_upstream_conf_t *up)
{
    const char *key = r->client_ip;
    switch (up->hash_key) {
    case PC_HASH_HEADER: {
        const char *v = pc_request_header(r, up->hash_header);
        if (v)
            key = v;
        break;
    }
    case PC_HASH_SUBJECT:
        if (r->subject)
            key = r->subject;
        break;
    case PC_HASH_PATH:
        key = r->path;
        break;
    case PC_HASH_CLIENT_IP:
        break;
    }
    return pc_hash64(key, strlen(key));
}

static int pick_target(pc_request_t *r)
{
    const pc_upstream_conf_t *up = r->route->upstream;
    pc_wgen_t *g = r->gen;
    uint64_t h = up->balancer == PC_LB_HASH ? balance_hash(r, up) : 0;
    return pc_lb_pick(up->lb, g->lb_states[up->index], h, pc_rng_next(&r->worker->rng),
                      g->active[up->index], NULL);
}

/* ---- upstream callbacks ------------------------------------------------------------ */

static bool body_fits(const pc_request_t *r)
{
    return r->up_content_length >= 0 &&
           (uint64_t)r->up_content_length <= r->route->limits.response_buffer_bytes;
}

static void on_head(void *data, unsigned status, const pc_uhdr_t *hdrs, size_t n, int64_t cl)
{
    pc_request_t *r = data;
    const char *conn = NULL;
    r->head_length = -1;
    for (size_t i = 0; i < n; i++) {
        if (pc_hdr_is(hdrs[i].name, hdrs[i].name_len, "connection"))
            conn = pc_arena_strndup(r->arena, hdrs[i].value, hdrs[i].value_len);
        else if ((r->method_bit == PC_M_HEAD || status == 304) &&
                 pc_hdr_is(hdrs[i].name, hdrs[i].name_len, "content-length")) {
            char *v = pc_arena_strndup(r->arena, hdrs[i].value, hdrs[i].value_len);
            if (!pc_content_length_parse(v, &r->head_length))
                r->head_length = -1;
        }
    }
    r->up_headers = pc_arena_alloc(r->arena, (n ? n : 1) * sizeof(pc_hdr_t));
    for (size_t i = 0; i < n; i++) {
        const pc_uhdr_t *h = &hdrs[i];
        if (pc_proxy_hop_by_hop(h->name, h->name_len) || pc_hdr_is(h->name, h->name_len, "x-request-id") ||
            pc_hdr_listed(conn, h->name, h->name_len))
            continue;
        r->up_headers[r->nup_headers++] =
            (pc_hdr_t){pc_arena_strndup(r->arena, h->name, h->name_len), h->name_len,
                       pc_arena_strndup(r->arena, h->value, h->value_len), h->value_len};
    }
    r->up_status = status;
    r->up_content_length = cl;
    r->up_head_seen = true;
    /* A body of known small size gets exactly its size; a stream gets the
     * configured buffer plus one upstream read of slack. */
    size_t cap = body_fits(r) ? (size_t)cl : r->route->limits.response_buffer_bytes + 16384;
    r->rbuf.data = pc_arena_alloc(r->arena, cap ? cap : 1);
    r->rbuf.cap = cap;
    /* A small body is collected whole and sent from one buffer; anything
     * else streams as it comes. */
    if (!body_fits(r))
        pc_wait_resume(r);
}

static int on_body(void *data, const char *p, size_t len)
{
    pc_request_t *r = data;
    pc_bodybuf_t *b = &r->rbuf;
    if (b->head + b->len + len > b->cap) {
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
    }
    PC_ASSERT(b->len + len <= b->cap);
    memcpy(b->data + b->head + b->len, p, len);
    b->len += len;
    if (r->cap_wanted)
        pc_request_capture(r, p, len);
    if (r->state == PC_RS_STREAMING)
        pc_wait_resume(r);
    if (b->len >= r->route->limits.response_buffer_bytes) {
        r->up_paused = true;
        return 1;
    }
    return 0;
}

static int uerr_kind(pc_uerr_t e)
{
    switch (e) {
    case PC_UX_OK: return -1;
    case PC_UX_ECONNECT: return PC_UPERR_CONNECT;
    case PC_UX_ECONNECT_TIMEOUT:
    case PC_UX_ETIMEOUT: return PC_UPERR_TIMEOUT;
    case PC_UX_ERESET: return PC_UPERR_RESET;
    case PC_UX_EPROTO: return PC_UPERR_PROTO;
    }
    return PC_UPERR_PROTO;
}

static void release_target(pc_request_t *r)
{
    if (r->target_index >= 0) {
        r->gen->active[r->route->upstream->index][r->target_index]--;
        r->target_index = -1;
    }
}

static void on_done(void *data, pc_uerr_t err)
{
    pc_request_t *r = data;
    r->ux = NULL;
    r->up_done = true;
    r->up_err = err;
    r->upstream_end_ns = pc_clock_mono_ns();
    release_target(r);
    pc_metrics_upstream(&r->worker->metrics, r->route->upstream->metrics_id, uerr_kind(err));
    if (err != PC_UX_OK) {
        pc_rlog(r, PC_LOG_WARN, "upstream %s: %s", r->target->authority, pc_uerr_str(err));
        if (!r->response_queued) {
            bool timeout = err == PC_UX_ETIMEOUT || err == PC_UX_ECONNECT_TIMEOUT;
            pc_request_fail(r, timeout ? 504 : 502,
                            timeout ? "upstream.timeout" : "upstream.failed", NULL);
        }
    }
    pc_wait_resume(r);
}

static const pc_ucb_t proxy_cb = {on_head, on_body, on_done};

/* ---- starting and ending ------------------------------------------------------------ */

static bool method_idempotent(unsigned bit)
{
    return bit & (PC_M_GET | PC_M_HEAD | PC_M_PUT | PC_M_DELETE | PC_M_OPTIONS | PC_M_TRACE);
}

int pc_proxy_start(pc_request_t *r)
{
    const pc_upstream_conf_t *up = r->route->upstream;
    int t = pick_target(r);
    if (t < 0) {
        pc_metrics_upstream(&r->worker->metrics, up->metrics_id, PC_UPERR_NONE_AVAILABLE);
        pc_request_fail(r, 503, "upstream.unavailable", NULL);
        return -1;
    }
    r->target_index = t;
    r->target = &up->targets[t];
    r->gen->active[up->index][t]++;

    hdr_list_t hl = {0};
    build_headers(r, &hl);
    const char *path = pc_proxy_upstream_path(r);
    size_t plen = strlen(path), qlen = r->query ? strlen(r->query) : 0;
    size_t tlen = plen + (r->query ? qlen + 1 : 0);
    char *target = pc_arena_alloc(r->arena, tlen + 1);
    memcpy(target, path, plen);
    if (r->query) {
        target[plen] = '?';
        memcpy(target + plen + 1, r->query, qlen);
    }
    target[tlen] = '\0';

    pc_ureq_t req = {
        .method = r->method,
        .target = target,
        .target_len = tlen,
        .headers = hl.h,
        .nheaders = hl.n,
        .body = r->body,
        .body_len = r->body_len,
        .has_body = r->content_length >= 0 || r->chunked,
        .connect_timeout_ms = up->connect_timeout_ms,
        .response_timeout_ms = up->response_timeout_ms,
        .retry_on_stale = method_idempotent(r->method_bit),
    };
    r->upstream_start_ns = pc_clock_mono_ns();
    r->ux = pc_ux_start(r->worker->uclient, &r->target->ut, &req, &proxy_cb, r);
    return 0;
}

void pc_proxy_abort(pc_request_t *r, int status, const char *reason)
{
    if (r->ux) {
        pc_ux_abort(r->ux);
        r->ux = NULL;
        r->upstream_end_ns = pc_clock_mono_ns();
        pc_metrics_upstream(&r->worker->metrics, r->route->upstream->metrics_id,
                            PC_UPERR_TIMEOUT);
    }
    release_target(r);
    r->up_done = true;
    r->up_err = PC_UX_ETIMEOUT;
    if (!r->response_queued)
        pc_request_fail(r, status, reason, NULL);
}

void pc_proxy_finish(pc_request_t *r)
{
    if (r->ux) {
        pc_ux_abort(r->ux);
        r->ux = NULL;
    }
    release_target(r);
}
