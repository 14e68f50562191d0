/* plugins/rate_limit.c: request rate limits on the process's store (memory
 * or Redis), with the IETF RateLimit headers. docs/ratelimit.md is the
 * user's guide; the algorithms are in gateway/store/ratelimit.h.
 *
 *   {"type": "rate_limit",
 *    "limits": [{"rate": 10, "period": "1s", "burst": 20},
 *               {"rate": 1000, "period": "1h", "algorithm": "sliding_window"}],
 *    "key": ["subject"],            // or "client_ip", {"header": "X-Api-Key"},
 *                                   // {"param": "tenant"}, {"claim": "azp"}; a list combines
 *    "scope": "global",             // or "route", or {"group": "name"}
 *    "headers": false,              // RateLimit headers on allowed responses too
 *    "on_error": "deny",            // store unavailable: 503 ("deny") or let through ("allow")
 *    "bucket": "name",              // optional: separates identical instances
 *    "timeout_ms": 2000}            // safety net around the store call
 *
 * Every limit of an instance is checked in one atomic store call (one Redis
 * round trip); a refused request consumes nothing. A request whose key
 * material is missing (no verified subject, no such header, ...) is limited
 * by its client IP instead, never by a bucket shared with everyone else.
 *
 * Store key, in the store namespace "rl": "<ns>:<route>:<material>". ns is
 * the group name, or a hash
 * of the instance's configuration (so every gateway of a fleet with the
 * same config agrees on it, and a changed limit starts afresh); route is
 * "*" unless the scope is "route". Header values are hashed (SHA-256) so
 * that API keys and tokens never appear in Redis; a key longer than
 * RL_MAX_KEY is hashed whole (and the store hashes keys over its own
 * PC_STORE_KEY_MAX).
 */
#include <portcullis/plugin.h>

#include <openssl/evp.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_MAX_LIMITS 8
#define RL_MAX_PARTS 4
#define RL_MAX_KEY 253             /* 256 with the namespace: "rl:" + key */
#define RL_NS "rl"
#define RL_NAME_MAX 32

enum { RL_SUBJECT, RL_CLIENT_IP, RL_HEADER, RL_PARAM, RL_CLAIM };
enum { RL_SCOPE_GLOBAL, RL_SCOPE_ROUTE, RL_SCOPE_GROUP };

typedef struct rl_part {
    int kind;
    char *name;                    /* header, param or claim name */
} rl_part_t;

typedef struct rl_conf {
    pc_limit_spec_t limits[RL_MAX_LIMITS];
    char names[RL_MAX_LIMITS][RL_NAME_MAX + 1];
    size_t nlimits;
    rl_part_t parts[RL_MAX_PARTS];
    size_t nparts;
    int scope;
    bool headers;
    bool allow_on_error;
    unsigned timeout_ms;
    char *bucket;                  /* validated only: it is in the hashed node */
    char ns[72];                   /* "g:<group>" or "i:<hash>" */
    size_t nslen;
    char *policy;                  /* the RateLimit-Policy value */
    EVP_MD *sha256;                /* fetched once: an implicit fetch per digest takes locks */
    pc_store_ns_t *store;          /* start(): the namespace RL_NS */
    pc_metric_t *limited;          /* start(): portcullis_ratelimit_limited_total */
} rl_conf_t;

/* Per worker: a digest context reused by every request of the worker. */
typedef struct rl_wstate {
    EVP_MD_CTX *md;
} rl_wstate_t;

typedef struct rl_ctx {
    const rl_conf_t *c;
    pc_async_t *a;
    int rc;
    pc_limit_result_t res;
} rl_ctx_t;

/* ---- configuration ------------------------------------------------------- */

/* One entry of "limits", as read; copied into the conf's limit spec. */
typedef struct rl_limit_in {
    uint64_t rate, burst, period, period_ms;
    int alg;
    char *name;
} rl_limit_in_t;

static const char *const rl_algs[] = {"gcra", "token_bucket", "sliding_window", NULL};

