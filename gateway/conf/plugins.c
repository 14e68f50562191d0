/* gateway/conf/plugins.c: the registry of plugin types: the built-in ones in
 * one table, the test binary's extra ones, then those the config loaded
 * from shared objects (conf/plugin_so.c). The order of a chain comes from the
 * config, not from this table. */
#include "conf/plugins.h"
#include "conf/plugin_so.h"
#include "base/util.h"

#include <stdio.h>
#include <string.h>

extern const pc_plugin_t pc_plugin_headers;
extern const pc_plugin_t pc_plugin_jwt;
extern const pc_plugin_t pc_plugin_rate_limit;
extern const pc_plugin_t pc_plugin_brute_force;
extern const pc_plugin_t pc_plugin_ip_filter;
extern const pc_plugin_t pc_plugin_allowlist;
extern const pc_plugin_t pc_plugin_schema;
extern const pc_plugin_t pc_plugin_openapi;

static const pc_plugin_t *const builtin[] = {
    &pc_plugin_headers,
    &pc_plugin_jwt,
    &pc_plugin_rate_limit,
    &pc_plugin_brute_force,
    &pc_plugin_ip_filter,
    &pc_plugin_allowlist,
    &pc_plugin_schema,
    &pc_plugin_openapi,
};

static const pc_plugin_t *const *extra_types;

void pc_plugins_register(const pc_plugin_t *const *extra)
{
    extra_types = extra;
}

const pc_plugin_t *pc_plugin_find(const char *type)
{
    for (size_t i = 0; i < PC_ARRAY_LEN(builtin); i++)
        if (strcmp(builtin[i]->name, type) == 0)
            return builtin[i];
    for (size_t i = 0; extra_types && extra_types[i]; i++)
        if (strcmp(extra_types[i]->name, type) == 0)
            return extra_types[i];
    return pc_plugin_so_find(type);
}

void pc_plugins_list(char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < PC_ARRAY_LEN(builtin) && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", builtin[i]->name);
    for (size_t i = 0; extra_types && extra_types[i] && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, ", %s", extra_types[i]->name);
}

unsigned pc_env_workers(const pc_env_t *env)
{
    return env ? env->workers : 0;
}

unsigned pc_env_generation(const pc_env_t *env)
{
    return env ? env->generation : 0;
}
