/* plugins/jwt/jwt_plugin.c: the `jwt` plugin - OAuth 2.0 bearer tokens that
 * are JWTs (or, in introspection mode, opaque tokens checked with the
 * provider, see jwt_introspect.c). docs/jwt.md describes the behaviour and
 * every configuration key.
 *
 * The request path (on_headers), in order:
 *   1. remove every claims_to_headers header the client sent (always);
 *   2. find the credential: Authorization: Bearer, a cookie, a query
 *      parameter if enabled; none -> 401 (or continue when optional), two ->
 *      400;
 *   3. introspection mode: jwt_introspect_start;
 *   4. the per-worker cache (SHA-256 of the token, dead at exp or when the
 *      key set changed) - or parse, alg allow-list, signature with the key
 *      pinned to the token's alg, claims policy;
 *      an unknown kid with remote keys asks the main thread for a
 *      (rate-limited) refresh and suspends the request until that refresh
 *      attempt ends, at most jwks.unknown_kid_wait_ms; then verifies again;
 *      no remote keys loaded yet -> 503;
 *   5. revocation: the jti is looked up in the store on EVERY request, cache
 *      hit or not (pc_store_flag_check, under an async token);
 *   6. the identity is attached (pc_request_set_identity) and the
 *      claims_to_headers are set for the upstream.
 * Failures: 401 invalid_token with one generic description (the reason goes
 * to the log), 403 insufficient_scope for scopes, 400 invalid_request.
 *
 * Async: a request has at most one token (rq->a) for all of its waits (key
 * refresh, revocation lookup, introspection); every ending goes through
 * jwt_verdict, which ends it exactly once. */
#include "jwt_plugin.h"
#include "jwt_http.h"
#include "jwt_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JWT_STORE_TIMEOUT_MS 2000

/* ---- verdicts and answers ---------------------------------------------------------- */

/* Ends the request's token with st, if it has one, and returns PC_SUSPEND:
 * in the hook that is a synchronous completion (the core goes on at once
 * with st); elsewhere the return value is ignored. Without a token, st.
 * rq must not be touched afterwards. */
pc_status_t jwt_verdict(jwt_rq_t *rq, pc_status_t st)
{
    pc_async_t *a = rq->a;

    if (!a)
        return st;
    rq->a = NULL;
    pc_async_end(a, st);
    return PC_SUSPEND;
}

static pc_status_t jwt_deny_missing(jwt_rq_t *rq)
{
    pc_response_header_set(rq->r, "WWW-Authenticate", rq->c->www_missing);
    pc_deny(rq->r, 401, "auth.missing_token", "an access token is required");
    return jwt_verdict(rq, PC_RESPOND);
}

static pc_status_t jwt_deny_request(jwt_rq_t *rq, const char *why)
{
    pc_rlog(rq->r, PC_LOG_INFO, "jwt: bad request: %s", why);
    pc_response_header_set(rq->r, "WWW-Authenticate", rq->c->www_request);
    pc_deny(rq->r, 400, "auth.invalid_request", "malformed credentials");
    return jwt_verdict(rq, PC_RESPOND);
}

/* One answer for every invalid token; `why` only goes to the log. */
pc_status_t jwt_deny_invalid(jwt_rq_t *rq, const char *why)
{
    pc_rlog(rq->r, PC_LOG_INFO, "jwt: token refused: %s", why);
    pc_response_header_set(rq->r, "WWW-Authenticate", rq->c->www_invalid);
    pc_deny(rq->r, 401, "auth.invalid_token", "the access token is not valid");
    return jwt_verdict(rq, PC_RESPOND);
}

pc_status_t jwt_deny_scope(jwt_rq_t *rq)
{
    pc_rlog(rq->r, PC_LOG_INFO, "jwt: insufficient scope");
    pc_response_header_set(rq->r, "WWW-Authenticate", rq->c->www_scope);
    pc_deny(rq->r, 403, "auth.insufficient_scope", "the access token lacks a required scope");
    return jwt_verdict(rq, PC_RESPOND);
}

pc_status_t jwt_deny_unavailable(jwt_rq_t *rq, const char *reason, const char *why)
{
    pc_rlog(rq->r, PC_LOG_WARN, "jwt: %s", why);
    pc_deny_unavailable(rq->r, reason, "authentication is temporarily unavailable");
    return jwt_verdict(rq, PC_RESPOND);
}

