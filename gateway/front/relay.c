/* gateway/front/relay.c: the upstream's answer as a libmicrohttpd response
 * (see relay.h). A body of known small size goes out from one buffer; any
 * other body streams through a reader that pauses the upstream when the
 * client is slow and suspends the request when the upstream is. */
#include "front/relay.h"
#include "base/log.h"
#include "lifecycle/wait.h"

#include <microhttpd.h>
#include <string.h>

static ssize_t body_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    pc_request_t *r = cls;
    pc_bodybuf_t *b = &r->rbuf;
    if (b->len) {
        size_t n = b->len < max ? b->len : max;
        memcpy(buf, b->data + b->head, n);
        b->head += n;
        b->len -= n;
        if (!b->len)
            b->head = 0;
        r->bytes_out += n;
        if (r->up_paused && r->ux && b->len < r->route->limits.response_buffer_bytes / 2) {
            r->up_paused = false;
            pc_ux_resume(r->ux);
        }
        return (ssize_t)n;
    }
    if (r->up_done)
        return r->up_err == PC_UX_OK ? MHD_CONTENT_READER_END_OF_STREAM
                                     : MHD_CONTENT_READER_END_WITH_ERROR;
    pc_wait_suspend(r);
    return 0;
}

struct MHD_Response *pc_relay_response(pc_request_t *r)
{
    struct MHD_Response *resp;
    /* No body, but the upstream's Content-Length goes through unchanged
     * (RFC 9110 §8.6): it describes the representation, not this message.
     * A 304 without one stays an empty buffer: MHD would frame a response
     * of unknown size as chunked and send a "0" chunk after a 304. */
    bool head = r->method_bit == PC_M_HEAD || (r->up_status == 304 && r->head_length >= 0);
    if (r->up_done && r->up_err == PC_UX_OK && !head) {
        resp = MHD_create_response_from_buffer(r->rbuf.len, r->rbuf.data + r->rbuf.head,
                                               MHD_RESPMEM_PERSISTENT);
        r->bytes_out = r->rbuf.len;
        r->rbuf.len = 0;
    } else {
        uint64_t size = MHD_SIZE_UNKNOWN;
        if (head) {
            /* MHD sends no body for HEAD or 304 but announces this size. */
            size = r->head_length >= 0 ? (uint64_t)r->head_length : MHD_SIZE_UNKNOWN;
        } else if (r->up_content_length >= 0) {
            size = (uint64_t)r->up_content_length;
        }
        resp = MHD_create_response_from_callback(size, 16384, body_reader, r, NULL);
    }
    if (!resp)
        return NULL;
    for (size_t i = 0; i < r->nup_headers; i++) {
        const pc_hdr_t *h = &r->up_headers[i];
        if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
            pc_rlog(r, PC_LOG_DEBUG, "dropped upstream header %s", h->name);
    }
    return resp;
}
