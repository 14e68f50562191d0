/* gateway/conf/conf.c: loads one JSON document into an immutable, reference
 * counted configuration generation (see conf.h and docs/config.md).
 *
 * Everything is validated before anything is used: every problem is
 * collected with its JSON path ("routes[2].match.path_prefix: must start
 * with '/'"), not just the first. Unknown keys are errors at every depth: a
 * typo must never silently switch a security setting off. Scalar options
 * are described by field_t tables (key, type, offset, range, default) and
 * parsed by one helper; structure (arrays, maps, cross references) is code.
 *
 * Main thread only (blocking name resolution, the stable id table, plugin
 * conf_create/start/stop/free). */
#include "conf/conf.h"
#include "ops/metrics.h"
#include "http/path.h"
#include "conf/plugins.h"
#include "store/redis.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sizes that keep a hostile or broken document cheap to refuse. */
#define CONF_MAX_LISTENERS 16
#define CONF_MAX_TRUSTED 256
#define CONF_MAX_UPSTREAMS 1024
#define CONF_MAX_TARGETS 256
#define CONF_MAX_PLUGINS 1024
#define CONF_MAX_ROUTES 10000
#define CONF_MAX_CHAIN 64
#define CONF_MAX_METHODS 16
#define CONF_MAX_NAME 64
#define CONF_MAX_STRING 8192
#define CONF_MAX_PATH 4096
#define CONF_MAX_WORKERS 256

pc_conf_resolve_fn pc_conf_resolve_hook = pc_conf_resolve_getaddrinfo;

/* ---- a small string map (name -> index), keys not owned ---------------- */

typedef struct smap {
    const char **keys;
    unsigned *vals;
    size_t cap, n;
} smap_t;

