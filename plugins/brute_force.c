/* plugins/brute_force.c: failed-authentication lockout (docs/ratelimit.md).
 *
 *   {"type": "brute_force",
 *    "max_failures": 5,             // failures within the window that lock out
 *    "window": "10m",               // or window_ms
 *    "lockout": "15m",              // or lockout_ms
 *    "subject": true,               // also count per claimed subject
 *    "subject_max_failures": 5,     // default max_failures
 *    "subject_header": "X-Login",   // optional: one more source of the claimed subject
 *    "login_routes": ["login"],     // routes whose upstream 401 counts as a failure
 *    "count_missing": false,        // count auth 401s of requests without Authorization
 *    "on_error": "deny",            // lockout check impossible: 503 ("deny") or let through
 *    "bucket": "default",           // namespace: instances with one bucket share counters
 *    "timeout_ms": 2000}
 *
 * A failure is a request that ended with 401 either because a plugin with
 * PC_PLUGIN_AUTHENTICATES refused its credential (an invalid token), or
 * because the upstream answered 401 on a login route (a password grant
 * passed through to an identity service). Failures are counted per client
 * IP (pc_request_client_ip: trusted proxies resolved) and, when known, per
 * claimed subject: the verified subject, else the "sub" of the bearer
 * token's payload (read without verifying it: only for counting), else the
 * user of HTTP Basic, else subject_header. After max_failures within the
 * window (which opens at the first failure) the IP or subject is locked
 * out for the lockout time: every request is answered 429 problem+json
 * with Retry-After, and the lockout is logged (WARN) and counted.
 *
 * Place it BEFORE the authentication plugin in the chain: on_headers
 * checks the lockout before the credential is looked at; on_log (which
 * runs for every plugin of the chain) counts the outcome.
 *
 * Per-subject lockout lets anyone lock a known user name out by failing on
 * purpose (the classic account lockout trade-off): set "subject": false to
 * count per IP only, or a higher subject_max_failures.
 *
 * Store keys, in the store namespace "bf" (so "bf:<key>" in the store):
 * "<bucket>:L:<who>" (lockout flag), "<bucket>:N:<who>" (failure counter),
 * who = "i<len>:<ip>" or "s<len>:<subject>".
 */
#include <portcullis/plugin.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BF_MAX_SUBJECT 128
#define BF_MAX_KEY 253             /* 256 with the namespace: "bf:" + key */
#define BF_MAX_LOGIN_ROUTES 64
#define BF_NS "bf"                 /* the store namespace of lockouts and failure counts */

typedef struct bf_conf {
    uint64_t max_failures, subject_max_failures;
    uint64_t window_ms, lockout_ms;
    bool subject;
    bool count_missing;
    bool allow_on_error;
    unsigned timeout_ms;
    char *subject_header;
    pc_conf_strings_t login_routes;
    char *bucket;
    pc_store_ns_t *ns;             /* start(): BF_NS */
    pc_metric_t *failures, *lockouts, *denied; /* start() */
} bf_conf_t;

typedef struct bf_ctx {
    const bf_conf_t *c;
    pc_async_t *a;
    unsigned pending;              /* flag checks not answered yet */
    bool locked_ip, locked_subject, error;
} bf_ctx_t;

/* A failure being counted, after the request may be gone. */
typedef struct bf_count {
    const pc_store_ns_t *ns;       /* the namespace and the metric live as long as the */
    pc_metric_t *lockouts;         /* process, so a late answer may use them */
    bool is_subject;
    uint64_t threshold, lockout_ms, window_ms;
    size_t klen;
    char lock_key[BF_MAX_KEY + 1];
    char who[BF_MAX_SUBJECT + 72];
    char route[80];
    char request_id[80];
} bf_count_t;

/* ---- configuration ------------------------------------------------------- */

#define BF_MAX_MS ((uint64_t)1 << 36)

