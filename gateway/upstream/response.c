/* gateway/upstream/response.c: the upstream client's response parser
 * (contract in response.h): http_parser callbacks that copy the head into
 * the exchange's buffers and hand head and body to the exchange's caller. */
#include "upstream/response.h"
#include "base/util.h"
#include "http/hdr.h"

#include <string.h>

#define UC_HEAD_BUF_INIT 1024u
#define UC_HDRS_INIT 16u

/* ---- the head -------------------------------------------------------------- */

static void ux_hbuf_append(pc_ux_t *x, const char *at, size_t len)
{
    if (x->hlen + len > x->hcap) {
        size_t n = x->hcap ? x->hcap : UC_HEAD_BUF_INIT;
        while (n < x->hlen + len)
            n *= 2;
        x->hbuf = pc_xrealloc(x->hbuf, n);
        x->hcap = n;
    }
    memcpy(x->hbuf + x->hlen, at, len);
    x->hlen += len;
}

static void ux_span_new(pc_ux_t *x)
{
    if (x->nspans == x->spancap) {
        size_t n = x->spancap ? x->spancap * 2 : UC_HDRS_INIT;
        x->spans = pc_xrealloc(x->spans, n * sizeof(*x->spans));
        x->hdrs = pc_xrealloc(x->hdrs, n * sizeof(*x->hdrs));
        x->spancap = n;
    }
    uc_span_t *s = &x->spans[x->nspans++];
    s->name_off = (uint32_t)x->hlen;
    s->name_len = s->value_off = s->value_len = 0;
}

static int ux_on_message_begin(http_parser *p)
{
    pc_ux_t *x = p->data;
    /* A new head after a 1xx: forget the interim headers. */
    x->nspans = 0;
    x->hlen = 0;
    x->in_value = 0;
    return 0;
}

/* Names and values may arrive in pieces (split across reads): consecutive
 * pieces of one string are contiguous in hbuf because field and value
 * callbacks alternate. Trailers (after the final head) are dropped. The copy
 * is bounded by max_head_bytes because ux_parse never feeds more raw head
 * bytes than that. */
static int ux_on_header_field(http_parser *p, const char *at, size_t len)
{
    pc_ux_t *x = p->data;
    if (x->head_done)
        return 0;
    if (x->in_value || x->nspans == 0) {
        ux_span_new(x);
        x->in_value = 0;
    }
    x->spans[x->nspans - 1].name_len += (uint32_t)len;
    ux_hbuf_append(x, at, len);
    return 0;
}

static int ux_on_header_value(http_parser *p, const char *at, size_t len)
{
    pc_ux_t *x = p->data;
    if (x->head_done)
        return 0;
    if (x->nspans == 0)
        return -1; /* the parser never does this; be safe anyway */
    uc_span_t *s = &x->spans[x->nspans - 1];
    if (!x->in_value) {
        s->value_off = (uint32_t)x->hlen;
        x->in_value = 1;
    }
    s->value_len += (uint32_t)len;
    ux_hbuf_append(x, at, len);
    return 0;
}

static int64_t ux_body_length(const pc_ux_t *x, unsigned status)
{
    const http_parser *p = &x->parser;
    if (x->is_head || status == 204 || status == 304)
        return 0;
    if ((p->flags & F_CHUNKED) || p->content_length == UINT64_MAX)
        return -1;
    return (int64_t)p->content_length;
}

static void ux_deliver_head(pc_ux_t *x, unsigned status, int64_t clen)
{
    for (size_t i = 0; i < x->nspans; i++) {
        const uc_span_t *s = &x->spans[i];
        x->hdrs[i].name = x->hbuf + s->name_off;
        x->hdrs[i].name_len = s->name_len;
        x->hdrs[i].value = x->hbuf + s->value_off;
        x->hdrs[i].value_len = s->value_len;
    }
    if (x->cb.on_head)
        x->cb.on_head(x->data, status, x->hdrs, x->nspans, clen);
}

/* Returns 1 (no body) for 1xx, HEAD, 204 and 304, so the parser ignores a
 * Content-Length or chunked framing they may announce. */
/* Debian's http_parser is built lenient: it takes spaces in field names
 * ("Content-Length :" counts as a length) and control bytes, NUL included,
 * inside values. RFC 9112 §5 wants a proxy to refuse both, and a NUL would
 * cut the value where the head is copied as C strings. */
static bool ux_fields_ok(const pc_ux_t *x)
{
    for (size_t i = 0; i < x->nspans; i++) {
        const uc_span_t *s = &x->spans[i];
        if (!pc_hdr_name_ok(x->hbuf + s->name_off, s->name_len) ||
            (s->value_len && !pc_hdr_value_ok(x->hbuf + s->value_off, s->value_len)))
            return false;
    }
    return true;
}