static size_t smap_slot(const smap_t *m, const char *key)
{
    size_t i = (size_t)pc_hash64(key, strlen(key)) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static const unsigned *smap_get(const smap_t *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = smap_slot(m, key);
    return m->keys[i] ? &m->vals[i] : NULL;
}

static void smap_put(smap_t *m, const char *key, unsigned val)
{
    if (2 * (m->n + 1) > m->cap) {
        smap_t g = {NULL, NULL, m->cap ? 2 * m->cap : 16, 0};
        g.keys = pc_xcalloc(g.cap, sizeof(*g.keys));
        g.vals = pc_xcalloc(g.cap, sizeof(*g.vals));
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                smap_put(&g, m->keys[i], m->vals[i]);
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = smap_slot(m, key);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

static void smap_free(smap_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- stable ids ---------------------------------------------------------- */

/* The registry lives with the metrics (gateway/ops/metrics.c), which read the
 * names back from the admin thread. */
unsigned pc_conf_stable_id(const char *space, const char *name)
{
    return pc_stable_id(space, name);
}

void pc_conf_stable_ids_reset(void)
{
    pc_stable_ids_reset();
}

/* ---- loader state, paths and messages ----------------------------------- */

typedef struct ld {
    pc_diag_t *d;
    pc_conf_t *c;
    size_t nerr;                   /* errors of this load (diag may cap its list) */
    smap_t upstream_names, plugin_names, route_names;
} ld_t;

#define PATH_LEN 640

typedef struct jp {
    char s[PATH_LEN];
} jp_t;

static void ld_err(ld_t *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ld_err(ld_t *l, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->nerr++;
    pc_diag_error(l->d, path, "%s", msg);
}

static void ld_warn(ld_t *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ld_warn(ld_t *l, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pc_diag_warn(l->d, path, "%s", msg);
}

/* Untrusted text for a message: printable ASCII only (anything else as
 * \xHH, quotes and backslashes escaped), at most max input bytes. out must
 * hold 4 * max + 4 bytes. */
static const char *esc(char *out, size_t outlen, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0;
    for (; s[i] && i < max && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (s[i] && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

#define SHOW_MAX 64
#define SHOW_LEN (4 * SHOW_MAX + 8)

/* base + "." + key (escaped), truncated to fit; base may be p->s itself. */
static const char *jp_key(jp_t *p, const char *base, const char *key)
{
    char k[SHOW_LEN];
    esc(k, sizeof(k), key, SHOW_MAX);
    size_t bl = base ? strlen(base) : 0, kl = strlen(k);
    if (bl > sizeof(p->s) - sizeof(k) - 2)
        bl = sizeof(p->s) - sizeof(k) - 2;
    memmove(p->s, base ? base : "", bl);
    if (bl)
        p->s[bl++] = '.';
    memcpy(p->s + bl, k, kl + 1);
    return p->s;
}

static const char *jp_idx(jp_t *p, const char *base, size_t i)
{
    snprintf(p->s, sizeof(p->s), "%.500s[%zu]", base, i);
    return p->s;
}

/* ---- table-driven fields ------------------------------------------------ */

typedef enum ftype { FT_UINT, FT_SIZE, FT_BOOL, FT_STR, FT_OBJ, FT_ARR, FT_ANY } ftype_t;

enum {
    F_REQ = 1u << 0,      /* required */
    F_ROUTE = 1u << 1,    /* limits: may be overridden per route */
    F_EMPTY_OK = 1u << 2, /* FT_STR: "" is allowed */
    F_ROUTED = 1u << 3,   /* limits: only read after routing, from the route */
};

#define NOOFF ((size_t)-1)

typedef struct field {
    const char *key;
    ftype_t type;
    size_t off;           /* into the destination struct; NOOFF: type-checked only */
    unsigned flags;
    long long min, max;   /* FT_UINT, FT_SIZE */
    long long dflt;       /* FT_UINT, FT_SIZE, FT_BOOL */
    const char *sdflt;    /* FT_STR; NULL: stays NULL */
} field_t;

static size_t levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SHOW_MAX || lb > SHOW_MAX)
        return SIZE_MAX;
    size_t row[SHOW_MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void unknown_key(ld_t *l, const char *path, const char *key, const field_t *f, size_t n)
{
    jp_t p;
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t dist = levenshtein(key, f[i].key);
        if (dist < bestd) {
            bestd = dist;
            best = f[i].key;
        }
    }
    if (best)
        ld_err(l, jp_key(&p, path, key), "unknown key (did you mean \"%s\"?)", best);
    else
        ld_err(l, jp_key(&p, path, key), "unknown key");
}

static bool str_ok(ld_t *l, const char *path, const json_t *v, bool empty_ok)
{
    if (!json_is_string(v)) {
        ld_err(l, path, "must be a string");
        return false;
    }
    size_t n = json_string_length(v);
    if (strlen(json_string_value(v)) != n) {
        ld_err(l, path, "must not contain NUL characters");
        return false;
    }
    if (n == 0 && !empty_ok) {
        ld_err(l, path, "must not be empty");
        return false;
    }
    if (n > CONF_MAX_STRING) {
        ld_err(l, path, "longer than %d bytes", CONF_MAX_STRING);
        return false;
    }
    return true;
}

static void *at(void *dst, size_t off)
{
    return (char *)dst + off;
}

/* Checks v against f and stores it into dst. false after reporting. */
static bool field_value(ld_t *l, const char *path, const field_t *f, const json_t *v, void *dst)
{
    bool store = dst && f->off != NOOFF;
    switch (f->type) {
    case FT_UINT:
    case FT_SIZE: {
        if (!json_is_integer(v)) {
            ld_err(l, path, "must be an integer");
            return false;
        }
        long long x = json_integer_value(v);
        if (x < f->min || x > f->max) {
            ld_err(l, path, "must be between %lld and %lld", f->min, f->max);
            return false;
        }
        if (store && f->type == FT_UINT)
            *(unsigned *)at(dst, f->off) = (unsigned)x;
        else if (store)
            *(size_t *)at(dst, f->off) = (size_t)x;
        return true;
    }
    case FT_BOOL:
        if (!json_is_boolean(v)) {
            ld_err(l, path, "must be true or false");
            return false;
        }
        if (store)
            *(bool *)at(dst, f->off) = json_is_true(v);
        return true;
    case FT_STR:
        if (!str_ok(l, path, v, f->flags & F_EMPTY_OK))
            return false;
        if (store) {
            char **sp = at(dst, f->off);
            free(*sp);
            *sp = pc_xstrdup(json_string_value(v));
        }
        return true;
    case FT_OBJ:
        if (!json_is_object(v)) {
            ld_err(l, path, "must be an object");
            return false;
        }
        return true;
    case FT_ARR:
        if (!json_is_array(v)) {
            ld_err(l, path, "must be an array");
            return false;
        }
        return true;
    case FT_ANY:
        return true;
    }
    return false;
}

static void field_defaults(const field_t *f, size_t n, void *dst)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].off == NOOFF)
            continue;
        switch (f[i].type) {
        case FT_UINT:
            *(unsigned *)at(dst, f[i].off) = (unsigned)f[i].dflt;
            break;
        case FT_SIZE:
            *(size_t *)at(dst, f[i].off) = (size_t)f[i].dflt;
            break;
        case FT_BOOL:
            *(bool *)at(dst, f[i].off) = f[i].dflt != 0;
            break;
        case FT_STR: {
            char **sp = at(dst, f[i].off);
            if (f[i].sdflt && !*sp)
                *sp = pc_xstrdup(f[i].sdflt);
            break;
        }
        default:
            break;
        }
    }
}

/* Parses the object v at path against the table: unknown keys, required
 * keys, types, ranges; stores scalars into dst (may be NULL). With
 * defaults, absent fields get their default first. only_flag: fields
 * without it are refused with "only at listener level" (route limits).
 * Returns the mask of fields present and valid (bit i = f[i]); 0 with an
 * error when v is not an object. */
static uint64_t parse_obj(ld_t *l, const json_t *v, const char *path, const field_t *f, size_t n,
                          void *dst, bool defaults, unsigned only_flag)
{
    PC_ASSERT(n <= 64);
    if (dst && defaults)
        field_defaults(f, n, dst);
    if (!json_is_object(v)) {
        ld_err(l, path, "must be an object");
        return 0;
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        size_t i = 0;
        while (i < n && strcmp(f[i].key, key) != 0)
            i++;
        if (i == n)
            unknown_key(l, path, key, f, n);
    }
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        val = json_object_get(v, f[i].key);
        if (!val) {
            if (f[i].flags & F_REQ)
                ld_err(l, jp_key(&p, path, f[i].key), "required");
            continue;
        }
        if (only_flag && !(f[i].flags & only_flag)) {
            ld_err(l, jp_key(&p, path, f[i].key),
                   "only at listener level (or in the global limits)");
            continue;
        }
        if (field_value(l, jp_key(&p, path, f[i].key), &f[i], val, dst))
            mask |= (uint64_t)1 << i;
    }
    return mask;
}

/* The value of a field that parse_obj accepted (mask bit set), else NULL. */
static const json_t *valid(const json_t *obj, uint64_t mask, const field_t *f, size_t i)
{
    return mask & ((uint64_t)1 << i) ? json_object_get(obj, f[i].key) : NULL;
}

/* ---- small validators ---------------------------------------------------- */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CONF_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool check_name(ld_t *l, const char *path, const char *s)
{
    if (name_ok(s))
        return true;
    char b[SHOW_LEN];
    ld_err(l, path, "\"%s\" is not a valid name: 1 to %d of A-Z a-z 0-9 _ . -",
           esc(b, sizeof(b), s, SHOW_MAX), CONF_MAX_NAME);
    return false;
}

/* RFC 9110 token characters (header names). */
static bool token_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* Lower-case host name: dot-separated labels of [a-z0-9_-], 1..63 bytes
 * each, at most 253 in all. */
static bool hostname_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* A name whose last label is numeric (or hex) would be read as an IPv4
 * address by inet_aton-style resolvers ("127.1", "010.0.0.1",
 * "0x7f.1"): refused, only the plain dotted quad is an address. */
static bool looks_numeric(const char *s)
{
    const char *last = strrchr(s, '.');
    last = last ? last + 1 : s;
    if (last[0] == '0' && last[1] == 'x')
        return true;
    for (const char *p = last; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

typedef struct ipaddr {
    int family;
    unsigned char a[16];
} ipaddr_t;

static bool ip_parse(const char *s, ipaddr_t *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, ip->a) == 1) {
        ip->family = AF_INET6;
        return true;
    }
    return false;
}

static bool ip_is_loopback(const ipaddr_t *ip)
{
    static const unsigned char v6lo[16] = {[15] = 1};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (ip->family == AF_INET)
        return ip->a[0] == 127;
    if (memcmp(ip->a, v6lo, 16) == 0)
        return true;
    return memcmp(ip->a, mapped, 12) == 0 && ip->a[12] == 127;
}

static bool ip_is_any(const ipaddr_t *ip)
{
    static const unsigned char zero[16];
    return memcmp(ip->a, zero, ip->family == AF_INET ? 4 : 16) == 0;
}

/* Two sockets that could not both be bound: same port, same family, and
 * the same address or a wildcard on either side. */
static bool endpoints_clash(const ipaddr_t *a, unsigned pa, const ipaddr_t *b, unsigned pb)
{
    if (pa != pb || a->family != b->family)
        return false;
    return ip_is_any(a) || ip_is_any(b) || memcmp(a->a, b->a, 16) == 0;
}

static char *ip_format(const ipaddr_t *ip)
{
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(ip->family, ip->a, buf, sizeof(buf));
    return pc_xstrdup(buf);
}

/* ---- limits ---------------------------------------------------------------- */

#define ROUTED (F_ROUTE | F_ROUTED)
static const field_t limit_fields[] = {
    {"max_url_bytes", FT_SIZE, offsetof(pc_limits_t, max_url_bytes), 0, 64, 1048576, 8192, NULL},
    {"max_header_bytes", FT_SIZE, offsetof(pc_limits_t, max_header_bytes), F_ROUTE, 1024, 1048576,
     16384, NULL},
    {"max_headers", FT_UINT, offsetof(pc_limits_t, max_headers), F_ROUTE, 1, 1000, 100, NULL},
    {"max_body_bytes", FT_SIZE, offsetof(pc_limits_t, max_body_bytes), ROUTED, 0, 1073741824,
     1048576, NULL},
    {"client_idle_timeout_ms", FT_UINT, offsetof(pc_limits_t, client_idle_timeout_ms), 0, 1000,
     3600000, 60000, NULL},
    {"request_timeout_ms", FT_UINT, offsetof(pc_limits_t, request_timeout_ms), ROUTED, 100,
     3600000, 60000, NULL},
    {"max_connections_per_ip", FT_UINT, offsetof(pc_limits_t, max_connections_per_ip), 0, 0,
     1000000, 0, NULL},
    {"response_buffer_bytes", FT_SIZE, offsetof(pc_limits_t, response_buffer_bytes), ROUTED, 4096,
     16777216, 65536, NULL},
};
#undef ROUTED

static void limits_merge(pc_limits_t *dst, const pc_limits_t *src, uint64_t mask)
{
    for (size_t i = 0; i < PC_ARRAY_LEN(limit_fields); i++) {
        if (!(mask & ((uint64_t)1 << i)))
            continue;
        size_t off = limit_fields[i].off;
        if (limit_fields[i].type == FT_UINT)
            *(unsigned *)at(dst, off) = *(const unsigned *)at((void *)src, off);
        else
            *(size_t *)at(dst, off) = *(const size_t *)at((void *)src, off);
    }
}

/* Parses an override block: ov gets the configured values (0 elsewhere),
 * out = base merged with them. A listener's values of the limits that are
 * read after routing would have no effect (routes inherit the global
 * limits): accepted, but -t says so, lest someone believe a public
 * listener is protected by them. */
static void parse_limits_override(ld_t *l, const json_t *v, const char *path,
                                  const pc_limits_t *base, pc_limits_t *out, pc_limits_t *ov,
                                  bool route)
{
    pc_limits_t tmp;
    memset(&tmp, 0, sizeof(tmp));
    *out = *base;
    if (v) {
        uint64_t mask = parse_obj(l, v, path, limit_fields, PC_ARRAY_LEN(limit_fields), &tmp, false,
                                  route ? F_ROUTE : 0);
        limits_merge(out, &tmp, mask);
        for (size_t i = 0; !route && i < PC_ARRAY_LEN(limit_fields); i++) {
            jp_t p;
            if ((mask & ((uint64_t)1 << i)) && (limit_fields[i].flags & F_ROUTED))
                ld_warn(l, jp_key(&p, path, limit_fields[i].key),
                        "no effect on routed requests: routes inherit the global limits "
                        "(set it in the top-level limits or in each route)");
        }
    }
    if (ov)
        *ov = tmp;
}

/* ---- listeners and admin -------------------------------------------------- */

typedef struct endpoint {
    ipaddr_t ip;
    unsigned port;
    bool ok;
} endpoint_t;

static const field_t listen_fields[] = {
    {"address", FT_STR, offsetof(pc_listener_conf_t, address), 0, 0, 0, 0, "0.0.0.0"},
    {"port", FT_UINT, offsetof(pc_listener_conf_t, port), F_REQ, 1, 65535, 0, NULL},
    {"max_connections", FT_UINT, offsetof(pc_listener_conf_t, max_connections), 0, 1, 1000000,
     10000, NULL},
    {"trusted_proxies", FT_ARR, NOOFF, 0, 0, 0, 0, NULL},
    {"limits", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    {"tls", FT_ANY, NOOFF, 0, 0, 0, 0, NULL},
};

static void parse_trusted(ld_t *l, const json_t *arr, const char *path, pc_listener_conf_t *ls)
{
    size_t n = json_array_size(arr);
    if (n > CONF_MAX_TRUSTED) {
        ld_err(l, path, "at most %d networks", CONF_MAX_TRUSTED);
        return;
    }
    ls->trusted_proxies = pc_xcalloc(n, sizeof(pc_cidr_t));
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        jp_idx(&p, path, i);
        const json_t *v = json_array_get(arr, i);
        if (!str_ok(l, p.s, v, false))
            continue;
        char b[SHOW_LEN];
        int rc = pc_cidr_parse(json_string_value(v), &ls->trusted_proxies[ls->ntrusted_proxies]);
        if (rc == -2)
            ld_err(l, p.s, "\"%s\" has bits set after the prefix length",
                   esc(b, sizeof(b), json_string_value(v), SHOW_MAX));
        else if (rc != 0)
            ld_err(l, p.s, "\"%s\" is not an IP network such as 10.0.0.0/8 or ::1/128",
                   esc(b, sizeof(b), json_string_value(v), SHOW_MAX));
        else
            ls->ntrusted_proxies++;
    }
}

static void parse_listener(ld_t *l, const json_t *v, const char *path, pc_listener_conf_t *ls,
                           endpoint_t *ep)
{
    const field_t *f = listen_fields;
    size_t nf = PC_ARRAY_LEN(listen_fields);
    ls->limits = l->c->limits;
    uint64_t mask = parse_obj(l, v, path, f, nf, ls, true, 0);
    jp_t p;
    if (json_is_object(v) && json_object_get(v, "tls"))
        ld_err(l, jp_key(&p, path, "tls"), "tls is not supported yet");
    if (ls->address && (mask & 1u || !json_object_get(v, "address"))) {
        if (!ip_parse(ls->address, &ep->ip)) {
            char b[SHOW_LEN];
            ld_err(l, jp_key(&p, path, "address"),
                   "\"%s\" is not a numeric IPv4 or IPv6 address",
                   esc(b, sizeof(b), ls->address, SHOW_MAX));
        } else {
            free(ls->address);
            ls->address = ip_format(&ep->ip);
            ls->public_ = !ip_is_loopback(&ep->ip);
            ep->port = ls->port;
            ep->ok = (mask & 2u) != 0;
        }
    }
    const json_t *tp = valid(v, mask, f, 3);
    if (tp)
        parse_trusted(l, tp, jp_key(&p, path, "trusted_proxies"), ls);
    const json_t *lim = valid(v, mask, f, 4);
    if (lim)
        parse_limits_override(l, lim, jp_key(&p, path, "limits"), &l->c->limits, &ls->limits, NULL,
                              false);
}

static void parse_listeners(ld_t *l, const json_t *arr, endpoint_t *eps)
{
    pc_conf_t *c = l->c;
    size_t n = json_array_size(arr);
    if (n == 0 || n > CONF_MAX_LISTENERS) {
        ld_err(l, "listen", "must hold 1 to %d listeners", CONF_MAX_LISTENERS);
        return;
    }
    c->listeners = pc_xcalloc(n, sizeof(*c->listeners));
    c->nlisteners = n;
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        jp_idx(&p, "listen", i);
        parse_listener(l, json_array_get(arr, i), p.s, &c->listeners[i], &eps[i]);
        if (!eps[i].ok)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (eps[j].ok && endpoints_clash(&eps[i].ip, eps[i].port, &eps[j].ip, eps[j].port)) {
                ld_err(l, p.s, "address and port overlap listen[%zu]", j);
                break;
            }
        }
    }
}

static const field_t admin_fields[] = {
    {"address", FT_STR, offsetof(pc_conf_t, admin_address), 0, 0, 0, 0, "127.0.0.1"},
    {"port", FT_UINT, offsetof(pc_conf_t, admin_port), F_REQ, 1, 65535, 0, NULL},
};

static void parse_admin(ld_t *l, const json_t *v, const endpoint_t *eps)
{
    pc_conf_t *c = l->c;
    uint64_t mask = parse_obj(l, v, "admin", admin_fields, PC_ARRAY_LEN(admin_fields), c, true, 0);
    if (!c->admin_address || !(mask & 2u) ||
        (json_object_get(v, "address") && !(mask & 1u)))
        return;
    ipaddr_t ip;
    if (!ip_parse(c->admin_address, &ip)) {
        char b[SHOW_LEN];
        ld_err(l, "admin.address", "\"%s\" is not a numeric IPv4 or IPv6 address",
               esc(b, sizeof(b), c->admin_address, SHOW_MAX));
        return;
    }
    free(c->admin_address);
    c->admin_address = ip_format(&ip);
    if (!ip_is_loopback(&ip))
        ld_warn(l, "admin.address",
                "admin listener on a non-loopback address: /metrics and /config are reachable "
                "from the network");
    for (size_t i = 0; i < c->nlisteners; i++) {
        if (eps[i].ok && endpoints_clash(&ip, c->admin_port, &eps[i].ip, eps[i].port)) {
            ld_err(l, "admin", "address and port overlap listen[%zu]: the admin API must never "
                   "be on a public port", i);
            break;
        }
    }
}

/* ---- access log, store, log ----------------------------------------------- */

static const field_t access_log_fields[] = {
    {"path", FT_STR, offsetof(pc_conf_t, access_log_path), 0, 0, 0, 0, "stderr"},
    {"enabled", FT_BOOL, NOOFF, 0, 0, 0, 1, NULL},
};

static void parse_access_log(ld_t *l, const json_t *v)
{
    pc_conf_t *c = l->c;
    uint64_t mask = parse_obj(l, v, "access_log", access_log_fields,
                              PC_ARRAY_LEN(access_log_fields), c, true, 0);
    const char *p = c->access_log_path;
    if (p && strcmp(p, "stderr") != 0 && strcmp(p, "stdout") != 0 && p[0] != '/') {
        ld_err(l, "access_log.path", "must be \"stderr\", \"stdout\" or an absolute file path");
    } else if (p && strlen(p) > CONF_MAX_PATH) {
        ld_err(l, "access_log.path", "longer than %d bytes", CONF_MAX_PATH);
    }
    const json_t *en = valid(v, mask, access_log_fields, 1);
    if (en && json_is_false(en)) {
        free(c->access_log_path);
        c->access_log_path = NULL;
    }
}

enum { ST_TYPE, ST_MAX_BYTES, ST_URL, ST_USERNAME, ST_PASSWORD, ST_CONNECT, ST_COMMAND,
       ST_ON_ERROR, ST_PREFIX, ST_BATCH, ST_LEASE };

static const field_t store_fields[] = {
    [ST_TYPE] = {"type", FT_STR, offsetof(pc_conf_t, store_type), 0, 0, 0, 0, "memory"},
    [ST_MAX_BYTES] = {"max_bytes", FT_SIZE, offsetof(pc_conf_t, store_max_bytes), 0, 1048576,
                      68719476736LL, 67108864, NULL},
    [ST_URL] = {"url", FT_STR, offsetof(pc_conf_t, store_url), 0, 0, 0, 0, NULL},
    [ST_USERNAME] = {"username", FT_STR, offsetof(pc_conf_t, store_username), 0, 0, 0, 0, NULL},
    [ST_PASSWORD] = {"password", FT_ANY, NOOFF, 0, 0, 0, 0, NULL},
    [ST_CONNECT] = {"connect_timeout_ms", FT_UINT, offsetof(pc_conf_t, store_connect_timeout_ms),
                    0, 1, 60000, 500, NULL},
    [ST_COMMAND] = {"command_timeout_ms", FT_UINT, offsetof(pc_conf_t, store_command_timeout_ms),
                    0, 1, 60000, 200, NULL},
    [ST_ON_ERROR] = {"on_error", FT_STR, offsetof(pc_conf_t, store_on_error), 0, 0, 0, 0,
                     "fail_closed"},
    [ST_PREFIX] = {"prefix", FT_STR, offsetof(pc_conf_t, store_prefix), F_EMPTY_OK, 0, 0, 0,
                   "pc:"},
    [ST_BATCH] = {"batch", FT_BOOL, offsetof(pc_conf_t, store_batch), 0, 0, 0, 1, NULL},
    [ST_LEASE] = {"lease_ms", FT_UINT, offsetof(pc_conf_t, store_lease_ms), 0, 0, 10000, 1000,
                  NULL},
};

/* The redis part of "store": URL (resolved to a numeric address here, on
 * the main thread, so that no worker ever waits on DNS), credentials. */
static void parse_store_redis(ld_t *l, const json_t *v, uint64_t mask)
{
    pc_conf_t *c = l->c;
    if (!c->store_url) {
        if (!json_object_get(v, "url"))
            ld_err(l, "store.url", "required for type redis");
        return;
    }
    pc_redis_addr_t a;
    char why[256];
    if (pc_redis_url_parse(c->store_url, &a, why, sizeof(why)) != 0) {
        ld_err(l, "store.url", "%s", why);
        return;
    }
    c->store_port = a.port;
    c->store_db = a.db;
    c->store_unix_path = a.unix_path;
    a.unix_path = NULL;
    if (a.username && c->store_username)
        ld_err(l, "store.username", "given twice (also in store.url)");
    if (a.username && !c->store_username) {
        c->store_username = a.username;
        a.username = NULL;
    }
    if (a.password) {
        if (json_object_get(v, "password"))
            ld_err(l, "store.password", "given twice (also in store.url)");
        ld_warn(l, "store.url", "password written inline in the URL; prefer \"password\": "
                                "{\"env\": \"NAME\"} or {\"file\": \"/path\"}");
        c->store_password = a.password;
        a.password = NULL;
    }
    const json_t *pw = valid(v, mask, store_fields, ST_PASSWORD);
    if (pw && !c->store_password) {
        pc_err_t err = {l->d, "store", 0};
        size_t len = 0;
        c->store_password = pc_conf_secret(v, "password", &len, &err);
        if (err.failed)
            l->nerr++;
        else if (c->store_password && strlen(c->store_password) != len)
            ld_err(l, "store.password", "must not contain NUL characters");
    }
    if (c->store_username && !c->store_password)
        ld_err(l, "store.username", "needs a password");
    if (a.host) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char host[INET6_ADDRSTRLEN];
        struct in6_addr tmp;
        if (inet_pton(AF_INET, a.host, &tmp) == 1 || inet_pton(AF_INET6, a.host, &tmp) == 1) {
            c->store_host = pc_xstrdup(a.host);
        } else if (!pc_conf_resolve_hook) {
            ld_err(l, "store.url", "cannot resolve %s: name resolution is disabled", a.host);
        } else if (pc_conf_resolve_hook(a.host, a.port, &ss, &sl, why, sizeof(why)) != 0) {
            ld_err(l, "store.url", "cannot resolve %s: %s", a.host, why);
        } else {
            const void *src = ss.ss_family == AF_INET6
                                  ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                                  : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
            if (inet_ntop(ss.ss_family, src, host, sizeof(host)))
                c->store_host = pc_xstrdup(host);
            else
                ld_err(l, "store.url", "cannot resolve %s", a.host);
        }
    }
    pc_redis_addr_clear(&a);
}