static const pc_conf_field_t bf_fields[] = {
    {.key = "max_failures", .type = PC_CONF_U64, .offset = offsetof(bf_conf_t, max_failures),
     .min = 1, .max = 1000000, .def = 5},
    {.key = "window", .type = PC_CONF_DURATION, .offset = offsetof(bf_conf_t, window_ms),
     .flags = PC_CONF_MS_ALIAS, .min = 1, .max = BF_MAX_MS, .def = 10 * 60000},
    {.key = "lockout", .type = PC_CONF_DURATION, .offset = offsetof(bf_conf_t, lockout_ms),
     .flags = PC_CONF_MS_ALIAS, .min = 1, .max = BF_MAX_MS, .def = 15 * 60000},
    {.key = "subject", .type = PC_CONF_BOOL, .offset = offsetof(bf_conf_t, subject), .def = 1},
    /* 0 (absent): max_failures */
    {.key = "subject_max_failures", .type = PC_CONF_U64,
     .offset = offsetof(bf_conf_t, subject_max_failures), .min = 1, .max = 1000000},
    {.key = "subject_header", .type = PC_CONF_TOKEN, .offset = offsetof(bf_conf_t, subject_header),
     .max = 128},
    {.key = "login_routes", .type = PC_CONF_STRINGS, .offset = offsetof(bf_conf_t, login_routes),
     .max = BF_MAX_LOGIN_ROUTES},
    {.key = "count_missing", .type = PC_CONF_BOOL, .offset = offsetof(bf_conf_t, count_missing)},
    {.key = "on_error", .type = PC_CONF_ON_ERROR, .offset = offsetof(bf_conf_t, allow_on_error)},
    {.key = "bucket", .type = PC_CONF_TOKEN, .offset = offsetof(bf_conf_t, bucket), .max = 64,
     .def_str = "default"},
    {.key = "timeout_ms", .type = PC_CONF_UINT, .offset = offsetof(bf_conf_t, timeout_ms),
     .min = 10, .max = 600000, .def = 2000},
    {0},
};

static void bf_conf_free(void *conf)
{
    pc_conf_fields_free(bf_fields, conf);
    free(conf);
}

static int bf_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    bf_conf_t *c = pc_xcalloc(1, sizeof(*c));
    *conf = c;
    if (pc_conf_parse(node, NULL, bf_fields, c, err))
        return -1;
    if (!c->subject_max_failures)
        c->subject_max_failures = c->max_failures;
    return 0;
}

/* ---- who is asking ------------------------------------------------------------- */

