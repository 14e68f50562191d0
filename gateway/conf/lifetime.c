/* gateway/conf/lifetime.c: the life of a loaded config: starting and
 * stopping its plugins, reference counting, freeing, and the check that a
 * reload does not change what was bound at startup. Main thread only,
 * except pc_conf_ref and pc_conf_unref_is_last (atomic, any thread). */
#include "conf/conf_int.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
