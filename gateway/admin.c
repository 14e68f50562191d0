/* gateway/admin.c: the admin listener. It runs its own libmicrohttpd
 * thread: nothing here is on the request path, and reading the workers'
 * counters takes no lock. */
#include "admin.h"
#include "problem.h"
#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

struct pc_admin {
    struct MHD_Daemon *mhd;
    pc_admin_view_t *view;
};

static enum MHD_Result admin_send(struct MHD_Connection *c, unsigned status, const char *type,
                                  char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result admin_problem(struct MHD_Connection *c, int status, const char *reason)
{
    char buf[512];
    size_t n = pc_problem_render(buf, sizeof(buf), status, reason, NULL, NULL);
    return admin_send(c, (unsigned)status, "application/problem+json", pc_xstrndup(buf, n), n);
}

static enum MHD_Result admin_metrics(pc_admin_t *a, struct MHD_Connection *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return admin_problem(c, 500, "admin.error");
    pc_metrics_t *m[256];
    unsigned n = a->view->nworkers < 256 ? a->view->nworkers : 256;
    for (unsigned i = 0; i < n; i++)
        m[i] = &a->view->workers[i].metrics;
    pc_metrics_render(f, m, n, atomic_load(&a->view->generation));
    fclose(f);
    return admin_send(c, 200, "text/plain; version=0.0.4", buf, len);
}

static enum MHD_Result admin_json(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result admin_json(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char *buf = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MHD_NO;
    return admin_send(c, status, "application/json", buf, (size_t)n);
}

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **ctx)
{
    pc_admin_t *a = cls;
    if (!*ctx) {
        *ctx = a;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* the admin API takes no bodies yet */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return admin_problem(c, 405, "admin.method_not_allowed");
    if (strcmp(url, "/healthz") == 0)
        return admin_json(c, 200, "{\"status\":\"ok\"}\n");
    if (strcmp(url, "/readyz") == 0) {
        bool ready = atomic_load(&a->view->ready);
        return admin_json(c, ready ? 200 : 503, "{\"ready\":%s}\n", ready ? "true" : "false");
    }
    if (strcmp(url, "/metrics") == 0)
        return admin_metrics(a, c);
    if (strcmp(url, "/config") == 0) {
        char path[1024];
        const char *p = a->view->config_path ? a->view->config_path : "";
        pc_json_escape(path, sizeof(path), p, strlen(p));
        return admin_json(c, 200, "{\"version\":\"%s\",\"generation\":%u,\"path\":\"%s\"}\n",
                          PACKAGE_VERSION, atomic_load(&a->view->generation), path);
    }
    return admin_problem(c, 404, "admin.not_found");
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
                              10u, MHD_OPTION_END);
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
