/* tests/unit/test_conf.c: the config loader. A valid document and every
 * field it yields (merged limits, chains, ids, router), a table of invalid
 * documents each with the JSON path its error must start with, warnings,
 * secrets, reload compatibility, CIDR networks and the plugin lifecycle.
 *
 * The plugin registry is faked here (pc_plugin_find), so the test needs no
 * real plugin. Name resolution is disabled except in the test that
 * installs its own resolver: nothing here touches the network. */
#include "conf/conf.h"
#include "conf/plugins.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a fake plugin registry --------------------------------------------- */

typedef struct fake_conf {
    long long x;
    char *secret;
    size_t secret_len;
    int fail_start;
} fake_conf_t;

static int fake_created, fake_freed, fake_started, fake_stopped;

static int fake_create(const json_t *node, void **conf, pc_err_t *err)
{
    if (json_object_get(node, "type"))
        return pc_err_set(err, "type", "the core must not pass \"type\" to the plugin");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)node, key, v) {
        if (strcmp(key, "x") && strcmp(key, "secret") && strcmp(key, "fail_start") &&
            strcmp(key, "list"))
            return pc_err_set(err, key, "unknown key");
    }
    fake_conf_t *fc = pc_xcalloc(1, sizeof(*fc));
    v = json_object_get(node, "x");
    if (v && !json_is_integer(v)) {
        free(fc);
        return pc_err_set(err, "x", "must be an integer");
    }
    fc->x = v ? json_integer_value(v) : 0;
    v = json_object_get(node, "list");
    for (size_t i = 0; v && i < json_array_size(v); i++) {
        if (!json_is_string(json_array_get(v, i))) {
            char k[32];
            snprintf(k, sizeof(k), "list[%zu]", i);
            free(fc);
            return pc_err_set(err, k, "must be a string");
        }
    }
    if (json_object_get(node, "secret")) {
        fc->secret = pc_conf_secret(node, "secret", &fc->secret_len, err);
        if (!fc->secret) {
            free(fc);
            return -1;
        }
    }
    fc->fail_start = json_is_true(json_object_get(node, "fail_start"));
    fake_created++;
    *conf = fc;
    return 0;
}

static int fake_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    fake_conf_t *fc = conf;
    (void)env;
    if (fc->fail_start)
        return pc_err_set(err, "fail_start", "asked to fail");
    fake_started++;
    return 0;
}

static void fake_stop(void *conf)
{
    (void)conf;
    fake_stopped++;
}

static void fake_free(void *conf)
{
    fake_conf_t *fc = conf;
    fake_freed++;
    free(fc->secret);
    free(fc);
}

/* Fails after handing out a partly built conf, as plugins/headers.c does:
 * the core must free it. */
static int partial_create(const json_t *node, void **conf, pc_err_t *err)
{
    (void)node;
    *conf = pc_xcalloc(1, sizeof(fake_conf_t));
    return pc_err_set(err, "x", "half built");
}

static int silent_create(const json_t *node, void **conf, pc_err_t *err)
{
    (void)node;
    (void)conf;
    (void)err;
    return -1;
}

#define FAKE_TYPE(sym, nm, fl)                                                 \
    static const pc_plugin_t sym = {                                           \
        .abi = PC_PLUGIN_ABI, .name = nm, .flags = fl,                         \
        .conf_create = fake_create, .start = fake_start, .stop = fake_stop,    \
        .conf_free = fake_free,                                                \
    }
FAKE_TYPE(fake_plain, "fake", 0);
FAKE_TYPE(fake_auth, "fake_auth", PC_PLUGIN_AUTHENTICATES);
FAKE_TYPE(fake_body, "fake_body", PC_PLUGIN_NEEDS_BODY);
static const pc_plugin_t fake_silent = {
    .abi = PC_PLUGIN_ABI, .name = "fake_silent", .conf_create = silent_create,
};
/* Stands in for the real "headers" plugin so that the shipped conf files load here:
 * accepts any keys (its own unit test checks them). */
static int lenient_create(const json_t *node, void **conf, pc_err_t *err)
{
    (void)node;
    (void)err;
    *conf = NULL;
    return 0;
}
static const pc_plugin_t fake_headers = {
    .abi = PC_PLUGIN_ABI, .name = "headers", .conf_create = lenient_create,
};
/* The same for "jwt" (conf/demo.json uses it; tests/unit/test_jwt_plugin.c
 * checks its keys). */
static const pc_plugin_t fake_jwt = {
    .abi = PC_PLUGIN_ABI, .name = "jwt", .flags = PC_PLUGIN_AUTHENTICATES,
    .conf_create = lenient_create,
};
/* And for "allowlist" and "schema" (conf/demo.json's orders route; their own
 * unit tests check their keys). */
static const pc_plugin_t fake_allowlist = {
    .abi = PC_PLUGIN_ABI, .name = "allowlist", .conf_create = lenient_create,
};
static const pc_plugin_t fake_schema = {
    .abi = PC_PLUGIN_ABI, .name = "schema", .flags = PC_PLUGIN_NEEDS_BODY,
    .conf_create = lenient_create,
};
static const pc_plugin_t fake_partial = {
    .abi = PC_PLUGIN_ABI, .name = "fake_partial", .conf_create = partial_create,
    .conf_free = fake_free,
};
static const pc_plugin_t fake_oldabi = {
    .abi = PC_PLUGIN_ABI + 7, .name = "fake_oldabi", .conf_create = fake_create,
};

const pc_plugin_t *pc_plugin_find(const char *type)
{
    static const pc_plugin_t *const all[] = {&fake_plain, &fake_auth, &fake_body, &fake_silent,
                                             &fake_oldabi, &fake_headers, &fake_partial,
                                             &fake_jwt, &fake_allowlist, &fake_schema};
    for (size_t i = 0; i < PC_ARRAY_LEN(all); i++)
        if (strcmp(all[i]->name, type) == 0)
            return all[i];
    return NULL;
}

/* ---- helpers -------------------------------------------------------------- */

