/* gateway/ops/admin.c: the admin listener. It runs its own libmicrohttpd
 * thread: nothing here is on the request path, and reading the workers'
 * counters takes no lock. */
#include "ops/admin.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/problem.h"
#include "base/util.h"
#include "ops/metric.h"
#include "store/store.h"
#include "store/store_ns.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

#include <portcullis/plugin.h>

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
    pc_metric_render(f);
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

/* ---- POST /revocations ------------------------------------------------------
 *
 * {"jti": "...", "exp": <unix seconds>} or {"jti": "...", "ttl": <seconds>}:
 * flags the token id in the store namespace PC_STORE_NS_REVOKED_JTI (the
 * blocking pc_store_sync_flag_set of this thread) so that every plugin
 * checking revocations refuses it, on every worker at once (the memory
 * store is shared by the process; Redis by the fleet). With "exp", the flag
 * lives until exp plus the largest leeway a plugin may allow (300 s), so
 * it outlives every acceptance of the token; an exp already past that
 * answers 204 (nothing to revoke); a flag lasts at most 2 years (the
 * answer's expires_at says when it ends). Strict: an object with "jti" and exactly
 * one of "exp"/"ttl", nothing else; integers only. 201 with the expiry on
 * success, problem+json 400/413/415 on bad input, 503 if the store fails. */

#define REVOKE_BODY_MAX 4096u
#define REVOKE_JTI_MAX 1024u
#define REVOKE_MARGIN_S 300
/* The store keeps a flag at most ~2.2 years (PC_RL_MAX_PERIOD_MS): a
 * revocation lasts at most 2 years, even for a token that lives longer. */
#define REVOKE_TTL_MAX_S (2LL * 365 * 86400)

typedef struct admin_body {
    unsigned magic;                /* ADMIN_BODY_MAGIC: this is not the pc_admin_t marker */
    size_t len;
    bool too_large;
    char data[REVOKE_BODY_MAX + 1];
} admin_body_t;
#define ADMIN_BODY_MAGIC 0x7265766bu

static enum MHD_Result admin_problem_detail(struct MHD_Connection *c, int status,
                                            const char *reason, const char *detail)
{
    char buf[1024];
    size_t n = pc_problem_render(buf, sizeof(buf), status, reason, detail, NULL);
    return admin_send(c, (unsigned)status, "application/problem+json", pc_xstrndup(buf, n), n);
}

static enum MHD_Result admin_revoke_bad(struct MHD_Connection *c, const char *detail)
{
    return admin_problem_detail(c, 400, "admin.invalid_revocation", detail);
}

