/* include/portcullis/plugin.h: the one header a portcullis plugin includes.
 *
 * A plugin is one constant table (pc_plugin_t) plus static functions. The
 * core owns the request, the chain position and every socket; a plugin
 * reads the request through accessors and acts only through this API.
 *
 * Lifecycle, in this order (the core guarantees it):
 *
 *   load (main thread)    conf_create() for every configured instance, then,
 *                         once the whole config is valid, start().
 *   per worker            worker_init() once per worker thread and config
 *                         generation, for per-worker state (caches); its
 *                         result is returned by pc_worker_state().
 *   per request (worker)  on_headers() -> on_body() (only with
 *                         PC_PLUGIN_NEEDS_BODY) -> [upstream] ->
 *                         on_response() -> on_log().
 *                         on_log runs for EVERY plugin of the route's chain,
 *                         also when an earlier plugin denied the request.
 *                         Then cleanups registered with pc_on_cleanup run
 *                         and the request arena is freed.
 *   unload                worker_free() on each worker, then stop(), then
 *                         conf_free(), after the last request that used the
 *                         generation has ended.
 *
 * Return codes of the per-request hooks:
 *   PC_CONTINUE  go on with the next plugin.
 *   PC_RESPOND   a response was set (pc_deny, pc_respond); the chain stops.
 *   PC_SUSPEND   pc_async_begin() was called and the plugin will call
 *                pc_async_end() exactly once, later, from the same worker
 *                thread. The hook is never called again for this request;
 *                the verdict passed to pc_async_end decides what happens.
 *   PC_ERROR     internal fault: the core answers 500 and logs it.
 *
 * Threading: hooks run on the worker thread that owns the request. Nothing
 * here may be called from another thread. conf is immutable once created
 * and shared by all workers.
 */
#ifndef PORTCULLIS_PLUGIN_H
#define PORTCULLIS_PLUGIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PC_PLUGIN_ABI 1

typedef struct pc_request pc_request_t; /* opaque */
typedef struct pc_async pc_async_t;     /* opaque suspension token */
typedef struct pc_err pc_err_t;         /* load-time error sink */
typedef struct pc_env pc_env_t;         /* core services at start() */
typedef struct pc_worker pc_worker_t;   /* the worker thread */

typedef enum pc_status {
    PC_CONTINUE = 0,
    PC_RESPOND,
    PC_SUSPEND,
    PC_ERROR,
} pc_status_t;

enum {
    PC_PLUGIN_NEEDS_BODY = 1u << 0, /* buffer the body (route limit, 413 beyond) and call on_body */
    PC_PLUGIN_AUTHENTICATES = 1u << 1, /* counts as authentication for `-t` warnings */
    PC_PLUGIN_SEES_RESPONSE_BODY = 1u << 2, /* may ask for a copy of the upstream's response
                                               body (pc_response_body_keep) for on_log */
};

typedef struct pc_plugin {
    unsigned abi;      /* PC_PLUGIN_ABI */
    const char *name;  /* the "type" in the config, and the log tag */
    unsigned flags;    /* PC_PLUGIN_* */
    size_t req_ctx_size; /* zeroed per-request state from the arena, passed as ctx */

    /* Main thread. Validate node (the instance's object, "type" removed)
     * completely into an immutable conf. On error return -1 after
     * pc_err_set() naming the bad field; if *conf was set, the core still
     * calls conf_free(*conf), so a half-built conf needs no cleanup path. */
    int (*conf_create)(const json_t *node, void **conf, pc_err_t *err);
    int (*start)(void *conf, pc_env_t *env, pc_err_t *err);
    void (*stop)(void *conf);
    void (*conf_free)(void *conf);

    /* Worker thread; optional. */
    void *(*worker_init)(void *conf, pc_worker_t *w);
    void (*worker_free)(void *conf, void *wstate);

    /* Worker thread, per request; NULL means not interested. */
    pc_status_t (*on_headers)(pc_request_t *r, void *conf, void *ctx);
    pc_status_t (*on_body)(pc_request_t *r, void *conf, void *ctx);
    void (*on_response)(pc_request_t *r, void *conf, void *ctx);
    void (*on_log)(pc_request_t *r, void *conf, void *ctx);
} pc_plugin_t;

