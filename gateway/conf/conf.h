/* gateway/conf/conf.h: the configuration generation.
 *
 * A generation is built and validated completely on the main thread, then
 * published. From then on it is immutable and shared by every worker; it is
 * reference counted and freed (plugins stopped and freed) once the last
 * request that started on it has ended. Key names follow docs/config.md.
 */
#ifndef PC_CONF_H
#define PC_CONF_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "upstream/lb.h"
#include "http/router.h"
#include "upstream/upstream.h"

struct pc_plugin;
struct pc_env;

/* Request limits: listener values, optionally tightened or loosened per
 * route. A value of 0 in a route means "inherit". */
typedef struct pc_limits {
    size_t max_url_bytes;          /* request target, 414 */
    size_t max_header_bytes;       /* sum of name+value bytes, 431 */
    unsigned max_headers;          /* header count, 431 */
    size_t max_body_bytes;         /* 413 */
    unsigned client_idle_timeout_ms;
    unsigned request_timeout_ms;   /* headers received -> response started */
    unsigned header_timeout_ms;    /* accept or last response -> headers received (listener) */
    unsigned max_connections_per_ip; /* 0 = unlimited (listener only) */
    size_t response_buffer_bytes;  /* streaming buffer per request */
} pc_limits_t;

/* An IPv4 or IPv6 network, for trusted proxies. */
typedef struct pc_cidr {
    int family;                    /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
} pc_cidr_t;

typedef struct pc_listener_conf {
    char *address;                 /* "0.0.0.0", "::", "127.0.0.1" */
    unsigned port;
    bool public_;                  /* not loopback: `-t` warns without TLS */
    pc_limits_t limits;
    unsigned max_connections;      /* per worker daemon */
    pc_cidr_t *trusted_proxies;
    size_t ntrusted_proxies;
    bool underscores_in_headers;   /* forward client header names with '_' */
} pc_listener_conf_t;

typedef struct pc_plugin_inst {
    char *name;                    /* key in "plugins" */
    const struct pc_plugin *type;
    void *conf;                    /* from type->conf_create */
    unsigned index;                /* position in pc_conf_t.plugins */
    bool started;
} pc_plugin_inst_t;

typedef struct pc_target {
    pc_utarget_t ut;               /* resolved address + stable pool id */
    char *url;
    char *authority;               /* "host:port" for the Host header */
    unsigned weight;
} pc_target_t;

typedef enum pc_hash_key_kind {
    PC_HASH_CLIENT_IP = 0,
    PC_HASH_HEADER,
    PC_HASH_SUBJECT,               /* verified subject, else client ip */
    PC_HASH_PATH,
} pc_hash_key_kind_t;

typedef struct pc_upstream_conf {
    char *name;
    unsigned index;                /* position in pc_conf_t.upstreams */
    unsigned metrics_id;           /* stable across generations */
    pc_lb_kind_t balancer;
    pc_hash_key_kind_t hash_key;
    char *hash_header;             /* PC_HASH_HEADER */
    pc_target_t *targets;
    size_t ntargets;
    pc_lb_t *lb;
    unsigned connect_timeout_ms;
    unsigned response_timeout_ms;
    bool pass_host;                /* forward the client's Host instead of the target's */
} pc_upstream_conf_t;

typedef struct pc_route_conf {
    char *name;
    unsigned index;
    unsigned metrics_id;           /* stable across generations */
    char *host;                    /* NULL = any */
    pc_path_kind_t kind;
    char *path;
    unsigned methods;              /* PC_M_* mask, 0 = all */
    pc_upstream_conf_t *upstream;  /* NULL only if a plugin always responds */
    pc_plugin_inst_t **chain;      /* global plugins, then the route's */
    size_t nchain;
    bool needs_body;               /* some plugin in chain has NEEDS_BODY */
    bool authenticated;            /* some plugin in chain authenticates */
    bool sees_response_body;       /* some plugin in chain has SEES_RESPONSE_BODY */
    bool allow_double_encoding;    /* "%25" + two hex digits in the path is forwarded */
    char *rewrite_prefix;          /* prefix routes: replaces the matched prefix;
                                      NULL = keep the path, "" = strip the prefix
                                      (a configured "/" is stored as "") */
    pc_limits_t limits;            /* merged: the GLOBAL limits, then the route's
                                      overrides (not per listener; see docs/config.md) */
    pc_limits_t overrides;         /* as configured, 0 = inherit (informational: a
                                      configured max_body_bytes 0 reads as inherit here,
                                      `limits` is authoritative) */
} pc_route_conf_t;

typedef struct pc_conf {
    atomic_uint refs;
    unsigned generation;
    char *path;                    /* file it was loaded from */

    unsigned workers;              /* resolved: >= 1 */
    char *user;                    /* drop privileges to it, or NULL */
    unsigned drain_timeout_ms;
    int log_level;                 /* PC_LOG_* */

    pc_listener_conf_t *listeners;
    size_t nlisteners;
    pc_limits_t limits;            /* global defaults */

    char *admin_address;           /* NULL: no admin listener */
    unsigned admin_port;

    char *access_log_path;         /* NULL: off; "stderr"/"stdout" or a path */

    char *store_type;              /* "memory" | "redis" */
    size_t store_max_bytes;        /* memory store (also the redis fail_open fallback) */
    /* "type": "redis" only (docs/config.md#store); fixed for the process's life */
    char *store_url;               /* as configured: may hold a password, never log it */
    char *store_host;              /* numeric address (a name is resolved at load), or NULL */
    unsigned store_port;
    char *store_unix_path;         /* unix:// URL, or NULL */
    unsigned store_db;
    char *store_username;          /* NULL: AUTH without user name */
    char *store_password;          /* NULL: no AUTH */
    unsigned store_connect_timeout_ms;
    unsigned store_command_timeout_ms;
    char *store_on_error;          /* "fail_open" | "fail_closed" */
    char *store_prefix;            /* Redis key prefix, default "pc:" */
    bool store_batch;              /* one EVALSHA per loop iteration (not for Redis Cluster) */
    unsigned store_lease_ms;       /* per-worker leases on limits (gateway/store/lease.h); 0: off */

    pc_upstream_conf_t *upstreams;
    size_t nupstreams;
    pc_plugin_inst_t *plugins;
    size_t nplugins;
    pc_plugin_inst_t **global_chain;
    size_t nglobal_chain;
    pc_route_conf_t *routes;
    size_t nroutes;
    pc_router_t *router;

    json_t *root;                  /* the parsed document (for /config) */
} pc_conf_t;