static const pc_conf_field_t rl_limit_fields[] = {
    {.key = "rate", .type = PC_CONF_U64, .offset = offsetof(rl_limit_in_t, rate),
     .flags = PC_CONF_REQUIRED, .min = 1, .max = UINT32_MAX},
    /* period and period_ms are separate: a duration may be longer than the
     * largest period_ms (the checks below bound both) */
    {.key = "period", .type = PC_CONF_DURATION, .offset = offsetof(rl_limit_in_t, period),
     .min = 1, .max = UINT64_MAX},
    {.key = "period_ms", .type = PC_CONF_U64, .offset = offsetof(rl_limit_in_t, period_ms),
     .min = 1, .max = (uint64_t)1 << 36},
    {.key = "burst", .type = PC_CONF_U64, .offset = offsetof(rl_limit_in_t, burst), .min = 1,
     .max = UINT32_MAX},
    {.key = "algorithm", .type = PC_CONF_ENUM, .offset = offsetof(rl_limit_in_t, alg),
     .values = rl_algs},
    {.key = "name", .type = PC_CONF_TOKEN, .offset = offsetof(rl_limit_in_t, name),
     .max = RL_NAME_MAX},
    {0},
};

static int rl_limit_check(const json_t *o, const char *path, size_t i, rl_conf_t *c,
                          const rl_limit_in_t *in, pc_err_t *err)
{
    char key[128];
    pc_limit_spec_t *l = &c->limits[i];
    snprintf(key, sizeof(key), "%s.period", path);
    if (json_object_get(o, "period") && json_object_get(o, "period_ms"))
        return pc_err_set(err, key, "give period or period_ms, not both");
    if (!in->period && !in->period_ms)
        return pc_err_set(err, key, "required (\"1s\", \"1m\", \"1h\"; or period_ms)");
    l->rate = (uint32_t)in->rate;
    l->period_ms = in->period ? in->period : in->period_ms;
    l->alg = rl_algs[in->alg][0] == 's' ? PC_LIMIT_ALG_SLIDING : PC_LIMIT_ALG_GCRA;
    snprintf(key, sizeof(key), "%s.burst", path);
    if (in->burst && l->alg == PC_LIMIT_ALG_SLIDING)
        return pc_err_set(err, key, "only for algorithm gcra (a sliding window has no burst)");
    l->burst = (uint32_t)in->burst;
    snprintf(key, sizeof(key), "%s.name", path);
    if (in->name) {
        snprintf(c->names[i], sizeof(c->names[i]), "%s", in->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->names[j], c->names[i]))
                return pc_err_set(err, key, "\"%s\" is used by limits[%zu] too", c->names[i], j);
    } else {
        snprintf(c->names[i], sizeof(c->names[i]), "%s", c->nlimits == 1 ? "default" : "limit");
    }
    /* Same bounds as the stores (gateway/store/ratelimit.c pc_rl_limit_check). */
    uint64_t b = l->burst ? l->burst : l->rate;
    uint64_t t = (l->period_ms * 1000 + l->rate - 1) / l->rate;
    if (l->alg == PC_LIMIT_ALG_GCRA && b > ((uint64_t)1 << 50) / t)
        return pc_err_set(err, path, "burst too large for this rate and period");
    if (l->alg == PC_LIMIT_ALG_SLIDING && l->rate > ((uint64_t)1 << 50) / l->period_ms)
        return pc_err_set(err, path, "rate too large for this period");
    return 0;
}

static int rl_parse_limit(const json_t *o, size_t i, rl_conf_t *c, pc_err_t *err)
{
    char path[32];
    snprintf(path, sizeof(path), "limits[%zu]", i);
    if (!json_is_object(o))
        return pc_err_set(err, path, "must be an object with rate and period");
    rl_limit_in_t in = {0};
    int rc = pc_conf_parse(o, path, rl_limit_fields, &in, err);
    if (rc == 0)
        rc = rl_limit_check(o, path, i, c, &in, err);
    pc_conf_fields_free(rl_limit_fields, &in);
    return rc;
}