/* ---- load time -------------------------------------------------------- */

/* Records an error about the field `key` of the plugin's node (NULL: the
 * node itself). The core prefixes the JSON path, e.g.
 * "plugins.auth.audiences[1]: must be a string". Always returns -1. */
int pc_err_set(pc_err_t *err, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Load time, for what `portcullis -t` should tell the operator about the
 * field `key` (paths as for pc_err_set). A warning is something accepted
 * that deserves a look (a secret written inline, a construct the plugin
 * accepts without checking it); every start prints warnings too, and -t
 * counts them. A note is a summary line (what an imported document became)
 * that only -t prints. Neither fails the load. */
void pc_conf_warn(pc_err_t *err, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_conf_note(pc_err_t *err, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- configuration tables ----------------------------------------------
 *
 * A plugin describes its options as a table of pc_conf_field_t, ended by
 * an entry whose key is NULL, and has pc_conf_parse read a JSON object
 * into its conf struct: unknown keys (with a "did you mean" for near
 * misses), required keys, types, ranges and defaults, each problem
 * reported with its JSON path ("plugins.auth.leeway: must be a duration
 * such as ..."). What a table cannot say (cross-field rules, nested
 * structures) is a PC_CONF_CUSTOM callback or code after the call.
 *
 * Where each type stores (at out + offset), and what it accepts:
 *   BOOL      bool          true or false
 *   UINT      unsigned      an integer in [min, max]
 *   U64       uint64_t      an integer in [min, max]
 *   SIZE      size_t        an integer in [min, max]
 *   DURATION  uint64_t      milliseconds, from "250ms", "30s", "10m", "1h",
 *                           "1d", in [min, max]; with PC_CONF_MS_ALIAS also
 *                           "<key>_ms", an integer of milliseconds (not both)
 *   STRING    char *        a string of 1..max bytes (max 0: 8192; "" too
 *                           with PC_CONF_EMPTY_OK), no NUL; malloc'd
 *   TOKEN     char *        an RFC 9110 token (header names, bucket names)
 *                           of 1..max bytes (max 0: 256); malloc'd
 *   ENUM      int           one of values[] (NULL-terminated): its index
 *   SECRET    pc_conf_secret_t  a string, {"env": "NAME"} or {"file":
 *                           "/path"}, read now; `portcullis -t` warns about
 *                           an inline string
 *   STRINGS   pc_conf_strings_t  a list (array) of non-empty strings: at
 *                           most max entries (0: any); PC_CONF_NONEMPTY: at
 *                           least one; PC_CONF_SINGLE: a lone string is a
 *                           list of one
 *   ON_ERROR  bool          the shared failure policy of a plugin that
 *                           depends on something that can fail (the store,
 *                           an identity provider): "deny" (false, the
 *                           default) or "allow" (true: let the request
 *                           through, which the plugin logs)
 *   CUSTOM    anything      parse(value, key, out + offset, err), called
 *                           when the key is present; key is the path to
 *                           pass to pc_err_set (and to a nested
 *                           pc_conf_parse)
 *   OBJECT    nothing       must be an object; the plugin reads it itself
 *   ARRAY     nothing       must be an array; the plugin reads it itself
 *   ANY       nothing       the key is accepted; the plugin reads it itself
 *
 * An absent key gets its default: def for BOOL, UINT, U64, SIZE, DURATION,
 * ENUM (an index) and ON_ERROR; a copy of def_str for STRING and TOKEN (left
 * alone when def_str is NULL); SECRET, STRINGS and CUSTOM stay untouched.
 */
typedef enum pc_conf_type {
    PC_CONF_BOOL = 1,
    PC_CONF_UINT,
    PC_CONF_U64,
    PC_CONF_DURATION,
    PC_CONF_STRING,
    PC_CONF_TOKEN,
    PC_CONF_ENUM,
    PC_CONF_SECRET,
    PC_CONF_STRINGS,
    PC_CONF_ON_ERROR,
    PC_CONF_CUSTOM,
    PC_CONF_ANY,
    PC_CONF_SIZE,
    PC_CONF_OBJECT,
    PC_CONF_ARRAY,
} pc_conf_type_t;

enum {
    PC_CONF_REQUIRED = 1u << 0, /* absent: "required" */
    PC_CONF_MS_ALIAS = 1u << 1, /* DURATION: "<key>_ms" is accepted too */
    PC_CONF_EMPTY_OK = 1u << 2, /* STRING: "" is a value */
    PC_CONF_SINGLE = 1u << 3,   /* STRINGS: a lone string is a list of one */
    PC_CONF_NONEMPTY = 1u << 4, /* STRINGS: at least one entry */
    /* bits 16 and up are the core's (its own tables use the same engine) */
};

typedef struct pc_conf_secret {
    char *s;                    /* NUL-terminated, len bytes (may hold NUL from a file) */
    size_t len;
} pc_conf_secret_t;

typedef struct pc_conf_strings {
    char **v;
    size_t n;
} pc_conf_strings_t;

typedef struct pc_conf_field {
    const char *key;
    pc_conf_type_t type;
    size_t offset;              /* offsetof(the plugin's conf struct, member) */
    unsigned flags;             /* PC_CONF_* */
    uint64_t min, max;          /* UINT, U64, DURATION: range; STRING, TOKEN: max
                                   bytes; STRINGS: max entries */
    uint64_t def;               /* default (see above) */
    const char *def_str;        /* STRING, TOKEN default */
    const char *const *values;  /* ENUM spellings, NULL-terminated */
    int (*parse)(const json_t *v, const char *key, void *field, pc_err_t *err); /* CUSTOM:
                                   0, or -1 after pc_err_set */
} pc_conf_field_t;

/* Reads node (a JSON object; NULL: an absent optional section, which only
 * gets the defaults) into out against fields. path is where node sits
 * inside the plugin's node, for messages and nested tables ("jwks",
 * "limits[2]"), or NULL for the plugin's node itself. Reports every
 * problem, not just the first, and returns 0 or -1. Main thread, load time
 * (conf_create). On -1, what was stored stays in out for conf_free. */
int pc_conf_parse(const json_t *node, const char *path, const pc_conf_field_t *fields, void *out,
                  pc_err_t *err);
/* Frees (and zeroes) what pc_conf_parse allocated into out for the table:
 * STRING, TOKEN, SECRET (wiped first) and STRINGS. For conf_free. */
void pc_conf_fields_free(const pc_conf_field_t *fields, void *out);
void pc_conf_strings_free(pc_conf_strings_t *s);
void pc_conf_secret_free(pc_conf_secret_t *s);

/* Reads a secret: a JSON string, {"env": "NAME"} or {"file": "/path"}.
 * Returns a malloc'd copy (caller frees) and its length, or NULL with an
 * error set. Inline strings are reported as a warning by `portcullis -t`. */
char *pc_conf_secret(const json_t *node, const char *key, size_t *len, pc_err_t *err);

/* Reads v, {"file": "/absolute/path"}: a regular file of at most max
 * bytes, for public material a plugin loads (PEM keys, JWKS documents;
 * secrets are PC_CONF_SECRET fields). key names v in messages. Returns the
 * contents, malloc'd and NUL-terminated, and their length (may be 0); NULL
 * with an error set. */
char *pc_conf_file(const json_t *v, const char *key, size_t max, size_t *len, pc_err_t *err);

/* Single-value helpers, for code that a table does not fit. A duration is
 * a positive integer and a unit: "250ms", "1s", "10m", "1h", "1d"; returns
 * 0 and the milliseconds, or -1. */
int pc_conf_duration_ms(const char *s, uint64_t *ms);
/* 1 if s is an RFC 9110 token (header names, bucket names) of 1..max
 * bytes, else 0. */
int pc_conf_token(const char *s, size_t max);
/* An integer field in [lo, hi]; on error sets err on key and returns -1. */
int pc_conf_uint(const json_t *v, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                 pc_err_t *err);

/* Per-worker plugin state from worker_init, or NULL. */
void *pc_worker_state(pc_request_t *r, const void *conf);

/* ---- reading the request ---------------------------------------------- */

const char *pc_request_method(const pc_request_t *r);
/* The canonical path: the only path plugins see and the upstream gets. */
const char *pc_request_path(const pc_request_t *r);
const char *pc_request_query(const pc_request_t *r); /* raw query without '?', or NULL */
/* Case-insensitive; the first value; NULL if absent. */
const char *pc_request_header(const pc_request_t *r, const char *name);
/* Number of request headers named `name` (to refuse duplicates). */
unsigned pc_request_header_count(const pc_request_t *r, const char *name);
const char *pc_request_param(const pc_request_t *r, const char *name); /* route template parameter */
const char *pc_request_client_ip(const pc_request_t *r); /* after trusted-proxy resolution */
const char *pc_request_route(const pc_request_t *r);     /* route name */
const char *pc_request_id(const pc_request_t *r);
/* The buffered body (on_body and later); len may be 0. */
const void *pc_request_body(const pc_request_t *r, size_t *len);
/* Response status once known (on_response, on_log); 0 before. */
int pc_request_status(const pc_request_t *r);
/* A plugin with PC_PLUGIN_SEES_RESPONSE_BODY calls pc_response_body_keep
 * in on_headers or on_body to have the core copy this request's upstream
 * response body as it is relayed (dechunked; the client gets it unchanged
 * and undelayed), up to PC_RESPONSE_CAPTURE_MAX bytes, into the request's
 * memory. Without the flag on some plugin of the route, the call does
 * nothing. pc_response_body, in on_log, returns that copy; NULL when
 * nothing was kept or the upstream answered nothing (the gateway answered,
 * or the upstream failed before its head). *truncated is set when the copy
 * is not the whole body: longer than PC_RESPONSE_CAPTURE_MAX bytes, or the
 * exchange broke off. */
#define PC_RESPONSE_CAPTURE_MAX (1024u * 1024u)
void pc_response_body_keep(pc_request_t *r);
const void *pc_response_body(const pc_request_t *r, size_t *len, bool *truncated);

/* ---- identity (set by an authentication plugin) ----------------------- */

/* Attaches the verified identity. The core keeps a reference to claims
 * (json_incref) for the request's life. subject may be NULL. */
void pc_request_set_identity(pc_request_t *r, const char *subject, json_t *claims);
const char *pc_request_subject(const pc_request_t *r); /* NULL if none */
const json_t *pc_request_claims(const pc_request_t *r);

/* ---- acting on the request -------------------------------------------- */

/* Upstream request headers; name matching is case-insensitive.
 * set replaces every existing value; add appends; remove drops all. */
void pc_upstream_header_set(pc_request_t *r, const char *name, const char *value);
void pc_upstream_header_add(pc_request_t *r, const char *name, const char *value);
void pc_upstream_header_remove(pc_request_t *r, const char *name);
/* Response headers to the client; usable from any hook. */
void pc_response_header_set(pc_request_t *r, const char *name, const char *value);
void pc_response_header_add(pc_request_t *r, const char *name, const char *value);
void pc_response_header_remove(pc_request_t *r, const char *name);

/* Ends the request with an application/problem+json error. reason is a
 * machine-readable code ("rate_limit.exceeded") for logs, audit and the
 * problem "type"; detail is client-safe text or NULL. Returns PC_RESPOND. */
pc_status_t pc_deny(pc_request_t *r, int status, const char *reason, const char *detail);
/* pc_deny with extension members (RFC 9457 §3.2): every member of the
 * object extra (NULL: none) is added to the problem body, except the
 * standard ones (type, title, status, detail, instance, request_id), which
 * the core sets. extra is copied; the caller keeps its reference. */
pc_status_t pc_deny_json(pc_request_t *r, int status, const char *reason, const char *detail,
                         const json_t *extra);
/* pc_deny with 503 and Retry-After: 1, for a dependency (the store, an
 * identity provider) that cannot answer right now. */
pc_status_t pc_deny_unavailable(pc_request_t *r, const char *reason, const char *detail);
/* Ends the request with a response of the plugin's own. body is copied. */
pc_status_t pc_respond(pc_request_t *r, int status, const char *content_type,
                       const void *body, size_t len);

/* ---- memory ------------------------------------------------------------ */

/* Config-lifetime (and any other long-lived) memory: like malloc, calloc,
 * realloc and strdup, but never NULL: out of memory aborts the process
 * with one message. Any thread. Freed with free(). */
void *pc_xmalloc(size_t n);
void *pc_xcalloc(size_t n, size_t size);
void *pc_xrealloc(void *p, size_t n);
char *pc_xstrdup(const char *s);

/* Request-lifetime memory; aborts on OOM; freed when the request ends. */
void *pc_alloc(pc_request_t *r, size_t n);
char *pc_strdup(pc_request_t *r, const char *s);
/* fn(data) runs when the request ends (after on_log), in reverse order. */
void pc_on_cleanup(pc_request_t *r, void (*fn)(void *), void *data);

/* ---- asynchronous work -------------------------------------------------
 *
 * One idiom for every asynchronous call, whether it answers at once (the
 * memory store) or later (Redis, an identity provider):
 *
 *     x->a = pc_async_begin(r, timeout_ms, 503);
 *     start_the_call(..., done_cb, x);   // done_cb may run right here
 *     return PC_SUSPEND;
 *
 *     done_cb:  r = pc_async_request(x->a);
 *               if (!r) { pc_async_end(x->a, PC_CONTINUE); return; }
 *               pc_async_end(x->a, verdict_for(r, x));
 *
 * pc_async_begin is cheap (the token comes from the request's memory, no
 * system call) and takes a reference on r; the core arms its timeout only
 * if the hook returns PC_SUSPEND with the token still open. The plugin
 * calls pc_async_end(a, verdict) EXACTLY ONCE, on r's worker thread; a
 * second call aborts the process. pc_async_end before the hook returned
 * (the call answered at once) is a synchronous completion: the hook still
 * returns PC_SUSPEND and the core goes on at once with the verdict. A hook
 * that returns anything but PC_SUSPEND with its token open aborts.
 * If the timeout fires first, or the gateway shuts down, or the client
 * leaves, the request is resumed with timeout_status and
 * pc_async_request(a) returns NULL from then on: the late completion must
 * then only call pc_async_end to drop its reference, touching nothing of r.
 * The token (and the plugin's ctx) stay valid until that end.
 * A verdict of PC_RESPOND requires a response to have been set.
 */
pc_async_t *pc_async_begin(pc_request_t *r, unsigned timeout_ms, int timeout_status);
pc_request_t *pc_async_request(pc_async_t *a);
void pc_async_end(pc_async_t *a, pc_status_t verdict);

/* ---- the environment at start() -----------------------------------------
 *
 * start() gets the services of the process for the config generation
 * being started. Registrations take the env (pc_store_ns, pc_metric_*), so
 * they happen at start, on the main thread, and last as long as the
 * process; timers and fetches of the main thread are pc_timer_new(NULL,
 * ...) and pc_fetch(NULL, ...); logging is pc_log. Main thread, in start().
 */
/* Worker threads that will run the hooks (per-worker state is sized by it). */
unsigned pc_env_workers(const pc_env_t *env);
/* The number this generation will be published as: 1 at startup, then one
 * more on each accepted reload (a plugin can tell a reload from a start). */
unsigned pc_env_generation(const pc_env_t *env);

/* ---- time ---------------------------------------------------------------
 *
 * The core's one clock, which tests replace as a whole: monotonic time for
 * durations, deadlines and cache lifetimes; wall time (Unix epoch) for
 * what is compared with the outside world (token exp/nbf/iat). Any thread.
 */
uint64_t pc_clock_mono_ns(void);
uint64_t pc_clock_mono_ms(void);
uint64_t pc_clock_wall_ms(void);

/* ---- timers and wake-ups ------------------------------------------------
 *
 * The event loops stay the core's: a plugin gets timers and wake-ups on
 * the loop of a worker (w) or of the main thread (w NULL: start(), stop(),
 * functions run by pc_main_call, pc_fetch(NULL, ...) callbacks). Both
 * return NULL when that loop does not exist (w NULL in unit tests and
 * `portcullis -t`). The plugin owns what it created and frees it on the
 * same thread, before that loop ends (worker_free, stop).
 */
typedef struct pc_timer pc_timer_t;
typedef struct pc_wake pc_wake_t;

/* fn(data) runs on the loop's thread when the timer fires. */
pc_timer_t *pc_timer_new(pc_worker_t *w, void (*fn)(void *), void *data);
/* Owner thread: (re)arms t to fire after after_ms, then every repeat_ms
 * (0: once). Starting an active timer restarts it. */
void pc_timer_start(pc_timer_t *t, uint64_t after_ms, uint64_t repeat_ms);
void pc_timer_stop(pc_timer_t *t);                /* owner thread; idempotent */
bool pc_timer_active(const pc_timer_t *t);        /* owner thread */
void pc_timer_free(pc_timer_t *t);                /* owner thread; stops it; NULL-safe */

/* A wake-up: fn(data) runs on the loop's thread after pc_wake_signal.
 * Signals that arrive before the loop looks are coalesced into one call.
 * A wake-up does not keep a loop alive by itself. */
pc_wake_t *pc_wake_new(pc_worker_t *w, void (*fn)(void *), void *data);
/* ANY thread, lock-free. The caller must make sure k is not freed
 * meanwhile (e.g. by unregistering k, under the caller's own lock, before
 * pc_wake_free). */
void pc_wake_signal(pc_wake_t *k);
void pc_wake_free(pc_wake_t *k);                  /* owner thread; NULL-safe */

/* ---- the store (rate limits, lockouts, revocations) ---------------------
 *
 * One store per process, selected by the config's "store": the embedded
 * memory store (shared by every worker of this process) or Redis (shared by
 * every gateway of a fleet). Every call is one atomic operation, made on a
 * worker thread (a hook, or a callback on the worker's loop). The callback
 * runs exactly once on that thread, possibly before the call returns (the
 * memory store answers at once), so a plugin calls these after
 * pc_async_begin and ends its token in the callback.
 * rc is 0 on success, -1 when the store could not answer (unreachable,
 * timeout, full): the plugin applies its failure policy. `local` is 1 when
 * a Redis store fell back to local memory (fail_open policy).
 *
 * Keys live in namespaces. A plugin gets its namespace in start() and
 * passes it with every call; two users share entries only by naming the
 * same namespace. A key is any bytes of any length: the core stores
 * "<namespace>:<key>", or "<namespace>#" + hex(SHA-256(key)) when that is
 * longer than PC_STORE_KEY_MAX bytes, and prefixes it per fleet.
 */
#define PC_STORE_KEY_MAX 200

typedef struct pc_store_ns pc_store_ns_t; /* opaque; lives as long as the process */

/* start() only. name: 1 to 64 bytes of A-Z a-z 0-9 and "_.:-". The same
 * name gives the same namespace (across reloads too). NULL for a bad name,
 * or when 64 namespaces exist. */
pc_store_ns_t *pc_store_ns(pc_env_t *env, const char *name);

/* The algorithms of pc_store_limit. */
typedef enum pc_limit_alg {
    PC_LIMIT_ALG_GCRA = 0,    /* token bucket: rate per period, burst on top */
    PC_LIMIT_ALG_SLIDING = 1, /* sliding window: at most rate per period */
} pc_limit_alg_t;

typedef struct pc_limit_spec {
    uint64_t period_ms;
    uint32_t rate;     /* requests per period */
    uint32_t burst;    /* 0 = rate */
    pc_limit_alg_t alg;
} pc_limit_spec_t;

typedef struct pc_limit_result {
    int allowed;
    unsigned index;            /* the most restrictive limit */
    uint64_t remaining;
    uint64_t reset_ms;         /* until that limit is full again */
    uint64_t retry_after_ms;   /* when denied */
    int local;
} pc_limit_result_t;

typedef void (*pc_store_limit_cb)(void *data, int rc, const pc_limit_result_t *res);
typedef void (*pc_store_flag_cb)(void *data, int rc, int present);
typedef void (*pc_store_count_cb)(void *data, int rc, uint64_t count);
typedef void (*pc_store_done_cb)(void *data, int rc);

/* Checks up to 8 limits on one key at once; a denied request consumes none. */
void pc_store_limit(const pc_store_ns_t *ns, const void *key, size_t klen,
                    const pc_limit_spec_t *limits, size_t n, pc_store_limit_cb cb, void *data);
/* A flag that expires by itself (lockout, revoked token); cb may be NULL. */
void pc_store_flag_set(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t ttl_ms,
                       pc_store_done_cb cb, void *data);
void pc_store_flag_check(const pc_store_ns_t *ns, const void *key, size_t klen,
                         pc_store_flag_cb cb, void *data);
/* Counts events in a fixed window opened by the first one; returns the count. */
void pc_store_count(const pc_store_ns_t *ns, const void *key, size_t klen, uint64_t window_ms,
                    pc_store_count_cb cb, void *data);

/* The worker that runs r (for pc_fetch). */
pc_worker_t *pc_request_worker(pc_request_t *r);

/* ---- how the request ended (on_response, on_log) ------------------------ */

/* The machine-readable reason when the gateway answered itself
 * ("rate_limit.exceeded", "plugin.timeout"), NULL when the upstream did. */
const char *pc_request_reason(const pc_request_t *r);
/* The plugin instance whose verdict set the response, or NULL. */
const char *pc_request_stopped_by(const pc_request_t *r);
/* 1 when the response was set by a plugin with PC_PLUGIN_AUTHENTICATES
 * (a credential was refused), else 0. */
int pc_request_stopped_by_auth(const pc_request_t *r);
/* The status the upstream answered with, 0 when no upstream response was
 * relayed (the gateway answered, or the upstream failed). */
int pc_request_upstream_status(const pc_request_t *r);

/* ---- metrics (rendered on /metrics) --------------------------------------
 *
 * A plugin registers its metrics in start() and adds to them from its
 * hooks and callbacks. Registering the same name again (a reload) returns
 * the same metric, so counts carry over; the same name with another kind or
 * other labels is refused. labels is NULL or a NULL-terminated list of at
 * most 4 label names; a metric has at most 64 series (tuples of label
 * values): adds to further ones are dropped and logged once, so never make
 * a label of unbounded request data.
 */
typedef struct pc_metric pc_metric_t; /* opaque; lives as long as the process */

/* start() only. name: a Prometheus metric name ("myplugin_denied_total");
 * help: one line. NULL (logged) when refused. */
pc_metric_t *pc_metric_counter(pc_env_t *env, const char *name, const char *help,
                               const char *const *labels);
pc_metric_t *pc_metric_gauge(pc_env_t *env, const char *name, const char *help,
                             const char *const *labels);
/* Adds n (a gauge may go down) to the series of values (one per label, NULL
 * without labels). Any thread; on a worker thread it takes no lock and,
 * for a series that exists, allocates nothing. m may be NULL (no-op). */
void pc_metric_add(pc_metric_t *m, const char *const *values, int64_t n);

/* ---- outgoing HTTP (identity providers) ---------------------------------
 *
 * An asynchronous HTTP(S) request on the calling worker's loop (or the main
 * thread's loop when w is NULL, for background refreshes started by a
 * plugin's start()). The callback runs exactly once, on that thread, never
 * from inside pc_fetch. The result and its strings are valid only during
 * the callback. The response body is capped at max_body bytes (the fetch
 * fails beyond). TLS peers are verified against the system CAs.
 */
typedef struct pc_fetch_req {
    const char *method;            /* NULL = GET */
    const char *url;
    const char *const *headers;    /* "Name: value" strings, NULL-terminated, or NULL */
    const void *body;
    size_t body_len;
    unsigned timeout_ms;           /* whole exchange; 0 = 5000 */
    size_t max_body;               /* 0 = 1 MiB */
} pc_fetch_req_t;

typedef struct pc_fetch_result {
    int ok;                        /* 1: an HTTP response arrived (any status) */
    int status;
    const char *body;              /* NUL-terminated copy */
    size_t body_len;
    const char *cache_control;     /* header value or NULL */
    const char *error;             /* when !ok: a short reason for the log */
} pc_fetch_result_t;

typedef void (*pc_fetch_cb)(void *data, const pc_fetch_result_t *res);

/* Returns 0, or -1 when the request could not even be started (bad URL). */
int pc_fetch(pc_worker_t *w, const pc_fetch_req_t *req, pc_fetch_cb cb, void *data);

/* Runs fn(data) on the main thread's loop (from any thread). For plugins
 * whose workers ask a shared background task to do something (refresh keys
 * now). */
void pc_main_call(void (*fn)(void *), void *data);

/* ---- revocation --------------------------------------------------------
 *
 * The admin API's POST /revocations sets a flag in this store namespace,
 * keyed by the revoked token id (JWT "jti"), for as long as the token
 * could be accepted. A plugin that honours revocations checks the flag of
 * the token's jti in the same namespace (pc_store_flag_check).
 */
#define PC_STORE_NS_REVOKED_JTI "revoked:jti"

/* ---- logging ----------------------------------------------------------- */

enum { PC_LOG_ERROR = 0, PC_LOG_WARN, PC_LOG_INFO, PC_LOG_DEBUG };
/* Adds request id, client, route and plugin name. */
void pc_rlog(pc_request_t *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For a message that every request could repeat (a policy applied while
 * the store is down): true at most once per `seconds` for one *last, a
 * static of the call site starting at 0. Any thread. */
bool pc_log_every(_Atomic long *last, unsigned seconds);

/* ---- plugins built as shared objects -------------------------------------
 *
 * A plugin built outside the tree (`pkg-config --cflags portcullis-plugin`)
 * is a shared object that defines its table under this one name:
 *
 *     const pc_plugin_t pc_plugin_entry = {.abi = PC_PLUGIN_ABI, ...};
 *
 * The config's "load" list dlopens it on the main thread and reads the
 * symbol (docs/plugins.md). abi stays the first field of pc_plugin_t in
 * every ABI, so the gateway reads it before it trusts anything else. The
 * declaration gives the definition default visibility, so the plugin may
 * build with -fvisibility=hidden and export nothing else.
 */
#define PC_PLUGIN_ENTRY_SYMBOL "pc_plugin_entry"
extern __attribute__((visibility("default"))) const pc_plugin_t pc_plugin_entry;

#endif
