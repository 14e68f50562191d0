/* gateway/conf/document.c: loads one JSON document into an immutable,
 * reference counted configuration generation (see conf.h and
 * docs/config.md).
 *
 * Everything is validated before anything is used: every problem is
 * collected with its JSON path ("routes[2].match.path_prefix: must start
 * with '/'"), not just the first. Unknown keys are errors at every depth: a
 * typo must never silently switch a security setting off. This file walks
 * the top level in order and hands each section to its file (conf_int.h);
 * it also gives the generation its number and stable ids.
 *
 * Main thread only (blocking name resolution, the stable id table, plugin
 * conf_create). */
#include "conf/conf_int.h"
#include "conf/plugin_so.h"
#include "conf/plugins.h"
#include "ops/metrics.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- the document ------------------------------------------------------- */

enum {
    TOP_WORKERS, TOP_USER, TOP_DRAIN, TOP_LOG, TOP_LIMITS, TOP_LISTEN, TOP_ADMIN, TOP_ACCESS_LOG,
    TOP_STORE, TOP_UPSTREAMS, TOP_PLUGINS, TOP_GLOBAL_PLUGINS, TOP_ROUTES, TOP_LOAD,
};

static const pc_conf_field_t top_fields[] = {
    [TOP_WORKERS] = CONF_FIELD("workers", PC_CONF_UINT, offsetof(pc_conf_t, workers), 0, 0,
                               CONF_MAX_WORKERS, 0, NULL),
    [TOP_USER] = CONF_FIELD("user", PC_CONF_STRING, offsetof(pc_conf_t, user), 0, 0, 0, 0, NULL),
    [TOP_DRAIN] = CONF_FIELD("drain_timeout_ms", PC_CONF_UINT,
                             offsetof(pc_conf_t, drain_timeout_ms), 0, 0, 600000, 10000, NULL),
    [TOP_LOG] = CONF_FIELD("log", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_LIMITS] = CONF_FIELD("limits", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_LISTEN] = CONF_FIELD("listen", PC_CONF_ARRAY, NOOFF, PC_CONF_REQUIRED, 0, 0, 0, NULL),
    [TOP_ADMIN] = CONF_FIELD("admin", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_ACCESS_LOG] = CONF_FIELD("access_log", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_STORE] = CONF_FIELD("store", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_UPSTREAMS] = CONF_FIELD("upstreams", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_PLUGINS] = CONF_FIELD("plugins", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_GLOBAL_PLUGINS] = CONF_FIELD("global_plugins", PC_CONF_ARRAY, NOOFF, 0, 0, 0, 0, NULL),
    [TOP_ROUTES] = CONF_FIELD("routes", PC_CONF_ARRAY, NOOFF, PC_CONF_REQUIRED, 0, 0, 0, NULL),
    [TOP_LOAD] = CONF_FIELD("load", PC_CONF_ARRAY, NOOFF, 0, 0, 0, 0, NULL),
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
        pc_ld_err(l, "user", "not a user name");
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
    const pc_conf_field_t *f = top_fields;
    uint64_t mask = pc_ld_obj(l, root, "", f, PC_ARRAY_LEN(top_fields), c, true, 0);
    if (!json_is_object(root))
        return;
    if (c->user && (mask & (1u << TOP_USER)))
        check_user(l, c->user);
    if (c->workers == 0)
        c->workers = online_cpus();
    c->log_level = PC_LOG_INFO;
    const json_t *v;
    if ((v = pc_ld_valid(root, mask, f, TOP_LOG)))
        pc_ld_log(l, v);

    pc_ld_limits(l, pc_ld_valid(root, mask, f, TOP_LIMITS));

    endpoint_t eps[CONF_MAX_LISTENERS];
    memset(eps, 0, sizeof(eps));
    if ((v = pc_ld_valid(root, mask, f, TOP_LISTEN)))
        pc_ld_listeners(l, v, eps);
    if ((v = pc_ld_valid(root, mask, f, TOP_ADMIN)))
        pc_ld_admin(l, v, eps);
    if ((v = pc_ld_valid(root, mask, f, TOP_ACCESS_LOG)))
        pc_ld_access_log(l, v);
    pc_ld_store(l, pc_ld_valid(root, mask, f, TOP_STORE));

    if ((v = pc_ld_valid(root, mask, f, TOP_UPSTREAMS)))
        pc_ld_upstreams(l, v);
    /* Before "plugins", which may use the types it loads (conf/plugin_so.h). */
    l->nerr += pc_plugin_so_load(pc_ld_valid(root, mask, f, TOP_LOAD), pc_plugin_find,
                                 &(pc_err_t){l->d, "load", 0});
    if ((v = pc_ld_valid(root, mask, f, TOP_PLUGINS)))
        pc_ld_plugins(l, v);
    c->global_chain = pc_xcalloc(CONF_MAX_CHAIN, sizeof(*c->global_chain));
    if ((v = pc_ld_valid(root, mask, f, TOP_GLOBAL_PLUGINS)))
        pc_ld_chain(l, v, "global_plugins", c->global_chain, &c->nglobal_chain, 0);
    if ((v = pc_ld_valid(root, mask, f, TOP_ROUTES)))
        pc_ld_routes(l, v);

    for (size_t i = 0; i < c->nlisteners; i++)
        if (c->listeners[i].public_)
            pc_ld_warn(l, pc_ld_idx(&(jp_t){{0}}, "listen", i), "public listener without TLS");
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
            pc_ld_target_key(&u->targets[j], key, sizeof(key));
            u->targets[j].ut.id = pc_conf_stable_id("target", key);
            if (u->targets[j].ut.id >= 65536) {
                jp_t p, q;
                pc_ld_idx(&q, pc_ld_key(&p, "upstreams", u->name), j);
                pc_ld_err(l, q.s, "more than 65535 distinct targets since startup: restart instead "
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
        pc_ld_err(&l, path, "no document");
    } else if (!json_is_object(root)) {
        pc_ld_err(&l, path, "the document must be a JSON object");
    } else {
        load_document(&l, root);
    }
    pc_ld_map_free(&l.upstream_names);
    pc_ld_map_free(&l.plugin_names);
    pc_ld_map_free(&l.route_names);
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