static void parse_store(ld_t *l, const json_t *v)
{
    pc_conf_t *c = l->c;
    uint64_t mask = parse_obj(l, v, "store", store_fields, PC_ARRAY_LEN(store_fields), c, true, 0);
    if (!json_is_object(v))
        return;
    bool redis = c->store_type && strcmp(c->store_type, "redis") == 0;
    if (c->store_type && !redis && strcmp(c->store_type, "memory") != 0) {
        ld_err(l, "store.type", "must be \"memory\" or \"redis\"");
        return;
    }
    if (!redis) {
        for (size_t i = ST_URL; i < PC_ARRAY_LEN(store_fields); i++)
            if (json_object_get(v, store_fields[i].key)) {
                jp_t p;
                ld_err(l, jp_key(&p, "store", store_fields[i].key), "only for type redis");
            }
        return;
    }
    if (c->store_on_error && strcmp(c->store_on_error, "fail_open") != 0 &&
        strcmp(c->store_on_error, "fail_closed") != 0)
        ld_err(l, "store.on_error", "must be \"fail_open\" or \"fail_closed\"");
    if (c->store_prefix && strlen(c->store_prefix) > 64)
        ld_err(l, "store.prefix", "longer than 64 bytes");
    if (c->store_prefix && (strchr(c->store_prefix, '{') || strchr(c->store_prefix, '}')))
        ld_err(l, "store.prefix", "must not contain { or } (the store adds the hash tag)");
    parse_store_redis(l, v, mask);
}