/* JSON written with single quotes, for readability. */
static char *dq(const char *s)
{
    char *d = pc_xstrdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static pc_conf_t *load(const char *s, pc_diag_t *d)
{
    char *j = dq(s);
    pc_conf_t *c = pc_conf_load_buffer(j, strlen(j), "test.json", d);
    free(j);
    return c;
}

static bool has_prefix(char *const *list, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(list[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

static void dump(const pc_diag_t *d)
{
    pc_diag_print(d, stderr);
}

#define ASSERT_ERROR(d, prefix)                                                \
    do {                                                                       \
        if (!has_prefix((d)->errors, (d)->nerrors, prefix))                    \
            dump(d);                                                           \
        ck_assert_msg(has_prefix((d)->errors, (d)->nerrors, prefix),           \
                      "no error starting with: %s", prefix);                   \
    } while (0)

#define ASSERT_WARNING(d, prefix)                                              \
    do {                                                                       \
        if (!has_prefix((d)->warnings, (d)->nwarnings, prefix))                \
            dump(d);                                                           \
        ck_assert_msg(has_prefix((d)->warnings, (d)->nwarnings, prefix),       \
                      "no warning starting with: %s", prefix);                 \
    } while (0)

static void setup(void)
{
    pc_conf_resolve_hook = NULL;
}

/* ---- a valid, full document ------------------------------------------------- */

static const char *full_doc =
    "{'workers': 3, 'user': 'portcullis', 'drain_timeout_ms': 5000,"
    " 'log': {'level': 'debug'},"
    " 'limits': {'max_body_bytes': 2048, 'request_timeout_ms': 30000},"
    " 'listen': [{'address': '127.0.0.1', 'port': 8080, 'max_connections': 500,"
    "             'trusted_proxies': ['10.0.0.0/8', '::1/128'],"
    "             'limits': {'max_headers': 50, 'max_url_bytes': 4096,"
    "                        'header_timeout_ms': 2500}},"
    "            {'port': 8081, 'underscores_in_headers': true}],"
    " 'admin': {'port': 9901},"
    " 'access_log': {'path': '/var/log/portcullis/access.log'},"
    " 'store': {'type': 'memory', 'max_bytes': 2097152},"
    " 'upstreams': {"
    "   'orders': {'targets': [{'url': 'http://127.0.0.1:9000', 'weight': 2},"
    "                          {'url': 'http://[::1]:9001/'}],"
    "              'balancer': 'hash', 'hash_key': {'header': 'X-User-Id'},"
    "              'timeouts': {'connect_ms': 500}, 'pass_host': true},"
    "   'users': {'targets': [{'url': 'HTTP://127.0.0.1'}]}},"
    " 'plugins': {'hdr': {'type': 'fake', 'x': 7},"
    "             'auth': {'type': 'fake_auth', 'list': ['a', 'b']},"
    "             'body': {'type': 'fake_body'}},"
    " 'global_plugins': ['hdr'],"
    " 'routes': ["
    "   {'name': 'orders', 'match': {'path_prefix': '/api/orders'}, 'upstream': 'orders',"
    "    'plugins': ['auth', 'body'], 'rewrite_prefix': '/v2',"
    "    'limits': {'max_body_bytes': 4096, 'max_headers': 20}},"
    "   {'name': 'item', 'match': {'host': 'API.Example.com', 'path_template': '/items/{id}',"
    "    'methods': ['GET', 'PUT']}, 'upstream': 'users'},"
    "   {'name': 'health', 'match': {'path': '/health', 'methods': ['GET']},"
    "    'upstream': 'users', 'allow_double_encoding': true},"
    "   {'name': 'strip', 'match': {'path_prefix': '/s/'}, 'upstream': 'users',"
    "    'rewrite_prefix': '/'},"
    "   {'name': 'teapot', 'match': {'path': '/tea'}, 'plugins': ['auth']}]}";

static const pc_route_conf_t *match(const pc_conf_t *c, const char *host, const char *path,
                                    const char *method, pc_route_status_t *st)
{
    pc_route_result_t res;
    pc_router_match(c->router, host, host ? strlen(host) : 0, path, strlen(path),
                    pc_method_bit(method), &res);
    *st = res.status;
    return res.status == PC_ROUTE_FOUND ? res.route : NULL;
}

START_TEST(test_full)
{
    pc_diag_t d = {0};
    pc_conf_t *c = load(full_doc, &d);
    if (!c)
        dump(&d);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_uint_eq(atomic_load(&c->refs), 1);
    ck_assert_str_eq(c->path, "test.json");

    ck_assert_uint_eq(c->workers, 3);
    ck_assert_str_eq(c->user, "portcullis");
    ck_assert_uint_eq(c->drain_timeout_ms, 5000);
    ck_assert_int_eq(c->log_level, PC_LOG_DEBUG);

    /* global limits: defaults + overrides */
    ck_assert_uint_eq(c->limits.max_url_bytes, 8192);
    ck_assert_uint_eq(c->limits.max_header_bytes, 16384);
    ck_assert_uint_eq(c->limits.max_headers, 100);
    ck_assert_uint_eq(c->limits.max_body_bytes, 2048);
    ck_assert_uint_eq(c->limits.client_idle_timeout_ms, 60000);
    ck_assert_uint_eq(c->limits.request_timeout_ms, 30000);
    ck_assert_uint_eq(c->limits.max_connections_per_ip, 0);
    ck_assert_uint_eq(c->limits.response_buffer_bytes, 65536);
    ck_assert_uint_eq(c->limits.header_timeout_ms, 10000);

    ck_assert_uint_eq(c->nlisteners, 2);
    const pc_listener_conf_t *l0 = &c->listeners[0], *l1 = &c->listeners[1];
    ck_assert_str_eq(l0->address, "127.0.0.1");
    ck_assert_uint_eq(l0->port, 8080);
    ck_assert(!l0->public_);
    ck_assert_uint_eq(l0->max_connections, 500);
    ck_assert_uint_eq(l0->limits.max_headers, 50);
    ck_assert_uint_eq(l0->limits.max_url_bytes, 4096);
    ck_assert_uint_eq(l0->limits.max_body_bytes, 2048);
    ck_assert_uint_eq(l0->ntrusted_proxies, 2);
    ck_assert(!l0->underscores_in_headers);
    ck_assert(l1->underscores_in_headers);
    ck_assert_int_eq(l0->trusted_proxies[0].family, AF_INET);
    ck_assert_uint_eq(l0->trusted_proxies[0].prefix, 8);
    ck_assert_int_eq(l0->trusted_proxies[1].family, AF_INET6);
    ck_assert_str_eq(l1->address, "0.0.0.0");
    ck_assert_uint_eq(l1->port, 8081);
    ck_assert(l1->public_);
    ck_assert_uint_eq(l1->max_connections, 10000);
    ck_assert_uint_eq(l1->limits.max_headers, 100);
    ck_assert_uint_eq(l0->limits.header_timeout_ms, 2500);
    ck_assert_uint_eq(l1->limits.header_timeout_ms, 10000);

    ck_assert_str_eq(c->admin_address, "127.0.0.1");
    ck_assert_uint_eq(c->admin_port, 9901);
    ck_assert_str_eq(c->access_log_path, "/var/log/portcullis/access.log");
    ck_assert_str_eq(c->store_type, "memory");
    ck_assert_uint_eq(c->store_max_bytes, 2097152);

    ck_assert_uint_eq(c->nupstreams, 2);
    const pc_upstream_conf_t *uo = &c->upstreams[0], *uu = &c->upstreams[1];
    ck_assert_str_eq(uo->name, "orders");
    ck_assert_uint_eq(uo->index, 0);
    ck_assert_int_eq(uo->balancer, PC_LB_HASH);
    ck_assert_int_eq(uo->hash_key, PC_HASH_HEADER);
    ck_assert_str_eq(uo->hash_header, "X-User-Id");
    ck_assert_uint_eq(uo->connect_timeout_ms, 500);
    ck_assert_uint_eq(uo->response_timeout_ms, 15000);
    ck_assert(uo->pass_host);
    ck_assert_uint_eq(uo->ntargets, 2);
    ck_assert_ptr_nonnull(uo->lb);
    ck_assert_uint_eq(pc_lb_size(uo->lb), 2);
    ck_assert_uint_eq(uo->targets[0].weight, 2);
    ck_assert_uint_eq(uo->targets[1].weight, 1);
    ck_assert_str_eq(uo->targets[0].authority, "127.0.0.1:9000");
    ck_assert_str_eq(uo->targets[1].authority, "[::1]:9001");
    ck_assert_str_eq(uo->targets[1].url, "http://[::1]:9001/");
    const struct sockaddr_in *s4 = (const void *)&uo->targets[0].ut.addr;
    ck_assert_int_eq(s4->sin_family, AF_INET);
    ck_assert_uint_eq(ntohs(s4->sin_port), 9000);
    ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), 0x7f000001);
    ck_assert_uint_eq(uo->targets[0].ut.addrlen, sizeof(struct sockaddr_in));
    const struct sockaddr_in6 *s6 = (const void *)&uo->targets[1].ut.addr;
    ck_assert_int_eq(s6->sin6_family, AF_INET6);
    ck_assert_uint_eq(ntohs(s6->sin6_port), 9001);
    ck_assert_uint_eq(uo->targets[1].ut.addrlen, sizeof(struct sockaddr_in6));
    ck_assert_uint_ne(uo->targets[0].ut.id, 0);
    ck_assert_uint_ne(uo->targets[0].ut.id, uo->targets[1].ut.id);
    ck_assert_str_eq(uu->name, "users");
    ck_assert_int_eq(uu->balancer, PC_LB_ROUND_ROBIN);
    ck_assert_int_eq(uu->hash_key, PC_HASH_CLIENT_IP);
    ck_assert(!uu->pass_host);
    ck_assert_uint_eq(uu->connect_timeout_ms, 1000);
    ck_assert_str_eq(uu->targets[0].authority, "127.0.0.1"); /* port 80 left out */
    ck_assert_uint_ne(uo->metrics_id, uu->metrics_id);
    ck_assert_uint_ne(uo->metrics_id, 0);

    ck_assert_uint_eq(c->nplugins, 3);
    ck_assert_str_eq(c->plugins[0].name, "hdr");
    ck_assert_str_eq(c->plugins[1].name, "auth");
    ck_assert_ptr_eq(c->plugins[1].type, &fake_auth);
    ck_assert_uint_eq(c->plugins[2].index, 2);
    ck_assert_int_eq(((fake_conf_t *)c->plugins[0].conf)->x, 7);
    ck_assert_uint_eq(c->nglobal_chain, 1);
    ck_assert_ptr_eq(c->global_chain[0], &c->plugins[0]);

    ck_assert_uint_eq(c->nroutes, 5);
    const pc_route_conf_t *ro = &c->routes[0], *ri = &c->routes[1], *rh = &c->routes[2];
    ck_assert_str_eq(ro->name, "orders");
    ck_assert_int_eq(ro->kind, PC_MATCH_PREFIX);
    ck_assert_str_eq(ro->path, "/api/orders");
    ck_assert_ptr_null(ro->host);
    ck_assert_uint_eq(ro->methods, 0);
    ck_assert_ptr_eq(ro->upstream, uo);
    ck_assert_uint_eq(ro->nchain, 3);
    ck_assert_ptr_eq(ro->chain[0], &c->plugins[0]);
    ck_assert_ptr_eq(ro->chain[1], &c->plugins[1]);
    ck_assert_ptr_eq(ro->chain[2], &c->plugins[2]);
    ck_assert(ro->needs_body);
    ck_assert(ro->authenticated);
    ck_assert_str_eq(ro->rewrite_prefix, "/v2");
    /* route limits: global defaults merged with the route's, not the listener's */
    ck_assert_uint_eq(ro->limits.max_body_bytes, 4096);
    ck_assert_uint_eq(ro->limits.max_headers, 20);
    ck_assert_uint_eq(ro->limits.max_url_bytes, 8192);
    ck_assert_uint_eq(ro->limits.request_timeout_ms, 30000);
    ck_assert_uint_eq(ro->overrides.max_body_bytes, 4096);
    ck_assert_uint_eq(ro->overrides.request_timeout_ms, 0);

    ck_assert_str_eq(ri->host, "api.example.com");
    ck_assert_int_eq(ri->kind, PC_MATCH_TEMPLATE);
    ck_assert_uint_eq(ri->methods, PC_M_GET | PC_M_PUT);
    ck_assert_uint_eq(ri->nchain, 1);
    ck_assert(!ri->needs_body);
    ck_assert(!ri->authenticated);
    ck_assert_ptr_null(ri->rewrite_prefix);
    ck_assert_uint_eq(ri->limits.max_body_bytes, 2048);
    ck_assert_int_eq(rh->kind, PC_MATCH_EXACT);
    ck_assert(rh->allow_double_encoding);
    ck_assert(!ro->allow_double_encoding);
    ck_assert_str_eq(c->routes[3].rewrite_prefix, "");
    ck_assert_ptr_null(c->routes[4].upstream);
    for (size_t i = 0; i < c->nroutes; i++) {
        ck_assert_uint_eq(c->routes[i].index, i);
        ck_assert_uint_ne(c->routes[i].metrics_id, 0);
    }

    /* the router knows them */
    pc_route_status_t st;
    ck_assert_ptr_eq(match(c, "x", "/api/orders/7", "POST", &st), ro);
    ck_assert_ptr_eq(match(c, "api.example.com:8080", "/items/5", "GET", &st), ri);
    ck_assert_ptr_null(match(c, "other.example.com", "/items/5", "GET", &st));
    ck_assert_int_eq(st, PC_ROUTE_NOT_FOUND);
    ck_assert_ptr_eq(match(c, NULL, "/health", "GET", &st), rh);
    ck_assert_ptr_null(match(c, NULL, "/health", "POST", &st));
    ck_assert_int_eq(st, PC_ROUTE_METHOD_NOT_ALLOWED);

    /* warnings */
    ASSERT_WARNING(&d, "listen[1]: public listener without TLS");
    ck_assert(!has_prefix(d.warnings, d.nwarnings, "listen[0]:"));
    ASSERT_WARNING(&d, "routes[1]: no authentication plugin: anyone can call it");
    ASSERT_WARNING(&d, "routes[2]: no authentication plugin");
    ck_assert(!has_prefix(d.warnings, d.nwarnings, "routes[0]: no authentication"));
    ASSERT_WARNING(&d, "routes[4]: route has no upstream");

    /* ids are stable across generations */
    pc_diag_t d2 = {0};
    pc_conf_t *c2 = load(full_doc, &d2);
    ck_assert_ptr_nonnull(c2);
    ck_assert_uint_ne(c2->generation, c->generation);
    for (size_t i = 0; i < c->nroutes; i++)
        ck_assert_uint_eq(c2->routes[i].metrics_id, c->routes[i].metrics_id);
    for (size_t i = 0; i < c->nupstreams; i++) {
        ck_assert_uint_eq(c2->upstreams[i].metrics_id, c->upstreams[i].metrics_id);
        for (size_t j = 0; j < c->upstreams[i].ntargets; j++)
            ck_assert_uint_eq(c2->upstreams[i].targets[j].ut.id,
                              c->upstreams[i].targets[j].ut.id);
    }
    ck_assert_int_eq(pc_conf_reload_compatible(c, c2, &d2), 0);
    ck_assert_uint_eq(d2.nerrors, 0);

    /* refcount */
    pc_conf_ref(c2);
    ck_assert(!pc_conf_unref_is_last(c2));
    ck_assert(pc_conf_unref_is_last(c2));
    pc_conf_free(c2);
    pc_conf_free(c);
    pc_diag_free(&d);
    pc_diag_free(&d2);
}
END_TEST

START_TEST(test_minimal_defaults)
{
    pc_diag_t d = {0};
    pc_conf_t *c = load("{'listen': [{'port': 8080}], 'routes': []}", &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_ge(c->workers, 1);
    ck_assert_ptr_null(c->user);
    ck_assert_uint_eq(c->drain_timeout_ms, 10000);
    ck_assert_int_eq(c->log_level, PC_LOG_INFO);
    ck_assert_ptr_null(c->admin_address);
    ck_assert_ptr_null(c->access_log_path);
    ck_assert_str_eq(c->store_type, "memory");
    ck_assert_uint_eq(c->store_max_bytes, 67108864);
    ck_assert_uint_eq(c->nroutes, 0);
    ck_assert_ptr_nonnull(c->router);
    ASSERT_WARNING(&d, "routes: no routes");
    pc_conf_free(c);
    pc_diag_free(&d);

    c = load("{'listen': [{'port': 8080}], 'routes': [], 'access_log': {}}", &d);
    ck_assert_str_eq(c->access_log_path, "stderr");
    pc_conf_free(c);
    c = load("{'listen': [{'port': 8080}], 'routes': [],"
             " 'access_log': {'path': 'stdout', 'enabled': false}}", &d);
    ck_assert_ptr_null(c->access_log_path);
    pc_conf_free(c);
    pc_diag_free(&d);
}
END_TEST

/* ---- invalid documents ------------------------------------------------------ */

#define LST "'listen': [{'address': '127.0.0.1', 'port': 8080}]"
#define UPS "'upstreams': {'u': {'targets': [{'url': 'http://127.0.0.1:9000'}]}}"
#define RTE "'routes': [{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u'}]"
#define PLG "'plugins': {'p': {'type': 'fake', 'x': 1}}"
#define DOC(...) "{" LST ", " UPS ", " __VA_ARGS__ "}"
#define WITH_UP(extra)                                                         \
    "'upstreams': {'u': {'targets': [{'url': 'http://127.0.0.1:9000'}], " extra "}}"
#define WITH_TARGET(t) "'upstreams': {'u': {'targets': [" t "]}}"
#define ROUTE(r) "'routes': [" r "]"

typedef struct bad_case {
    const char *doc;
    const char *error; /* some error must start with this */
} bad_case_t;

static const bad_case_t bad[] = {
    /* unknown keys at several depths */
    {DOC(RTE ", 'bogus': 1"), "bogus: unknown key"},
    {DOC(RTE ", 'route': []"), "route: unknown key (did you mean \"routes\"?)"},
    {"{'listen': [{'adress': '127.0.0.1', 'port': 8080}], " UPS ", " RTE "}",
     "listen[0].adress: unknown key (did you mean \"address\"?)"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.0.0.1:1', 'weigth': 2}") ", " RTE "}",
     "upstreams.u.targets[0].weigth: unknown key (did you mean \"weight\"?)"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path_prefx': '/a'}, 'upstream': 'u'}")),
     "routes[0].match.path_prefx: unknown key"},
    {DOC(RTE ", 'limits': {'max_body': 10}"), "limits.max_body: unknown key"},
    {"{" LST ", " WITH_UP("'timeouts': {'read_ms': 5}") ", " RTE "}",
     "upstreams.u.timeouts.read_ms: unknown key"},
    {DOC(RTE ", 'log': {'level': 'info', 'format': 'json'}"), "log.format: unknown key"},
    {DOC(RTE ", 'admin': {'port': 9901, 'tls': true}"), "admin.tls: unknown key"},
    /* wrong types */
    {DOC(RTE ", 'workers': '4'"), "workers: must be an integer"},
    {DOC(RTE ", 'workers': 4.0"), "workers: must be an integer"},
    {"{'listen': {'port': 8080}, " UPS ", " RTE "}", "listen: must be an array"},
    {"{" LST ", " WITH_UP("'pass_host': 'yes'") ", " RTE "}",
     "upstreams.u.pass_host: must be true or false"},
    {"{'listen': [{'port': 8080, 'underscores_in_headers': 1}], " UPS ", " RTE "}",
     "listen[0].underscores_in_headers: must be true or false"},
    {DOC("'routes': [{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u',"
         " 'allow_double_encoding': 'yes'}]"),
     "routes[0].allow_double_encoding: must be true or false"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u', 'plugins': [1]}")),
     "routes[0].plugins[0]: must be a string"},
    {DOC(ROUTE("{'name': 7, 'match': {'path': '/'}, 'upstream': 'u'}")),
     "routes[0].name: must be a string"},
    {"[1, 2]", "test.json: the document must be a JSON object"},
    {"{'listen': [{'port': 8080}], 'listen': []}", "test.json:1:"}, /* duplicate key */
    /* out of range */
    {DOC(RTE ", 'workers': 1000"), "workers: must be between 0 and 256"},
    {DOC(RTE ", 'drain_timeout_ms': -1"), "drain_timeout_ms: must be between 0 and 600000"},
    {"{'listen': [{'port': 0}], " UPS ", " RTE "}", "listen[0].port: must be between 1 and 65535"},
    {"{'listen': [{'port': 8080, 'max_connections': 0}], " UPS ", " RTE "}",
     "listen[0].max_connections: must be between 1 and 1000000"},
    {DOC(RTE ", 'limits': {'max_url_bytes': 10}"), "limits.max_url_bytes: must be between 64"},
    {"{'listen': [{'port': 8080, 'limits': {'max_headers': 0}}], " UPS ", " RTE "}",
     "listen[0].limits.max_headers: must be between 1 and 1000"},
    {DOC(RTE ", 'store': {'max_bytes': 1000}"), "store.max_bytes: must be between 1048576"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.0.0.1:1', 'weight': 0}") ", " RTE "}",
     "upstreams.u.targets[0].weight: must be between 1 and 1000"},
    {"{" LST ", " WITH_UP("'timeouts': {'connect_ms': 0}") ", " RTE "}",
     "upstreams.u.timeouts.connect_ms: must be between 1 and 600000"},
    {"{'listen': [], " UPS ", " RTE "}", "listen: must hold 1 to 16 listeners"},
    /* missing required */
    {"{" UPS ", " RTE "}", "listen: required"},
    {"{" LST ", " UPS "}", "routes: required"},
    {"{'listen': [{'address': '127.0.0.1'}], " UPS ", " RTE "}", "listen[0].port: required"},
    {DOC(RTE ", 'admin': {'address': '127.0.0.1'}"), "admin.port: required"},
    {"{" LST ", 'upstreams': {'u': {}}, " RTE "}", "upstreams.u.targets: required"},
    {"{" LST ", " WITH_TARGET("{'weight': 1}") ", " RTE "}", "upstreams.u.targets[0].url: required"},
    {DOC(ROUTE("{'match': {'path': '/'}, 'upstream': 'u'}")), "routes[0].name: required"},
    {DOC(ROUTE("{'name': 'r', 'upstream': 'u'}")), "routes[0].match: required"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}}")), "routes[0].upstream: required"},
    {DOC(PLG ", " ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u'}")
         ", 'plugins': {'p': {'x': 1}}"),
     "test.json:1:"}, /* duplicate "plugins" key */
    {DOC(RTE ", 'plugins': {'p': {'x': 1}}"), "plugins.p.type: required"},
    /* listeners and admin */
    {"{'listen': [{'address': 'localhost', 'port': 8080}], " UPS ", " RTE "}",
     "listen[0].address: \"localhost\" is not a numeric IPv4 or IPv6 address"},
    {"{'listen': [{'port': 8443, 'tls': {'cert': 'c', 'key': 'k'}}], " UPS ", " RTE "}",
     "listen[0].tls: tls is not supported yet"},
    {"{'listen': [{'port': 8080}, {'address': '127.0.0.1', 'port': 8080}], " UPS ", " RTE "}",
     "listen[1]: address and port overlap listen[0]"},
    {"{'listen': [{'address': '::1', 'port': 80}, {'address': '0:0::1', 'port': 80}], " UPS
     ", " RTE "}",
     "listen[1]: address and port overlap listen[0]"},
    {"{'listen': [{'port': 8080, 'trusted_proxies': ['10.0.0.0/33']}], " UPS ", " RTE "}",
     "listen[0].trusted_proxies[0]: \"10.0.0.0/33\" is not an IP network"},
    {"{'listen': [{'port': 8080, 'trusted_proxies': ['10.0.0.0/8', '10.0.0.1/8']}], " UPS ", " RTE
     "}",
     "listen[0].trusted_proxies[1]: \"10.0.0.1/8\" has bits set after the prefix"},
    {DOC(RTE ", 'admin': {'port': 8080}"), "admin: address and port overlap listen[0]"},
    {DOC(RTE ", 'admin': {'address': 'localhost', 'port': 9901}"), "admin.address: \"localhost\""},
    /* access log, store, log, user */
    {DOC(RTE ", 'access_log': {'path': 'logs/access.log'}"), "access_log.path: must be"},
    {DOC(RTE ", 'store': {'type': 'redis'}"), "store.url: required for type redis"},
    {DOC(RTE ", 'store': {'type': 'disk'}"), "store.type: must be \"memory\" or \"redis\""},
    {DOC(RTE ", 'log': {'level': 'verbose'}"), "log.level: must be one of error, warn, info, debug"},
    {DOC(RTE ", 'user': 'root; rm'"), "user: not a user name"},
    {DOC(RTE ", 'user': ''"), "user: must not be empty"},
    /* upstream urls and targets */
    {"{" LST ", " WITH_TARGET("{'url': 'https://127.0.0.1:9000'}") ", " RTE "}",
     "upstreams.u.targets[0].url: https upstreams are not supported yet"},
    {"{" LST ", " WITH_TARGET("{'url': 'ftp://127.0.0.1'}") ", " RTE "}",
     "upstreams.u.targets[0].url: scheme must be http://"},
    {"{" LST ", " WITH_TARGET("{'url': '127.0.0.1:9000'}") ", " RTE "}",
     "upstreams.u.targets[0].url: must be an absolute URL"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.0.0.1:9000/api'}") ", " RTE "}",
     "upstreams.u.targets[0].url: must not have a path"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.0.0.1:9000/?x=1'}") ", " RTE "}",
     "upstreams.u.targets[0].url: must not have a query"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.0.0.1:70000'}") ", " RTE "}",
     "upstreams.u.targets[0].url: port must be 1 to 65535"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.0.0.1:'}") ", " RTE "}",
     "upstreams.u.targets[0].url: port must be 1 to 65535"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://user:pw@127.0.0.1'}") ", " RTE "}",
     "upstreams.u.targets[0].url: must not contain user info"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://backend.internal:9000'}") ", " RTE "}",
     "upstreams.u.targets[0].url: cannot resolve \"backend.internal\": name resolution is disabled"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.1:9000'}") ", " RTE "}",
     "upstreams.u.targets[0].url: \"127.1\" is not an IPv4 address"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://[::1:9000'}") ", " RTE "}",
     "upstreams.u.targets[0].url: unterminated"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://bad_host!:9000'}") ", " RTE "}",
     "upstreams.u.targets[0].url: \"bad_host!\" is not a host name"},
    {"{" LST ", " WITH_TARGET("{'url': 'http://127.0.0.1:9000'}, {'url': 'http://127.0.0.1:9000/'}")
     ", " RTE "}",
     "upstreams.u.targets[1]: same address as targets[0]"},
    {"{" LST ", 'upstreams': {'u': {'targets': []}}, " RTE "}",
     "upstreams.u.targets: must hold 1 to 256 targets"},
    {"{" LST ", " WITH_UP("'balancer': 'fastest'") ", " RTE "}",
     "upstreams.u.balancer: must be one of round_robin"},
    {"{" LST ", " WITH_UP("'balancer': 'hash', 'hash_key': 'cookie'") ", " RTE "}",
     "upstreams.u.hash_key: must be"},
    {"{" LST ", " WITH_UP("'balancer': 'hash', 'hash_key': {'header': 'X User'}") ", " RTE "}",
     "upstreams.u.hash_key.header: not a header name"},
    {"{" LST ", 'upstreams': {'a b': {'targets': [{'url': 'http://127.0.0.1:1'}]}}, " RTE "}",
     "upstreams.a b: \"a b\" is not a valid name"},
    /* plugins and chains */
    {DOC(RTE ", 'plugins': {'p': {'type': 'nope'}}"), "plugins.p.type: unknown plugin type \"nope\""},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'x': 'one'}}"), "plugins.p.x: must be an integer"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'y': 1}}"), "plugins.p.y: unknown key"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'list': ['a', 2]}}"),
     "plugins.p.list[1]: must be a string"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake_silent'}}"),
     "plugins.p: invalid configuration (plugin fake_silent gave no reason)"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake_oldabi'}}"), "plugins.p.type: plugin type"},
    {DOC(RTE ", 'plugins': {'p': 3}"), "plugins.p: must be an object"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u', 'plugins': ['q']}")
         ", " PLG),
     "routes[0].plugins[0]: no plugin named \"q\""},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u', 'plugins': ['p']}")
         ", " PLG ", 'global_plugins': ['p']"),
     "routes[0].plugins[0]: plugin \"p\" is already in the chain (global_plugins)"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u', 'plugins': ['p', 'p']}")
         ", " PLG),
     "routes[0].plugins[1]: plugin \"p\" is already in the chain"},
    {DOC(RTE ", " PLG ", 'global_plugins': ['x']"), "global_plugins[0]: no plugin named \"x\""},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'nope'}")),
     "routes[0].upstream: no upstream named \"nope\""},
    /* routes */
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/a'}, 'upstream': 'u'},"
               "{'name': 'r', 'match': {'path': '/b'}, 'upstream': 'u'}")),
     "routes[1].name: \"r\" is already the name of routes[0]"},
    {DOC(ROUTE("{'name': 'a b', 'match': {'path': '/'}, 'upstream': 'u'}")),
     "routes[0].name: \"a b\" is not a valid name"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/a//b'}, 'upstream': 'u'}")),
     "routes[0].match.path: must not contain \"//\""},
    {DOC(ROUTE("{'name': 'r', 'match': {'path_prefix': '/a/../b'}, 'upstream': 'u'}")),
     "routes[0].match.path_prefix: must not contain \".\" or \"..\" segments"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/a/.'}, 'upstream': 'u'}")),
     "routes[0].match.path: must not contain \".\" or \"..\" segments"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/a%2Fb'}, 'upstream': 'u'}")),
     "routes[0].match.path: must not contain %2F"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/a\\\\b'}, 'upstream': 'u'}")),
     "routes[0].match.path: must not contain '\\'"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/caf%c3%a9'}, 'upstream': 'u'}")),
     "routes[0].match.path: must be canonical: write \"/caf%C3%A9\""},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/%7euser'}, 'upstream': 'u'}")),
     "routes[0].match.path: must be canonical: write \"/~user\""},
    {DOC(ROUTE("{'name': 'r', 'match': {'path_prefix': 'api'}, 'upstream': 'u'}")),
     "routes[0].match.path_prefix: must start with '/'"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/a', 'path_prefix': '/a'}, 'upstream': 'u'}")),
     "routes[0].match: path, path_prefix and path_template are exclusive"},
    {DOC(ROUTE("{'name': 'r', 'match': {'methods': ['GET']}, 'upstream': 'u'}")),
     "routes[0].match: one of path, path_prefix or path_template is required"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/a'}, 'upstream': 'u', 'rewrite_prefix': '/b'}")),
     "routes[0].rewrite_prefix: only with match.path_prefix"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path_prefix': '/a'}, 'upstream': 'u',"
               " 'rewrite_prefix': 'b'}")),
     "routes[0].rewrite_prefix: must start with '/'"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path_template': '/items/{1d}'}, 'upstream': 'u'}")),
     "routes[0].match.path_template: a param is a whole segment"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path_template': '/items/x{id}'}, 'upstream': 'u'}")),
     "routes[0].match.path_template: a param is a whole segment"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path_template': '/a/{id}/{id}'}, 'upstream': 'u'}")),
     "routes[0].match.path_template: param \"id\" is used twice"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/items/{id}'}, 'upstream': 'u'}")),
     "routes[0].match.path: '{' and '}' are only allowed in path_template"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/', 'methods': ['get']}, 'upstream': 'u'}")),
     "routes[0].match.methods[0]: methods are case-sensitive: write \"GET\""},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/', 'methods': ['GET', 'BREW']}, 'upstream': 'u'}")),
     "routes[0].match.methods[1]: unknown method \"BREW\""},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/', 'methods': ['GET', 'GET']}, 'upstream': 'u'}")),
     "routes[0].match.methods[1]: \"GET\" is listed twice"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/', 'methods': []}, 'upstream': 'u'}")),
     "routes[0].match.methods: must hold 1 to 16 methods"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/', 'host': 'bad host'}, 'upstream': 'u'}")),
     "routes[0].match.host: \"bad host\" is not a host name"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/', 'host': 'a.*.com'}, 'upstream': 'u'}")),
     "routes[0].match.host:"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/', 'host': 'a.com:80'}, 'upstream': 'u'}")),
     "routes[0].match.host:"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u',"
               " 'limits': {'max_url_bytes': 100}}")),
     "routes[0].limits.max_url_bytes: only at listener level"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u',"
               " 'limits': {'max_connections_per_ip': 10}}")),
     "routes[0].limits.max_connections_per_ip: only at listener level"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u',"
               " 'limits': {'header_timeout_ms': 1000}}")),
     "routes[0].limits.header_timeout_ms: only at listener level"},
    {DOC(ROUTE("{'name': 'r', 'match': {'path': '/'}, 'upstream': 'u',"
               " 'limits': {'max_headers': 0}}")),
     "routes[0].limits.max_headers: must be between 1 and 1000"},
    {DOC(ROUTE("{'name': 'a', 'match': {'path': '/x', 'methods': ['GET']}, 'upstream': 'u'},"
               "{'name': 'b', 'match': {'path': '/x', 'methods': ['GET', 'POST']}, 'upstream': 'u'}")),
     "routes[1].match: duplicate route"},
    /* secrets */
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'env': 'PC_TEST_SURELY_UNSET'}}}"),
     "plugins.p.secret: environment variable PC_TEST_SURELY_UNSET is not set"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'env': 'PC_TEST_EMPTY'}}}"),
     "plugins.p.secret: environment variable PC_TEST_EMPTY is empty"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'file': '/nonexistent/secret'}}}"),
     "plugins.p.secret: cannot open secret file"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'file': 'relative'}}}"),
     "plugins.p.secret: file: must be an absolute path"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'file': '/dev/null'}}}"),
     "plugins.p.secret: secret file is not a regular file"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'vault': 'x'}}}"),
     "plugins.p.secret: must be a string, {\"env\": \"NAME\"} or {\"file\": \"/path\"}"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'env': 'A', 'file': '/b'}}}"),
     "plugins.p.secret: must be a string"},
    {DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': ''}}"),
     "plugins.p.secret: must not be empty"},
};

