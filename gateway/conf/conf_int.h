/* gateway/conf/conf_int.h: what the files of the config loader share, and
 * nothing else includes. The loader (document.c) walks one JSON document;
 * each section has its own file (listen.c, services.c, upstreams.c,
 * plugins_conf.c, routes.c) and reports through the helpers of loader.c
 * (messages with their JSON path), fields.c (the table-driven scalar
 * options) and validate.c (names, hosts, addresses).
 *
 * Main thread only, like the loader itself. Paths are built in a jp_t on
 * the caller's stack; every message goes through pc_ld_err/pc_ld_warn,
 * which count the errors of the load in ld_t.nerr. */
#ifndef PC_CONF_INT_H
#define PC_CONF_INT_H

#include "conf/conf.h"

#include <portcullis/plugin.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- loader state, paths and messages (loader.c) ------------------------ */

/* A small string map (name -> index); keys are not owned. */
typedef struct smap {
    const char **keys;
    unsigned *vals;
    size_t cap, n;
} smap_t;

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

/* Untrusted text shown in a message: at most SHOW_MAX input bytes, escaped
 * into a buffer of SHOW_LEN. */
#define SHOW_MAX 64
#define SHOW_LEN (4 * SHOW_MAX + 8)


const unsigned *pc_ld_map_get(const smap_t *m, const char *key);
void pc_ld_map_put(smap_t *m, const char *key, unsigned val);
void pc_ld_map_free(smap_t *m);

/* Adds an error (counted in l->nerr) or a warning at path. */
void pc_ld_err(ld_t *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_ld_warn(ld_t *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Untrusted text for a message: printable ASCII only (anything else as
 * \xHH, quotes and backslashes escaped), at most max input bytes. out must
 * hold 4 * max + 4 bytes. Returns out. */
const char *pc_ld_esc(char *out, size_t outlen, const char *s, size_t max);
/* base + "." + key (escaped), truncated to fit; base may be p->s itself. */
const char *pc_ld_key(jp_t *p, const char *base, const char *key);
/* base + "[i]". */
const char *pc_ld_idx(jp_t *p, const char *base, size_t i);

/* conf_diag.c: pc_conf_secret of the value v itself; key only names it in
 * messages (relative to err's base path). */
char *pc_conf_secret_value(const json_t *v, const char *key, size_t *len, pc_err_t *err);

/* ---- table-driven fields (fields.c) ---------------------------------------- */

/* The core's tables are pc_conf_field_t tables (plugin.h) read by the same
 * engine as plugins' (pc_conf_parse), with flags of its own from bit 16 up
 * and fields that are only type-checked (offset NOOFF). */
#define F_ROUTE (1u << 16)  /* limits: may be overridden per route */
#define F_ROUTED (1u << 17) /* limits: only read after routing, from the route */
#define NOOFF ((size_t)-1)

/* A core table entry, positional: key, type, offset, flags, min, max,
 * default, string default. */
#define CONF_FIELD(k, t, off, fl, lo, hi, d, ds)                                              \
    {                                                                                         \
        .key = (k), .type = (t), .offset = (off), .flags = (fl), .min = (lo), .max = (hi),    \
        .def = (d), .def_str = (ds)                                                           \
    }

static inline void *pc_ld_at(void *dst, size_t off)
{
    return (char *)dst + off;
}

/* A JSON string of 1..CONF_MAX_STRING bytes (0 allowed with empty_ok),
 * without NUL; reports and returns false otherwise. */
bool pc_ld_str_ok(ld_t *l, const char *path, const json_t *v, bool empty_ok);
/* Stores each field's default into dst. */
void pc_ld_defaults(const pc_conf_field_t *f, size_t n, void *dst);
/* Parses the object v at path against the table: unknown keys, required
 * keys, types, ranges; stores scalars into dst (may be NULL). With
 * defaults, absent fields get their default first. only_flag: fields
 * without it are refused with "only at listener level" (route limits).
 * Returns the mask of fields present and valid (bit i = f[i]); 0 with an
 * error when v is not an object. */
uint64_t pc_ld_obj(ld_t *l, const json_t *v, const char *path, const pc_conf_field_t *f,
                   size_t n, void *dst, bool defaults, unsigned only_flag);
/* The value of a field that pc_ld_obj accepted (mask bit set), else NULL. */
const json_t *pc_ld_valid(const json_t *obj, uint64_t mask, const pc_conf_field_t *f, size_t i);

/* ---- small validators (validate.c) ------------------------------------------- */

typedef struct ipaddr {
    int family;
    unsigned char a[16];
} ipaddr_t;

/* A route, upstream or plugin name: 1 to CONF_MAX_NAME of A-Z a-z 0-9 _ . -;
 * reports and returns false otherwise. */
bool pc_ld_name(ld_t *l, const char *path, const char *s);
/* RFC 9110 token characters (header names). */
bool pc_ld_token_ok(const char *s);
/* Lower-case host name: dot-separated labels of [a-z0-9_-], 1..63 bytes
 * each, at most 253 in all. */
bool pc_ld_hostname_ok(const char *s);
/* A name whose last label is numeric (or hex), which resolvers would read
 * as an IPv4 address ("127.1", "0x7f.1"). */
bool pc_ld_looks_numeric(const char *s);
void pc_ld_lower(char *s);
bool pc_ld_ip_parse(const char *s, ipaddr_t *ip);
bool pc_ld_ip_is_loopback(const ipaddr_t *ip);
/* Two sockets that could not both be bound. */
bool pc_ld_endpoints_clash(const ipaddr_t *a, unsigned pa, const ipaddr_t *b, unsigned pb);
/* The canonical text of ip, malloc'd. */
char *pc_ld_ip_format(const ipaddr_t *ip);

/* ---- the sections --------------------------------------------------------------- */

/* A listener's bound address, for overlap checks with the admin listener. */
typedef struct endpoint {
    ipaddr_t ip;
    unsigned port;
    bool ok;
} endpoint_t;

/* listen.c: the global limits (defaults, then v if not NULL), listeners,
 * admin, and a listener's or route's override block. */
void pc_ld_limits(ld_t *l, const json_t *v);
void pc_ld_limits_override(ld_t *l, const json_t *v, const char *path, const pc_limits_t *base,
                           pc_limits_t *out, pc_limits_t *ov, bool route);
void pc_ld_listeners(ld_t *l, const json_t *arr, endpoint_t *eps);
void pc_ld_admin(ld_t *l, const json_t *v, const endpoint_t *eps);

/* services.c: access log, store (defaults, then v if not NULL), log. */
void pc_ld_access_log(ld_t *l, const json_t *v);
void pc_ld_store(ld_t *l, const json_t *v);
void pc_ld_log(ld_t *l, const json_t *v);

/* upstreams.c */
void pc_ld_upstreams(ld_t *l, const json_t *obj);
/* "ip:port" or "[ip6]:port" of a resolved target: balancer key and pool id. */
void pc_ld_target_key(const pc_target_t *t, char *buf, size_t len);

/* plugins_conf.c: plugin instances (conf_create) and chains of them.
 * pc_ld_chain appends to chain, which already holds *nchain entries of
 * which the first nglobal are global_plugins. */
void pc_ld_plugins(ld_t *l, const json_t *obj);
void pc_ld_chain(ld_t *l, const json_t *arr, const char *path, pc_plugin_inst_t **chain,
                 size_t *nchain, size_t nglobal);

/* routes.c: routes and the router. */
void pc_ld_routes(ld_t *l, const json_t *arr);

#endif
