/* gateway/front/admin_http.c: the admin listener (contract in
 * admin_http.h). It runs its own libmicrohttpd thread, collects a request
 * (its body only where the API wants one, bounded by PC_ADMIN_BODY_MAX),
 * and sends what pc_admin_answer says. */
#include "front/admin_http.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <string.h>

struct pc_admin {
    struct MHD_Daemon *mhd;
    pc_admin_view_t *view;
};

/* A request in progress: its body, when the API wants it. */
typedef struct admin_req {
    bool wants_body;
    bool too_large;
    size_t len;
    char data[PC_ADMIN_BODY_MAX + 1];
} admin_req_t;

static enum MHD_Result admin_send(struct MHD_Connection *c, pc_admin_resp_t *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->no_store)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **ctx)
{
    pc_admin_t *a = cls;
    admin_req_t *q = *ctx;
    if (!q) {
        q = pc_xmalloc(sizeof(*q));
        q->wants_body = pc_admin_wants_body(method, url);
        q->too_large = false;
        q->len = 0;
        *ctx = q;
        return MHD_YES;
    }
    if (*upload_size) {
        if (q->wants_body && q->len + *upload_size > PC_ADMIN_BODY_MAX) {
            q->too_large = true;
        } else if (q->wants_body) {
            memcpy(q->data + q->len, upload_data, *upload_size);
            q->len += *upload_size;
        }
        *upload_size = 0; /* bodies the API takes no interest in are dropped */
        return MHD_YES;
    }
    pc_admin_req_t req = {
        .method = method,
        .path = url,
        .content_type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = q->data,
        .body_len = q->len,
        .body_too_large = q->too_large,
    };
    pc_admin_resp_t resp;
    pc_admin_answer(a->view, &req, &resp);
    return admin_send(c, &resp);
}

static void admin_completed(void *cls, struct MHD_Connection *c, void **ctx,
                            enum MHD_RequestTerminationCode toe)
{
    free(*ctx);
    *ctx = NULL;
}

pc_admin_t *pc_admin_start(const char *address, unsigned port, pc_admin_view_t *view)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (inet_pton(AF_INET, address, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, address, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        return NULL;
    }
    pc_admin_t *a = pc_xcalloc(1, sizeof(*a));
    a->view = view;
    a->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, admin_handler, a,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
                              10u, MHD_OPTION_NOTIFY_COMPLETED, admin_completed, a,
                              MHD_OPTION_END);
    if (!a->mhd) {
        free(a);
        return NULL;
    }
    return a;
}

void pc_admin_stop(pc_admin_t *a)
{
    if (!a)
        return;
    MHD_stop_daemon(a->mhd);
    free(a);
}
