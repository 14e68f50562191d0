/* plugins/jwt/jwt_introspect.c: opaque tokens checked with the identity
 * provider's introspection endpoint (RFC 7662), from the worker's loop.
 *
 *   POST <url>  Content-Type: application/x-www-form-urlencoded
 *               token=<token>&token_type_hint=access_token
 *               + client_secret_basic: Authorization: Basic base64(id:secret)
 *               + client_secret_post:  &client_id=..&client_secret=..
 *
 * 200 with {"active": true, ...}: the response is the claim set; the same
 * policy as for JWTs applies (iss, aud, exp/nbf/iat when present, required
 * claims, matches, scopes). {"active": false}: 401. Anything else (other
 * status, not JSON, no boolean "active", timeout, connection refused): the
 * provider failed -> on_error ("deny": 503, "allow": continue without an
 * identity, logged). Results are cached per worker, keyed by SHA-256 of the
 * token: positive ones until min(exp, now + cache_ttl_s), negative ones for
 * negative_ttl_s. The request waits for the answer under an async token: a
 * slow provider costs this request at most timeout_ms, never the worker. */
#include "jwt_plugin.h"
#include "jwt_docs.h"
#include "jwt_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWT_IS_MAX_BODY (256u * 1024u)

static void jwt_is_failed(jwt_rq_t *rq, const char *why)
{
    if (rq->c->is.allow_on_error) {
        pc_rlog(rq->r, PC_LOG_WARN, "jwt: introspection failed (%s): allowing without identity "
                                    "(on_error allow)", why);
        jwt_verdict(rq, PC_CONTINUE);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof(msg), "introspection failed: %s", why);
    jwt_deny_unavailable(rq, "auth.introspection_unavailable", msg);
}

static void jwt_is_cb(void *data, const pc_fetch_result_t *res)
{
    jwt_rq_t *rq = data;
    const jwt_introspect_conf_t *is = &rq->c->is;
    jwt_worker_t *ws = rq->ws;
    char why[200];

    if (!pc_async_request(rq->a)) { /* timed out or shutting down */
        jwt_verdict(rq, PC_CONTINUE);
        return;
    }
    if (!res->ok) {
        jwt_is_failed(rq, res->error);
        return;
    }
    if (res->status != 200) {
        snprintf(why, sizeof(why), "HTTP status %d", res->status);
        jwt_is_failed(rq, why);
        return;
    }
    json_t *doc;
    int active = jwt_introspect_parse(res->body, res->body_len, &doc);
    if (active < 0) {
        jwt_is_failed(rq, "the response is not a JSON object with a boolean \"active\"");
        return;
    }
    int64_t now_ms = (int64_t)pc_clock_wall_ms();
    if (!active) {
        if (ws->cache && is->negative_ttl_s)
            jwt_cache_put(ws->cache, rq->digest, now_ms, now_ms + is->negative_ttl_s * 1000LL, 0,
                          NULL, 1);
        jwt_deny_invalid(rq, "introspection: token not active");
        return;
    }
    pc_jwt_result_t r = pc_jwt_check_claims(doc, &rq->c->policy, now_ms / 1000);
    if (r != PC_JWT_OK) {
        json_decref(doc);
        if (r == PC_JWT_ERR_SCOPE) {
            jwt_deny_scope(rq);
        } else {
            snprintf(why, sizeof(why), "introspection: %s (%s)", pc_jwt_strerror(r),
                     pc_jwt_reason(r));
            jwt_deny_invalid(rq, why);
        }
        return;
    }
    jwt_ident_t *id = jwt_ident_build(rq->c, doc);
    json_decref(doc);
    if (ws->cache && is->cache_ttl_s) {
        int64_t dl = now_ms + is->cache_ttl_s * 1000LL;
        const json_t *exp = json_object_get(id->claims, "exp");
        if (json_is_number(exp) && json_number_value(exp) * 1000.0 < (double)dl)
            dl = json_number_value(exp) < 0 ? 0 : (int64_t)(json_number_value(exp) * 1000.0);
        jwt_cache_put(ws->cache, rq->digest, now_ms, dl, 0, id, 0);
    }
    jwt_accept(rq, id);
    jwt_ident_unref(id);
}

pc_status_t jwt_introspect_start(jwt_rq_t *rq)
{
    const jwt_introspect_conf_t *is = &rq->c->is;
    jwt_worker_t *ws = rq->ws;
    const char *hdrs[4];
    size_t nh = 0;

    if (ws->cache) {
        int neg = 0;
        jwt_cache_key(ws->cache, rq->tok, rq->tok_len, rq->digest);
        rq->have_digest = 1;
        jwt_ident_t *hit = jwt_cache_get(ws->cache, rq->digest, (int64_t)pc_clock_wall_ms(), 0, &neg);
        if (hit)
            return jwt_accept(rq, hit);
        if (neg)
            return jwt_deny_invalid(rq, "introspection: token not active (cached)");
    }
    char *tok = jwt_http_form_escape(rq->tok, rq->tok_len);
    char *body = NULL;
    int n = asprintf(&body, "token=%s&token_type_hint=access_token%s", tok,
                     is->auth_post ? is->post_suffix : "");
    free(tok);
    if (n < 0)
        abort();
    hdrs[nh++] = "Content-Type: application/x-www-form-urlencoded";
    hdrs[nh++] = "Accept: application/json";
    if (!is->auth_post)
        hdrs[nh++] = is->auth_header;
    hdrs[nh] = NULL;
    pc_fetch_req_t req = {.method = "POST", .url = is->url, .headers = hdrs, .body = body,
                          .body_len = (size_t)n, .timeout_ms = is->timeout_ms,
                          .max_body = JWT_IS_MAX_BODY};
    /* the core's own deadline is a backstop behind the fetch timeout */
    rq->a = pc_async_begin(rq->r, is->timeout_ms + 1000, 503);
    int rc = pc_fetch(pc_request_worker(rq->r), &req, jwt_is_cb, rq);
    memset(body, 0, (size_t)n); /* libcurl copied it; it holds the token and maybe the secret */
    free(body);
    if (rc != 0)
        jwt_is_failed(rq, "the request could not be started"); /* ends the token at once */
    return PC_SUSPEND;
}