START_TEST(test_bad)
{
    const bad_case_t *bc = &bad[_i];
    pc_diag_t d = {0};
    pc_conf_t *c = load(bc->doc, &d);
    if (c)
        fprintf(stderr, "case %d loaded: %s\n", _i, bc->doc);
    ck_assert_ptr_null(c);
    ck_assert_uint_gt(d.nerrors, 0);
    if (!has_prefix(d.errors, d.nerrors, bc->error))
        fprintf(stderr, "case %d: %s\n", _i, bc->doc);
    ASSERT_ERROR(&d, bc->error);
    pc_diag_free(&d);
}
END_TEST

/* Every error at once, not only the first. */
START_TEST(test_many_errors)
{
    pc_diag_t d = {0};
    pc_conf_t *c = load("{'listen': [{'port': 0, 'tls': {}}], 'workers': -1,"
                        " 'upstreams': {'u': {'targets': [{'url': 'https://x'}]}},"
                        " 'routes': [{'name': 'r', 'match': {'path': 'x'}, 'upstream': 'v'},"
                        "            {'name': 'r', 'match': {'path': '/'}, 'upstrem': 'u'}]}",
                        &d);
    ck_assert_ptr_null(c);
    ASSERT_ERROR(&d, "workers: must be between");
    ASSERT_ERROR(&d, "listen[0].port: must be between");
    ASSERT_ERROR(&d, "listen[0].tls: tls is not supported yet");
    ASSERT_ERROR(&d, "upstreams.u.targets[0].url: https upstreams are not supported yet");
    ASSERT_ERROR(&d, "routes[0].match.path: must start with '/'");
    ASSERT_ERROR(&d, "routes[0].upstream: no upstream named \"v\"");
    ASSERT_ERROR(&d, "routes[1].name: \"r\" is already the name of routes[0]");
    ASSERT_ERROR(&d, "routes[1].upstrem: unknown key (did you mean \"upstream\"?)");
    ck_assert_uint_ge(d.nerrors, 8);
    pc_diag_free(&d);
}
END_TEST