static const char *const log_levels[] = {"error", "warn", "info", "debug"};

static const field_t log_fields[] = {
    {"level", FT_STR, NOOFF, 0, 0, 0, 0, NULL},
};

static void parse_log(ld_t *l, const json_t *v)
{
    uint64_t mask = parse_obj(l, v, "log", log_fields, PC_ARRAY_LEN(log_fields), NULL, false, 0);
    const json_t *lv = valid(v, mask, log_fields, 0);
    if (!lv)
        return;
    for (size_t i = 0; i < PC_ARRAY_LEN(log_levels); i++) {
        if (strcmp(json_string_value(lv), log_levels[i]) == 0) {
            l->c->log_level = (int)i; /* PC_LOG_ERROR .. PC_LOG_DEBUG */
            return;
        }
    }
    ld_err(l, "log.level", "must be one of error, warn, info, debug");
}

/* ---- upstreams --------------------------------------------------------------- */

static const field_t target_fields[] = {
    {"url", FT_STR, offsetof(pc_target_t, url), F_REQ, 0, 0, 0, NULL},
    {"weight", FT_UINT, offsetof(pc_target_t, weight), 0, 1, PC_LB_WEIGHT_MAX, 1, NULL},
};

/* "ip:port" or "[ip6]:port" of a resolved address: the balancer key and the
 * pool identity. */
static void target_key(const pc_target_t *t, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    const struct sockaddr *sa = (const struct sockaddr *)&t->ut.addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
        snprintf(buf, len, "%s:%u", ip, port);
    } else {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%u", ip, port);
    }
}

static void set_sockaddr(pc_target_t *t, const ipaddr_t *ip, unsigned port)
{
    memset(&t->ut.addr, 0, sizeof(t->ut.addr));
    if (ip->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&t->ut.addr;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        memcpy(&s4->sin_addr, ip->a, 4);
        t->ut.addrlen = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->ut.addr;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        memcpy(&s6->sin6_addr, ip->a, 16);
        t->ut.addrlen = sizeof(*s6);
    }
}

/* http://host[:port][/] with host an IPv4 literal, [IPv6] literal or a DNS
 * name (resolved now through pc_conf_resolve_hook). */
