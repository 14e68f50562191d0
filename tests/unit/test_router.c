/* tests/unit/test_router.c: pc_router rules as table tests (each table built
 * in several insertion orders), add-time errors and duplicates, params, deep
 * paths, and 10k random routes checked against a brute-force reference. */
#include "http/router.h"
#include "base/util.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- table scaffolding -------------------------------------------------- */

typedef struct route_row {
    const char *host;
    pc_path_kind_t kind;
    const char *path;
    unsigned methods;
    const char *id; /* also the opaque route pointer */
} route_row_t;

typedef struct case_row {
    const char *host; /* NULL = no Host header */
    const char *path;
    const char *method;
    pc_route_status_t status;
    const char *id;     /* FOUND: expected route */
    unsigned allowed;   /* METHOD_NOT_ALLOWED: expected Allow set */
    const char *params; /* FOUND: "name=value,..." ("" when none) */
} case_row_t;

#define E PC_MATCH_EXACT
#define P PC_MATCH_PREFIX
#define T PC_MATCH_TEMPLATE
/* clang-format off */
#define FOUND(h, p, m, id, params) { h, p, m, PC_ROUTE_FOUND, id, 0, params }
#define NOPE(h, p, m) { h, p, m, PC_ROUTE_NOT_FOUND, NULL, 0, NULL }
#define NOTALLOWED(h, p, m, allowed) { h, p, m, PC_ROUTE_METHOD_NOT_ALLOWED, NULL, allowed, NULL }
/* clang-format on */

static void params_str(const pc_route_result_t *res, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < res->nparams; i++) {
        const pc_route_param_t *p = &res->params[i];
        n += (size_t)snprintf(buf + n, len - n, "%s%.*s=%.*s", i ? "," : "", (int)p->name_len,
                              p->name, (int)p->value_len, p->value);
        ck_assert_uint_lt(n, len);
    }
}

/* order 0: as written, 1: reversed, 2: odd rows then even rows. */
static size_t order_index(size_t i, size_t n, int order)
{
    if (order == 1)
        return n - 1 - i;
    if (order == 2)
        return i < n / 2 ? 2 * i + 1 : 2 * (i - n / 2);
    return i;
}

static pc_router_t *build(const route_row_t *rows, size_t n, int order)
{
    pc_router_t *rt = pc_router_new();
    for (size_t i = 0; i < n; i++) {
        const route_row_t *r = &rows[order_index(i, n, order)];
        pc_route_spec_t spec = { r->host, r->kind, r->path, r->methods, (void *)r->id };
        char err[256] = "";
        ck_assert_msg(pc_router_add(rt, &spec, err, sizeof(err)) == 0, "add %s: %s", r->id, err);
    }
    return rt;
}

static void check_case(const pc_router_t *rt, const case_row_t *c, int order)
{
    pc_route_result_t res;
    size_t hl = c->host ? strlen(c->host) : 0;
    pc_router_match(rt, c->host, hl, c->path, strlen(c->path), pc_method_bit(c->method), &res);
    const char *what = c->path;
    ck_assert_msg(res.status == c->status, "%s %s host=%s order=%d: status %d, want %d (got %s)",
                  c->method, what, c->host ? c->host : "-", order, res.status, c->status,
                  res.status == PC_ROUTE_FOUND ? (const char *)res.route : "-");
    if (c->status == PC_ROUTE_FOUND) {
        char got[512];
        ck_assert_msg(strcmp(res.route, c->id) == 0, "%s %s host=%s order=%d: route %s, want %s",
                      c->method, what, c->host ? c->host : "-", order, (const char *)res.route,
                      c->id);
        params_str(&res, got, sizeof(got));
        ck_assert_msg(strcmp(got, c->params) == 0, "%s %s: params \"%s\", want \"%s\"", c->method,
                      what, got, c->params);
        ck_assert_uint_eq(res.allowed, 0);
    } else {
        ck_assert_msg(res.allowed == c->allowed, "%s %s host=%s: allowed 0x%x, want 0x%x",
                      c->method, what, c->host ? c->host : "-", res.allowed, c->allowed);
        ck_assert_ptr_null(res.route);
        ck_assert_uint_eq(res.nparams, 0);
    }
}

static void run_table(const route_row_t *rows, size_t nrows, const case_row_t *cases, size_t ncases)
{
    for (int order = 0; order < 3; order++) {
        pc_router_t *rt = build(rows, nrows, order);
        for (size_t i = 0; i < ncases; i++)
            check_case(rt, &cases[i], order);
        pc_router_free(rt);
    }
}

#define RUN(rows, cases) run_table(rows, PC_ARRAY_LEN(rows), cases, PC_ARRAY_LEN(cases))

/* ---- methods ------------------------------------------------------------ */

START_TEST(test_method_bit)
{
    ck_assert_uint_eq(pc_method_bit("GET"), PC_M_GET);
    ck_assert_uint_eq(pc_method_bit("HEAD"), PC_M_HEAD);
    ck_assert_uint_eq(pc_method_bit("POST"), PC_M_POST);
    ck_assert_uint_eq(pc_method_bit("PUT"), PC_M_PUT);
    ck_assert_uint_eq(pc_method_bit("DELETE"), PC_M_DELETE);
    ck_assert_uint_eq(pc_method_bit("PATCH"), PC_M_PATCH);
    ck_assert_uint_eq(pc_method_bit("OPTIONS"), PC_M_OPTIONS);
    ck_assert_uint_eq(pc_method_bit("TRACE"), PC_M_TRACE);
    ck_assert_uint_eq(pc_method_bit("CONNECT"), PC_M_CONNECT);
    ck_assert_uint_eq(pc_method_bit("get"), PC_M_OTHER); /* methods are case-sensitive */
    ck_assert_uint_eq(pc_method_bit("PROPFIND"), PC_M_OTHER);
    ck_assert_uint_eq(pc_method_bit("GETX"), PC_M_OTHER);
    ck_assert_uint_eq(pc_method_bit(""), PC_M_OTHER);
    ck_assert_uint_eq(pc_method_bit(NULL), PC_M_OTHER);
}
END_TEST