START_TEST(test_error_cap)
{
    /* 300 unknown keys: the list is capped, the load still fails. */
    char *doc = pc_xmalloc(64 * 1024);
    size_t o = (size_t)sprintf(doc, "{'listen': [{'port': 8080}], 'routes': []");
    for (int i = 0; i < 300; i++)
        o += (size_t)sprintf(doc + o, ", 'k%d': 1", i);
    strcpy(doc + o, "}");
    pc_diag_t d = {0};
    ck_assert_ptr_null(load(doc, &d));
    ck_assert_uint_eq(d.nerrors, PC_DIAG_MAX_ERRORS + 1);
    ck_assert_str_eq(d.errors[PC_DIAG_MAX_ERRORS], "too many errors; the rest are not shown");
    pc_diag_free(&d);
    free(doc);
}
END_TEST

START_TEST(test_warnings)
{
    pc_diag_t d = {0};
    pc_conf_t *c = load("{'listen': [{'address': '::', 'port': 8080}], 'admin': {'address':"
                        " '0.0.0.0', 'port': 9901}, " UPS ", " RTE ", 'upstreams2': 1}", &d);
    ck_assert_ptr_null(c); /* upstreams2 */
    ASSERT_WARNING(&d, "admin.address: admin listener on a non-loopback address");
    ASSERT_WARNING(&d, "listen[0]: public listener without TLS");
    ASSERT_WARNING(&d, "routes[0]: no authentication plugin: anyone can call it");
    pc_diag_free(&d);

    c = load("{'listen': [{'port': 8080, 'limits': {'max_body_bytes': 10, 'max_headers': 5}}],"
             " " UPS ", " RTE "}", &d);
    ck_assert_ptr_nonnull(c);
    ASSERT_WARNING(&d, "listen[0].limits.max_body_bytes: no effect on routed requests");
    ck_assert(!has_prefix(d.warnings, d.nwarnings, "listen[0].limits.max_headers"));
    ck_assert_uint_eq(c->routes[0].limits.max_body_bytes, 1048576);
    ck_assert_uint_eq(c->listeners[0].limits.max_body_bytes, 10);
    pc_conf_free(c);
    pc_diag_free(&d);

    c = load("{" LST ", " WITH_UP("'hash_key': 'path'") ", " RTE "}", &d);
    ck_assert_ptr_nonnull(c);
    ASSERT_WARNING(&d, "upstreams.u.hash_key: only used by the hash balancer");
    ck_assert_int_eq(c->upstreams[0].hash_key, PC_HASH_PATH);
    pc_conf_free(c);
    pc_diag_free(&d);
}
END_TEST