static bool parse_url(ld_t *l, const char *path, pc_target_t *t)
{
    const char *url = t->url;
    char b[SHOW_LEN];
    if (strncasecmp(url, "https://", 8) == 0) {
        ld_err(l, path, "https upstreams are not supported yet");
        return false;
    }
    if (strncasecmp(url, "http://", 7) != 0) {
        if (strstr(url, "://"))
            ld_err(l, path, "scheme must be http://");
        else
            ld_err(l, path, "must be an absolute URL like http://10.0.0.5:8080");
        return false;
    }
    const char *auth = url + 7;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (strchr(rest, '?') || strchr(rest, '#')) {
        ld_err(l, path, "must not have a query or a fragment");
        return false;
    }
    if (*rest && strcmp(rest, "/") != 0) {
        ld_err(l, path, "must not have a path (use the route's rewrite_prefix)");
        return false;
    }
    if (alen == 0 || alen > 300) {
        ld_err(l, path, "must name a host");
        return false;
    }
    char hostbuf[304];
    memcpy(hostbuf, auth, alen);
    hostbuf[alen] = '\0';
    if (strchr(hostbuf, '@')) {
        ld_err(l, path, "must not contain user info");
        return false;
    }
    char *host = hostbuf, *portp = NULL;
    bool v6 = false;
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close) {
            ld_err(l, path, "unterminated [IPv6] address");
            return false;
        }
        *close = '\0';
        host++;
        v6 = true;
        if (close[1] == ':')
            portp = close + 2;
        else if (close[1]) {
            ld_err(l, path, "unexpected text after ']'");
            return false;
        }
    } else {
        char *colon = strchr(host, ':');
        if (colon) {
            *colon = '\0';
            portp = colon + 1;
        }
    }
    unsigned port = 80;
    if (portp) {
        size_t pl = strlen(portp);
        if (pl == 0 || pl > 5 || strspn(portp, "0123456789") != pl || atoi(portp) < 1 ||
            atoi(portp) > 65535) {
            ld_err(l, path, "port must be 1 to 65535");
            return false;
        }
        port = (unsigned)atoi(portp);
    }
    lower(host);
    ipaddr_t ip;
    char authority[320];
    if (v6) {
        if (inet_pton(AF_INET6, host, ip.a) != 1) {
            ld_err(l, path, "\"%s\" is not an IPv6 address", esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        ip.family = AF_INET6;
        set_sockaddr(t, &ip, port);
        snprintf(authority, sizeof(authority), "[%s]", host);
    } else if (inet_pton(AF_INET, host, ip.a) == 1) {
        ip.family = AF_INET;
        set_sockaddr(t, &ip, port);
        snprintf(authority, sizeof(authority), "%s", host);
    } else {
        if (!hostname_ok(host)) {
            ld_err(l, path, "\"%s\" is not a host name or IP address",
                   esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        if (looks_numeric(host)) {
            ld_err(l, path, "\"%s\" is not an IPv4 address (write four decimal numbers)",
                   esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        if (!pc_conf_resolve_hook) {
            ld_err(l, path, "cannot resolve \"%s\": name resolution is disabled",
                   esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        char why[256] = "";
        socklen_t alen2 = 0;
        memset(&t->ut.addr, 0, sizeof(t->ut.addr));
        if (pc_conf_resolve_hook(host, port, &t->ut.addr, &alen2, why, sizeof(why)) != 0 ||
            (t->ut.addr.ss_family != AF_INET && t->ut.addr.ss_family != AF_INET6)) {
            ld_err(l, path, "cannot resolve \"%s\": %s", esc(b, sizeof(b), host, SHOW_MAX),
                   why[0] ? why : "no address");
            return false;
        }
        t->ut.addrlen = alen2;
        /* The port is ours, whatever the resolver filled in. */
        if (t->ut.addr.ss_family == AF_INET)
            ((struct sockaddr_in *)&t->ut.addr)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)&t->ut.addr)->sin6_port = htons((uint16_t)port);
        snprintf(authority, sizeof(authority), "%s", host);
    }
    if (port != 80) {
        size_t al = strlen(authority);
        snprintf(authority + al, sizeof(authority) - al, ":%u", port);
    }
    t->authority = pc_xstrdup(authority);
    return true;
}

static bool same_sockaddr(const pc_target_t *a, const pc_target_t *b)
{
    const struct sockaddr *x = (const void *)&a->ut.addr, *y = (const void *)&b->ut.addr;
    if (x->sa_family != y->sa_family)
        return false;
    if (x->sa_family == AF_INET) {
        const struct sockaddr_in *p = (const void *)x, *q = (const void *)y;
        return p->sin_port == q->sin_port && p->sin_addr.s_addr == q->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *p = (const void *)x, *q = (const void *)y;
    return p->sin6_port == q->sin6_port && memcmp(&p->sin6_addr, &q->sin6_addr, 16) == 0;
}

static bool parse_targets(ld_t *l, const json_t *arr, const char *path, pc_upstream_conf_t *u)
{
    size_t n = json_array_size(arr);
    if (n == 0 || n > CONF_MAX_TARGETS) {
        ld_err(l, path, "must hold 1 to %d targets", CONF_MAX_TARGETS);
        return false;
    }
    u->targets = pc_xcalloc(n, sizeof(*u->targets));
    u->ntargets = n;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        jp_t p, q;
        jp_idx(&p, path, i);
        pc_target_t *t = &u->targets[i];
        const json_t *v = json_array_get(arr, i);
        uint64_t mask =
            parse_obj(l, v, p.s, target_fields, PC_ARRAY_LEN(target_fields), t, true, 0);
        if (!(mask & 1u) || !parse_url(l, jp_key(&q, p.s, "url"), t)) {
            ok = false;
            continue;
        }
        if (json_object_get(v, "weight") && !(mask & 2u))
            ok = false;
        for (size_t j = 0; j < i; j++) {
            if (u->targets[j].authority && same_sockaddr(t, &u->targets[j])) {
                ld_err(l, p.s, "same address as targets[%zu]", j);
                ok = false;
                break;
            }
        }
    }
    return ok;
}

static const field_t timeout_fields[] = {
    {"connect_ms", FT_UINT, offsetof(pc_upstream_conf_t, connect_timeout_ms), 0, 1, 600000, 1000,
     NULL},
    {"response_ms", FT_UINT, offsetof(pc_upstream_conf_t, response_timeout_ms), 0, 1, 600000,
     15000, NULL},
};

static const field_t hash_header_fields[] = {
    {"header", FT_STR, offsetof(pc_upstream_conf_t, hash_header), F_REQ, 0, 0, 0, NULL},
};

#define HASH_KEY_FORMS "must be \"client_ip\", \"subject\", \"path\" or {\"header\": \"Name\"}"

static void parse_hash_key(ld_t *l, const json_t *v, const char *path, pc_upstream_conf_t *u)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "client_ip") == 0)
            u->hash_key = PC_HASH_CLIENT_IP;
        else if (strcmp(s, "subject") == 0)
            u->hash_key = PC_HASH_SUBJECT;
        else if (strcmp(s, "path") == 0)
            u->hash_key = PC_HASH_PATH;
        else
            ld_err(l, path, HASH_KEY_FORMS);
        return;
    }
    if (!json_is_object(v)) {
        ld_err(l, path, HASH_KEY_FORMS);
        return;
    }
    uint64_t mask = parse_obj(l, v, path, hash_header_fields, 1, u, false, 0);
    if (!(mask & 1u))
        return;
    jp_t p;
    if (!token_ok(u->hash_header) || strlen(u->hash_header) > 256) {
        ld_err(l, jp_key(&p, path, "header"), "not a header name");
        return;
    }
    u->hash_key = PC_HASH_HEADER;
}

static const field_t upstream_fields[] = {
    {"targets", FT_ARR, NOOFF, F_REQ, 0, 0, 0, NULL},
    {"balancer", FT_STR, NOOFF, 0, 0, 0, 0, NULL},
    {"hash_key", FT_ANY, NOOFF, 0, 0, 0, 0, NULL},
    {"timeouts", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    {"pass_host", FT_BOOL, offsetof(pc_upstream_conf_t, pass_host), 0, 0, 0, 0, NULL},
};

static void parse_upstream(ld_t *l, const json_t *v, const char *path, pc_upstream_conf_t *u)
{
    const field_t *f = upstream_fields;
    jp_t p;
    u->balancer = PC_LB_ROUND_ROBIN;
    u->hash_key = PC_HASH_CLIENT_IP;
    field_defaults(timeout_fields, PC_ARRAY_LEN(timeout_fields), u);
    size_t e0 = l->nerr;
    uint64_t mask = parse_obj(l, v, path, f, PC_ARRAY_LEN(upstream_fields), u, true, 0);
    const json_t *bal = valid(v, mask, f, 1);
    if (bal && pc_lb_kind_parse(json_string_value(bal), &u->balancer) != 0)
        ld_err(l, jp_key(&p, path, "balancer"),
               "must be one of round_robin, least_conn, hash, random_two");
    const json_t *hk = valid(v, mask, f, 2);
    if (hk) {
        parse_hash_key(l, hk, jp_key(&p, path, "hash_key"), u);
        if (u->balancer != PC_LB_HASH)
            ld_warn(l, p.s, "only used by the hash balancer (this one is %s)",
                    pc_lb_kind_name(u->balancer));
    }
    const json_t *to = valid(v, mask, f, 3);
    if (to)
        parse_obj(l, to, jp_key(&p, path, "timeouts"), timeout_fields,
                  PC_ARRAY_LEN(timeout_fields), u, false, 0);
    const json_t *tg = valid(v, mask, f, 0);
    if (!tg || !parse_targets(l, tg, jp_key(&p, path, "targets"), u) || l->nerr != e0)
        return;
    unsigned weights[CONF_MAX_TARGETS];
    char keybuf[CONF_MAX_TARGETS][INET6_ADDRSTRLEN + 10];
    const char *keys[CONF_MAX_TARGETS];
    for (size_t i = 0; i < u->ntargets; i++) {
        weights[i] = u->targets[i].weight;
        target_key(&u->targets[i], keybuf[i], sizeof(keybuf[i]));
        keys[i] = keybuf[i];
    }
    u->lb = pc_lb_new(u->balancer, u->ntargets, weights, keys);
    if (!u->lb)
        ld_err(l, path, "cannot build the %s balancer", pc_lb_kind_name(u->balancer));
}

static void parse_upstreams(ld_t *l, const json_t *obj)
{
    pc_conf_t *c = l->c;
    size_t n = json_object_size(obj);
    if (n > CONF_MAX_UPSTREAMS) {
        ld_err(l, "upstreams", "at most %d upstreams", CONF_MAX_UPSTREAMS);
        return;
    }
    c->upstreams = pc_xcalloc(n, sizeof(*c->upstreams));
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)obj, name, v) {
        jp_t p;
        jp_key(&p, "upstreams", name);
        pc_upstream_conf_t *u = &c->upstreams[c->nupstreams];
        u->index = (unsigned)c->nupstreams++;
        u->name = pc_xstrdup(name);
        if (check_name(l, p.s, name))
            smap_put(&l->upstream_names, u->name, u->index);
        parse_upstream(l, v, p.s, u);
    }
}

/* ---- plugins ----------------------------------------------------------------- */

static void create_plugin(ld_t *l, const json_t *v, const char *path, pc_plugin_inst_t *pi)
{
    jp_t p;
    char b[SHOW_LEN];
    if (!json_is_object(v)) {
        ld_err(l, path, "must be an object");
        return;
    }
    const json_t *t = json_object_get(v, "type");
    if (!t) {
        ld_err(l, jp_key(&p, path, "type"), "required");
        return;
    }
    if (!str_ok(l, jp_key(&p, path, "type"), t, false))
        return;
    const pc_plugin_t *type = pc_plugin_find(json_string_value(t));
    if (!type) {
        ld_err(l, p.s, "unknown plugin type \"%s\"",
               esc(b, sizeof(b), json_string_value(t), SHOW_MAX));
        return;
    }
    if (type->abi != PC_PLUGIN_ABI) {
        ld_err(l, p.s, "plugin type \"%s\" was built for plugin ABI %u, not %u", type->name,
               type->abi, PC_PLUGIN_ABI);
        return;
    }
    /* A shallow copy without "type": plugins see only their own keys and
     * refuse unknown ones. The values are shared, read-only. */
    json_t *node = json_copy((json_t *)v);
    if (!node)
        pc_assert_fail("json_copy", __FILE__, __LINE__);
    json_object_del(node, "type");
    pc_err_t err = {l->d, path, 0};
    void *conf = NULL;
    int rc = type->conf_create ? type->conf_create(node, &conf, &err) : 0;
    json_decref(node);
    if (rc == 0 && !err.failed) {
        pi->type = type;
        pi->conf = conf;
        return;
    }
    /* A plugin may fail after setting *conf (partly built): it is freed
     * here, so a plugin that frees its own partial state must leave *conf
     * NULL. conf_free never sees NULL. */
    if (conf && type->conf_free)
        type->conf_free(conf);
    l->nerr++;
    if (!err.failed)
        pc_diag_error(l->d, path, "invalid configuration (plugin %s gave no reason)", type->name);
}

static void parse_plugins(ld_t *l, const json_t *obj)
{
    pc_conf_t *c = l->c;
    size_t n = json_object_size(obj);
    if (n > CONF_MAX_PLUGINS) {
        ld_err(l, "plugins", "at most %d plugins", CONF_MAX_PLUGINS);
        return;
    }
    c->plugins = pc_xcalloc(n, sizeof(*c->plugins));
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)obj, name, v) {
        jp_t p;
        jp_key(&p, "plugins", name);
        pc_plugin_inst_t *pi = &c->plugins[c->nplugins];
        pi->index = (unsigned)c->nplugins++;
        pi->name = pc_xstrdup(name);
        if (check_name(l, p.s, name))
            smap_put(&l->plugin_names, pi->name, pi->index);
        create_plugin(l, v, p.s, pi);
    }
}

/* Resolves a list of plugin names, appending to chain (which already holds
 * nchain entries, e.g. the global ones). */