START_TEST(test_methods_format)
{
    char buf[128];
    ck_assert_uint_eq(pc_methods_format(PC_M_GET | PC_M_HEAD | PC_M_POST, buf, sizeof(buf)), 15);
    ck_assert_str_eq(buf, "GET, HEAD, POST");
    ck_assert_uint_eq(pc_methods_format(PC_M_POST | PC_M_GET, buf, sizeof(buf)), 9);
    ck_assert_str_eq(buf, "GET, POST");
    pc_methods_format(PC_M_ALL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT");
    ck_assert_uint_eq(pc_methods_format(0, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(pc_methods_format(PC_M_OTHER, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "");
    /* truncation is snprintf-like */
    ck_assert_uint_eq(pc_methods_format(PC_M_GET | PC_M_HEAD | PC_M_POST, buf, 6), 15);
    ck_assert_str_eq(buf, "GET, ");
    ck_assert_uint_eq(pc_methods_format(PC_M_GET | PC_M_PUT, buf, 1), 8);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(pc_methods_format(PC_M_GET | PC_M_PUT, NULL, 0), 8);
}
END_TEST

/* ---- path specificity --------------------------------------------------- */

static const route_row_t path_routes[] = {
    { NULL, E, "/api/items", PC_M_GET, "e-items" },
    { NULL, T, "/api/items", PC_M_GET | PC_M_PUT, "t-items-noparam" },
    { NULL, T, "/api/{x}", PC_M_GET, "t-api-x" },
    { NULL, T, "/api/items/{id}", 0, "t-items-id" },
    { NULL, T, "/api/{res}/{id}", 0, "t-res-id" },
    { NULL, T, "/api/items/{id}/parts/{part}", PC_M_GET, "t-parts" },
    { NULL, T, "/api/{a}/special", PC_M_GET, "t-a-special" },
    { NULL, T, "/api/{a}/{b}/{c}", PC_M_GET, "t-abc" },
    { NULL, T, "/api/{a}/lit/{c}", PC_M_GET, "t-a-lit-c" },
    { NULL, P, "/api", 0, "p-api" },
    { NULL, P, "/api/items", 0, "p-items" },
    { NULL, P, "/", 0, "p-root" },
    { NULL, P, "/static/", PC_M_GET, "p-static-dir" },
    { NULL, P, "/static", PC_M_POST, "p-static" },
    { NULL, P, "/static/img/big", 0, "p-static-img-big" },
    { NULL, E, "/a", PC_M_GET, "e-a" },
    { NULL, E, "/a/", PC_M_GET, "e-a-slash" },
    { NULL, E, "/", PC_M_GET, "e-root" },
    { NULL, T, "/u/{id}/", PC_M_GET, "t-u-slash" },
};

static const case_row_t path_cases[] = {
    /* exact beats template beats prefix */
    FOUND(NULL, "/api/items", "GET", "e-items", ""),
    FOUND(NULL, "/api/items", "PUT", "t-items-noparam", ""),
    FOUND(NULL, "/api/items", "POST", "p-items", ""),
    FOUND(NULL, "/api/orders", "GET", "t-api-x", "x=orders"),
    FOUND(NULL, "/api/orders", "POST", "p-api", ""),
    /* templates: literal beats param, segment by segment from the left */
    FOUND(NULL, "/api/items/7", "GET", "t-items-id", "id=7"),
    FOUND(NULL, "/api/orders/7", "DELETE", "t-res-id", "res=orders,id=7"),
    FOUND(NULL, "/api/items/special", "GET", "t-items-id", "id=special"),
    FOUND(NULL, "/api/foo/special", "GET", "t-a-special", "a=foo"),
    FOUND(NULL, "/api/items/7/parts/3", "GET", "t-parts", "id=7,part=3"),
    FOUND(NULL, "/api/items/7/parts/3", "POST", "p-items", ""),
    FOUND(NULL, "/api/x/lit/y", "GET", "t-a-lit-c", "a=x,c=y"),
    FOUND(NULL, "/api/x/lat/y", "GET", "t-abc", "a=x,b=lat,c=y"),
    /* backtracking: the literal branch "/api/items/..." dead-ends */
    FOUND(NULL, "/api/items/lit/y", "GET", "t-a-lit-c", "a=items,c=y"),
    FOUND(NULL, "/api/items/q/y", "GET", "t-abc", "a=items,b=q,c=y"),
    /* a param never matches an empty segment */
    FOUND(NULL, "/api/", "GET", "p-api", ""),
    FOUND(NULL, "/api/items/", "GET", "p-items", ""),
    FOUND(NULL, "/api//7", "GET", "p-api", ""),
    FOUND(NULL, "/u/5/", "GET", "t-u-slash", "id=5"),
    FOUND(NULL, "/u/5", "GET", "p-root", ""),
    /* prefixes: segment boundaries, longest wins, "/" takes everything */
    FOUND(NULL, "/api", "GET", "p-api", ""),
    FOUND(NULL, "/apiX", "GET", "p-root", ""),
    FOUND(NULL, "/api/itemsX/1/2/3", "GET", "p-api", ""),
    FOUND(NULL, "/api/items/7/parts/3/more", "GET", "p-items", ""),
    FOUND(NULL, "/static", "GET", "p-root", ""),
    FOUND(NULL, "/static", "POST", "p-static", ""),
    FOUND(NULL, "/static/", "GET", "p-static-dir", ""),
    FOUND(NULL, "/static/", "POST", "p-static", ""),
    FOUND(NULL, "/static/a/b.css", "GET", "p-static-dir", ""),
    FOUND(NULL, "/static/img/big", "GET", "p-static-img-big", ""),
    FOUND(NULL, "/static/img/big/x", "PUT", "p-static-img-big", ""),
    FOUND(NULL, "/static/img/bigger", "GET", "p-static-dir", ""),
    FOUND(NULL, "/static/img/bigger", "PUT", "p-root", ""),
    FOUND(NULL, "/staticX", "GET", "p-root", ""),
    FOUND(NULL, "/nothing/here", "PATCH", "p-root", ""),
    /* trailing slash: different exact paths */
    FOUND(NULL, "/a", "GET", "e-a", ""),
    FOUND(NULL, "/a/", "GET", "e-a-slash", ""),
    FOUND(NULL, "/a//", "GET", "p-root", ""),
    FOUND(NULL, "/", "GET", "e-root", ""),
    FOUND(NULL, "/", "POST", "p-root", ""),
    FOUND(NULL, "/a", "POST", "p-root", ""),
    /* not a path */
    NOPE(NULL, "", "GET"),
    NOPE(NULL, "*", "OPTIONS"),
    NOPE(NULL, "api/items", "GET"),
    NOPE(NULL, "http://x/api", "GET"),
};

START_TEST(test_path_rules)
{
    RUN(path_routes, path_cases);
}
END_TEST

/* ---- methods: 404 vs 405 ------------------------------------------------ */

static const route_row_t method_routes[] = {
    { NULL, E, "/x", PC_M_GET, "x-get" },
    { NULL, E, "/x", PC_M_POST, "x-post" },
    { NULL, T, "/x/{id}", PC_M_PUT | PC_M_DELETE, "x-id" },
    { NULL, P, "/y", PC_M_GET, "y" },
    { NULL, E, "/w", PC_M_GET, "w-get" },
    { NULL, P, "/w", PC_M_POST, "w-pref" },
    { NULL, E, "/h", PC_M_GET, "h-get" },
    { NULL, E, "/h", PC_M_HEAD, "h-head" },
    { NULL, E, "/k", PC_M_GET, "k-get" },
    { NULL, P, "/k", PC_M_HEAD, "k-head" },
    { NULL, E, "/o", PC_M_OTHER, "o-other" },
    { NULL, E, "/all", 0, "all" },
    { NULL, E, "/post", PC_M_POST, "post" },
    { NULL, T, "/m/{a}", PC_M_GET, "m-a" },
    { NULL, T, "/m/{a}", PC_M_POST, "m-a-post" },
    { NULL, T, "/{a}/m", PC_M_PATCH, "a-m" },
};

static const case_row_t method_cases[] = {
    FOUND(NULL, "/x", "GET", "x-get", ""),
    FOUND(NULL, "/x", "POST", "x-post", ""),
    FOUND(NULL, "/x", "HEAD", "x-get", ""), /* GET serves HEAD */
    NOTALLOWED(NULL, "/x", "PUT", PC_M_GET | PC_M_HEAD | PC_M_POST),
    NOTALLOWED(NULL, "/x", "PROPFIND", PC_M_GET | PC_M_HEAD | PC_M_POST),
    FOUND(NULL, "/x/1", "DELETE", "x-id", "id=1"),
    NOTALLOWED(NULL, "/x/1", "GET", PC_M_PUT | PC_M_DELETE),
    NOTALLOWED(NULL, "/x/1", "HEAD", PC_M_PUT | PC_M_DELETE),
    NOPE(NULL, "/x/1/2", "PUT"),
    NOPE(NULL, "/x/", "PUT"), /* empty segment: no param, and no prefix */
    NOTALLOWED(NULL, "/y/z", "OPTIONS", PC_M_GET | PC_M_HEAD),
    FOUND(NULL, "/y/z", "HEAD", "y", ""),
    NOPE(NULL, "/z", "GET"),
    NOPE(NULL, "/yy", "GET"),
    /* the walk goes on to less specific candidates for the method */
    FOUND(NULL, "/w", "POST", "w-pref", ""),
    FOUND(NULL, "/w", "GET", "w-get", ""),
    NOTALLOWED(NULL, "/w", "PUT", PC_M_GET | PC_M_HEAD | PC_M_POST),
    NOTALLOWED(NULL, "/w/1", "GET", PC_M_POST),
    /* explicit HEAD beats GET's HEAD at the same specificity ... */
    FOUND(NULL, "/h", "HEAD", "h-head", ""),
    FOUND(NULL, "/h", "GET", "h-get", ""),
    /* ... but specificity comes first */
    FOUND(NULL, "/k", "HEAD", "k-get", ""),
    FOUND(NULL, "/k/1", "HEAD", "k-head", ""),
    NOTALLOWED(NULL, "/k/1", "GET", PC_M_HEAD),
    /* unknown methods */
    FOUND(NULL, "/o", "PROPFIND", "o-other", ""),
    FOUND(NULL, "/o", "get", "o-other", ""),
    NOTALLOWED(NULL, "/o", "GET", PC_M_OTHER),
    FOUND(NULL, "/all", "PROPFIND", "all", ""),
    FOUND(NULL, "/all", "DELETE", "all", ""),
    FOUND(NULL, "/all", "CONNECT", "all", ""),
    NOTALLOWED(NULL, "/post", "HEAD", PC_M_POST),
    /* same template shape, disjoint methods */
    FOUND(NULL, "/m/1", "GET", "m-a", "a=1"),
    FOUND(NULL, "/m/1", "POST", "m-a-post", "a=1"),
    FOUND(NULL, "/m/m", "PATCH", "a-m", "a=m"),
    NOTALLOWED(NULL, "/m/m", "PUT", PC_M_GET | PC_M_HEAD | PC_M_POST | PC_M_PATCH),
};

START_TEST(test_method_rules)
{
    RUN(method_routes, method_cases);
}
END_TEST

/* ---- hosts -------------------------------------------------------------- */

static const route_row_t host_routes[] = {
    { "api.example.com", E, "/p", PC_M_GET, "h-exact" },
    { "*.example.com", E, "/p", PC_M_GET, "h-wild" },
    { "*.eu.example.com", E, "/p", PC_M_GET, "h-wild-eu" },
    { NULL, E, "/p", PC_M_GET, "h-any" },
    { "api.example.com", E, "/only-exact", PC_M_GET, "oe" },
    { NULL, E, "/q", PC_M_GET, "q-any" },
    { "*.example.com", E, "/r", PC_M_POST, "r-wild" },
    { NULL, E, "/r", PC_M_GET, "r-any" },
    { "*.eu.example.com", P, "/s", PC_M_GET, "s-wild-eu" },
    { "*.example.com", T, "/s/{x}", PC_M_GET, "s-wild" },
    { "[::1]", E, "/p", PC_M_GET, "h-v6" },
    { "API.Upper.COM", E, "/p", PC_M_GET, "h-upper" },
    { "*.Upper.com", E, "/p", PC_M_GET, "h-upper-wild" },
    { "localhost", P, "/", 0, "local" },
};

static const case_row_t host_cases[] = {
    FOUND("api.example.com", "/p", "GET", "h-exact", ""),
    FOUND("API.Example.COM", "/p", "GET", "h-exact", ""),
    FOUND("api.example.com:8443", "/p", "GET", "h-exact", ""),
    FOUND("api.example.com.", "/p", "GET", "h-exact", ""),
    FOUND("api.example.com.:80", "/p", "GET", "h-exact", ""),
    FOUND("www.example.com", "/p", "GET", "h-wild", ""),
    FOUND("a.b.c.example.com", "/p", "GET", "h-wild", ""),
    FOUND("eu.example.com", "/p", "GET", "h-wild", ""),
    FOUND("x.eu.example.com", "/p", "GET", "h-wild-eu", ""),
    FOUND("y.x.EU.example.com:1", "/p", "GET", "h-wild-eu", ""),
    FOUND("example.com", "/p", "GET", "h-any", ""), /* the wildcard needs a label */
    FOUND("xexample.com", "/p", "GET", "h-any", ""),
    FOUND("other.org", "/p", "GET", "h-any", ""),
    FOUND(NULL, "/p", "GET", "h-any", ""),
    FOUND("", "/p", "GET", "h-any", ""),
    /* fall through only when a table has nothing for the path */
    FOUND("api.example.com", "/q", "GET", "q-any", ""),
    NOPE("www.example.com", "/only-exact", "GET"),
    FOUND("api.example.com", "/r", "POST", "r-wild", ""),
    NOTALLOWED("api.example.com", "/r", "GET", PC_M_POST),
    FOUND("example.com", "/r", "GET", "r-any", ""),
    /* a less specific path under a more specific host still wins */
    FOUND("x.eu.example.com", "/s/1", "GET", "s-wild-eu", ""),
    FOUND("x.example.com", "/s/1", "GET", "s-wild", "x=1"),
    NOPE("x.example.com", "/s", "GET"),
    /* IPv6 literals and case */
    FOUND("[::1]:8080", "/p", "GET", "h-v6", ""),
    FOUND("[::1]", "/p", "GET", "h-v6", ""),
    FOUND("[::2]", "/p", "GET", "h-any", ""),
    FOUND("[::1", "/p", "GET", "h-any", ""),
    FOUND("[::1]x", "/p", "GET", "h-any", ""),
    FOUND("api.upper.com", "/p", "GET", "h-upper", ""),
    FOUND("www.UPPER.com", "/p", "GET", "h-upper-wild", ""),
    FOUND("LOCALHOST:3000", "/anything", "DELETE", "local", ""),
    /* not host names: any-host routes only */
    FOUND("a..example.com", "/p", "GET", "h-any", ""),
    FOUND(".example.com", "/p", "GET", "h-any", ""),
    FOUND("exa mple.example.com", "/p", "GET", "h-any", ""),
    FOUND("*.example.com", "/p", "GET", "h-any", ""),
    FOUND("www.example.com..", "/p", "GET", "h-any", ""),
    FOUND(".", "/p", "GET", "h-any", ""),
    FOUND(":80", "/p", "GET", "h-any", ""),
    NOPE(".", "/q/1", "GET"),
};

START_TEST(test_host_rules)
{
    RUN(host_routes, host_cases);
}
END_TEST

START_TEST(test_host_long)
{
    pc_router_t *rt = pc_router_new();
    pc_route_spec_t spec = { "*.example.com", E, "/p", 0, "w" };
    ck_assert_int_eq(pc_router_add(rt, &spec, NULL, 0), 0);
    spec = (pc_route_spec_t){ NULL, E, "/p", 0, "any" };
    ck_assert_int_eq(pc_router_add(rt, &spec, NULL, 0), 0);
    char host[600];
    pc_route_result_t res;
    /* 121 one-letter labels + example.com = 253 bytes: a lot of suffixes */
    size_t n = 0;
    for (int i = 0; i < 121; i++)
        n += (size_t)snprintf(host + n, sizeof(host) - n, "a.");
    n += (size_t)snprintf(host + n, sizeof(host) - n, "example.com");
    pc_router_match(rt, host, n, "/p", 2, PC_M_GET, &res);
    ck_assert_str_eq(res.route, "w");
    /* over 255 bytes it cannot be a configured host */
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(host + n, sizeof(host) - n, "b.");
    n += (size_t)snprintf(host + n, sizeof(host) - n, "example.com");
    pc_router_match(rt, host, n, "/p", 2, PC_M_GET, &res);
    ck_assert_str_eq(res.route, "any");
    /* hostlen is honoured: no NUL needed */
    pc_router_match(rt, "x.example.comXYZ", 13, "/pQ", 2, PC_M_GET, &res);
    ck_assert_str_eq(res.route, "w");
    pc_router_free(rt);
}
END_TEST

/* ---- add errors and duplicates ------------------------------------------ */

typedef struct bad_row {
    const char *host;
    pc_path_kind_t kind;
    const char *path;
    unsigned methods;
    const char *why; /* substring of the error */
} bad_row_t;

static const bad_row_t bad_rows[] = {
    { NULL, E, "api", 0, "start with '/'" },
    { NULL, E, "", 0, "start with '/'" },
    { NULL, E, NULL, 0, "start with '/'" },
    { NULL, P, "api/", 0, "start with '/'" },
    { NULL, T, "/a/{", 0, "whole segment" },
    { NULL, T, "/a/{}", 0, "whole segment" },
    { NULL, T, "/a/{id", 0, "whole segment" },
    { NULL, T, "/a/x{id}", 0, "outside a template param" },
    { NULL, T, "/a/{id}x", 0, "whole segment" },
    { NULL, T, "/a/id}", 0, "outside a template param" },
    { NULL, T, "/a/{i-d}", 0, "whole segment" },
    { NULL, T, "/a/{i d}", 0, "whole segment" },
    { NULL, T, "/a/{{id}}", 0, "whole segment" },
    { NULL, T, "/a/{id}/{id}", 0, "used twice" },
    { NULL, T, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", 0, "more than 8 params" },
    { NULL, E, "/a/{id}", 0, "outside a template param" },
    { NULL, P, "/a/{id}", 0, "outside a template param" },
    { NULL, E, "/a}", 0, "outside a template param" },
    { "", E, "/a", 0, "empty" },
    { "*.", E, "/a", 0, "empty" },
    { "*", E, "/a", 0, "not a host name" },
    { "a.*.com", E, "/a", 0, "not a host name" },
    { "**.example.com", E, "/a", 0, "not a host name" },
    { "*.*.example.com", E, "/a", 0, "not a host name" },
    { "example.com:80", E, "/a", 0, "not a host name" },
    { "example.com.", E, "/a", 0, "not a host name" },
    { ".example.com", E, "/a", 0, "not a host name" },
    { "a..b", E, "/a", 0, "not a host name" },
    { "exa mple.com", E, "/a", 0, "not a host name" },
    { "*.[::1]", E, "/a", 0, "not a host name" },
    { "[::1", E, "/a", 0, "not a host name" },
    { "[]", E, "/a", 0, "not a host name" },
    { "[zz]", E, "/a", 0, "not a host name" },
    { NULL, E, "/a", 1u << 10, "unknown method bits" },
    { NULL, (pc_path_kind_t)7, "/a", 0, "unknown path kind" },
};

START_TEST(test_add_errors)
{
    const bad_row_t *b = &bad_rows[_i];
    pc_router_t *rt = pc_router_new();
    pc_route_spec_t spec = { b->host, b->kind, b->path, b->methods, "r" };
    char err[256] = "";
    ck_assert_msg(pc_router_add(rt, &spec, err, sizeof(err)) == -1, "row %d accepted", _i);
    ck_assert_msg(strstr(err, b->why) != NULL, "row %d: \"%s\" lacks \"%s\"", _i, err, b->why);
    ck_assert_int_eq(pc_router_add(rt, &spec, NULL, 0), -1); /* err is optional */
    /* the router still works after a refused add */
    spec = (pc_route_spec_t){ NULL, P, "/", 0, "root" };
    ck_assert_int_eq(pc_router_add(rt, &spec, NULL, 0), 0);
    pc_route_result_t res;
    pc_router_match(rt, NULL, 0, "/a/x", 4, PC_M_GET, &res);
    ck_assert_str_eq(res.route, "root");
    pc_router_free(rt);
}
END_TEST

START_TEST(test_add_err_truncated)
{
    pc_router_t *rt = pc_router_new();
    pc_route_spec_t spec = { NULL, T, "/a/{", 0, NULL };
    char err[8];
    memset(err, 'z', sizeof(err));
    ck_assert_int_eq(pc_router_add(rt, &spec, err, sizeof(err)), -1);
    ck_assert_uint_eq(strlen(err), 7);
    pc_router_free(rt);
}
END_TEST

typedef struct dup_row {
    route_row_t first, second;
    bool dup;
} dup_row_t;

static const dup_row_t dup_rows[] = {
    { { NULL, E, "/a", 0, "1" }, { NULL, E, "/a", PC_M_GET, "2" }, true },
    { { NULL, E, "/a", PC_M_GET, "1" }, { NULL, E, "/a", PC_M_POST, "2" }, false },
    { { NULL, E, "/a", PC_M_GET, "1" }, { NULL, E, "/a", PC_M_HEAD, "2" }, false },
    { { NULL, E, "/a", PC_M_GET | PC_M_PUT, "1" }, { NULL, E, "/a", PC_M_PUT, "2" }, true },
    { { NULL, E, "/a", PC_M_GET, "1" }, { NULL, E, "/a/", PC_M_GET, "2" }, false },
    { { NULL, E, "/a", PC_M_GET, "1" }, { NULL, T, "/a", PC_M_GET, "2" }, false },
    { { NULL, E, "/a", PC_M_GET, "1" }, { NULL, P, "/a", PC_M_GET, "2" }, false },
    { { NULL, P, "/a", PC_M_GET, "1" }, { NULL, P, "/a/", PC_M_GET, "2" }, false },
    { { NULL, P, "/a/", PC_M_GET, "1" }, { NULL, P, "/a/", PC_M_GET, "2" }, true },
    { { NULL, T, "/a/{id}", 0, "1" }, { NULL, T, "/a/{name}", 0, "2" }, true },
    { { NULL, T, "/a/{id}", 0, "1" }, { NULL, T, "/a/id", 0, "2" }, false },
    { { NULL, T, "/a/{x}/b", 0, "1" }, { NULL, T, "/a/{y}/c", 0, "2" }, false },
    { { "a.com", E, "/a", 0, "1" }, { "A.COM", E, "/a", 0, "2" }, true },
    { { "a.com", E, "/a", 0, "1" }, { NULL, E, "/a", 0, "2" }, false },
    { { "a.com", E, "/a", 0, "1" }, { "*.a.com", E, "/a", 0, "2" }, false },
    { { "*.a.com", E, "/a", 0, "1" }, { "*.A.com", E, "/a", 0, "2" }, true },
    { { "*.a.com", E, "/a", 0, "1" }, { "b.a.com", E, "/a", 0, "2" }, false },
    { { NULL, E, "/a", PC_M_PUT, "1" }, { NULL, E, "/a", PC_M_PUT | PC_M_OTHER, "2" }, true },
    { { NULL, E, "/a", PC_M_OTHER, "1" }, { NULL, E, "/a", PC_M_ALL, "2" }, true },
};

START_TEST(test_duplicates)
{
    const dup_row_t *d = &dup_rows[_i];
    pc_router_t *rt = pc_router_new();
    const route_row_t *r[2] = { &d->first, &d->second };
    pc_route_spec_t s0 = { r[0]->host, r[0]->kind, r[0]->path, r[0]->methods, NULL };
    pc_route_spec_t s1 = { r[1]->host, r[1]->kind, r[1]->path, r[1]->methods, NULL };
    char err[256] = "";
    ck_assert_int_eq(pc_router_add(rt, &s0, err, sizeof(err)), 0);
    ck_assert_msg(pc_router_add(rt, &s1, err, sizeof(err)) == (d->dup ? -1 : 0), "row %d", _i);
    if (d->dup)
        ck_assert_msg(strstr(err, "duplicate") != NULL, "row %d: %s", _i, err);
    if (_i == 0)
        ck_assert_str_eq(err, "duplicate route: host (any), exact path \"/a\": GET already taken");
    if (_i == (int)PC_ARRAY_LEN(dup_rows) - 1)
        ck_assert_str_eq(err, "duplicate route: host (any), exact path \"/a\": other methods "
                              "already taken");
    pc_router_free(rt);
    /* symmetric */
    rt = pc_router_new();
    ck_assert_int_eq(pc_router_add(rt, &s1, err, sizeof(err)), 0);
    ck_assert_int_eq(pc_router_add(rt, &s0, err, sizeof(err)), d->dup ? -1 : 0);
    pc_router_free(rt);
}
END_TEST

START_TEST(test_failed_dup_keeps_routes)
{
    pc_router_t *rt = pc_router_new();
    pc_route_spec_t a = { NULL, T, "/a/{id}/b", PC_M_GET, "a" };
    pc_route_spec_t b = { NULL, T, "/a/{x}/b", PC_M_GET | PC_M_POST, "b" };
    ck_assert_int_eq(pc_router_add(rt, &a, NULL, 0), 0);
    ck_assert_int_eq(pc_router_add(rt, &b, NULL, 0), -1);
    pc_route_result_t res;
    pc_router_match(rt, NULL, 0, "/a/1/b", 6, PC_M_GET, &res);
    ck_assert_str_eq(res.route, "a");
    ck_assert_uint_eq(res.nparams, 1);
    ck_assert_int_eq(memcmp(res.params[0].name, "id", 2), 0);
    pc_router_match(rt, NULL, 0, "/a/1/b", 6, PC_M_POST, &res);
    ck_assert_int_eq(res.status, PC_ROUTE_METHOD_NOT_ALLOWED);
    ck_assert_uint_eq(res.allowed, PC_M_GET | PC_M_HEAD);
    pc_router_free(rt);
}
END_TEST

/* ---- params and deep paths ---------------------------------------------- */

START_TEST(test_params)
{
    pc_router_t *rt = pc_router_new();
    pc_route_spec_t s = { NULL, T, "/api/items/{id}/parts/{part_2}/{Z}", 0, "r" };
    ck_assert_int_eq(pc_router_add(rt, &s, NULL, 0), 0);
    /* the path is not NUL-terminated at pathlen */
    const char path[] = "/api/items/ab%20c/parts/9/zz?q=1";
    pc_route_result_t res;
    pc_router_match(rt, NULL, 0, path, strlen(path) - 4, PC_M_GET, &res);
    ck_assert_int_eq(res.status, PC_ROUTE_FOUND);
    ck_assert_uint_eq(res.nparams, 3);
    ck_assert_ptr_eq(res.params[0].value, path + 11);
    ck_assert_uint_eq(res.params[0].value_len, 6);
    ck_assert_ptr_eq(res.params[1].value, path + 24);
    ck_assert_uint_eq(res.params[1].value_len, 1);
    ck_assert_ptr_eq(res.params[2].value, path + 26);
    ck_assert_uint_eq(res.params[2].value_len, 2);
    ck_assert_int_eq(strncmp(res.params[0].name, "id", res.params[0].name_len), 0);
    ck_assert_uint_eq(res.params[1].name_len, 6);
    ck_assert_int_eq(memcmp(res.params[1].name, "part_2", 6), 0);
    ck_assert_int_eq(memcmp(res.params[2].name, "Z", 1), 0);
    /* the query would have made the last segment "zz?q=1" */
    pc_router_match(rt, NULL, 0, path, strlen(path), PC_M_GET, &res);
    ck_assert_uint_eq(res.params[2].value_len, 6);
    pc_router_free(rt);
}
END_TEST

START_TEST(test_max_params)
{
    pc_router_t *rt = pc_router_new();
    pc_route_spec_t s = { NULL, T, "/{a}/{b}/{c}/x/{d}/{e}/{f}/{g}/{h}", 0, "r" };
    ck_assert_int_eq(pc_router_add(rt, &s, NULL, 0), 0);
    const char *path = "/1/2/3/x/4/5/6/7/8";
    pc_route_result_t res;
    pc_router_match(rt, NULL, 0, path, strlen(path), PC_M_GET, &res);
    ck_assert_uint_eq(res.nparams, 8);
    for (int i = 0; i < 8; i++) {
        ck_assert_uint_eq(res.params[i].value_len, 1);
        ck_assert_int_eq(res.params[i].value[0], '1' + i);
        ck_assert_int_eq(res.params[i].name[0], 'a' + i);
    }
    pc_router_free(rt);
}
END_TEST

static char *repeat_path(const char *seg, int n, const char *tail)
{
    size_t sl = strlen(seg), tl = strlen(tail);
    char *p = pc_xmalloc((sl + 1) * (size_t)n + tl + 1), *w = p;
    for (int i = 0; i < n; i++) {
        *w++ = '/';
        memcpy(w, seg, sl);
        w += sl;
    }
    memcpy(w, tail, tl + 1);
    return p;
}

START_TEST(test_deep_paths)
{
    pc_router_t *rt = pc_router_new();
    char err[256];
    char *deep = repeat_path("s", PC_ROUTER_MAX_DEPTH, "");
    char *deeper = repeat_path("s", PC_ROUTER_MAX_DEPTH + 1, "");
    char *tmpl = repeat_path("s", PC_ROUTER_MAX_DEPTH - 1, "/{last}");
    char *pref = repeat_path("s", 10, "");
    pc_route_spec_t s = { NULL, E, deep, 0, "deep" };
    ck_assert_int_eq(pc_router_add(rt, &s, err, sizeof(err)), 0);
    s = (pc_route_spec_t){ NULL, E, deeper, 0, "deeper" };
    ck_assert_int_eq(pc_router_add(rt, &s, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "segments"));
    s = (pc_route_spec_t){ NULL, T, tmpl, 0, "tmpl" };
    ck_assert_int_eq(pc_router_add(rt, &s, err, sizeof(err)), 0);
    s = (pc_route_spec_t){ NULL, P, pref, 0, "pref" };
    ck_assert_int_eq(pc_router_add(rt, &s, err, sizeof(err)), 0);

    pc_route_result_t res;
    pc_router_match(rt, NULL, 0, deep, strlen(deep), PC_M_GET, &res);
    ck_assert_str_eq(res.route, "deep");
    char *hit = repeat_path("s", PC_ROUTER_MAX_DEPTH - 1, "/v");
    pc_router_match(rt, NULL, 0, hit, strlen(hit), PC_M_GET, &res);
    ck_assert_str_eq(res.route, "tmpl");
    ck_assert_uint_eq(res.params[0].value_len, 1);
    /* far deeper than any route: the prefix still answers, stack stays bounded */
    char *huge = repeat_path("s", 100000, "");
    pc_router_match(rt, NULL, 0, huge, strlen(huge), PC_M_GET, &res);
    ck_assert_str_eq(res.route, "pref");
    char *huge_slashes = repeat_path("", 100000, "");
    pc_router_match(rt, NULL, 0, huge_slashes, strlen(huge_slashes), PC_M_GET, &res);
    ck_assert_int_eq(res.status, PC_ROUTE_NOT_FOUND);
    free(deep);
    free(deeper);
    free(tmpl);
    free(pref);
    free(hit);
    free(huge);
    free(huge_slashes);
    pc_router_free(rt);
}
END_TEST

/* Many template shapes sharing literals: the walk backtracks but still
 * finds the most specific one. */
START_TEST(test_backtracking_shapes)
{
    pc_router_t *rt = pc_router_new();
    /* all 2^4 literal/param shapes of /a/b/c/d, each with its own id */
    static char paths[16][32], ids[16][16];
    for (int m = 0; m < 16; m++) {
        size_t n = 0;
        for (int k = 0; k < 4; k++)
            n += (size_t)(m & (8 >> k) ? snprintf(paths[m] + n, 32 - n, "/{p%d}", k)
                                       : snprintf(paths[m] + n, 32 - n, "/%c", 'a' + k));
        snprintf(ids[m], sizeof(ids[m]), "%d", m);
        /* POST..OTHER: GET would also answer HEAD */
        pc_route_spec_t s = { NULL, T, paths[m], PC_M_POST << (m % 8), ids[m] };
        ck_assert_int_eq(pc_router_add(rt, &s, NULL, 0), 0);
    }
    /* literal-first order is ascending m; for method k the winner is the
     * first m with m % 8 == k, and "/x/b/c/d" needs a param first (m >= 8) */
    for (int k = 0; k < 8; k++) {
        pc_route_result_t res;
        pc_router_match(rt, NULL, 0, "/a/b/c/d", 8, PC_M_POST << k, &res);
        ck_assert_int_eq(atoi(res.route), k);
        pc_router_match(rt, NULL, 0, "/x/b/c/d", 8, PC_M_POST << k, &res);
        ck_assert_int_eq(atoi(res.route), k + 8);
        ck_assert_int_eq(memcmp(res.params[0].value, "x", 1), 0);
        pc_router_match(rt, NULL, 0, "/x/b/c/d", 8, PC_M_GET, &res);
        ck_assert_int_eq(res.status, PC_ROUTE_METHOD_NOT_ALLOWED);
        ck_assert_uint_eq(res.allowed, (PC_M_POST << 8) - PC_M_POST);
    }
    pc_router_free(rt);
}
END_TEST

/* ---- random routes vs brute-force reference ----------------------------- */

typedef struct rng {
    uint64_t s;
} rng_t;

static uint32_t rnd(rng_t *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)((r->s >> 11) % n);
}

#define REF_MAX_SEGS 16

typedef struct ref_route {
    const char *host; /* as given, NULL = any */
    char hostkey[64]; /* lower-case; for "*.x" the suffix "x" */
    int host_kind;    /* 0 exact, 1 wildcard, 2 any */
    pc_path_kind_t kind;
    char path[160];
    char shape[160];  /* path with params written "{}" */
    unsigned methods; /* 0 replaced by PC_M_ALL */
    int nsegs;
    bool param[REF_MAX_SEGS];
    char seg[REF_MAX_SEGS][16];
} ref_route_t;

typedef struct ref_query {
    const char *host;
    char path[200];
    unsigned method;
} ref_query_t;

typedef struct ref_result {
    pc_route_status_t status;
    int route; /* index, -1 */
    unsigned allowed;
    char params[256];
} ref_result_t;

static int ref_split(const char *path, char seg[][16], int max)
{
    int n = 0;
    const char *p = path + 1;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (n == max || l >= 16)
            return -1;
        memcpy(seg[n], p, l);
        seg[n++][l] = '\0';
        if (!e)
            return n;
        p = e + 1;
    }
}

static void ref_lower(char *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    d[n] = '\0';
}

static void ref_init(ref_route_t *r, const char *host, pc_path_kind_t kind, const char *path,
                     unsigned methods)
{
    memset(r, 0, sizeof(*r));
    r->host = host;
    r->host_kind = !host ? 2 : host[0] == '*' ? 1 : 0;
    if (host)
        ref_lower(r->hostkey, host + (r->host_kind == 1 ? 2 : 0),
                  strlen(host) - (r->host_kind == 1 ? 2 : 0));
    r->kind = kind;
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->methods = methods ? methods : PC_M_ALL;
    r->nsegs = ref_split(path, r->seg, REF_MAX_SEGS);
    ck_assert_int_gt(r->nsegs, 0);
    size_t n = 0;
    for (int i = 0; i < r->nsegs; i++) {
        r->param[i] = kind == T && r->seg[i][0] == '{';
        n += (size_t)snprintf(r->shape + n, sizeof(r->shape) - n, "/%s",
                              r->param[i] ? "{}" : r->seg[i]);
    }
}

static bool ref_conflict(const ref_route_t *a, const ref_route_t *b)
{
    bool same_host = a->host_kind == b->host_kind && strcmp(a->hostkey, b->hostkey) == 0;
    return same_host && a->kind == b->kind && strcmp(a->shape, b->shape) == 0 &&
           (a->methods & b->methods);
}

/* Lower rank is more specific; -1 when the route's host does not match. */
static int ref_host_rank(const ref_route_t *r, const char *host)
{
    if (r->host_kind == 2)
        return 2000;
    if (!host)
        return -1;
    if (r->host_kind == 0)
        return strcmp(host, r->hostkey) == 0 ? 0 : -1;
    size_t hl = strlen(host), kl = strlen(r->hostkey);
    if (hl > kl + 1 && host[hl - kl - 1] == '.' && strcmp(host + hl - kl, r->hostkey) == 0)
        return 1000 - (int)kl;
    return -1;
}

static bool ref_path_match(const ref_route_t *r, const char *path, char qs[][16], int nq)
{
    size_t pl = strlen(r->path);
    if (r->kind == E)
        return strcmp(path, r->path) == 0;
    if (r->kind == P) {
        if (strncmp(path, r->path, pl) != 0)
            return false;
        return r->path[pl - 1] == '/' || path[pl] == '\0' || path[pl] == '/';
    }
    if (nq != r->nsegs)
        return false;
    for (int i = 0; i < nq; i++)
        if (r->param[i] ? qs[i][0] == '\0' : strcmp(qs[i], r->seg[i]) != 0)
            return false;
    return true;
}

/* Negative when a is more specific than b; both match the same path. */
static int ref_cmp_spec(const ref_route_t *a, const ref_route_t *b)
{
    static const int kind_rank[] = {
        [PC_MATCH_EXACT] = 0, [PC_MATCH_TEMPLATE] = 1, [PC_MATCH_PREFIX] = 2
    };
    if (a->kind != b->kind)
        return kind_rank[a->kind] - kind_rank[b->kind];
    if (a->kind == P)
        return (int)strlen(b->path) - (int)strlen(a->path);
    if (a->kind == T)
        for (int i = 0; i < a->nsegs; i++)
            if (a->param[i] != b->param[i])
                return a->param[i] ? 1 : -1;
    return 0;
}

static const ref_route_t *g_sort_routes;

static int ref_qsort_cmp(const void *x, const void *y)
{
    return ref_cmp_spec(&g_sort_routes[*(const int *)x], &g_sort_routes[*(const int *)y]);
}

static void ref_params(const ref_route_t *r, char qs[][16], char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; r->kind == T && i < r->nsegs; i++) {
        if (!r->param[i])
            continue;
        size_t nl = strlen(r->seg[i]) - 2;
        n += (size_t)snprintf(buf + n, len - n, "%s%.*s=%s", n ? "," : "", (int)nl, r->seg[i] + 1,
                              qs[i]);
    }
}

/* Walks the candidates sorted by specificity; groups of equal rank are one
 * node's list: explicit method first, then GET for HEAD. */
static void ref_pick(const ref_route_t *routes, const int *cand, int nc, unsigned m, char qs[][16],
                     ref_result_t *out)
{
    for (int g = 0; g < nc;) {
        int end = g + 1;
        while (end < nc && ref_cmp_spec(&routes[cand[g]], &routes[cand[end]]) == 0)
            end++;
        int win = -1;
        for (int i = g; i < end && win < 0; i++)
            if (routes[cand[i]].methods & m)
                win = cand[i];
        for (int i = g; i < end && win < 0 && m == PC_M_HEAD; i++)
            if (routes[cand[i]].methods & PC_M_GET)
                win = cand[i];
        if (win >= 0) {
            out->status = PC_ROUTE_FOUND;
            out->route = win;
            ref_params(&routes[win], qs, out->params, sizeof(out->params));
            return;
        }
        for (int i = g; i < end; i++) {
            unsigned ms = routes[cand[i]].methods;
            out->allowed |= ms & PC_M_GET ? ms | PC_M_HEAD : ms;
        }
        g = end;
    }
    out->status = PC_ROUTE_METHOD_NOT_ALLOWED;
}

static void ref_match(const ref_route_t *routes, int n, const ref_query_t *q, int *cand,
                      ref_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->status = PC_ROUTE_NOT_FOUND;
    out->route = -1;
    char host[128] = "", *hp = NULL;
    if (q->host) {
        size_t hl = strcspn(q->host, ":");
        if (hl && q->host[hl - 1] == '.')
            hl--;
        ref_lower(host, q->host, hl);
        hp = host;
    }
    char qs[REF_MAX_SEGS * 2][16];
    int nq = ref_split(q->path, qs, REF_MAX_SEGS * 2);
    ck_assert_int_gt(nq, 0);
    int best = INT32_MAX, nc = 0;
    for (int i = 0; i < n; i++) {
        int hr = ref_host_rank(&routes[i], hp);
        if (hr >= 0 && hr <= best && ref_path_match(&routes[i], q->path, qs, nq)) {
            nc = hr < best ? 0 : nc;
            best = hr;
            cand[nc++] = i;
        }
    }
    if (nc == 0)
        return;
    g_sort_routes = routes;
    qsort(cand, (size_t)nc, sizeof(*cand), ref_qsort_cmp);
    ref_pick(routes, cand, nc, q->method, qs, out);
}

/* ---- random generation -------------------------------------------------- */

/* clang-format off */
static const char *const lit_common[] = { "api", "v1", "items", "x", "users", "orders", "" };
static const char *const route_hosts[] = {
    NULL, NULL, NULL, NULL, "a.example.com", "A.Example.com", "*.example.com",
    "*.x.example.com", "api.other.org", "*.other.org",
};
static const char *const query_hosts[] = {
    NULL, "a.example.com", "A.EXAMPLE.COM:8080", "b.example.com", "q.x.example.com",
    "x.example.com", "example.com", "api.other.org", "deep.api.other.org", "other.org",
    "a.example.com.", "",
};
/* clang-format on */

static const char *rand_literal(rng_t *r, char *buf)
{
    if (rnd(r, 2) == 0)
        return lit_common[rnd(r, 6)];
    snprintf(buf, 16, "svc%u", rnd(r, 30));
    return buf;
}

static void gen_route_path(rng_t *r, pc_path_kind_t kind, char *out, size_t len)
{
    int depth = 1 + (int)rnd(r, 5), np = 0;
    size_t n = 0;
    if (kind == P && rnd(r, 100) == 0) {
        snprintf(out, len, "/");
        return;
    }
    for (int i = 0; i < depth; i++) {
        char b[16];
        if (kind == T && rnd(r, 3) == 0)
            n += (size_t)snprintf(out + n, len - n, "/{p%d}", np++);
        else
            n += (size_t)snprintf(out + n, len - n, "/%s", rand_literal(r, b));
    }
    if (rnd(r, 8) == 0)
        snprintf(out + n, len - n, "/");
}

static unsigned gen_methods(rng_t *r)
{
    if (rnd(r, 4) == 0)
        return 0;
    unsigned m = 0;
    for (unsigned k = 1 + rnd(r, 3); k > 0; k--)
        m |= 1u << rnd(r, 10);
    return m;
}

/* Fills q from an existing route (params filled, maybe extended or cut) or
 * from scratch. */
static void gen_query(rng_t *r, const ref_route_t *routes, int n, ref_query_t *q)
{
    char b[16];
    size_t w = 0;
    q->host = query_hosts[rnd(r, PC_ARRAY_LEN(query_hosts))];
    q->method = 1u << rnd(r, 10);
    if (rnd(r, 2) == 0) {
        const ref_route_t *rt = &routes[rnd(r, (uint32_t)n)];
        int keep = rt->nsegs - (rnd(r, 8) == 0 && rt->nsegs > 1);
        for (int i = 0; i < keep; i++) {
            const char *s = rt->seg[i];
            if (rt->param[i])
                s = rnd(r, 10) == 0 ? "" : rnd(r, 2) ? "42" : rand_literal(r, b);
            w += (size_t)snprintf(q->path + w, sizeof(q->path) - w, "/%s", s);
        }
        for (uint32_t extra = rnd(r, 4) == 0 ? 1 + rnd(r, 2) : 0; extra > 0; extra--)
            w += (size_t)snprintf(q->path + w, sizeof(q->path) - w, "/%s", rand_literal(r, b));
    } else {
        if (rnd(r, 3) == 0) /* under no route's first segment */
            w += (size_t)snprintf(q->path, sizeof(q->path), "/nope");
        for (uint32_t d = 1 + rnd(r, 6); d > 0; d--)
            w += (size_t)snprintf(q->path + w, sizeof(q->path) - w, "/%s",
                                  rnd(r, 5) ? rand_literal(r, b) : "77");
    }
    if (rnd(r, 10) == 0)
        snprintf(q->path + w, sizeof(q->path) - w, "/");
}

#define RAND_ROUTES 10000
#define RAND_QUERIES 6000

typedef struct rand_world {
    ref_route_t *routes;
    int n;
    ref_query_t *queries;
    ref_result_t *want;
} rand_world_t;

/* Adds random routes; the router must refuse exactly the reference's
 * conflicts. Keeps the accepted ones. */
static pc_router_t *rand_build(rng_t *r, rand_world_t *w)
{
    pc_router_t *rt = pc_router_new();
    w->routes = pc_xcalloc(RAND_ROUTES, sizeof(*w->routes));
    w->n = 0;
    for (int i = 0; i < RAND_ROUTES; i++) {
        ref_route_t *cand = &w->routes[w->n];
        char path[160];
        pc_path_kind_t kind = (pc_path_kind_t)rnd(r, 3);
        const char *host = route_hosts[rnd(r, PC_ARRAY_LEN(route_hosts))];
        gen_route_path(r, kind, path, sizeof(path));
        if (!host && strcmp(path, "/") == 0)
            strcpy(path, "/api"); /* an any-host "/" would leave no 404 */
        ref_init(cand, host, kind, path, gen_methods(r));
        bool conflict = false;
        for (int j = 0; j < w->n && !conflict; j++)
            conflict = ref_conflict(&w->routes[j], cand);
        pc_route_spec_t s = { cand->host, kind, cand->path, cand->methods,
                              (void *)(intptr_t)(w->n + 1) };
        char err[256] = "";
        int rc = pc_router_add(rt, &s, err, sizeof(err));
        ck_assert_msg(rc == (conflict ? -1 : 0), "route %s %s: rc %d err %s",
                      cand->host ? cand->host : "-", path, rc, err);
        if (!conflict)
            w->n++;
    }
    return rt;
}

static void compare(const pc_router_t *rt, const rand_world_t *w, int qi)
{
    const ref_query_t *q = &w->queries[qi];
    const ref_result_t *want = &w->want[qi];
    pc_route_result_t res;
    pc_router_match(rt, q->host, q->host ? strlen(q->host) : 0, q->path, strlen(q->path), q->method,
                    &res);
    ck_assert_msg(res.status == want->status, "q%d %s %s m=0x%x: status %d want %d (route %d)", qi,
                  q->host ? q->host : "-", q->path, q->method, res.status, want->status,
                  want->route);
    if (res.status == PC_ROUTE_FOUND) {
        char got[256];
        params_str(&res, got, sizeof(got));
        ck_assert_msg((intptr_t)res.route == want->route + 1, "q%d %s %s m=0x%x: route %s, want %s",
                      qi, q->host ? q->host : "-", q->path, q->method,
                      w->routes[(intptr_t)res.route - 1].path, w->routes[want->route].path);
        ck_assert_str_eq(got, want->params);
    } else {
        ck_assert_msg(res.allowed == want->allowed, "q%d %s: allowed 0x%x want 0x%x", qi, q->path,
                      res.allowed, want->allowed);
    }
}

typedef struct thread_arg {
    const pc_router_t *rt;
    const rand_world_t *w;
    int bad;
} thread_arg_t;

static void *reader(void *p)
{
    thread_arg_t *a = p;
    for (int rep = 0; rep < 5; rep++)
        for (int i = 0; i < RAND_QUERIES; i++) {
            const ref_query_t *q = &a->w->queries[i];
            pc_route_result_t res;
            pc_router_match(a->rt, q->host, q->host ? strlen(q->host) : 0, q->path, strlen(q->path),
                            q->method, &res);
            if (res.status != a->w->want[i].status ||
                (res.status == PC_ROUTE_FOUND && (intptr_t)res.route != a->w->want[i].route + 1))
                a->bad++;
        }
    return NULL;
}

START_TEST(test_random_vs_reference)
{
    rng_t r = { 0x9e3779b97f4a7c15ull };
    rand_world_t w;
    pc_router_t *rt = rand_build(&r, &w);
    ck_assert_int_gt(w.n, RAND_ROUTES / 2);
    w.queries = pc_xcalloc(RAND_QUERIES, sizeof(*w.queries));
    w.want = pc_xcalloc(RAND_QUERIES, sizeof(*w.want));
    int *cand = pc_xmalloc((size_t)w.n * sizeof(*cand));
    int count[3] = { 0 };
    for (int i = 0; i < RAND_QUERIES; i++) {
        gen_query(&r, w.routes, w.n, &w.queries[i]);
        ref_match(w.routes, w.n, &w.queries[i], cand, &w.want[i]);
        count[w.want[i].status]++;
        compare(rt, &w, i);
    }
    /* the generator must exercise every outcome */
    if (getenv("ROUTER_TEST_VERBOSE"))
        printf("routes %d, found %d, 404 %d, 405 %d\n", w.n, count[0], count[1], count[2]);
    ck_assert_int_gt(count[PC_ROUTE_FOUND], RAND_QUERIES / 10);
    ck_assert_int_gt(count[PC_ROUTE_NOT_FOUND], RAND_QUERIES / 40);
    ck_assert_int_gt(count[PC_ROUTE_METHOD_NOT_ALLOWED], RAND_QUERIES / 20);

    /* same routes in a shuffled order give the same answers */
    int *perm = pc_xmalloc((size_t)w.n * sizeof(*perm));
    for (int i = 0; i < w.n; i++)
        perm[i] = i;
    for (int i = w.n - 1; i > 0; i--) {
        int j = (int)rnd(&r, (uint32_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    pc_router_t *rt2 = pc_router_new();
    for (int i = 0; i < w.n; i++) {
        const ref_route_t *x = &w.routes[perm[i]];
        pc_route_spec_t s = { x->host, x->kind, x->path, x->methods,
                              (void *)(intptr_t)(perm[i] + 1) };
        ck_assert_int_eq(pc_router_add(rt2, &s, NULL, 0), 0);
    }
    for (int i = 0; i < RAND_QUERIES; i++)
        compare(rt2, &w, i);

    /* concurrent readers */
    pthread_t th[4];
    thread_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg_t){ rt, &w, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].bad, 0);
    }
    pc_router_free(rt);
    pc_router_free(rt2);
    free(perm);
    free(cand);
    free(w.routes);
    free(w.queries);
    free(w.want);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_method_bit);
    tcase_add_test(tc, test_methods_format);
    tcase_add_test(tc, test_path_rules);
    tcase_add_test(tc, test_method_rules);
    tcase_add_test(tc, test_host_rules);
    tcase_add_test(tc, test_host_long);
    tcase_add_loop_test(tc, test_add_errors, 0, (int)PC_ARRAY_LEN(bad_rows));
    tcase_add_test(tc, test_add_err_truncated);
    tcase_add_loop_test(tc, test_duplicates, 0, (int)PC_ARRAY_LEN(dup_rows));
    tcase_add_test(tc, test_failed_dup_keeps_routes);
    tcase_add_test(tc, test_params);
    tcase_add_test(tc, test_max_params);
    tcase_add_test(tc, test_deep_paths);
    tcase_add_test(tc, test_backtracking_shapes);
    suite_add_tcase(s, tc);

    TCase *prop = tcase_create("property");
    tcase_set_timeout(prop, 300);
    tcase_add_test(prop, test_random_vs_reference);
    suite_add_tcase(s, prop);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(router_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
