/* gateway/conf/plugins_conf.c: plugin instances ("plugins": name -> object
 * with a "type" from the registry, created through the type's conf_create
 * with a pc_err_t that prefixes the instance's JSON path) and the chains
 * that name them (global_plugins, a route's plugins). */
#include "conf/conf_int.h"
#include "conf/plugins.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <stdlib.h>
#include <string.h>

static void create_plugin(ld_t *l, const json_t *v, const char *path, pc_plugin_inst_t *pi)
{
    jp_t p;
    char b[SHOW_LEN];
    if (!json_is_object(v)) {
        pc_ld_err(l, path, "must be an object");
        return;
    }
    const json_t *t = json_object_get(v, "type");
    if (!t) {
        pc_ld_err(l, pc_ld_key(&p, path, "type"), "required");
        return;
    }
    if (!pc_ld_str_ok(l, pc_ld_key(&p, path, "type"), t, false))
        return;
    const pc_plugin_t *type = pc_plugin_find(json_string_value(t));
    if (!type) {
        pc_ld_err(l, p.s, "unknown plugin type \"%s\"",
                  pc_ld_esc(b, sizeof(b), json_string_value(t), SHOW_MAX));
        return;
    }
    if (type->abi != PC_PLUGIN_ABI) {
        pc_ld_err(l, p.s, "plugin type \"%s\" was built for plugin ABI %u, not %u", type->name,
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

void pc_ld_plugins(ld_t *l, const json_t *obj)
{
    pc_conf_t *c = l->c;
    size_t n = json_object_size(obj);
    if (n > CONF_MAX_PLUGINS) {
        pc_ld_err(l, "plugins", "at most %d plugins", CONF_MAX_PLUGINS);
        return;
    }
    c->plugins = pc_xcalloc(n, sizeof(*c->plugins));
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)obj, name, v) {
        jp_t p;
        pc_ld_key(&p, "plugins", name);
        pc_plugin_inst_t *pi = &c->plugins[c->nplugins];
        pi->index = (unsigned)c->nplugins++;
        pi->name = pc_xstrdup(name);
        if (pc_ld_name(l, p.s, name))
            pc_ld_map_put(&l->plugin_names, pi->name, pi->index);
        create_plugin(l, v, p.s, pi);
    }
}

/* Resolves a list of plugin names, appending to chain (which already holds
 * nchain entries, e.g. the global ones). */
void pc_ld_chain(ld_t *l, const json_t *arr, const char *path, pc_plugin_inst_t **chain,
                 size_t *nchain, size_t nglobal)
{
    size_t n = json_array_size(arr);
    if (n + *nchain > CONF_MAX_CHAIN) {
        pc_ld_err(l, path, "a chain holds at most %d plugins (global_plugins included)",
                  CONF_MAX_CHAIN);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        char b[SHOW_LEN];
        pc_ld_idx(&p, path, i);
        const json_t *v = json_array_get(arr, i);
        if (!pc_ld_str_ok(l, p.s, v, false))
            continue;
        const char *name = json_string_value(v);
        const unsigned *idx = pc_ld_map_get(&l->plugin_names, name);
        if (!idx) {
            pc_ld_err(l, p.s, "no plugin named \"%s\" in plugins",
                         pc_ld_esc(b, sizeof(b), name, SHOW_MAX));
            continue;
        }
        pc_plugin_inst_t *pi = &l->c->plugins[*idx];
        size_t j = 0;
        while (j < *nchain && chain[j] != pi)
            j++;
        if (j < *nchain) {
            pc_ld_err(l, p.s, "plugin \"%s\" is already in the chain%s", pi->name,
                      j < nglobal ? " (global_plugins)" : "");
            continue;
        }
        chain[(*nchain)++] = pi;
    }
}