static void parse_chain(ld_t *l, const json_t *arr, const char *path, pc_plugin_inst_t **chain,
                        size_t *nchain, size_t nglobal)
{
    size_t n = json_array_size(arr);
    if (n + *nchain > CONF_MAX_CHAIN) {
        ld_err(l, path, "a chain holds at most %d plugins (global_plugins included)",
               CONF_MAX_CHAIN);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        char b[SHOW_LEN];
        jp_idx(&p, path, i);
        const json_t *v = json_array_get(arr, i);
        if (!str_ok(l, p.s, v, false))
            continue;
        const char *name = json_string_value(v);
        const unsigned *idx = smap_get(&l->plugin_names, name);
        if (!idx) {
            ld_err(l, p.s, "no plugin named \"%s\" in plugins", esc(b, sizeof(b), name, SHOW_MAX));
            continue;
        }
        pc_plugin_inst_t *pi = &l->c->plugins[*idx];
        size_t j = 0;
        while (j < *nchain && chain[j] != pi)
            j++;
        if (j < *nchain) {
            ld_err(l, p.s, "plugin \"%s\" is already in the chain%s", pi->name,
                   j < nglobal ? " (global_plugins)" : "");
            continue;
        }
        chain[(*nchain)++] = pi;
    }
}

/* ---- routes -------------------------------------------------------------- */

/* A route path must be what pc_path_canonicalize() makes of request paths,
 * or it could never match. Template params "{name}" are whole segments. */
static bool check_route_path(ld_t *l, const char *path, const char *s, pc_path_kind_t kind)
{
    char b[SHOW_LEN];
    size_t n = strlen(s);
    if (s[0] != '/') {
        ld_err(l, path, "must start with '/'");
        return false;
    }
    if (n > CONF_MAX_PATH) {
        ld_err(l, path, "longer than %d bytes", CONF_MAX_PATH);
        return false;
    }
    if (strchr(s, '\\')) {
        ld_err(l, path, "must not contain '\\'");
        return false;
    }
    if (strstr(s, "//")) {
        ld_err(l, path, "must not contain \"//\"");
        return false;
    }
    if (strstr(s, "/./") || strstr(s, "/../") || (n >= 2 && strcmp(s + n - 2, "/.") == 0) ||
        (n >= 3 && strcmp(s + n - 3, "/..") == 0)) {
        ld_err(l, path, "must not contain \".\" or \"..\" segments");
        return false;
    }
    if (strcasestr(s, "%2f") || strcasestr(s, "%5c") || strstr(s, "%00")) {
        ld_err(l, path, "must not contain %%2F, %%5C or %%00");
        return false;
    }
    /* Templates: check and blank out the params, then canonicalise. */
    char *copy = pc_xstrdup(s);
    const char *names[PC_ROUTER_MAX_PARAMS];
    size_t nnames[PC_ROUTER_MAX_PARAMS], nparams = 0;
    bool ok = true;
    for (char *seg = copy + 1; ok;) {
        char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        bool brace = memchr(seg, '{', len) || memchr(seg, '}', len);
        if (brace && kind != PC_MATCH_TEMPLATE) {
            ld_err(l, path, "'{' and '}' are only allowed in path_template");
            ok = false;
        } else if (brace) {
            bool good = len >= 3 && seg[0] == '{' && seg[len - 1] == '}' &&
                        ((seg[1] >= 'a' && seg[1] <= 'z') || (seg[1] >= 'A' && seg[1] <= 'Z') ||
                         seg[1] == '_');
            for (size_t i = 2; good && i + 1 < len; i++) {
                char c = seg[i];
                good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '_';
            }
            if (!good) {
                ld_err(l, path,
                       "a param is a whole segment \"{name}\", name [A-Za-z_][A-Za-z0-9_]*");
                ok = false;
            } else if (nparams == PC_ROUTER_MAX_PARAMS) {
                ld_err(l, path, "at most %d params", PC_ROUTER_MAX_PARAMS);
                ok = false;
            } else {
                const char *name = s + (seg - copy) + 1;
                for (size_t i = 0; i < nparams; i++) {
                    if (nnames[i] == len - 2 && memcmp(names[i], name, len - 2) == 0) {
                        ld_err(l, path, "param \"%.*s\" is used twice", (int)(len - 2), seg + 1);
                        ok = false;
                    }
                }
                names[nparams] = name;
                nnames[nparams++] = len - 2;
                memset(seg, '_', len);
            }
        }
        if (!end)
            break;
        seg = end + 1;
    }
    if (ok) {
        size_t cn = strlen(copy), outlen = 0;
        char *out = pc_xmalloc(PC_PATH_OUT_SIZE(cn));
        pc_path_err_t e = pc_path_canonicalize(copy, cn, out, &outlen);
        if (e != PC_PATH_OK) {
            ld_err(l, path, "not a valid path: %s", pc_path_strerror(e));
            ok = false;
        } else if (outlen != cn || memcmp(out, copy, cn) != 0) {
            if (kind == PC_MATCH_TEMPLATE)
                ld_err(l, path, "must be canonical (percent-encode other characters, uppercase "
                       "hex, do not encode A-Z a-z 0-9 - . _ ~)");
            else
                ld_err(l, path, "must be canonical: write \"%s\"",
                       esc(b, sizeof(b), out, SHOW_MAX));
            ok = false;
        }
        free(out);
    }
    free(copy);
    return ok;
}

static bool check_route_host(ld_t *l, const char *path, char *host)
{
    char b[SHOW_LEN];
    lower(host);
    const char *name = host;
    if (host[0] == '*' && host[1] == '.')
        name = host + 2;
    if (name[0] == '[' && name == host) {
        size_t n = strlen(host);
        unsigned char a[16];
        char inner[INET6_ADDRSTRLEN + 1];
        if (n >= 3 && n - 2 < sizeof(inner) && host[n - 1] == ']') {
            memcpy(inner, host + 1, n - 2);
            inner[n - 2] = '\0';
            if (inet_pton(AF_INET6, inner, a) == 1)
                return true;
        }
    } else if (hostname_ok(name) && strlen(host) <= PC_ROUTER_MAX_HOST) {
        return true;
    }
    ld_err(l, path, "\"%s\" is not a host name, \"*.\" + a host name, or [IPv6] (no port)",
           esc(b, sizeof(b), host, SHOW_MAX));
    return false;
}

static bool parse_methods(ld_t *l, const json_t *arr, const char *path, unsigned *out)
{
    size_t n = json_array_size(arr);
    if (n == 0 || n > CONF_MAX_METHODS) {
        ld_err(l, path, "must hold 1 to %d methods (leave it out to allow every method)",
               CONF_MAX_METHODS);
        return false;
    }
    bool ok = true;
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        char b[SHOW_LEN];
        jp_idx(&p, path, i);
        const json_t *v = json_array_get(arr, i);
        if (!str_ok(l, p.s, v, false)) {
            ok = false;
            continue;
        }
        const char *m = json_string_value(v);
        unsigned bit = pc_method_bit(m);
        if (bit == PC_M_OTHER || !bit) {
            char up[16];
            size_t ml = strlen(m);
            unsigned ubit = PC_M_OTHER;
            if (ml < sizeof(up)) {
                memcpy(up, m, ml + 1);
                for (char *c = up; *c; c++)
                    if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 32);
                ubit = pc_method_bit(up);
            }
            if (ubit != PC_M_OTHER && ubit)
                ld_err(l, p.s, "methods are case-sensitive: write \"%s\"", up);
            else
                ld_err(l, p.s, "unknown method \"%s\"", esc(b, sizeof(b), m, SHOW_MAX));
            ok = false;
            continue;
        }
        if (mask & bit) {
            ld_err(l, p.s, "\"%s\" is listed twice", m);
            ok = false;
        }
        mask |= bit;
    }
    *out = mask;
    return ok;
}

static const field_t match_fields[] = {
    {"host", FT_STR, offsetof(pc_route_conf_t, host), 0, 0, 0, 0, NULL},
    {"path", FT_STR, NOOFF, 0, 0, 0, 0, NULL},
    {"path_prefix", FT_STR, NOOFF, 0, 0, 0, 0, NULL},
    {"path_template", FT_STR, NOOFF, 0, 0, 0, 0, NULL},
    {"methods", FT_ARR, NOOFF, 0, 0, 0, 0, NULL},
};

static bool parse_match(ld_t *l, const json_t *v, const char *path, pc_route_conf_t *r)
{
    static const pc_path_kind_t kinds[] = {PC_MATCH_EXACT, PC_MATCH_PREFIX, PC_MATCH_TEMPLATE};
    size_t e0 = l->nerr;
    jp_t p;
    uint64_t mask = parse_obj(l, v, path, match_fields, PC_ARRAY_LEN(match_fields), r, false, 0);
    if (!json_is_object(v))
        return false;
    size_t nkinds = 0;
    for (size_t i = 1; i <= 3; i++)
        nkinds += json_object_get(v, match_fields[i].key) != NULL;
    if (nkinds == 0)
        ld_err(l, path, "one of path, path_prefix or path_template is required");
    else if (nkinds > 1)
        ld_err(l, path, "path, path_prefix and path_template are exclusive: use one");
    for (size_t i = 1; i <= 3 && nkinds == 1; i++) {
        const json_t *pv = valid(v, mask, match_fields, i);
        if (!pv)
            continue;
        r->kind = kinds[i - 1];
        if (check_route_path(l, jp_key(&p, path, match_fields[i].key), json_string_value(pv),
                             r->kind))
            r->path = pc_xstrdup(json_string_value(pv));
    }
    if (r->host && !check_route_host(l, jp_key(&p, path, "host"), r->host)) {
        free(r->host);
        r->host = NULL;
    }
    const json_t *mv = valid(v, mask, match_fields, 4);
    if (mv)
        parse_methods(l, mv, jp_key(&p, path, "methods"), &r->methods);
    return l->nerr == e0 && r->path;
}