static int rl_parse_key(const json_t *arr, rl_conf_t *c, pc_err_t *err)
{
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > RL_MAX_PARTS)
        return pc_err_set(err, "key", "must be a list of 1 to %d parts", RL_MAX_PARTS);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        char path[32];
        snprintf(path, sizeof(path), "key[%zu]", i);
        rl_part_t *p = &c->parts[c->nparts++];
        if (json_is_string(v) && !strcmp(json_string_value(v), "subject")) {
            p->kind = RL_SUBJECT;
        } else if (json_is_string(v) && !strcmp(json_string_value(v), "client_ip")) {
            p->kind = RL_CLIENT_IP;
        } else if (json_is_object(v) && json_object_size(v) == 1) {
            const char *k = json_object_iter_key(json_object_iter((json_t *)v));
            const json_t *name = json_object_get(v, k);
            if (!strcmp(k, "header"))
                p->kind = RL_HEADER;
            else if (!strcmp(k, "param"))
                p->kind = RL_PARAM;
            else if (!strcmp(k, "claim"))
                p->kind = RL_CLAIM;
            else
                return pc_err_set(err, path, "unknown part \"%.64s\" (header, param, claim)", k);
            if (!json_is_string(name) || !pc_conf_token(json_string_value(name), 128))
                return pc_err_set(err, path, "%s: must be a name (1 to 128 token characters)", k);
            p->name = pc_xstrdup(json_string_value(name));
        } else {
            return pc_err_set(err, path, "must be \"subject\", \"client_ip\", {\"header\": "
                                         "\"Name\"}, {\"param\": \"name\"} or {\"claim\": "
                                         "\"name\"}");
        }
    }
    return 0;
}

static void rl_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* First 16 bytes of SHA-256 as 32 hex characters. ctx is the worker's
 * reusable context, or NULL (load time). */
static void rl_hash(const rl_conf_t *c, EVP_MD_CTX *ctx, const void *data, size_t len,
                    char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok = ctx ? EVP_DigestInit_ex2(ctx, c->sha256, NULL) == 1 &&
                       EVP_DigestUpdate(ctx, data, len) == 1 &&
                       EVP_DigestFinal_ex(ctx, md, &mdlen) == 1
                 : EVP_Digest(data, len, md, &mdlen, c->sha256, NULL) == 1;
    if (!ok || mdlen < 16)
        abort();
    rl_hex(md, 16, out);
}

/* RateLimit-Policy: "name";q=<quota>;w=<seconds> for each limit. A period
 * that is not whole seconds is stated over the next whole second, with the
 * quota scaled down (never overstating what is allowed). */
static char *rl_policy(const rl_conf_t *c)
{
    char buf[1024];
    size_t n = 0;
    for (size_t i = 0; i < c->nlimits; i++) {
        const pc_limit_spec_t *l = &c->limits[i];
        uint64_t w = (l->period_ms + 999) / 1000, q = l->rate;
        if (l->period_ms % 1000)
            q = (uint64_t)l->rate * w * 1000 / l->period_ms;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\";q=%llu;w=%llu", i ? ", " : "",
                              c->names[i], (unsigned long long)q, (unsigned long long)w);
        if (n >= sizeof(buf))
            break;
    }
    return pc_xstrdup(buf);
}

static const pc_conf_field_t rl_fields[] = {
    {.key = "limits", .type = PC_CONF_ANY},
    {.key = "key", .type = PC_CONF_ANY},
    {.key = "scope", .type = PC_CONF_ANY},
    {.key = "headers", .type = PC_CONF_BOOL, .offset = offsetof(rl_conf_t, headers)},
    {.key = "on_error", .type = PC_CONF_ON_ERROR, .offset = offsetof(rl_conf_t, allow_on_error)},
    /* only separates identical instances: it is part of the hashed node */
    {.key = "bucket", .type = PC_CONF_TOKEN, .offset = offsetof(rl_conf_t, bucket), .max = 64},
    {.key = "timeout_ms", .type = PC_CONF_UINT, .offset = offsetof(rl_conf_t, timeout_ms),
     .min = 10, .max = 600000, .def = 2000},
    {0},
};

static void rl_conf_free(void *conf)
{
    rl_conf_t *c = conf;
    for (size_t i = 0; i < c->nparts; i++)
        free(c->parts[i].name);
    free(c->policy);
    EVP_MD_free(c->sha256);
    pc_conf_fields_free(rl_fields, c);
    free(c);
}