static pc_status_t jwt_deny_result(jwt_rq_t *rq, pc_jwt_result_t res)
{
    char why[160];

    if (res == PC_JWT_ERR_SCOPE)
        return jwt_deny_scope(rq);
    snprintf(why, sizeof(why), "%s (%s)", pc_jwt_strerror(res), pc_jwt_reason(res));
    return jwt_deny_invalid(rq, why);
}

/* ---- identities --------------------------------------------------------------------- */

/* Space-separated scopes from "scope" (string or array) and "scp". */
static char *jwt_scopes_text(const json_t *payload)
{
    const char *names[] = {"scope", "scp"};
    size_t cap = 64, len = 0;
    char *out = malloc(cap);

    if (!out)
        abort();
    out[0] = '\0';
    for (size_t k = 0; k < 2; k++) {
        const json_t *c = json_object_get(payload, names[k]), *v;
        size_t i, n = json_is_array(c) ? json_array_size(c) : json_is_string(c) ? 1 : 0;
        for (i = 0; i < n; i++) {
            v = json_is_array(c) ? json_array_get(c, i) : c;
            if (!json_is_string(v))
                continue;
            const char *s = json_string_value(v);
            size_t sl = json_string_length(v);
            if (len + sl + 2 > cap) {
                while (len + sl + 2 > cap)
                    cap *= 2;
                out = realloc(out, cap);
                if (!out)
                    abort();
            }
            if (len && sl)
                out[len++] = ' ';
            memcpy(out + len, s, sl);
            len += sl;
            out[len] = '\0';
        }
    }
    return out;
}

static char *jwt_claim_text(const json_t *v)
{
    char *s = NULL;

    if (json_is_string(v))
        return strndup(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
            return NULL;
        return s;
    }
    if (json_is_true(v))
        return strdup("true");
    if (json_is_false(v))
        return strdup("false");
    if (json_is_array(v) || json_is_object(v) || json_is_real(v))
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return NULL;
}

jwt_ident_t *jwt_ident_build(const jwt_conf_t *c, json_t *payload)
{
    char **hv = c->n_c2h ? calloc(c->n_c2h, sizeof(char *)) : NULL;
    const json_t *jti = json_object_get(payload, "jti");
    if (c->n_c2h && !hv)
        abort();
    for (size_t i = 0; i < c->n_c2h; i++) {
        char *t = c->c2h[i].scopes ? jwt_scopes_text(payload)
                                   : jwt_claim_text(pc_jwt_claim_get(payload, c->c2h[i].claim));
        if (t && (!*t || !jwt_http_value_ok(t, strlen(t)))) {
            free(t); /* never forward a value that could break the header block */
            t = NULL;
        }
        hv[i] = t;
    }
    if (json_is_string(jti) && json_string_length(jti) > 0)
        return jwt_ident_new(payload, json_string_value(jti), json_string_length(jti), hv,
                             c->n_c2h);
    return jwt_ident_new(payload, NULL, 0, hv, c->n_c2h);
}

static void jwt_ident_cleanup(void *p)
{
    jwt_ident_unref(p);
}

static void jwt_apply(jwt_rq_t *rq, const jwt_ident_t *id)
{
    pc_request_set_identity(rq->r, id->subject, id->claims);
    for (size_t i = 0; i < rq->c->n_c2h; i++) {
        if (id->hvals[i])
            pc_upstream_header_set(rq->r, rq->c->c2h[i].header, id->hvals[i]);
    }
}

/* The store's answer about the jti. Runs inside pc_store_flag_check (the
 * memory store) or later on this worker (Redis). */
static void jwt_revocation_cb(void *data, int rc, int present)
{
    jwt_rq_t *rq = data;

    if (!pc_async_request(rq->a)) { /* timed out or shutting down */
        jwt_verdict(rq, PC_CONTINUE);
        return;
    }
    if (rc != 0) {
        if (!rq->c->revocation_allow_on_error) {
            jwt_deny_unavailable(rq, "auth.revocation_unavailable",
                                 "revocation store unavailable: denying (on_error deny)");
            return;
        }
        static _Atomic long last;
        if (pc_log_every(&last, 10))
            pc_rlog(rq->r, PC_LOG_WARN, "jwt: revocation store unavailable: allowing "
                                        "(on_error allow; logged every 10 s at most)");
    } else if (present) {
        /* A revoked token's entry is useless from now on: the next request
         * with it is verified afresh (and refused here again). */
        if (rq->ws->cache && rq->have_digest)
            jwt_cache_drop(rq->ws->cache, rq->digest);
        jwt_deny_invalid(rq, "token revoked (jti on the denylist)");
        return;
    }
    jwt_apply(rq, rq->ident);
    jwt_verdict(rq, PC_CONTINUE);
}