/* ---- secrets -------------------------------------------------------------- */

START_TEST(test_secrets)
{
    pc_diag_t d = {0};
    /* inline: accepted, with a warning */
    pc_conf_t *c = load(DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': 'hunter2'}}"), &d);
    ck_assert_ptr_nonnull(c);
    fake_conf_t *fc = c->plugins[0].conf;
    ck_assert_str_eq(fc->secret, "hunter2");
    ck_assert_uint_eq(fc->secret_len, 7);
    ASSERT_WARNING(&d, "plugins.p.secret: secret written inline");
    pc_conf_free(c);
    pc_diag_free(&d);

    /* env */
    setenv("PC_TEST_SECRET", "from-env", 1);
    c = load(DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'env': 'PC_TEST_SECRET'}}}"),
             &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(((fake_conf_t *)c->plugins[0].conf)->secret, "from-env");
    ck_assert(!has_prefix(d.warnings, d.nwarnings, "plugins.p.secret"));
    pc_conf_free(c);
    pc_diag_free(&d);

    /* file: one trailing newline stripped */
    char path[] = "/tmp/pc_test_secret_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "s3cret\n", 7), 7);
    close(fd);
    chmod(path, 0600);
    char doc[512];
    snprintf(doc, sizeof(doc),
             DOC(RTE ", 'plugins': {'p': {'type': 'fake', 'secret': {'file': '%s'}}}"), path);
    c = load(doc, &d);
    ck_assert_ptr_nonnull(c);
    fc = c->plugins[0].conf;
    ck_assert_str_eq(fc->secret, "s3cret");
    ck_assert_uint_eq(fc->secret_len, 6);
    ck_assert(!has_prefix(d.warnings, d.nwarnings, "plugins.p.secret"));
    pc_conf_free(c);
    pc_diag_free(&d);

    /* world-readable: warned */
    chmod(path, 0644);
    c = load(doc, &d);
    ck_assert_ptr_nonnull(c);
    ASSERT_WARNING(&d, "plugins.p.secret: secret file is readable by every user");
    pc_conf_free(c);
    pc_diag_free(&d);

    /* empty file */
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "\n", 1), 1);
    close(fd);
    ck_assert_ptr_null(load(doc, &d));
    ASSERT_ERROR(&d, "plugins.p.secret: secret file is empty");
    pc_diag_free(&d);

    /* larger than 64 KiB */
    fd = open(path, O_WRONLY | O_TRUNC);
    char *big = pc_xmalloc(70000);
    memset(big, 'a', 70000);
    ck_assert_int_eq(write(fd, big, 70000), 70000);
    close(fd);
    free(big);
    ck_assert_ptr_null(load(doc, &d));
    ASSERT_ERROR(&d, "plugins.p.secret: secret file is larger than 65536 bytes");
    pc_diag_free(&d);
    unlink(path);
}
END_TEST