static int rl_parse_limits(const json_t *lim, rl_conf_t *c, pc_err_t *err)
{
    if (!lim)
        return pc_err_set(err, "limits", "required: a list of {\"rate\", \"period\"}");
    if (!json_is_array(lim) || json_array_size(lim) < 1 || json_array_size(lim) > RL_MAX_LIMITS)
        return pc_err_set(err, "limits", "must be a list of 1 to %d limits", RL_MAX_LIMITS);
    c->nlimits = json_array_size(lim);
    for (size_t i = 0; i < c->nlimits; i++)
        if (rl_parse_limit(json_array_get(lim, i), i, c, err))
            return -1;
    if (c->nlimits > 1)
        for (size_t i = 0; i < c->nlimits; i++)
            if (!json_object_get(json_array_get(lim, i), "name"))
                snprintf(c->names[i], sizeof(c->names[i]), "limit%zu", i + 1);
    return 0;
}

/* "global", "route" or {"group": name}; *group points into v. */
static int rl_parse_scope(const json_t *v, rl_conf_t *c, const char **group, pc_err_t *err)
{
    if (!v)
        return 0;
    if (json_is_string(v) && !strcmp(json_string_value(v), "global")) {
        c->scope = RL_SCOPE_GLOBAL;
    } else if (json_is_string(v) && !strcmp(json_string_value(v), "route")) {
        c->scope = RL_SCOPE_ROUTE;
    } else if (json_is_object(v) && json_object_size(v) == 1 &&
               json_is_string(json_object_get(v, "group")) &&
               pc_conf_token(json_string_value(json_object_get(v, "group")), 64)) {
        c->scope = RL_SCOPE_GROUP;
        *group = json_string_value(json_object_get(v, "group"));
    } else {
        return pc_err_set(err, "scope", "must be \"global\", \"route\" or {\"group\": "
                                        "\"name\"} (1 to 64 token characters)");
    }
    return 0;
}

static int rl_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    rl_conf_t *c = pc_xcalloc(1, sizeof(*c));
    *conf = c;
    if (!(c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
        return pc_err_set(err, NULL, "SHA-256 is not available from OpenSSL");
    const char *group = NULL;
    const json_t *v;
    if (pc_conf_parse(node, NULL, rl_fields, c, err) ||
        rl_parse_limits(json_object_get(node, "limits"), c, err) ||
        rl_parse_scope(json_object_get(node, "scope"), c, &group, err))
        return -1;
    if ((v = json_object_get(node, "key"))) {
        if (rl_parse_key(v, c, err))
            return -1;
    } else {
        c->parts[c->nparts++].kind = RL_SUBJECT;
    }
    if (group) {
        snprintf(c->ns, sizeof(c->ns), "g:%s", group);
    } else {
        /* Canonical JSON (sorted keys) of the whole instance, hashed. */
        char *canon = json_dumps(node, JSON_SORT_KEYS | JSON_COMPACT);
        char h[33];
        if (!canon)
            return pc_err_set(err, NULL, "out of memory");
        rl_hash(c, NULL, canon, strlen(canon), h);
        free(canon);
        snprintf(c->ns, sizeof(c->ns), "i:%.16s", h);
    }
    c->nslen = strlen(c->ns);
    c->policy = rl_policy(c);
    return 0;
}

/* ---- the key ---------------------------------------------------------------- */

/* Appends len bytes of v; -1 (and nothing appended) if they do not fit
 * with a terminating NUL. */
static int rl_cat(char *buf, size_t *n, size_t cap, const char *v, size_t len)
{
    if (len >= cap - *n)
        return -1;
    memcpy(buf + *n, v, len);
    *n += len;
    buf[*n] = '\0';
    return 0;
}

/* Appends "<tag><len>:<value>" (unambiguous whatever the value holds). */
static int rl_put(char *buf, size_t *n, size_t cap, char tag, const char *v, size_t len)
{
    char head[24], digits[20];
    size_t h = 0, d = 0, x = len;
    head[h++] = tag;
    do
        digits[d++] = (char)('0' + x % 10);
    while ((x /= 10) != 0);
    while (d)
        head[h++] = digits[--d];
    head[h++] = ':';
    size_t start = *n;
    if (rl_cat(buf, n, cap, head, h) != 0 || rl_cat(buf, n, cap, v, len) != 0) {
        *n = start;
        buf[start] = '\0';
        return -1;
    }
    return 0;
}

/* The material of the key parts, or -1 if one is missing. */
static int rl_material(pc_request_t *r, const rl_conf_t *c, EVP_MD_CTX *md, char *buf, size_t cap,
                       size_t *n)
{
    for (size_t i = 0; i < c->nparts; i++) {
        const rl_part_t *p = &c->parts[i];
        const char *v = NULL;
        char num[32], h[33];
        switch (p->kind) {
        case RL_SUBJECT:
            v = pc_request_subject(r);
            break;
        case RL_CLIENT_IP:
            v = pc_request_client_ip(r);
            break;
        case RL_HEADER:
            v = pc_request_header(r, p->name);
            if (v && *v) {
                rl_hash(c, md, v, strlen(v), h);
                v = h;
            }
            break;
        case RL_PARAM:
            v = pc_request_param(r, p->name);
            break;
        case RL_CLAIM: {
            const json_t *claims = pc_request_claims(r);
            const json_t *cv = claims ? json_object_get(claims, p->name) : NULL;
            if (json_is_string(cv)) {
                v = json_string_value(cv);
            } else if (json_is_integer(cv)) {
                snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(cv));
                v = num;
            }
            break;
        }
        }
        if (!v || !*v)
            return -1;
        static const char tags[] = {'s', 'i', 'h', 'p', 'c'};
        if (rl_put(buf, n, cap, tags[p->kind], v, strlen(v)) != 0)
            return -1;
    }
    return 0;
}