/* The token is good: revocation check, then identity. */
pc_status_t jwt_accept(jwt_rq_t *rq, jwt_ident_t *id)
{
    rq->ident = jwt_ident_ref(id);
    pc_on_cleanup(rq->r, jwt_ident_cleanup, id);
    if (rq->c->revocation && id->rkey) {
        if (!rq->a)
            rq->a = pc_async_begin(rq->r, JWT_STORE_TIMEOUT_MS, 503);
        pc_store_flag_check(rq->c->revoked, id->rkey, id->rklen, jwt_revocation_cb, rq);
        return PC_SUSPEND; /* the callback ended the token, here or later: rq may be gone */
    }
    jwt_apply(rq, id);
    return jwt_verdict(rq, PC_CONTINUE);
}

/* ---- keys --------------------------------------------------------------------------------- */

/* The worker's view of the keys: static + remote, rebuilt when the remote
 * serial moves (one atomic load per request otherwise). NULL when remote
 * keys are configured but none loaded yet (and no static key). */
static const pc_jwk_set_t *jwt_worker_keys(jwt_worker_t *ws, unsigned *serial)
{
    const jwt_conf_t *c = ws->c;

    if (!c->src) {
        *serial = 0;
        return c->static_set;
    }
    unsigned now = jwt_keysrc_serial(c->src);
    if (now != ws->serial || (!ws->set && now)) {
        unsigned got;
        pc_jwk_set_t *remote = jwt_keysrc_get(c->src, &got), *merged = NULL;
        if (remote && c->static_set) {
            char err[160];
            merged = pc_jwk_set_merge(c->static_set, remote, err, sizeof(err));
            if (!merged)
                pc_log(PC_LOG_WARN, "jwt: static and remote keys: %s; using the remote ones",
                       err);
        }
        if (!merged)
            merged = pc_jwk_set_ref(remote);
        pc_jwk_set_unref(remote);
        pc_jwk_set_unref(ws->set);
        ws->set = merged;
        ws->serial = got;
    }
    *serial = ws->serial;
    return ws->set ? ws->set : c->static_set;
}

/* ---- waiting for a refresh ------------------------------------------------------------- */

static pc_status_t jwt_verify_run(jwt_rq_t *rq, int may_wait);

static void jwt_waiter_remove(jwt_worker_t *ws, jwt_rq_t *rq)
{
    if (rq->wprev)
        rq->wprev->wnext = rq->wnext;
    else
        ws->waiters = rq->wnext;
    if (rq->wnext)
        rq->wnext->wprev = rq->wprev;
    rq->wprev = rq->wnext = NULL;
}

/* Looks at every waiter: those whose key source moved on (an attempt
 * ended, the set changed) or whose wait is over verify again; the others
 * keep waiting, and the deadline timer is armed for the oldest of them. */
static void jwt_waiters_look(jwt_worker_t *ws)
{
    int64_t now = (int64_t)pc_clock_mono_ms(), next = INT64_MAX;
    jwt_rq_t *rq = ws->waiters, *after;

    for (; rq; rq = after) {
        after = rq->wnext;
        if (!pc_async_request(rq->a)) { /* abandoned: timed out, shutdown */
            jwt_waiter_remove(ws, rq);
            jwt_verdict(rq, PC_CONTINUE);
            continue;
        }
        if (jwt_keysrc_attempts(ws->c->src) == rq->attempts0 &&
            jwt_keysrc_serial(ws->c->src) == rq->serial0 && now < rq->wait_deadline_ms) {
            if (rq->wait_deadline_ms < next)
                next = rq->wait_deadline_ms;
            continue;
        }
        jwt_waiter_remove(ws, rq);
        jwt_verify_run(rq, 0);
    }
    if (next == INT64_MAX)
        pc_timer_stop(ws->deadline);
    else
        pc_timer_start(ws->deadline, (uint64_t)(next - now), 0);
}

/* Worker thread: the key source signalled the end of an attempt. */
static void jwt_wake_cb(void *data)
{
    jwt_worker_t *ws = data;

    if (ws->waiters)
        jwt_waiters_look(ws);
}