START_TEST(test_err_set)
{
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.auth", 0};
    ck_assert_int_eq(pc_err_set(&err, "audiences", "must be a non-empty %s", "array"), -1);
    ck_assert_int_eq(err.failed, 1);
    pc_err_set(&err, "audiences[1]", "must be a string");
    pc_err_set(&err, "[2]", "x");
    pc_err_set(&err, NULL, "whole node");
    ck_assert_uint_eq(d.nerrors, 4);
    ck_assert_str_eq(d.errors[0], "plugins.auth.audiences: must be a non-empty array");
    ck_assert_str_eq(d.errors[1], "plugins.auth.audiences[1]: must be a string");
    ck_assert_str_eq(d.errors[2], "plugins.auth[2]: x");
    ck_assert_str_eq(d.errors[3], "plugins.auth: whole node");

    pc_diag_warn(&d, "a.b", "careful %d", 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pc_diag_print(&d, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "error: plugins.auth.audiences: must be a non-empty array\n"));
    ck_assert_ptr_nonnull(strstr(buf, "warning: a.b: careful 1\n"));
    free(buf);
    pc_diag_free(&d);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_ptr_null(d.errors);
}
END_TEST

/* ---- lifecycle -------------------------------------------------------------- */

START_TEST(test_lifecycle)
{
    fake_created = fake_freed = fake_started = fake_stopped = 0;
    pc_diag_t d = {0};
    pc_conf_t *c = load(full_doc, &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(fake_created, 3);
    ck_assert_int_eq(pc_conf_start(c, NULL, &d), 0);
    ck_assert_int_eq(fake_started, 3);
    ck_assert(c->plugins[2].started);
    pc_conf_free(c);
    ck_assert_int_eq(fake_stopped, 3);
    ck_assert_int_eq(fake_freed, 3);

    /* a failed start stops the ones already started */
    fake_created = fake_freed = fake_started = fake_stopped = 0;
    c = load(DOC(RTE ", 'plugins': {'a': {'type': 'fake'}, 'b': {'type': 'fake', 'fail_start':"
                 " true}, 'c': {'type': 'fake'}}"), &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(pc_conf_start(c, NULL, &d), -1);
    ASSERT_ERROR(&d, "plugins.b.fail_start: asked to fail");
    ck_assert_int_eq(fake_started, 1);
    ck_assert_int_eq(fake_stopped, 1);
    ck_assert(!c->plugins[0].started);
    pc_conf_free(c);
    ck_assert_int_eq(fake_stopped, 1);
    ck_assert_int_eq(fake_freed, 3);

    /* a plugin that fails with a partly built conf: freed by the core */
    fake_freed = 0;
    ck_assert_ptr_null(load(DOC(RTE ", 'plugins': {'a': {'type': 'fake_partial'}}"), &d));
    ASSERT_ERROR(&d, "plugins.a.x: half built");
    ck_assert_int_eq(fake_freed, 1);

    /* a refused document frees what its plugins created */
    fake_created = fake_freed = 0;
    ck_assert_ptr_null(load(DOC(RTE ", 'plugins': {'a': {'type': 'fake'}, 'b': {'type': 'fake',"
                                " 'x': 'bad'}}, 'oops': 1"), &d));
    ck_assert_int_eq(fake_created, 1);
    ck_assert_int_eq(fake_freed, 1);
    pc_diag_free(&d);
}
END_TEST

/* ---- reload ------------------------------------------------------------------ */

START_TEST(test_reload)
{
    pc_diag_t d = {0};
    pc_conf_t *a = load("{'workers': 2, 'user': 'u1', 'listen': [{'port': 8080}],"
                        " 'admin': {'port': 9901}, 'routes': []}", &d);
    pc_conf_t *same = load("{'workers': 2, 'user': 'u1', 'listen': [{'address': '0.0.0.0',"
                           " 'port': 8080}], 'admin': {'address': '127.0.0.1', 'port': 9901},"
                           " 'routes': [], 'log': {'level': 'debug'}}", &d);
    pc_conf_t *port = load("{'workers': 2, 'user': 'u1', 'listen': [{'port': 8081}],"
                           " 'admin': {'port': 9901}, 'routes': []}", &d);
    pc_conf_t *more = load("{'workers': 2, 'user': 'u1', 'listen': [{'port': 8080},"
                           " {'port': 8081}], 'admin': {'port': 9901}, 'routes': []}", &d);
    pc_conf_t *other = load("{'workers': 3, 'listen': [{'port': 8080, 'max_connections': 5}],"
                            " 'routes': []}", &d);
    ck_assert(a && same && port && more && other);
    pc_diag_free(&d);

    ck_assert_int_eq(pc_conf_reload_compatible(a, same, &d), 0);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_int_eq(pc_conf_reload_compatible(a, port, &d), -1);
    ASSERT_ERROR(&d, "listen: changing listeners requires a restart");
    pc_diag_free(&d);
    ck_assert_int_eq(pc_conf_reload_compatible(a, more, &d), -1);
    ASSERT_ERROR(&d, "listen: changing listeners requires a restart");
    pc_diag_free(&d);
    ck_assert_int_eq(pc_conf_reload_compatible(a, other, &d), -1);
    ASSERT_ERROR(&d, "workers: changing the number of workers requires a restart");
    ASSERT_ERROR(&d, "admin: changing the admin listener requires a restart");
    ASSERT_ERROR(&d, "user: changing the user requires a restart");
    ASSERT_ERROR(&d, "listen[0].max_connections: changing it requires a restart");
    pc_diag_free(&d);
    pc_conf_free(a);
    pc_conf_free(same);
    pc_conf_free(port);
    pc_conf_free(more);
    pc_conf_free(other);
}
END_TEST

/* ---- name resolution through the hook ---------------------------------------- */

static int fake_resolve(const char *host, unsigned port, struct sockaddr_storage *out,
                        socklen_t *outlen, char *err, size_t errlen)
{
    if (strcmp(host, "backend.test") != 0) {
        snprintf(err, errlen, "unknown host");
        return -1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    memset(s4, 0, sizeof(*s4));
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    s4->sin_addr.s_addr = htonl(0x7f000002);
    *outlen = sizeof(*s4);
    return 0;
}

START_TEST(test_resolve_hook)
{
    pc_conf_resolve_hook = fake_resolve;
    pc_diag_t d = {0};
    pc_conf_t *c = load("{" LST ", " WITH_TARGET("{'url': 'http://Backend.Test:9000'}") ", " RTE "}",
                        &d);
    ck_assert_ptr_nonnull(c);
    const pc_target_t *t = &c->upstreams[0].targets[0];
    ck_assert_str_eq(t->authority, "backend.test:9000");
    const struct sockaddr_in *s4 = (const void *)&t->ut.addr;
    ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), 0x7f000002);
    ck_assert_uint_eq(ntohs(s4->sin_port), 9000);
    ck_assert_uint_eq(t->ut.id, pc_conf_stable_id("target", "127.0.0.2:9000"));
    pc_conf_free(c);
    ck_assert_ptr_null(load("{" LST ", " WITH_TARGET("{'url': 'http://other.test'}") ", " RTE "}",
                            &d));
    ASSERT_ERROR(&d, "upstreams.u.targets[0].url: cannot resolve \"other.test\": unknown host");
    pc_diag_free(&d);
    pc_conf_resolve_hook = NULL;
}
END_TEST

/* ---- stable ids ------------------------------------------------------------ */

START_TEST(test_stable_ids)
{
    pc_conf_stable_ids_reset();
    ck_assert_uint_eq(pc_conf_stable_id("route", "a"), 1);
    ck_assert_uint_eq(pc_conf_stable_id("route", "b"), 2);
    ck_assert_uint_eq(pc_conf_stable_id("upstream", "a"), 1);
    ck_assert_uint_eq(pc_conf_stable_id("route", "a"), 1);
    for (int i = 0; i < 1000; i++) {
        char n[16];
        snprintf(n, sizeof(n), "r%d", i);
        ck_assert_uint_eq(pc_conf_stable_id("route", n), (unsigned)i + 3);
    }
    ck_assert_uint_eq(pc_conf_stable_id("route", "b"), 2);
    ck_assert_uint_eq(pc_conf_stable_id("upstream", "b"), 2);
    pc_conf_stable_ids_reset();
    ck_assert_uint_eq(pc_conf_stable_id("route", "b"), 1);
}
END_TEST

/* ---- CIDR ---------------------------------------------------------------------- */

static struct sockaddr_storage sa(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        ck_abort_msg("bad test address %s", ip);
    return ss;
}

static bool in(const char *net, const char *ip)
{
    pc_cidr_t c;
    ck_assert_int_eq(pc_cidr_parse(net, &c), 0);
    struct sockaddr_storage ss = sa(ip);
    return pc_cidr_contains(&c, 1, (const struct sockaddr *)&ss);
}

START_TEST(test_cidr)
{
    pc_cidr_t c;
    ck_assert_int_eq(pc_cidr_parse("10.0.0.0/8", &c), 0);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_uint_eq(c.prefix, 8);
    ck_assert_int_eq(pc_cidr_parse("1.2.3.4", &c), 0);
    ck_assert_uint_eq(c.prefix, 32);
    ck_assert_int_eq(pc_cidr_parse("2001:db8::/32", &c), 0);
    ck_assert_int_eq(c.family, AF_INET6);
    ck_assert_int_eq(pc_cidr_parse("::1", &c), 0);
    ck_assert_uint_eq(c.prefix, 128);
    ck_assert_int_eq(pc_cidr_parse("::ffff:192.168.0.0/112", &c), 0);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_uint_eq(c.prefix, 16);

    static const char *const invalid[] = {"", "abc", "10.0.0.0/", "10.0.0.0/33", "/8",
                                          "10.0.0.0/08", "::/129", "10.0.0.0/8/8", "10.0.0/8",
                                          "10.0.0.0/-1", "10.0.0.0 /8", "1.2.3.4/1x"};
    for (size_t i = 0; i < PC_ARRAY_LEN(invalid); i++)
        ck_assert_msg(pc_cidr_parse(invalid[i], &c) == -1, "%s", invalid[i]);
    ck_assert_int_eq(pc_cidr_parse("10.0.0.1/8", &c), -2);
    ck_assert_int_eq(pc_cidr_parse("2001:db8::1/32", &c), -2);

    ck_assert(in("10.0.0.0/8", "10.1.2.3"));
    ck_assert(!in("10.0.0.0/8", "11.0.0.1"));
    ck_assert(in("192.168.1.0/25", "192.168.1.127"));
    ck_assert(!in("192.168.1.0/25", "192.168.1.128"));
    ck_assert(in("0.0.0.0/0", "8.8.8.8"));
    ck_assert(in("1.2.3.4", "1.2.3.4"));
    ck_assert(!in("1.2.3.4", "1.2.3.5"));
    ck_assert(in("::1/128", "::1"));
    ck_assert(!in("::1/128", "::2"));
    ck_assert(in("2001:db8::/32", "2001:db8:ffff::1"));
    ck_assert(!in("2001:db8::/32", "2001:db9::1"));
    ck_assert(in("fe80::/10", "febf::1"));
    ck_assert(!in("fe80::/10", "fec0::1"));
    /* IPv4-mapped IPv6 clients match IPv4 networks, and v4 networks written mapped */
    ck_assert(in("10.0.0.0/8", "::ffff:10.9.8.7"));
    ck_assert(!in("10.0.0.0/8", "::ffff:11.9.8.7"));
    ck_assert(in("0.0.0.0/0", "::ffff:1.1.1.1"));
    ck_assert(in("::ffff:10.0.0.0/104", "10.3.3.3"));
    ck_assert(in("::ffff:10.0.0.0/104", "::ffff:10.3.3.3"));
    /* families never mix otherwise */
    ck_assert(!in("10.0.0.0/8", "::1"));
    ck_assert(!in("::/0", "10.0.0.1"));
    ck_assert(!in("0.0.0.0/0", "::1"));

    pc_cidr_t nets[2];
    ck_assert_int_eq(pc_cidr_parse("10.0.0.0/8", &nets[0]), 0);
    ck_assert_int_eq(pc_cidr_parse("::1/128", &nets[1]), 0);
    struct sockaddr_storage a = sa("::1"), b = sa("172.16.0.1");
    ck_assert(pc_cidr_contains(nets, 2, (const struct sockaddr *)&a));
    ck_assert(!pc_cidr_contains(nets, 2, (const struct sockaddr *)&b));
    ck_assert(!pc_cidr_contains(nets, 0, (const struct sockaddr *)&a));
    ck_assert(!pc_cidr_contains(nets, 2, NULL));
}
END_TEST

/* ---- the shipped configs load ----------------------------------------------------- */

static void check_file(const char *name)
{
    char path[512];
    const char *srcdir = getenv("PC_SRCDIR");
    if (!srcdir)
        srcdir = getenv("srcdir");
    snprintf(path, sizeof(path), "%s/conf/%s", srcdir ? srcdir : ".", name);
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof(path), "%s/../../conf/%s", srcdir ? srcdir : ".", name);
    pc_diag_t d = {0};
    pc_conf_t *c = pc_conf_load_file(path, &d);
    if (!c)
        dump(&d);
    ck_assert_msg(c != NULL, "%s does not load", path);
    pc_conf_free(c);
    pc_diag_free(&d);
}