static int b64_val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* base64 or base64url, padding optional; -1 on junk or overflow. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    while (n && s[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

static bool bf_subject_ok(const char *s, size_t n)
{
    if (n == 0 || n > BF_MAX_SUBJECT)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* The claimed subject into out, or 0 if none. Unverified on purpose: it
 * only names what to count. */
static size_t bf_claimed_subject(pc_request_t *r, const bf_conf_t *c, char *out)
{
    const char *s = pc_request_subject(r);
    if (s && bf_subject_ok(s, strlen(s))) {
        memcpy(out, s, strlen(s) + 1);
        return strlen(s);
    }
    const char *auth = pc_request_header(r, "Authorization");
    unsigned char buf[3072];
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        const char *tok = auth + 7, *dot1 = strchr(tok, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
        long n = dot2 ? b64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, sizeof(buf)) : -1;
        if (n > 0) {
            json_t *payload = json_loadb((const char *)buf, (size_t)n, 0, NULL);
            const json_t *sub = payload ? json_object_get(payload, "sub") : NULL;
            size_t len = json_is_string(sub) ? json_string_length(sub) : 0;
            if (len && bf_subject_ok(json_string_value(sub), len) &&
                strlen(json_string_value(sub)) == len) {
                memcpy(out, json_string_value(sub), len + 1);
                json_decref(payload);
                return len;
            }
            json_decref(payload);
        }
    } else if (auth && !strncasecmp(auth, "Basic ", 6)) {
        long n = b64_decode(auth + 6, strlen(auth + 6), buf, sizeof(buf) - 1);
        const unsigned char *colon = n > 0 ? memchr(buf, ':', (size_t)n) : NULL;
        if (colon && bf_subject_ok((const char *)buf, (size_t)(colon - buf)) &&
            !memchr(buf, 0, (size_t)(colon - buf))) {
            memcpy(out, buf, (size_t)(colon - buf));
            out[colon - buf] = '\0';
            return (size_t)(colon - buf);
        }
    }
    if (c->subject_header) {
        s = pc_request_header(r, c->subject_header);
        if (s && bf_subject_ok(s, strlen(s))) {
            memcpy(out, s, strlen(s) + 1);
            return strlen(s);
        }
    }
    return 0;
}

/* "<bucket>:<kind>:<tag><len>:<value>" in the store namespace BF_NS */
static size_t bf_key(char *out, const bf_conf_t *c, char kind, char tag, const char *v)
{
    int n = snprintf(out, BF_MAX_KEY + 1, "%s:%c:%c%zu:%s", c->bucket, kind, tag, strlen(v), v);
    return n > 0 && n <= BF_MAX_KEY ? (size_t)n : 0;
}

/* ---- the lockout check ------------------------------------------------------------ */

static pc_status_t bf_verdict(pc_request_t *r, const bf_ctx_t *x)
{
    const bf_conf_t *c = x->c;
    if (x->locked_ip || x->locked_subject) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%llu", (unsigned long long)((c->lockout_ms + 999) / 1000));
        pc_response_header_set(r, "Retry-After", ra);
        pc_metric_add(c->denied, NULL, 1);
        pc_rlog(r, PC_LOG_DEBUG, "locked out (%s)", x->locked_ip ? "client ip" : "subject");
        return pc_deny(r, 429, "brute_force.locked_out",
                       "too many failed authentication attempts; try again later");
    }
    if (x->error) {
        if (c->allow_on_error) {
            static _Atomic long last;
            if (pc_log_every(&last, 10))
                pc_rlog(r, PC_LOG_WARN, "lockout store unavailable: requests let through "
                                        "(on_error allow; logged every 10 s at most)");
            return PC_CONTINUE;
        }
        return pc_deny_unavailable(r, "brute_force.store_unavailable",
                                   "the lockout state cannot be checked right now");
    }
    return PC_CONTINUE;
}

static void bf_checked(bf_ctx_t *x, int rc, int present, bool subject)
{
    if (rc != 0)
        x->error = true;
    else if (present && subject)
        x->locked_subject = true;
    else if (present)
        x->locked_ip = true;
    if (--x->pending > 0)
        return;
    pc_request_t *r = pc_async_request(x->a);
    if (!r) {
        pc_async_end(x->a, PC_CONTINUE);
        return;
    }
    pc_async_end(x->a, bf_verdict(r, x));
}

static void bf_checked_ip(void *data, int rc, int present)
{
    bf_checked(data, rc, present, false);
}

static void bf_checked_subject(void *data, int rc, int present)
{
    bf_checked(data, rc, present, true);
}

static pc_status_t bf_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const bf_conf_t *c = conf;
    bf_ctx_t *x = ctx;
    char key[BF_MAX_KEY + 1], sub[BF_MAX_SUBJECT + 1];
    const char *ip = pc_request_client_ip(r);
    size_t ks = 0, kip = bf_key(key, c, 'L', 'i', ip && *ip ? ip : "-");
    char skey[BF_MAX_KEY + 1];
    if (c->subject && bf_claimed_subject(r, c, sub))
        ks = bf_key(skey, c, 'L', 's', sub);
    x->c = c;
    x->pending = 1 + (ks != 0);
    /* The last of the checks to answer ends the token, here or later. */
    x->a = pc_async_begin(r, c->timeout_ms, 503);
    pc_store_flag_check(c->ns, key, kip, bf_checked_ip, x);
    if (ks)
        pc_store_flag_check(c->ns, skey, ks, bf_checked_subject, x);
    return PC_SUSPEND;
}

/* ---- counting failures ------------------------------------------------------------ */

static void bf_locked(void *data, int rc)
{
    bf_count_t *q = data;
    if (rc == 0) {
        pc_metric_add(q->lockouts, NULL, 1);
        pc_log(PC_LOG_WARN,
               "brute_force: lockout of %s for %llu s after %llu failed authentications within "
               "%llu s (route=%s req=%s)",
               q->who, (unsigned long long)((q->lockout_ms + 999) / 1000),
               (unsigned long long)q->threshold, (unsigned long long)((q->window_ms + 999) / 1000),
               q->route, q->request_id);
    } else {
        pc_log(PC_LOG_ERROR, "brute_force: could not store the lockout of %s (store unavailable)",
               q->who);
    }
    free(q);
}