static void jwt_deadline_cb(void *data)
{
    jwt_waiters_look(data);
}

static pc_status_t jwt_wait(jwt_rq_t *rq, unsigned attempts0, unsigned serial0)
{
    jwt_worker_t *ws = rq->ws;
    char *copy = pc_alloc(rq->r, rq->tok_len + 1);

    memcpy(copy, rq->tok, rq->tok_len);
    copy[rq->tok_len] = '\0';
    rq->tok = copy;
    rq->attempts0 = attempts0;
    rq->serial0 = serial0;
    rq->wait_deadline_ms = (int64_t)pc_clock_mono_ms() + rq->c->unknown_kid_wait_ms;
    rq->a = pc_async_begin(rq->r, rq->c->unknown_kid_wait_ms + 2000, 503);
    rq->wnext = ws->waiters;
    rq->wprev = NULL;
    if (ws->waiters)
        ws->waiters->wprev = rq;
    ws->waiters = rq;
    /* Every waiter of ws waits as long, so the first one's deadline is the
     * earliest while the timer runs. */
    if (!pc_timer_active(ws->deadline))
        pc_timer_start(ws->deadline, rq->c->unknown_kid_wait_ms, 0);
    /* An attempt may have ended between the caller's look and now. */
    if (jwt_keysrc_attempts(ws->c->src) != attempts0 || jwt_keysrc_serial(ws->c->src) != serial0)
        pc_wake_signal(ws->wake);
    return PC_SUSPEND;
}

/* ---- verification --------------------------------------------------------------------- */

static int64_t jwt_cache_deadline(const jwt_conf_t *c, const json_t *payload, int64_t now_ms)
{
    int64_t dl = now_ms + (int64_t)c->cache_ttl_s * 1000;
    const json_t *exp = json_object_get(payload, "exp"), *iat = json_object_get(payload, "iat");

    /* never past exp (the leeway is not extended to cached entries) */
    if (json_is_number(exp)) {
        double e = json_number_value(exp) * 1000.0;
        if (e < (double)dl)
            dl = e < 0 ? 0 : (int64_t)e;
    }
    if (c->policy.max_age > 0 && json_is_number(iat)) {
        double m = (json_number_value(iat) + (double)c->policy.max_age +
                    (double)c->policy.leeway) * 1000.0;
        if (m < (double)dl)
            dl = m < 0 ? 0 : (int64_t)m;
    }
    return dl;
}

static pc_status_t jwt_verify_run(jwt_rq_t *rq, int may_wait)
{
    const jwt_conf_t *c = rq->c;
    jwt_worker_t *ws = rq->ws;
    unsigned serial = 0;
    int64_t now_ms = (int64_t)pc_clock_wall_ms();

    const pc_jwk_set_t *set = jwt_worker_keys(ws, &serial);
    if (ws->cache) {
        int neg;
        if (!rq->have_digest) {
            jwt_cache_key(ws->cache, rq->tok, rq->tok_len, rq->digest);
            rq->have_digest = 1;
        }
        jwt_ident_t *hit = jwt_cache_get(ws->cache, rq->digest, now_ms, serial, &neg);
        if (hit)
            return jwt_accept(rq, hit);
    }
    unsigned attempts0 = c->src ? jwt_keysrc_attempts(c->src) : 0;
    unsigned serial0 = c->src ? jwt_keysrc_serial(c->src) : 0;

    pc_jwt_parse_opts_t opts = {.max_len = c->max_token};
    pc_jwt_token_t t;
    pc_jwt_result_t res = pc_jwt_parse(rq->tok, rq->tok_len, &opts, &t);
    if (res == PC_JWT_OK && c->alg_mask && !(c->alg_mask & (1u << t.alg)))
        res = PC_JWT_ERR_ALG_UNSUPPORTED;
    if (res == PC_JWT_OK) {
        if (!set) {
            pc_jwt_token_clear(&t);
            if (may_wait && c->unknown_kid_wait_ms && jwt_keysrc_want_refresh(c->src))
                return jwt_wait(rq, attempts0, serial0);
            return jwt_deny_unavailable(rq, "auth.keys_unavailable",
                                        "no verification keys loaded yet");
        }
        res = pc_jwt_verify(set, &t);
    }
    if ((res == PC_JWT_ERR_KID_UNKNOWN || res == PC_JWT_ERR_NO_KEY) && c->src) {
        pc_jwt_token_clear(&t);
        if (may_wait && c->unknown_kid_wait_ms && jwt_keysrc_want_refresh(c->src))
            return jwt_wait(rq, attempts0, serial0);
        if (!jwt_keysrc_serial(c->src) && !c->static_set)
            return jwt_deny_unavailable(rq, "auth.keys_unavailable",
                                        "no verification keys loaded yet");
        return jwt_deny_result(rq, res);
    }
    if (res == PC_JWT_OK)
        res = pc_jwt_check_claims(t.payload, &c->policy, now_ms / 1000);
    if (res != PC_JWT_OK) {
        pc_jwt_token_clear(&t);
        return jwt_deny_result(rq, res);
    }
    jwt_ident_t *id = jwt_ident_build(c, t.payload);
    if (ws->cache)
        jwt_cache_put(ws->cache, rq->digest, now_ms, jwt_cache_deadline(c, t.payload, now_ms),
                      serial, id, 0);
    pc_jwt_token_clear(&t);
    pc_status_t st = jwt_accept(rq, id);
    jwt_ident_unref(id);
    return st;
}

