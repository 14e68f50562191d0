/* gateway/ops/admin.c: what the admin API answers (/healthz, /readyz,
 * /metrics, /config, POST /revocations), as plain data: the HTTP listener
 * that carries it is gateway/front/admin_http.c. Nothing here is on the
 * request path, and reading the workers' counters takes no lock. */
#include "ops/admin.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/problem.h"
#include "base/util.h"
#include "ops/metric.h"
#include "store/store.h"
#include "store/store_ns.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <portcullis/plugin.h>

static void admin_set(pc_admin_resp_t *out, unsigned status, const char *type, char *body,
                      size_t len)
{
    *out = (pc_admin_resp_t){status, type, body, len, status == 405 ? "GET, HEAD" : NULL, true};
}

static void admin_problem_detail(pc_admin_resp_t *out, int status, const char *reason,
                                 const char *detail)
{
    char buf[1024];
    size_t n = pc_problem_render(buf, sizeof(buf), status, reason, detail, NULL);
    admin_set(out, (unsigned)status, "application/problem+json", pc_xstrndup(buf, n), n);
}

static void admin_problem(pc_admin_resp_t *out, int status, const char *reason)
{
    admin_problem_detail(out, status, reason, NULL);
}

static void admin_json(pc_admin_resp_t *out, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void admin_json(pc_admin_resp_t *out, unsigned status, const char *fmt, ...)
{
    char *buf = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        admin_problem(out, 500, "admin.error");
        return;
    }
    admin_set(out, status, "application/json", buf, (size_t)n);
}

static void admin_metrics(const pc_admin_view_t *v, pc_admin_resp_t *out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        admin_problem(out, 500, "admin.error");
        return;
    }
    pc_metrics_t *m[256];
    unsigned n = v->nworkers < 256 ? v->nworkers : 256;
    for (unsigned i = 0; i < n; i++)
        m[i] = &v->workers[i].metrics;
    pc_metrics_render(f, m, n, atomic_load(&v->generation));
    pc_metric_render(f);
    fclose(f);
    admin_set(out, 200, "text/plain; version=0.0.4", buf, len);
}

static void admin_revoke_bad(pc_admin_resp_t *out, const char *detail)
{
    admin_problem_detail(out, 400, "admin.invalid_revocation", detail);
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

#define REVOKE_JTI_MAX 1024u
#define REVOKE_MARGIN_S 300
/* The store keeps a flag at most ~2.2 years (PC_RL_MAX_PERIOD_MS): a
 * revocation lasts at most 2 years, even for a token that lives longer. */
#define REVOKE_TTL_MAX_S (2LL * 365 * 86400)


static void admin_revoke(const pc_admin_req_t *q, pc_admin_resp_t *out)
{
    const char *ct = q->content_type;
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' &&
                                                                 ct[16] != ' ')) {
        admin_problem_detail(out, 415, "admin.unsupported_media_type",
                             "Content-Type must be application/json");
        return;
    }
    if (q->body_too_large) {
        admin_problem_detail(out, 413, "admin.body_too_large", "body over 4096 bytes");
        return;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        admin_revoke_bad(out, "body is not JSON (or repeats a key)");
        return;
    }
    const char *k;
    json_t *v;
    const json_t *jti = json_object_get(doc, "jti"), *exp = json_object_get(doc, "exp");
    const json_t *ttl = json_object_get(doc, "ttl");
    if (!json_is_object(doc)) {
        admin_revoke_bad(out, "body must be a JSON object");
        goto done;
    }
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "jti") != 0 && strcmp(k, "exp") != 0 && strcmp(k, "ttl") != 0) {
            admin_revoke_bad(out, "unknown key (allowed: jti, exp, ttl)");
            goto done;
        }
    }
    if (!json_is_string(jti) || json_string_length(jti) == 0 ||
        json_string_length(jti) > REVOKE_JTI_MAX) {
        admin_revoke_bad(out, "jti: required, a string of 1 to 1024 bytes");
        goto done;
    }
    for (size_t i = 0; i < json_string_length(jti); i++) {
        unsigned char ch = (unsigned char)json_string_value(jti)[i];
        if (ch < 0x20 || ch == 0x7f) {
            admin_revoke_bad(out, "jti: no control characters");
            goto done;
        }
    }
    if (!exp == !ttl) {
        admin_revoke_bad(out, "exactly one of exp (unix seconds) and ttl (seconds)");
        goto done;
    }
    long long now = (long long)(pc_clock_wall_ms() / 1000), ttl_s;
    if (exp) {
        if (!json_is_integer(exp) || json_integer_value(exp) <= 0) {
            admin_revoke_bad(out, "exp: must be a positive integer (unix seconds)");
            goto done;
        }
        ttl_s = (long long)json_integer_value(exp) - now + REVOKE_MARGIN_S;
        if (ttl_s <= 0) { /* expired beyond any leeway: nothing accepts it any more */
            admin_set(out, 204, "application/json", pc_xstrdup(""), 0);
            goto done;
        }
    } else {
        if (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
            json_integer_value(ttl) > REVOKE_TTL_MAX_S) {
            admin_revoke_bad(out, "ttl: must be an integer of seconds, 1 to 63072000");
            goto done;
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
        admin_problem_detail(out, 503, "admin.store_unavailable", "the store did not answer");
        goto done;
    }
    char esc[REVOKE_JTI_MAX * 6 + 1];
    pc_json_escape(esc, sizeof(esc), json_string_value(jti), json_string_length(jti));
    pc_log_write(PC_LOG_INFO, "admin: revoked jti \"%s\" for %lld s", esc, ttl_s);
    admin_json(out, 201, "{\"jti\":\"%s\",\"expires_at\":%lld}\n", esc, now + ttl_s);
done:
    json_decref(doc);
}

bool pc_admin_wants_body(const char *method, const char *path)
{
    return strcmp(path, "/revocations") == 0 && strcmp(method, "POST") == 0;
}

static void admin_revocations(const pc_admin_req_t *q, pc_admin_resp_t *out)
{
    if (strcmp(q->method, "POST") == 0) {
        admin_revoke(q, out);
        return;
    }
    admin_problem(out, 405, "admin.method_not_allowed");
    out->allow = "POST";
    out->no_store = false;
}

void pc_admin_answer(const pc_admin_view_t *v, const pc_admin_req_t *q, pc_admin_resp_t *out)
{
    if (strcmp(q->path, "/revocations") == 0) {
        admin_revocations(q, out);
        return;
    }
    if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
        admin_problem(out, 405, "admin.method_not_allowed");
        return;
    }
    if (strcmp(q->path, "/healthz") == 0) {
        admin_json(out, 200, "{\"status\":\"ok\"}\n");
    } else if (strcmp(q->path, "/readyz") == 0) {
        bool ready = atomic_load(&v->ready);
        admin_json(out, ready ? 200 : 503, "{\"ready\":%s}\n", ready ? "true" : "false");
    } else if (strcmp(q->path, "/metrics") == 0) {
        admin_metrics(v, out);
    } else if (strcmp(q->path, "/config") == 0) {
        char path[1024];
        const char *p = v->config_path ? v->config_path : "";
        pc_json_escape(path, sizeof(path), p, strlen(p));
        admin_json(out, 200, "{\"version\":\"%s\",\"generation\":%u,\"path\":\"%s\"}\n",
                   PACKAGE_VERSION, atomic_load(&v->generation), path);
    } else {
        admin_problem(out, 404, "admin.not_found");
    }
}