/* Load-time diagnostics: every error and warning, each with its JSON path. */
typedef struct pc_diag {
    char **errors;
    size_t nerrors;
    char **warnings;
    size_t nwarnings;
    char **notes;                  /* pc_conf_note: printed by `-t` only */
    size_t nnotes;
} pc_diag_t;

/* The load-time error sink behind pc_err_t (plugin.h): pc_err_set() and
 * pc_conf_secret() write "<base_path>.<key>: message" into diag. */
struct pc_err {
    pc_diag_t *diag;
    const char *base_path;         /* "plugins.auth" */
    int failed;                    /* set by pc_err_set */
};

/* Messages are "<path>: <text>" (just the text when path is NULL or "").
 * After PC_DIAG_MAX_ERRORS errors one last "too many errors" entry is added
 * and the rest are dropped (nerrors stays > 0, which is what callers test). */
#define PC_DIAG_MAX_ERRORS 100
#define PC_DIAG_MAX_NOTES 1000
void pc_diag_error(pc_diag_t *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_diag_warn(pc_diag_t *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_diag_note(pc_diag_t *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Errors and warnings; pc_diag_print_notes prints the notes ("note: ..."). */
void pc_diag_print(const pc_diag_t *d, FILE *out);
void pc_diag_print_notes(const pc_diag_t *d, FILE *out);
void pc_diag_free(pc_diag_t *d);

/* Parses and validates; resolves target addresses (blocking DNS: main
 * thread only, never a worker). Plugins are created but not started.
 * Returns NULL with every problem in diag. */
pc_conf_t *pc_conf_load_file(const char *path, pc_diag_t *diag);
/* root: the caller keeps its reference; the conf takes one of its own.
 * diag may be NULL (problems are then discarded). */
pc_conf_t *pc_conf_load_json(json_t *root, const char *path, pc_diag_t *diag);
/* Parses len bytes of JSON (duplicate keys refused) and loads them; path
 * names the source in messages and may be NULL. */
pc_conf_t *pc_conf_load_buffer(const char *data, size_t len, const char *path, pc_diag_t *diag);

/* Name resolution for upstream targets whose host is not an IP literal
 * (IP literals never reach it). Fills out/outlen with the address for
 * host:port and returns 0, or returns -1 with a short reason in err.
 * Default: pc_conf_resolve_getaddrinfo (blocking, main thread only).
 * NULL: names are refused ("name resolution is disabled") - tests and the
 * fuzzer set this so that loading never touches the network. */
typedef int (*pc_conf_resolve_fn)(const char *host, unsigned port, struct sockaddr_storage *out,
                                  socklen_t *outlen, char *err, size_t errlen);
extern pc_conf_resolve_fn pc_conf_resolve_hook;
/* How files named by the config (secrets, keys, documents) are opened:
 * open(2) by default. The fuzzer sets a hook that refuses every path, so
 * that hostile configs never read this machine's files. */
typedef int (*pc_conf_open_fn)(const char *path, int flags);
extern pc_conf_open_fn pc_conf_open_hook;
int pc_conf_resolve_getaddrinfo(const char *host, unsigned port, struct sockaddr_storage *out,
                                socklen_t *outlen, char *err, size_t errlen);
/* Calls start() of every plugin instance; on failure stops the started
 * ones and returns -1 with an error in diag. */
int pc_conf_start(pc_conf_t *c, struct pc_env *env, pc_diag_t *diag);
/* A reload may not change what is bound at startup (listeners, workers,
 * admin, user). Returns 0 if compatible, else -1 with errors. */
int pc_conf_reload_compatible(const pc_conf_t *old, const pc_conf_t *nw, pc_diag_t *diag);

pc_conf_t *pc_conf_ref(pc_conf_t *c);
/* Dropping the last reference stops and frees plugins: main thread only
 * (workers hand their last reference to the main thread). */
bool pc_conf_unref_is_last(pc_conf_t *c);
void pc_conf_free(pc_conf_t *c);

/* 1 if addr (sockaddr_in/in6) lies in one of the networks. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is compared as the IPv4
 * address a.b.c.d; an IPv6 network inside ::ffff:0:0/96 was stored as the
 * IPv4 network it covers by pc_cidr_parse. */
bool pc_cidr_contains(const pc_cidr_t *nets, size_t n, const struct sockaddr *addr);
/* "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128). Returns 0,
 * -1 if s is not a network, -2 if bits are set after the prefix
 * ("10.0.0.1/8": almost always a typo, refused rather than masked). */
int pc_cidr_parse(const char *s, pc_cidr_t *out);

/* Stable small ids for names across generations (route and upstream
 * metrics, upstream connection pools). Each space ("route", "upstream",
 * "target") numbers its names from 1 in order of first use; 0 is never
 * returned (it means "no route"). Main thread only. */
unsigned pc_conf_stable_id(const char *space, const char *name);
/* Forgets every id (tests and the fuzzer, which load many generations). */
void pc_conf_stable_ids_reset(void);

#endif