static void bf_counted(void *data, int rc, uint64_t count)
{
    bf_count_t *q = data;
    if (rc != 0 || count < q->threshold) {
        free(q);
        return;
    }
    pc_store_flag_set(q->ns, q->lock_key, q->klen, q->lockout_ms, bf_locked, q);
}

static void bf_count(pc_request_t *r, const bf_conf_t *c, bool subject, const char *value)
{
    char nkey[BF_MAX_KEY + 1];
    size_t nlen = bf_key(nkey, c, 'N', subject ? 's' : 'i', value);
    bf_count_t *q = calloc(1, sizeof(*q));
    if (!q || !nlen) {
        free(q);
        return;
    }
    q->ns = c->ns;
    q->lockouts = c->lockouts;
    q->is_subject = subject;
    q->threshold = subject ? c->subject_max_failures : c->max_failures;
    q->lockout_ms = c->lockout_ms;
    q->window_ms = c->window_ms;
    q->klen = bf_key(q->lock_key, c, 'L', subject ? 's' : 'i', value);
    snprintf(q->who, sizeof(q->who), "%s %s", subject ? "subject" : "client_ip", value);
    const char *route = pc_request_route(r), *id = pc_request_id(r);
    snprintf(q->route, sizeof(q->route), "%s", route ? route : "-");
    snprintf(q->request_id, sizeof(q->request_id), "%s", id ? id : "-");
    pc_store_count(q->ns, nkey, nlen, c->window_ms, bf_counted, q);
}

static bool bf_is_login_route(const bf_conf_t *c, const char *route)
{
    for (size_t i = 0; route && i < c->login_routes.n; i++)
        if (!strcmp(c->login_routes.v[i], route))
            return true;
    return false;
}

static void bf_on_log(pc_request_t *r, void *conf, void *ctx)
{
    const bf_conf_t *c = conf;
    if (pc_request_status(r) != 401)
        return;
    bool failure = false;
    if (pc_request_stopped_by_auth(r))
        failure = c->count_missing || pc_request_header(r, "Authorization") != NULL;
    else if (pc_request_upstream_status(r) == 401)
        failure = bf_is_login_route(c, pc_request_route(r));
    if (!failure)
        return;
    pc_metric_add(c->failures, NULL, 1);
    const char *ip = pc_request_client_ip(r);
    char sub[BF_MAX_SUBJECT + 1];
    /* The counts may complete after r and even this config generation are
     * gone (Redis): bf_count copies everything they need. */
    bf_count(r, c, false, ip && *ip ? ip : "-");
    if (c->subject && bf_claimed_subject(r, c, sub))
        bf_count(r, c, true, sub);
}

/* The namespace and the counters, shared by every instance (and kept
 * across reloads: registering again returns the same ones). */
static int bf_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    bf_conf_t *c = conf;
    c->ns = pc_store_ns(env, BF_NS);
    c->failures = pc_metric_counter(env, "portcullis_bruteforce_failures_total",
                                    "Failed authentications counted by brute_force.", NULL);
    c->lockouts = pc_metric_counter(env, "portcullis_bruteforce_lockouts_total",
                                    "Lockouts started by brute_force.", NULL);
    c->denied = pc_metric_counter(env, "portcullis_bruteforce_denied_total",
                                  "Requests refused during a lockout (429).", NULL);
    if (!c->ns || !c->failures || !c->lockouts || !c->denied)
        return pc_err_set(err, NULL, "cannot register the store namespace or the metrics");
    return 0;
}

const pc_plugin_t pc_plugin_brute_force = {
    .abi = PC_PLUGIN_ABI,
    .name = "brute_force",
    .req_ctx_size = sizeof(bf_ctx_t),
    .conf_create = bf_conf_create,
    .start = bf_start,
    .conf_free = bf_conf_free,
    .on_headers = bf_on_headers,
    .on_log = bf_on_log,
};