static const field_t route_fields[] = {
    {"name", FT_STR, NOOFF, F_REQ, 0, 0, 0, NULL},
    {"match", FT_OBJ, NOOFF, F_REQ, 0, 0, 0, NULL},
    {"upstream", FT_STR, NOOFF, 0, 0, 0, 0, NULL},
    {"plugins", FT_ARR, NOOFF, 0, 0, 0, 0, NULL},
    {"rewrite_prefix", FT_STR, NOOFF, F_EMPTY_OK, 0, 0, 0, NULL},
    {"limits", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
};

/* Returns true when the route may go into the router. */
static bool parse_route(ld_t *l, const json_t *v, const char *path, pc_route_conf_t *r)
{
    pc_conf_t *c = l->c;
    const field_t *f = route_fields;
    jp_t p;
    char b[SHOW_LEN];
    r->limits = c->limits;
    uint64_t mask = parse_obj(l, v, path, f, PC_ARRAY_LEN(route_fields), NULL, false, 0);
    if (!json_is_object(v))
        return false;

    const json_t *nv = valid(v, mask, f, 0);
    if (nv && check_name(l, jp_key(&p, path, "name"), json_string_value(nv))) {
        r->name = pc_xstrdup(json_string_value(nv));
        const unsigned *other = smap_get(&l->route_names, r->name);
        if (other)
            ld_err(l, p.s, "\"%s\" is already the name of routes[%u]", r->name, *other);
        else
            smap_put(&l->route_names, r->name, r->index);
    }

    const json_t *mv = valid(v, mask, f, 1);
    bool match_ok = mv && parse_match(l, mv, jp_key(&p, path, "match"), r);

    const json_t *uv = valid(v, mask, f, 2);
    if (uv) {
        const unsigned *idx = smap_get(&l->upstream_names, json_string_value(uv));
        if (idx)
            r->upstream = &c->upstreams[*idx];
        else
            ld_err(l, jp_key(&p, path, "upstream"), "no upstream named \"%s\" in upstreams",
                   esc(b, sizeof(b), json_string_value(uv), SHOW_MAX));
    }

    r->chain = pc_xcalloc(CONF_MAX_CHAIN, sizeof(*r->chain));
    for (size_t i = 0; i < c->nglobal_chain; i++)
        r->chain[r->nchain++] = c->global_chain[i];
    const json_t *pv = valid(v, mask, f, 3);
    if (pv)
        parse_chain(l, pv, jp_key(&p, path, "plugins"), r->chain, &r->nchain, c->nglobal_chain);
    r->chain = pc_xrealloc(r->chain, (r->nchain ? r->nchain : 1) * sizeof(*r->chain));
    bool own_plugins = pv && json_array_size(pv) > 0;
    if (!json_object_get(v, "upstream")) {
        if (own_plugins)
            ld_warn(l, path, "route has no upstream; it can only answer from plugins");
        else
            ld_err(l, jp_key(&p, path, "upstream"),
                   "required (only a route whose plugins answer every request may omit it)");
    }
    for (size_t i = 0; i < r->nchain; i++) {
        const pc_plugin_t *t = r->chain[i]->type;
        if (t && (t->flags & PC_PLUGIN_NEEDS_BODY))
            r->needs_body = true;
        if (t && (t->flags & PC_PLUGIN_AUTHENTICATES))
            r->authenticated = true;
    }

    const json_t *rw = valid(v, mask, f, 4);
    if (rw) {
        const char *s = json_string_value(rw);
        jp_key(&p, path, "rewrite_prefix");
        if (match_ok && r->kind != PC_MATCH_PREFIX)
            ld_err(l, p.s, "only with match.path_prefix");
        else if (!*s || strcmp(s, "/") == 0)
            r->rewrite_prefix = pc_xstrdup("");
        else if (check_route_path(l, p.s, s, PC_MATCH_PREFIX))
            r->rewrite_prefix = pc_xstrdup(s);
    }

    parse_limits_override(l, valid(v, mask, f, 5), jp_key(&p, path, "limits"), &c->limits,
                          &r->limits, &r->overrides, true);
    return match_ok;
}

static void add_route(ld_t *l, const char *path, pc_route_conf_t *r)
{
    pc_route_spec_t spec = {r->host, r->kind, r->path, r->methods, r};
    char why[256] = "";
    if (pc_router_add(l->c->router, &spec, why, sizeof(why)) != 0) {
        jp_t p;
        ld_err(l, jp_key(&p, path, "match"), "%s", why[0] ? why : "refused by the router");
    }
}

static void parse_routes(ld_t *l, const json_t *arr)
{
    pc_conf_t *c = l->c;
    size_t n = json_array_size(arr);
    c->router = pc_router_new();
    if (n > CONF_MAX_ROUTES) {
        ld_err(l, "routes", "at most %d routes", CONF_MAX_ROUTES);
        return;
    }
    if (n == 0)
        ld_warn(l, "routes", "no routes: every request gets 404");
    c->routes = pc_xcalloc(n, sizeof(*c->routes));
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        jp_idx(&p, "routes", i);
        pc_route_conf_t *r = &c->routes[c->nroutes];
        r->index = (unsigned)c->nroutes++;
        if (parse_route(l, json_array_get(arr, i), p.s, r))
            add_route(l, p.s, r);
        if (!r->authenticated && r->name)
            ld_warn(l, p.s, "no authentication plugin: anyone can call it (route \"%s\")",
                    r->name);
        else if (!r->authenticated)
            ld_warn(l, p.s, "no authentication plugin: anyone can call it");
    }
}

/* ---- the document ------------------------------------------------------- */

enum {
    TOP_WORKERS, TOP_USER, TOP_DRAIN, TOP_LOG, TOP_LIMITS, TOP_LISTEN, TOP_ADMIN, TOP_ACCESS_LOG,
    TOP_STORE, TOP_UPSTREAMS, TOP_PLUGINS, TOP_GLOBAL_PLUGINS, TOP_ROUTES,
};

static const field_t top_fields[] = {
    [TOP_WORKERS] = {"workers", FT_UINT, offsetof(pc_conf_t, workers), 0, 0, CONF_MAX_WORKERS, 0,
                     NULL},
    [TOP_USER] = {"user", FT_STR, offsetof(pc_conf_t, user), 0, 0, 0, 0, NULL},
    [TOP_DRAIN] = {"drain_timeout_ms", FT_UINT, offsetof(pc_conf_t, drain_timeout_ms), 0, 0,
                   600000, 10000, NULL},
    [TOP_LOG] = {"log", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_LIMITS] = {"limits", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_LISTEN] = {"listen", FT_ARR, NOOFF, F_REQ, 0, 0, 0, NULL},
    [TOP_ADMIN] = {"admin", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_ACCESS_LOG] = {"access_log", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_STORE] = {"store", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_UPSTREAMS] = {"upstreams", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_PLUGINS] = {"plugins", FT_OBJ, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_GLOBAL_PLUGINS] = {"global_plugins", FT_ARR, NOOFF, 0, 0, 0, 0, NULL},
    [TOP_ROUTES] = {"routes", FT_ARR, NOOFF, F_REQ, 0, 0, 0, NULL},
};