static enum MHD_Result admin_revoke(struct MHD_Connection *c, const admin_body_t *b)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' &&
                                                                 ct[16] != ' '))
        return admin_problem_detail(c, 415, "admin.unsupported_media_type",
                                    "Content-Type must be application/json");
    if (b->too_large)
        return admin_problem_detail(c, 413, "admin.body_too_large", "body over 4096 bytes");
    json_error_t jerr;
    json_t *doc = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return admin_revoke_bad(c, "body is not JSON (or repeats a key)");
    enum MHD_Result ret;
    const char *k;
    json_t *v;
    const json_t *jti = json_object_get(doc, "jti"), *exp = json_object_get(doc, "exp");
    const json_t *ttl = json_object_get(doc, "ttl");
    if (!json_is_object(doc)) {
        ret = admin_revoke_bad(c, "body must be a JSON object");
        goto out;
    }
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "jti") != 0 && strcmp(k, "exp") != 0 && strcmp(k, "ttl") != 0) {
            ret = admin_revoke_bad(c, "unknown key (allowed: jti, exp, ttl)");
            goto out;
        }
    }
    if (!json_is_string(jti) || json_string_length(jti) == 0 ||
        json_string_length(jti) > REVOKE_JTI_MAX) {
        ret = admin_revoke_bad(c, "jti: required, a string of 1 to 1024 bytes");
        goto out;
    }
    for (size_t i = 0; i < json_string_length(jti); i++) {
        unsigned char ch = (unsigned char)json_string_value(jti)[i];
        if (ch < 0x20 || ch == 0x7f) {
            ret = admin_revoke_bad(c, "jti: no control characters");
            goto out;
        }
    }
    if (!exp == !ttl) {
        ret = admin_revoke_bad(c, "exactly one of exp (unix seconds) and ttl (seconds)");
        goto out;
    }
    long long now = (long long)(pc_clock_wall_ms() / 1000), ttl_s;
    if (exp) {
        if (!json_is_integer(exp) || json_integer_value(exp) <= 0) {
            ret = admin_revoke_bad(c, "exp: must be a positive integer (unix seconds)");
            goto out;
        }
        ttl_s = (long long)json_integer_value(exp) - now + REVOKE_MARGIN_S;
        if (ttl_s <= 0) { /* expired beyond any leeway: nothing accepts it any more */
            ret = admin_send(c, 204, "application/json", pc_xstrdup(""), 0);
            goto out;
        }
    } else {
        if (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
            json_integer_value(ttl) > REVOKE_TTL_MAX_S) {
            ret = admin_revoke_bad(c, "ttl: must be an integer of seconds, 1 to 63072000");
            goto out;
        }
        ttl_s = (long long)json_integer_value(ttl);
    }
    if (ttl_s > REVOKE_TTL_MAX_S) {
        pc_log_write(PC_LOG_WARN, "admin: revocation capped at %lld s (the token lives longer)",
                     REVOKE_TTL_MAX_S);
        ttl_s = REVOKE_TTL_MAX_S;
    }
    const pc_store_ns_t *revoked = pc_store_ns_named(PC_STORE_NS_REVOKED_JTI);
    if (pc_store_sync_flag_set(revoked, json_string_value(jti), json_string_length(jti),
                               (uint64_t)ttl_s * 1000u) != 0) {
        ret = admin_problem_detail(c, 503, "admin.store_unavailable", "the store did not answer");
        goto out;
    }
    char esc[REVOKE_JTI_MAX * 6 + 1];
    pc_json_escape(esc, sizeof(esc), json_string_value(jti), json_string_length(jti));
    pc_log_write(PC_LOG_INFO, "admin: revoked jti \"%s\" for %lld s", esc, ttl_s);
    ret = admin_json(c, 201, "{\"jti\":\"%s\",\"expires_at\":%lld}\n", esc, now + ttl_s);
out:
    json_decref(doc);
    return ret;
}

static enum MHD_Result admin_revocations(pc_admin_t *a, struct MHD_Connection *c,
                                         const char *method, const char *upload_data,
                                         size_t *upload_size, void **ctx)
{
    if (!*ctx) {
        if (strcmp(method, "POST") != 0) {
            *ctx = a;
            return MHD_YES;
        }
        admin_body_t *b = pc_xcalloc(1, sizeof(*b));
        b->magic = ADMIN_BODY_MAGIC;
        *ctx = b;
        return MHD_YES;
    }
    if (*ctx == a) {
        if (*upload_size) {
            *upload_size = 0;
            return MHD_YES;
        }
        char buf[512];
        size_t n = pc_problem_render(buf, sizeof(buf), 405, "admin.method_not_allowed", NULL, NULL);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(n, pc_xstrndup(buf, n), MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
        enum MHD_Result ret = MHD_queue_response(c, 405, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    admin_body_t *b = *ctx;
    if (*upload_size) {
        if (b->len + *upload_size > REVOKE_BODY_MAX) {
            b->too_large = true;
        } else {
            memcpy(b->data + b->len, upload_data, *upload_size);
            b->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return admin_revoke(c, b);
}

static void admin_completed(void *cls, struct MHD_Connection *c, void **ctx,
                            enum MHD_RequestTerminationCode toe)
{
    if (*ctx && *ctx != cls && ((admin_body_t *)*ctx)->magic == ADMIN_BODY_MAGIC)
        free(*ctx);
    *ctx = NULL;
}

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_size, void **ctx)
{
    pc_admin_t *a = cls;
    if (strcmp(url, "/revocations") == 0)
        return admin_revocations(a, c, method, upload_data, upload_size, ctx);
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
