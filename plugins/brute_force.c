/* plugins/brute_force.c: failed-authentication lockout (docs/ratelimit.md).
 *
 *   {"type": "brute_force",
 *    "max_failures": 5,             // failures within the window that lock an IP out
 *    "window": "10m",               // or window_ms
 *    "lockout": "15m",              // or lockout_ms
 *    "subject": true,               // also count per subject (see below)
 *    "subject_key": "pair",         // lock (subject, client IP), or "subject" alone
 *    "subject_max_failures": 5,     // default max_failures
 *    "subject_alert_failures": 50,  // per subject, all IPs: alert; default 10 x the above
 *    "subject_header": "X-Login",   // optional: the user a login route's attempt names
 *    "login_routes": ["login"],     // routes whose upstream 401 counts as a failure
 *    "count_missing": false,        // count auth 401s of requests without Authorization
 *    "on_error": "deny",            // lockout check impossible: 503 ("deny") or let through
 *    "bucket": "default",           // namespace: instances with one bucket share counters
 *    "timeout_ms": 2000}
 *
 * Threat model: a forged credential costs nothing, so whatever subject it
 * claims names a victim, not the attacker. Hence:
 *  - a failure is a request that ended 401 because a plugin with
 *    PC_PLUGIN_AUTHENTICATES refused its credential, because the upstream
 *    refused a password on a login route, or because a plugin refused a
 *    request whose credential had been verified (a later check failed);
 *  - every failure counts against the client IP (pc_request_client_ip:
 *    trusted proxies resolved); max_failures lock that IP out;
 *  - a failure counts against a subject only where the subject is really
 *    being guessed: the password attempt on a login route (the verified
 *    subject, else the user of HTTP Basic, else subject_header) or the
 *    verified subject of a request refused by a later check. A refused
 *    token's own "sub" never counts: nothing vouches for it;
 *  - the subject lock key is the pair (subject, client IP) by default, so
 *    one address cannot lock a user out everywhere; the total per subject
 *    across addresses only raises an alert (WARN log and a counter) at
 *    subject_alert_failures, once per window;
 *  - a subject lockout is checked only on login routes, where the gateway
 *    cannot verify the credential (a password); a request whose credential
 *    an authenticating plugin verified is never refused by it. IP lockouts
 *    apply to every request, before the credential is looked at.
 * A locked out request is answered 429 problem+json with Retry-After; the
 * lockout is logged (WARN) and counted.
 *
 * Place it BEFORE the authentication plugin in the chain: on_headers
 * checks the lockouts before the credential is looked at; on_log (which
 * runs for every plugin of the chain) counts the outcome.
 *
 * Store keys, in the store namespace "bf" (so "bf:<key>" in the store):
 * "<bucket>:L:<who>" (lockout flag), "<bucket>:N:<who>" (failure counter),
 * who = "i<len>:<ip>", "p<len>:<ip> <subject>" (the pair: an IP holds no
 * space) or "s<len>:<subject>".
 */
#include <portcullis/plugin.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BF_MAX_SUBJECT 128
#define BF_MAX_WHO (BF_MAX_SUBJECT + 72) /* "<ip> <subject>" */
#define BF_MAX_KEY 253             /* 256 with the namespace: "bf:" + key */
#define BF_MAX_LOGIN_ROUTES 64
#define BF_NS "bf"                 /* the store namespace of lockouts and failure counts */

enum { BF_KEY_PAIR = 0, BF_KEY_SUBJECT = 1 };

typedef struct bf_conf {
    uint64_t max_failures, subject_max_failures, subject_alert_failures;
    uint64_t window_ms, lockout_ms;
    bool subject;
    int subject_key;               /* BF_KEY_* */
    bool count_missing;
    bool allow_on_error;
    unsigned timeout_ms;
    char *subject_header;
    pc_conf_strings_t login_routes;
    char *bucket;
    pc_store_ns_t *ns;             /* start(): BF_NS */
    pc_metric_t *failures, *lockouts, *denied, *alerts; /* start() */
} bf_conf_t;

typedef struct bf_ctx {
    const bf_conf_t *c;
    pc_async_t *a;
    unsigned pending;              /* flag checks not answered yet */
    bool locked_ip, locked_subject, error;
} bf_ctx_t;

/* What a count does when its threshold is reached. */
typedef enum { BF_LOCK, BF_ALERT } bf_action_t;

/* A failure being counted, after the request may be gone. */
typedef struct bf_count {
    const pc_store_ns_t *ns;       /* the namespace and the metrics live as long as the */
    pc_metric_t *lockouts, *alerts; /* process, so a late answer may use them */
    bf_action_t action;
    uint64_t threshold, lockout_ms, window_ms;
    size_t klen;
    char lock_key[BF_MAX_KEY + 1];
    char who[BF_MAX_WHO + 32];
    char route[80];
    char request_id[80];
} bf_count_t;

/* ---- configuration ------------------------------------------------------- */

#define BF_MAX_MS ((uint64_t)1 << 36)

static const char *const bf_subject_keys[] = {"pair", "subject", NULL};

