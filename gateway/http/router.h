/* gateway/http/router.h: maps (host, path, method) to a configured route.
 *
 * Paths are split into segments at '/': "/a/b" is ["a","b"], "/a/" is
 * ["a",""], "/" is [""]. Matching is byte-exact on the path as given: the
 * caller canonicalises it first (gateway/http/path.h) and strips the query.
 * So "/a" and "/a/" are different exact paths, and a path that does not start
 * with '/' ("*", absolute-form) never matches.
 *
 * Route kinds:
 *   EXACT     the whole path, byte for byte.
 *   TEMPLATE  like exact, but a segment written "{name}" matches any
 *             non-empty segment and captures it. A param is always a whole
 *             segment ("/a/x{id}" is refused). Names are [A-Za-z0-9_]+, unique
 *             in one template, at most PC_ROUTER_MAX_PARAMS.
 *   PREFIX    on segment boundaries: "/api/orders" matches "/api/orders",
 *             "/api/orders/" and "/api/orders/7", never "/api/ordersX".
 *             A trailing slash makes the prefix a directory: "/api/" matches
 *             "/api/" and "/api/x" but not "/api". "/" matches every path.
 *   Exact and prefix paths may not contain '{' or '}' (almost always a
 *   template given the wrong kind).
 *
 * Most-specific-route rule. Deterministic: insertion order never matters,
 * because routes that could tie are refused as duplicates.
 *  1. Host. Tables are tried in this order: the exact host, then wildcard
 *     hosts from the longest suffix to the shortest ("*.a.example.com"
 *     before "*.example.com"), then the any-host routes. The next table is
 *     tried only when no route of the current one matches the path, whatever
 *     its methods: once a table matches the path it decides FOUND or 405.
 *     "*.example.com" matches one or more labels before "example.com", never
 *     "example.com" itself. Host match is ASCII case-insensitive; a ":port"
 *     and one trailing dot are ignored. A missing Host, or one that is not a
 *     valid host name (empty label, odd characters), only reaches any-host
 *     routes.
 *  2. Path, within one host table: exact beats template beats prefix.
 *     Templates compare segment by segment from the left and a literal
 *     beats a param ("/a/b/{x}" beats "/a/{y}/c" for "/a/b/c"). Prefixes:
 *     the longest wins ("/api/" beats "/api").
 *  3. Method. Candidates are walked in that order and the first whose method
 *     set holds the request method wins. HEAD is served by a GET route
 *     unless a route of the same specificity names HEAD itself. If
 *     candidates matched the path but none allows the method the result is
 *     METHOD_NOT_ALLOWED and `allowed` is the union of their methods, with
 *     HEAD added wherever GET is. No candidate: NOT_FOUND.
 *
 * Duplicates: same host (after lower-casing), same kind, same path shape
 * (param names do not count) and overlapping method sets. Routes of one
 * shape with disjoint methods (GET on one, POST on another) are fine.
 *
 * Cost: a lookup hashes each path segment and the host once; it does not
 * depend on the number of routes, only on the path, the host length and the
 * number of distinct template shapes that share a literal prefix (the
 * literal-before-param walk backtracks). No allocation during match.
 *
 * Threads: build with pc_router_new/pc_router_add on one thread; after the
 * last add the router is immutable and pc_router_match may run concurrently
 * from any number of threads. */
#ifndef PC_ROUTER_H
#define PC_ROUTER_H

#include <stddef.h>

typedef enum pc_path_kind { PC_MATCH_EXACT, PC_MATCH_PREFIX, PC_MATCH_TEMPLATE } pc_path_kind_t;

/* Method bits. PC_M_OTHER stands for every method not listed. */
enum {
    PC_M_GET = 1 << 0,
    PC_M_HEAD = 1 << 1,
    PC_M_POST = 1 << 2,
    PC_M_PUT = 1 << 3,
    PC_M_DELETE = 1 << 4,
    PC_M_PATCH = 1 << 5,
    PC_M_OPTIONS = 1 << 6,
    PC_M_TRACE = 1 << 7,
    PC_M_CONNECT = 1 << 8,
    PC_M_OTHER = 1 << 9,
    PC_M_ALL = 0x3ff
};

/* "GET" -> PC_M_GET. Case-sensitive, as methods are (RFC 9110 9.1):
 * "get" and unknown names give PC_M_OTHER. */
unsigned pc_method_bit(const char *method);

/* Writes the methods of mask as "GET, HEAD, POST" (bit order) for an Allow
 * header; PC_M_OTHER has no name and is left out. Like snprintf: returns the
 * length of the whole text, writes at most len - 1 bytes plus a NUL. */
size_t pc_methods_format(unsigned mask, char *buf, size_t len);

typedef struct pc_route_spec {
    const char *host; /* NULL = any host; "api.example.com" exact;
                         "*.example.com" = one or more labels + ".example.com" */
    pc_path_kind_t kind;
    const char *path; /* starts with '/'; templates like "/api/items/{id}" */
    unsigned methods; /* PC_M_* mask, 0 = all */
    void *route;      /* opaque, returned on match */
} pc_route_spec_t;

#define PC_ROUTER_MAX_PARAMS 8
#define PC_ROUTER_MAX_DEPTH 64 /* segments in a route path */
#define PC_ROUTER_MAX_HOST 255 /* bytes in a host name, without port */

/* name points into router memory (valid until pc_router_free), value into
 * the path given to pc_router_match. */
typedef struct pc_route_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} pc_route_param_t;

typedef enum pc_route_status {
    PC_ROUTE_FOUND,
    PC_ROUTE_NOT_FOUND,
    PC_ROUTE_METHOD_NOT_ALLOWED
} pc_route_status_t;

typedef struct pc_route_result {
    pc_route_status_t status;
    void *route;      /* when FOUND */
    unsigned allowed; /* when METHOD_NOT_ALLOWED: union of the candidates'
                         methods, for the Allow header; 0 otherwise */
    size_t nparams;   /* when FOUND through a template, in path order */
    pc_route_param_t params[PC_ROUTER_MAX_PARAMS];
} pc_route_result_t;

typedef struct pc_router pc_router_t;

/* Never NULL (aborts on OOM). */
pc_router_t *pc_router_new(void);

/* Copies everything in spec except spec->route. Returns 0, or -1 with a
 * message in err (if err is not NULL) for an invalid host, path or template,
 * too many params or segments, unknown method bits, or a duplicate. A failed
 * add leaves the router usable and its routes unchanged. Not thread-safe. */
int pc_router_add(pc_router_t *rt, const pc_route_spec_t *spec, char *err, size_t errlen);

/* host: the Host header (":port" allowed), or NULL/hostlen 0 when absent.
 * method_bit: exactly one PC_M_* bit, from pc_method_bit(). Always fills
 * res. Read-only on rt: safe from concurrent threads after the last add. */
void pc_router_match(const pc_router_t *rt, const char *host, size_t hostlen, const char *path,
                     size_t pathlen, unsigned method_bit, pc_route_result_t *res);

/* NULL is fine. Does not touch the opaque route pointers. */
void pc_router_free(pc_router_t *rt);

#endif