/* "<ns>:<route or *>:<material>", or "<ns>:x<hash of the rest>"
 * when that is longer than RL_MAX_KEY. key holds RL_MAX_KEY + 1 bytes. */
static size_t rl_key(pc_request_t *r, const rl_conf_t *c, EVP_MD_CTX *md, char *key)
{
    char mat[4096];
    size_t m = 0;
    mat[0] = '\0';
    if (rl_material(r, c, md, mat, sizeof(mat), &m) != 0) {
        /* Missing key material: this client's own bucket, never a shared one. */
        const char *ip = pc_request_client_ip(r);
        m = 0;
        rl_put(mat, &m, sizeof(mat), 'I', ip && *ip ? ip : "-", ip && *ip ? strlen(ip) : 1);
    }
    const char *route = c->scope == RL_SCOPE_ROUTE ? pc_request_route(r) : NULL;
    if (!route)
        route = "*";
    size_t n = 0;
    if (rl_cat(key, &n, RL_MAX_KEY + 1, c->ns, c->nslen) == 0 &&
        rl_cat(key, &n, RL_MAX_KEY + 1, ":", 1) == 0 &&
        rl_cat(key, &n, RL_MAX_KEY + 1, route, strlen(route)) == 0 &&
        rl_cat(key, &n, RL_MAX_KEY + 1, ":", 1) == 0 &&
        rl_cat(key, &n, RL_MAX_KEY + 1, mat, m) == 0)
        return n;
    char h[33], all[4096 + 256];
    int a = snprintf(all, sizeof(all), "%s:%s", route, mat);
    rl_hash(c, md, all, a > 0 ? (size_t)a : 0, h);
    int k = snprintf(key, RL_MAX_KEY + 1, "%s:x%s", c->ns, h);
    return k > 0 ? (size_t)k : 0;
}

/* ---- the verdict --------------------------------------------------------------- */

static unsigned long long rl_secs(uint64_t ms)
{
    return (unsigned long long)((ms + 999) / 1000);
}

static void rl_headers(pc_request_t *r, const rl_conf_t *c, const pc_limit_result_t *res)
{
    char v[128];
    unsigned i = res->index < c->nlimits ? res->index : 0;
    pc_response_header_set(r, "RateLimit-Policy", c->policy);
    snprintf(v, sizeof(v), "\"%s\";r=%llu;t=%llu", c->names[i],
             (unsigned long long)res->remaining, rl_secs(res->reset_ms));
    pc_response_header_set(r, "RateLimit", v);
}