/* ---- credentials ------------------------------------------------------------------------ */

typedef enum { JWT_CRED_NONE = 0, JWT_CRED_ONE, JWT_CRED_BAD } jwt_cred_t;

static jwt_cred_t jwt_extract(jwt_rq_t *rq, const char **why)
{
    const jwt_conf_t *c = rq->c;
    pc_request_t *r = rq->r;
    const char *tok = NULL, *v;
    size_t len = 0, n = 0;

    if (c->src_header) {
        unsigned count = pc_request_header_count(r, "Authorization");
        if (count > 1) {
            *why = "two Authorization headers";
            return JWT_CRED_BAD;
        }
        if (count == 1) {
            const char *h = pc_request_header(r, "Authorization");
            jwt_authz_t a = jwt_http_bearer(h, strlen(h), &tok, &len);
            if (a == JWT_AUTHZ_MALFORMED) {
                *why = "malformed Bearer credentials";
                return JWT_CRED_BAD;
            }
            n += a == JWT_AUTHZ_BEARER;
        }
    }
    if (c->cookie && (v = pc_request_header(r, "Cookie")) != NULL) {
        const char *ct;
        size_t cl;
        if (pc_request_header_count(r, "Cookie") > 1) {
            *why = "several Cookie headers";
            return JWT_CRED_BAD;
        }
        int k = jwt_http_cookie(v, strlen(v), c->cookie, &ct, &cl);
        if (k > 1) {
            *why = "the token cookie twice";
            return JWT_CRED_BAD;
        }
        if (k == 1) {
            if (cl == 0) {
                *why = "empty token cookie";
                return JWT_CRED_BAD;
            }
            if (n++ == 0) {
                tok = ct;
                len = cl;
            }
        }
    }
    if (c->src_query && (v = pc_request_query(r)) != NULL) {
        const char *qt;
        size_t ql;
        int k = jwt_http_query(v, strlen(v), c->query_param, &qt, &ql);
        if (k > 1) {
            *why = "the token parameter twice";
            return JWT_CRED_BAD;
        }
        if (k == 1) {
            if (ql == 0) {
                *why = "empty token parameter";
                return JWT_CRED_BAD;
            }
            if (n++ == 0) {
                tok = qt;
                len = ql;
            }
        }
    }
    if (n > 1) {
        *why = "more than one credential (RFC 6750 §2)";
        return JWT_CRED_BAD;
    }
    if (n == 0)
        return JWT_CRED_NONE;
    rq->tok = tok;
    rq->tok_len = len;
    return JWT_CRED_ONE;
}

static pc_status_t jwt_run(jwt_rq_t *rq)
{
    const char *why = NULL;
    char buf[96];

    switch (jwt_extract(rq, &why)) {
    case JWT_CRED_NONE:
        if (rq->c->optional)
            return PC_CONTINUE;
        return jwt_deny_missing(rq);
    case JWT_CRED_BAD:
        return jwt_deny_request(rq, why);
    case JWT_CRED_ONE:
        break;
    }
    if (rq->tok_len > rq->c->max_token) {
        snprintf(buf, sizeof(buf), "token of %zu bytes over the limit of %zu", rq->tok_len,
                 rq->c->max_token);
        return jwt_deny_invalid(rq, buf);
    }
    if (rq->c->mode == JWT_MODE_INTROSPECTION)
        return jwt_introspect_start(rq);
    return jwt_verify_run(rq, 1);
}