static void check_user(ld_t *l, const char *u)
{
    size_t n = strlen(u);
    bool ok = n > 0 && n <= 32 && u[0] != '-';
    for (size_t i = 0; ok && i < n; i++) {
        char c = u[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    }
    if (!ok)
        ld_err(l, "user", "not a user name");
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > CONF_MAX_WORKERS ? CONF_MAX_WORKERS : (unsigned)n;
}

static unsigned next_generation;

static void load_document(ld_t *l, const json_t *root)
{
    pc_conf_t *c = l->c;
    const field_t *f = top_fields;
    uint64_t mask = parse_obj(l, root, "", f, PC_ARRAY_LEN(top_fields), c, true, 0);
    if (!json_is_object(root))
        return;
    if (c->user && (mask & (1u << TOP_USER)))
        check_user(l, c->user);
    if (c->workers == 0)
        c->workers = online_cpus();
    c->log_level = PC_LOG_INFO;
    const json_t *v;
    if ((v = valid(root, mask, f, TOP_LOG)))
        parse_log(l, v);

    field_defaults(limit_fields, PC_ARRAY_LEN(limit_fields), &c->limits);
    if ((v = valid(root, mask, f, TOP_LIMITS)))
        parse_obj(l, v, "limits", limit_fields, PC_ARRAY_LEN(limit_fields), &c->limits, false, 0);

    endpoint_t eps[CONF_MAX_LISTENERS];
    memset(eps, 0, sizeof(eps));
    if ((v = valid(root, mask, f, TOP_LISTEN)))
        parse_listeners(l, v, eps);
    if ((v = valid(root, mask, f, TOP_ADMIN)))
        parse_admin(l, v, eps);
    if ((v = valid(root, mask, f, TOP_ACCESS_LOG)))
        parse_access_log(l, v);
    field_defaults(store_fields, PC_ARRAY_LEN(store_fields), c);
    if ((v = valid(root, mask, f, TOP_STORE)))
        parse_store(l, v);

    if ((v = valid(root, mask, f, TOP_UPSTREAMS)))
        parse_upstreams(l, v);
    if ((v = valid(root, mask, f, TOP_PLUGINS)))
        parse_plugins(l, v);
    c->global_chain = pc_xcalloc(CONF_MAX_CHAIN, sizeof(*c->global_chain));
    if ((v = valid(root, mask, f, TOP_GLOBAL_PLUGINS)))
        parse_chain(l, v, "global_plugins", c->global_chain, &c->nglobal_chain, 0);
    if ((v = valid(root, mask, f, TOP_ROUTES)))
        parse_routes(l, v);

    for (size_t i = 0; i < c->nlisteners; i++)
        if (c->listeners[i].public_)
            ld_warn(l, jp_idx(&(jp_t){{0}}, "listen", i), "public listener without TLS");
}

/* Ids only for a generation that will be used: refused documents (and the
 * fuzzer) leave the table alone. Target ids index the per-worker pools,
 * which upstream.h bounds below 65536. */
static void assign_ids(ld_t *l)
{
    pc_conf_t *c = l->c;
    for (size_t i = 0; i < c->nroutes; i++)
        c->routes[i].metrics_id = pc_conf_stable_id("route", c->routes[i].name);
    for (size_t i = 0; i < c->nupstreams; i++) {
        pc_upstream_conf_t *u = &c->upstreams[i];
        u->metrics_id = pc_conf_stable_id("upstream", u->name);
        for (size_t j = 0; j < u->ntargets; j++) {
            char key[INET6_ADDRSTRLEN + 10];
            target_key(&u->targets[j], key, sizeof(key));
            u->targets[j].ut.id = pc_conf_stable_id("target", key);
            if (u->targets[j].ut.id >= 65536) {
                jp_t p, q;
                jp_idx(&q, jp_key(&p, "upstreams", u->name), j);
                ld_err(l, q.s, "more than 65535 distinct targets since startup: restart instead "
                       "of reloading");
            }
        }
    }
}

pc_conf_t *pc_conf_load_json(json_t *root, const char *path, pc_diag_t *diag)
{
    pc_diag_t local = {0};
    ld_t l = {diag ? diag : &local, NULL, 0, {0}, {0}, {0}};
    pc_conf_t *c = pc_xcalloc(1, sizeof(*c));
    atomic_init(&c->refs, 1);
    c->path = path ? pc_xstrdup(path) : NULL;
    c->root = json_incref(root);
    l.c = c;
    if (!root) {
        ld_err(&l, path, "no document");
    } else if (!json_is_object(root)) {
        ld_err(&l, path, "the document must be a JSON object");
    } else {
        load_document(&l, root);
    }
    smap_free(&l.upstream_names);
    smap_free(&l.plugin_names);
    smap_free(&l.route_names);
    if (!l.nerr)
        assign_ids(&l);
    pc_diag_free(&local);
    if (l.nerr) {
        pc_conf_free(c);
        return NULL;
    }
    c->generation = ++next_generation;
    return c;
}

pc_conf_t *pc_conf_load_buffer(const char *data, size_t len, const char *path, pc_diag_t *diag)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char src[PATH_LEN];
        snprintf(src, sizeof(src), "%s:%d:%d", path ? path : "<config>", je.line, je.column);
        pc_diag_error(diag, src, "%s", je.text);
        return NULL;
    }
    pc_conf_t *c = pc_conf_load_json(root, path, diag);
    json_decref(root);
    return c;
}

pc_conf_t *pc_conf_load_file(const char *path, pc_diag_t *diag)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char src[PATH_LEN];
        if (je.line > 0)
            snprintf(src, sizeof(src), "%.500s:%d:%d", path, je.line, je.column);
        else
            snprintf(src, sizeof(src), "%.500s", path);
        pc_diag_error(diag, src, "%s", je.text);
        return NULL;
    }
    pc_conf_t *c = pc_conf_load_json(root, path, diag);
    json_decref(root);
    return c;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void stop_plugins(pc_conf_t *c)
{
    for (size_t i = c->nplugins; i-- > 0;) {
        pc_plugin_inst_t *pi = &c->plugins[i];
        if (pi->started && pi->type && pi->type->stop)
            pi->type->stop(pi->conf);
        pi->started = false;
    }
}

int pc_conf_start(pc_conf_t *c, struct pc_env *env, pc_diag_t *diag)
{
    for (size_t i = 0; i < c->nplugins; i++) {
        pc_plugin_inst_t *pi = &c->plugins[i];
        if (!pi->type)
            continue;
        char path[PATH_LEN];
        snprintf(path, sizeof(path), "plugins.%.500s", pi->name);
        pc_err_t err = {diag, path, 0};
        if (pi->type->start && pi->type->start(pi->conf, env, &err) != 0) {
            if (!err.failed)
                pc_diag_error(diag, path, "failed to start");
            stop_plugins(c);
            return -1;
        }
        pi->started = true;
    }
    return 0;
}

pc_conf_t *pc_conf_ref(pc_conf_t *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

bool pc_conf_unref_is_last(pc_conf_t *c)
{
    return atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1;
}

void pc_conf_free(pc_conf_t *c)
{
    if (!c)
        return;
    stop_plugins(c);
    for (size_t i = 0; i < c->nplugins; i++) {
        pc_plugin_inst_t *pi = &c->plugins[i];
        if (pi->type && pi->type->conf_free && pi->conf)
            pi->type->conf_free(pi->conf);
        free(pi->name);
    }
    free(c->plugins);
    free(c->global_chain);
    for (size_t i = 0; i < c->nroutes; i++) {
        pc_route_conf_t *r = &c->routes[i];
        free(r->name);
        free(r->host);
        free(r->path);
        free(r->chain);
        free(r->rewrite_prefix);
    }
    free(c->routes);
    pc_router_free(c->router);
    for (size_t i = 0; i < c->nupstreams; i++) {
        pc_upstream_conf_t *u = &c->upstreams[i];
        for (size_t j = 0; j < u->ntargets; j++) {
            free(u->targets[j].url);
            free(u->targets[j].authority);
        }
        free(u->targets);
        pc_lb_free(u->lb);
        free(u->hash_header);
        free(u->name);
    }
    free(c->upstreams);
    for (size_t i = 0; i < c->nlisteners; i++) {
        free(c->listeners[i].address);
        free(c->listeners[i].trusted_proxies);
    }
    free(c->listeners);
    free(c->admin_address);
    free(c->access_log_path);
    free(c->store_type);
    free(c->store_url);
    free(c->store_host);
    free(c->store_unix_path);
    free(c->store_username);
    if (c->store_password)
        explicit_bzero(c->store_password, strlen(c->store_password));
    free(c->store_password);
    free(c->store_on_error);
    free(c->store_prefix);
    free(c->user);
    free(c->path);
    json_decref(c->root);
    free(c);
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int pc_conf_reload_compatible(const pc_conf_t *old, const pc_conf_t *nw, pc_diag_t *diag)
{
    int rc = 0;
    bool same = old->nlisteners == nw->nlisteners;
    for (size_t i = 0; same && i < old->nlisteners; i++)
        same = str_eq(old->listeners[i].address, nw->listeners[i].address) &&
               old->listeners[i].port == nw->listeners[i].port;
    if (!same) {
        pc_diag_error(diag, "listen", "changing listeners requires a restart");
        rc = -1;
    } else {
        for (size_t i = 0; i < old->nlisteners; i++) {
            if (old->listeners[i].max_connections != nw->listeners[i].max_connections) {
                char path[64];
                snprintf(path, sizeof(path), "listen[%zu].max_connections", i);
                pc_diag_error(diag, path, "changing it requires a restart");
                rc = -1;
            }
        }
    }
    if (old->workers != nw->workers) {
        pc_diag_error(diag, "workers", "changing the number of workers requires a restart");
        rc = -1;
    }
    if (!str_eq(old->admin_address, nw->admin_address) || old->admin_port != nw->admin_port) {
        pc_diag_error(diag, "admin", "changing the admin listener requires a restart");
        rc = -1;
    }
    if (!str_eq(old->user, nw->user)) {
        pc_diag_error(diag, "user", "changing the user requires a restart");
        rc = -1;
    }
    /* The store is created once (gateway/store/store.c). */
    if (!str_eq(old->store_type, nw->store_type) || old->store_max_bytes != nw->store_max_bytes ||
        !str_eq(old->store_url, nw->store_url) || !str_eq(old->store_host, nw->store_host) ||
        old->store_port != nw->store_port || !str_eq(old->store_unix_path, nw->store_unix_path) ||
        old->store_db != nw->store_db || !str_eq(old->store_username, nw->store_username) ||
        !str_eq(old->store_password, nw->store_password) ||
        old->store_connect_timeout_ms != nw->store_connect_timeout_ms ||
        old->store_command_timeout_ms != nw->store_command_timeout_ms ||
        !str_eq(old->store_on_error, nw->store_on_error) ||
        !str_eq(old->store_prefix, nw->store_prefix) || old->store_batch != nw->store_batch ||
        old->store_lease_ms != nw->store_lease_ms) {
        pc_diag_error(diag, "store", "changing the store requires a restart");
        rc = -1;
    }
    return rc;
}

/* ---- name resolution --------------------------------------------------------- */

int pc_conf_resolve_getaddrinfo(const char *host, unsigned port, struct sockaddr_storage *out,
                                socklen_t *outlen, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "%s", rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    if (res->ai_addrlen > sizeof(*out)) {
        freeaddrinfo(res);
        snprintf(err, errlen, "address too long");
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}