static pc_status_t rl_verdict(pc_request_t *r, const rl_ctx_t *x)
{
    const rl_conf_t *c = x->c;
    if (x->rc != 0) {
        if (c->allow_on_error) {
            static _Atomic long last;
            if (pc_log_every(&last, 10))
                pc_rlog(r, PC_LOG_WARN, "rate limit store unavailable: requests let through "
                                        "(on_error allow; logged every 10 s at most)");
            return PC_CONTINUE;
        }
        return pc_deny_unavailable(r, "rate_limit.store_unavailable",
                                   "the rate limit cannot be checked right now");
    }
    if (x->res.allowed) {
        if (c->headers)
            rl_headers(r, c, &x->res);
        return PC_CONTINUE;
    }
    char ra[32];
    unsigned long long s = rl_secs(x->res.retry_after_ms);
    snprintf(ra, sizeof(ra), "%llu", s ? s : 1);
    rl_headers(r, c, &x->res);
    pc_response_header_set(r, "Retry-After", ra);
    pc_metric_add(c->limited, NULL, 1);
    pc_rlog(r, PC_LOG_DEBUG, "rate limited (limit %s%s)", c->names[x->res.index % RL_MAX_LIMITS],
            x->res.local ? ", local fallback" : "");
    return pc_deny(r, 429, "rate_limit.exceeded", "too many requests");
}

/* The store's answer: inside pc_store_limit (the memory store, or Redis
 * failing fast) or later on this worker. Either way it ends the token. */
static void rl_done(void *data, int rc, const pc_limit_result_t *res)
{
    rl_ctx_t *x = data;
    pc_request_t *r = pc_async_request(x->a);
    if (!r) {
        pc_async_end(x->a, PC_CONTINUE); /* abandoned: only drop the reference */
        return;
    }
    x->rc = rc;
    x->res = *res;
    pc_async_end(x->a, rl_verdict(r, x));
}

static pc_status_t rl_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const rl_conf_t *c = conf;
    rl_ctx_t *x = ctx;
    const rl_wstate_t *ws = pc_worker_state(r, conf);
    char key[RL_MAX_KEY + 1];
    size_t klen = rl_key(r, c, ws ? ws->md : NULL, key);
    x->c = c;
    x->a = pc_async_begin(r, c->timeout_ms, 503);
    pc_store_limit(c->store, key, klen, c->limits, c->nlimits, rl_done, x);
    return PC_SUSPEND;
}

/* The namespace and the counter, shared by every instance (and kept
 * across reloads: registering again returns the same ones). */
static int rl_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    rl_conf_t *c = conf;
    c->store = pc_store_ns(env, RL_NS);
    c->limited = pc_metric_counter(env, "portcullis_ratelimit_limited_total",
                                   "Requests refused by rate_limit (429).", NULL);
    if (!c->store || !c->limited)
        return pc_err_set(err, NULL, "cannot register the store namespace or the metric");
    return 0;
}

static void *rl_worker_init(void *conf, pc_worker_t *w)
{
    (void)conf;
    (void)w;
    rl_wstate_t *ws = calloc(1, sizeof(*ws));
    if (ws && !(ws->md = EVP_MD_CTX_new())) {
        free(ws);
        ws = NULL;
    }
    return ws; /* NULL: requests hash with a context of their own */
}

static void rl_worker_free(void *conf, void *wstate)
{
    (void)conf;
    rl_wstate_t *ws = wstate;
    if (ws)
        EVP_MD_CTX_free(ws->md);
    free(ws);
}

const pc_plugin_t pc_plugin_rate_limit = {
    .abi = PC_PLUGIN_ABI,
    .name = "rate_limit",
    .req_ctx_size = sizeof(rl_ctx_t),
    .conf_create = rl_conf_create,
    .start = rl_start,
    .conf_free = rl_conf_free,
    .worker_init = rl_worker_init,
    .worker_free = rl_worker_free,
    .on_headers = rl_on_headers,
};