static const pc_conf_field_t bf_fields[] = {
    {.key = "max_failures", .type = PC_CONF_U64, .offset = offsetof(bf_conf_t, max_failures),
     .min = 1, .max = 1000000, .def = 5},
    {.key = "window", .type = PC_CONF_DURATION, .offset = offsetof(bf_conf_t, window_ms),
     .flags = PC_CONF_MS_ALIAS, .min = 1, .max = BF_MAX_MS, .def = 10 * 60000},
    {.key = "lockout", .type = PC_CONF_DURATION, .offset = offsetof(bf_conf_t, lockout_ms),
     .flags = PC_CONF_MS_ALIAS, .min = 1, .max = BF_MAX_MS, .def = 15 * 60000},
    {.key = "subject", .type = PC_CONF_BOOL, .offset = offsetof(bf_conf_t, subject), .def = 1},
    {.key = "subject_key", .type = PC_CONF_ENUM, .offset = offsetof(bf_conf_t, subject_key),
     .values = bf_subject_keys, .def = BF_KEY_PAIR},
    /* 0 (absent): max_failures */
    {.key = "subject_max_failures", .type = PC_CONF_U64,
     .offset = offsetof(bf_conf_t, subject_max_failures), .min = 1, .max = 1000000},
    /* 0 (absent): 10 x subject_max_failures */
    {.key = "subject_alert_failures", .type = PC_CONF_U64,
     .offset = offsetof(bf_conf_t, subject_alert_failures), .min = 1, .max = 100000000},
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
    if (!c->subject_alert_failures)
        c->subject_alert_failures = 10 * c->subject_max_failures;
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

/* base64, padding optional; -1 on junk or overflow. */
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

static size_t bf_copy_subject(char *out, const char *s, size_t n)
{
    if (!s || !bf_subject_ok(s, n) || memchr(s, 0, n))
        return 0;
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

/* The user a password attempt names, into out (BF_MAX_SUBJECT + 1 bytes),
 * or 0: the user of HTTP Basic, else subject_header. A bearer token's
 * "sub" is not one: a token the gateway cannot verify vouches for nothing. */
static size_t bf_claimed_user(pc_request_t *r, const bf_conf_t *c, char *out)
{
    const char *auth = pc_request_header(r, "Authorization");
    if (auth && !strncasecmp(auth, "Basic ", 6)) {
        unsigned char buf[3072];
        long n = b64_decode(auth + 6, strlen(auth + 6), buf, sizeof(buf));
        const unsigned char *colon = n > 0 ? memchr(buf, ':', (size_t)n) : NULL;
        if (colon)
            return bf_copy_subject(out, (const char *)buf, (size_t)(colon - buf));
    }
    const char *h = c->subject_header ? pc_request_header(r, c->subject_header) : NULL;
    return h ? bf_copy_subject(out, h, strlen(h)) : 0;
}

static bool bf_is_login_route(const bf_conf_t *c, const char *route)
{
    for (size_t i = 0; route && i < c->login_routes.n; i++)
        if (!strcmp(c->login_routes.v[i], route))
            return true;
    return false;
}

/* The subject lock's "who": "<ip> <subject>" (pair) or "<subject>";
 * its tag into *tag. 0 when it does not fit. */
static size_t bf_subject_who(const bf_conf_t *c, const char *ip, const char *sub, char *out,
                             char *tag)
{
    int n;
    if (c->subject_key == BF_KEY_PAIR) {
        *tag = 'p';
        n = snprintf(out, BF_MAX_WHO + 1, "%s %s", ip, sub);
    } else {
        *tag = 's';
        n = snprintf(out, BF_MAX_WHO + 1, "%s", sub);
    }
    return n > 0 && n <= BF_MAX_WHO ? (size_t)n : 0;
}

/* "<bucket>:<kind>:<tag><len>:<value>" in the store namespace BF_NS */
static size_t bf_key(char *out, const bf_conf_t *c, char kind, char tag, const char *v)
{
    int n = snprintf(out, BF_MAX_KEY + 1, "%s:%c:%c%zu:%s", c->bucket, kind, tag, strlen(v), v);
    return n > 0 && n <= BF_MAX_KEY ? (size_t)n : 0;
}

static const char *bf_ip(pc_request_t *r)
{
    const char *ip = pc_request_client_ip(r);
    return ip && *ip ? ip : "-";
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

/* The subject lock key to check, or 0: only a password attempt on a login
 * route is refused for its subject; a credential that an authenticating
 * plugin already verified (one placed before this plugin) never is. */
static size_t bf_subject_lock_key(pc_request_t *r, const bf_conf_t *c, const char *ip,
                                  char *key)
{
    char sub[BF_MAX_SUBJECT + 1], who[BF_MAX_WHO + 1], tag;
    if (!c->subject || pc_request_subject(r) || !bf_is_login_route(c, pc_request_route(r)))
        return 0;
    if (!bf_claimed_user(r, c, sub) || !bf_subject_who(c, ip, sub, who, &tag))
        return 0;
    return bf_key(key, c, 'L', tag, who);
}

static pc_status_t bf_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const bf_conf_t *c = conf;
    bf_ctx_t *x = ctx;
    char key[BF_MAX_KEY + 1], skey[BF_MAX_KEY + 1];
    const char *ip = bf_ip(r);
    size_t kip = bf_key(key, c, 'L', 'i', ip), ks = bf_subject_lock_key(r, c, ip, skey);
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
    if (q->action == BF_LOCK) {
        pc_store_flag_set(q->ns, q->lock_key, q->klen, q->lockout_ms, bf_locked, q);
        return;
    }
    /* An alert, not a lock: raised once, when the count reaches it. */
    if (count == q->threshold) {
        pc_metric_add(q->alerts, NULL, 1);
        pc_log(PC_LOG_WARN,
               "brute_force: alert: %s had %llu failed authentications within %llu s, from "
               "any address (not locked out; route=%s req=%s)",
               q->who, (unsigned long long)count,
               (unsigned long long)((q->window_ms + 999) / 1000), q->route, q->request_id);
    }
    free(q);
}

/* Counts one failure of who (tag 'i', 'p' or 's'); at threshold, action. */
static void bf_count(pc_request_t *r, const bf_conf_t *c, char tag, const char *who,
                     uint64_t threshold, bf_action_t action)
{
    char nkey[BF_MAX_KEY + 1];
    size_t nlen = bf_key(nkey, c, 'N', tag, who);
    if (!nlen)
        return;
    bf_count_t *q = pc_xcalloc(1, sizeof(*q));
    q->ns = c->ns;
    q->lockouts = c->lockouts;
    q->alerts = c->alerts;
    q->action = action;
    q->threshold = threshold;
    q->lockout_ms = c->lockout_ms;
    q->window_ms = c->window_ms;
    q->klen = bf_key(q->lock_key, c, 'L', tag, who);
    if (tag == 'i') {
        snprintf(q->who, sizeof(q->who), "client_ip %s", who);
    } else if (tag == 's') {
        snprintf(q->who, sizeof(q->who), "subject %s", who);
    } else { /* "<ip> <subject>" */
        const char *sp = strchr(who, ' ');
        snprintf(q->who, sizeof(q->who), "subject %s at client_ip %.*s", sp + 1,
                 (int)(sp - who), who);
    }
    const char *route = pc_request_route(r), *id = pc_request_id(r);
    snprintf(q->route, sizeof(q->route), "%s", route ? route : "-");
    snprintf(q->request_id, sizeof(q->request_id), "%s", id ? id : "-");
    pc_store_count(q->ns, nkey, nlen, c->window_ms, bf_counted, q);
}

/* Counts a failure against sub: its lock key (the pair, or the subject)
 * locks at subject_max_failures; the total of the subject across
 * addresses alerts at subject_alert_failures (same key with "subject"). */
static void bf_count_subject(pc_request_t *r, const bf_conf_t *c, const char *ip, const char *sub)
{
    char who[BF_MAX_WHO + 1], tag;
    if (!bf_subject_who(c, ip, sub, who, &tag))
        return;
    bf_count(r, c, tag, who, c->subject_max_failures, BF_LOCK);
    if (c->subject_key == BF_KEY_PAIR)
        bf_count(r, c, 's', sub, c->subject_alert_failures, BF_ALERT);
}

/* Whether r's 401 is a failure, and the subject it counts against (into
 * sub; "" for none). See the threat model at the top. */
static bool bf_failure(pc_request_t *r, const bf_conf_t *c, char *sub)
{
    const char *verified = pc_request_subject(r);
    sub[0] = '\0';
    if (pc_request_upstream_status(r) == 401) {
        if (!bf_is_login_route(c, pc_request_route(r)))
            return false;
        if (!verified || !bf_copy_subject(sub, verified, strlen(verified)))
            bf_claimed_user(r, c, sub);
        return true;
    }
    if (verified && pc_request_stopped_by(r)) { /* verified, then a later check failed */
        bf_copy_subject(sub, verified, strlen(verified));
        return true;
    }
    if (pc_request_stopped_by_auth(r))
        return c->count_missing || pc_request_header(r, "Authorization") != NULL;
    return false;
}

static void bf_on_log(pc_request_t *r, void *conf, void *ctx)
{
    const bf_conf_t *c = conf;
    char sub[BF_MAX_SUBJECT + 1];
    (void)ctx;
    if (pc_request_status(r) != 401 || !bf_failure(r, c, sub))
        return;
    pc_metric_add(c->failures, NULL, 1);
    const char *ip = bf_ip(r);
    /* The counts may complete after r and even this config generation are
     * gone (Redis): bf_count copies everything they need. */
    bf_count(r, c, 'i', ip, c->max_failures, BF_LOCK);
    if (c->subject && sub[0])
        bf_count_subject(r, c, ip, sub);
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
    c->alerts = pc_metric_counter(env, "portcullis_bruteforce_subject_alerts_total",
                                  "Subjects that reached subject_alert_failures across "
                                  "addresses (alerted, not locked).", NULL);
    if (!c->ns || !c->failures || !c->lockouts || !c->denied || !c->alerts)
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