static pc_status_t jwt_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const jwt_conf_t *c = conf;
    jwt_rq_t *rq = ctx;

    /* Whatever happens next, no client-sent copy of an identity header
     * reaches the upstream. */
    for (size_t i = 0; i < c->n_c2h; i++)
        pc_upstream_header_remove(r, c->c2h[i].header);
    rq->r = r;
    rq->c = c;
    rq->ws = pc_worker_state(r, conf);
    if (!rq->ws) {
        pc_rlog(r, PC_LOG_ERROR, "jwt: no worker state");
        return PC_ERROR;
    }
    return jwt_run(rq);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void *jwt_worker_init(void *conf, pc_worker_t *w)
{
    const jwt_conf_t *c = conf;
    jwt_worker_t *ws = calloc(1, sizeof(*ws));

    if (!ws)
        abort();
    ws->c = c;
    ws->w = w;
    if (c->mode == JWT_MODE_JWT && c->cache_enabled) {
        ws->cache = jwt_cache_new(c->cache_max);
        jwt_cache_count_into(ws->cache, c->cache_hits, c->cache_misses);
    }
    else if (c->mode == JWT_MODE_INTROSPECTION && (c->is.cache_ttl_s || c->is.negative_ttl_s))
        ws->cache = jwt_cache_new(c->is.max_entries);
    if (c->src) {
        ws->wake = pc_wake_new(w, jwt_wake_cb, ws);
        ws->deadline = pc_timer_new(w, jwt_deadline_cb, ws);
        if (!ws->wake || !ws->deadline)
            abort();
        jwt_keysrc_watch(c->src, ws->wake);
    }
    return ws;
}

static void jwt_worker_free(void *conf, void *wstate)
{
    jwt_worker_t *ws = wstate;

    if (!ws)
        return;
    /* Only at shutdown can requests still wait here: end their tokens. */
    while (ws->waiters) {
        jwt_rq_t *rq = ws->waiters;
        jwt_waiter_remove(ws, rq);
        jwt_verdict(rq, PC_CONTINUE);
    }
    if (ws->wake)
        jwt_keysrc_unwatch(ws->c->src, ws->wake);
    pc_wake_free(ws->wake);
    pc_timer_free(ws->deadline);
    jwt_cache_free(ws->cache);
    pc_jwk_set_unref(ws->set);
    free(ws);
}

static int jwt_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    jwt_conf_t *c = conf;
    char e[160];

    /* the flags POST /revocations sets (plugin.h) */
    c->revoked = pc_store_ns(env, PC_STORE_NS_REVOKED_JTI);
    if (!c->revoked)
        return pc_err_set(err, "revocation", "cannot open the store namespace");
    /* Shared by every jwt instance (and kept across reloads). */
    c->cache_hits = pc_metric_counter(env, "portcullis_jwt_cache_hits_total",
                                      "Verified-token cache lookups that found the token.", NULL);
    c->cache_misses = pc_metric_counter(env, "portcullis_jwt_cache_misses_total",
                                        "Verified-token cache lookups that did not (absent, "
                                        "expired or verified with older keys).", NULL);
    if (!c->cache_hits || !c->cache_misses)
        return pc_err_set(err, "cache", "cannot register the cache metrics");
    if (!c->has_remote || c->src)
        return 0;
    c->src = jwt_keysrc_acquire(&c->remote, e, sizeof(e));
    if (!c->src)
        return pc_err_set(err, c->jwks_url ? "jwks.url" : "discovery", "%s", e);
    return 0;
}

static void jwt_stop(void *conf)
{
    jwt_conf_t *c = conf;

    jwt_keysrc_release(c->src);
    c->src = NULL;
}

const pc_plugin_t pc_plugin_jwt = {
    .abi = PC_PLUGIN_ABI,
    .name = "jwt",
    .flags = PC_PLUGIN_AUTHENTICATES,
    .req_ctx_size = sizeof(jwt_rq_t),
    .conf_create = jwt_conf_create,
    .start = jwt_start,
    .stop = jwt_stop,
    .conf_free = jwt_conf_free,
    .worker_init = jwt_worker_init,
    .worker_free = jwt_worker_free,
    .on_headers = jwt_on_headers,
};