START_TEST(test_shipped_configs)
{
    check_file("demo.json");
    check_file("example.json");
}
END_TEST

START_TEST(test_load_file_errors)
{
    pc_diag_t d = {0};
    ck_assert_ptr_null(pc_conf_load_file("/nonexistent/portcullis.json", &d));
    ASSERT_ERROR(&d, "/nonexistent/portcullis.json");
    pc_diag_free(&d);
    ck_assert_ptr_null(pc_conf_load_buffer("{\"listen\": [", 12, "x.json", &d));
    ASSERT_ERROR(&d, "x.json:1:");
    pc_diag_free(&d);
    ck_assert_ptr_null(pc_conf_load_json(NULL, NULL, NULL));
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_minimal_defaults);
    tcase_add_loop_test(tc, test_bad, 0, (int)PC_ARRAY_LEN(bad));
    tcase_add_test(tc, test_many_errors);
    tcase_add_test(tc, test_error_cap);
    tcase_add_test(tc, test_warnings);
    tcase_add_test(tc, test_secrets);
    tcase_add_test(tc, test_err_set);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_reload);
    tcase_add_test(tc, test_resolve_hook);
    tcase_add_test(tc, test_stable_ids);
    tcase_add_test(tc, test_cidr);
    tcase_add_test(tc, test_shipped_configs);
    tcase_add_test(tc, test_load_file_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    setenv("PC_TEST_EMPTY", "", 1);
    unsetenv("PC_TEST_SURELY_UNSET");
    SRunner *sr = srunner_create(conf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