static int ux_on_headers_complete(http_parser *p)
{
    pc_ux_t *x = p->data;
    unsigned status = p->status_code;
    if (!ux_fields_ok(x))
        return -1; /* answered 502 like any malformed head */
    if (status == 101 || p->upgrade)
        return -1; /* we never ask to switch protocols */
    if (status < 200)
        return 1;
    /* A length the int64_t of on_head cannot carry is not a real response. */
    if (!(p->flags & F_CHUNKED) && p->content_length != UINT64_MAX &&
        p->content_length > (uint64_t)INT64_MAX)
        return -1;
    x->head_done = 1;
    int64_t clen = ux_body_length(x, status);
    if (!x->aborted)
        ux_deliver_head(x, status, clen);
    return clen == 0 ? 1 : 0;
}

static int ux_on_body(http_parser *p, const char *at, size_t len)
{
    pc_ux_t *x = p->data;
    if (x->aborted || !x->cb.on_body)
        return 0;
    if (x->cb.on_body(x->data, at, len) && !x->aborted) {
        x->paused = 1;
        http_parser_pause(p, 1);
    }
    return 0;
}

/* Pauses the parser so that execute returns right after the final message:
 * bytes after it are a protocol violation and make the connection unusable. */
static int ux_on_message_complete(http_parser *p)
{
    pc_ux_t *x = p->data;
    if (!x->head_done)
        return 0; /* end of a 1xx: the real response follows */
    x->msg_done = 1;
    x->keep_alive = http_should_keep_alive(p) ? 1 : 0;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings uc_settings = {
    .on_message_begin = ux_on_message_begin,
    .on_header_field = ux_on_header_field,
    .on_header_value = ux_on_header_value,
    .on_headers_complete = ux_on_headers_complete,
    .on_body = ux_on_body,
    .on_message_complete = ux_on_message_complete,
};

/* ---- feeding the parser --------------------------------------------------- */

size_t pc_uresp_execute(pc_ux_t *x, const char *p, size_t n)
{
    x->busy = 1;
    size_t used = http_parser_execute(&x->parser, &uc_settings, p, n);
    x->busy = 0;
    return used;
}

/* The parser stopped: the response is complete, paused, or broken. An
 * abort (from a callback) lets the parser run on silently over the bytes
 * already read: if that completes the response cleanly, the connection is
 * still reusable. */
static enum uc_pr uresp_stopped(pc_ux_t *x, enum http_errno e, pc_uerr_t *err)
{
    if (e == HPE_PAUSED && x->msg_done) {
        *err = PC_UX_OK;
        return UC_GONE;
    }
    if (e == HPE_PAUSED && !x->aborted)
        return UC_PAUSED;
    if (e == HPE_PAUSED) {
        /* defensive: on_body never pauses once aborted; keep draining */
        x->paused = 0;
        http_parser_pause(&x->parser, 0);
        return UC_MORE;
    }
    *err = PC_UX_EPROTO;
    return UC_GONE;
}

enum uc_pr pc_uresp_parse(pc_ux_t *x, size_t max_head, pc_uerr_t *err)
{
    while (x->rpos < x->rlen) {
        size_t n = x->rlen - x->rpos;
        if (!x->head_done && n > max_head - x->head_raw)
            n = max_head - x->head_raw;
        size_t used = pc_uresp_execute(x, x->rbuf + x->rpos, n);
        x->rpos += used;
        if (!x->head_done)
            x->head_raw += used;
        enum http_errno e = HTTP_PARSER_ERRNO(&x->parser);
        if (e != HPE_OK) {
            enum uc_pr r = uresp_stopped(x, e, err);
            if (r != UC_MORE)
                return r;
            continue;
        }
        if (!x->head_done && x->head_raw >= max_head) {
            *err = PC_UX_EPROTO;
            return UC_GONE;
        }
    }
    if (x->aborted) {
        /* the rest of the response is not here: give up the connection */
        *err = PC_UX_ERESET;
        return UC_GONE;
    }
    return UC_MORE;
}

void pc_uresp_reset(pc_ux_t *x)
{
    http_parser_init(&x->parser, HTTP_RESPONSE);
    x->parser.data = x;
    x->rpos = x->rlen = 0;
    x->hlen = 0;
    x->nspans = 0;
    x->head_raw = 0;
    x->rx_bytes = 0;
    x->head_done = x->in_value = x->msg_done = x->keep_alive = 0;
    x->paused = x->eof = 0;
}
